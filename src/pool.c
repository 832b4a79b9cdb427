/*
 * pool.c - per-origin keep-alive connection pool over evhttp (see
 * pool.h), with the TLS set-up evhttp leaves to its user.
 *
 * A pconn is BUSY (lent to a fetch), IDLE (on its origin's idle list and
 * on the pool-wide LRU list) or DEAD (on the reap list, freed by the
 * reap event). evhttp tells us of a close through the connection's close
 * callback, which it may call from deep inside its own code: the callback
 * only marks the pconn and, if it was idle, moves it to the reap list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "htab.h"
#include "log.h"
#include "pool.h"
#include "tls.h"
#include "util.h"
#include "wirebev.h"

enum pconn_state { PC_BUSY, PC_IDLE, PC_DEAD };

struct pool_origin {
	char *name;
	TAILQ_HEAD(, pconn) idle; /* most recently used first */
	uint32_t nidle;
};

struct pconn {
	struct pool *pool;
	struct pool_origin *origin;
	struct evhttp_connection *evcon;
	struct bufferevent *bev; /* the transport: socket, or TLS over it */
	struct wirebev wb;       /* the wire over it, which evhttp reads */
	SSL *ssl;                /* owned by bev; NULL for http */
	bool tls_done;           /* the handshake completed at least once */
	char tls_alert[64];      /* the last TLS alert the peer sent, or "" */
	enum pconn_state state;
	bool closed; /* evhttp reported the socket closed */
	unsigned requests;
	char peer[INET6_ADDRSTRLEN + 8];
	union sockaddr_any addr;  /* the peer; port 0 */
	TAILQ_ENTRY(pconn) olink; /* origin->idle */
	TAILQ_ENTRY(pconn) plink; /* pool->lru or pool->reap */
};

struct pool {
	struct event_base *base;
	SSL_CTX *ssl_ctx;
	struct htab origins;               /* name -> struct pool_origin */
	TAILQ_HEAD(pconn_list, pconn) lru; /* idle, most recently used first */
	TAILQ_HEAD(, pconn) reap;          /* dead, waiting for reap_ev */
	struct event *reap_ev;
	uint64_t nidle;
	uint64_t nopen;
	const struct config *cfg; /* idle limits and the response-head cap,
	                             read in place (a reload changes them) */
};

static void pool_reap_cb(evutil_socket_t fd, short what, void *arg);

struct pool *
pool_new(
    struct event_base *base, const struct config *cfg, char *why, size_t whylen)
{
	struct pool *p = xcalloc(1, sizeof(*p));

	p->base = base;
	TAILQ_INIT(&p->lru);
	TAILQ_INIT(&p->reap);
	if ((p->ssl_ctx = tls_client_ctx(cfg, why, whylen)) == NULL) {
		free(p);
		return NULL;
	}
	p->reap_ev = event_new(base, -1, 0, pool_reap_cb, p);
	p->cfg = cfg;
	return p;
}

static struct pool_origin *
origin_get(struct pool *p, const char *name)
{
	struct pool_origin *o = htab_get(&p->origins, name);

	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		o->name = xstrdup(name);
		TAILQ_INIT(&o->idle);
		htab_put(&p->origins, name, o);
	}
	return o;
}

/* Take pc off the idle lists. */
static void
pconn_unidle(struct pconn *pc)
{
	struct pool *p = pc->pool;

	TAILQ_REMOVE(&pc->origin->idle, pc, olink);
	TAILQ_REMOVE(&p->lru, pc, plink);
	pc->origin->nidle--;
	p->nidle--;
}

/* Queue pc for freeing on the next loop iteration. */
static void
pconn_kill(struct pconn *pc)
{
	struct pool *p = pc->pool;

	if (pc->state == PC_IDLE)
		pconn_unidle(pc);
	if (pc->state == PC_DEAD)
		return;
	pc->state = PC_DEAD;
	TAILQ_INSERT_TAIL(&p->reap, pc, plink);
	event_active(p->reap_ev, EV_TIMEOUT, 1);
}

static void
pconn_free(struct pconn *pc)
{
	/* evhttp_connection_free calls the close callback: unhook it. */
	evhttp_connection_set_closecb(pc->evcon, NULL, NULL);
	evhttp_connection_free(pc->evcon); /* frees bev, SSL and the fd */
	wirebev_free(&pc->wb);
	pc->pool->nopen--;
	free(pc);
}

static void
pool_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pool *p = arg;
	struct pconn *pc;

	while ((pc = TAILQ_FIRST(&p->reap)) != NULL) {
		TAILQ_REMOVE(&p->reap, pc, plink);
		pconn_free(pc);
	}
}

/* evhttp: the socket closed (peer close, error, idle timeout, reset). */
static void
pconn_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct pconn *pc = arg;

	pc->closed = true;
	if (pc->state == PC_IDLE) {
		log_debug("pool: idle connection to %s closed", pc->peer);
		pconn_kill(pc);
	}
}

struct pconn *
pool_take(struct pool *p, const char *origin)
{
	struct pool_origin *o = htab_get(&p->origins, origin);
	struct pconn *pc;

	if (o == NULL || (pc = TAILQ_FIRST(&o->idle)) == NULL)
		return NULL;
	pconn_unidle(pc);
	pc->state = PC_BUSY;
	return pc;
}

/* OpenSSL: handshake progress and alerts on a connection. */
static void
pconn_ssl_info_cb(const SSL *ssl, int where, int ret)
{
	struct pconn *pc = SSL_get_app_data(ssl);

	if (pc == NULL)
		return;
	if (where & SSL_CB_HANDSHAKE_DONE)
		pc->tls_done = true;
	if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL)
		snprintf(pc->tls_alert, sizeof(pc->tls_alert), "%s",
		    SSL_alert_desc_string_long(ret));
}

struct pconn *
pool_open(struct pool *p, const char *origin, const union sockaddr_any *addr,
    uint16_t port, bool https, const char *tls_host, bool tls_host_is_ip,
    char *why, size_t whylen)
{
	struct pconn *pc = xcalloc(1, sizeof(*pc));
	char ip[INET6_ADDRSTRLEN];
	const void *src;

	src = addr->sa.sa_family == AF_INET6
	    ? (const void *)&addr->sin6.sin6_addr
	    : (const void *)&addr->sin.sin_addr;
	evutil_inet_ntop(addr->sa.sa_family, src, ip, sizeof(ip));
	pc->addr = *addr;
	snprintf(pc->peer, sizeof(pc->peer),
	    addr->sa.sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip, port);
	if (https) {
		if ((pc->ssl = tls_client_ssl(
		         p->ssl_ctx, tls_host, tls_host_is_ip)) == NULL) {
			snprintf(
			    why, whylen, "TLS set-up failed for %s", tls_host);
			free(pc);
			return NULL;
		}
		/* evhttp's reset calls SSL_clear, which forgets how the
		 * handshake went: record it as it happens. */
		SSL_set_app_data(pc->ssl, pc);
		SSL_set_info_callback(pc->ssl, pconn_ssl_info_cb);
		pc->bev = bufferevent_openssl_socket_new(p->base, -1, pc->ssl,
		    BUFFEREVENT_SSL_CONNECTING,
		    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (pc->bev != NULL)
			bufferevent_openssl_set_allow_dirty_shutdown(
			    pc->bev, 1);
		else
			SSL_free(pc->ssl);
	} else {
		pc->bev =
		    bufferevent_socket_new(p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	}
	if (pc->bev == NULL) {
		snprintf(
		    why, whylen, "cannot create a connection to %s", pc->peer);
		free(pc);
		return NULL;
	}
	if (wirebev_init(&pc->wb, pc->bev, https,
	        p->cfg->max_response_header_bytes) != 0) {
		bufferevent_free(pc->bev);
		snprintf(
		    why, whylen, "cannot create a connection to %s", pc->peer);
		free(pc);
		return NULL;
	}
	/* A numeric address: evhttp never resolves anything itself. It
	 * reads and writes through the wire (wirebev.h). */
	pc->evcon = evhttp_connection_base_bufferevent_new(
	    p->base, NULL, pc->wb.top, ip, port);
	if (pc->evcon == NULL) {
		bufferevent_free(pc->wb.top); /* and pc->bev */
		wirebev_free(&pc->wb);
		snprintf(
		    why, whylen, "cannot create a connection to %s", pc->peer);
		free(pc);
		return NULL;
	}
	evhttp_connection_set_family(pc->evcon, addr->sa.sa_family);
	evhttp_connection_set_closecb(pc->evcon, pconn_close_cb, pc);
	evhttp_connection_set_max_headers_size(
	    pc->evcon, (ev_ssize_t)p->cfg->max_response_header_bytes);
	pc->pool = p;
	pc->origin = origin_get(p, origin);
	pc->state = PC_BUSY;
	p->nopen++;
	return pc;
}

static void
pconn_set_timeout(struct pconn *pc, uint32_t ms)
{
	struct timeval tv = tv_ms(ms);

	evhttp_connection_set_timeout_tv(pc->evcon, &tv);
}

void
pconn_begin(struct pconn *pc, uint32_t timeout_ms, bool head_request)
{
	pconn_set_timeout(pc, timeout_ms + 1000);
	wirebev_expect(&pc->wb, head_request);
}

void
pconn_sent(struct pconn *pc)
{
	wirebev_sent(&pc->wb);
}

const char *
pconn_fault(const struct pconn *pc)
{
	return wirebev_fault(&pc->wb);
}

void
pconn_restore_headers(const struct pconn *pc, struct evkeyvalq *headers)
{
	wirebev_restore_headers(&pc->wb, headers);
}

void
pool_release(struct pool *p, struct pconn *pc, bool reusable)
{
	struct pool_origin *o = pc->origin;

	pc->requests++;
	/* The wire says whether the response ended cleanly, the peer may
	 * take another request (RFC 9112 §9.3), the request was all sent,
	 * and no byte waits that belongs to no request (a body sent after a
	 * HEAD response, say: the next response would be misread). */
	if (!reusable || pc->closed || !wirebev_reusable(&pc->wb) ||
	    o->nidle >= p->cfg->max_idle_per_host || p->cfg->max_idle == 0) {
		pconn_kill(pc);
		return;
	}
	/* evhttp's inactivity timeout now doubles as the idle timeout. */
	pconn_set_timeout(pc, (uint32_t)p->cfg->idle_timeout_ms);
	pc->state = PC_IDLE;
	TAILQ_INSERT_HEAD(&o->idle, pc, olink);
	TAILQ_INSERT_HEAD(&p->lru, pc, plink);
	o->nidle++;
	p->nidle++;
	if (p->nidle > p->cfg->max_idle)
		pconn_kill(TAILQ_LAST(&p->lru, pconn_list));
}

struct evhttp_connection *
pconn_evcon(struct pconn *pc)
{
	return pc->evcon;
}

void
pconn_pause_read(struct pconn *pc, bool paused)
{
	struct bufferevent *t = pc->wb.transport;

	if (paused) {
		bufferevent_disable(pc->wb.top, EV_READ);
		return;
	}
	bufferevent_enable(pc->wb.top, EV_READ);
	/* The filter only takes what the transport holds when more comes:
	 * what arrived before the pause (the rest of a body already read,
	 * with nothing more to come) is handed on now. */
	if (evbuffer_get_length(bufferevent_get_input(t)) > 0)
		bufferevent_trigger(t, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	if (evbuffer_get_length(bufferevent_get_input(pc->wb.top)) > 0)
		bufferevent_trigger(pc->wb.top, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

bool
pconn_established(struct pconn *pc)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	evutil_socket_t fd = bufferevent_getfd(pc->bev);

	if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return false;
	return pc->ssl == NULL || pc->tls_done;
}

bool
pconn_reused(const struct pconn *pc)
{
	return pc->requests > 0;
}

const union sockaddr_any *
pconn_addr(const struct pconn *pc)
{
	return &pc->addr;
}

const char *
pconn_peer(const struct pconn *pc)
{
	return pc->peer;
}

const char *
pconn_tls_error(struct pconn *pc, char *buf, size_t n)
{
	unsigned long e, found = 0;

	if (pc->ssl == NULL)
		return NULL;
	/*
	 * libevent keeps the last 3 errors, most recent first, and never
	 * clears them: drain. Some are SSL_get_error() codes, not packed
	 * OpenSSL errors; keep the most recent real one.
	 */
	while ((e = bufferevent_get_openssl_error(pc->bev)) != 0)
		if (found == 0 && ERR_GET_LIB(e) != 0)
			found = e;
	if (found == 0 && SSL_get_verify_result(pc->ssl) == X509_V_OK) {
		if (pc->tls_alert[0] == '\0')
			return NULL; /* nothing TLS-specific: a TCP failure */
		snprintf(buf, n,
		    "handshake failure: the peer sent alert \"%s\"",
		    pc->tls_alert);
		return buf;
	}
	return tls_failure(pc->ssl, found, buf, n);
}

bool
pconn_tls_handshaked(const struct pconn *pc)
{
	return pc->tls_done;
}

uint64_t
pool_idle_count(const struct pool *p)
{
	return p->nidle;
}

uint64_t
pool_open_count(const struct pool *p)
{
	return p->nopen;
}

static void
origin_free(void *value)
{
	struct pool_origin *o = value;

	free(o->name);
	free(o);
}

void
pool_free(struct pool *p)
{
	struct pconn *pc;

	if (p == NULL)
		return;
	while ((pc = TAILQ_FIRST(&p->lru)) != NULL)
		pconn_kill(pc);
	pool_reap_cb(-1, 0, p);
	htab_free(&p->origins, origin_free);
	event_free(p->reap_ev);
	SSL_CTX_free(p->ssl_ctx);
	free(p);
}
