/*
 * stream.c - the stream that carries one batch's response to its
 * caller (see stream.h and LIBEVENT-NOTES.md, Server).
 *
 * A stream is its batch's caller (batch.h): it holds the parsed spec
 * (the items the batch runs point into it), frames each result line the
 * batch delivers (an NDJSON line, an SSE event, or kept by index for the
 * JSON document), writes progress lines on its own timer and the summary
 * at the end.
 *
 * A stream is RUNNING while its batch runs, ENDING once the batch has
 * ended and the summary and last bytes are being flushed, ENDED after
 * evhttp_send_reply_end. Lines collect in `pending` and go out as one
 * chunk per loop iteration. The reply is started as soon as
 * the batch is accepted, because evhttp notices a disconnect only once
 * the connection is writing; the connection's close callback then
 * cancels the batch at once. Who frees what:
 *   - normal end: evhttp calls on_complete after the last byte; we free
 *     the stream, evhttp frees the request;
 *   - caller gone while RUNNING/ENDING: evhttp has detached the request;
 *     we cancel the batch, free the request with send_reply_end, free
 *     the stream;
 *   - caller gone while ENDED: evhttp frees the request; we free the
 *     stream.
 *
 * A caller that half-closes (shutdown(SHUT_WR), as `nc -N` and socat do
 * after the request) still reads: evhttp would take the read EOF for a
 * disconnect, so the stream stands between evhttp and its bufferevent's
 * callbacks (stream_wrap) and keeps streaming. A caller that closed
 * for good sends the same end, so to tell them apart one byte that
 * changes nothing is written at once (a space before the next NDJSON
 * line, an SSE comment): a gone caller's host answers it with a reset,
 * looked for 20 and 200 ms later (stream_probe_cb), and the batch is
 * cancelled. After that, every second, the stream checks again and,
 * when nothing else was written meanwhile, writes another such byte -
 * so a half-closed caller that goes away is noticed within seconds
 * even while its batch has nothing to say.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "batch.h"
#include "emit.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "stream.h"
#include "util.h"

#define STREAM_WRITE_TIMEOUT_S 60   /* a caller that reads nothing */
#define STREAM_PROBE_EVERY_MS  1000 /* a half-closed, quiet stream */

/* After the first probe byte: when to look for a gone caller's reset,
 * before looking every STREAM_PROBE_EVERY_MS. */
static const unsigned probe_ms[] = {20, 200};

enum stream_state { ST_RUNNING = 0, ST_ENDING, ST_ENDED };

struct stream {
	struct streams *ss;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct batch *batch;    /* NULL once the batch ended or was cancelled */
	struct batch_spec spec; /* the batch's items and options */
	char **json;            /* OUT_JSON: result lines by index */
	size_t *json_len;
	struct event *progress_ev; /* progress_ms > 0: a progress line */
	struct evbuffer *pending;
	struct event flush_ev;
	bool flush_armed;
	bool paused; /* the batch waits for the caller to read */
	enum out_format format;
	enum stream_state state;
	uint64_t bytes_out;
	char peer[64];
	uint64_t id;         /* 1, 2, ... in order of arrival (GET /v1/stats) */
	uint64_t started_us; /* mono_us() when it was accepted */
	/* evhttp's own callbacks on the connection (see stream_wrap). */
	bufferevent_data_cb ev_write;
	bufferevent_event_cb ev_event;
	void *ev_arg;
	bool half_closed;       /* the caller sent its end: a probe went */
	struct event *probe_ev; /* looks for a gone caller after that */
	unsigned probes;        /* checks made */
	uint64_t probe_mark;    /* bytes written by the last check */
	bool ending;            /* inside evhttp_send_reply_end */
	bool completed;         /* ... which completed the reply */
	TAILQ_ENTRY(stream) link;
};

static struct bufferevent *
stream_bev(struct stream *st)
{
	return evhttp_connection_get_bufferevent(st->evcon);
}

static void stream_wrap(struct stream *st);

/* evhttp's write callback, called on its behalf. */
static void
stream_write_cb(struct bufferevent *bev, void *arg)
{
	struct stream *st = arg;

	/* May complete the reply and free st. */
	st->ev_write(bev, st->ev_arg);
}

/* Is the caller's socket gone (reset or fully closed)? */
static bool
stream_peer_gone(struct stream *st)
{
	struct pollfd p = {bufferevent_getfd(stream_bev(st)), POLLIN, 0};

	return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP));
}

/* The next look for a gone caller. */
static void
stream_probe_arm(struct stream *st)
{
	timer_arm_ms(st->probe_ev,
	    st->probes < ARRAY_SIZE(probe_ms) ? probe_ms[st->probes]
	                                      : STREAM_PROBE_EVERY_MS);
}

static void stream_write(void *arg, const char *data, size_t len);

/* One byte that changes nothing in the response: whitespace before the
 * next NDJSON line or JSON token, an SSE comment line. */
static void
stream_probe(struct stream *st)
{
	if (st->state == ST_RUNNING)
		stream_write(st, st->format == OUT_SSE ? ":\n" : " ",
		    st->format == OUT_SSE ? 2 : 1);
}

/* After a half-close: has the caller's host reset our probe? */
static void
stream_probe_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	uint64_t out = st->bytes_out + evbuffer_get_length(st->pending);

	if (stream_peer_gone(st)) {
		/* evhttp fails the connection: stream_close_cb runs. */
		st->ev_event(stream_bev(st),
		    BEV_EVENT_READING | BEV_EVENT_ERROR, st->ev_arg);
		return;
	}
	if (st->probes >= ARRAY_SIZE(probe_ms) && out == st->probe_mark)
		stream_probe(st); /* quiet since the last look */
	st->probe_mark = st->bytes_out + evbuffer_get_length(st->pending);
	st->probes++;
	stream_probe_arm(st);
}

/*
 * evhttp's event callback, called on its behalf but for a read EOF:
 * the caller half-closed. The response goes on; one byte that changes
 * nothing for the caller tells a gone caller (reset) from a reading
 * one.
 */
static void
stream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct stream *st = arg;

	if (what != (BEV_EVENT_READING | BEV_EVENT_EOF) ||
	    stream_peer_gone(st)) {
		st->ev_event(bev, what, st->ev_arg); /* may free st */
		return;
	}
	if (st->half_closed)
		return;
	st->half_closed = true;
	log_debug(
	    "batch from %s: the caller half-closed; streaming on", st->peer);
	stream_probe(st);
	st->probe_ev = evtimer_new(st->ss->base, stream_probe_cb, st);
	stream_probe_arm(st);
}

/*
 * Stand between evhttp and the connection's bufferevent callbacks,
 * which every evhttp write call sets anew: call after each. Its read
 * callback is NULL while it writes.
 */
static void
stream_wrap(struct stream *st)
{
	struct bufferevent *bev = stream_bev(st);
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *arg;

	bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
	if (ev != stream_event_cb) {
		st->ev_write = wr;
		st->ev_event = ev;
		st->ev_arg = arg;
		bufferevent_setcb(
		    bev, rd, wr ? stream_write_cb : NULL, stream_event_cb, st);
	}
	if (st->half_closed)
		bufferevent_disable(bev, EV_READ);
}

/* Give evhttp its callbacks back. */
static void
stream_unwrap(struct stream *st)
{
	struct bufferevent *bev;
	bufferevent_data_cb rd, wr;
	bufferevent_event_cb ev;
	void *arg;

	if (st->evcon == NULL || (bev = stream_bev(st)) == NULL)
		return;
	bufferevent_getcb(bev, &rd, &wr, &ev, &arg);
	if (ev == stream_event_cb && arg == st)
		bufferevent_setcb(
		    bev, rd, st->ev_write, st->ev_event, st->ev_arg);
}

static void
stream_free(struct stream *st)
{
	struct streams *ss = st->ss;
	uint32_t i;

	TAILQ_REMOVE(&ss->list, st, link);
	event_del(&st->flush_ev);
	if (st->probe_ev != NULL)
		event_free(st->probe_ev);
	if (st->progress_ev != NULL)
		event_free(st->progress_ev);
	stream_unwrap(st);
	evbuffer_free(st->pending);
	for (i = 0; st->json != NULL && i < st->spec.nitems; i++)
		free(st->json[i]);
	free(st->json);
	free(st->json_len);
	batch_spec_free(&st->spec);
	free(st);
	if (TAILQ_EMPTY(&ss->list) && ss->emptied != NULL)
		ss->emptied(ss->emptied_arg);
}

static void
stream_arm_flush(struct stream *st)
{
	if (!st->flush_armed) {
		st->flush_armed = true;
		event_active(&st->flush_ev, EV_TIMEOUT, 1);
	}
}

/* Bytes written by the batch that the caller has not taken yet. */
static size_t
stream_unsent(struct stream *st)
{
	return evbuffer_get_length(st->pending) +
	    evbuffer_get_length(bufferevent_get_output(stream_bev(st)));
}

/* evhttp: the connection's output fell to the low-water mark. */
static void
stream_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct stream *st = arg;

	if (st->paused && st->batch != NULL &&
	    stream_unsent(st) <= st->ss->cfg->output_high_water / 2) {
		st->paused = false;
		batch_pause(st->batch, false);
	}
}

/* Hand pending lines to evhttp as one chunk; end the reply when due. */
static void
stream_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	size_t len = evbuffer_get_length(st->pending);

	st->flush_armed = false;
	if (len > 0) {
		st->bytes_out += len;
		metrics.bytes_out_total += len;
		evhttp_send_reply_chunk_with_cb(
		    st->req, st->pending, stream_drained_cb, st);
		stream_wrap(st);
	}
	if (st->state == ST_ENDING) {
		st->state = ST_ENDED;
		/* evhttp completes the reply when the output is empty. */
		bufferevent_setwatermark(stream_bev(st), EV_WRITE, 0, 0);
		/* May complete at once: stream_complete_cb leaves st to us. */
		st->ending = true;
		evhttp_send_reply_end(st->req);
		st->ending = false;
		if (st->completed)
			stream_free(st);
		else
			stream_wrap(st);
	}
}

/* The batch writes: queue it, and pause the batch while the caller is
 * too far behind (output_high_water). */
static void
stream_write(void *arg, const char *data, size_t len)
{
	struct stream *st = arg;

	evbuffer_add(st->pending, data, len);
	stream_arm_flush(st);
	if (!st->paused && st->batch != NULL &&
	    stream_unsent(st) > st->ss->cfg->output_high_water) {
		st->paused = true;
		batch_pause(st->batch, true);
	}
}

/* A result line from the batch: framed, or kept for the document. */
static void
stream_result(void *arg, const struct batch_result *r)
{
	struct stream *st = arg;

	if (st->format == OUT_JSON) {
		st->json[r->index] = xstrndup(r->line, r->len);
		st->json_len[r->index] = r->len;
		return;
	}
	if (st->format == OUT_SSE)
		evbuffer_add(st->pending, "event: result\ndata: ", 20);
	evbuffer_add(st->pending, r->line, r->len);
	stream_write(st, "\n\n", st->format == OUT_SSE ? 2 : 1);
}

static void
stream_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *st = arg;
	struct progress_view pv;
	struct buf line = BUF_INIT;

	if (st->batch == NULL)
		return;
	batch_progress(st->batch, &pv);
	if (pv.done == pv.total)
		return; /* the summary comes next */
	emit_frame_progress(&line, st->format, &pv);
	stream_write(st, line.data, line.len);
	buf_free(&line);
}

/* The summary line (or, for OUT_JSON, the whole document). */
static void
stream_summary(struct stream *st, const struct batch_stats *bs)
{
	struct summary_view sv;
	struct buf eff = BUF_INIT, out = BUF_INIT;

	opts_emit_effective(&st->spec.opts, &eff);
	memset(&sv, 0, sizeof(sv));
	sv.total = bs->items;
	sv.ok = bs->ok;
	sv.failed = bs->failed;
	sv.retries = bs->retries;
	sv.elapsed_ms = bs->elapsed_ms;
	sv.effective_json = buf_cstr(&eff);
	if (st->format == OUT_JSON)
		emit_json_document(&out, (const char *const *)st->json,
		    st->json_len, st->spec.nitems, &sv);
	else
		emit_frame_summary(&out, st->format, &sv);
	stream_write(st, out.data, out.len);
	buf_free(&eff);
	buf_free(&out);
}

static void
stream_end(void *arg, const struct batch_stats *bs)
{
	struct stream *st = arg;

	st->batch = NULL;
	if (st->progress_ev != NULL)
		event_del(st->progress_ev);
	stream_summary(st, bs);
	st->state = ST_ENDING;
	log_info("batch from %s: %u items, %u ok, %u failed, %llu retries, "
	         "%.1f ms, %zu bytes out",
	    st->peer, bs->items, bs->ok, bs->failed,
	    (unsigned long long)bs->retries, bs->elapsed_ms,
	    (size_t)(st->bytes_out + evbuffer_get_length(st->pending)));
	stream_arm_flush(st);
}

/* The reply is fully written: the connection may carry another request. */
static void
stream_complete_cb(struct evhttp_request *req, void *arg)
{
	struct stream *st = arg;
	struct timeval tv = tv_ms(st->ss->cfg->keepalive_timeout_ms);

	evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(st->evcon), &tv, &tv);
	guard_reply_done(st->ss->guard, st->evcon);
	if (st->ending)
		st->completed = true; /* stream_flush_cb frees it */
	else
		stream_free(st);
}

/* The caller's connection closed. */
static void
stream_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct stream *st = arg;

	if (st->state != ST_ENDED) {
		if (st->batch != NULL) {
			log_info("batch from %s: caller disconnected, "
			         "cancelling",
			    st->peer);
			batch_cancel(st->batch);
			st->batch = NULL;
		}
		/* evhttp detached the request; ending it frees it. */
		if (evhttp_request_get_connection(st->req) == NULL)
			evhttp_send_reply_end(st->req);
	}
	stream_free(st);
}

static const char *
format_content_type(enum out_format f)
{
	switch (f) {
	case OUT_JSON:
		return "application/json";
	case OUT_SSE:
		return "text/event-stream";
	default:
		return "application/x-ndjson";
	}
}

/* Start the batch on the spec's items; progress lines when asked for. */
static void
stream_run(struct stream *st, unsigned hops, const struct batch_caller *caller)
{
	const struct batch_opts *o = &st->spec.opts;

	if (st->format == OUT_JSON) {
		st->json = xcalloc(st->spec.nitems, sizeof(*st->json));
		st->json_len = xcalloc(st->spec.nitems, sizeof(*st->json_len));
	}
	st->batch = batch_start(st->ss->engine, o, hops, caller);
	if (o->progress_ms > 0 && st->format != OUT_JSON) {
		st->progress_ev = event_new(
		    st->ss->base, -1, EV_PERSIST, stream_progress_cb, st);
		timer_arm_ms(st->progress_ev, o->progress_ms);
	}
	batch_add(st->batch, st->spec.items, st->spec.nitems);
	batch_close(st->batch);
}

void
stream_start(struct streams *ss, struct evhttp_request *req,
    struct batch_spec *spec, unsigned hops)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct batch_caller caller = {
	    stream_result, stream_end, NULL, st, NULL, false};
	struct timeval wtv = {STREAM_WRITE_TIMEOUT_S, 0};
	char *addr = NULL;
	ev_uint16_t port = 0;
	const struct sockaddr *sa;

	st->ss = ss;
	st->req = req;
	st->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	st->format = st->spec.format;
	st->evcon = evhttp_request_get_connection(req);
	st->pending = evbuffer_new();
	event_assign(&st->flush_ev, ss->base, -1, 0, stream_flush_cb, st);
	sa = evhttp_connection_get_addr(st->evcon);
	if (sa != NULL && sa->sa_family == AF_UNIX) {
		snprintf(st->peer, sizeof(st->peer), "unix");
	} else {
		evhttp_connection_get_peer(st->evcon, &addr, &port);
		snprintf(st->peer, sizeof(st->peer), "%s:%u", addr ? addr : "?",
		    port);
	}
	st->id = ++ss->last_id;
	st->started_us = mono_us();
	TAILQ_INSERT_TAIL(&ss->list, st, link);

	evhttp_add_header(out, "Content-Type", format_content_type(st->format));
	evhttp_add_header(out, "Cache-Control", "no-store");
	/* HTTP/1.0 keep-alive callers would get "Content-Length: 0" with a
	 * stream behind it: make the stream end at close instead. */
	if (req->major == 1 && req->minor == 0)
		evhttp_remove_header(
		    evhttp_request_get_input_headers(req), "Connection");
	evhttp_send_reply_start(req, 200, "OK");
	stream_wrap(st);
	/* The caller sends nothing while we stream: no read timeout. The
	 * write callback (stream_drained_cb) comes at half the high water. */
	bufferevent_set_timeouts(stream_bev(st), NULL, &wtv);
	bufferevent_setwatermark(
	    stream_bev(st), EV_WRITE, ss->cfg->output_high_water / 2, 0);
	evhttp_connection_set_closecb(st->evcon, stream_close_cb, st);
	evhttp_request_set_on_complete_cb(req, stream_complete_cb, st);
	stream_run(st, hops, &caller);
}

void
streams_init(struct streams *ss, struct event_base *base,
    const struct config *cfg, struct guard *guard, struct engine *engine)
{
	memset(ss, 0, sizeof(*ss));
	ss->base = base;
	ss->cfg = cfg;
	ss->guard = guard;
	ss->engine = engine;
	TAILQ_INIT(&ss->list);
}

void
streams_foreach(const struct streams *ss,
    void (*fn)(const struct stream_view *v, void *arg), void *arg)
{
	const struct stream *st;
	struct stream_view v;

	TAILQ_FOREACH(st, &ss->list, link)
	{
		if (st->batch == NULL)
			continue;
		memset(&v, 0, sizeof(v));
		v.id = st->id;
		v.peer = st->peer;
		v.started_us = st->started_us;
		batch_progress(st->batch, &v.pv);
		fn(&v, arg);
	}
}

bool
streams_empty(const struct streams *ss)
{
	return TAILQ_EMPTY(&ss->list);
}

void
streams_abort(struct streams *ss, const char *why)
{
	struct stream *st, *next;

	for (st = TAILQ_FIRST(&ss->list); st != NULL; st = next) {
		next = TAILQ_NEXT(st, link);
		if (st->batch != NULL)
			batch_abort(st->batch, why);
	}
}

void
streams_free(struct streams *ss)
{
	struct stream *st;

	ss->emptied = NULL;
	while ((st = TAILQ_FIRST(&ss->list)) != NULL) {
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
		if (st->batch != NULL)
			batch_cancel(st->batch);
		/* evhttp_free frees the request with its connection. */
		evhttp_request_set_on_complete_cb(st->req, NULL, NULL);
		stream_free(st);
	}
}
