/*
 * batch.c - runs one batch (see batch.h): enqueues its items with the
 * scheduler, starts an attempt for each job the scheduler admits, and
 * decides what each outcome means: a redirect to follow (a new hop,
 * queued again under the same caps and buckets), a failure to retry
 * after a jittered backoff, or the item's result line, which goes to the
 * caller. It also enforces the batch deadline.
 *
 * An item's state is its struct item_life (item.h), in its scheduler
 * job: the scheduler queues and admits it, fetch moves it through the
 * attempt, and here an outcome becomes QUEUED again (a redirect, a
 * retry at once), BACKOFF or DONE (its line delivered). Items live in
 * pages, one per batch_add; a page whose items are all done is freed at
 * the next batch_add, so a caller that adds in pages (a job) never has
 * the whole batch in memory. The batch ends when it is closed and every
 * item is DONE; the end comes from a zero-delay event, so the caller
 * never sees it inside one of its own calls.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "batch.h"
#include "engine_int.h"
#include "extract.h"
#include "extract_pool.h"
#include "log.h"
#include "metrics.h"
#include "redirect.h"
#include "retry.h"
#include "util.h"

/* Where an item goes after its first redirect. */
struct item_hop {
	struct arena arena;
	struct redirect_hop r;
};

struct batch_item {
	struct sched_job job; /* first: the scheduler hands it back; its
	                         life is the item's state */
	struct batch *b;
	struct batch_page *page; /* the batch_add it came in */
	const struct item_spec *spec;
	uint16_t attempts;  /* requests made: retries and hops included */
	uint16_t retries;   /* retries so far */
	uint16_t redirects; /* redirects followed */
	bool body_dropped;  /* a hop turned the request into a GET */
	bool cross_origin;  /* a hop left the first origin */
	struct item_hop *hop;
	struct fetch *fetch;
	struct fetch_params params;
	struct fetch_observer observer; /* extracting, or storing bodies */
	struct xjob *x;         /* the current attempt's extraction, or NULL */
	struct item_held *held; /* its line, waiting for x to be parsed */
	bool storing;           /* the caller's body store took this attempt */
	bool pause_store;       /* reading waits for the body store */
	bool pause_x;           /* reading waits for the extraction threads */
	struct event *backoff;
	uint64_t t_first; /* first dispatch */
};

/* A result line rendered while its extraction is still parsing (on the
 * extraction threads): delivered once the parse is done. */
struct item_held {
	struct buf line; /* the line, without its "extract" */
	size_t at;       /* where ",<extract>" goes */
	enum item_err error;
	int status;
};

/* The items of one batch_add. */
struct batch_page {
	TAILQ_ENTRY(batch_page) link;
	uint32_t n;
	uint32_t remaining; /* items not DONE */
	struct batch_item items[];
};

struct batch {
	struct engine *e;
	struct batch_opts opts;
	struct batch_caller caller;
	struct sched_batch *sb;
	TAILQ_HEAD(, batch_page) pages;
	unsigned hops;
	uint32_t total;     /* items added */
	uint32_t remaining; /* items not DONE */
	uint32_t backing_off;
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	uint64_t t_start;
	uint64_t deadline_at;
	bool closed; /* no more items will come */
	bool ending; /* end_ev is active */
	struct event deadline;
	struct event end_ev;
	struct buf line;          /* scratch: one rendered line */
	struct buf xline;         /* scratch: one line's "extract" */
	struct emit_header *hdrs; /* scratch: response headers as a view */
	size_t hdrs_cap;
};

#define PAGE_FOREACH(b, pg, it)              \
	TAILQ_FOREACH(pg, &(b)->pages, link) \
	for ((it) = (pg)->items; (it) < (pg)->items + (pg)->n; (it)++)

/* The item's options: the batch's, or its own copy with its values. */
static const struct batch_opts *
item_opts(const struct batch_item *it)
{
	return it->spec->opts ? it->spec->opts : &it->b->opts;
}

/* The caller stores response bodies ("body": "auto" in a job). */
static bool
batch_stores_bodies(const struct batch *b)
{
	return b->caller.body != NULL && b->opts.body == BODY_AUTO;
}

/* --- results ------------------------------------------------------------- */

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

static void batch_maybe_end(struct batch *b);

/* Drop the item's extraction, also mid-parse, and a line held for it. */
static void
item_extract_drop(struct batch_item *it)
{
	xjob_free(it->x);
	it->x = NULL;
	if (it->held != NULL) {
		buf_free(&it->held->line);
		free(it->held);
		it->held = NULL;
	}
}

/* Is the item's extraction still parsing (its line must wait)? */
static bool
item_extract_pending(const struct batch_item *it)
{
	return it->x != NULL && !xjob_done(it->x);
}

/*
 * The line's "extract" member when the item asked for one: the last
 * attempt's extract, or null and why there is none (res NULL: the item
 * ends without an attempt's outcome). Into b->xline and rv. True when
 * the extract is still being parsed: the line must wait for it.
 */
static bool
item_extract_view(struct batch *b, struct batch_item *it,
    const struct fetch_result *res, struct result_view *rv)
{
	char why[200];

	if (item_opts(it)->extract == 0)
		return false;
	buf_reset(&b->xline);
	if (res == NULL || res->error != IERR_NONE) {
		snprintf(why, sizeof(why), "no response (%s)",
		    item_err_name(rv->error));
		extract_json_skipped(&b->xline, why);
	} else if (it->x != NULL && item_extract_pending(it)) {
		return true;
	} else if (it->x != NULL) {
		xjob_json(it->x, &b->xline);
	} else if (it->params.method == HM_HEAD) {
		extract_json_skipped(&b->xline, "a HEAD response has no body");
	} else if (res->status < 200 || res->status == 204 ||
	    res->status == 304) {
		snprintf(
		    why, sizeof(why), "status %d has no body", res->status);
		extract_json_skipped(&b->xline, why);
	} else {
		snprintf(why, sizeof(why),
		    "the body is %.100s-encoded (not decoded: decode is false "
		    "or the coding is unknown)",
		    res->content_encoding ? res->content_encoding : "?");
		extract_json_skipped(&b->xline, why);
	}
	item_extract_drop(it);
	rv->extract = b->xline.data;
	rv->extract_len = b->xline.len;
	return false;
}

/* Hand the item's line (in b->line) to the caller, and the item is
 * done: its scheduler slots go (held while its extraction parsed). */
static void
item_deliver(
    struct batch *b, struct batch_item *it, enum item_err error, int status)
{
	struct batch_result r;

	r.index = it->spec->index;
	r.line = b->line.data;
	r.len = b->line.len;
	r.error = error;
	r.status = status;
	r.ok = error == IERR_NONE && status < 400;
	if (r.ok) {
		b->ok++;
		metrics.items_ok++;
	} else {
		b->failed++;
		if (error == IERR_NONE)
			metrics.items_http_error++;
		else
			metrics.items_error[error]++;
	}
	sched_done(&it->job);
	b->caller.result(b->caller.arg, &r);
	item_set_state(&it->job.life, ITEM_DONE);
	it->page->remaining--;
	b->remaining--;
	batch_maybe_end(b);
}

/* Render the item's result, hand it to the caller, and the item is
 * done. */
static void
item_done(struct batch *b, struct batch_item *it, const struct result_view *rv)
{
	buf_reset(&b->line);
	emit_result(&b->line, rv);
	item_deliver(b, it, rv->error, rv->status);
}

/* The item's extraction is parsed (called from the loop by the
 * extraction pool): the line held for it, if the attempt's outcome is
 * in, goes out with the extract. */
static void
item_extract_ready(void *arg)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;
	struct item_held *h = it->held;

	if (h == NULL)
		return; /* the outcome comes next: batch_item_result */
	buf_reset(&b->line);
	buf_add(&b->line, h->line.data, h->at);
	buf_addc(&b->line, ',');
	xjob_json(it->x, &b->line);
	buf_add(&b->line, h->line.data + h->at, h->line.len - h->at);
	it->held = NULL;
	item_extract_drop(it);
	item_deliver(b, it, h->error, h->status);
	buf_free(&h->line);
	free(h);
	engine_schedule(b->e);
}

/* An item ends without a response: its error line. */
static void
batch_item_error(struct batch *b, struct batch_item *it, enum item_err e,
    const char *message)
{
	struct result_view rv;

	result_view_init(b, it, &rv);
	rv.error = e;
	rv.message = message;
	item_extract_view(b, it, NULL, &rv);
	item_done(b, it, &rv);
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

/* The attempt's outcome is the item's result: its line. */
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
		rv.with_headers = b->opts.headers;
		if (rv.with_headers && res->headers != NULL) {
			rv.nheaders = batch_headers_view(b, res->headers);
			rv.headers = b->hdrs;
		}
		rv.with_body = b->opts.body == BODY_AUTO && !res->body_dropped;
		rv.body = res->body;
		rv.body_len = rv.with_body ? res->body_len : res->body_seen;
		if (batch_stores_bodies(b))
			rv.body_url_prefix = b->caller.body->url_prefix;
		rv.truncated = res->truncated;
		rv.content_encoding = res->content_encoding;
	}
	if (item_extract_view(b, it, res, &rv)) {
		/* The line waits for the parse, keeping the item's slots. */
		it->held = xcalloc(1, sizeof(*it->held));
		rv.extract_at = &it->held->at;
		emit_result(&it->held->line, &rv);
		it->held->error = rv.error;
		it->held->status = rv.status;
		return;
	}
	item_done(b, it, &rv);
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
	engine_schedule(b->e);
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
	const struct batch_opts *o = &b->opts;
	bool safe =
	    http_method_idempotent(item_method(it)) || it->spec->retry_unsafe;
	int64_t delay = -1;

	if (it->retries >= item_opts(it)->retries ||
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
		    o->backoff_max_ms, it->retries, engine_rand01(b->e));
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
		it->backoff = evtimer_new(b->e->base, batch_backoff_cb, it);
	item_set_state(&it->job.life, ITEM_BACKOFF);
	b->backing_off++;
	timer_arm_ms(it->backoff, (uint64_t)delay_ms);
}

/* A redirect, when the batch follows them: true when the item went on
 * (queued for its next hop, or ended: too many); false when the response
 * is to be taken as it is (no usable Location). */
static bool
batch_follow(
    struct batch *b, struct batch_item *it, const struct fetch_result *res)
{
	const char *why;
	char msg[160];

	if (it->redirects >= b->opts.follow_redirects) {
		snprintf(msg, sizeof(msg),
		    "more than %u redirects (follow_redirects)",
		    b->opts.follow_redirects);
		batch_item_error(b, it, IERR_TOO_MANY_REDIRECTS, msg);
		return true;
	}
	if (batch_item_redirect(it, res->status,
	        res->headers ? evhttp_find_header(res->headers, "Location")
	                     : NULL,
	        &why) != 0) {
		log_debug("batch: not following a %d: %s", res->status, why);
		return false;
	}
	item_extract_drop(it); /* the 3xx's own body */
	sched_done(&it->job);
	batch_enqueue(b, it);
	return true;
}

/* The attempt's outcome (the item is ITEM_OUTCOME): follow, retry, or
 * the result. */
static void
batch_fetch_done(const struct fetch_result *res, void *arg)
{
	struct batch_item *it = arg;
	struct batch *b = it->b;
	bool redirect = res->error == IERR_NONE &&
	    redirect_status(res->status) && b->opts.follow_redirects > 0;
	int64_t delay;

	it->fetch = NULL;
	sched_attempt_ended(
	    &it->job, res->error != IERR_NONE || res->status >= 400);
	if (!item_extract_pending(it))
		sched_done(&it->job); /* else when the item's line goes */
	if (!redirect || !batch_follow(b, it, res)) {
		if ((delay = batch_retry_delay(b, it, res)) >= 0) {
			item_extract_drop(it); /* not kept over the backoff */
			sched_done(&it->job);
			batch_retry(b, it, delay);
		} else {
			batch_item_result(b, it, res);
		}
	}
	engine_schedule(b->e);
}

/* --- the attempt's body observer: extraction and the body store -------- */

/* Read the response, unless the extraction threads or the body store
 * are behind: each holds its own pause. */
static void
item_pause(struct batch_item *it)
{
	fetch_pause(it->fetch, it->pause_x || it->pause_store);
}

/* The extraction threads caught up with the item's body: read on. */
static void
item_extract_flow(void *arg)
{
	struct batch_item *it = arg;

	if (it->pause_x) {
		it->pause_x = false;
		item_pause(it);
	}
}

/* A response head: an extractor for its body, when it has one that is
 * not still content-coded (the line then says why there is none), and
 * the caller's body store, when it keeps bodies. */
static bool
item_observe_begin(void *arg, const struct fetch_head *h)
{
	struct batch_item *it = arg;
	const struct batch_body_store *bs = it->b->caller.body;
	struct extract_opts xo;
	struct xjob_cbs cbs = {item_extract_ready, item_extract_flow, it};

	item_extract_drop(it); /* an earlier attempt's */
	if (item_opts(it)->extract != 0 && !h->no_body &&
	    h->content_encoding == NULL) {
		memset(&xo, 0, sizeof(xo));
		xo.what = item_opts(it)->extract;
		xo.max_links = it->b->opts.max_links;
		it->x = xjob_new(it->b->e->xpool, &xo, item_url(it),
		    evhttp_find_header(h->headers, "Content-Type"), &cbs);
	}
	if (batch_stores_bodies(it->b))
		it->storing = bs->begin(it->b->caller.arg, it->spec->index, h);
	return it->x != NULL || it->storing;
}

static void
item_observe_data(void *arg, const unsigned char *p, size_t n)
{
	struct batch_item *it = arg;

	if (it->x != NULL && xjob_feed(it->x, p, n) && !it->pause_x) {
		it->pause_x = true; /* until item_extract_flow */
		item_pause(it);
	}
	if (it->storing &&
	    it->b->caller.body->data(
	        it->b->caller.arg, it->spec->index, p, n) &&
	    !it->pause_store) {
		it->pause_store = true; /* until batch_body_drained */
		item_pause(it);
	}
}

void
batch_body_drained(struct batch *b, uint32_t index)
{
	struct batch_page *pg;
	struct batch_item *it;

	PAGE_FOREACH(b, pg, it)
	{
		if (it->spec->index == index && it->pause_store) {
			it->pause_store = false;
			item_pause(it);
			return;
		}
	}
}

/* The body ended, whole or cut at max_body_bytes: what arrived is
 * extracted; a stored one waits for the item's result. */
static void
item_observe_end(void *arg, bool truncated)
{
	struct batch_item *it = arg;

	(void)truncated;
	if (it->x != NULL)
		xjob_finish(it->x);
	it->storing = false;
}

static void
item_observe_abort(void *arg)
{
	struct batch_item *it = arg;

	item_extract_drop(it);
	if (it->storing)
		it->b->caller.body->abort(it->b->caller.arg, it->spec->index);
	it->storing = false;
}

/* The scheduler admitted a job: start its attempt. */
static void
batch_dispatch(struct sched_job *job, void *arg)
{
	struct batch_item *it = (struct batch_item *)job;
	struct batch *b = arg;
	const struct item_spec *s = it->spec;
	struct fetch_params *p = &it->params;
	const struct batch_opts *o = &b->opts;

	if (it->t_first == 0)
		it->t_first = mono_us();
	it->attempts++;
	it->pause_x = it->pause_store = false;
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
	p->timeout_ms = item_opts(it)->timeout_ms;
	p->max_body_bytes = o->max_body_bytes;
	p->keep_body = o->body == BODY_AUTO;
	if (batch_stores_bodies(b))
		p->keep_max_bytes = b->caller.body->inline_max;
	p->decode = o->decode && (p->keep_body || item_opts(it)->extract);
	if (item_opts(it)->extract != 0 || batch_stores_bodies(b)) {
		it->observer.begin = item_observe_begin;
		it->observer.data = item_observe_data;
		it->observer.end = item_observe_end;
		it->observer.abort = item_observe_abort;
		it->observer.arg = it;
		p->observer = &it->observer;
	}
	p->hops = b->hops;
	p->user_agent = item_opts(it)->user_agent;
	metrics.attempts_total++;
	it->fetch = fetch_start(&b->e->fetch, p, batch_fetch_done, it);
}

/* --- the batch ---------------------------------------------------------- */

/* Free a page whose items are all done. */
static void
page_free(struct batch_page *pg)
{
	uint32_t i;

	for (i = 0; i < pg->n; i++) {
		struct batch_item *it = &pg->items[i];

		if (it->backoff != NULL)
			event_free(it->backoff);
		item_extract_drop(it);
		if (it->hop != NULL) {
			arena_free(&it->hop->arena);
			free(it->hop);
		}
	}
	free(pg);
}

static void
batch_free(struct batch *b)
{
	struct batch_page *pg;

	event_del(&b->deadline);
	event_del(&b->end_ev);
	sched_batch_free(b->sb);
	while ((pg = TAILQ_FIRST(&b->pages)) != NULL) {
		TAILQ_REMOVE(&b->pages, pg, link);
		page_free(pg);
	}
	buf_free(&b->line);
	buf_free(&b->xline);
	free(b->hdrs);
	if (!b->caller.job)
		b->e->active--;
	free(b);
}

/* Everything is done: the caller's end, then free. */
static void
batch_end_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	struct batch_stats st;

	st.items = b->total;
	st.ok = b->ok;
	st.failed = b->failed;
	st.retries = b->retries;
	st.elapsed_ms = us_to_ms(mono_us() - b->t_start);
	b->caller.end(b->caller.arg, &st);
	batch_free(b);
}

static void
batch_maybe_end(struct batch *b)
{
	if (b->closed && b->remaining == 0 && !b->ending) {
		b->ending = true;
		event_del(&b->deadline);
		event_active(&b->end_ev, EV_TIMEOUT, 1);
	}
}

/* End every unfinished item with err: in-flight attempts are cancelled,
 * queued and backing-off items dropped. */
static void
batch_end_all(struct batch *b, enum item_err err, const char *msg)
{
	struct batch_page *pg;
	struct batch_item *it;

	PAGE_FOREACH(b, pg, it)
	{
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
	engine_schedule(b->e);
}

/* The batch deadline passed. */
static void
batch_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct batch *b = arg;
	char msg[128];

	snprintf(msg, sizeof(msg),
	    "the batch deadline of %u ms passed before a response",
	    b->opts.deadline_ms);
	batch_end_all(b, IERR_DEADLINE, msg);
}

void
batch_abort(struct batch *b, const char *why)
{
	batch_end_all(b, IERR_CANCELLED, why);
}

/* Tell the caller of an item's new state. */
static void
batch_item_changed(struct item_life *l, enum item_state from)
{
	struct batch_item *it = (struct batch_item *)(void *)((char *)l -
	    offsetof(struct batch_item, job.life));
	struct batch *b = it->b;

	b->caller.state(b->caller.arg, l->index, from, l->state);
}

struct batch *
batch_start(struct engine *e, const struct batch_opts *o, unsigned hops,
    const struct batch_caller *caller)
{
	struct batch *b = xcalloc(1, sizeof(*b));
	struct sched_batch_limits l;

	b->e = e;
	b->opts = *o;
	b->caller = *caller;
	b->hops = hops;
	TAILQ_INIT(&b->pages);
	b->t_start = mono_us();
	b->deadline_at = b->t_start + (uint64_t)o->deadline_ms * 1000;
	l.concurrency = o->concurrency;
	l.per_host_concurrency = o->per_host_concurrency;
	l.rate = o->rate;
	l.burst = o->burst;
	l.per_host_rate = o->per_host_rate;
	b->sb = sched_batch_new(e->sched, &l, batch_dispatch, b, b->t_start);
	evtimer_assign(&b->deadline, e->base, batch_deadline_cb, b);
	event_assign(&b->end_ev, e->base, -1, 0, batch_end_cb, b);
	timer_arm_ms(&b->deadline, o->deadline_ms);
	if (!caller->job) {
		e->active++;
		metrics.batches_total++;
	}
	return b;
}

void
batch_add(struct batch *b, const struct item_spec *items, uint32_t n)
{
	struct batch_page *pg, *next;
	uint32_t i;

	for (pg = TAILQ_FIRST(&b->pages); pg != NULL; pg = next) {
		next = TAILQ_NEXT(pg, link);
		if (pg->remaining == 0) {
			TAILQ_REMOVE(&b->pages, pg, link);
			page_free(pg);
		}
	}
	pg = xcalloc(1, sizeof(*pg) + n * sizeof(pg->items[0]));
	pg->n = pg->remaining = n;
	TAILQ_INSERT_TAIL(&b->pages, pg, link);
	b->total += n;
	b->remaining += n;
	for (i = 0; i < n; i++) {
		struct batch_item *it = &pg->items[i];

		it->b = b;
		it->page = pg;
		it->spec = &items[i];
		it->job.life.index = items[i].index;
		if (b->caller.state != NULL)
			it->job.life.changed = batch_item_changed;
		if (it->spec->invalid != NULL)
			batch_item_error(
			    b, it, IERR_INVALID_REQUEST, it->spec->invalid);
		else
			batch_enqueue(b, it);
	}
	engine_schedule(b->e);
}

void
batch_close(struct batch *b)
{
	b->closed = true;
	batch_maybe_end(b);
}

void
batch_cancel(struct batch *b)
{
	struct engine *e = b->e;
	struct batch_page *pg;
	struct batch_item *it;

	PAGE_FOREACH(b, pg, it)
	{
		if (item_in_attempt(it->job.life.state)) {
			fetch_cancel(it->fetch);
			sched_done(&it->job);
		}
	}
	if (!b->caller.job)
		metrics.batches_cancelled++;
	batch_free(b);      /* drops the queued jobs with the scheduler batch */
	engine_schedule(e); /* others get the freed capacity */
}

void
batch_pause(struct batch *b, bool paused)
{
	sched_batch_pause(b->sb, paused);
	if (!paused)
		engine_schedule(b->e);
}

void
batch_progress(const struct batch *b, struct progress_view *pv)
{
	pv->done = b->total - b->remaining;
	pv->total = b->total;
	pv->in_flight = sched_batch_inflight(b->sb);
	pv->queued = sched_batch_queued(b->sb) + b->backing_off;
	pv->ok = b->ok;
	pv->failed = b->failed;
}
