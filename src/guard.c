/*
 * guard.c - the request read deadline and the connection cap (see
 * guard.h). Each accepted connection gets a struct conn, found by its
 * fd through g->byfd once the fd is known. A conn is freed only when
 * its socket is provably gone - its fd is closed or holds another
 * socket (another inode) - because only the bufferevent closes the fd,
 * so no callback can reach a conn after that. Timers: one per conn
 * while a request is being read, one while the listeners are paused;
 * none when idle.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "buf.h"
#include "emit.h"
#include "err.h"
#include "guard.h"
#include "log.h"
#include "util.h"

#define GUARD_MAX_LISTENERS 16
#define GUARD_RECHECK_MS    100

enum conn_state {
	CONN_PENDING, /* accepted; fd not looked up yet */
	CONN_READING, /* a request is being read: the clock runs */
	CONN_BUSY,    /* request read, reply under way */
	CONN_IDLE,    /* keep-alive, between requests */
	CONN_REFUSED, /* answered 413 early; evhttp discards the body */
	CONN_CUT,     /* deadline passed, socket shut down */
};

struct conn {
	struct guard *g;
	struct bufferevent *bev; /* touched only from its own callbacks */
	int fd;                  /* -1 until known */
	dev_t dev;
	ino_t ino;
	enum conn_state state;
	struct event *deadline;
	char *head;     /* the request's first bytes, until its head ends */
	size_t headlen; /* bytes in head */
	size_t headcap; /* its size, grown as needed */
	size_t headmax; /* the most it may hold */
	bool head_done; /* the head was examined (or cannot be) */
};

struct guard {
	struct event_base *base;
	uint64_t read_timeout_ms;
	uint64_t max_connections;
	uint64_t max_body_bytes; /* [server] max_request_bytes */
	size_t max_head;         /* evhttp's own bound on a request head */
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
};

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
	free(c->head);
	g->nopen--;
	free(c);
}

/* Start collecting the head of the connection's next request. */
static void
conn_head_reset(struct conn *c)
{
	free(c->head);
	c->head = NULL;
	c->headlen = 0;
	c->headcap = 0;
	c->headmax = c->g->max_head;
	c->head_done = c->g->ssl; /* no plain reply can be written there */
}

static void
conn_arm(struct conn *c)
{
	struct timeval tv;

	c->state = CONN_READING;
	tv.tv_sec = (time_t)(c->g->read_timeout_ms / 1000);
	tv.tv_usec = (suseconds_t)(c->g->read_timeout_ms % 1000) * 1000;
	event_add(c->deadline, &tv);
}

/* Write a JSON error reply of e straight to c's socket, past evhttp
 * (plain listeners only). Best effort: a full send buffer loses it. */
static void
conn_reply(struct conn *c, enum req_err e, const char *reason, const char *text)
{
	struct buf body = BUF_INIT, msg = BUF_INIT;

	emit_error_body(&body, req_err_name(e), text);
	buf_printf(&msg,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n%.*s",
	    req_err_status(e), reason, body.len, (int)body.len, body.data);
	(void)!send(c->fd, msg.data, msg.len, MSG_DONTWAIT | MSG_NOSIGNAL);
	buf_free(&body);
	buf_free(&msg);
}

/* The deadline passed: answer 408 where we can, and shut the socket so
 * evhttp sees the end of it and frees the connection. */
static void
conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	char text[120];

	if (!conn_alive(c)) {
		conn_free(c);
		return;
	}
	if (c->state == CONN_REFUSED) {
		/* Answered already; the caller is still sending. */
		c->state = CONN_CUT;
		shutdown(c->fd, SHUT_RDWR);
		return;
	}
	if (c->state != CONN_READING)
		return;
	c->state = CONN_CUT;
	log_info("closing a connection whose request was not read within "
	         "%llu ms",
	    (unsigned long long)c->g->read_timeout_ms);
	if (!c->g->ssl) {
		snprintf(text, sizeof(text),
		    "the request was not received within %llu ms "
		    "([server] request_read_timeout_ms)",
		    (unsigned long long)c->g->read_timeout_ms);
		conn_reply(c, RERR_TIMEOUT, "Request Timeout", text);
	}
	shutdown(c->fd, SHUT_RDWR);
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

/* The length of the line at `line` (ending by `end` at the latest),
 * without its CR LF. */
static size_t
line_len(const char *line, const char *end)
{
	const char *e = memchr(line, '\n', (size_t)(end - line));
	size_t k = (size_t)((e ? e : end) - line);

	return k > 0 && line[k - 1] == '\r' ? k - 1 : k;
}

/* The value of header line `line` (k bytes) when its name is `name`,
 * trimmed into *v / *vlen; false for another name. */
static bool
header_value(
    const char *line, size_t k, const char *name, const char **v, size_t *vlen)
{
	size_t nl = strlen(name);

	if (k <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return false;
	line += nl + 1;
	k -= nl + 1;
	while (k > 0 && (*line == ' ' || *line == '\t'))
		line++, k--;
	while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t'))
		k--;
	*v = line;
	*vlen = k;
	return true;
}

int
guard_head_body_length(const char *p, size_t n, size_t from, uint64_t *len)
{
	const char *end = NULL, *line, *v, *cl = NULL, *te = NULL;
	size_t i, k, vlen, cllen = 0, telen = 0;
	uint64_t x = 0;

	/* The head ends at its first empty line (CR LF or a bare LF). */
	for (i = from; i < n && end == NULL; i++)
		if (p[i] == '\n' && i > 0 &&
		    (p[i - 1] == '\n' ||
		        (i > 1 && p[i - 1] == '\r' && p[i - 2] == '\n')))
			end = p + i + 1;
	if (end == NULL)
		return -1;
	/* As evhttp: HEAD and TRACE carry no body; a chunked body has no
	 * length up front; the first Content-Length counts. */
	k = line_len(p, end);
	if ((k >= 5 && memcmp(p, "HEAD ", 5) == 0) ||
	    (k >= 6 && memcmp(p, "TRACE ", 6) == 0))
		return 0;
	for (line = p; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));

		k = line_len(line, end);
		if (cl == NULL &&
		    header_value(line, k, "content-length", &v, &vlen))
			cl = v, cllen = vlen;
		else if (te == NULL &&
		    header_value(line, k, "transfer-encoding", &v, &vlen))
			te = v, telen = vlen;
		line = nl ? nl + 1 : end;
	}
	if ((te != NULL && telen == 7 && strncasecmp(te, "chunked", 7) == 0) ||
	    cl == NULL || cllen == 0)
		return 0;
	for (i = 0; i < cllen; i++) {
		unsigned d = (unsigned)(cl[i] - '0');

		if (!isdigit((unsigned char)cl[i]))
			return 0; /* evhttp answers that one (400) */
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
	}
	*len = x;
	return 1;
}

/*
 * Refuse the request whose head announced a body over max_request_bytes:
 * a JSON 413 written straight to the socket, then our side shut for
 * writing. evhttp reaches the same verdict right after us and, in
 * lingering-close mode, reads and discards the body, so the caller
 * reads our reply rather than a reset; its own HTML 413 then fails to
 * go out. The request deadline still bounds the discarding.
 */
static void
conn_refuse(struct conn *c, uint64_t len)
{
	char text[160];

	c->state = CONN_REFUSED;
	snprintf(text, sizeof(text),
	    "the request body is %llu bytes, over %llu "
	    "([server] max_request_bytes)",
	    (unsigned long long)len, (unsigned long long)c->g->max_body_bytes);
	conn_reply(c, RERR_TOO_LARGE, "Payload Too Large", text);
	shutdown(c->fd, SHUT_WR);
}

/* Append the last n bytes of buf to c's head; once the head is whole,
 * refuse its request if it announces too large a body. */
static void
conn_head_feed(struct conn *c, struct evbuffer *buf, size_t n)
{
	size_t from = c->headlen > 3 ? c->headlen - 3 : 0;
	size_t start = evbuffer_get_length(buf) - n;
	struct evbuffer_ptr pos;
	uint64_t len;
	int rc;

	if (n > c->headmax - c->headlen)
		n = c->headmax - c->headlen;
	if (c->headlen + n > c->headcap) {
		size_t cap = c->headcap ? c->headcap : 512;

		while (cap < c->headlen + n)
			cap *= 2;
		c->headcap = cap < c->headmax ? cap : c->headmax;
		c->head = xrealloc(c->head, c->headcap);
	}
	if (n > 0 &&
	    (evbuffer_ptr_set(buf, &pos, start, EVBUFFER_PTR_SET) != 0 ||
	        evbuffer_copyout_from(buf, &pos, c->head + c->headlen, n) !=
	            (ev_ssize_t)n)) {
		c->head_done = true; /* cannot follow it: leave it to evhttp */
		return;
	}
	c->headlen += n;
	rc = guard_head_body_length(c->head, c->headlen, from, &len);
	if (rc < 0 && c->headlen < c->headmax)
		return; /* more to come */
	c->head_done = true;
	free(c->head);
	c->head = NULL;
	c->headcap = 0;
	if (rc > 0 && len > c->g->max_body_bytes && c->fd >= 0)
		conn_refuse(c, len);
}

/* evbuffer callback on the connection's input: bytes arrived. */
static void
conn_input_cb(
    struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (info->n_added == 0)
		return;
	if (c->fd < 0)
		conn_register(c);
	if (c->state == CONN_IDLE) {
		conn_arm(c);
		conn_head_reset(c);
	}
	if ((c->state == CONN_PENDING || c->state == CONN_READING) &&
	    !c->head_done && info->n_added <= evbuffer_get_length(buf))
		conn_head_feed(c, buf, info->n_added);
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
		struct timeval tv = {0, GUARD_RECHECK_MS * 1000};

		log_warn("%llu connections open ([server] max_connections): "
		         "not accepting more until one closes",
		    (unsigned long long)g->nopen);
		event_add(g->recheck_ev, &tv);
	} else {
		event_del(g->recheck_ev);
	}
}

/* While paused: resume once a connection has closed. */
static void
guard_recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	struct guard *g = arg;
	struct timeval tv = {0, GUARD_RECHECK_MS * 1000};

	guard_recount(g);
	if (g->nopen < g->max_connections)
		guard_pause(g, false);
	else
		event_add(g->recheck_ev, &tv);
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
			conn_arm(c); /* the first request's clock */
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
	c->deadline = evtimer_new(g->base, conn_deadline_cb, c);
	conn_head_reset(c);
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

enum req_err
guard_request_read(struct guard *g, struct evhttp_connection *evcon)
{
	struct conn *c = guard_find(g, evcon);

	if (c == NULL)
		return RERR__COUNT;
	if (c->state == CONN_REFUSED)
		return RERR_TOO_LARGE;
	if (c->state == CONN_CUT)
		return RERR_TIMEOUT;
	event_del(c->deadline);
	c->state = CONN_BUSY;
	return RERR__COUNT;
}

void
guard_reply_done(struct guard *g, struct evhttp_connection *evcon)
{
	struct conn *c = guard_find(g, evcon);
	struct evbuffer *in;

	if (c == NULL || c->state != CONN_BUSY)
		return;
	/* Bytes of the next request already here start its clock now, and
	 * they are the start of its head. */
	conn_head_reset(c);
	in = bufferevent_get_input(evhttp_connection_get_bufferevent(evcon));
	if (evbuffer_get_length(in) > 0) {
		conn_arm(c);
		if (!c->head_done)
			conn_head_feed(c, in, evbuffer_get_length(in));
	} else {
		c->state = CONN_IDLE;
	}
}

struct guard *
guard_new(struct event_base *base, const struct config *cfg, int ssl)
{
	struct guard *g = xcalloc(1, sizeof(*g));

	g->base = base;
	g->ssl = ssl != 0;
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
	g->max_body_bytes = cfg->max_request_bytes;
	/* A head this long is one evhttp refuses itself (431/400). */
	g->max_head = (size_t)(2 * cfg->max_header_bytes) + 4;
	if (g->paused && g->nopen < g->max_connections)
		guard_pause(g, false);
}

void
guard_add_listener(struct guard *g, struct evhttp_bound_socket *bs)
{
	if (g->nlisteners < GUARD_MAX_LISTENERS)
		g->listeners[g->nlisteners++] = bs;
}

/*
 * The request line and header limits evhttp does not answer in JSON:
 * 414 for a long target, 431 for too many or too large headers. evhttp
 * itself drops a connection whose headers pass twice max_header_bytes,
 * so what reaches here is bounded.
 */
enum req_err
guard_check_request(const struct config *cfg, struct evhttp_request *req,
    char *msg, size_t msglen)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	struct evkeyval *kv;
	size_t ulen = uri ? strlen(uri) : 0, bytes = ulen, n = 0;

	if (ulen > cfg->max_url_bytes) {
		snprintf(msg, msglen,
		    "the request target is %zu bytes, over %llu "
		    "([server] max_url_bytes)",
		    ulen, (unsigned long long)cfg->max_url_bytes);
		return RERR_URI_TOO_LONG;
	}
	TAILQ_FOREACH(kv, h, next)
	{
		n++;
		bytes += strlen(kv->key) + strlen(kv->value) + 4;
	}
	if (n > cfg->max_headers) {
		snprintf(msg, msglen,
		    "%zu request headers, over %llu ([server] max_headers)", n,
		    (unsigned long long)cfg->max_headers);
		return RERR_HEADERS;
	}
	if (bytes > cfg->max_header_bytes) {
		snprintf(msg, msglen,
		    "the request line and headers are %zu bytes, over %llu "
		    "([server] max_header_bytes)",
		    bytes, (unsigned long long)cfg->max_header_bytes);
		return RERR_HEADERS;
	}
	return RERR__COUNT;
}

uint64_t
guard_connections(struct guard *g)
{
	return g->nopen;
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
	free(g->byfd);
	free(g->pending);
	event_free(g->register_ev);
	event_free(g->recheck_ev);
	free(g);
}
