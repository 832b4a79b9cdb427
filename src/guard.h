/*
 * guard.h - the one place every caller's bytes pass through before
 * evhttp reads them, on plain and HTTPS listeners alike, and the limits
 * on callers that evhttp does not enforce.
 *
 * evhttp 2.1 gives no hook per connection but the bufferevent it asks
 * for (evhttp_set_bevcb). The guard puts a callback on that
 * bufferevent's input buffer, which sees each read's bytes - decrypted,
 * on HTTPS - before evhttp's read callback does, and takes them. It
 * frames each request itself: the head through reqhead.h (a strict RFC
 * 9112 validator), the body by Content-Length or through chunked.h;
 * evhttp is handed a canonical copy, one request at a time, so its
 * lenient parser never sees a head it could read differently from a
 * proxy in front. A request the guard refuses (400, 408, 413, 414,
 * 417, 431, 501, 505) is handed over as a stand-in request that
 * guard_request_read marks refused, so the JSON error is written by
 * evhttp - through TLS where there is TLS - after any reply before it;
 * the connection then closes, gracefully (our side shut, the caller's
 * remaining bytes read and dropped for a few seconds).
 *
 * Limits: a total deadline for reading each request, not only an
 * inactivity timeout (408); [server] max_connections, beyond which the
 * listeners stop accepting until a connection closes. Connections are
 * followed by file descriptor: a slot per fd, told apart from a later
 * socket on the same fd by its inode.
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

/* ssl: the listeners are HTTPS. Limits come from cfg's [server]. */
struct guard *guard_new(
    struct event_base *base, const struct config *cfg, int ssl);
void guard_free(struct guard *g);
/* Apply reloaded limits from the next request on. */
void guard_configure(struct guard *g, const struct config *cfg);

/* Listeners to pause when max_connections are open. */
void guard_add_listener(struct guard *g, struct evhttp_bound_socket *bs);

/* From the evhttp bevcb: a new connection's bufferevent, created by the
 * caller, to follow. */
void guard_watch(struct guard *g, struct bufferevent *bev);

/* What the guard knows of the request evhttp just read. */
struct guard_request {
	enum req_err refused; /* RERR__COUNT, or the error to answer */
	const char *message;  /* why it was refused */
	const char *target;   /* the target as sent, to route on */
};

/*
 * evhttp has read a whole request on evcon (its target there is not to
 * be routed on): stops the request's clock and fills *out. A refused
 * request must be answered with its error and "Connection: close".
 * Pointers in *out last until guard_reply_done.
 */
void guard_request_read(struct guard *g, struct evhttp_connection *evcon,
    struct guard_request *out);

/* The reply on evcon is complete: the next request may be read. */
void guard_reply_done(struct guard *g, struct evhttp_connection *evcon);

#endif
