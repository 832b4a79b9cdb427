/*
 * guard.c - the caller's bytes, framed before evhttp reads them, and
 * the caller-side limits (see guard.h).
 *
 * Each accepted connection gets a struct conn, found by its fd through
 * g->byfd once the fd is known. A conn is freed only when its socket is
 * provably gone - its fd is closed or holds another socket (another
 * inode) - because only the bufferevent closes the fd, so no callback
 * can reach a conn after that.
 *
 * Bytes move one way: the bufferevent's input (where evhttp reads) ->
 * conn->raw (taken in conn_take, before evhttp's read callback runs)
 * -> framed by conn_pump -> back into the input as canonical bytes.
 * Only one request at a time is handed over: the next head is read
 * once the reply before it is done, so its clock, its 100 Continue and
 * a refusal all come in order. Timers: one per conn while a request is
 * being read, one while the listeners are paused, one per lingering
 * close; none when idle.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>

#include "buf.h"
#include "chunked.h"
#include "guard.h"
#include "log.h"
#include "reqhead.h"
#include "util.h"

#define GUARD_MAX_LISTENERS 16
#define GUARD_RECHECK_MS    100
#define GUARD_KILL_MS       2000       /* a refusal not written by then: cut */
#define LINGER_IDLE_MS      2000       /* a lingering close: quiet this long */
#define LINGER_TOTAL_MS     10000      /* ... or this long in all */
#define LINGER_MAX          256        /* lingering closes at once */
#define GUARD_MAX_QUEUED    (1u << 20) /* pipelined behind a request */

enum conn_state {
	CONN_PENDING, /* accepted, fd not looked up yet; the clock runs */
	CONN_IDLE,    /* keep-alive, between requests: no clock */
	CONN_HEAD,    /* a request head is arriving */
	CONN_BODY,    /* its head went to evhttp; its body follows */
	CONN_HANDED,  /* evhttp has all of it (or a refusal's stand-in) */
	CONN_BUSY,    /* evhttp handed it over: the reply is under way */
	CONN_CLOSING, /* the last reply is done; what arrives is dropped */
};

struct conn {
	struct guard *g;
	struct bufferevent *bev; /* touched only from its own callbacks */
	int fd;                  /* -1 until known */
	dev_t dev;
	ino_t ino;
	enum conn_state state;
	struct event *deadline;
	struct evbuffer *raw; /* the caller's bytes, not framed yet */
	struct evbuffer *tmp; /* scratch */
	bool feeding;         /* we move bytes in the input: not news */
	/* The request being read. */
	struct reqhead rh;
	char *head; /* its first bytes, until its head ends */
	size_t headlen, headcap;
	uint64_t left; /* Content-Length bytes still to pass */
	bool chunked;  /* the body is chunked: ck decodes it */
	struct chunked ck;
	bool last;            /* no request after this one */
	char *target;         /* its route target */
	enum req_err refused; /* RERR__COUNT, or the refusal */
	char reason[192];
};

struct lingering {
	struct guard *g;
	int fd;
	struct event *ev;
	uint64_t start_us;
	TAILQ_ENTRY(lingering) link;
};

struct guard {
	struct event_base *base;
	uint64_t read_timeout_ms;
	uint64_t max_connections;
	struct reqhead_limits lim;
	bool ssl;
	struct conn **byfd; /* fd -> conn */
	size_t nbyfd;
	struct conn **pending; /* accepted this loop turn; bev held */
	size_t npending, cpending;
	struct event *register_ev;
	uint64_t nopen; /* conns not yet proven closed */
	struct evhttp_bound_socket *listeners[GUARD_MAX_LISTENERS];
	unsigned nlisteners;
	bool paused;
	struct event *recheck_ev;
	TAILQ_HEAD(, lingering) lingers;
	unsigned nlinger;
};

/* Zeros to complete a body whose request was refused midway. */
static const char zeros[65536];

static void conn_pump(struct conn *c);

/* Is c's socket still open on its fd? */
static bool
conn_alive(const struct conn *c)
{
	struct stat st;

	return c->fd >= 0 && fstat(c->fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
	    st.st_ino == c->ino && st.st_dev == c->dev;
}

static void
conn_free(struct conn *c)
{
	struct guard *g = c->g;

	if (c->fd >= 0 && (size_t)c->fd < g->nbyfd && g->byfd[c->fd] == c)
		g->byfd[c->fd] = NULL;
	if (c->deadline != NULL)
		event_free(c->deadline);
	evbuffer_free(c->raw);
	evbuffer_free(c->tmp);
	free(c->head);
	free(c->target);
	g->nopen--;
	free(c);
}

/* Start the request's clock, unless it runs already. */
static void
conn_arm(struct conn *c, uint64_t ms)
{
	if (!evtimer_pending(c->deadline, NULL))
		timer_arm_ms(c->deadline, ms);
}

/*
 * Move src's first n bytes into the input evhttp reads. A socket
 * bufferevent freezes its input's end between reads; evhttp only reads
 * from the front, so adding at the end is safe (RFC-wise: these are
 * the next bytes of the stream).
 */
static void
conn_push(struct conn *c, struct evbuffer *src, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	c->feeding = true;
	if (evbuffer_remove_buffer(src, in, n) < 0) {
		evbuffer_unfreeze(in, 0);
		evbuffer_remove_buffer(src, in, n);
		evbuffer_freeze(in, 0);
	}
	c->feeding = false;
}

static void
conn_push_mem(struct conn *c, const char *data, size_t len)
{
	evbuffer_add(c->tmp, data, len);
	conn_push(c, c->tmp, len);
}

/*
 * Refuse the request being read: hand evhttp something that ends in a
 * complete request - a stand-in head when none was handed yet, else
 * the body completed with zeros or a last chunk - which
 * guard_request_read marks refused. The rest of the caller's bytes are
 * dropped; the connection closes after the reply (guard_reply_done),
 * or after GUARD_KILL_MS if the reply cannot go out.
 */
static void
conn_refuse(struct conn *c, enum req_err e, const char *why)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: fanoutd\r\n\r\n";
	static const char head[] = "HEAD / HTTP/1.1\r\nHost: fanoutd\r\n\r\n";

	c->refused = e;
	snprintf(c->reason, sizeof(c->reason), "%s", why);
	c->last = true;
	if (c->state == CONN_BODY && c->chunked) {
		conn_push_mem(c, "0\r\n\r\n", 5);
	} else if (c->state == CONN_BODY) {
		while (c->left > 0) {
			size_t k = c->left < sizeof(zeros) ? (size_t)c->left
			                                   : sizeof(zeros);

			evbuffer_add_reference(c->tmp, zeros, k, NULL, NULL);
			conn_push(c, c->tmp, k);
			c->left -= k;
		}
	} else if (c->state == CONN_HEAD && c->rh.head) {
		conn_push_mem(c, head, sizeof(head) - 1);
	} else {
		conn_push_mem(c, get, sizeof(get) - 1);
	}
	c->state = CONN_HANDED;
	evbuffer_drain(c->raw, evbuffer_get_length(c->raw));
	event_del(c->deadline);
	conn_arm(c, GUARD_KILL_MS);
	/* From a timer, nothing else would wake evhttp's reader. */
	bufferevent_trigger(c->bev, EV_READ,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* The request's clock ran out (or, after a refusal, its last grace). */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char text[120];
	SSL *ssl;

	if (!conn_alive(c)) {
		conn_free(c);
		return;
	}
	if (c->refused != RERR__COUNT) {
		shutdown(c->fd, SHUT_RDWR); /* evhttp sees the end, frees */
		return;
	}
	if (c->state != CONN_PENDING && c->state != CONN_HEAD &&
	    c->state != CONN_BODY)
		return;
	log_info("closing a connection whose request was not read within "
	         "%llu ms",
	    (unsigned long long)c->g->read_timeout_ms);
	ssl = c->g->ssl ? bufferevent_openssl_get_ssl(c->bev) : NULL;
	if (c->g->ssl && (ssl == NULL || !SSL_is_init_finished(ssl))) {
		shutdown(c->fd, SHUT_RDWR); /* no reply without TLS */
		return;
	}
	snprintf(text, sizeof(text),
	    "the request was not received within %llu ms "
	    "([server] request_read_timeout_ms)",
	    (unsigned long long)c->g->read_timeout_ms);
	conn_refuse(c, RERR_TIMEOUT, text);
}

/* Give c its fd slot; whatever held the slot is gone (its fd was
 * closed, which only its bufferevent does). */
static void
conn_register(struct conn *c)
{
	struct guard *g = c->g;
	int fd = bufferevent_getfd(c->bev), one = 1;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		return;
	if ((size_t)fd >= g->nbyfd) {
		size_t n = g->nbyfd ? g->nbyfd : 64;

		while (n <= (size_t)fd)
			n *= 2;
		g->byfd = xrealloc(g->byfd, n * sizeof(*g->byfd));
		memset(
		    g->byfd + g->nbyfd, 0, (n - g->nbyfd) * sizeof(*g->byfd));
		g->nbyfd = n;
	}
	if (g->byfd[fd] != NULL && g->byfd[fd] != c)
		conn_free(g->byfd[fd]);
	g->byfd[fd] = c;
	c->fd = fd;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	/* Results stream out as small writes: Nagle against the caller's
	 * delayed ACK would hold each last chunk back 40 ms. (Fails
	 * harmlessly on unix sockets.) */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/*
 * The head: collected in c->head (bounded by reqhead_max_bytes) and
 * judged as it grows. Returns true when it is done with (handed over
 * or refused) and the pump may go on.
 */
static bool
conn_pump_head(struct conn *c)
{
	const struct reqhead_limits *lim = &c->g->lim;
	size_t max = reqhead_max_bytes(lim), n = evbuffer_get_length(c->raw);
	struct buf b = BUF_INIT;

	if (n > max - c->headlen)
		n = max - c->headlen;
	if (c->headlen + n > c->headcap) {
		c->headcap = c->headlen + n > 512 ? c->headlen + n : 512;
		c->head = xrealloc(c->head, c->headcap);
	}
	evbuffer_remove(c->raw, c->head + c->headlen, n);
	c->headlen += n;
	switch (reqhead_parse(&c->rh, c->head, c->headlen, lim)) {
	case REQHEAD_MORE:
		return false;
	case REQHEAD_BAD:
		conn_refuse(c, c->rh.error, c->rh.message);
		return true;
	case REQHEAD_OK:
		break;
	}
	/* What followed the head is the body, or the next request. */
	evbuffer_prepend(
	    c->raw, c->head + c->rh.head_len, c->headlen - c->rh.head_len);
	reqhead_canon(&c->rh, c->head, &b);
	conn_push_mem(c, b.data, b.len);
	buf_reset(&b);
	reqhead_route(&c->rh, c->head, &b);
	free(c->target);
	c->target = xstrdup(buf_cstr(&b));
	buf_free(&b);
	free(c->head);
	c->head = NULL;
	c->headlen = c->headcap = 0;
	c->last = c->rh.close;
	c->left = c->rh.length;
	c->chunked = c->rh.framing == REQHEAD_BODY_CHUNKED;
	if (c->chunked)
		chunked_init(
		    &c->ck, lim->max_body_bytes, lim->max_header_bytes);
	c->state = c->rh.framing == REQHEAD_BODY_NONE ? CONN_HANDED : CONN_BODY;
	return true;
}

/* Decoded chunk data in c->tmp, handed to evhttp as one plain chunk. */
static void
conn_push_chunk(struct conn *c, struct evbuffer *data)
{
	size_t n = evbuffer_get_length(data);
	char line[24];

	if (n == 0)
		return;
	snprintf(line, sizeof(line), "%zx\r\n", n);
	conn_push_mem(c, line, strlen(line));
	conn_push(c, data, n);
	conn_push_mem(c, "\r\n", 2);
}

/* The body, by length or chunked. Returns true once it has ended (or
 * the request was refused). */
static bool
conn_pump_body(struct conn *c)
{
	enum chunked_status st = CHUNKED_MORE;
	struct evbuffer *data;

	if (!c->chunked) {
		size_t n = evbuffer_get_length(c->raw);

		if (n > c->left)
			n = (size_t)c->left;
		conn_push(c, c->raw, n);
		c->left -= n;
		if (c->left > 0)
			return false;
		c->state = CONN_HANDED;
		return true;
	}
	data = evbuffer_new();
	while (evbuffer_get_length(c->raw) > 0 && st != CHUNKED_DONE &&
	    st != CHUNKED_BAD) {
		struct evbuffer_iovec v;
		size_t used, doff, dlen;

		evbuffer_peek(c->raw, -1, NULL, &v, 1);
		st = chunked_step(
		    &c->ck, v.iov_base, v.iov_len, &used, &doff, &dlen);
		evbuffer_drain(c->raw, st == CHUNKED_DATA ? doff : used);
		if (st == CHUNKED_DATA)
			evbuffer_remove_buffer(c->raw, data, dlen);
	}
	if (st != CHUNKED_BAD)
		conn_push_chunk(c, data);
	evbuffer_free(data);
	if (st == CHUNKED_BAD) {
		conn_refuse(c, c->ck.error, c->ck.message);
		return true;
	}
	if (st != CHUNKED_DONE)
		return false;
	conn_push_mem(c, "0\r\n\r\n", 5);
	c->state = CONN_HANDED;
	return true;
}

/* Frame what c->raw holds, as far as evhttp is ready for it. */
static void
conn_pump(struct conn *c)
{
	for (;;) {
		switch (c->state) {
		case CONN_PENDING:
		case CONN_IDLE:
			if (evbuffer_get_length(c->raw) == 0)
				return;
			conn_arm(c, c->g->read_timeout_ms);
			reqhead_init(&c->rh);
			c->state = CONN_HEAD;
			break;
		case CONN_HEAD:
			if (!conn_pump_head(c))
				return;
			break;
		case CONN_BODY:
			if (!conn_pump_body(c))
				return;
			break;
		case CONN_HANDED:
		case CONN_BUSY:
			/* The next request waits for this one's reply, but
			 * after the last one nothing is read, and a caller
			 * may queue only so much behind a reply. */
			if (!c->last &&
			    evbuffer_get_length(c->raw) > GUARD_MAX_QUEUED) {
				log_info(
				    "a caller sent over %u bytes behind a "
				    "request in progress: they are dropped "
				    "and the connection closes after its "
				    "reply",
				    GUARD_MAX_QUEUED);
				c->last = true;
			}
			if (c->last)
				evbuffer_drain(
				    c->raw, evbuffer_get_length(c->raw));
			return;
		case CONN_CLOSING:
			evbuffer_drain(c->raw, evbuffer_get_length(c->raw));
			return;
		}
	}
}

/*
 * Take the bytes just read - the last n of buf, after any canonical
 * bytes evhttp has not read yet - into c->raw, then frame them. This
 * runs inside the read, before the bufferevent calls evhttp. Bytes of
 * a Content-Length body that nothing waits before are left where they
 * are: they are what conn_pump_body would hand evhttp anyway.
 */
static void
conn_input_cb(
    struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;
	size_t len = evbuffer_get_length(buf), n = info->n_added, keep;

	if (c->feeding || n == 0)
		return;
	if (c->fd < 0)
		conn_register(c);
	if (c->state == CONN_BODY && !c->chunked &&
	    evbuffer_get_length(c->raw) == 0) {
		size_t body = n < c->left ? n : (size_t)c->left;

		c->left -= body;
		if (c->left == 0)
			c->state = CONN_HANDED;
		if ((n -= body) == 0)
			return;
	}
	keep = n < len ? len - n : 0;
	c->feeding = true;
	evbuffer_remove_buffer(buf, c->tmp, keep);
	evbuffer_add_buffer(c->raw, buf);
	evbuffer_add_buffer(buf, c->tmp);
	c->feeding = false;
	conn_pump(c);
}

/* Find the conn of evcon (NULL when it is not followed). */
static struct conn *
guard_find(struct guard *g, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
	int fd = bev ? bufferevent_getfd(bev) : -1;
	struct conn *c;

	if (fd < 0 || (size_t)fd >= g->nbyfd || (c = g->byfd[fd]) == NULL)
		return NULL;
	return c->bev == bev ? c : NULL;
}

static void
linger_free(struct lingering *l)
{
	TAILQ_REMOVE(&l->g->lingers, l, link);
	l->g->nlinger--;
	event_free(l->ev);
	close(l->fd);
	free(l);
}

/* A lingering close: read and drop until the caller closes too. */
static void
linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lingering *l = arg;
	char sink[16384];
	ssize_t n;

	if (what & EV_TIMEOUT) {
		linger_free(l);
		return;
	}
	while ((n = recv(fd, sink, sizeof(sink), 0)) > 0)
		;
	if (n == 0 || (errno != EAGAIN && errno != EINTR) ||
	    mono_us() - l->start_us > LINGER_TOTAL_MS * 1000ull)
		linger_free(l);
}

/*
 * The last reply on c went out and evhttp is about to close c's fd.
 * Closing a socket with unread bytes sends a reset, which can destroy
 * that very reply before the caller reads it (a caller refused with
 * 413 is typically still sending its body). So the socket is kept
 * through a dup of its fd: our side is shut for writing (the caller
 * sees the end after the reply), and what the caller still sends is
 * read and dropped until it closes, or for a few seconds (RFC 9112
 * §9.6).
 */
static void
conn_linger(struct conn *c)
{
	struct guard *g = c->g;
	struct timeval tv = tv_ms(LINGER_IDLE_MS);
	struct lingering *l;
	int fd;

	if (g->nlinger >= LINGER_MAX || c->fd < 0 ||
	    (fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		return;
	shutdown(fd, SHUT_WR);
	l = xcalloc(1, sizeof(*l));
	l->g = g;
	l->fd = fd;
	l->start_us = mono_us();
	l->ev = event_new(g->base, fd, EV_READ | EV_PERSIST, linger_cb, l);
	event_add(l->ev, &tv);
	TAILQ_INSERT_TAIL(&g->lingers, l, link);
	g->nlinger++;
}

/* Free every conn whose socket is gone; the count is exact after. */
static void
guard_recount(struct guard *g)
{
	size_t i;

	for (i = 0; i < g->nbyfd; i++)
		if (g->byfd[i] != NULL && !conn_alive(g->byfd[i]))
			conn_free(g->byfd[i]);
}

static void
guard_pause(struct guard *g, bool pause)
{
	unsigned i;

	if (g->paused == pause)
		return;
	g->paused = pause;
	for (i = 0; i < g->nlisteners; i++) {
		struct evconnlistener *l =
		    evhttp_bound_socket_get_listener(g->listeners[i]);

		if (pause)
			evconnlistener_disable(l);
		else
			evconnlistener_enable(l);
	}
	if (pause) {
		log_warn("%llu connections open ([server] max_connections): "
		         "not accepting more until one closes",
		    (unsigned long long)g->nopen);
		timer_arm_ms(g->recheck_ev, GUARD_RECHECK_MS);
	} else {
		event_del(g->recheck_ev);
	}
}

/* While paused: resume once a connection has closed. */
static void
guard_recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;

	guard_recount(g);
	if (g->nopen < g->max_connections)
		guard_pause(g, false);
	else
		timer_arm_ms(g->recheck_ev, GUARD_RECHECK_MS);
}

/* After the accept callbacks: look up the fds of new connections. */
static void
guard_register_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	size_t i;

	for (i = 0; i < g->npending; i++) {
		struct conn *c = g->pending[i];
		struct bufferevent *bev = c->bev;

		if (c->fd < 0)
			conn_register(c);
		if (c->fd < 0) {
			/* evhttp dropped it before it got a socket. */
			conn_free(c);
		} else if (c->state == CONN_PENDING) {
			conn_arm(c, g->read_timeout_ms); /* the first request */
		}
		bufferevent_decref(bev);
	}
	g->npending = 0;
}

void
guard_watch(struct guard *g, struct bufferevent *bev)
{
	struct conn *c = xcalloc(1, sizeof(*c));

	c->g = g;
	c->bev = bev;
	c->fd = -1;
	c->state = CONN_PENDING;
	c->refused = RERR__COUNT;
	c->deadline = evtimer_new(g->base, conn_deadline_cb, c);
	c->raw = evbuffer_new();
	c->tmp = evbuffer_new();
	g->nopen++;
	/* Held until guard_register_cb: evhttp sets its fd after we return,
	 * and could free it first on an error path. */
	bufferevent_incref(bev);
	if (g->npending == g->cpending) {
		g->cpending = g->cpending ? g->cpending * 2 : 16;
		g->pending =
		    xrealloc(g->pending, g->cpending * sizeof(*g->pending));
	}
	g->pending[g->npending++] = c;
	evbuffer_add_cb(bufferevent_get_input(bev), conn_input_cb, c);
	event_active(g->register_ev, EV_TIMEOUT, 1);
	/* At the cap, stop accepting now: the listener's accept loop checks
	 * after each connection whether it was disabled. */
	if (g->nopen >= g->max_connections) {
		guard_recount(g);
		if (g->nopen >= g->max_connections)
			guard_pause(g, true);
	}
}

void
guard_request_read(
    struct guard *g, struct evhttp_connection *evcon, struct guard_request *out)
{
	struct conn *c = guard_find(g, evcon);

	out->refused = RERR__COUNT;
	out->message = NULL;
	out->target = "/";
	if (c == NULL || c->state != CONN_HANDED) {
		/* Every request is handed over by conn_pump: not one. */
		out->refused = RERR_INTERNAL;
		out->message = "the request was not read by fanoutd's guard";
		return;
	}
	c->state = CONN_BUSY;
	if (c->refused != RERR__COUNT) {
		out->refused = c->refused;
		out->message = c->reason;
		return;
	}
	event_del(c->deadline);
	out->target = c->target ? c->target : "/";
}

void
guard_reply_done(struct guard *g, struct evhttp_connection *evcon)
{
	struct conn *c = guard_find(g, evcon);

	if (c == NULL || c->state != CONN_BUSY)
		return;
	if (c->last) {
		conn_linger(c);
		c->state = CONN_CLOSING;
		evbuffer_drain(c->raw, evbuffer_get_length(c->raw));
		return;
	}
	/* The next request's bytes, if any, start its clock now; evhttp
	 * finds them in its input once it reads again. */
	c->state = CONN_IDLE;
	conn_pump(c);
}

struct guard *
guard_new(struct event_base *base, const struct config *cfg, int ssl)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	g->base = base;
	g->ssl = ssl != 0;
	TAILQ_INIT(&g->lingers);
	g->register_ev = event_new(base, -1, 0, guard_register_cb, g);
	g->recheck_ev = evtimer_new(base, guard_recheck_cb, g);
	guard_configure(g, cfg);
	return g;
}

void
guard_configure(struct guard *g, const struct config *cfg)
{
	g->read_timeout_ms = cfg->request_read_timeout_ms;
	g->max_connections = cfg->max_connections;
	g->lim.max_header_bytes = cfg->max_header_bytes;
	g->lim.max_headers = cfg->max_headers;
	g->lim.max_url_bytes = cfg->max_url_bytes;
	g->lim.max_body_bytes = cfg->max_request_bytes;
	if (g->paused && g->nopen < g->max_connections)
		guard_pause(g, false);
}

void
guard_add_listener(struct guard *g, struct evhttp_bound_socket *bs)
{
	if (g->nlisteners < GUARD_MAX_LISTENERS)
		g->listeners[g->nlisteners++] = bs;
}

/* After evhttp_free: every connection is closed. */
void
guard_free(struct guard *g)
{
	size_t i;

	if (g == NULL)
		return;
	for (i = 0; i < g->npending; i++) {
		struct bufferevent *bev = g->pending[i]->bev;

		conn_free(g->pending[i]);
		bufferevent_decref(bev);
	}
	for (i = 0; i < g->nbyfd; i++)
		if (g->byfd[i] != NULL)
			conn_free(g->byfd[i]);
	while (!TAILQ_EMPTY(&g->lingers))
		linger_free(TAILQ_FIRST(&g->lingers));
	free(g->byfd);
	free(g->pending);
	event_free(g->register_ev);
	event_free(g->recheck_ev);
	free(g);
}
