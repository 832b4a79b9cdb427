/*
 * scheduler.h - admission of upstream attempts (DESIGN.md §2): which
 * queued job runs next, so that at every instant the in-flight attempts
 * stay within the global cap, each batch's cap, each batch's per-host cap
 * and the server's per-host cap; so that every attempt takes a token from
 * each rate-limit bucket that applies (global, per batch, per host, per
 * batch and host); so that a job waiting on a saturated or rate-limited
 * host never delays jobs bound for other hosts; and so that concurrent
 * batches share global capacity round-robin.
 *
 * Pure bookkeeping: no I/O; the time is passed in. The owner (batch.c)
 * enqueues jobs, calls sched_run() to dispatch what the caps and buckets
 * allow, reports each finished attempt with sched_done(), and arms one
 * timer for the instant sched_run() returns: the earliest moment a queue
 * that waits for tokens can move. Nothing polls.
 *
 * Queues: each batch keeps one FIFO per host (a "host queue"). A host
 * queue is READY when it has jobs and no cap or bucket holds it back; it
 * then sits in its batch's ready ring. One held back by the server-wide
 * host cap or host bucket waits on the host and is woken when the host
 * frees a slot or refills. A batch with a READY host queue, room under
 * its cap and a token in its bucket sits in the scheduler's ring.
 * sched_run() takes the next batch in the ring and the next host queue in
 * that batch's ring, so both levels are round-robin and a blocked host
 * costs nothing per dispatch. Token waits sit in one min-heap of wake-up
 * times.
 */
#ifndef FANOUTD_SCHEDULER_H
#define FANOUTD_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "item.h"

struct sched;
struct sched_batch;
struct sched_hostq;

#define SCHED_NEVER UINT64_MAX

/*
 * An item's place in the scheduler. Its state is the item's own
 * (item.h): sched_enqueue moves it to ITEM_QUEUED, admission to
 * ITEM_ADMITTED; what follows is the owner's. hq is set while the
 * scheduler holds the job (queued, or admitted until sched_done).
 */
struct sched_job {
	TAILQ_ENTRY(sched_job) link;
	struct sched_hostq *hq;
	struct item_life life;
};

/* Server-wide limits. Rates are attempts per second, 0 = unlimited;
 * bursts 0 mean one second's worth. */
struct sched_limits {
	uint32_t concurrency;
	uint32_t per_host_concurrency;
	double rate;
	double burst;
	double per_host_rate;
	double per_host_burst;
};

/* One batch's own limits (each within the server's). */
struct sched_batch_limits {
	uint32_t concurrency;
	uint32_t per_host_concurrency;
	double rate;
	double burst;
	double per_host_rate; /* 0: only the server's per-host bucket */
};

/* Called by sched_run for each job it admits; the job is ITEM_ADMITTED. */
typedef void (*sched_dispatch_fn)(struct sched_job *job, void *arg);

struct sched *sched_new(const struct sched_limits *l, uint64_t now_us);
/* All batches must have been freed. */
void sched_free(struct sched *s);
/* New limits apply to the next dispatch; running jobs are never stopped. */
void sched_set_limits(
    struct sched *s, const struct sched_limits *l, uint64_t now_us);

struct sched_batch *sched_batch_new(struct sched *s,
    const struct sched_batch_limits *l, sched_dispatch_fn dispatch, void *arg,
    uint64_t now_us);
/* The batch must have no running job; queued jobs are dropped. */
void sched_batch_free(struct sched_batch *b);
/* A paused batch dispatches nothing (output backpressure). */
void sched_batch_pause(struct sched_batch *b, bool paused);
/* Jobs of the batch waiting in its queues / running now. */
uint64_t sched_batch_queued(const struct sched_batch *b);
uint32_t sched_batch_inflight(const struct sched_batch *b);

/* Append job to the batch's queue for host (any string naming the
 * origin). Dispatches nothing until sched_run. */
void sched_enqueue(
    struct sched_batch *b, struct sched_job *job, const char *host);
/* Take a queued job out of its queue (deadline, cancel); its owner
 * moves it on. Nothing when it is not queued. */
void sched_remove(struct sched_job *job);
/* An admitted job's attempt ended (or is given up): free its slots. The
 * owner moves it on; it may be enqueued again (retry, redirect). Nothing
 * when it holds no slots. */
void sched_done(struct sched_job *job);

/*
 * Dispatch jobs, round-robin over batches and over each batch's hosts,
 * while the caps and buckets allow at time now_us, and at most `budget`
 * of them (0: no limit). Returns the earliest time at which a queue
 * waiting for tokens may move (SCHED_NEVER when none waits), or now_us
 * when the budget ran out with jobs still admissible: call again then.
 * Safe to call from inside a dispatch callback (the outer call then
 * carries on).
 */
uint64_t sched_run(struct sched *s, uint64_t now_us, uint32_t budget);

/*
 * Server-wide tokens from elsewhere (shared limits, issue #19): once
 * set, the global and per-host rates are asked of it instead of the
 * scheduler's own buckets. wait_us returns the microseconds until a
 * token for host (NULL: the global rate) is there, 0 when it is now, or
 * SCHED_NEVER when it cannot tell yet: the host (or every queue, for the
 * global rate) then waits, with no timer, until the source calls
 * sched_tokens_ready. take spends the token wait_us just offered.
 */
struct sched_tokens {
	uint64_t (*wait_us)(void *arg, const char *host, uint64_t now_us);
	void (*take)(void *arg, const char *host, uint64_t now_us);
	void *arg;
};
void sched_set_tokens(struct sched *s, const struct sched_tokens *t);
/* The source can tell about host (NULL: the global rate) now; with all,
 * about everything it said SCHED_NEVER for. Call sched_run after; never
 * from inside it. */
void sched_tokens_ready(struct sched *s, const char *host, bool all);

/*
 * Per-host slots from elsewhere (shared concurrency, issue #19): once
 * set, every admission also needs acquire to say yes for the job's
 * host (after the caps and tokens above allowed it); no parks the host,
 * with no timer, until the source calls sched_tokens_ready for it.
 * release gives a slot back as its job's attempt ends (sched_done).
 */
struct sched_slots {
	bool (*acquire)(void *arg, const char *host, uint64_t now_us);
	void (*release)(void *arg, const char *host);
	void *arg;
};
void sched_set_slots(struct sched *s, const struct sched_slots *sl);

/* An admitted job's attempt ended, failed (no response, or a status >=
 * 400) or not: counted for its host (before sched_done). */
void sched_attempt_ended(struct sched_job *job, bool failed);

/* A host some batch has a queue for: its attempts in flight, and the
 * attempts that ended and failed since the host appeared (a host is
 * forgotten once no batch has a queue for it). */
struct sched_host_view {
	const char *name;
	uint32_t inflight;
	uint64_t ended;
	uint64_t failed;
};
void sched_hosts_foreach(const struct sched *s,
    void (*fn)(const struct sched_host_view *v, void *arg), void *arg);

/* Gauges and counters, for metrics. */
uint32_t sched_inflight(const struct sched *s);
uint64_t sched_queued(const struct sched *s);
/* Microseconds queues spent parked waiting for rate-limit tokens. */
uint64_t sched_token_wait_us(const struct sched *s);

#endif
