/*
 * wirebev.h - the bufferevents of one upstream connection: the transport
 * (a socket, or TLS over one) under a filtering bufferevent whose input
 * filter is a struct wire (wire.h). evhttp is given the filter, so it
 * only ever parses responses the wire has framed (issue #13); pool.c
 * owns one per pooled connection.
 *
 * Three things evhttp 2.1 does not do over a filter, done here:
 *   - connect: evhttp connects the socket under the filter but only a
 *     socket bufferevent reports the connect; wirebev_started() tells
 *     the transport to report it (bufferevent_socket_connect with no
 *     address: "the socket is already connecting");
 *   - write completion: evhttp waits for the filter's write callback,
 *     which comes only when output moves, and the filter moves it only
 *     as it is added while writing is on: wirebev_sent() and the
 *     connect move the request and call back once it is whole;
 *   - early answers (RFC 9112 §9.5): a final
 *     response that arrives while the request is still being written
 *     is read; at 300 and above the rest of the request is dropped, as
 *     curl does; a socket that fails for writing keeps reading; and the
 *     connection is never reused after either.
 */
#ifndef FANOUTD_WIREBEV_H
#define FANOUTD_WIREBEV_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "wire.h"

struct wirebev {
	struct bufferevent *top;       /* evhttp's: the filter */
	struct bufferevent *transport; /* the socket, or TLS over it */
	bool tls;
	struct wire wire;
	/* The filter's own callbacks on the transport, which ours wrap. */
	bufferevent_data_cb t_read, t_write;
	bufferevent_event_cb t_event;
	void *t_arg;
	bool hooked;    /* wirebev_sent() told the socket to report */
	bool connected; /* the transport reported the connect */
	bool cut;       /* the request was not all written: never reuse */
};

/*
 * Put the filter over transport (whose ownership it takes: freeing
 * wb->top frees both). Heads over max_head are faults. 0, or -1.
 */
int wirebev_init(struct wirebev *wb, struct bufferevent *transport, bool tls,
    size_t max_head);
/* After evhttp_connection_free() (which freed the bufferevents). */
void wirebev_free(struct wirebev *wb);

/* Before each request: its response comes next. */
void wirebev_expect(struct wirebev *wb, bool head_request);
/* After evhttp_make_request(): on a new connection the socket is told
 * to report its connect; on an open one the request goes out. */
void wirebev_sent(struct wirebev *wb);

/* The last response was complete and the connection may carry more. */
bool wirebev_reusable(const struct wirebev *wb);
/* Why the response was refused (a framing fault), or NULL. */
const char *wirebev_fault(const struct wirebev *wb);
/* Put the framing fields as received back into the response headers
 * evhttp parsed (when the wire rewrote them). */
void wirebev_restore_headers(const struct wirebev *wb, struct evkeyvalq *h);

#endif
