/*
 * wire.c - the test upstream's wire-conformance endpoints (issue #13):
 * each /wire/NAME answers with exact bytes, written as a short script
 * of steps (send these bytes, wait, stream filler, close, keep the
 * connection), so a test sees what fanoutd does with a response that
 * real servers send: interim 1xx responses, chunk extensions, bodies
 * delimited by the close, conflicting Content-Length, one huge chunk,
 * early answers to uploads (from the request head, before its body is
 * read), multi-member and stacked gzip.
 *
 *   /wire/ok       200 "ok", with X-Conn (the connection's number) and
 *                  X-Served (responses it completed before): the second
 *                  item of every test shows whether its connection was
 *                  reused.
 *   /wire/NAME     the case NAME of the table below.
 *
 * Cases marked at_head answer as soon as the request head is read; the
 * request body, if any, is then read and thrown away.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <zlib.h>

#include "upstream.h"

#define STREAM_CHUNK (16 * 1024)
#define STREAM_QUEUE (256 * 1024)
#define MIB          (1024L * 1024L)

enum wire_op {
	W_END = 0, /* end of the script (never reached: KEEP or CLOSE) */
	W_SEND,    /* the bytes `s` */
	W_BYTES,   /* the bytes `s` one at a time, `n` ms apart */
	W_WAIT,    /* `n` milliseconds */
	W_STREAM,  /* `n` bytes of filler, as fast as the client reads */
	W_GEN,     /* a generated response: gen(out) */
	W_KEEP,    /* done; the connection reads the next request */
	W_CLOSE,   /* close once the output is flushed */
	W_LINGER,  /* flush, shut down writing, read and discard for `n` ms,
	              then close (nginx's lingering close) */
};

struct wire_step {
	enum wire_op op;
	const char *s;
	long n;
	void (*gen)(struct evbuffer *out);
};

struct wire_case {
	const char *name;
	bool at_head; /* answer from the request head */
	struct wire_step steps[8];
};

#define SEND(text)                    \
	{                             \
		W_SEND, text, 0, NULL \
	}
#define WAIT(ms)                       \
	{                              \
		W_WAIT, NULL, ms, NULL \
	}
#define KEEP                          \
	{                             \
		W_KEEP, NULL, 0, NULL \
	}
#define CLOSE                          \
	{                              \
		W_CLOSE, NULL, 0, NULL \
	}
#define GEN(fn)                    \
	{                          \
		W_GEN, NULL, 0, fn \
	}
#define OK5     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
#define CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

/* --- generated bodies (zlib) ------------------------------------------- */

/* Append the deflate of n bytes of src (zeros when src is NULL) with
 * windowBits wbits (31: gzip, 15: zlib) to out. */
static void
squeeze(struct evbuffer *out, const void *src, size_t n, int wbits)
{
	static const unsigned char zeros[65536];
	unsigned char buf[65536];
	z_stream z;
	int flush;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	do {
		size_t k = n < sizeof(zeros) ? n : sizeof(zeros);

		z.next_in = (unsigned char *)(src ? src : zeros);
		z.avail_in = (uInt)k;
		n -= k;
		if (src != NULL)
			src = (const unsigned char *)src + k;
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		do {
			z.next_out = buf;
			z.avail_out = sizeof(buf);
			deflate(&z, flush);
			evbuffer_add(out, buf, sizeof(buf) - z.avail_out);
		} while (z.avail_out == 0);
	} while (n > 0);
	deflateEnd(&z);
}

/* The bytes of evbuffer b, compressed again into out. */
static void
squeeze_buffer(struct evbuffer *out, struct evbuffer *b, int wbits)
{
	size_t n = evbuffer_get_length(b);

	squeeze(out, evbuffer_pullup(b, -1), n, wbits);
}

/* A 200 with the header lines `fields` and the body in b (freed). */
static void
respond_body(struct evbuffer *out, const char *fields, struct evbuffer *b)
{
	evbuffer_add_printf(out,
	    "HTTP/1.1 200 OK\r\n%sContent-Length: %zu\r\n\r\n", fields,
	    evbuffer_get_length(b));
	evbuffer_add_buffer(out, b);
	evbuffer_free(b);
}

static void
gen_members(struct evbuffer *out)
{
	struct evbuffer *b = evbuffer_new();

	squeeze(b, "hello ", 6, 31);
	squeeze(b, "world", 5, 31);
	respond_body(out, "Content-Encoding: gzip\r\n", b);
}

/* Members, then bytes that are not gzip. */
static void
gen_members_garbage(struct evbuffer *out)
{
	struct evbuffer *b = evbuffer_new();

	squeeze(b, "hello ", 6, 31);
	evbuffer_add(b, "junk", 4);
	respond_body(out, "Content-Encoding: gzip\r\n", b);
}

/* 64 members of "0123456789abcdef": 1024 bytes decoded. */
static void
gen_many_members(struct evbuffer *out)
{
	struct evbuffer *b = evbuffer_new();
	int i;

	for (i = 0; i < 64; i++)
		squeeze(b, "0123456789abcdef", 16, 31);
	respond_body(out, "Content-Encoding: gzip\r\n", b);
}

static struct evbuffer *
gzip_twice(const char *text)
{
	struct evbuffer *once = evbuffer_new(), *twice = evbuffer_new();

	squeeze(once, text, strlen(text), 31);
	squeeze_buffer(twice, once, 31);
	evbuffer_free(once);
	return twice;
}

static void
gen_gzip_gzip_list(struct evbuffer *out)
{
	respond_body(
	    out, "Content-Encoding: gzip, gzip\r\n", gzip_twice("hello"));
}

static void
gen_gzip_gzip_lines(struct evbuffer *out)
{
	respond_body(out,
	    "Content-Encoding: gzip\r\nContent-Encoding: gzip\r\n",
	    gzip_twice("hello"));
}

/* deflate first, then gzip: Content-Encoding lists them in that order. */
static void
gen_deflate_gzip(struct evbuffer *out)
{
	struct evbuffer *once = evbuffer_new(), *twice = evbuffer_new();

	squeeze(once, "hello", 5, 15);
	squeeze_buffer(twice, once, 31);
	evbuffer_free(once);
	respond_body(out, "Content-Encoding: deflate, gzip\r\n", twice);
}

/* An unknown coding in the list: the body stays as sent. */
static void
gen_gzip_unknown(struct evbuffer *out)
{
	struct evbuffer *b = evbuffer_new();

	squeeze(b, "hello", 5, 31);
	respond_body(out, "Content-Encoding: gzip, br\r\n", b);
}

/* 32 MiB of zeros, gzipped twice: a bomb in two layers. */
static void
gen_bomb_twice(struct evbuffer *out)
{
	struct evbuffer *once = evbuffer_new(), *twice = evbuffer_new();

	squeeze(once, NULL, (size_t)(32 * MIB), 31);
	squeeze_buffer(twice, once, 31);
	evbuffer_free(once);
	respond_body(out, "Content-Encoding: gzip, gzip\r\n", twice);
}

/* --- the cases ----------------------------------------------------------- */

static const struct wire_case cases[] = {
    /* 1. Interim responses (RFC 9110 §15.2). */
    {"early-hints", false,
        {SEND("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
              "\r\n"),
            WAIT(50), SEND(OK5), KEEP}},
    {"processing-hints", false,
        {SEND("HTTP/1.1 102 Processing\r\n\r\n"), WAIT(20),
            SEND("HTTP/1.1 103 Early Hints\r\nLink: </a.js>; rel=preload\r\n"
                 "\r\n"),
            WAIT(20), SEND(OK5), KEEP}},
    {"hints-dripped", false,
        {{W_BYTES, "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", 2,
             NULL},
            SEND(OK5), KEEP}},
    {"hints-and-final", false,
        {SEND("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
              "Link: </s.css>\r\n\r\n" OK5),
            KEEP}},
    {"switching", false,
        {SEND("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n\r\n"),
            KEEP}},
    /* 2. Chunked bodies (RFC 9112 §7.1). */
    {"chunk-ext", false,
        {SEND(CHUNKED "5;name=value\r\nhello\r\n0\r\n\r\n"), KEEP}},
    {"chunk-ext-quoted", false,
        {SEND(CHUNKED "2 ; a = \"x;y\" ; b\r\nhe\r\n3;c=d\r\nllo\r\n"
                      "0;last\r\n\r\n"),
            KEEP}},
    {"chunk-trailer", false,
        {SEND(CHUNKED "5\r\nhello\r\n0\r\nX-Sum: 5\r\nX-More: a\r\n b\r\n"
                      "\r\n"),
            KEEP}},
    {"chunk-dripped", false,
        {{W_BYTES, CHUNKED "3;x=y\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n", 1, NULL},
            KEEP}},
    {"chunk-no-crlf", false, {SEND(CHUNKED "5\r\nhelloXX\r\n0\r\n\r\n"), KEEP}},
    {"chunk-bad-size", false, {SEND(CHUNKED "5x\r\nhello\r\n0\r\n\r\n"), KEEP}},
    {"chunk-huge-size", false,
        {SEND(CHUNKED "fffffffffffffffff\r\nhello\r\n0\r\n\r\n"), KEEP}},
    /* 3. Bodies delimited by the close (RFC 9112 §6.3 rule 8, §9.3). */
    {"keepalive-close", false,
        {SEND("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nhello"),
            CLOSE}},
    {"http10-keepalive", false,
        {SEND("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
              "Keep-Alive: timeout=2\r\n\r\n<events/>"),
            CLOSE}},
    {"http10-keepalive-late", false,
        {SEND("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
              "Keep-Alive: timeout=2\r\n\r\n"),
            WAIT(50), SEND("<events/>"), CLOSE}},
    {"close-delimited", false,
        {SEND("HTTP/1.1 200 OK\r\n\r\nhel"), WAIT(30), SEND("lo"), CLOSE}},
    {"http10-length", false,
        {SEND("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"), KEEP}},
    {"connection-close-list", false,
        {SEND("HTTP/1.1 200 OK\r\nConnection: Close, TE\r\n"
              "Content-Length: 5\r\n\r\nhello"),
            KEEP}},
    /* 4. Content-Length (RFC 9112 §6.3 rules 3-6, RFC 9110 §8.6). */
    {"cl-conflict", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 10\r\n"
              "\r\nhello12345"),
            KEEP}},
    {"cl-list-conflict", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5, 10\r\n\r\nhello12345"),
            KEEP}},
    {"cl-list-equal", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello"), KEEP}},
    {"cl-lines-equal", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
              "\r\nhello"),
            KEEP}},
    {"cl-invalid", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"), KEEP}},
    {"cl-short", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello"), CLOSE}},
    {"te-and-cl", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            KEEP}},
    {"te-not-chunked", false,
        {SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello"),
            CLOSE}},
    {"te-chunked-twice", false,
        {SEND("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
              "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
            KEEP}},
    {"http10-chunked", false,
        {SEND("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n0\r\n\r\n"),
            KEEP}},
    {"no-content", false,
        {SEND("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), KEEP}},
    {"not-modified-chunked", false,
        {SEND("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
              "\r\n"),
            KEEP}},
    {"head-length", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), KEEP}},
    {"extra-bytes", false, {SEND(OK5 "HTTP/1.1 200 OK\r\n"), KEEP}},
    /* 5. Bodies far over max_body_bytes, in every framing. */
    {"huge-chunk", false,
        {SEND(CHUNKED "40000000\r\n"), {W_STREAM, NULL, 200 * MIB, NULL},
            CLOSE}},
    {"huge-length", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Length: 209715200\r\n\r\n"),
            {W_STREAM, NULL, 200 * MIB, NULL}, CLOSE}},
    {"huge-close", false,
        {SEND("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"),
            {W_STREAM, NULL, 200 * MIB, NULL}, CLOSE}},
    /* 6. Answers from the request head, before its body is read. */
    {"early-413", true,
        {SEND("HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n"
              "Connection: close\r\n\r\ntoo large"),
            {W_LINGER, NULL, 1000, NULL}}},
    {"early-401", true,
        {SEND("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n"
              "Content-Length: 6\r\n\r\ndenied"),
            CLOSE}},
    {"early-413-close", true,
        {SEND("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\n\r\n"
              "too large"),
            {W_LINGER, NULL, 1000, NULL}}},
    /* 7, 8. Content codings (RFC 9110 §8.4, RFC 1952 §2.2). */
    {"gzip-members", false, {GEN(gen_members), KEEP}},
    {"gzip-many-members", false, {GEN(gen_many_members), KEEP}},
    {"gzip-garbage", false, {GEN(gen_members_garbage), KEEP}},
    {"gzip-gzip-list", false, {GEN(gen_gzip_gzip_list), KEEP}},
    {"gzip-gzip-lines", false, {GEN(gen_gzip_gzip_lines), KEEP}},
    {"deflate-gzip", false, {GEN(gen_deflate_gzip), KEEP}},
    {"gzip-unknown", false, {GEN(gen_gzip_unknown), KEEP}},
    {"gzip-bomb-twice", false, {GEN(gen_bomb_twice), KEEP}},
    {"identity", false,
        {SEND("HTTP/1.1 200 OK\r\nContent-Encoding: identity\r\n"
              "Content-Length: 5\r\n\r\nhello"),
            KEEP}},
};

static const struct wire_case *
wire_find(const struct up_req *r)
{
	const char *name;
	size_t n, i;

	if (strncmp(r->target, "/wire/", 6) != 0)
		return NULL;
	name = r->target + 6;
	n = strcspn(name, "?");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strlen(cases[i].name) == n &&
		    strncmp(cases[i].name, name, n) == 0)
			return &cases[i];
	return NULL;
}

bool
up_wire_at_head(const struct up_conn *c)
{
	const struct wire_case *w = wire_find(&c->req);

	return w != NULL && w->at_head;
}

static void wire_run(struct up_conn *c);

static void
wire_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	wire_run(arg);
}

static void
wire_close_cb(evutil_socket_t fd, short what, void *arg)
{
	up_close(arg);
}

/* Run the case's steps from c->wstep until one waits. */
static void
wire_run(struct up_conn *c)
{
	static char filler[STREAM_CHUNK];
	const struct wire_case *w = c->wire;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	const struct wire_step *s;

	if (filler[0] == 0)
		memset(filler, 'z', sizeof(filler));
	for (;;) {
		s = &w->steps[c->wstep];
		switch (s->op) {
		case W_SEND:
			evbuffer_add(out, s->s, strlen(s->s));
			break;
		case W_BYTES:
			if (s->s[c->wleft] == '\0') {
				c->wleft = 0;
				break;
			}
			evbuffer_add(out, s->s + c->wleft++, 1);
			up_timer(c, s->n, wire_timer_cb, c);
			return;
		case W_WAIT:
			c->wstep++;
			up_timer(c, s->n, wire_timer_cb, c);
			return;
		case W_STREAM:
			if (c->wleft == 0)
				c->wleft = s->n;
			while (c->wleft > 0 &&
			    evbuffer_get_length(out) < STREAM_QUEUE) {
				long k = c->wleft < STREAM_CHUNK ? c->wleft
				                                 : STREAM_CHUNK;

				evbuffer_add(out, filler, (size_t)k);
				c->wleft -= k;
			}
			if (c->wleft > 0) {
				up_timer(c, 1, wire_timer_cb, c);
				return;
			}
			break;
		case W_GEN:
			s->gen(out);
			break;
		case W_KEEP:
		case W_END:
		case W_CLOSE:
			c->after = s->op == W_CLOSE ? AFTER_CLOSE : AFTER_KEEP;
			c->state = UP_WRITE;
			/* Already flushed (a script that ends with a wait):
			 * no write callback would come. */
			if (evbuffer_get_length(out) == 0)
				bufferevent_trigger(c->bev, EV_WRITE, 0);
			return;
		case W_LINGER:
			if (evbuffer_get_length(out) > 0) {
				up_timer(c, 1, wire_timer_cb, c);
				return;
			}
			shutdown(bufferevent_getfd(c->bev), SHUT_WR);
			c->discard = true;
			up_timer(c, s->n, wire_close_cb, c);
			return;
		}
		c->wstep++;
	}
}

bool
up_route_wire(struct up_conn *c)
{
	struct up_req *r = &c->req;

	if (up_path_is(r, "/wire/ok", NULL)) {
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Conn: %lu\r\n"
		    "X-Served: %u\r\n\r\nok",
		    c->id, c->served);
		c->after = AFTER_KEEP;
		c->state = UP_WRITE;
		return true;
	}
	if ((c->wire = wire_find(r)) == NULL)
		return false;
	c->wstep = 0;
	c->wleft = 0;
	if (c->wire->at_head) {
		c->discard = true; /* the request body, unread */
		r->keepalive = false;
	}
	wire_run(c);
	return true;
}
