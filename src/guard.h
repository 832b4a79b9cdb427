/*
 * guard.h - limits on the caller's side that evhttp does not enforce:
 * a total deadline for reading each request (headers and body), not
 * only an inactivity timeout, so a client that sends a byte a second is
 * cut at the deadline; and [server] max_connections, beyond which the
 * listeners stop accepting until a connection closes.
 *
 * evhttp 2.1 gives no hook per connection but the bufferevent it asks
 * for (evhttp_set_bevcb), so the guard follows connections by file
 * descriptor: a slot per fd, told apart from a later socket on the same
 * fd by its inode. A request's clock starts when its connection is
 * accepted or, on keep-alive, at the first byte after the last reply;
 * it stops once evhttp has read the whole request (the guard also sets
 * TCP_NODELAY on each caller socket it learns). At the deadline the
 * caller gets a 408 JSON error (plain listeners) and the socket is shut
 * down, which makes evhttp free the connection. The guard also reads
 * each request's head as it arrives, so a body announced over
 * max_request_bytes gets a JSON 413 before evhttp answers it in HTML.
 */
#ifndef FANOUTD_GUARD_H
#define FANOUTD_GUARD_H

#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "err.h"

struct guard;

/* ssl: the listeners are HTTPS (no plain 408 or 413 can be written
 * then). Limits come from cfg's [server] section. */
struct guard *guard_new(
    struct event_base *base, const struct config *cfg, int ssl);
void guard_free(struct guard *g);
/* Apply reloaded limits (read timeout, max_connections,
 * max_request_bytes, max_header_bytes) from now on. */
void guard_configure(struct guard *g, const struct config *cfg);

/* Listeners to pause when max_connections are open. */
void guard_add_listener(struct guard *g, struct evhttp_bound_socket *bs);

/* From the evhttp bevcb: a new connection's bufferevent, created by the
 * caller, to follow. */
void guard_watch(struct guard *g, struct bufferevent *bev);

/*
 * evhttp has read the whole request on evcon: stop its clock. Returns
 * RERR__COUNT, or the error the guard already answered on that
 * connection (408, 413) before evhttp finished reading - evhttp can
 * still hand over such a request (a body under its own limit, which a
 * reload lowered since the connection opened): it must not run.
 */
enum req_err guard_request_read(
    struct guard *g, struct evhttp_connection *evcon);
/* The reply on evcon is complete: the next request's clock starts with
 * its first byte. */
void guard_reply_done(struct guard *g, struct evhttp_connection *evcon);

/*
 * The request line and header limits of [server] (max_url_bytes,
 * max_headers, max_header_bytes): RERR__COUNT when req is within them,
 * else the error (414 or 431) with a message naming the setting.
 */
enum req_err guard_check_request(const struct config *cfg,
    struct evhttp_request *req, char *msg, size_t msglen);

/*
 * The body length a request head announces, read as evhttp will read
 * it: p[0..n) holds the request's first bytes, searched for the head's
 * end from offset `from` (bytes before it were searched already).
 * Returns -1 while the head is incomplete, 1 with *len when it announces
 * a Content-Length, 0 when it announces none (HEAD, TRACE, chunked, no
 * or a malformed header: evhttp decides those).
 */
int guard_head_body_length(const char *p, size_t n, size_t from, uint64_t *len);

/* Connections open now (an upper bound between checks), for metrics. */
uint64_t guard_connections(struct guard *g);

#endif
