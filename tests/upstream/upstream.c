/*
 * upstream.c - fanout-upstream, the HTTP/1.1 server the integration tests
 * point fanoutd at. Built on raw bufferevents, not evhttp, so it controls
 * every fault exactly (closing without a response, a partial body, bytes
 * that are not HTTP) and notices at once when a client closes while a
 * response is pending (evhttp cannot before its first write).
 *
 * It also keeps the books the tests assert on: TCP connections accepted,
 * requests, requests in flight and their peak, and requests aborted by
 * the client, overall, per listening port (one port = one upstream host
 * for fanoutd) and per `tag` query parameter (one tag per batch). A
 * request is in flight from the moment it is fully read until its
 * response is flushed to the socket or the connection closes.
 *
 * Endpoints: / (a line naming the main ones, the page a user of
 * script/server sees first), /status/N, /delay/MS, /bytes/N, /text/N,
 * /files/N/NAME (N letters under any file name, for fanout -d), /echo (the request as JSON, with the TLS server name asked for),
 * /close,
 * /hang, /partial, /garbage, /headers/K, /close-idle, /stats,
 * /stats/reset, the policy endpoints of policy.c and the hostile ones of
 * hostile.c and the exact-bytes ones of wire.c, /files/PATH (files.c,
 * with --root DIR); any of
 * them takes ?tag=NAME and ?delay=MS, and ?head_body=1 sends a body even
 * for HEAD (a broken upstream), ?close_reused=1 closes the connection
 * without a response when it served a request before (a keep-alive
 * connection dropped just as it was reused). /close-idle closes every
 * idle keep-alive connection, as a server's keep-alive timeout would.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "upstream.h"

#define UP_MAX_HELD 64

static struct event_base *base;
static evutil_socket_t held_fds[UP_MAX_HELD];
static int nheld;
static struct up_port ports[UP_MAX_LISTEN];
static int nports;
static struct up_counts total;
static long open_conns;
static long accepted; /* never reset: the trap tests count on it */
static LIST_HEAD(, up_tag) tags = LIST_HEAD_INITIALIZER(tags);
static LIST_HEAD(, up_conn) conns = LIST_HEAD_INITIALIZER(conns);

static void up_conn_read_cb(struct bufferevent *bev, void *arg);
static int up_listen(struct up_port *p, const char *spec);
static void up_conn_process(struct up_conn *c);

double
up_now_ms(void)
{
	static struct timespec start;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (start.tv_sec == 0 && start.tv_nsec == 0)
		start = ts;
	return (double)(ts.tv_sec - start.tv_sec) * 1e3 +
	    (double)(ts.tv_nsec - start.tv_nsec) / 1e6;
}

struct up_tag *
up_tag_find(const char *name)
{
	struct up_tag *t;

	LIST_FOREACH(t, &tags, link)
	if (strcmp(t->name, name) == 0)
		return t;
	return NULL;
}

/* Record when a request of tag t arrived (for rate measurements). */
static void
up_tag_stamp(struct up_tag *t)
{
	if (t->ntimes == t->times_cap) {
		t->times_cap = t->times_cap ? t->times_cap * 2 : 256;
		t->times = realloc(t->times, t->times_cap * sizeof(*t->times));
	}
	t->times[t->ntimes++] = up_now_ms();
}

static struct up_tag *
up_tag_get(const char *name)
{
	struct up_tag *t;

	LIST_FOREACH(t, &tags, link)
	if (strcmp(t->name, name) == 0)
		return t;
	t = calloc(1, sizeof(*t));
	t->name = strdup(name);
	LIST_INSERT_HEAD(&tags, t, link);
	return t;
}

static void
up_counts_start(struct up_counts *c)
{
	c->requests++;
	if (++c->inflight > c->peak)
		c->peak = c->inflight;
}

/* The current request stops being in flight (response flushed, or the
 * connection closed: aborted when the client did it). */
static void
up_req_stop(struct up_conn *c, bool aborted)
{
	struct up_req *r = &c->req;
	struct up_counts *cs[3] = {
	    &total, &c->port->c, r->tag ? &r->tag->c : NULL};
	int i;

	if (!r->inflight)
		return;
	r->inflight = false;
	for (i = 0; i < 3; i++) {
		if (cs[i] == NULL)
			continue;
		cs[i]->inflight--;
		if (aborted)
			cs[i]->aborted++;
	}
}

static void
up_req_clear(struct up_req *r)
{
	int i;

	free(r->target);
	for (i = 0; i < r->nheaders; i++) {
		free(r->hname[i]);
		free(r->hvalue[i]);
	}
	if (r->body)
		evbuffer_free(r->body);
	memset(r, 0, sizeof(*r));
}

static void
up_conn_free(struct up_conn *c, bool aborted)
{
	up_req_stop(c, aborted);
	up_req_clear(&c->req);
	if (c->timer)
		event_free(c->timer);
	bufferevent_free(c->bev);
	LIST_REMOVE(c, link);
	open_conns--;
	free(c);
}

void
up_close(struct up_conn *c)
{
	up_req_stop(c, false);
	up_conn_free(c, false);
}

const char *
up_header(const struct up_req *r, const char *name)
{
	int i;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->hname[i], name) == 0)
			return r->hvalue[i];
	return NULL;
}

/* Value of query parameter key in the target, or NULL (no decoding). */
const char *
up_query(const struct up_req *r, const char *key, char *out, size_t n)
{
	const char *q = strchr(r->target, '?');
	size_t klen = strlen(key);

	while (q != NULL) {
		q++;
		if (strncmp(q, key, klen) == 0 && q[klen] == '=') {
			size_t len = strcspn(q + klen + 1, "&");

			if (len >= n)
				len = n - 1;
			memcpy(out, q + klen + 1, len);
			out[len] = '\0';
			return out;
		}
		q = strchr(q, '&');
	}
	return NULL;
}

bool
up_path_is(const struct up_req *r, const char *prefix, long *arg)
{
	size_t n = strlen(prefix);
	char *end;

	if (strncmp(r->target, prefix, n) != 0)
		return false;
	if (arg == NULL)
		return r->target[n] == '\0' || r->target[n] == '?';
	*arg = strtol(r->target + n, &end, 10);
	return end != r->target + n && (*end == '\0' || *end == '?');
}

static const char *
up_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 413:
		return "Content Too Large";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

/* Queue a whole response; extra holds complete header lines. */
void
up_respond(struct up_conn *c, int code, const char *type, const char *extra,
    const void *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char q[8];
	/* ?head_body=1 misbehaves: a body even after a HEAD. */
	bool nobody = code == 204 || code == 304 ||
	    (strcmp(c->req.method, "HEAD") == 0 &&
	        up_query(&c->req, "head_body", q, sizeof(q)) == NULL);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", code, up_reason(code));
	if (type)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", type);
	if (code != 204 && code != 304)
		evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
	if (!c->req.keepalive)
		evbuffer_add_printf(out, "Connection: close\r\n");
	evbuffer_add_printf(out, "%s\r\n", extra ? extra : "");
	if (!nobody && len > 0)
		evbuffer_add(out, body, len);
	c->after = c->req.keepalive ? AFTER_KEEP : AFTER_CLOSE;
	c->state = UP_WRITE;
}

static void
up_fill(unsigned char *p, size_t n, bool text)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = text
		    ? (unsigned char)('a' + i % 26)
		    : (unsigned char)(i == 0 ? 0xff : (i * 131 + 7) & 0xff);
}

/* /bytes/N and /text/N, whole or chunked. */
static void
up_respond_fill(struct up_conn *c, long n, bool text)
{
	char q[8];
	bool chunked = up_query(&c->req, "chunked", q, sizeof(q)) != NULL &&
	    strcmp(q, "1") == 0;
	const char *type = text ? "text/plain" : "application/octet-stream";
	unsigned char *p;
	struct evbuffer *out;
	long off;

	if (n < 0 || n > UP_MAX_BODY) {
		up_respond(c, 400, "text/plain", NULL, "bad size\n", 9);
		return;
	}
	p = malloc((size_t)n + 1);
	up_fill(p, (size_t)n, text);
	if (!chunked) {
		up_respond(c, 200, type, NULL, p, (size_t)n);
		free(p);
		return;
	}
	out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	    "HTTP/1.1 200 OK\r\nContent-Type: %s\r\n"
	    "Transfer-Encoding: chunked\r\n%s\r\n",
	    type, c->req.keepalive ? "" : "Connection: close\r\n");
	for (off = 0; off < n; off += 16384) {
		long len = n - off < 16384 ? n - off : 16384;

		evbuffer_add_printf(out, "%lx\r\n", len);
		evbuffer_add(out, p + off, (size_t)len);
		evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add(out, "0\r\n\r\n", 5);
	free(p);
	c->after = c->req.keepalive ? AFTER_KEEP : AFTER_CLOSE;
	c->state = UP_WRITE;
}

static char *
up_base64(const unsigned char *in, size_t n)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		if (i + 1 < n)
			v |= (unsigned)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		*o++ = a[v >> 18];
		*o++ = a[(v >> 12) & 63];
		*o++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static void
up_respond_json(struct up_conn *c, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);

	up_respond(c, 200, "application/json", NULL, s, strlen(s));
	free(s);
	json_decref(doc);
}

static void
up_respond_echo(struct up_conn *c)
{
	struct up_req *r = &c->req;
	size_t n = evbuffer_get_length(r->body);
	unsigned char *body = evbuffer_pullup(r->body, -1);
	json_t *doc = json_object(), *hs = json_array();
	char *b64 = up_base64(body ? body : (unsigned char *)"", n);
	int i;

	for (i = 0; i < r->nheaders; i++)
		json_array_append_new(
		    hs, json_pack("[ss]", r->hname[i], r->hvalue[i]));
	json_object_set_new(doc, "method", json_string(r->method));
	json_object_set_new(doc, "target", json_string(r->target));
	json_object_set_new(doc, "version", json_string(r->version));
	json_object_set_new(doc, "headers", hs);
	json_object_set_new(doc, "body_base64", json_string(b64));
	json_object_set_new(doc, "body_len", json_integer((json_int_t)n));
	if (c->port->ssl_ctx != NULL) { /* the name the client asked for */
		const char *sni =
		    SSL_get_servername(bufferevent_openssl_get_ssl(c->bev),
		        TLSEXT_NAMETYPE_host_name);

		json_object_set_new(
		    doc, "sni", sni ? json_string(sni) : json_null());
	}
	free(b64);
	up_respond_json(c, doc);
}

static json_t *
up_counts_json(const struct up_counts *c)
{
	return json_pack("{sI sI sI sI sI}", "connections",
	    (json_int_t)c->connections, "requests", (json_int_t)c->requests,
	    "inflight", (json_int_t)c->inflight, "peak", (json_int_t)c->peak,
	    "aborted", (json_int_t)c->aborted);
}

static void
up_respond_stats(struct up_conn *c)
{
	json_t *doc = up_counts_json(&total), *tj = json_object(),
	       *pj = json_object();
	struct up_tag *t;
	char key[16];
	int i;

	json_object_set_new(doc, "open_connections", json_integer(open_conns));
	/* Every TCP accept, requests or not, /stats ones included. */
	json_object_set_new(doc, "accepted", json_integer(accepted));
	LIST_FOREACH(t, &tags, link)
	json_object_set_new(tj, t->name, up_counts_json(&t->c));
	for (i = 0; i < nports; i++) {
		snprintf(key, sizeof(key), "%u", ports[i].port);
		json_object_set_new(pj, key, up_counts_json(&ports[i].c));
	}
	json_object_set_new(doc, "tags", tj);
	json_object_set_new(doc, "ports", pj);
	up_respond_json(c, doc);
}

static void
up_counts_reset(struct up_counts *c)
{
	long inflight = c->inflight;

	memset(c, 0, sizeof(*c));
	c->inflight = inflight;
	c->peak = inflight;
}

static void
up_stats_reset(void)
{
	struct up_tag *t;
	struct up_conn *c;
	int i;

	up_counts_reset(&total);
	LIST_FOREACH(t, &tags, link)
	{
		up_counts_reset(&t->c);
		t->ntimes = 0;
	}
	for (i = 0; i < nports; i++)
		up_counts_reset(&ports[i].c);
	/* Open connections count again at their next request. */
	LIST_FOREACH(c, &conns, link)
	c->counted = false;
}

/* Close every other connection that waits for its next request, as a
 * server does when its keep-alive timeout passes. */
static void
up_close_idle(struct up_conn *self)
{
	struct up_conn *c, *next;

	for (c = LIST_FIRST(&conns); c != NULL; c = next) {
		next = LIST_NEXT(c, link);
		if (c != self && c->state == UP_READ_HEAD &&
		    c->req.target == NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			up_conn_free(c, false);
	}
}

/* Produce the response for the fully read request (after any delay). */
static void
up_route(struct up_conn *c)
{
	struct up_req *r = &c->req;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char q[32], extra[4096], *end;
	long n;
	int i;

	if (up_route_policy(c) || up_route_hostile(c) || up_route_wire(c) ||
	    up_route_files(c))
		return;
	if (up_path_is(r, "/status/", &n)) {
		char body[32];

		if (n < 100 || n > 599) {
			up_respond(
			    c, 400, "text/plain", NULL, "bad status\n", 11);
			return;
		}
		extra[0] = '\0';
		if (up_query(r, "retry_after", q, sizeof(q)))
			snprintf(
			    extra, sizeof(extra), "Retry-After: %s\r\n", q);
		snprintf(body, sizeof(body), "status %ld\n", n);
		up_respond(c, (int)n, "text/plain", extra, body, strlen(body));
	} else if (up_path_is(r, "/delay/", &n)) {
		char body[48];

		snprintf(body, sizeof(body), "delayed %ld\n", n);
		up_respond(c, 200, "text/plain", NULL, body, strlen(body));
	} else if (up_path_is(r, "/bytes/", &n)) {
		up_respond_fill(c, n, false);
	} else if (up_path_is(r, "/text/", &n)) {
		up_respond_fill(c, n, true);
	} else if (strncmp(r->target, "/files/", 7) == 0 &&
		   (n = strtol(r->target + 7, &end, 10)) >= 0 && *end == '/') {
		/* /files/N/ANY/NAME: N letters under any name (fanout -d) */
		up_respond_fill(c, n, true);
	} else if (up_path_is(r, "/echo", NULL)) {
		up_respond_echo(c);
	} else if (up_path_is(r, "/partial", NULL)) {
		evbuffer_add_printf(out,
		    "HTTP/1.1 200 OK\r\nContent-Length: "
		    "100\r\n\r\n0123456789");
		c->after = AFTER_CLOSE;
		c->state = UP_WRITE;
	} else if (up_path_is(r, "/garbage", NULL)) {
		evbuffer_add_printf(out, "THIS IS NOT HTTP\r\n\r\n");
		c->after = AFTER_CLOSE;
		c->state = UP_WRITE;
	} else if (up_path_is(r, "/headers/", &n)) {
		size_t off = 0;

		for (i = 0; i < n && off < sizeof(extra) - 64; i++)
			off += (size_t)snprintf(extra + off,
			    sizeof(extra) - off, "X-H-%d: v%d\r\n", i, i);
		snprintf(extra + off, sizeof(extra) - off,
		    "Set-Cookie: a=1\r\nSet-Cookie: b=2\r\nX-Mixed-Case: "
		    "Yes\r\n");
		up_respond(c, 200, "text/plain", extra, "ok\n", 3);
	} else if (up_path_is(r, "/close-idle", NULL)) {
		up_close_idle(c);
		up_respond(c, 200, "text/plain", NULL, "closed\n", 7);
	} else if (up_path_is(r, "/stats/reset", NULL)) {
		up_stats_reset();
		up_respond(c, 200, "text/plain", NULL, "reset\n", 6);
	} else if (up_path_is(r, "/stats", NULL)) {
		up_respond_stats(c);
	} else if (up_path_is(r, "/", NULL)) {
		static const char page[] =
		    "fanout-upstream, the test upstream of fanoutd: /delay/MS "
		    "/status/N /text/N /bytes/N /echo /headers/K ...\n";

		up_respond(c, 200, "text/plain", NULL, page, sizeof(page) - 1);
	} else {
		up_respond(c, 404, "text/plain", NULL, "not found\n", 10);
	}
}

static void
up_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct up_conn *c = arg;

	up_route(c);
}

/* The request is complete: count it, then answer now, later or never. */
static void
up_request_done(struct up_conn *c)
{
	struct up_req *r = &c->req;
	const char *conn = up_header(r, "Connection");
	bool http11 = strcmp(r->version, "HTTP/1.1") == 0;
	char q[64];
	long n;

	r->keepalive = http11 ? !(conn && strcasecmp(conn, "close") == 0)
	                      : (conn && strcasecmp(conn, "keep-alive") == 0);
	r->counted = strncmp(r->target, "/stats", 6) != 0;
	if (r->counted) {
		if (up_query(r, "tag", q, sizeof(q)))
			r->tag = up_tag_get(q);
		if (r->tag)
			up_tag_stamp(r->tag);
		if (!c->counted) {
			c->counted = true;
			total.connections++;
			c->port->c.connections++;
			if (r->tag)
				r->tag->c.connections++;
		}
		up_counts_start(&total);
		up_counts_start(&c->port->c);
		if (r->tag)
			up_counts_start(&r->tag->c);
		r->inflight = true;
	}
	c->state = UP_WAIT;
	/* /close always; ?close_reused=1 only on a reused connection (a
	 * keep-alive connection the server dropped as it was reused). */
	if (up_path_is(r, "/close", NULL) ||
	    (c->served > 0 && up_query(r, "close_reused", q, sizeof(q)))) {
		up_close(c);
		return;
	}
	if (up_path_is(r, "/hang", NULL))
		return; /* until the client gives up */
	n = 0;
	if (up_query(r, "delay", q, sizeof(q)))
		n = strtol(q, NULL, 10);
	else if (!up_path_is(r, "/delay/", &n))
		n = 0;
	if (n > 0) {
		struct timeval tv = {n / 1000, (n % 1000) * 1000};

		c->timer = evtimer_new(base, up_timer_cb, c);
		evtimer_add(c->timer, &tv);
		return;
	}
	up_route(c);
}

/* Request line and headers; returns -1 when the connection was freed. */
static int
up_read_head(struct up_conn *c, struct evbuffer *in)
{
	struct up_req *r = &c->req;
	size_t n;
	char *line;

	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
		c->head_bytes += n + 2;
		if (r->target == NULL) {
			char target[8192];

			if (n == 0) { /* stray CRLF between requests */
				free(line);
				continue;
			}
			if (sscanf(line, "%31s %8191s %15s", r->method, target,
			        r->version) != 3) {
				free(line);
				up_respond(c, 400, "text/plain", NULL,
				    "bad request line\n", 17);
				c->after = AFTER_CLOSE;
				return 0;
			}
			r->target = strdup(target);
		} else if (n == 0) {
			free(line);
			return 1;
		} else if (r->nheaders < UP_MAX_HEADERS) {
			char *colon = strchr(line, ':');

			if (colon != NULL) {
				char *v = colon + 1;

				*colon = '\0';
				while (*v == ' ' || *v == '\t')
					v++;
				r->hname[r->nheaders] = strdup(line);
				r->hvalue[r->nheaders] = strdup(v);
				r->nheaders++;
			}
		}
		free(line);
		if (c->head_bytes > UP_MAX_HEADER_BYTES)
			break;
	}
	if (c->head_bytes > UP_MAX_HEADER_BYTES ||
	    evbuffer_get_length(in) > UP_MAX_HEADER_BYTES) {
		r->keepalive = false;
		up_respond(
		    c, 431, "text/plain", NULL, "headers too large\n", 18);
		c->after = AFTER_CLOSE;
	}
	return 0;
}

/* Start reading the body, if any, after the headers. */
static void
up_begin_body(struct up_conn *c)
{
	struct up_req *r = &c->req;
	const char *te = up_header(r, "Transfer-Encoding");
	const char *cl = up_header(r, "Content-Length");

	r->body = evbuffer_new();
	if (te && strcasecmp(te, "chunked") == 0) {
		r->chunk_left = -1;
		c->state = UP_READ_CHUNKED;
	} else {
		r->body_left = cl ? strtoll(cl, NULL, 10) : 0;
		if (r->body_left < 0 || r->body_left > UP_MAX_BODY) {
			r->keepalive = false;
			up_respond(
			    c, 413, "text/plain", NULL, "too large\n", 10);
			c->after = AFTER_CLOSE;
			return;
		}
		c->state = UP_READ_BODY;
	}
}

/* Chunked body; true when the last chunk (and trailer) is read. */
static bool
up_read_chunked(struct up_conn *c, struct evbuffer *in)
{
	struct up_req *r = &c->req;
	char *line;
	size_t n;

	for (;;) {
		if (r->chunk_left < 0) {
			if ((line = evbuffer_readln(
			         in, &n, EVBUFFER_EOL_CRLF)) == NULL)
				return false;
			r->chunk_left = strtoll(line, NULL, 16);
			free(line);
			if (r->chunk_left == 0) {
				/* Trailer: skip lines up to the empty one. */
				r->chunk_left = -2;
			}
		}
		if (r->chunk_left == -2) {
			while ((line = evbuffer_readln(
			            in, &n, EVBUFFER_EOL_CRLF)) != NULL) {
				free(line);
				if (n == 0)
					return true;
			}
			return false;
		}
		if ((long long)evbuffer_get_length(in) < r->chunk_left + 2)
			return false;
		evbuffer_remove_buffer(in, r->body, (size_t)r->chunk_left);
		evbuffer_drain(in, 2);
		r->chunk_left = -1;
	}
}

/* Drive the request parser over whatever input is buffered. */
static void
up_conn_process(struct up_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	for (;;) {
		switch (c->state) {
		case UP_READ_HEAD:
			if (up_read_head(c, in) <= 0)
				return;
			if (up_wire_at_head(c)) { /* the body is never read */
				up_request_done(c);
				return;
			}
			up_begin_body(c);
			break;
		case UP_READ_BODY: {
			size_t have = evbuffer_get_length(in);
			size_t take = have < (size_t)c->req.body_left
			    ? have
			    : (size_t)c->req.body_left;

			evbuffer_remove_buffer(in, c->req.body, take);
			c->req.body_left -= (long long)take;
			if (c->req.body_left > 0)
				return;
			up_request_done(c);
			return;
		}
		case UP_READ_CHUNKED:
			if (!up_read_chunked(c, in))
				return;
			up_request_done(c);
			return;
		case UP_WAIT:
		case UP_WRITE:
			return; /* one request at a time */
		}
	}
}

static void
up_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct up_conn *c = arg;

	if (c->discard) {
		struct evbuffer *in = bufferevent_get_input(bev);

		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	up_conn_process(c);
}

/* Output drained: the response is complete. */
static void
up_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct up_conn *c = arg;

	if (c->state != UP_WRITE)
		return;
	up_req_stop(c, false);
	if (c->after == AFTER_CLOSE) {
		up_conn_free(c, false);
		return;
	}
	up_req_clear(&c->req);
	c->served++;
	if (c->timer) {
		event_free(c->timer);
		c->timer = NULL;
	}
	c->head_bytes = 0;
	c->state = UP_READ_HEAD;
	up_conn_process(c); /* a pipelined request may be waiting */
}

static void
up_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct up_conn *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		up_conn_free(c, true); /* in flight: the client gave up */
}

static void
up_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct up_port *p = arg;
	struct up_conn *c;

	if (p->hold) {
		/* A peer that never answers: the fd is kept until exit. */
		held_fds[nheld < UP_MAX_HELD ? nheld++ : 0] = fd;
		return;
	}
	c = calloc(1, sizeof(*c));
	c->port = p;
	if (p->ssl_ctx != NULL) {
		c->bev = bufferevent_openssl_socket_new(base, fd,
		    SSL_new(p->ssl_ctx), BUFFEREVENT_SSL_ACCEPTING,
		    BEV_OPT_CLOSE_ON_FREE);
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev =
		    bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	bufferevent_setcb(
	    c->bev, up_conn_read_cb, up_conn_write_cb, up_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&conns, c, link);
	open_conns++;
	c->id = (unsigned long)++accepted;
}

/*
 * "ADDR:PORT,CERT,KEY[,CLIENT_CA]": a TLS listener; with CLIENT_CA it
 * requires a client certificate signed by it (mutual TLS).
 */
static int
up_listen_tls(struct up_port *p, const char *spec)
{
	char buf[2048], *f[4] = {NULL, NULL, NULL, NULL}, *save = NULL;
	int n = 0;
	SSL_CTX *ctx;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok_r(buf, ",", &save); t && n < 4;
	     t = strtok_r(NULL, ",", &save))
		f[n++] = t;
	if (n < 3) {
		fprintf(stderr,
		    "fanout-upstream: --listen-tls needs "
		    "ADDR:PORT,CERT,KEY[,CLIENT_CA]\n");
		return -1;
	}
	ctx = SSL_CTX_new(TLS_server_method());
	if (SSL_CTX_use_certificate_chain_file(ctx, f[1]) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, f[2], SSL_FILETYPE_PEM) != 1 ||
	    (f[3] != NULL &&
	        SSL_CTX_load_verify_locations(ctx, f[3], NULL) != 1)) {
		fprintf(stderr, "fanout-upstream: cannot load %s / %s\n", f[1],
		    f[2]);
		SSL_CTX_free(ctx);
		return -1;
	}
	if (f[3] != NULL)
		SSL_CTX_set_verify(ctx,
		    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	p->ssl_ctx = ctx;
	return up_listen(p, f[0]);
}

/* "ip:port" or "[ip6]:port" (port 0 allowed) into ss. */
static int
up_parse_addr(const char *spec, struct sockaddr_storage *ss, int *sslen)
{
	const char *colon = strrchr(spec, ':');
	char host[INET6_ADDRSTRLEN + 2];
	size_t n;
	long port;

	if (colon == NULL || (n = (size_t)(colon - spec)) >= sizeof(host))
		return -1;
	port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port > 65535)
		return -1;
	memcpy(host, spec, n);
	host[n] = '\0';
	if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		host[n - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0
		                                                          : -1;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*s4);
		return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
	}
}

/* Bind "ip:port" or "[ip6]:port"; fills p. */
static int
up_listen(struct up_port *p, const char *spec)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	socklen_t len = sizeof(ss);

	memset(&ss, 0, sizeof(ss));
	if (up_parse_addr(spec, &ss, &sslen) != 0) {
		fprintf(stderr, "fanout-upstream: bad address %s\n", spec);
		return -1;
	}
	p->listener = evconnlistener_new_bind(base, up_accept_cb, p,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 511,
	    (struct sockaddr *)&ss, sslen);
	if (p->listener == NULL) {
		fprintf(stderr, "fanout-upstream: cannot listen on %s: %s\n",
		    spec, strerror(errno));
		return -1;
	}
	getsockname(
	    evconnlistener_get_fd(p->listener), (struct sockaddr *)&ss, &len);
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		char ip[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		p->port = ntohs(s6->sin6_port);
		snprintf(p->addr, sizeof(p->addr), "[%s]:%u", ip, p->port);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		char ip[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		p->port = ntohs(s4->sin_port);
		snprintf(p->addr, sizeof(p->addr), "%s:%u", ip, p->port);
	}
	return 0;
}

static int
up_write_ready(const char *path)
{
	char tmp[4096];
	FILE *f;
	int i;

	if (path == NULL) {
		for (i = 0; i < nports; i++)
			printf("%s\n", ports[i].addr);
		fflush(stdout);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((f = fopen(tmp, "w")) == NULL)
		return -1;
	for (i = 0; i < nports; i++)
		fprintf(f, "%s\n", ports[i].addr);
	if (fclose(f) != 0 || rename(tmp, path) != 0)
		return -1;
	return 0;
}

static void
up_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	const char *ready = NULL;
	struct event *sigterm, *sigint;
	struct up_tag *t;
	int i;

	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--listen-tls") == 0 && i + 1 < argc &&
		    nports < UP_MAX_LISTEN) {
			if (up_listen_tls(&ports[nports++], argv[++i]) != 0)
				return 1;
		} else if (strcmp(argv[i], "--listen-hold") == 0 &&
		    i + 1 < argc && nports < UP_MAX_LISTEN) {
			ports[nports].hold = true;
			if (up_listen(&ports[nports++], argv[++i]) != 0)
				return 1;
		} else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc &&
		    nports < UP_MAX_LISTEN) {
			if (up_listen(&ports[nports++], argv[++i]) != 0)
				return 1;
		} else if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			up_files_root(argv[++i]);
		} else if (strcmp(argv[i], "--ready-file") == 0 &&
		    i + 1 < argc) {
			ready = argv[++i];
		} else {
			fprintf(stderr,
			    "usage: fanout-upstream --listen ADDR:PORT ... "
			    "[--listen-tls ADDR:PORT,CERT,KEY[,CLIENT_CA]] "
			    "[--listen-hold ADDR:PORT] [--root DIR] "
			    "[--ready-file FILE]\n");
			return 2;
		}
	}
	if (nports == 0 || up_write_ready(ready) != 0) {
		fprintf(stderr,
		    "fanout-upstream: nothing to listen on, or "
		    "cannot write the ready file\n");
		return 1;
	}
	sigterm = evsignal_new(base, SIGTERM, up_signal_cb, NULL);
	sigint = evsignal_new(base, SIGINT, up_signal_cb, NULL);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	event_base_dispatch(base);

	while (!LIST_EMPTY(&conns))
		up_conn_free(LIST_FIRST(&conns), false);
	for (i = 0; i < nports; i++) {
		evconnlistener_free(ports[i].listener);
		SSL_CTX_free(ports[i].ssl_ctx);
	}
	for (i = 0; i < nheld; i++)
		close(held_fds[i]);
	up_policy_free();
	up_files_free();
	while ((t = LIST_FIRST(&tags)) != NULL) {
		LIST_REMOVE(t, link);
		free(t->times);
		free(t->name);
		free(t);
	}
	event_free(sigterm);
	event_free(sigint);
	event_base_free(base);
	return 0;
}
