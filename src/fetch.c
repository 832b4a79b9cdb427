/*
 * fetch.c - one upstream attempt as an explicit state machine over
 * evhttp's client (see fetch.h and LIBEVENT-NOTES.md, Client). The
 * states are the item's own (item.h), moved with item_set_state:
 *
 *   ADMITTED -> RESOLVING -> CONNECTING -> READING -> OUTCOME (new
 *                                                     connection)
 *   ADMITTED -> WAITING -> READING -> OUTCOME       (pooled connection)
 *
 * Every outcome goes through fetch_fail() or fetch_succeed(), which set
 * OUTCOME, disarm the timers, give the connection back and deliver. An
 * outcome reached inside one of our own calls into evhttp or the resolver
 * (evhttp may call back from inside evhttp_make_request) is delivered
 * from a zero-delay event instead, so no caller ever sees its callback
 * run inside fetch_start() and no frame of ours is freed under it.
 *
 * evhttp reports errors coarsely; the state we were in, errno at the
 * error callback and the TLS state turn them into the closed set of
 * item errors. The body goes through a struct body (body.c): cap,
 * truncation, gzip / deflate.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "base64.h"
#include "body.h"
#include "buf.h"
#include "fetch.h"
#include "log.h"
#include "redirect.h"
#include "util.h"

struct fetch {
	struct fetch_ctx *ctx;
	const struct fetch_params *p;
	fetch_cb cb;
	void *arg;
	struct resolve_waiter *rw;
	union sockaddr_any addrs[RESOLVE_MAX_ADDRS];
	unsigned naddrs;
	unsigned next_addr;
	struct pconn *pc;
	struct evhttp_request *req;
	struct event timer;  /* the attempt's deadline */
	struct event ctimer; /* connect deadline of a new connection */
	struct event defer;  /* delivers an outcome reached inside a call */
	int nest;            /* depth of our calls into evhttp / resolver */
	bool no_reuse;       /* retrying after a stale pooled connection */
	bool cancelling;     /* inside evhttp_cancel_request */
	bool observing;      /* p->observer began and has not ended */
	char head_err[160];  /* why fetch_header_cb refused the response head */
	int ev_err;          /* from evhttp's error callback, or -1 */
	int ev_errno;
	struct body body;
	uint64_t t_start;
	uint64_t t_resolve;
	uint64_t t_sent;
	struct fetch_result res;
	char msg[256];
	char lasterr[200]; /* last connect failure, if every address fails */
};

static void fetch_begin(struct fetch *f);

/* The observer's attempt ends: complete (or cut at the cap), or not. */
static void
fetch_observe_end(struct fetch *f, bool complete)
{
	const struct fetch_observer *o = f->p->observer;

	if (!f->observing)
		return;
	f->observing = false;
	if (complete)
		o->end(o->arg, f->body.truncated);
	else
		o->abort(o->arg);
}
static void fetch_send(struct fetch *f);

/* Where the attempt is: the item's state, which the attempt moves from
 * ITEM_ADMITTED through its own states to ITEM_OUTCOME. */
static enum item_state
fetch_state(const struct fetch *f)
{
	return f->p->life->state;
}

static void
fetch_set_state(struct fetch *f, enum item_state s)
{
	item_set_state(f->p->life, s);
}

static void
fetch_free(struct fetch *f)
{
	event_del(&f->timer);
	event_del(&f->ctimer);
	event_del(&f->defer);
	body_free(&f->body);
	free(f);
}

static void
fetch_deliver(struct fetch *f)
{
	f->cb(&f->res, f->arg);
	fetch_free(f);
}

static void
fetch_defer_cb(evutil_socket_t fd, short what, void *arg)
{
	fetch_deliver(arg);
}

/* Stop whatever is in progress: a lookup or an evhttp request. */
static void
fetch_abort_io(struct fetch *f)
{
	if (f->rw != NULL) {
		resolve_cancel(f->rw);
		f->rw = NULL;
	}
	if (f->req != NULL) {
		struct evhttp_request *req = f->req;

		f->req = NULL;
		f->cancelling = true;
		evhttp_cancel_request(req);
		f->cancelling = false;
	}
}

static void
fetch_release(struct fetch *f, bool reusable)
{
	if (f->pc != NULL) {
		pool_release(f->ctx->pool, f->pc, reusable);
		f->pc = NULL;
	}
}

/* Finish the attempt, now or (inside our own call) from f->defer. */
static void
fetch_finish(struct fetch *f)
{
	fetch_set_state(f, ITEM_OUTCOME);
	event_del(&f->timer);
	event_del(&f->ctimer);
	if (f->nest > 0)
		event_active(&f->defer, EV_TIMEOUT, 1);
	else
		fetch_deliver(f);
}

static void fetch_fail(struct fetch *f, enum item_err e, bool sent,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
fetch_fail(struct fetch *f, enum item_err e, bool sent, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->msg, sizeof(f->msg), fmt, ap);
	va_end(ap);
	fetch_abort_io(f);
	fetch_release(f, false);
	fetch_observe_end(f, false);
	f->res.error = e;
	f->res.message = f->msg;
	f->res.sent = sent;
	f->res.dns_ms = f->t_resolve ? us_to_ms(f->t_resolve - f->t_start) : -1;
	fetch_finish(f);
}

/* Milliseconds left of the attempt (at least 1). */
static uint32_t
fetch_remaining_ms(const struct fetch *f)
{
	uint64_t used = (mono_us() - f->t_start) / 1000;

	return used >= f->p->timeout_ms ? 1
	                                : (uint32_t)(f->p->timeout_ms - used);
}

/* errno values that mean a connection was never established. */
static bool
is_connect_errno(int e)
{
	return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
	    e == ETIMEDOUT || e == EADDRNOTAVAIL;
}

static enum evhttp_cmd_type
method_cmd(enum http_method m)
{
	static const enum evhttp_cmd_type cmds[HM__COUNT] = {
	    [HM_GET] = EVHTTP_REQ_GET,
	    [HM_HEAD] = EVHTTP_REQ_HEAD,
	    [HM_POST] = EVHTTP_REQ_POST,
	    [HM_PUT] = EVHTTP_REQ_PUT,
	    [HM_PATCH] = EVHTTP_REQ_PATCH,
	    [HM_DELETE] = EVHTTP_REQ_DELETE,
	    [HM_OPTIONS] = EVHTTP_REQ_OPTIONS,
	};

	return cmds[m];
}

static void
fetch_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	bool sent = fetch_state(f) == ITEM_WAITING ||
	    fetch_state(f) == ITEM_READING ||
	    (fetch_state(f) == ITEM_CONNECTING && f->pc &&
	        pconn_established(f->pc));

	switch (fetch_state(f)) {
	case ITEM_RESOLVING:
		fetch_fail(f, IERR_TIMEOUT, false,
		    "DNS lookup of %s did not finish within %u ms",
		    f->p->url->host, f->p->timeout_ms);
		break;
	case ITEM_READING:
		fetch_fail(f, IERR_TIMEOUT, true,
		    "response body not complete within %u ms",
		    f->p->timeout_ms);
		break;
	default:
		fetch_fail(f, IERR_TIMEOUT, sent, "no response within %u ms",
		    f->p->timeout_ms);
		break;
	}
}

/* A new connection failed before carrying the request: try the next
 * address, or fail with the last reason. */
static void
fetch_connect_failed(struct fetch *f)
{
	fetch_abort_io(f);
	fetch_release(f, false);
	event_del(&f->ctimer);
	if (f->next_addr < f->naddrs) {
		fetch_begin(f);
		return;
	}
	fetch_fail(f, IERR_CONNECT, false, "%s", f->lasterr);
}

static void
fetch_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;

	if (f->pc == NULL || pconn_established(f->pc))
		return;
	if (f->next_addr < f->naddrs) {
		snprintf(f->lasterr, sizeof(f->lasterr),
		    "could not connect to %s within %u ms", pconn_peer(f->pc),
		    f->p->connect_timeout_ms);
		fetch_connect_failed(f);
		return;
	}
	fetch_fail(f, IERR_TIMEOUT, false,
	    "could not connect to %s within %u ms", pconn_peer(f->pc),
	    f->p->connect_timeout_ms);
}

/* Open a connection to the next resolved address and send. */
static void
fetch_connect_next(struct fetch *f)
{
	const struct url *u = f->p->url;
	char why[200];

	f->pc = pool_open(f->ctx->pool, u->origin, &f->addrs[f->next_addr++],
	    u->port, u->https, u->host, u->ip_literal, why, sizeof(why));
	if (f->pc == NULL) {
		fetch_fail(f, IERR_CONNECT, false, "%s", why);
		return;
	}
	timer_arm_ms(&f->ctimer, f->p->connect_timeout_ms);
	fetch_send(f);
}

/*
 * The egress policy, on every address the name resolved to: if any is
 * denied the item ends denied (a name that mixes allowed and denied
 * answers is a rebinding attempt, not a fallback list). True when it
 * failed the fetch.
 */
static bool
fetch_denied(struct fetch *f, const struct resolve_answer *ans)
{
	const struct url *u = f->p->url;
	uint8_t a[16];
	uint16_t port;
	char why[200];
	unsigned i;

	for (i = 0; i < ans->naddrs; i++) {
		if (egress_from_sockaddr(&ans->addrs[i].sa, a, &port) != 0)
			continue;
		if (egress_allowed(
		        f->ctx->egress, a, u->port, why, sizeof(why)))
			continue;
		if (u->ip_literal)
			fetch_fail(f, IERR_DENIED, false, "%s", why);
		else
			fetch_fail(f, IERR_DENIED, false,
			    "%s resolves to a denied address: %s", u->host,
			    why);
		return true;
	}
	return false;
}

static void
fetch_resolved(struct fetch *f, const struct resolve_answer *ans)
{
	if (!f->p->url->ip_literal)
		f->t_resolve = mono_us(); /* a name was looked up */
	if (ans->error != 0) {
		fetch_fail(f, IERR_DNS, false, "cannot resolve %s: %s",
		    f->p->url->host, resolve_strerror(ans->error));
		return;
	}
	if (fetch_denied(f, ans))
		return;
	memcpy(f->addrs, ans->addrs, sizeof(f->addrs[0]) * ans->naddrs);
	f->naddrs = ans->naddrs;
	f->next_addr = 0;
	fetch_connect_next(f);
}

static void
fetch_resolved_cb(const struct resolve_answer *ans, void *arg)
{
	struct fetch *f = arg;

	f->rw = NULL;
	fetch_resolved(f, ans);
}

/* An idle connection was checked when it opened; a reload may have
 * denied its address since. */
static bool
fetch_pooled_allowed(struct fetch *f)
{
	uint8_t a[16];
	uint16_t port;
	char why[200];

	return egress_from_sockaddr(&pconn_addr(f->pc)->sa, a, &port) != 0 ||
	    egress_allowed(
	        f->ctx->egress, a, f->p->url->port, why, sizeof(why));
}

/* Reuse an idle connection, or resolve and connect; with addresses left
 * from an earlier failure, go straight to the next one. */
static void
fetch_begin(struct fetch *f)
{
	const struct url *u = f->p->url;
	struct resolve_answer ans;

	if (f->naddrs > 0 && f->next_addr < f->naddrs) {
		fetch_connect_next(f);
		return;
	}
	if (!f->no_reuse &&
	    (f->pc = pool_take(f->ctx->pool, u->origin)) != NULL) {
		if (fetch_pooled_allowed(f)) {
			fetch_send(f);
			return;
		}
		pool_release(f->ctx->pool, f->pc, false);
		f->pc = NULL;
	}
	fetch_set_state(f, ITEM_RESOLVING);
	f->nest++;
	if (resolve_lookup(f->ctx->resolver, u->host, &ans, fetch_resolved_cb,
	        f, &f->rw) == RESOLVE_DONE) {
		f->nest--;
		fetch_resolved(f, &ans);
		return;
	}
	f->nest--;
}

/* An item header that does not go on this attempt: credentials and the
 * Host override stay behind on a cross-origin hop. */
static bool
fetch_skips_header(const struct fetch_params *p, const char *name)
{
	return p->drop_credentials &&
	    (redirect_drops_header(name) || strcasecmp(name, "Host") == 0);
}

/* Add the request headers: ours where the item did not set them. */
static int
fetch_add_headers(struct fetch *f, struct evkeyvalq *h)
{
	const struct fetch_params *p = f->p;
	bool host = false, ua = false, accept = false, auth = false, ae = false;
	char tmp[32];
	uint32_t i;

	for (i = 0; i < p->nheaders; i++) {
		const char *n = p->headers[i].name;

		if (fetch_skips_header(p, n))
			continue;
		host |= strcasecmp(n, "Host") == 0;
		ua |= strcasecmp(n, "User-Agent") == 0;
		accept |= strcasecmp(n, "Accept") == 0;
		auth |= strcasecmp(n, "Authorization") == 0;
		ae |= strcasecmp(n, "Accept-Encoding") == 0;
	}
	if (!host && evhttp_add_header(h, "Host", p->url->host_header) != 0)
		return -1;
	for (i = 0; i < p->nheaders; i++)
		if (!fetch_skips_header(p, p->headers[i].name) &&
		    evhttp_add_header(
		        h, p->headers[i].name, p->headers[i].value) != 0)
			return -1;
	if (!ua && p->user_agent[0] != '\0')
		evhttp_add_header(h, "User-Agent", p->user_agent);
	if (!accept)
		evhttp_add_header(h, "Accept", "*/*");
	if (!ae && p->decode)
		evhttp_add_header(h, "Accept-Encoding", "gzip, deflate");
	if (!auth && p->url->userinfo != NULL) {
		size_t n = strlen(p->url->userinfo);
		char *plain = xmalloc(n + 1);
		char *enc = xmalloc(BASE64_ENCODED_LEN(n) + 7);

		n = url_pct_decode(p->url->userinfo, n, plain);
		memcpy(enc, "Basic ", 6);
		enc[6 +
		    base64_encode((const unsigned char *)plain, n, enc + 6)] =
		    '\0';
		evhttp_add_header(h, "Authorization", enc);
		free(plain);
		free(enc);
	}
	fmt_uint(tmp, p->hops);
	evhttp_add_header(h, "X-Fanoutd-Hops", tmp);
	if (p->has_body || http_method_has_content(p->method)) {
		fmt_uint(tmp, p->body_len);
		evhttp_add_header(h, "Content-Length", tmp);
	}
	return 0;
}

static void fetch_response_cb(struct evhttp_request *req, void *arg);

static void
fetch_error_cb(enum evhttp_request_error err, void *arg)
{
	struct fetch *f = arg;

	if (f->cancelling)
		return; /* we asked for it; the outcome is ours to give */
	f->ev_err = (int)err;
	f->ev_errno = errno;
}

/* The response head is accepted: show it to the observer, and give it
 * the body if it wants it. */
static void
fetch_observe_begin(struct fetch *f, struct evhttp_request *req, int code)
{
	const struct fetch_observer *o = f->p->observer;
	struct fetch_head h;

	if (o == NULL)
		return;
	h.url = f->p->url;
	h.status = code;
	h.headers = evhttp_request_get_input_headers(req);
	h.content_encoding = body_coded(&f->body);
	h.no_body =
	    f->p->method == HM_HEAD || code < 200 || code == 204 || code == 304;
	f->observing = o->begin(o->arg, &h);
	if (f->observing && !h.no_body)
		body_set_sink(&f->body, o->data, o->arg);
}

static int
fetch_header_cb(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;
	const char *peer = f->pc ? pconn_peer(f->pc) : f->p->url->host;
	int code = evhttp_request_get_response_code(req);
	struct evkeyval *kv;
	unsigned n = 0;

	TAILQ_FOREACH(kv, evhttp_request_get_input_headers(req), next)
	n++;
	/* Returning -1 makes evhttp fail the request (as EOF). */
	if (n > f->ctx->cfg->max_response_headers) {
		snprintf(f->head_err, sizeof(f->head_err),
		    "the response from %s has %u headers, over %u "
		    "([upstream] max_response_headers)",
		    peer, n, (uint32_t)f->ctx->cfg->max_response_headers);
		return -1;
	}
	if (code < 100 || code > 599) {
		snprintf(f->head_err, sizeof(f->head_err),
		    "invalid status code %d in the response from %s", code,
		    peer);
		return -1;
	}
	f->res.ttfb_ms = us_to_ms(mono_us() - f->t_sent);
	event_del(&f->ctimer);
	fetch_set_state(f, ITEM_READING);
	body_decode_fields(
	    &f->body, evhttp_request_get_input_headers(req), f->p->decode);
	fetch_observe_begin(f, req, code);
	return 0;
}

/* Deliver a response: the connection goes back to the pool when
 * reusable, then the caller sees status, headers and body. */
static void
fetch_succeed(struct fetch *f, struct evhttp_request *req, bool reusable)
{
	if (f->pc != NULL)
		pconn_restore_headers(
		    f->pc, evhttp_request_get_input_headers(req));
	fetch_release(f, reusable);
	f->res.error = IERR_NONE;
	f->res.sent = true;
	f->res.status = evhttp_request_get_response_code(req);
	f->res.headers = evhttp_request_get_input_headers(req);
	f->res.body = (const unsigned char *)f->body.data.data;
	f->res.body_len = f->body.data.len;
	f->res.body_seen = f->body.seen;
	f->res.truncated = f->body.truncated;
	f->res.body_dropped = f->body.dropped;
	f->res.content_encoding = body_coded(&f->body);
	f->res.dns_ms = f->t_resolve ? us_to_ms(f->t_resolve - f->t_start) : -1;
	fetch_observe_end(f, true);
	fetch_finish(f);
}

/* Stop reading this response: the connection is closed with it. */
static void
fetch_stop_reading(struct fetch *f, struct evhttp_request *req)
{
	f->req = NULL;
	f->cancelling = true;
	evhttp_cancel_request(req); /* evhttp frees it after we return */
	f->cancelling = false;
}

/* Body bytes as they stream in. Past the cap: stop reading, close the
 * connection (the rest is never read) and deliver what we have. */
static void
fetch_chunk_cb(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;
	enum body_status st;

	if (fetch_state(f) == ITEM_OUTCOME)
		return;
	st = body_take(&f->body, evhttp_request_get_input_buffer(req));
	if (st == BODY_MORE)
		return;
	fetch_stop_reading(f, req);
	if (st == BODY_FULL)
		fetch_succeed(f, req, false);
	else
		fetch_fail(f, IERR_PROTOCOL, true,
		    "cannot decode the %s response body",
		    body_encoding(&f->body));
}

/*
 * A new connection through TLS, then dropped before any response: in
 * TLS 1.3 a server refuses a client (say, for a missing client
 * certificate) after our side of the handshake, and its alert can be
 * lost to the reset, or to our request's write failing first. A TLS
 * failure, not worth retrying.
 */
static void
fetch_tls_dropped(struct fetch *f)
{
	fetch_fail(f, IERR_TLS, false,
	    "%s: the peer closed the connection right after the TLS "
	    "handshake (does it require a client certificate?)",
	    pconn_peer(f->pc));
}

/* evhttp failed the request (req == NULL): make it an item error. */
static void
fetch_failed_io(struct fetch *f)
{
	const char *peer = f->pc ? pconn_peer(f->pc) : f->p->url->host;
	char tls[200];
	const char *tlsmsg =
	    f->pc ? pconn_tls_error(f->pc, tls, sizeof(tls)) : NULL;
	int e = f->ev_errno;
	const char *fault = f->pc ? pconn_fault(f->pc) : NULL;

	if (fault != NULL) {
		fetch_fail(f, IERR_PROTOCOL, true, "%s in the response from %s",
		    fault, peer);
		return;
	}
	if (f->head_err[0] != '\0') {
		fetch_fail(f, IERR_PROTOCOL, true, "%s", f->head_err);
		return;
	}
	switch (f->ev_err) {
	case EVREQ_HTTP_TIMEOUT:
		fetch_fail(f, IERR_TIMEOUT, fetch_state(f) != ITEM_CONNECTING,
		    "no data from %s for %u ms", peer, f->p->timeout_ms);
		return;
	case EVREQ_HTTP_INVALID_HEADER:
		fetch_fail(f, IERR_PROTOCOL, true,
		    "malformed response head from %s, or one over %llu bytes "
		    "([upstream] max_response_header_bytes)",
		    peer,
		    (unsigned long long)f->ctx->cfg->max_response_header_bytes);
		return;
	case EVREQ_HTTP_DATA_TOO_LONG:
		fetch_fail(f, IERR_PROTOCOL, true,
		    "malformed chunked response body from %s", peer);
		return;
	default:
		break;
	}
	if (fetch_state(f) == ITEM_CONNECTING && tlsmsg != NULL) {
		fetch_fail(f, IERR_TLS, false, "%s: %s", peer, tlsmsg);
		return;
	}
	if (fetch_state(f) == ITEM_CONNECTING && f->pc != NULL &&
	    pconn_tls_handshaked(f->pc)) {
		fetch_tls_dropped(f);
		return;
	}
	if (fetch_state(f) == ITEM_CONNECTING && is_connect_errno(e)) {
		snprintf(f->lasterr, sizeof(f->lasterr),
		    "cannot connect to %s: %s", peer, strerror(e));
		fetch_connect_failed(f);
		return;
	}
	if (fetch_state(f) == ITEM_WAITING && f->pc != NULL &&
	    pconn_reused(f->pc) && !f->no_reuse &&
	    http_method_idempotent(f->p->method)) {
		/* The peer closed a pooled connection as we reused it: one
		 * fresh connection, same attempt (what curl and Go do). */
		log_debug(
		    "fetch: stale pooled connection to %s, retrying", peer);
		fetch_release(f, false);
		f->no_reuse = true;
		f->ev_err = -1;
		fetch_begin(f);
		return;
	}
	if (fetch_state(f) == ITEM_READING)
		fetch_fail(f, IERR_RESET, true,
		    "connection to %s closed after %llu bytes of the response "
		    "body",
		    peer, (unsigned long long)f->body.seen);
	else
		fetch_fail(f, IERR_RESET, true,
		    "connection to %s closed before a response", peer);
}

static void
fetch_response_cb(struct evhttp_request *req, void *arg)
{
	struct fetch *f = arg;

	f->req = NULL; /* evhttp frees it when we return */
	if (fetch_state(f) == ITEM_OUTCOME)
		return;
	event_del(&f->ctimer);
	if (req == NULL) {
		fetch_failed_io(f);
		return;
	}
	if (evhttp_request_get_response_code(req) == 0) {
		/* evhttp's connect clean-up path: refused, mostly; but evhttp
		 * decides that from a stale errno, so a TLS failure can land
		 * here too. errno may have been overwritten since; trust only
		 * connect errors. */
		int e = errno;
		char tls[200];

		if (f->pc != NULL &&
		    pconn_tls_error(f->pc, tls, sizeof(tls)) != NULL) {
			fetch_fail(f, IERR_TLS, false, "%s: %s",
			    pconn_peer(f->pc), tls);
			return;
		}
		if (f->pc != NULL && pconn_tls_handshaked(f->pc)) {
			fetch_tls_dropped(f);
			return;
		}

		snprintf(f->lasterr, sizeof(f->lasterr),
		    "cannot connect to %s: %s",
		    f->pc ? pconn_peer(f->pc) : f->p->url->host,
		    strerror(is_connect_errno(e) ? e : ECONNREFUSED));
		fetch_connect_failed(f);
		return;
	}
	/* Complete response: the connection stays reusable even when the
	 * last bytes went past the cap. */
	if (body_take(&f->body, evhttp_request_get_input_buffer(req)) ==
	        BODY_BAD ||
	    body_unfinished(&f->body)) {
		fetch_fail(f, IERR_PROTOCOL, true,
		    "cannot decode the %s response body",
		    body_encoding(&f->body));
		return;
	}
	fetch_succeed(f, req, true);
}

/* Hand the request to f->pc. */
static void
fetch_send(struct fetch *f)
{
	const struct fetch_params *p = f->p;
	struct evhttp_request *req;
	struct pconn *pc;
	int rc;

	req = evhttp_request_new(fetch_response_cb, f);
	evhttp_request_set_error_cb(req, fetch_error_cb);
	evhttp_request_set_header_cb(req, fetch_header_cb);
	evhttp_request_set_chunked_cb(req, fetch_chunk_cb);
	if (fetch_add_headers(f, evhttp_request_get_output_headers(req)) != 0) {
		evhttp_request_free(req);
		fetch_fail(f, IERR_INVALID_REQUEST, false,
		    "a request header was refused by the HTTP library");
		return;
	}
	if (p->body_len > 0)
		evbuffer_add_reference(evhttp_request_get_output_buffer(req),
		    p->body, p->body_len, NULL, NULL);
	pconn_begin(f->pc, fetch_remaining_ms(f), p->method == HM_HEAD);
	fetch_set_state(f,
	    pconn_reused(f->pc) && !f->no_reuse ? ITEM_WAITING
	                                        : ITEM_CONNECTING);
	if (fetch_state(f) == ITEM_WAITING)
		event_del(&f->ctimer);
	f->req = req;
	f->ev_err = -1;
	f->ev_errno = 0;
	f->t_sent = mono_us();
	f->nest++;
	pc = f->pc;
	rc = evhttp_make_request(
	    pconn_evcon(pc), req, method_cmd(p->method), p->url->target);
	if (rc == 0 && fetch_state(f) != ITEM_OUTCOME && f->pc == pc)
		pconn_sent(pc);
	f->nest--;
	if (rc != 0 && fetch_state(f) != ITEM_OUTCOME) {
		f->req = NULL; /* evhttp freed it or never took it */
		snprintf(f->lasterr, sizeof(f->lasterr),
		    "cannot start a request to %s", pconn_peer(f->pc));
		fetch_connect_failed(f);
	}
}

struct fetch *
fetch_start(
    struct fetch_ctx *ctx, const struct fetch_params *p, fetch_cb cb, void *arg)
{
	struct fetch *f = xcalloc(1, sizeof(*f));

	f->ctx = ctx;
	f->p = p;
	f->cb = cb;
	f->arg = arg;
	f->ev_err = -1;
	f->res.ttfb_ms = -1;
	body_init(&f->body, p->max_body_bytes, p->keep_body);
	if (p->keep_max_bytes > 0)
		body_keep_max(&f->body, p->keep_max_bytes);
	f->t_start = mono_us();
	evtimer_assign(&f->timer, ctx->base, fetch_timeout_cb, f);
	evtimer_assign(&f->ctimer, ctx->base, fetch_connect_timeout_cb, f);
	event_assign(&f->defer, ctx->base, -1, 0, fetch_defer_cb, f);
	timer_arm_ms(&f->timer, p->timeout_ms);
	f->nest++;
	fetch_begin(f);
	f->nest--;
	return f;
}

void
fetch_pause(struct fetch *f, bool paused)
{
	if (f == NULL || f->pc == NULL || f->req == NULL ||
	    fetch_state(f) != ITEM_READING)
		return;
	pconn_pause_read(f->pc, paused);
}

void
fetch_cancel(struct fetch *f)
{
	if (f == NULL)
		return;
	fetch_abort_io(f);
	fetch_release(f, false);
	fetch_observe_end(f, false);
	fetch_free(f);
}
