/*
 * reqhead.h - a request head (request line and header fields) checked
 * against RFC 9112 before evhttp may read it. Pure: bytes in, verdict
 * out, no I/O.
 *
 * libevent 2.1's request parser reads framing leniently (the first of
 * two Content-Lengths wins, an unknown Transfer-Encoding means "no
 * body", "Content-Length :" is another header, a HEAD body is ignored,
 * "//host/path" is an authority), and a proxy in front of fanoutd that
 * reads the same bytes the other way lets a second request through.
 * So every head is judged here first, strictly, and evhttp is handed a
 * canonical copy (reqhead_canon) whose framing it cannot misread: one
 * Content-Length or "Transfer-Encoding: chunked", one Connection value,
 * an origin-form target.
 *
 * The parse is incremental: call reqhead_parse with the same bytes and
 * more as they arrive; it resumes where it stopped, judges each line
 * once it is complete (sizes before it is), and gives the same verdict
 * however the bytes were split (tests/fuzz/fuzz_head.c checks that).
 */
#ifndef FANOUTD_REQHEAD_H
#define FANOUTD_REQHEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum reqhead_status {
	REQHEAD_MORE = 0, /* the head is not complete yet */
	REQHEAD_OK,       /* a valid head of head_len bytes */
	REQHEAD_BAD,      /* refused: error and message say why */
};

enum reqhead_framing {
	REQHEAD_BODY_NONE = 0, /* no body */
	REQHEAD_BODY_LENGTH,   /* Content-Length: length bytes */
	REQHEAD_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
};

enum reqhead_form {
	REQHEAD_ORIGIN = 0, /* /path?query */
	REQHEAD_ABSOLUTE,   /* http://host/path?query */
	REQHEAD_ASTERISK,   /* * (OPTIONS only) */
};

/* The server's limits on a head ([server] in fanoutd.conf(5)). */
struct reqhead_limits {
	uint64_t max_header_bytes; /* request line + fields, else 431 */
	uint64_t max_headers;      /* field lines, else 431 */
	uint64_t max_url_bytes;    /* request target, else 414 */
	uint64_t max_body_bytes;   /* a Content-Length above: 413 */
};

/* Empty lines tolerated before the request line (RFC 9112 §2.2). */
#define REQHEAD_MAX_EMPTY_LINES 8

struct reqhead {
	enum reqhead_status status;
	/* REQHEAD_BAD: 400, 413, 414, 417, 431, 501 or 505, and why. */
	enum req_err error;
	char message[192];

	/* Read from the request line (valid once have_line is set). */
	bool have_line;
	size_t line_off;   /* where the request line starts */
	size_t method_len; /* the method is at line_off */
	size_t target_off, target_len;
	enum reqhead_form form;
	size_t route_off, route_len; /* path [? query] within the target */
	int minor;                   /* HTTP/1.0 or 1.1 (1.2+ read as 1.1) */
	bool head;                   /* method HEAD */

	/* REQHEAD_OK: the whole head, its empty line included. */
	size_t head_len;
	enum reqhead_framing framing;
	uint64_t length;      /* REQHEAD_BODY_LENGTH */
	bool expect_continue; /* HTTP/1.1 with a body and 100-continue */
	bool close;           /* no further request on the connection */

	/* Progress between calls. */
	size_t pos;       /* start of the first line not judged yet */
	size_t scan;      /* where the search for its end resumes */
	uint64_t bytes;   /* request line and field bytes, line ends excluded */
	unsigned fields;  /* field lines */
	unsigned empties; /* empty lines before the request line */
	unsigned seen;    /* a bit per field that may appear only once */
	bool has_length;  /* a Content-Length was read */
	bool has_te;      /* a Transfer-Encoding was read */
	unsigned codings; /* transfer codings listed */
	unsigned chunked; /* ... of which chunked */
	bool last_chunked;
	char unknown_coding[24]; /* the first coding that is not chunked */
	bool conn_close, conn_keepalive;
	bool expect_other;
};

void reqhead_init(struct reqhead *h);

/*
 * Judge p[0..n), the request's bytes so far: the same bytes as the
 * previous call on h, and maybe more. Returns h->status: MORE until
 * the head ends or fails, then OK or BAD for good. A head can never
 * need more than reqhead_max_bytes(lim) bytes to reach a verdict.
 */
enum reqhead_status reqhead_parse(struct reqhead *h, const char *p, size_t n,
    const struct reqhead_limits *lim);

/* The most bytes a head may take before reqhead_parse decides. */
size_t reqhead_max_bytes(const struct reqhead_limits *lim);

/*
 * The canonical head evhttp reads instead of p's (REQHEAD_OK only):
 * the request line with an origin-form target, every field but the
 * framing ones, then one Content-Length or Transfer-Encoding, the
 * Connection and Expect values fanoutd decided, and the empty line.
 */
void reqhead_canon(const struct reqhead *h, const char *p, struct buf *out);

/* The target to route on (path [? query]), as sent: "/v1/batch?x=1",
 * "//x/metrics" stays that; an absolute-form target gives its path. */
void reqhead_route(const struct reqhead *h, const char *p, struct buf *out);

#endif
