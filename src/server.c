/*
 * server.c - evhttp listeners, routing and whole-request errors (see
 * server.h and LIBEVENT-NOTES.md, Server). Every request arrives framed
 * by the guard (guard.h), which also says where to route it; a batch's
 * response is a stream (stream.h); the listening sockets are listen.h's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include "auth.h"
#include "emit.h"
#include "engine.h"
#include "log.h"
#include "metrics.h"
#include "guard.h"
#include "listen.h"
#include "reqbody.h"
#include "server.h"
#include "server_int.h"
#include "stats.h"
#include "stream.h"
#include "tls.h"
#include "ui.h"
#include "util.h"

/* A reply is written: the guard lets the connection's next request in. */
static void
server_reply_done_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;

	guard_reply_done(srv->guard, evhttp_request_get_connection(req));
}

/*
 * Send a complete reply. evhttp writes the body even for HEAD (which
 * would poison the caller's keep-alive connection), so for HEAD only the
 * Content-Length the body would have is sent.
 */
void
server_send(struct server *srv, struct evhttp_request *req, int status,
    const char *reason, const char *type, const char *body, size_t len,
    const char *extra_name, const char *extra_value)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
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
	evhttp_send_reply(req, status, reason, evb);
	evbuffer_free(evb);
	/* evhttp reads while it writes, to see a close: a caller that
	 * half-closed would lose this reply. It reads again after it. */
	if (evcon != NULL)
		bufferevent_disable(
		    evhttp_connection_get_bufferevent(evcon), EV_READ);
}

/* Reply with a JSON error body; extra_name/value may add one header. */
void
server_error(struct server *srv, struct evhttp_request *req, enum req_err code,
    const char *message, const char *extra_name, const char *extra_value)
{
	struct buf b = BUF_INIT;

	emit_error_body(&b, req_err_name(code), message);
	server_send(srv, req, req_err_status(code), req_err_reason(code),
	    "application/json", b.data, b.len, extra_name, extra_value);
	buf_free(&b);
}

void
server_reply(struct server *srv, struct evhttp_request *req, const char *type,
    const char *body, size_t len)
{
	server_send(srv, req, 200, NULL, type, body, len, NULL, NULL);
}

/* Every field line of name, joined with ", " (RFC 9110 §5.3) into
 * out; NULL when there is none. */
const char *
header_join(struct evkeyvalq *h, const char *name, struct buf *out)
{
	struct evkeyval *kv;
	bool any = false;

	TAILQ_FOREACH(kv, h, next)
	{
		if (strcasecmp(kv->key, name) != 0)
			continue;
		if (any)
			buf_adds(out, ", ");
		buf_adds(out, kv->value);
		any = true;
	}
	return any ? buf_cstr(out) : NULL;
}

/* The request body with its Content-Encoding undone into dec; NULL
 * after answering an error. */
const char *
server_body(struct server *srv, struct evhttp_request *req, struct buf *dec,
    size_t *len)
{
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	struct buf ce = BUF_INIT;
	enum req_err e;
	bool decoded;
	char msg[200];

	e = reqbody_decode(header_join(evhttp_request_get_input_headers(req),
	                       "Content-Encoding", &ce),
	    body, srv->cfg->max_request_bytes, dec, &decoded, msg, sizeof(msg));
	buf_free(&ce);
	if (e != RERR__COUNT) {
		metrics.batches_rejected++;
		server_error(srv, req, e, msg,
		    e == RERR_MEDIA_TYPE ? "Accept-Encoding" : NULL,
		    REQBODY_ACCEPT_ENCODING);
		return NULL;
	}
	if (decoded) {
		*len = dec->len;
		return dec->len ? dec->data : "";
	}
	*len = evbuffer_get_length(body);
	return *len ? (const char *)evbuffer_pullup(body, -1) : "";
}

static void
server_batch(struct server *srv, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *hops_s = evhttp_find_header(in, "X-Fanoutd-Hops");
	unsigned long hops = hops_s ? strtoul(hops_s, NULL, 10) : 0;
	struct buf dec = BUF_INIT, accept = BUF_INIT;
	struct parse_error perr;
	struct batch_spec spec;
	const char *data;
	enum req_err refused;
	char msg[200];
	size_t len;

	if ((refused = engine_admit(srv->engine, msg, sizeof(msg))) !=
	    RERR__COUNT) {
		metrics.batches_rejected++;
		server_error(srv, req, refused, msg, "Retry-After", "1");
		return;
	}
	if (hops >= srv->cfg->max_hops && hops_s != NULL) {
		snprintf(msg, sizeof(msg),
		    "the batch already passed through %lu fanoutd hops "
		    "(X-Fanoutd-Hops); the limit is %llu ([server] max_hops)",
		    hops, (unsigned long long)srv->cfg->max_hops);
		metrics.batches_rejected++;
		server_error(srv, req, RERR_LOOP, msg, NULL, NULL);
		return;
	}
	if ((data = server_body(srv, req, &dec, &len)) == NULL)
		return;
	if (batch_parse(&spec, data, len,
	        evhttp_find_header(in, "Content-Type"), query,
	        header_join(in, "Accept", &accept), srv->cfg, &perr) != 0) {
		metrics.batches_rejected++;
		server_error(srv, req, perr.code, perr.message, NULL, NULL);
	} else {
		stream_start(&srv->streams, req, &spec, (unsigned)hops + 1);
	}
	buf_free(&dec);
	buf_free(&accept);
}

static void
server_metrics(struct server *srv, struct evhttp_request *req)
{
	struct metrics_gauges g;
	struct buf b = BUF_INIT;

	engine_gauges(srv->engine, &g);
	metrics_render(&b, &g);
	if (srv->jobs != NULL) {
		struct store_stats ss;

		store_stats(jobs_store(srv->jobs), &ss);
		metrics_render_jobs(&b, &ss);
	}
	server_reply(srv, req, "text/plain; version=0.0.4", b.data, b.len);
	buf_free(&b);
}

/*
 * GET /healthz while serving: {"status":"ok"}, or 200
 * {"status":"degraded","reason":..} when batches are served but jobs
 * are not (the store could not be opened, or cannot write: disk full),
 * or the shared rate limits fell back to local buckets (Redis is away).
 */
static void
server_health(struct server *srv, struct evhttp_request *req)
{
	const char *why =
	    srv->jobs == NULL ? srv->jobs_why : jobs_degraded(srv->jobs);
	const char *limits = engine_degraded(srv->engine);
	struct buf b = BUF_INIT;
	char reason[800];
	int n = 0;

	if (why == NULL && limits == NULL) {
		server_reply(
		    srv, req, "application/json", "{\"status\":\"ok\"}\n", 16);
		return;
	}
	if (why != NULL)
		n = snprintf(reason, sizeof(reason), "jobs %s: %s",
		    srv->jobs == NULL ? "are unavailable" : "are paused", why);
	if (limits != NULL && n >= 0 && (size_t)n < sizeof(reason))
		snprintf(reason + n, sizeof(reason) - (size_t)n, "%s%s",
		    n > 0 ? "; " : "", limits);
	buf_adds(&b, "{\"status\":\"degraded\",\"reason\":");
	emit_json_string(&b, reason, strlen(reason));
	buf_adds(&b, "}\n");
	server_reply(srv, req, "application/json", b.data, b.len);
	buf_free(&b);
}

/* Is the path of target (up to '?') exactly path? */
static bool
path_is(const char *target, size_t plen, const char *path)
{
	return strlen(path) == plen && memcmp(target, path, plen) == 0;
}

/*
 * Did another site's page send this request (cross-site request
 * forgery)? A browser sends any page's POST to any address, and one
 * with a text/plain or form body needs no CORS preflight: with no token
 * configured, a page the operator visits could create jobs. Requests
 * other than GET and HEAD are refused when the browser says the page
 * was not fanoutd's own (Sec-Fetch-Site), or, from a browser that does
 * not say, when Origin is not the address asked for (Host). Callers
 * that are not browsers send neither header.
 */
static bool
server_cross_site(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *site = evhttp_find_header(h, "Sec-Fetch-Site");
	const char *origin = evhttp_find_header(h, "Origin");
	const char *host = evhttp_find_header(h, "Host");
	const char *auth;

	if (site != NULL)
		return strcasecmp(site, "same-origin") != 0 &&
		    strcasecmp(site, "none") != 0;
	if (origin == NULL)
		return false;
	auth = strstr(origin, "://");
	return auth == NULL || host == NULL || strcasecmp(auth + 3, host) != 0;
}

static void
server_request_cb(struct evhttp_request *req, void *arg)
{
	struct server *srv = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	struct guard_request gr;
	const char *q;
	size_t plen;
	char msg[200];

	guard_request_read(srv->guard, evhttp_request_get_connection(req), &gr);
	if (gr.refused != RERR__COUNT) {
		/* The guard closes the connection after this reply. */
		server_error(
		    srv, req, gr.refused, gr.message, "Connection", "close");
		return;
	}
	/* Route on the target as the caller sent it (evhttp would read
	 * "//x/metrics" as host x, path /metrics). */
	q = strchr(gr.target, '?');
	plen = q ? (size_t)(q - gr.target) : strlen(gr.target);
	if (ui_rebound(srv, req)) {
		server_error(srv, req, RERR_FORBIDDEN,
		    "refused: a browser's request under a host name (DNS "
		    "rebinding); open the dashboard as 127.0.0.1, [::1] or "
		    "localhost, or set [server] ui = true",
		    NULL, NULL);
		return;
	}
	if (ui_route(srv, req, gr.target, plen))
		return; /* the page: no data in it, the API needs the token */
	if (!get && server_cross_site(req)) {
		server_error(srv, req, RERR_FORBIDDEN,
		    "refused: sent by another site's page (Origin, "
		    "Sec-Fetch-Site)",
		    NULL, NULL);
		return;
	}
	if (!path_is(gr.target, plen, "/healthz") &&
	    !auth_check(&srv->auth,
	        evhttp_find_header(
	            evhttp_request_get_input_headers(req), "Authorization"))) {
		server_error(srv, req, RERR_UNAUTHORIZED,
		    "a valid bearer token is required (Authorization: Bearer "
		    "<token>)",
		    "WWW-Authenticate", "Bearer");
		return;
	}
	if (job_api_route(srv, req, gr.target, plen, q ? q + 1 : NULL)) {
		/* answered */
	} else if (path_is(gr.target, plen, "/v1/batch")) {
		if (cmd == EVHTTP_REQ_POST)
			server_batch(srv, req, q ? q + 1 : NULL);
		else
			server_error(srv, req, RERR_METHOD,
			    "/v1/batch accepts POST only", "Allow", "POST");
	} else if (path_is(gr.target, plen, "/healthz")) {
		if (get && engine_draining(srv->engine))
			server_send(srv, req, 503, NULL, "application/json",
			    "{\"status\":\"draining\"}\n", 22, NULL, NULL);
		else if (get)
			server_health(srv, req);
		else
			server_error(srv, req, RERR_METHOD,
			    "/healthz accepts GET and HEAD only", "Allow",
			    "GET, HEAD");
	} else if (path_is(gr.target, plen, "/v1/stats")) {
		if (get)
			stats_request(srv->stats, req, q ? q + 1 : NULL);
		else
			server_error(srv, req, RERR_METHOD,
			    "/v1/stats accepts GET and HEAD only", "Allow",
			    "GET, HEAD");
	} else if (path_is(gr.target, plen, "/metrics")) {
		if (get)
			server_metrics(srv, req);
		else
			server_error(srv, req, RERR_METHOD,
			    "/metrics accepts GET and HEAD only", "Allow",
			    "GET, HEAD");
	} else {
		snprintf(msg, sizeof(msg),
		    "no such endpoint: %.*s; use POST /v1/batch",
		    (int)(plen > 100 ? 100 : plen), gr.target);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
	}
}

unsigned
server_bound_addrs(
    const struct server *srv, struct sockaddr_storage *out, unsigned max)
{
	return listen_addrs(&srv->ls, out, max);
}

/* The last stream ended: while draining, see whether that was all. */
static void
server_streams_emptied(void *arg)
{
	struct server *srv = arg;

	if (engine_draining(srv->engine))
		event_active(srv->idle_ev, EV_TIMEOUT, 1);
}

/* Every stream has ended: the drain is complete. */
static void
server_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	if (!engine_draining(srv->engine) || !streams_empty(&srv->streams) ||
	    !stats_idle(srv->stats) || srv->drained == NULL)
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

	if (srv->drained == NULL)
		return;
	if (srv->drain_aborted) {
		log_warn("drain: %s callers still reading; stopping anyway",
		    streams_empty(&srv->streams) ? "no" : "some");
		srv->drained(srv->drained_arg);
		srv->drained = NULL;
		return;
	}
	srv->drain_aborted = true;
	streams_abort(&srv->streams,
	    "fanoutd is shutting down (the drain timeout passed)");
	timer_arm_ms(srv->drain_ev, SERVER_DRAIN_GRACE_MS);
}

void
server_drain(struct server *srv, void (*drained)(void *arg), void *arg)
{
	engine_drain(srv->engine);
	srv->drained = drained;
	srv->drained_arg = arg;
	listen_stop(&srv->ls, srv->http);
	job_readers_close(&srv->readers);
	stats_close(srv->stats);
	timer_arm_ms(srv->drain_ev, srv->cfg->drain_timeout_ms);
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
	struct timeval tv = tv_ms(cfg->keepalive_timeout_ms);

	/* The guard frames every request under fanoutd's limits before
	 * evhttp reads it: evhttp's own would answer in HTML. */
	evhttp_set_max_body_size(srv->http, -1);
	evhttp_set_max_headers_size(srv->http, -1);
	evhttp_set_timeout_tv(srv->http, &tv);
	if (srv->guard != NULL)
		guard_configure(srv->guard, cfg);
}

struct server *
server_new(struct event_base *base, struct engine *engine, struct jobs *jobs,
    const char *jobs_why, const struct config *cfg, char *why, size_t whylen)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	unsigned i;

	srv->base = base;
	srv->engine = engine;
	srv->jobs = jobs;
	snprintf(srv->jobs_why, sizeof(srv->jobs_why), "%s",
	    jobs_why ? jobs_why : "");
	job_readers_init(&srv->readers);
	srv->cfg = cfg;
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
	streams_init(&srv->streams, base, cfg, srv->guard, engine);
	srv->streams.emptied = server_streams_emptied;
	srv->streams.emptied_arg = srv;
	server_apply_limits(srv);
	evhttp_set_bevcb(srv->http, server_bev, srv);
	evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_default_content_type(srv->http, "application/json");
	evhttp_set_gencb(srv->http, server_request_cb, srv);
	srv->idle_ev = event_new(base, -1, 0, server_idle_cb, srv);
	srv->drain_ev = evtimer_new(base, server_drain_cb, srv);
	srv->stats = stats_new(srv);
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
	if (listen_open(&srv->ls, srv->http, cfg, srv->ssl_ctx != NULL, why,
	        whylen) != 0) {
		server_free(srv);
		return NULL;
	}
	for (i = 0; i < srv->ls.nbound; i++)
		guard_add_listener(srv->guard, srv->ls.bound[i]);
	return srv;
}

void
server_close_readers(struct server *srv)
{
	if (srv == NULL)
		return;
	job_readers_close(&srv->readers);
	stats_close(srv->stats);
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	job_readers_close(&srv->readers);
	stats_free(srv->stats);
	streams_free(&srv->streams);
	evhttp_free(srv->http);
	guard_free(srv->guard);
	SSL_CTX_free(srv->ssl_ctx);
	auth_free(&srv->auth);
	if (srv->idle_ev != NULL)
		event_free(srv->idle_ev);
	if (srv->drain_ev != NULL)
		event_free(srv->drain_ev);
	listen_close(&srv->ls);
	free(srv);
}
