/*
 * batch.h - a batch the engine runs (DESIGN.md §1, §2): items under one
 * set of options - caps, rate, timeouts, retries, redirects, deadline -
 * fetched concurrently, each ending with exactly one result line.
 *
 * A caller (the stream of a POST /v1/batch today; a job's runner next)
 * starts a batch on the engine with its options and a struct
 * batch_caller, hands it items with batch_add (all at once, or in pages
 * as it leases them), and says batch_close when no more will come. The
 * engine gives each item's result line to caller->result as the item
 * finishes (an invalid item's at once, inside batch_add), tells
 * caller->state of every change of an item's state (item.h) when the
 * caller asks, and once every item added has its result and the batch is
 * closed calls caller->end exactly once, from the event loop (never
 * inside a batch_* call); the batch is freed after end returns. If the
 * caller goes away first it calls batch_cancel instead: every attempt
 * is cancelled, nothing more is delivered, end is not called.
 *
 * The caller frames the lines (NDJSON, SSE, the JSON document; a job
 * records them in the store) and writes the summary; the engine renders
 * each result object and counts.
 */
#ifndef FANOUTD_BATCH_H
#define FANOUTD_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_parse.h"
#include "emit.h"
#include "engine.h"
#include "err.h"
#include "item.h"
#include "options.h"

struct batch;
struct fetch_head; /* fetch.h: a response head, shown at begin */

/* One item's result, valid during the call. */
struct batch_result {
	uint32_t index;   /* the item's index */
	const char *line; /* its result object, JSON, no newline */
	size_t len;
	bool ok;             /* the line's "ok": a response with status < 400 */
	enum item_err error; /* IERR_NONE: a response arrived */
	int status;          /* its status, when error is IERR_NONE */
};

/* The batch's counts, given to caller->end. */
struct batch_stats {
	uint32_t items;
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	double elapsed_ms;
};

/*
 * A caller's store of response bodies (a job's: store.h, "Body sink").
 * With "body": "auto", every attempt's response body, decoded and
 * within max_body_bytes, streams to it as it arrives: begin at the
 * response head (false: this attempt's body is not stored), data for
 * each piece in order, and abort when the attempt fails, is cancelled
 * or the item is cut short; a body that ended is kept until the item's
 * result. A retry or redirect is a new attempt: a new begin. The body
 * of the attempt whose result is delivered is the last one begun and
 * not aborted. None may call into the batch.
 */
struct batch_body_store {
	bool (*begin)(void *arg, uint32_t index, const struct fetch_head *h);
	/* true: the store is behind (the disk), the attempt stops reading
	 * until the caller says batch_body_drained. */
	bool (*data)(
	    void *arg, uint32_t index, const unsigned char *p, size_t n);
	void (*abort)(void *arg, uint32_t index);
	/* The line carries the body inline only while it is at most this
	 * many bytes (bytes); past it the line has "body_url" alone. */
	uint64_t inline_max;
	/* "body_url" of item N on its line: url_prefix N "/body". */
	const char *url_prefix;
};

struct batch_caller {
	/* One item's result: called exactly once per item added. */
	void (*result)(void *arg, const struct batch_result *r);
	/* Every item added has its result and the batch is closed. The
	 * batch is freed after this returns. */
	void (*end)(void *arg, const struct batch_stats *st);
	/* NULL, or told each change of an item's state, after it is made
	 * (a job keeps the store's item states from these). It must not
	 * call into the batch. */
	void (*state)(void *arg, uint32_t index, enum item_state from,
	    enum item_state to);
	void *arg;
	/* NULL, or where response bodies are stored (points into the
	 * caller's memory, valid until end or batch_cancel). */
	const struct batch_body_store *body;
	/* A job's runner (job.h): its batch is not one of the batches
	 * [server] max_active_batches admits, and not counted in the batch
	 * metrics; it shares every cap, bucket and the fairness. */
	bool job;
};

/*
 * Start a batch on e with options o (copied) - admitted first with
 * engine_admit. hops is the X-Fanoutd-Hops value to send upstream. The
 * deadline (o->deadline_ms) runs from now.
 */
struct batch *batch_start(struct engine *e, const struct batch_opts *o,
    unsigned hops, const struct batch_caller *caller);

/*
 * Add n items (their indexes the caller's, each once). The items and
 * everything they point to stay the caller's and must stay valid until
 * each one's result has been delivered. Invalid items get their result
 * inside this call.
 */
void batch_add(struct batch *b, const struct item_spec *items, uint32_t n);

/* No more items will be added: the batch ends once every item has its
 * result. */
void batch_close(struct batch *b);

/* The caller is gone: cancel every attempt, deliver nothing, free. */
void batch_cancel(struct batch *b);

/* End every unfinished item now with a `cancelled` result saying why
 * (shutdown); the end follows as usual. */
void batch_abort(struct batch *b, const char *why);

/* Stop (or resume) dispatching new attempts: the caller takes results
 * slower than they come. Attempts in flight carry on. */
void batch_pause(struct batch *b, bool paused);

/* Item index's body store has written what it was behind on (see
 * struct batch_body_store): its attempt reads again. */
void batch_body_drained(struct batch *b, uint32_t index);

/* Items done, added, in flight and waiting (queued or backing off). */
void batch_progress(const struct batch *b, struct progress_view *pv);

#endif
