/*
 * metrics.c - counters and the Prometheus text rendering (see metrics.h).
 */
#include <inttypes.h>

#include "metrics.h"

struct metrics metrics;

static void
metric_head(
    struct buf *out, const char *name, const char *type, const char *help)
{
	buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metric_one(struct buf *out, const char *name, const char *type,
    const char *help, uint64_t v)
{
	metric_head(out, name, type, help);
	buf_printf(out, "%s %" PRIu64 "\n", name, v);
}

void
metrics_render(struct buf *out, const struct metrics_gauges *g)
{
	int e;

	metric_one(out, "fanoutd_batches_total", "counter", "Batches accepted.",
	    metrics.batches_total);
	metric_one(out, "fanoutd_batches_rejected_total", "counter",
	    "Batch requests refused once read (400, 406, 413, 415, 429, 503, "
	    "508).",
	    metrics.batches_rejected);
	metric_one(out, "fanoutd_batches_cancelled_total", "counter",
	    "Batches whose caller disconnected before the end.",
	    metrics.batches_cancelled);
	metric_one(out, "fanoutd_batches_active", "gauge",
	    "Batches running now.", g->batches_active);
	metric_head(out, "fanoutd_items_total", "counter",
	    "Items finished, by outcome: ok, http_error or an error type.");
	buf_printf(out, "fanoutd_items_total{outcome=\"ok\"} %" PRIu64 "\n",
	    metrics.items_ok);
	buf_printf(out,
	    "fanoutd_items_total{outcome=\"http_error\"} %" PRIu64 "\n",
	    metrics.items_http_error);
	for (e = IERR_NONE + 1; e < IERR__COUNT; e++)
		buf_printf(out,
		    "fanoutd_items_total{outcome=\"%s\"} %" PRIu64 "\n",
		    item_err_name(e), metrics.items_error[e]);
	metric_one(out, "fanoutd_upstream_attempts_total", "counter",
	    "Upstream attempts started.", metrics.attempts_total);
	metric_one(out, "fanoutd_upstream_retries_total", "counter",
	    "Upstream attempts that were retries.", metrics.retries_total);
	metric_one(out, "fanoutd_upstream_redirects_total", "counter",
	    "Redirects followed.", metrics.redirects_total);
	metric_head(out, "fanoutd_rate_limit_wait_seconds_total", "counter",
	    "Seconds queues spent parked waiting for rate-limit tokens.");
	buf_printf(out, "fanoutd_rate_limit_wait_seconds_total %.6f\n",
	    (double)g->token_wait_us / 1e6);
	metric_one(out, "fanoutd_inflight", "gauge",
	    "Upstream attempts in flight.", g->inflight);
	metric_one(out, "fanoutd_queued", "gauge",
	    "Items waiting for a concurrency slot.", g->queued);
	/* The states partition the connections, so sum() is the total. */
	metric_head(out, "fanoutd_upstream_connections", "gauge",
	    "Upstream connections open, by state: active (carrying a "
	    "request) or idle (kept alive in the pool).");
	buf_printf(out,
	    "fanoutd_upstream_connections{state=\"active\"} %" PRIu64 "\n",
	    g->connections_open > g->connections_idle
	        ? g->connections_open - g->connections_idle
	        : 0);
	buf_printf(out,
	    "fanoutd_upstream_connections{state=\"idle\"} %" PRIu64 "\n",
	    g->connections_idle);
	metric_one(out, "fanoutd_response_bytes_total", "counter",
	    "Bytes of batch responses written to callers.",
	    metrics.bytes_out_total);
}
