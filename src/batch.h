/*
 * batch.h - one running batch: its items, their attempts (retries and
 * redirect hops included), the output they produce and the summary
 * (DESIGN.md §1, §2).
 *
 * server.c hands a parsed struct batch_spec to batch_start() together
 * with a sink, the two callbacks through which every byte of the
 * response leaves. The batch writes one framed result per item as each
 * finishes (invalid items at once), progress lines if asked, then the
 * summary, then calls sink->end exactly once; it frees itself after end
 * returns. If the caller goes away first, the server calls batch_cancel()
 * instead: every attempt is cancelled, nothing more is written, end is
 * not called. batch_pause() is the server's backpressure lever.
 */
#ifndef FANOUTD_BATCH_H
#define FANOUTD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "batch_parse.h"
#include "config.h"
#include "fetch.h"
#include "scheduler.h"

/* What every batch shares: the loop, the scheduler and its one timer,
 * the fetcher, the configuration, a random source for backoff jitter. */
struct batch_ctx {
	struct event_base *base;
	struct sched *sched;
	struct event *sched_ev; /* fires when rate-limited queues may move */
	uint64_t sched_at;      /* when sched_ev fires, if pending */
	struct fetch_ctx *fetch;
	const struct config *cfg;
	uint64_t rng;    /* xorshift64* state */
	uint64_t active; /* batches running */
};

/* Set up ctx (creates the scheduler from cfg's limits). */
void batch_ctx_init(struct batch_ctx *ctx, struct event_base *base,
    struct fetch_ctx *fetch, const struct config *cfg);
void batch_ctx_free(struct batch_ctx *ctx);

/* Dispatch what the caps and buckets allow now, and arm the scheduler
 * timer for the next token refill that matters. */
void batch_ctx_schedule(struct batch_ctx *ctx);

/* Counts for the access log, given to sink->end. */
struct batch_stats {
	uint32_t items;
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	double elapsed_ms;
};

struct batch_sink {
	/* Append response bytes (never partial lines). */
	void (*write)(void *arg, const char *data, size_t len);
	/* Everything is written; the batch is freed after this returns. */
	void (*end)(void *arg, const struct batch_stats *st);
	void *arg;
};

struct batch;

/*
 * Start a batch. Takes ownership of *spec (the caller's copy is cleared).
 * hops is the X-Fanoutd-Hops value to send upstream. sink->write may be
 * called from inside this call (invalid items); sink->end never is.
 */
struct batch *batch_start(struct batch_ctx *ctx, struct batch_spec *spec,
    unsigned hops, const struct batch_sink *sink);

/* The caller is gone: cancel every attempt, write nothing, free. */
void batch_cancel(struct batch *b);

/* End every unfinished item now with a `cancelled` line saying why
 * (shutdown); the summary follows as usual. */
void batch_abort(struct batch *b, const char *why);

/* Stop (or resume) dispatching new attempts: the caller reads slower
 * than results arrive. Attempts in flight carry on. */
void batch_pause(struct batch *b, bool paused);

#endif
