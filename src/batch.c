/*
 * batch.c - runs one batch (see batch.h): enqueues its items with the
 * scheduler, starts an attempt for each job the scheduler admits, and
 * decides what each outcome means: a redirect to follow (a new hop,
 * queued again under the same caps and buckets), a failure to retry
 * after a jittered backoff, or the item's result line. It also enforces
 * the batch deadline, writes progress lines, and writes the summary last.
 *
 * An item's state is its struct item_life (item.h), in its scheduler
 * job: the scheduler queues and admits it, fetch moves it through the
 * attempt, and here an outcome becomes QUEUED again (a redirect, a
 * retry at once), BACKOFF or DONE (its line written). The batch ends
 * when every item is DONE; the end is written from a zero-delay event
 * so output never ends inside batch_start().
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "batch.h"
#include "emit.h"
#include "log.h"
#include "metrics.h"
#include "redirect.h"
#include "retry.h"
#include "util.h"

/*
 * Attempts started per turn of the event loop. A new connection costs a
 * connect() that the kernel completes on the spot over loopback (~30 us):
 * starting 10,000 in one go would hold the loop for 300 ms, and evhttp
 * writes a request only once its connection's event comes back. Between
 * slices the loop writes the requests already connected, reads what has
 * arrived and serves other callers.
 */
#define BATCH_DISPATCH_SLICE 256

/* Where an item goes after its first redirect. */
struct item_hop {
	struct arena arena;
	struct redirect_hop r;
};

struct batch_item {
	struct sched_job job; /* first: the scheduler hands it back; its
	                         life is the item's state */
	struct batch *b;
	const struct item_spec *spec;
	uint16_t attempts;  /* requests made: retries and hops included */
	uint16_t retries;   /* retries so far */
	uint16_t redirects; /* redirects followed */
	bool body_dropped;  /* a hop turned the request into a GET */
	bool cross_origin;  /* a hop left the first origin */
	struct item_hop *hop;
	struct fetch *fetch;
	struct fetch_params params;
	struct event *backoff;
	uint64_t t_first; /* first dispatch */
};

struct batch {
	struct batch_ctx *ctx;
	struct batch_spec spec;
	struct batch_item *items;
	struct sched_batch *sb;
	struct batch_sink sink;
	unsigned hops;
	char user_agent[CONFIG_ADDR_LEN]; /* as configured when it started */
	uint32_t remaining;               /* items not DONE */
	uint32_t backing_off;
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	uint64_t t_start;
	uint64_t deadline_at;
	bool ending; /* end_ev is active */
	struct event deadline;
	struct event end_ev;
	struct event progress;
	struct buf line;          /* scratch: one rendered line */
	struct emit_header *hdrs; /* scratch: response headers as a view */
	size_t hdrs_cap;
	char **json; /* OUT_JSON: rendered results by index */
	size_t *json_len;
};

/* --- the shared context ----------------------------------------------------
 */

static void
batch_sched_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch_ctx *ctx = arg;

	ctx->sched_at = 0;
	batch_ctx_schedule(ctx);
}

void
batch_ctx_init(struct batch_ctx *ctx, struct event_base *base,
    struct fetch_ctx *fetch, const struct config *cfg)
{
	struct sched_limits l = {(uint32_t)cfg->concurrency,
	    (uint32_t)cfg->per_host_concurrency, cfg->rate, cfg->burst,
	    cfg->per_host_rate, cfg->per_host_burst};

	memset(ctx, 0, sizeof(*ctx));
	ctx->base = base;
	ctx->fetch = fetch;
	ctx->cfg = cfg;
	ctx->sched = sched_new(&l, mono_us());
	ctx->sched_ev = evtimer_new(base, batch_sched_cb, ctx);
	if (getrandom(&ctx->rng, sizeof(ctx->rng), 0) != sizeof(ctx->rng))
		ctx->rng = mono_us();
	ctx->rng |= 1;
}

void
batch_ctx_free(struct batch_ctx *ctx)
{
	if (ctx->sched_ev != NULL)
		event_free(ctx->sched_ev);
	sched_free(ctx->sched);
}

void
batch_ctx_schedule(struct batch_ctx *ctx)
{
	uint64_t now = mono_us();
	uint64_t next = sched_run(ctx->sched, now, BATCH_DISPATCH_SLICE);
	struct timeval tv;

	if (next == SCHED_NEVER)
		return;
	if (ctx->sched_at != 0 && ctx->sched_at <= next &&
	    evtimer_pending(ctx->sched_ev, NULL))
		return;
	ctx->sched_at = next;
	tv = tv_us(next > now ? next - now : 0);
	evtimer_add(ctx->sched_ev, &tv);
}

/* Uniform in [0, 1), for backoff jitter (xorshift64*). */
static double
batch_rand01(struct batch_ctx *ctx)
{
	uint64_t x = ctx->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	ctx->rng = x;
	return (double)((x * 2685821657736338717ull) >> 11) /
	    9007199254740992.0;
}

/* --- output ------------------------------------------------------------- */

/* Write one rendered result: framed to the sink, or kept for the JSON
 * document. */
static void
batch_output(struct batch *b, const struct result_view *rv)
{
	buf_reset(&b->line);
	if (b->spec.format == OUT_JSON) {
		emit_result(&b->line, rv);
		b->json[rv->index] = xstrndup(b->line.data, b->line.len);
		b->json_len[rv->index] = b->line.len;
		return;
	}
	emit_frame_result(&b->line, b->spec.format, rv);
	b->sink.write(b->sink.arg, b->line.data, b->line.len);
}

static const char *
item_url(const struct batch_item *it)
{
	return it->hop ? it->hop->r.url : it->spec->url;
}

static void
result_view_init(struct batch *b, struct batch_item *it, struct result_view *rv)
{
	uint64_t now = mono_us();

	memset(rv, 0, sizeof(*rv));
	rv->index = it->spec->index;
	rv->id_json = it->spec->id_json;
	rv->url = it->spec->url;
	rv->attempts = it->attempts;
	rv->elapsed_ms = it->t_first ? us_to_ms(now - it->t_first) : 0;
	rv->queued_ms = it->t_first ? us_to_ms(it->t_first - b->t_start) : -1;
	rv->dns_ms = -1;
	rv->ttfb_ms = -1;
	if (it->redirects > 0) {
		rv->final_url = item_url(it);
		rv->redirects = it->redirects;
	}
}

static void
batch_count(struct batch *b, enum item_err e, int status)
{
	if (e == IERR_NONE && status < 400) {
		b->ok++;
		metrics.items_ok++;
	} else {
		b->failed++;
		if (e == IERR_NONE)
			metrics.items_http_error++;
		else
			metrics.items_error[e]++;
	}
}

static void batch_maybe_end(struct batch *b);

static void
item_done(struct batch *b, struct batch_item *it, enum item_err e, int status)
{
	batch_count(b, e, status);
	item_set_state(&it->job.life, ITEM_DONE);
	b->remaining--;
	batch_maybe_end(b);
}

/* An item ends without a response: write its error line. */
static void
batch_item_error(struct batch *b, struct batch_item *it, enum item_err e,
    const char *message)
{
	struct result_view rv;

	result_view_init(b, it, &rv);
	rv.error = e;
	rv.message = message;
	batch_output(b, &rv);
	item_done(b, it, e, 0);
}

/* Response headers as the view emit wants, in b->hdrs. */
static size_t
batch_headers_view(struct batch *b, const struct evkeyvalq *h)
{
	const struct evkeyval *kv;
	size_t n = 0;

	TAILQ_FOREACH(kv, h, next)
	{
		if (n == b->hdrs_cap) {
			b->hdrs_cap = b->hdrs_cap ? b->hdrs_cap * 2 : 32;
			b->hdrs =
			    xrealloc(b->hdrs, b->hdrs_cap * sizeof(*b->hdrs));
		}
		b->hdrs[n].name = kv->key;
		b->hdrs[n].value = kv->value;
		n++;
	}
	return n;
}

/* The attempt's outcome is the item's result: write its line. */
static void
batch_item_result(
    struct batch *b, struct batch_item *it, const struct fetch_result *res)
{
	struct result_view rv;

	result_view_init(b, it, &rv);
	rv.error = res->error;
	rv.message = res->message;
	rv.dns_ms = res->dns_ms;
	rv.ttfb_ms = res->ttfb_ms;
	if (res->error == IERR_NONE) {
		rv.status = res->status;
		rv.with_headers = b->spec.opts.headers;
		if (rv.with_headers && res->headers != NULL) {
			rv.nheaders = batch_headers_view(b, res->headers);
			rv.headers = b->hdrs;
		}
		rv.with_body = b->spec.opts.body == BODY_AUTO;
		rv.body = res->body;
		rv.body_len = rv.with_body ? res->body_len : res->body_seen;
		rv.truncated = res->truncated;
		rv.content_encoding = res->content_encoding;
	}
	batch_output(b, &rv);
	item_done(b, it, res->error, res->status);
}

/* --- attempts, redirects, retries ----------------------------------------- */

static enum http_method
item_method(const struct batch_item *it)
{
	return it->hop ? it->hop->r.method : it->spec->method;
}

static void
batch_enqueue(struct batch *b, struct batch_item *it)
{
	sched_enqueue(b->sb, &it->job,
	    it->hop ? it->hop->r.u.origin : it->spec->u.origin);
}

/* Follow a redirect: the item's next attempt goes to the Location.
 * Returns -1 (with why) when it cannot be followed. */
static int
batch_item_redirect(
    struct batch_item *it, int status, const char *location, const char **why)
{
	const struct url *cur = it->hop ? &it->hop->r.u : &it->spec->u;
	struct item_hop *hop = xcalloc(1, sizeof(*hop));

	if (redirect_next(item_url(it), cur, item_method(it), status, location,
	        &hop->arena, &hop->r, why) != 0) {
		arena_free(&hop->arena);
		free(hop);
		return -1;
	}
	if (!hop->r.keep_body)
		it->body_dropped = true;
	if (hop->r.cross_origin)
		it->cross_origin = true;
	if (it->hop != NULL) {
		arena_free(&it->hop->arena);
		free(it->hop);
	}
	it->hop = hop;
	it->redirects++;
	metrics.redirects_total++;
	return 0;
}

static void
batch_backoff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;

	b->backing_off--;
	batch_enqueue(b, it);
	batch_ctx_schedule(b->ctx);
}

/*
 * Should this outcome be retried, and after how long? Returns the delay
 * in milliseconds, or -1 for no retry: not a retryable outcome, no
 * retries left, or the next attempt would start after the deadline.
 */
static int64_t
batch_retry_delay(
    struct batch *b, struct batch_item *it, const struct fetch_result *res)
{
	const struct batch_opts *o = &b->spec.opts;
	uint32_t allowed = (it->spec->opts ? it->spec->opts : o)->retries;
	enum http_method m = item_method(it);
	bool safe = http_method_idempotent(m) || it->spec->retry_unsafe;
	int64_t delay = -1;

	if (it->retries >= allowed ||
	    !retry_wanted(
	        &o->retry_on, res->error, res->status, res->sent, safe))
		return -1;
	if (res->error == IERR_NONE &&
	    (res->status == 429 || res->status == 503) && res->headers) {
		const char *ra =
		    evhttp_find_header(res->headers, "Retry-After");

		if (ra != NULL &&
		    (delay = retry_after_ms(ra, time(NULL))) >
		        o->backoff_max_ms)
			delay = o->backoff_max_ms;
	}
	if (delay < 0)
		delay = (int64_t)retry_backoff_ms(o->backoff_ms,
		    o->backoff_max_ms, it->retries, batch_rand01(b->ctx));
	if (mono_us() + (uint64_t)delay * 1000 >= b->deadline_at)
		return -1; /* it would start after the deadline */
	return delay;
}

static void
batch_retry(struct batch *b, struct batch_item *it, int64_t delay_ms)
{
	it->retries++;
	b->retries++;
	metrics.retries_total++;
	if (delay_ms == 0) {
		batch_enqueue(b, it);
		return;
	}
	if (it->backoff == NULL)
		it->backoff = evtimer_new(b->ctx->base, batch_backoff_cb, it);
	item_set_state(&it->job.life, ITEM_BACKOFF);
	b->backing_off++;
	timer_arm_ms(it->backoff, (uint64_t)delay_ms);
}

static void
batch_fetch_done(const struct fetch_result *res, void *arg)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;
	const struct batch_opts *o = &b->spec.opts;
	const char *why;
	char msg[160];
	int64_t delay;

	it->fetch = NULL;
	sched_done(&it->job);
	if (res->error == IERR_NONE && redirect_status(res->status) &&
	    o->follow_redirects > 0) {
		if (it->redirects >= o->follow_redirects) {
			snprintf(msg, sizeof(msg),
			    "more than %u redirects (follow_redirects)",
			    o->follow_redirects);
			batch_item_error(b, it, IERR_TOO_MANY_REDIRECTS, msg);
			goto out;
		}
		if (batch_item_redirect(it, res->status,
		        res->headers
		            ? evhttp_find_header(res->headers, "Location")
		            : NULL,
		        &why) == 0) {
			batch_enqueue(b, it);
			goto out;
		}
		log_debug("batch: not following a %d: %s", res->status, why);
	}
	if ((delay = batch_retry_delay(b, it, res)) >= 0) {
		batch_retry(b, it, delay);
		goto out;
	}
	batch_item_result(b, it, res);
out:
	batch_ctx_schedule(b->ctx);
}

/* The scheduler admitted a job: start its attempt. */
static void
batch_dispatch(struct sched_job *job, void *arg)
{
	struct batch_item *it = (struct batch_item *)job;
	struct batch *b = arg;
	const struct item_spec *s = it->spec;
	struct fetch_params *p = &it->params;
	const struct batch_opts *o = &b->spec.opts;

	if (it->t_first == 0)
		it->t_first = mono_us();
	it->attempts++;
	memset(p, 0, sizeof(*p));
	p->life = &it->job.life;
	p->url = it->hop ? &it->hop->r.u : &s->u;
	p->method = item_method(it);
	p->headers = s->headers;
	p->nheaders = s->nheaders;
	p->drop_credentials = it->cross_origin;
	if (!it->body_dropped) {
		p->body = s->body;
		p->body_len = s->body_len;
		p->has_body = s->has_body;
	}
	p->connect_timeout_ms = o->connect_timeout_ms;
	p->timeout_ms = (s->opts ? s->opts : o)->timeout_ms;
	p->max_body_bytes = o->max_body_bytes;
	p->keep_body = o->body == BODY_AUTO;
	p->decode = o->decode && p->keep_body;
	p->hops = b->hops;
	p->user_agent = b->user_agent;
	metrics.attempts_total++;
	it->fetch = fetch_start(b->ctx->fetch, p, batch_fetch_done, it);
}

/* --- the batch's own timers --------------------------------------------------
 */

static void
batch_free(struct batch *b)
{
	uint32_t i;

	event_del(&b->deadline);
	event_del(&b->end_ev);
	event_del(&b->progress);
	sched_batch_free(b->sb);
	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		if (it->backoff != NULL)
			event_free(it->backoff);
		if (it->hop != NULL) {
			arena_free(&it->hop->arena);
			free(it->hop);
		}
		if (b->json != NULL)
			free(b->json[i]);
	}
	free(b->json);
	free(b->json_len);
	buf_free(&b->line);
	free(b->hdrs);
	free(b->items);
	batch_spec_free(&b->spec);
	b->ctx->active--;
	free(b);
}

/* Everything is done: summary, end of stream, free. */
static void
batch_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	struct summary_view sv;
	struct batch_stats st;
	struct buf eff = BUF_INIT;

	opts_emit_effective(&b->spec.opts, &eff);
	memset(&sv, 0, sizeof(sv));
	sv.total = b->spec.nitems;
	sv.ok = b->ok;
	sv.failed = b->failed;
	sv.retries = b->retries;
	sv.elapsed_ms = us_to_ms(mono_us() - b->t_start);
	sv.effective_json = buf_cstr(&eff);
	buf_reset(&b->line);
	if (b->spec.format == OUT_JSON)
		emit_json_document(&b->line, (const char *const *)b->json,
		    b->json_len, b->spec.nitems, &sv);
	else
		emit_frame_summary(&b->line, b->spec.format, &sv);
	b->sink.write(b->sink.arg, b->line.data, b->line.len);
	buf_free(&eff);
	st.items = sv.total;
	st.ok = sv.ok;
	st.failed = sv.failed;
	st.retries = sv.retries;
	st.elapsed_ms = sv.elapsed_ms;
	b->sink.end(b->sink.arg, &st);
	batch_free(b);
}

static void
batch_maybe_end(struct batch *b)
{
	if (b->remaining == 0 && !b->ending) {
		b->ending = true;
		event_del(&b->deadline);
		event_del(&b->progress);
		event_active(&b->end_ev, EV_TIMEOUT, 1);
	}
}

/* End every unfinished item with err: in-flight attempts are cancelled,
 * queued and backing-off items dropped. */
static void
batch_end_all(struct batch *b, enum item_err err, const char *msg)
{
	uint32_t i;

	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		enum item_state s = it->job.life.state;

		if (s == ITEM_DONE)
			continue;
		if (item_in_attempt(s)) {
			fetch_cancel(it->fetch);
			it->fetch = NULL;
			sched_done(&it->job);
		} else if (s == ITEM_QUEUED) {
			sched_remove(&it->job);
		} else if (s == ITEM_BACKOFF) {
			evtimer_del(it->backoff);
			b->backing_off--;
		}
		batch_item_error(b, it, err, msg);
	}
	batch_ctx_schedule(b->ctx);
}

/* The batch deadline passed. */
static void
batch_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	char msg[128];

	snprintf(msg, sizeof(msg),
	    "the batch deadline of %u ms passed before a response",
	    b->spec.opts.deadline_ms);
	batch_end_all(b, IERR_DEADLINE, msg);
}

void
batch_abort(struct batch *b, const char *why)
{
	batch_end_all(b, IERR_CANCELLED, why);
}

static void
batch_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	struct progress_view pv;

	pv.done = b->spec.nitems - b->remaining;
	pv.total = b->spec.nitems;
	pv.in_flight = sched_batch_inflight(b->sb);
	pv.queued = sched_batch_queued(b->sb) + b->backing_off;
	buf_reset(&b->line);
	emit_frame_progress(&b->line, b->spec.format, &pv);
	b->sink.write(b->sink.arg, b->line.data, b->line.len);
}

struct batch *
batch_start(struct batch_ctx *ctx, struct batch_spec *spec, unsigned hops,
    const struct batch_sink *sink)
{
	struct batch *b = xcalloc(1, sizeof(*b));
	const struct batch_opts *o;
	struct sched_batch_limits l;
	uint32_t i;

	b->ctx = ctx;
	b->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	o = &b->spec.opts;
	b->sink = *sink;
	b->hops = hops;
	snprintf(
	    b->user_agent, sizeof(b->user_agent), "%s", ctx->cfg->user_agent);
	b->t_start = mono_us();
	b->deadline_at = b->t_start + (uint64_t)o->deadline_ms * 1000;
	b->items = xcalloc(b->spec.nitems, sizeof(*b->items));
	if (b->spec.format == OUT_JSON) {
		b->json = xcalloc(b->spec.nitems, sizeof(*b->json));
		b->json_len = xcalloc(b->spec.nitems, sizeof(*b->json_len));
	}
	l.concurrency = o->concurrency;
	l.per_host_concurrency = o->per_host_concurrency;
	l.rate = o->rate;
	l.burst = o->burst;
	l.per_host_rate = o->per_host_rate;
	b->sb = sched_batch_new(ctx->sched, &l, batch_dispatch, b, b->t_start);
	evtimer_assign(&b->deadline, ctx->base, batch_deadline_cb, b);
	event_assign(&b->end_ev, ctx->base, -1, 0, batch_end_cb, b);
	event_assign(
	    &b->progress, ctx->base, -1, EV_PERSIST, batch_progress_cb, b);
	timer_arm_ms(&b->deadline, o->deadline_ms);
	if (o->progress_ms > 0 && b->spec.format != OUT_JSON)
		timer_arm_ms(&b->progress, o->progress_ms);
	ctx->active++;
	metrics.batches_total++;
	b->remaining = b->spec.nitems;
	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		it->b = b;
		it->spec = &b->spec.items[i];
		it->job.life.index = it->spec->index;
		if (it->spec->invalid != NULL)
			batch_item_error(
			    b, it, IERR_INVALID_REQUEST, it->spec->invalid);
		else
			batch_enqueue(b, it);
	}
	batch_maybe_end(b);
	batch_ctx_schedule(ctx);
	return b;
}

void
batch_cancel(struct batch *b)
{
	struct batch_ctx *ctx = b->ctx;
	uint32_t i;

	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		if (item_in_attempt(it->job.life.state)) {
			fetch_cancel(it->fetch);
			sched_done(&it->job);
		}
	}
	metrics.batches_cancelled++;
	batch_free(b); /* drops the queued jobs with the scheduler batch */
	batch_ctx_schedule(ctx); /* others get the freed capacity */
}

void
batch_pause(struct batch *b, bool paused)
{
	sched_batch_pause(b->sb, paused);
	if (!paused)
		batch_ctx_schedule(b->ctx);
}
