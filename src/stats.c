/*
 * stats.c - GET /v1/stats (see stats.h): what the server is doing now,
 * as one JSON snapshot, or with ?follow=true a stream of them, one a
 * second, for the web dashboard (ui/) and anyone else who watches.
 *
 * A snapshot is built from what the server already tracks: the metrics
 * counters (items ended, errors by type), the engine's gauges and its
 * scheduler's host table (in flight, attempts ended and failed per
 * host), the running batches (stream.h) and the active jobs (one
 * store_list, answered on the store's thread, so the loop never waits
 * on the disk). Rates are estimates updated at each snapshot (rate.h:
 * a mean that turns into a moving average, 30 s for jobs and batches,
 * 1.5 s for hosts), kept in a small table keyed by what they measure
 * ("b:ID", "j:ID", "h:HOST", "f:HOST") and pruned of whatever a snapshot no
 * longer shows; the server's items per second is sampled every tick into a
 * 60-second ring, the chart of the dashboard.
 *
 * A follower costs one struct and what its connection has not sent:
 * a snapshot is skipped (the next one replaces it) while more than
 * STATS_FOLLOW_HIGH bytes wait, and a caller that reads nothing for
 * STATS_WRITE_S seconds is cut. Followers end when the server drains
 * (stats_close), like the job results readers.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "accept.h"
#include "emit.h"
#include "guard.h"
#include "htab.h"
#include "log.h"
#include "metrics.h"
#include "rate.h"
#include "scheduler.h"
#include "server_int.h"
#include "stats.h"
#include "util.h"

#define STATS_TICK_MS     1000
#define STATS_HISTORY     60
#define STATS_HOSTS       10
#define STATS_JOBS        200
#define STATS_FOLLOW_HIGH (256 * 1024)
#define STATS_WRITE_S     60
#define STATS_WAITERS     64 /* one-shot requests waiting for a snapshot */

struct stats_follower {
	struct stats *st;
	struct evhttp_request *req;
	struct evhttp_connection *evcon; /* NULL once the reply is done */
	enum out_format format;
	bool ended;  /* evhttp_send_reply_end was called */
	bool in_end; /* inside it */
	TAILQ_ENTRY(stats_follower) link;
};

/* Time constants of the rate estimates (rate.h), seconds: a job's or
 * batch's rate feeds its ETA and should hold still; a host's "now". */
#define STATS_TAU_S      30.0
#define STATS_HOST_TAU_S 1.5

/* A rate under its key, and the snapshot that last showed it. */
struct stats_rate {
	char *key;
	struct rate_est est;
	uint64_t seen; /* the snapshot generation that last showed it */
};

struct stats {
	struct server *srv;
	struct event *tick_ev;
	uint64_t hist[STATS_HISTORY]; /* items ended per second, a ring */
	unsigned hist_next;           /* the oldest sample's slot */
	uint64_t hist_total;          /* items ended at the last tick */
	uint64_t hist_at_us;
	struct htab rates;
	uint64_t gen;
	bool busy;   /* a store_list is out */
	bool closed; /* draining: no more followers, no more snapshots */
	bool orphan; /* freed while busy: the list's answer frees */
	struct evhttp_request *waiters[STATS_WAITERS];
	unsigned nwaiters;
	TAILQ_HEAD(, stats_follower) followers;
};

/* Items that ended, ok or not, since the start. */
static uint64_t
stats_items_ended(void)
{
	uint64_t n = metrics.items_ok + metrics.items_http_error;
	unsigned i;

	for (i = 0; i < IERR__COUNT; i++)
		n += metrics.items_error[i];
	return n;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The rate of count under key as of now (rate.h: time constant tau_s;
 * seed, worth seed_s seconds, when the key is new or its count went
 * back).
 */
static double
stats_rate(struct stats *st, const char *key, uint64_t count, uint64_t now,
    double tau_s, double seed, double seed_s)
{
	struct stats_rate *r = htab_get(&st->rates, key);

	if (r == NULL) {
		r = xcalloc(1, sizeof(*r));
		r->key = xstrdup(key);
		htab_put(&st->rates, r->key, r);
	}
	r->seen = st->gen;
	return rate_update(&r->est, count, now, tau_s, seed, seed_s);
}

struct stale {
	char **keys;
	size_t n;
	uint64_t gen;
};

static void
stats_find_stale(void *value, void *arg)
{
	struct stats_rate *r = value;
	struct stale *s = arg;

	if (r->seen != s->gen)
		s->keys[s->n++] = r->key;
}

static void
stats_rate_free(void *value)
{
	struct stats_rate *r = value;

	free(r->key);
	free(r);
}

/* Forget the rates the last snapshot did not show. */
static void
stats_prune(struct stats *st)
{
	struct stale s = {NULL, 0, st->gen};
	size_t i;

	if (st->rates.count == 0)
		return;
	s.keys = xcalloc(st->rates.count, sizeof(*s.keys));
	htab_foreach(&st->rates, stats_find_stale, &s);
	for (i = 0; i < s.n; i++)
		stats_rate_free(htab_del(&st->rates, s.keys[i]));
	free(s.keys);
}

/* ,"rate":R,"eta_s":E (null when nothing moves) */
static void
emit_rate_eta(struct buf *b, double rate, uint64_t left)
{
	buf_printf(b, ",\"rate\":%.2f,\"eta_s\":", rate);
	if (left == 0)
		buf_adds(b, "0");
	else if (rate > 0.01)
		buf_printf(b, "%.0f", (double)left / rate);
	else
		buf_adds(b, "null");
}

struct batch_walk {
	struct stats *st;
	struct buf *b;
	uint64_t now;
	unsigned n;
};

static void
stats_batch(const struct stream_view *v, void *arg)
{
	struct batch_walk *w = arg;
	double age = (double)(w->now - v->started_us) / 1e6;
	char key[32];
	double rate;

	snprintf(key, sizeof(key), "b:%" PRIu64, v->id);
	rate = stats_rate(w->st, key, v->pv.done, w->now, STATS_TAU_S,
	    v->pv.done / (age < 1 ? 1 : age),
	    age < STATS_TAU_S ? age : STATS_TAU_S);
	buf_printf(
	    w->b, "%s{\"id\":%" PRIu64 ",\"peer\":", w->n++ ? "," : "", v->id);
	emit_json_string(w->b, v->peer, strlen(v->peer));
	buf_printf(w->b,
	    ",\"total\":%u,\"done\":%u,\"ok\":%u,\"failed\":%u,"
	    "\"in_flight\":%u,\"queued\":%" PRIu64 ",\"age_s\":%.1f",
	    v->pv.total, v->pv.done, v->pv.ok, v->pv.failed, v->pv.in_flight,
	    v->pv.queued, age);
	emit_rate_eta(w->b, rate, v->pv.total - v->pv.done);
	buf_addc(w->b, '}');
}

static void
stats_jobs(struct stats *st, struct buf *b, const struct store_job *jobs,
    size_t n, uint64_t now)
{
	int64_t wall = wall_ms();
	size_t i;

	for (i = 0; i < n && i < STATS_JOBS; i++) {
		const struct store_job *j = &jobs[i];
		uint64_t done = j->n.ok + j->n.failed;
		uint64_t pending, inflight;
		double since = j->started_ms > 0
		    ? (double)(wall - j->started_ms) / 1000
		    : 0;
		char key[STORE_ID_LEN + 3];
		double rate;

		jobs_counts(st->srv->jobs, j, &pending, &inflight);
		snprintf(key, sizeof(key), "j:%s", j->id);
		rate = stats_rate(st, key, done, now, STATS_TAU_S,
		    since > 0 ? (double)done / (since < 1 ? 1 : since) : 0,
		    since < STATS_TAU_S ? since : STATS_TAU_S);
		buf_printf(
		    b, "%s{\"id\":\"%s\",\"name\":", i ? "," : "", j->id);
		if (j->name != NULL)
			emit_json_string(b, j->name, strlen(j->name));
		else
			buf_adds(b, "null");
		buf_printf(b,
		    ",\"state\":\"%s\",\"total\":%" PRIu64 ",\"done\":%" PRIu64
		    ",\"ok\":%" PRIu64 ",\"failed\":%" PRIu64
		    ",\"in_flight\":%" PRIu64 ",\"queued\":%" PRIu64
		    ",\"age_s\":%.1f",
		    store_job_state_name(j->state), j->n.total, done, j->n.ok,
		    j->n.failed, inflight, pending,
		    j->created_ms > 0 ? (double)(wall - j->created_ms) / 1000
		                      : 0.0);
		emit_rate_eta(b, rate, j->n.total - done);
		buf_addc(b, '}');
	}
}

/* The busiest hosts: the most in flight, then the most attempts. */
struct host_pick {
	struct sched_host_view top[STATS_HOSTS];
	unsigned n;
};

static bool
host_busier(const struct sched_host_view *a, const struct sched_host_view *b)
{
	return a->inflight != b->inflight ? a->inflight > b->inflight
	                                  : a->ended > b->ended;
}

static void
stats_pick_host(const struct sched_host_view *v, void *arg)
{
	struct host_pick *p = arg;
	unsigned i;

	if (p->n == STATS_HOSTS && !host_busier(v, &p->top[p->n - 1]))
		return;
	if (p->n < STATS_HOSTS)
		p->n++;
	for (i = p->n - 1; i > 0 && host_busier(v, &p->top[i - 1]); i--)
		p->top[i] = p->top[i - 1];
	p->top[i] = *v;
}

/* Names point into the scheduler's table: rendered before the loop
 * runs again. */
static void
stats_hosts(struct stats *st, struct buf *b, uint64_t now)
{
	struct host_pick p;
	struct buf key = BUF_INIT;
	unsigned i;

	p.n = 0;
	engine_hosts(st->srv->engine, stats_pick_host, &p);
	for (i = 0; i < p.n; i++) {
		const struct sched_host_view *h = &p.top[i];
		double ended, failed, share;

		buf_reset(&key);
		buf_printf(&key, "h:%s", h->name);
		ended = stats_rate(
		    st, buf_cstr(&key), h->ended, now, STATS_HOST_TAU_S, 0, 0);
		buf_reset(&key);
		buf_printf(&key, "f:%s", h->name);
		failed = stats_rate(
		    st, buf_cstr(&key), h->failed, now, STATS_HOST_TAU_S, 0, 0);
		share = ended > 0.01 ? failed / ended
		    : h->ended > 0   ? (double)h->failed / (double)h->ended
		                     : 0;
		buf_printf(b, "%s{\"host\":", i ? "," : "");
		emit_json_string(b, h->name, strlen(h->name));
		buf_printf(b,
		    ",\"in_flight\":%u,\"attempts\":%" PRIu64
		    ",\"failed\":%" PRIu64
		    ",\"rate\":%.2f,\"error_share\":%.3f}",
		    h->inflight, h->ended, h->failed, ended,
		    share > 1 ? 1.0 : share);
	}
	buf_free(&key);
}

/* The snapshot, with the jobs store_list found (jobs NULL: none, or no
 * store). */
static void
stats_render(struct stats *st, struct buf *b, const struct store_job *jobs,
    size_t njobs, bool more)
{
	struct metrics_gauges g;
	struct batch_walk w = {st, b, mono_us(), 0};
	unsigned i, any = 0;

	st->gen++;
	memset(&g, 0, sizeof(g));
	engine_gauges(st->srv->engine, &g);
	buf_printf(b,
	    "{\"server\":{\"in_flight\":%" PRIu64 ",\"queued\":%" PRIu64
	    ",\"batches\":%" PRIu64 ",\"jobs\":%zu,\"draining\":%s"
	    ",\"connections_open\":%" PRIu64 ",\"items_ended\":%" PRIu64
	    ",\"items_ok\":%" PRIu64 ",\"items_per_s\":%" PRIu64
	    ",\"history\":[",
	    g.inflight, g.queued, g.batches_active, njobs,
	    engine_draining(st->srv->engine) ? "true" : "false",
	    g.connections_open, stats_items_ended(), metrics.items_ok,
	    st->hist[(st->hist_next + STATS_HISTORY - 1) % STATS_HISTORY]);
	for (i = 0; i < STATS_HISTORY; i++)
		buf_printf(b, "%s%" PRIu64, i ? "," : "",
		    st->hist[(st->hist_next + i) % STATS_HISTORY]);
	buf_adds(b, "],\"errors\":{");
	if (metrics.items_http_error > 0) {
		buf_printf(
		    b, "\"http_error\":%" PRIu64, metrics.items_http_error);
		any = 1;
	}
	for (i = 0; i < IERR__COUNT; i++)
		if (metrics.items_error[i] > 0)
			buf_printf(b, "%s\"%s\":%" PRIu64, any++ ? "," : "",
			    item_err_name((enum item_err)i),
			    metrics.items_error[i]);
	buf_adds(b, "}},\"batches\":[");
	streams_foreach(&st->srv->streams, stats_batch, &w);
	buf_adds(b, "],\"jobs\":[");
	stats_jobs(st, b, jobs, njobs, w.now);
	buf_printf(b, "],\"jobs_more\":%s,\"hosts\":[",
	    more || njobs > STATS_JOBS ? "true" : "false");
	stats_hosts(st, b, w.now);
	buf_adds(b, "]}");
	stats_prune(st);
}

/* --- followers ---------------------------------------------------------- */

static void
follower_free(struct stats_follower *f)
{
	struct stats *st = f->st;

	TAILQ_REMOVE(&st->followers, f, link);
	free(f);
	/* Draining: the server waits for the last stream to go out. */
	if (st->closed && TAILQ_EMPTY(&st->followers) && st->srv->idle_ev)
		event_active(st->srv->idle_ev, EV_TIMEOUT, 1);
}

/* The reply is fully written: the connection may carry another request. */
static void
follower_complete_cb(struct evhttp_request *req, void *arg)
{
	struct stats_follower *f = arg;
	struct timeval tv = tv_ms(f->st->srv->cfg->keepalive_timeout_ms);

	(void)req;
	evhttp_connection_set_closecb(f->evcon, NULL, NULL);
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(f->evcon), &tv, &tv);
	guard_reply_done(f->st->srv->guard, f->evcon);
	f->evcon = NULL;
	if (!f->in_end)
		follower_free(f);
}

/* The caller's connection closed mid-stream. */
static void
follower_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct stats_follower *f = arg;

	(void)evcon;
	if (!f->ended) {
		f->ended = true;
		/* evhttp detached the request; ending it frees it. */
		evhttp_send_reply_end(f->req);
	}
	follower_free(f);
}

/* End the stream; f may be freed on return. */
static void
follower_end(struct stats_follower *f)
{
	f->ended = true;
	f->in_end = true;
	evhttp_send_reply_end(f->req);
	f->in_end = false;
	if (f->evcon == NULL)
		follower_free(f);
}

static void
follower_send(struct stats_follower *f, const struct buf *snap)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(f->evcon);
	struct evbuffer *evb;

	if (evbuffer_get_length(bufferevent_get_output(bev)) >
	    STATS_FOLLOW_HIGH)
		return; /* the next snapshot replaces this one */
	evb = evbuffer_new();
	if (f->format == OUT_SSE)
		evbuffer_add_printf(evb, "event: stats\ndata: ");
	evbuffer_add(evb, snap->data, snap->len);
	evbuffer_add(evb, f->format == OUT_SSE ? "\n\n" : "\n",
	    f->format == OUT_SSE ? 2 : 1);
	evhttp_send_reply_chunk(f->req, evb);
	evbuffer_free(evb);
}

/* --- snapshots ---------------------------------------------------------- */

static void
stats_deliver(
    struct stats *st, const struct store_job *jobs, size_t n, bool more)
{
	struct stats_follower *f;
	struct buf b = BUF_INIT;
	unsigned i;

	stats_render(st, &b, jobs, n, more);
	TAILQ_FOREACH(f, &st->followers, link)
	{
		if (!f->ended)
			follower_send(f, &b);
	}
	buf_addc(&b, '\n');
	for (i = 0; i < st->nwaiters; i++)
		server_reply(
		    st->srv, st->waiters[i], "application/json", b.data, b.len);
	st->nwaiters = 0;
	buf_free(&b);
}

static void
stats_list_cb(enum store_err err, const struct store_job *jobs, size_t n,
    bool more, void *arg)
{
	struct stats *st = arg;

	st->busy = false;
	if (st->orphan) {
		free(st);
		return;
	}
	if (st->closed)
		return;
	if (err != STORE_OK)
		stats_deliver(st, NULL, 0, false);
	else
		stats_deliver(st, jobs, n, more);
}

/* Build a snapshot for whoever waits: asks the store for the active
 * jobs first, when there is a store. */
static void
stats_build(struct stats *st)
{
	struct store_list_query q;

	if (st->busy || st->closed)
		return;
	if (st->srv->jobs == NULL) {
		stats_deliver(st, NULL, 0, false);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.states = 1u << STORE_JOB_QUEUED | 1u << STORE_JOB_RUNNING;
	q.limit = 1000;
	if (store_list(jobs_store(st->srv->jobs), &q, stats_list_cb, st) ==
	    STORE_OK)
		st->busy = true;
	else
		stats_deliver(st, NULL, 0, false);
}

/* Every second: the items-per-second sample, and a snapshot for the
 * followers. */
static void
stats_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stats *st = arg;
	uint64_t now = mono_us(), total = stats_items_ended();
	double dt = (double)(now - st->hist_at_us) / 1e6;

	(void)fd;
	(void)what;
	st->hist[st->hist_next] = dt > 0
	    ? (uint64_t)((double)(total - st->hist_total) / dt + 0.5)
	    : 0;
	st->hist_next = (st->hist_next + 1) % STATS_HISTORY;
	st->hist_total = total;
	st->hist_at_us = now;
	if (!TAILQ_EMPTY(&st->followers))
		stats_build(st);
}

struct stats *
stats_new(struct server *srv)
{
	struct stats *st = xcalloc(1, sizeof(*st));
	struct timeval tv = tv_ms(STATS_TICK_MS);

	st->srv = srv;
	TAILQ_INIT(&st->followers);
	st->hist_at_us = mono_us();
	st->tick_ev = event_new(srv->base, -1, EV_PERSIST, stats_tick_cb, st);
	event_add(st->tick_ev, &tv);
	return st;
}

/* The query of a stats request: follow and the format. */
static int
stats_query(struct evhttp_request *req, const char *query, bool *follow,
    enum out_format *format, char *msg, size_t msglen)
{
	struct evkeyvalq q;
	const char *v;
	int rc = -1;

	*follow = false;
	if (accept_format(evhttp_find_header(
	                      evhttp_request_get_input_headers(req), "Accept"),
	        format) != 0 ||
	    *format == OUT_JSON)
		*format = OUT_NDJSON;
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		snprintf(msg, msglen, "the query string is malformed");
		return -1;
	}
	if ((v = evhttp_find_header(&q, "follow")) != NULL &&
	    parse_bool(v, follow) != 0) {
		snprintf(msg, msglen, "follow: expected true or false");
		goto out;
	}
	if ((v = evhttp_find_header(&q, "format")) != NULL &&
	    (accept_format_name(v, format) != 0 || *format == OUT_JSON)) {
		snprintf(msg, msglen, "format: expected ndjson or sse");
		goto out;
	}
	rc = 0;
out:
	evhttp_clear_headers(&q);
	return rc;
}

void
stats_request(struct stats *st, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct timeval wtv = {STATS_WRITE_S, 0};
	struct stats_follower *f;
	enum out_format format;
	bool follow;
	char msg[200];

	if (stats_query(req, query, &follow, &format, msg, sizeof(msg)) != 0) {
		server_error(st->srv, req, RERR_BAD_REQUEST, msg, NULL, NULL);
		return;
	}
	if (st->closed) {
		server_error(st->srv, req, RERR_DRAINING,
		    "fanoutd is shutting down", "Retry-After", "1");
		return;
	}
	/* HEAD of a snapshot is answered as GET is (evhttp sends no body
	 * but its Content-Length); HEAD of a stream opens none. */
	if (follow && evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		server_send(st->srv, req, 200, NULL,
		    format == OUT_SSE ? "text/event-stream"
		                      : "application/x-ndjson",
		    "", 0, NULL, NULL);
		return;
	}
	if (!follow) {
		if (st->nwaiters == STATS_WAITERS) {
			server_error(st->srv, req, RERR_BUSY,
			    "too many GET /v1/stats at once; retry in a "
			    "second",
			    "Retry-After", "1");
			return;
		}
		st->waiters[st->nwaiters++] = req;
		stats_build(st);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->st = st;
	f->req = req;
	f->format = format;
	TAILQ_INSERT_TAIL(&st->followers, f, link);
	evhttp_add_header(out, "Content-Type",
	    format == OUT_SSE ? "text/event-stream" : "application/x-ndjson");
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (req->major == 1 && req->minor == 0)
		evhttp_remove_header(
		    evhttp_request_get_input_headers(req), "Connection");
	f->evcon = evhttp_request_get_connection(req);
	evhttp_send_reply_start(req, 200, "OK");
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(f->evcon), NULL, &wtv);
	evhttp_connection_set_closecb(f->evcon, follower_close_cb, f);
	evhttp_request_set_on_complete_cb(req, follower_complete_cb, f);
	stats_build(st); /* the first snapshot at once */
}

void
stats_close(struct stats *st)
{
	struct stats_follower *f, *next;
	unsigned i;

	if (st == NULL || st->closed)
		return;
	st->closed = true;
	event_del(st->tick_ev);
	for (i = 0; i < st->nwaiters; i++)
		server_error(st->srv, st->waiters[i], RERR_DRAINING,
		    "fanoutd is shutting down", "Retry-After", "1");
	st->nwaiters = 0;
	for (f = TAILQ_FIRST(&st->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, link);
		if (!f->ended)
			follower_end(f);
	}
}

bool
stats_idle(const struct stats *st)
{
	return st == NULL || TAILQ_EMPTY(&st->followers);
}

void
stats_free(struct stats *st)
{
	struct stats_follower *f;

	if (st == NULL)
		return;
	stats_close(st);
	/* Streams still flushing when evhttp is freed: evhttp frees their
	 * requests; only ours are left. */
	while ((f = TAILQ_FIRST(&st->followers)) != NULL) {
		if (f->evcon != NULL)
			evhttp_connection_set_closecb(f->evcon, NULL, NULL);
		TAILQ_REMOVE(&st->followers, f, link);
		free(f);
	}
	event_free(st->tick_ev);
	htab_free(&st->rates, stats_rate_free);
	if (st->busy)
		st->orphan = true;
	else
		free(st);
}
