/*
 * batch.c - runs one batch (see batch.h): enqueues its items with the
 * scheduler, starts an attempt for each job the scheduler admits, turns
 * each outcome into a result line, enforces the batch deadline, and
 * writes the summary last.
 *
 * An item is QUEUED (in the scheduler), RUNNING (a fetch in flight) or
 * DONE (its line written). The batch ends when no item is left that is
 * not DONE; the end is written from a zero-delay event so that output
 * never starts inside batch_start().
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event_struct.h>
#include <event2/keyvalq_struct.h>

#include "batch.h"
#include "emit.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

enum item_state { IT_QUEUED = 0, IT_RUNNING, IT_DONE };

struct batch_item {
	struct sched_job job; /* first: the scheduler hands it back */
	struct batch *b;
	const struct item_spec *spec;
	enum item_state state;
	struct fetch *fetch;
	struct fetch_params params;
	uint16_t attempts;
	uint64_t t_first; /* first dispatch */
};

struct batch {
	struct batch_ctx *ctx;
	struct batch_spec spec;
	struct batch_item *items;
	struct sched_batch *sb;
	struct batch_sink sink;
	unsigned hops;
	uint32_t remaining; /* items not DONE */
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	uint64_t t_start;
	bool ending; /* end_ev is active */
	struct event deadline;
	struct event end_ev;
	struct buf line;          /* scratch: one rendered result */
	struct emit_header *hdrs; /* scratch: response headers as a view */
	size_t hdrs_cap;
	char **json; /* OUT_JSON: rendered results by index */
	size_t *json_len;
};

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
	batch_count(b, e, 0);
	it->state = IT_DONE;
	b->remaining--;
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

static void
batch_fetch_done(const struct fetch_result *res, void *arg)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;
	struct result_view rv;

	it->fetch = NULL;
	sched_done(&it->job);
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
	}
	batch_output(b, &rv);
	batch_count(b, res->error, res->status);
	it->state = IT_DONE;
	b->remaining--;
	batch_maybe_end(b);
	sched_run(b->ctx->sched);
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
	it->state = IT_RUNNING;
	memset(p, 0, sizeof(*p));
	p->url = &s->u;
	p->method = s->method;
	p->headers = s->headers;
	p->nheaders = s->nheaders;
	p->body = s->body;
	p->body_len = s->body_len;
	p->has_body = s->has_body;
	p->connect_timeout_ms = o->connect_timeout_ms;
	p->timeout_ms = s->timeout_ms ? s->timeout_ms : o->timeout_ms;
	p->max_body_bytes = o->max_body_bytes;
	p->keep_body = o->body == BODY_AUTO;
	p->hops = b->hops;
	p->user_agent = b->ctx->cfg->user_agent;
	metrics.attempts_total++;
	it->fetch = fetch_start(b->ctx->fetch, p, batch_fetch_done, it);
}

static void
batch_free(struct batch *b)
{
	uint32_t i;

	event_del(&b->deadline);
	event_del(&b->end_ev);
	sched_batch_free(b->sb);
	if (b->json != NULL) {
		for (i = 0; i < b->spec.nitems; i++)
			free(b->json[i]);
		free(b->json);
		free(b->json_len);
	}
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
		event_active(&b->end_ev, EV_TIMEOUT, 1);
	}
}

/* The batch deadline passed: every unfinished item ends with
 * `deadline`, in-flight attempts are cancelled. */
static void
batch_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	char msg[128];
	uint32_t i;

	snprintf(msg, sizeof(msg),
	    "the batch deadline of %u ms passed before a response",
	    b->spec.opts.deadline_ms);
	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		if (it->state == IT_DONE)
			continue;
		if (it->state == IT_RUNNING) {
			fetch_cancel(it->fetch);
			it->fetch = NULL;
			sched_done(&it->job);
		} else {
			sched_remove(&it->job);
		}
		batch_item_error(b, it, IERR_DEADLINE, msg);
	}
	batch_maybe_end(b);
	sched_run(b->ctx->sched);
}

struct batch *
batch_start(struct batch_ctx *ctx, struct batch_spec *spec, unsigned hops,
    const struct batch_sink *sink)
{
	struct batch *b = xcalloc(1, sizeof(*b));
	const struct batch_opts *o;
	struct timeval tv;
	uint32_t i;

	b->ctx = ctx;
	b->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	o = &b->spec.opts;
	b->sink = *sink;
	b->hops = hops;
	b->t_start = mono_us();
	b->items = xcalloc(b->spec.nitems, sizeof(*b->items));
	if (b->spec.format == OUT_JSON) {
		b->json = xcalloc(b->spec.nitems, sizeof(*b->json));
		b->json_len = xcalloc(b->spec.nitems, sizeof(*b->json_len));
	}
	b->sb = sched_batch_new(ctx->sched, o->concurrency,
	    o->per_host_concurrency, batch_dispatch, b);
	evtimer_assign(&b->deadline, ctx->base, batch_deadline_cb, b);
	event_assign(&b->end_ev, ctx->base, -1, 0, batch_end_cb, b);
	tv.tv_sec = o->deadline_ms / 1000;
	tv.tv_usec = (o->deadline_ms % 1000) * 1000;
	evtimer_add(&b->deadline, &tv);
	ctx->active++;
	metrics.batches_total++;
	b->remaining = b->spec.nitems;
	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		it->b = b;
		it->spec = &b->spec.items[i];
		if (it->spec->invalid != NULL)
			batch_item_error(
			    b, it, IERR_INVALID_REQUEST, it->spec->invalid);
		else
			sched_enqueue(b->sb, &it->job, it->spec->u.origin);
	}
	batch_maybe_end(b);
	sched_run(ctx->sched);
	return b;
}

void
batch_cancel(struct batch *b)
{
	struct sched *sched = b->ctx->sched;
	uint32_t i;

	for (i = 0; i < b->spec.nitems; i++) {
		struct batch_item *it = &b->items[i];

		if (it->state == IT_RUNNING) {
			fetch_cancel(it->fetch);
			sched_done(&it->job);
		}
	}
	metrics.batches_cancelled++;
	batch_free(b);    /* drops the queued jobs with the scheduler batch */
	sched_run(sched); /* others get the freed capacity */
}
