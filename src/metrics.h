/*
 * metrics.h - process-wide counters, and their rendering in the
 * Prometheus text exposition format for GET /metrics.
 *
 * Counters are plain integers bumped on the one event-loop thread; gauges
 * that other modules already know (in flight, queued, pooled connections)
 * are passed in at render time rather than mirrored here.
 */
#ifndef FANOUTD_METRICS_H
#define FANOUTD_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "err.h"
#include "shared_policy.h"

struct metrics {
	uint64_t batches_total;     /* accepted */
	uint64_t batches_rejected;  /* refused with a whole-request error */
	uint64_t batches_cancelled; /* the caller went away */
	uint64_t items_ok;          /* a response with status < 400 */
	uint64_t items_http_error;  /* a response with status >= 400 */
	uint64_t items_error[IERR__COUNT]; /* no response, by error type */
	uint64_t attempts_total;           /* upstream attempts started */
	uint64_t retries_total;            /* attempts that were retries */
	uint64_t redirects_total;          /* redirects followed */
	uint64_t bytes_out_total; /* response bytes written to callers */
};

extern struct metrics metrics;

struct metrics_gauges {
	uint64_t batches_active;
	uint64_t inflight;
	uint64_t queued;
	uint64_t connections_open;
	uint64_t connections_idle;
	uint64_t token_wait_us; /* queues parked waiting for rate tokens */
	uint64_t extract_busy;  /* pages being parsed or waiting to be */
	uint64_t extract_queued_bytes;
	bool shared; /* [limits] shared is set: */
	struct shared_stats shared_stats;
	bool shared_conc; /* [limits] shared_concurrency is on: */
	struct shared_conc_stats conc_stats;
};

void metrics_render(struct buf *out, const struct metrics_gauges *g);

struct store_stats;
/* The job store's part (issue #16): jobs by state, items pending, the
 * store's queue depth, commit latency histogram, degraded. */
void metrics_render_jobs(struct buf *out, const struct store_stats *s);

#endif
