/*
 * wirebev.c - the filter between an upstream connection's transport and
 * evhttp (see wirebev.h): the wire (wire.c) as the filter's input, and
 * the transport's callbacks wrapped to see the connect and write errors
 * before the filter passes them up.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "log.h"
#include "wirebev.h"

/* Both of a connection's outgoing buffers, so the request's bytes not
 * yet handed to the kernel. */
static size_t
wirebev_unsent(const struct wirebev *wb)
{
	return evbuffer_get_length(bufferevent_get_output(wb->top)) +
	    evbuffer_get_length(bufferevent_get_output(wb->transport));
}

/* Drop what is left of the request. */
static void
wirebev_stop_sending(struct wirebev *wb)
{
	struct evbuffer *b = bufferevent_get_output(wb->top);

	evbuffer_drain(b, evbuffer_get_length(b));
	b = bufferevent_get_output(wb->transport);
	evbuffer_drain(b, evbuffer_get_length(b));
}

/*
 * A final response head went up to evhttp. When the request is still
 * being written, the server answered early (RFC 9112 §9.5): the
 * connection is never reused, and an answer of 300 or more means the
 * server does not want the rest, so it is not sent (what curl does; a
 * 2xx may still want it, say from a server that echoes as it reads).
 */
static void
wirebev_final_head(struct wirebev *wb)
{
	wb->wire.final_head = false;
	if (wirebev_unsent(wb) == 0)
		return;
	wb->cut = true;
	log_debug("wire: a %d arrived with %zu bytes of the request unsent",
	    wb->wire.status, wirebev_unsent(wb));
	if (wb->wire.status >= 300)
		wirebev_stop_sending(wb);
}

/* The filter's input side: the transport's bytes through the wire.
 * BEV_OK tells the filter that evhttp has something new. */
static enum bufferevent_filter_result
wirebev_filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct wirebev *wb = ctx;
	size_t before = evbuffer_get_length(dst);

	if (wire_feed(&wb->wire, src, dst) != 0) {
		/* evhttp fails the request (as EOF); fetch asks
		 * wirebev_fault() why. */
		log_debug("wire: %s", wb->wire.why);
		bufferevent_disable(wb->transport, EV_READ);
		bufferevent_trigger_event(wb->top,
		    BEV_EVENT_READING | BEV_EVENT_ERROR,
		    BEV_TRIG_DEFER_CALLBACKS);
		return BEV_ERROR;
	}
	if (wb->wire.final_head)
		wirebev_final_head(wb);
	return evbuffer_get_length(dst) > before ? BEV_OK : BEV_NEED_MORE;
}

static void
wirebev_read_cb(struct bufferevent *bev, void *arg)
{
	struct wirebev *wb = arg;

	wb->t_read(bev, wb->t_arg);
}

static void
wirebev_write_cb(struct bufferevent *bev, void *arg)
{
	struct wirebev *wb = arg;

	wb->t_write(bev, wb->t_arg);
}

/*
 * evhttp has put a request in the filter's output and waits for the
 * filter's write callback. The filter moves output only as it is added
 * while writing is on, and calls back only when it moved some: on a
 * reused connection evhttp adds with writing off, on a new one it adds
 * before it sets the callback it waits for. Either way, move it and
 * call back now, so the request goes out in this turn of the loop.
 */
static void
wirebev_kick(struct wirebev *wb)
{
	if (evbuffer_get_length(bufferevent_get_output(wb->top)) > 0)
		bufferevent_flush(wb->top, EV_WRITE, BEV_NORMAL);
	else
		bufferevent_trigger(wb->top, EV_WRITE, 0);
}

/*
 * The transport's events, before the filter hands them to evhttp. A
 * socket that fails for writing once it carried a request may still
 * hold the answer (a 413 or 401 sent before the server stopped reading):
 * the failure is kept from evhttp, which would drop the connection and
 * its answer; reading goes on, and its own end (EOF, reset) ends the
 * attempt. TLS stops reading on any failure, so it is passed on.
 */
static void
wirebev_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wirebev *wb = arg;

	if (what & BEV_EVENT_CONNECTED)
		wb->connected = true;
	if ((what & BEV_EVENT_WRITING) &&
	    (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) && !wb->tls &&
	    wb->connected && wb->wire.state != WIRE_IDLE) {
		log_debug(
		    "wire: write failed with %zu bytes unsent; reading on",
		    wirebev_unsent(wb));
		wb->cut = true;
		wirebev_stop_sending(wb);
		return;
	}
	wb->t_event(bev, what, wb->t_arg);
	if (what & BEV_EVENT_CONNECTED)
		wirebev_kick(wb); /* evhttp wrote its queued request */
}

int
wirebev_init(struct wirebev *wb, struct bufferevent *transport, bool tls,
    size_t max_head)
{
	memset(wb, 0, sizeof(*wb));
	wb->transport = transport;
	wb->tls = tls;
	wb->top = bufferevent_filter_new(transport, wirebev_filter_in, NULL,
	    BEV_OPT_CLOSE_ON_FREE, NULL, wb);
	if (wb->top == NULL)
		return -1;
	wire_init(&wb->wire, max_head);
	bufferevent_getcb(
	    transport, &wb->t_read, &wb->t_write, &wb->t_event, &wb->t_arg);
	bufferevent_setcb(
	    transport, wirebev_read_cb, wirebev_write_cb, wirebev_event_cb, wb);
	return 0;
}

void
wirebev_free(struct wirebev *wb)
{
	wire_free(&wb->wire);
}

void
wirebev_expect(struct wirebev *wb, bool head_request)
{
	wire_expect(&wb->wire, head_request);
}

void
wirebev_sent(struct wirebev *wb)
{
	if (!wb->hooked && !wb->tls) { /* TLS reports its handshake */
		wb->hooked = true;
		if (bufferevent_getfd(wb->transport) >= 0)
			bufferevent_socket_connect(wb->transport, NULL, 0);
	}
	if (wb->connected)
		wirebev_kick(wb);
}

bool
wirebev_reusable(const struct wirebev *wb)
{
	return wire_reusable(&wb->wire) && !wb->cut &&
	    evbuffer_get_length(bufferevent_get_input(wb->top)) == 0 &&
	    evbuffer_get_length(bufferevent_get_input(wb->transport)) == 0 &&
	    wirebev_unsent(wb) == 0;
}

const char *
wirebev_fault(const struct wirebev *wb)
{
	return wb->wire.state == WIRE_FAULT ? wb->wire.why : NULL;
}

void
wirebev_restore_headers(const struct wirebev *wb, struct evkeyvalq *h)
{
	const char *p = wb->wire.orig.data, *end = p + wb->wire.orig.len;

	if (!wb->wire.rewrote)
		return;
	evhttp_remove_header(h,
	    wb->wire.body == WIRE_BODY_CLOSE         ? "Connection"
	        : wb->wire.body == WIRE_BODY_CHUNKED ? "Transfer-Encoding"
	                                             : "Content-Length");
	while (p < end) {
		const char *value = p + strlen(p) + 1;

		evhttp_add_header(h, p, value);
		p = value + strlen(value) + 1;
	}
}
