/*
 * metrics.c - counters and the Prometheus text rendering (see metrics.h).
 */
#include <inttypes.h>

#include "metrics.h"
#include "store.h"

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

/* The shared limits (issue #19), when [limits] shared is set. */
static void
metrics_render_shared(struct buf *out, const struct shared_stats *s)
{
	int i;

	metric_head(out, "fanoutd_shared_limits_state", "gauge",
	    "State of the limits shared in Redis: shared, degraded (local "
	    "buckets at the limit divided by the live instances) or "
	    "connecting; 1 for the current one.");
	for (i = 0; i < SHARED__COUNT; i++)
		buf_printf(out,
		    "fanoutd_shared_limits_state{state=\"%s\"} %d\n",
		    shared_state_name(i), s->state == (enum shared_state)i);
	metric_one(out, "fanoutd_shared_limits_degraded", "gauge",
	    "1 while the limits are local because Redis is unreachable.",
	    s->state == SHARED_DOWN);
	metric_one(out, "fanoutd_shared_limits_instances", "gauge",
	    "Live fanoutd instances sharing the limits, last counted.",
	    s->instances);
	metric_one(out, "fanoutd_shared_limits_reservations_total", "counter",
	    "Reservations Redis answered (one round trip each).",
	    s->reservations);
	metric_one(out, "fanoutd_shared_limits_slots_total", "counter",
	    "Rate-limit slots those reservations granted.", s->slots);
	metric_one(out, "fanoutd_shared_limits_fallbacks_total", "counter",
	    "Times the limits fell back to local buckets.", s->fallbacks);
	metric_one(out, "fanoutd_shared_limits_timeouts_total", "counter",
	    "Redis commands not answered within shared_timeout_ms.",
	    s->timeouts);
}

/* The shared per-host concurrency, when [limits] shared_concurrency. */
static void
metrics_render_conc(struct buf *out, const struct shared_conc_stats *s)
{
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} m[] = {
	    {"fanoutd_shared_concurrency_degraded", "gauge",
	        "1 while per-host caps are local (per_host_concurrency "
	        "divided by the live instances) because Redis is unreachable.",
	        s->local},
	    {"fanoutd_shared_concurrency_local_cap", "gauge",
	        "The per-host cap this instance applies while degraded.",
	        s->local_cap},
	    {"fanoutd_shared_concurrency_slots_held", "gauge",
	        "Per-host slots this instance holds in Redis now.", s->held},
	    {"fanoutd_shared_concurrency_acquired_total", "counter",
	        "Slots Redis granted to this instance.", s->acquired},
	    {"fanoutd_shared_concurrency_refused_total", "counter",
	        "Slot requests refused because the fleet's cap was reached.",
	        s->refused},
	    {"fanoutd_shared_concurrency_notices_total", "counter",
	        "\"A slot is free\" notices received.", s->notices},
	    {"fanoutd_shared_concurrency_lost_total", "counter",
	        "Held slots whose lease had expired at renewal.", s->lost},
	    {"fanoutd_shared_concurrency_subscribed", "gauge",
	        "1 while the notice channel is subscribed.", s->subscribed},
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++)
		metric_one(out, m[i].name, m[i].type, m[i].help, m[i].v);
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
	metric_one(out, "fanoutd_extract_busy", "gauge",
	    "Pages with bytes (or their end) waiting for or being parsed on "
	    "the extraction threads.",
	    g->extract_busy);
	metric_one(out, "fanoutd_extract_queued_bytes", "gauge",
	    "Body bytes handed to the extraction threads, not parsed yet.",
	    g->extract_queued_bytes);
	metric_one(out, "fanoutd_response_bytes_total", "counter",
	    "Bytes of batch responses written to callers.",
	    metrics.bytes_out_total);
	if (g->shared)
		metrics_render_shared(out, &g->shared_stats);
	if (g->shared_conc)
		metrics_render_conc(out, &g->conc_stats);
}

void
metrics_render_jobs(struct buf *out, const struct store_stats *s)
{
	uint64_t cum = 0;
	int i;

	metric_head(
	    out, "fanoutd_jobs", "gauge", "Jobs in the store, by state.");
	for (i = 0; i < STORE_JOB__COUNT; i++)
		buf_printf(out, "fanoutd_jobs{state=\"%s\"} %" PRIu64 "\n",
		    store_job_state_name(i), s->jobs[i]);
	metric_one(out, "fanoutd_job_items_pending", "gauge",
	    "Items of jobs waiting to be leased.", s->items_pending);
	metric_one(out, "fanoutd_store_queue_depth", "gauge",
	    "Store requests waiting for the writer thread.", s->queue_depth);
	metric_one(out, "fanoutd_store_records_total", "counter",
	    "Result lines committed to the job store.", s->records);
	metric_one(out, "fanoutd_store_commit_errors_total", "counter",
	    "Store commits that failed (disk full, I/O error).",
	    s->commit_errors);
	metric_one(out, "fanoutd_store_bytes", "gauge",
	    "Bytes the job store uses (database pages and body files).",
	    s->used_bytes);
	metric_one(out, "fanoutd_store_degraded", "gauge",
	    "1 while the job store cannot write (running jobs pause).",
	    s->degraded ? 1 : 0);
	metric_head(out, "fanoutd_store_commit_seconds", "histogram",
	    "Time each store transaction took to commit.");
	for (i = 0; i < STORE_HIST_BUCKETS; i++) {
		cum += s->commit_hist[i];
		buf_printf(out,
		    "fanoutd_store_commit_seconds_bucket{le=\"%g\"} %" PRIu64
		    "\n",
		    (double)store_hist_bounds_us[i] / 1e6, cum);
	}
	cum += s->commit_hist[STORE_HIST_BUCKETS];
	buf_printf(out,
	    "fanoutd_store_commit_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
	    cum);
	buf_printf(out, "fanoutd_store_commit_seconds_sum %.6f\n",
	    (double)s->commit_us_sum / 1e6);
	buf_printf(out, "fanoutd_store_commit_seconds_count %" PRIu64 "\n",
	    s->commits);
}
