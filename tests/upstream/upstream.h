/*
 * upstream.h - what the test upstream's files share: the connection and
 * request structs, the response helpers, and the endpoint families
 * beyond the core ones (policy.c: flaky, redirects, compressed bodies).
 */
#ifndef FANOUT_UPSTREAM_H
#define FANOUT_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#define UP_MAX_LISTEN       8
#define UP_MAX_HEADER_BYTES (64 * 1024)
#define UP_MAX_BODY         (64 * 1024 * 1024)
#define UP_MAX_HEADERS      200

struct up_counts {
	long connections; /* accepted (counted at the first counted request) */
	long requests;
	long inflight;
	long peak;
	long aborted;
};

struct up_tag {
	char *name;
	struct up_counts c;
	double *times; /* arrival of each request, ms since start */
	size_t ntimes;
	size_t times_cap;
	LIST_ENTRY(up_tag) link;
};

struct up_port {
	struct evconnlistener *listener;
	unsigned port;
	char addr[64];
	struct up_counts c;
	struct ssl_ctx_st *ssl_ctx; /* TLS listener (--listen-tls) */
	bool hold; /* --listen-hold: accept, then never read or write */
};

enum up_state {
	UP_READ_HEAD = 0, /* request line and headers */
	UP_READ_BODY,     /* Content-Length body */
	UP_READ_CHUNKED,  /* chunked body */
	UP_WAIT,          /* delay timer, or hanging forever */
	UP_WRITE,         /* response queued, waiting for the flush */
};

enum up_after { AFTER_KEEP, AFTER_CLOSE };

struct up_req {
	char method[32];
	char *target;
	char version[16];
	char *hname[UP_MAX_HEADERS];
	char *hvalue[UP_MAX_HEADERS];
	int nheaders;
	struct evbuffer *body;
	long long body_left;  /* Content-Length bytes still to read */
	long long chunk_left; /* -1: reading a chunk-size line */
	bool keepalive;
	bool counted; /* not a /stats request */
	bool inflight;
	struct up_tag *tag;
};

struct up_conn {
	struct bufferevent *bev;
	struct up_port *port;
	enum up_state state;
	bool counted;    /* already counted as a connection */
	unsigned served; /* responses completed on this connection */
	enum up_after after;
	size_t head_bytes;
	struct up_req req;
	struct event *timer;
	unsigned long id;             /* the connection's number, from 1 */
	bool discard;                 /* throw away whatever the client sends */
	const struct wire_case *wire; /* wire.c: the case being sent */
	int wstep;                    /* its next step */
	long wleft;                   /* bytes left of that step */
	LIST_ENTRY(up_conn) link;
};

/* Queue a whole response; extra holds complete header lines. */
void up_respond(struct up_conn *c, int code, const char *type,
    const char *extra, const void *body, size_t len);
/* Value of query parameter key (not decoded), or NULL. */
const char *up_query(
    const struct up_req *r, const char *key, char *out, size_t n);
/* Does the target start with prefix (then *arg is the number after it,
 * when arg is not NULL)? */
bool up_path_is(const struct up_req *r, const char *prefix, long *arg);
const char *up_header(const struct up_req *r, const char *name);
/* Close the connection now, without a response (c is freed). */
void up_close(struct up_conn *c);
/* Re-arm c's timer to call cb(arg) after ms. */
void up_timer(struct up_conn *c, long ms, event_callback_fn cb, void *arg);
/* Milliseconds since the upstream started. */
double up_now_ms(void);

/* policy.c: answer /flaky, /redirect, /redirect-to, /gzip, /deflate,
 * /deflate-raw, /gzip-bomb, /gzip-bad and /stats/times; false when the
 * path is none of them. */
bool up_route_policy(struct up_conn *c);
void up_policy_free(void);
/* hostile.c: /drip, /endless, /many-headers, /big-header, /bad-status,
 * /bad-chunk; false when the path is none of them. */
bool up_route_hostile(struct up_conn *c);
/* wire.c: /wire/NAME sends the exact bytes of a case, /wire/ok a plain
 * 200 naming its connection; false when the path is neither. */
bool up_route_wire(struct up_conn *c);
/* Is this request for a case that answers from the request head? */
bool up_wire_at_head(const struct up_conn *c);
/* files.c: /files/PATH serves DIR/PATH of --root DIR (static pages for
 * the extraction tests); false when the path is not /files/. */
void up_files_root(const char *dir);
bool up_route_files(struct up_conn *c);
void up_files_free(void);
/* Find a tag by name (NULL when unknown). */
struct up_tag *up_tag_find(const char *name);

#endif
