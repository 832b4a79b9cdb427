/*
 * hostile.c - upstream endpoints that attack the client (issue #6): a
 * body dripped a byte at a time so no inactivity timeout ever fires, a
 * body that never ends, too many or too large response headers, a
 * malformed status line and broken chunk framing.
 *
 *   /drip/N?every=MS     N body bytes, one chunk of one byte every MS
 *                        (default 200) milliseconds
 *   /endless             a chunked body that never ends
 *   /many-headers/K      K response headers
 *   /big-header/BYTES    one response header BYTES long
 *   /bad-status          "HTTP/1.1 2x0 OK"
 *   /bad-chunk           a chunk size that is not hexadecimal
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstream.h"

#define ENDLESS_CHUNK (16 * 1024)
#define ENDLESS_QUEUE (256 * 1024)

static void
up_start_chunked(struct up_conn *c)
{
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	c->state = UP_WAIT; /* the timer writes from now on */
}

void
up_timer(struct up_conn *c, long ms, event_callback_fn cb, void *arg)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (c->timer != NULL)
		event_free(c->timer);
	c->timer = evtimer_new(bufferevent_get_base(c->bev), cb, arg);
	evtimer_add(c->timer, &tv);
}

static void
up_drip_cb(evutil_socket_t fd, short what, void *arg)
{
	struct up_conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	long long *left = &c->req.body_left; /* bytes still to drip */
	char q[16];
	long every = 200;

	if (up_query(&c->req, "every", q, sizeof(q)) != NULL)
		every = strtol(q, NULL, 10);
	if (*left <= 0) {
		evbuffer_add_printf(out, "0\r\n\r\n");
		c->after = AFTER_CLOSE;
		c->state = UP_WRITE;
		return;
	}
	evbuffer_add_printf(out, "1\r\n%c\r\n", (int)('a' + *left % 26));
	(*left)--;
	up_timer(c, every, up_drip_cb, c);
}

static void
up_endless_cb(evutil_socket_t fd, short what, void *arg)
{
	static char chunk[ENDLESS_CHUNK];
	struct up_conn *c = arg;
	struct evbuffer *out = bufferevent_get_output(c->bev);

	if (chunk[0] == 0)
		memset(chunk, 'e', sizeof(chunk));
	while (evbuffer_get_length(out) < ENDLESS_QUEUE) {
		evbuffer_add_printf(out, "%x\r\n", ENDLESS_CHUNK);
		evbuffer_add(out, chunk, sizeof(chunk));
		evbuffer_add(out, "\r\n", 2);
	}
	up_timer(c, 1, up_endless_cb, c);
}

static void
up_many_headers(struct up_conn *c, long k)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	long i;

	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < k; i++)
		evbuffer_add_printf(out, "X-Many-%ld: %ld\r\n", i, i);
	evbuffer_add_printf(out, "Content-Length: 3\r\n\r\nok\n");
	c->after = AFTER_CLOSE;
	c->state = UP_WRITE;
}

static void
up_big_header(struct up_conn *c, long bytes)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	long i;

	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\nX-Big: ");
	for (i = 0; i < bytes; i++)
		evbuffer_add(out, "b", 1);
	evbuffer_add_printf(out, "\r\nContent-Length: 3\r\n\r\nok\n");
	c->after = AFTER_CLOSE;
	c->state = UP_WRITE;
}

static void
up_raw(struct up_conn *c, const char *text)
{
	evbuffer_add(bufferevent_get_output(c->bev), text, strlen(text));
	c->after = AFTER_CLOSE;
	c->state = UP_WRITE;
}

bool
up_route_hostile(struct up_conn *c)
{
	struct up_req *r = &c->req;
	long n;

	if (up_path_is(r, "/drip/", &n)) {
		r->body_left = n;
		up_start_chunked(c);
		up_drip_cb(-1, 0, c);
	} else if (up_path_is(r, "/endless", NULL)) {
		up_start_chunked(c);
		up_endless_cb(-1, 0, c);
	} else if (up_path_is(r, "/many-headers/", &n)) {
		up_many_headers(c, n);
	} else if (up_path_is(r, "/big-header/", &n)) {
		up_big_header(c, n);
	} else if (up_path_is(r, "/bad-status", NULL)) {
		up_raw(c, "HTTP/1.1 2x0 OK\r\nContent-Length: 3\r\n\r\nok\n");
	} else if (up_path_is(r, "/bad-chunk", NULL)) {
		up_raw(c,
		    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n");
	} else {
		return false;
	}
	return true;
}
