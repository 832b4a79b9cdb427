/*
 * pool.h - keep-alive upstream connections, pooled per origin (scheme,
 * host, port) and reused across items and batches (DESIGN.md §2).
 *
 * A pooled connection is one evhttp_connection carrying one request at a
 * time (evhttp does not pipeline). fetch takes an idle one with
 * pool_take() or opens one to an address it resolved with pool_open(),
 * and gives it back with pool_release(). A connection the peer closed, or
 * one that failed, is freed (later, never from inside libevent's own
 * callbacks) and never reconnected: a TLS connection must not reuse its
 * spent SSL object (LIBEVENT-NOTES.md, TLS).
 *
 * Idle connections are bounded per origin and in all, reused most
 * recently used first, and closed after [upstream] idle_timeout_ms of
 * silence by evhttp's own inactivity timeout, so an idle pool costs no
 * timer of ours.
 */
#ifndef FANOUTD_POOL_H
#define FANOUTD_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "resolve.h"

struct pool;
struct pconn;

/* cfg must outlive the pool; its idle limits and response-head cap are
 * read where they apply, so a reload changes them in place. */
struct pool *pool_new(struct event_base *base, const struct config *cfg,
    char *why, size_t whylen);
/* Closes every connection; none may be in use. */
void pool_free(struct pool *p);

/* The most recently used idle connection to origin, or NULL. */
struct pconn *pool_take(struct pool *p, const char *origin);

/*
 * A new connection to addr:port for origin. It connects when its first
 * request is made. For https, tls_host is the URL's host: it is sent as
 * SNI (unless an IP literal) and the certificate is verified against it.
 * Returns NULL with a reason in why (e.g. TLS set-up failed).
 */
struct pconn *pool_open(struct pool *p, const char *origin,
    const union sockaddr_any *addr, uint16_t port, bool https,
    const char *tls_host, bool tls_host_is_ip, char *why, size_t whylen);

/*
 * Get ready for one request that must end within timeout_ms: evhttp's
 * inactivity timeout is set just above it so the attempt's own timer
 * always fires first; the wire expects its response (no body after a
 * HEAD).
 */
void pconn_begin(struct pconn *pc, uint32_t timeout_ms, bool head_request);
/* After evhttp_make_request(): the request goes out now, or once the
 * new connection is up. */
void pconn_sent(struct pconn *pc);
/* Why the wire refused the response (framing it cannot trust), or NULL:
 * evhttp then failed the request as EOF. */
const char *pconn_fault(const struct pconn *pc);
/* The response's framing fields as the upstream sent them, in place of
 * the canonical ones evhttp was given. */
struct evkeyvalq;
void pconn_restore_headers(const struct pconn *pc, struct evkeyvalq *headers);

/*
 * Give a connection back. reusable: its last response was complete; it
 * then joins the idle list unless the peer closed it, the wire says it
 * must not carry another request, or the idle limits are full.
 * Otherwise it is freed.
 */
void pool_release(struct pool *p, struct pconn *pc, bool reusable);

struct evhttp_connection *pconn_evcon(struct pconn *pc);

/* Stop (paused) or resume reading the response on pc: for a body
 * observer that cannot keep up. Bytes already read wait in the buffers
 * and are handed on at the resume. */
void pconn_pause_read(struct pconn *pc, bool paused);
/* True once TCP is connected (and, for https, the handshake is done). */
bool pconn_established(struct pconn *pc);
/* True when the connection carried a request before the current one. */
bool pconn_reused(const struct pconn *pc);
/* True once a TLS handshake completed on this connection (TCP was
 * connected, whatever failed next). */
bool pconn_tls_handshaked(const struct pconn *pc);
/* The peer's address (port 0), for the egress policy. */
const union sockaddr_any *pconn_addr(const struct pconn *pc);
/* "ip:port" of the peer, for messages. */
const char *pconn_peer(const struct pconn *pc);
/* For https: why the handshake or verification failed, in words; NULL
 * when nothing TLS-specific is known. */
const char *pconn_tls_error(struct pconn *pc, char *buf, size_t n);

/* Gauges, for metrics. */
uint64_t pool_idle_count(const struct pool *p);
uint64_t pool_open_count(const struct pool *p);

#endif
