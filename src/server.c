/*
 * server.c - evhttp listeners, routing and whole-request errors, and the
 * stream that carries one batch's response to its caller (see server.h
 * and LIBEVENT-NOTES.md, Server).
 *
 * A stream is RUNNING while its batch runs, ENDING once the batch has
 * written its summary and the last bytes are being flushed, ENDED after
 * evhttp_send_reply_end. Lines from the batch collect in `pending` and go
 * out as one chunk per loop iteration. The reply is started as soon as
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
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "emit.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "auth.h"
#include "guard.h"
#include "server.h"
#include "tls.h"
#include "util.h"

#define SERVER_WRITE_TIMEOUT_S 60 /* a caller that reads nothing */
#define SERVER_DRAIN_GRACE_S   3

enum stream_state { ST_RUNNING = 0, ST_ENDING, ST_ENDED };

struct stream {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	struct batch *batch; /* NULL once the batch ended or was cancelled */
	struct evbuffer *pending;
	struct event flush_ev;
	bool flush_armed;
	bool paused; /* the batch waits for the caller to read */
	enum stream_state state;
	uint64_t bytes_out;
	char peer[64];
	TAILQ_ENTRY(stream) link;
};

struct server {
	struct event_base *base;
	struct evhttp *http;
	struct batch_ctx *bctx;
	const struct config *cfg;
	TAILQ_HEAD(, stream) streams;
	char *unix_paths[CONFIG_MAX_LISTEN];
	unsigned nunix;
	struct evhttp_bound_socket *bound[CONFIG_MAX_LISTEN];
	unsigned nbound;
	SSL_CTX *ssl_ctx;    /* HTTPS listeners when [server] tls_cert is set */
	struct auth auth;    /* bearer tokens; none: no auth */
	struct guard *guard; /* read deadline, connection cap */
	/* Draining (SIGTERM): no new connections, new batches get 503. */
	bool draining;
	struct event *drain_ev; /* the drain timeout, then the last grace */
	bool drain_aborted;     /* the running batches were cancelled */
	struct event *idle_ev;  /* checks whether every stream has ended */
	void (*drained)(void *arg);
	void *drained_arg;
};

/*
 * Send a complete reply. evhttp writes the body even for HEAD (which
 * would poison the caller's keep-alive connection), so for HEAD only the
 * Content-Length the body would have is sent.
 */
static void
server_reply_done_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;

	guard_reply_done(srv->guard, evhttp_request_get_connection(req));
}

static void
server_send(struct server *srv, struct evhttp_request *req, int status,
    const char *type, const char *body, size_t len, const char *extra_name,
    const char *extra_value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *evb = evbuffer_new();
	char clen[24];

	evhttp_add_header(h, "Content-Type", type);
	if (extra_name != NULL)
		evhttp_add_header(h, extra_name, extra_value);
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(clen, sizeof(clen), "%zu", len);
		evhttp_add_header(h, "Content-Length", clen);
	} else {
		evbuffer_add(evb, body, len);
	}
	evhttp_request_set_on_complete_cb(req, server_reply_done_cb, srv);
	evhttp_send_reply(req, status, NULL, evb);
	evbuffer_free(evb);
}

/* Reply with a JSON error body; extra_name/value may add one header. */
static void
server_error(struct server *srv, struct evhttp_request *req, enum req_err code,
    const char *message, const char *extra_name, const char *extra_value)
{
	struct buf b = BUF_INIT;

	emit_error_body(&b, req_err_name(code), message);
	server_send(srv, req, req_err_status(code), "application/json", b.data,
	    b.len, extra_name, extra_value);
	buf_free(&b);
}

static void
server_reply(struct server *srv, struct evhttp_request *req, const char *type,
    const char *body, size_t len)
{
	server_send(srv, req, 200, type, body, len, NULL, NULL);
}

static void
stream_free(struct stream *st)
{
	struct server *srv = st->srv;

	TAILQ_REMOVE(&srv->streams, st, link);
	event_del(&st->flush_ev);
	evbuffer_free(st->pending);
	free(st);
	if (srv->draining && TAILQ_EMPTY(&srv->streams))
		event_active(srv->idle_ev, EV_TIMEOUT, 1);
}

static void
stream_arm_flush(struct stream *st)
{
	if (!st->flush_armed) {
		st->flush_armed = true;
		event_active(&st->flush_ev, EV_TIMEOUT, 1);
	}
}

static struct bufferevent *
stream_bev(struct stream *st)
{
	return evhttp_connection_get_bufferevent(st->evcon);
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
	    stream_unsent(st) <= st->srv->cfg->output_high_water / 2) {
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
	}
	if (st->state == ST_ENDING) {
		st->state = ST_ENDED;
		/* evhttp completes the reply when the output is empty. */
		bufferevent_setwatermark(stream_bev(st), EV_WRITE, 0, 0);
		/* May complete at once and free st through on_complete. */
		evhttp_send_reply_end(st->req);
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
	    stream_unsent(st) > st->srv->cfg->output_high_water) {
		st->paused = true;
		batch_pause(st->batch, true);
	}
}

static void
stream_end(void *arg, const struct batch_stats *bs)
{
	struct stream *st = arg;

	st->batch = NULL;
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
	struct timeval tv;

	evutil_timerclear(&tv);
	tv.tv_sec = (time_t)(st->srv->cfg->keepalive_timeout_ms / 1000);
	tv.tv_usec =
	    (suseconds_t)(st->srv->cfg->keepalive_timeout_ms % 1000) * 1000;
	evhttp_connection_set_closecb(st->evcon, NULL, NULL);
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(st->evcon), &tv, &tv);
	guard_reply_done(st->srv->guard, st->evcon);
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

/* Accept a parsed batch: start the reply, then the batch. */
static void
stream_start(struct server *srv, struct evhttp_request *req,
    struct batch_spec *spec, unsigned hops)
{
	struct stream *st = xcalloc(1, sizeof(*st));
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct batch_sink sink = {stream_write, stream_end, st};
	struct timeval wtv = {SERVER_WRITE_TIMEOUT_S, 0};
	char *addr = NULL;
	ev_uint16_t port = 0;

	st->srv = srv;
	st->req = req;
	st->evcon = evhttp_request_get_connection(req);
	st->pending = evbuffer_new();
	event_assign(&st->flush_ev, srv->base, -1, 0, stream_flush_cb, st);
	evhttp_connection_get_peer(st->evcon, &addr, &port);
	snprintf(st->peer, sizeof(st->peer), "%s:%u", addr ? addr : "?", port);
	TAILQ_INSERT_TAIL(&srv->streams, st, link);

	evhttp_add_header(
	    out, "Content-Type", format_content_type(spec->format));
	evhttp_add_header(out, "Cache-Control", "no-store");
	/* HTTP/1.0 keep-alive callers would get "Content-Length: 0" with a
	 * stream behind it: make the stream end at close instead. */
	if (req->major == 1 && req->minor == 0)
		evhttp_remove_header(
		    evhttp_request_get_input_headers(req), "Connection");
	evhttp_send_reply_start(req, 200, "OK");
	/* The caller sends nothing while we stream: no read timeout. The
	 * write callback (stream_drained_cb) comes at half the high water. */
	bufferevent_set_timeouts(stream_bev(st), NULL, &wtv);
	bufferevent_setwatermark(
	    stream_bev(st), EV_WRITE, srv->cfg->output_high_water / 2, 0);
	evhttp_connection_set_closecb(st->evcon, stream_close_cb, st);
	evhttp_request_set_on_complete_cb(req, stream_complete_cb, st);
	st->batch = batch_start(srv->bctx, spec, hops, &sink);
}

static void
server_batch(struct server *srv, struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	const char *hops_s = evhttp_find_header(in, "X-Fanoutd-Hops");
	unsigned long hops = hops_s ? strtoul(hops_s, NULL, 10) : 0;
	size_t len = evbuffer_get_length(body);
	const char *data = len ? (const char *)evbuffer_pullup(body, -1) : "";
	struct parse_error perr;
	struct batch_spec spec;
	char msg[200];

	if (srv->draining) {
		metrics.batches_rejected++;
		server_error(srv, req, RERR_DRAINING,
		    "fanoutd is shutting down; send the batch again later",
		    "Retry-After", "1");
		return;
	}
	if (srv->bctx->active >= srv->cfg->max_active_batches) {
		snprintf(msg, sizeof(msg),
		    "%llu batches are running, the most [server] "
		    "max_active_batches allows; retry shortly",
		    (unsigned long long)srv->bctx->active);
		metrics.batches_rejected++;
		server_error(srv, req, RERR_BUSY, msg, "Retry-After", "1");
		return;
	}
	if (hops >= srv->cfg->max_hops && hops_s != NULL) {
		snprintf(msg, sizeof(msg),
		    "the batch already passed through %lu fanoutd hops "
		    "(X-Fanoutd-Hops); the limit is %llu",
		    hops, (unsigned long long)srv->cfg->max_hops);
		metrics.batches_rejected++;
		server_error(srv, req, RERR_LOOP, msg, NULL, NULL);
		return;
	}
	if (batch_parse(&spec, data, len,
	        evhttp_find_header(in, "Content-Type"),
	        evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req)),
	        evhttp_find_header(in, "Accept"), srv->cfg, &perr) != 0) {
		metrics.batches_rejected++;
		server_error(srv, req, perr.code, perr.message, NULL, NULL);
		return;
	}
	stream_start(srv, req, &spec, (unsigned)hops + 1);
}

static void
server_metrics(struct server *srv, struct evhttp_request *req)
{
	struct metrics_gauges g;
	struct buf b = BUF_INIT;

	g.batches_active = srv->bctx->active;
	g.inflight = sched_inflight(srv->bctx->sched);
	g.queued = sched_queued(srv->bctx->sched);
	g.connections_open = pool_open_count(srv->bctx->fetch->pool);
	g.connections_idle = pool_idle_count(srv->bctx->fetch->pool);
	g.token_wait_us = sched_token_wait_us(srv->bctx->sched);
	metrics_render(&b, &g);
	server_reply(srv, req, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
}

static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	const char *path =
	    evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	enum req_err lim;
	char msg[200];

	if ((lim = guard_request_read(srv->guard,
	         evhttp_request_get_connection(req))) != RERR__COUNT) {
		/* Answered already and shut for writing: this reply only
		 * lets evhttp free the request. */
		server_error(
		    srv, req, lim, "the request was refused", NULL, NULL);
		return;
	}
	if ((lim = guard_check_request(srv->cfg, req, msg, sizeof(msg))) !=
	    RERR__COUNT) {
		server_error(srv, req, lim, msg, NULL, NULL);
		return;
	}
	if (path == NULL)
		path = "";
	if (strcmp(path, "/healthz") != 0 &&
	    !auth_check(&srv->auth,
	        evhttp_find_header(
	            evhttp_request_get_input_headers(req), "Authorization"))) {
		server_error(srv, req, RERR_UNAUTHORIZED,
		    "a valid bearer token is required (Authorization: Bearer "
		    "<token>)",
		    "WWW-Authenticate", "Bearer");
		return;
	}
	if (strcmp(path, "/v1/batch") == 0) {
		if (cmd == EVHTTP_REQ_POST)
			server_batch(srv, req);
		else
			server_error(srv, req, RERR_METHOD,
			    "/v1/batch accepts POST only", "Allow", "POST");
	} else if (strcmp(path, "/healthz") == 0) {
		if (get && srv->draining)
			server_send(srv, req, 503, "application/json",
			    "{\"status\":\"draining\"}\n", 22, NULL, NULL);
		else if (get)
			server_reply(srv, req, "application/json",
			    "{\"status\":\"ok\"}\n", 16);
		else
			server_error(srv, req, RERR_METHOD,
			    "/healthz accepts GET and HEAD only", "Allow",
			    "GET, HEAD");
	} else if (strcmp(path, "/metrics") == 0) {
		if (get)
			server_metrics(srv, req);
		else
			server_error(srv, req, RERR_METHOD,
			    "/metrics accepts GET and HEAD only", "Allow",
			    "GET, HEAD");
	} else {
		snprintf(msg, sizeof(msg),
		    "no such endpoint: %.100s; use POST /v1/batch", path);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
	}
}

/* Bind a unix socket at path (replacing a stale one), mode 0660. */
static int
server_listen_unix(
    struct server *srv, const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	evutil_socket_t fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "unix socket path too long: %s", path);
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    chmod(path, (mode_t)srv->cfg->unix_mode) != 0 ||
	    listen(fd, 511) != 0 || evutil_make_socket_nonblocking(fd) != 0) {
		close(fd);
		goto fail;
	}
	if ((srv->bound[srv->nbound] =
	            evhttp_accept_socket_with_handle(srv->http, fd)) == NULL) {
		close(fd);
		goto fail;
	}
	guard_add_listener(srv->guard, srv->bound[srv->nbound++]);
	srv->unix_paths[srv->nunix++] = xstrdup(path);
	log_info("listening on unix:%s", path);
	return 0;
fail:
	snprintf(
	    why, whylen, "cannot listen on unix:%s: %s", path, strerror(errno));
	return -1;
}

/* Bind "ip:port" or "[ip6]:port"; logs the real port. */
static int
server_listen_tcp(
    struct server *srv, const char *spec, char *why, size_t whylen)
{
	char host[CONFIG_ADDR_LEN];
	const char *colon = strrchr(spec, ':');
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	size_t hlen;
	unsigned port;

	if (colon == NULL || (hlen = (size_t)(colon - spec)) >= sizeof(host)) {
		snprintf(why, whylen, "bad listen address: %s", spec);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = (unsigned)strtoul(colon + 1, NULL, 10);
	bs = evhttp_bind_socket_with_handle(srv->http, host, (uint16_t)port);
	if (bs != NULL) {
		srv->bound[srv->nbound++] = bs;
		guard_add_listener(srv->guard, bs);
	}
	if (bs == NULL) {
		snprintf(why, whylen, "cannot listen on %s: %s", spec,
		    strerror(errno));
		return -1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	        &sslen) == 0) {
		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
			log_info("listening on %s://[%s]:%u",
			    srv->ssl_ctx ? "https" : "http", ip,
			    ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
			log_info("listening on %s://%s:%u",
			    srv->ssl_ctx ? "https" : "http", ip,
			    ntohs(s4->sin_port));
		}
	}
	return 0;
}

unsigned
server_bound_addrs(
    const struct server *srv, struct sockaddr_storage *out, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < srv->nbound && n < max; i++) {
		socklen_t len = sizeof(out[n]);

		if (getsockname(evhttp_bound_socket_get_fd(srv->bound[i]),
		        (struct sockaddr *)&out[n], &len) == 0 &&
		    (out[n].ss_family == AF_INET ||
		        out[n].ss_family == AF_INET6))
			n++;
	}
	return n;
}

/* Every stream has ended: the drain is complete. */
static void
server_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (!srv->draining || !TAILQ_EMPTY(&srv->streams) ||
	    srv->drained == NULL)
		return;
	event_del(srv->drain_ev);
	srv->drained(srv->drained_arg);
	srv->drained = NULL;
}

/*
 * The drain timeout passed: what still runs ends with cancelled lines
 * and a summary. A last grace of a few seconds then lets those lines
 * reach callers that read; a caller that does not read is not waited
 * for beyond it.
 */
static void
server_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	struct timeval grace = {SERVER_DRAIN_GRACE_S, 0};
	struct stream *st, *next;

	if (srv->drained == NULL)
		return;
	if (srv->drain_aborted) {
		log_warn("drain: %s callers still reading; stopping anyway",
		    TAILQ_EMPTY(&srv->streams) ? "no" : "some");
		srv->drained(srv->drained_arg);
		srv->drained = NULL;
		return;
	}
	srv->drain_aborted = true;
	for (st = TAILQ_FIRST(&srv->streams); st != NULL; st = next) {
		next = TAILQ_NEXT(st, link);
		if (st->batch != NULL)
			batch_abort(st->batch,
			    "fanoutd is shutting down (the drain timeout "
			    "passed)");
	}
	evtimer_add(srv->drain_ev, &grace);
}

void
server_drain(struct server *srv, void (*drained)(void *arg), void *arg)
{
	uint64_t ms = srv->cfg->drain_timeout_ms;
	struct timeval tv = {
	    (time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
	unsigned i;

	srv->draining = true;
	srv->drained = drained;
	srv->drained_arg = arg;
	for (i = 0; i < srv->nbound; i++)
		evhttp_del_accept_socket(srv->http, srv->bound[i]);
	srv->nbound = 0;
	evtimer_add(srv->drain_ev, &tv);
	event_active(srv->idle_ev, EV_TIMEOUT, 1);
}

static void server_apply_limits(struct server *srv);

int
server_reload(struct server *srv, char *why, size_t whylen)
{
	server_apply_limits(srv);
	if (srv->cfg->auth_tokens_file[0] == '\0') {
		auth_free(&srv->auth);
		return 0;
	}
	return auth_load(&srv->auth, srv->cfg->auth_tokens_file, why, whylen);
}

/* evhttp asks for each new connection's bufferevent: a TLS one on
 * HTTPS listeners; the guard follows every one. */
static struct bufferevent *
server_bev(struct event_base *base, void *arg)
{
	struct server *srv = arg;
	struct bufferevent *bev;
	SSL *ssl;

	if (srv->ssl_ctx == NULL) {
		bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	} else {
		if ((ssl = SSL_new(srv->ssl_ctx)) == NULL)
			return NULL;
		bev = bufferevent_openssl_socket_new(base, -1, ssl,
		    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		if (bev == NULL) {
			SSL_free(ssl);
			return NULL;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	}
	if (bev != NULL)
		guard_watch(srv->guard, bev);
	return bev;
}

/* evhttp's own limits and timeouts, from srv->cfg. */
static void
server_apply_limits(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct timeval tv;

	evhttp_set_max_body_size(srv->http, (ev_ssize_t)cfg->max_request_bytes);
	evhttp_set_max_headers_size(
	    srv->http, (ev_ssize_t)(2 * cfg->max_header_bytes));
	evutil_timerclear(&tv);
	tv.tv_sec = (time_t)(cfg->keepalive_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(cfg->keepalive_timeout_ms % 1000) * 1000;
	evhttp_set_timeout_tv(srv->http, &tv);
	if (srv->guard != NULL)
		guard_configure(srv->guard, cfg);
}

struct server *
server_new(struct event_base *base, struct batch_ctx *bctx,
    const struct config *cfg, char *why, size_t whylen)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	unsigned i;
	int rc;

	srv->base = base;
	srv->bctx = bctx;
	srv->cfg = cfg;
	TAILQ_INIT(&srv->streams);
	if ((srv->http = evhttp_new(base)) == NULL) {
		snprintf(why, whylen, "cannot create the HTTP server");
		free(srv);
		return NULL;
	}
	/* Answer every method ourselves (405 with Allow, not evhttp's 501). */
	evhttp_set_allowed_methods(srv->http,
	    EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
	        EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
	        EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	srv->guard = guard_new(base, cfg, cfg->tls_cert[0] != '\0');
	server_apply_limits(srv);
	evhttp_set_bevcb(srv->http, server_bev, srv);
	evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_default_content_type(srv->http, "application/json");
	evhttp_set_gencb(srv->http, server_request_cb, srv);
	srv->idle_ev = event_new(base, -1, 0, server_idle_cb, srv);
	srv->drain_ev = evtimer_new(base, server_drain_cb, srv);
	if (cfg->auth_tokens_file[0] != '\0' &&
	    auth_load(&srv->auth, cfg->auth_tokens_file, why, whylen) != 0) {
		server_free(srv);
		return NULL;
	}
	if (cfg->tls_cert[0] != '\0') {
		if ((srv->ssl_ctx = tls_server_ctx(cfg, why, whylen)) == NULL) {
			server_free(srv);
			return NULL;
		}
	}
	for (i = 0; i < cfg->nlisten; i++) {
		const char *l = cfg->listen[i];

		if (strncmp(l, "unix:", 5) == 0)
			rc = server_listen_unix(srv, l + 5, why, whylen);
		else
			rc = server_listen_tcp(srv, l, why, whylen);
		if (rc != 0) {
			server_free(srv);
			return NULL;
		}
	}
	return srv;
}

void
server_free(struct server *srv)
{
	struct stream *st;
	unsigned i;

	if (srv == NULL)
		return;
	while ((st = TAILQ_FIRST(&srv->streams)) != NULL) {
		evhttp_connection_set_closecb(st->evcon, NULL, NULL);
		if (st->batch != NULL)
			batch_cancel(st->batch);
		/* evhttp_free below frees the request with its connection. */
		evhttp_request_set_on_complete_cb(st->req, NULL, NULL);
		stream_free(st);
	}
	evhttp_free(srv->http);
	guard_free(srv->guard);
	SSL_CTX_free(srv->ssl_ctx);
	auth_free(&srv->auth);
	if (srv->idle_ev != NULL)
		event_free(srv->idle_ev);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	for (i = 0; i < srv->nunix; i++) {
		unlink(srv->unix_paths[i]);
		free(srv->unix_paths[i]);
	}
	free(srv);
}
