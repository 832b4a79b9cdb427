/*
 * fetch.h - one upstream attempt: resolve the host, take a pooled
 * connection or open one, send the request, read the response body up to
 * its cap, and report one outcome.
 *
 * The callback is called exactly once per fetch_start() unless
 * fetch_cancel() comes first, and never from inside fetch_start(). On a
 * response it runs while libevent still holds the response, so the
 * headers and body in struct fetch_result are valid only during the
 * call; copy what must outlive it.
 */
#ifndef FANOUTD_FETCH_H
#define FANOUTD_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "config.h"
#include "egress.h"
#include "err.h"
#include "http.h"
#include "item.h"
#include "pool.h"
#include "resolve.h"
#include "url.h"

struct fetch_ctx {
	struct event_base *base;
	struct pool *pool;
	struct resolver *resolver;
	const struct egress *egress; /* checked before every connection */
	const struct config *cfg;    /* [upstream] max_response_headers (and
	                                _header_bytes, the pool's, for
	                                messages), read in place */
};

/* The response head an observer is shown when its attempt's response
 * arrives (valid during the call). */
struct fetch_head {
	const struct url *url; /* the attempt's URL (this hop's) */
	int status;
	const struct evkeyvalq *headers;
	/* The codings still on the bytes data() will see (unknown, or
	 * decoding off), as Content-Encoding listed them; NULL: none. */
	const char *content_encoding;
	bool no_body; /* HEAD, 1xx, 204, 304: no body follows (RFC 9110
	                 §6.4.1) */
};

/*
 * A body observer: sees one attempt's response body as it streams in,
 * decoded (after gzip / deflate) and within max_body_bytes, without the
 * fetch keeping it (keep_body false) or as well as keeping it. Per
 * attempt: begin once the response head is accepted (return false to
 * see nothing more of this attempt), then data for each piece in order,
 * then exactly one of end (the body is complete, or cut at the cap:
 * truncated) or abort (the attempt failed or was cancelled after
 * begin). end and abort come before the fetch callback (abort from
 * fetch_cancel has no callback after it). A retry or a redirect is a new
 * attempt, so a new begin; an attempt that fails before its response
 * head calls nothing. No callback may call into the fetch, but data may
 * call fetch_pause.
 */
struct fetch_observer {
	bool (*begin)(void *arg, const struct fetch_head *h);
	void (*data)(void *arg, const unsigned char *p, size_t n);
	void (*end)(void *arg, bool truncated);
	void (*abort)(void *arg);
	void *arg;
};

struct fetch_params {
	struct item_life *life; /* the item's state, which the attempt moves
	                           from ITEM_ADMITTED to ITEM_OUTCOME */
	const struct url *url;
	enum http_method method;
	const struct http_header *headers;
	uint32_t nheaders;
	const unsigned char *body; /* sent as is; must outlive the fetch */
	size_t body_len;
	bool has_body;
	uint32_t connect_timeout_ms;
	uint32_t timeout_ms; /* dispatch to last body byte */
	uint64_t max_body_bytes;
	bool keep_body;          /* false: count body bytes, keep none */
	uint64_t keep_max_bytes; /* 0: max_body_bytes; a longer body is
	                            not kept at all (body_dropped) */
	bool decode;             /* ask for and decode gzip / deflate */
	bool drop_credentials;   /* cross-origin hop: no Authorization,
	                            Cookie from the item's headers */
	unsigned hops;           /* X-Fanoutd-Hops value to send */
	const char *user_agent;  /* unless the item sets User-Agent */
	const struct fetch_observer *observer; /* NULL: none */
};

struct fetch_result {
	enum item_err error; /* IERR_NONE: a response arrived */
	const char *message; /* the error's sentence */
	bool sent;           /* the request may have reached the upstream */
	int status;
	const struct evkeyvalq *headers; /* response headers, or NULL */
	const unsigned char *body;
	size_t body_len;    /* bytes kept (0 when !keep_body) */
	uint64_t body_seen; /* bytes read (decoded), up to the cap */
	bool truncated;     /* the body went past max_body_bytes */
	bool body_dropped;  /* longer than keep_max_bytes: none kept */
	const char *content_encoding; /* the codings still on body (unknown,
	                                 or not to be decoded), or NULL */
	double dns_ms;                /* -1 when no lookup was needed */
	double ttfb_ms; /* request handed over -> response headers */
};

struct fetch;
typedef void (*fetch_cb)(const struct fetch_result *res, void *arg);

/* Start an attempt; p and everything it points to must outlive it. */
struct fetch *fetch_start(struct fetch_ctx *ctx, const struct fetch_params *p,
    fetch_cb cb, void *arg);
/* Stop (paused) or resume reading the response body, for an observer
 * that cannot keep up; the attempt's deadline still runs. A no-op
 * unless the body is being read; NULL is a no-op. */
void fetch_pause(struct fetch *f, bool paused);

/* Abandon the attempt: its connection is closed, no callback follows. */
void fetch_cancel(struct fetch *f);

#endif
