/*
 * wire.h - an upstream connection's response byte stream, re-framed so
 * that evhttp's client parser frames every response right (issue #13).
 *
 * libevent 2.1's parser takes a 103 for the final response, refuses
 * chunk extensions, reads a keep-alive response without a length as
 * empty, lets the first of two different Content-Lengths win and
 * buffers a chunk whole however large (LIBEVENT-NOTES.md). A struct wire
 * sits between the socket and evhttp and decides the framing itself, by
 * RFC 9112 §6.3, from the bytes as received; evhttp then only ever sees
 * a canonical form of the same message:
 *
 *   - interim responses (1xx but 101) are dropped, however many;
 *   - a chunked body goes on as chunks of what has arrived, without
 *     extensions, so no chunk waits to complete and the caller's cap
 *     (max_body_bytes) bounds memory in every framing; trailer fields
 *     are dropped (RFC 9110 §6.5.1 allows it);
 *   - a head whose framing fields evhttp would read otherwise (a list of
 *     equal Content-Lengths, Transfer-Encoding and Content-Length
 *     together, a keep-alive response delimited by the close) is
 *     rewritten with one canonical field; the fields as received are
 *     kept so the owner can report them;
 *   - a response whose framing cannot be trusted (conflicting or invalid
 *     Content-Length, a transfer coding other than chunked, a 101, a
 *     malformed head or chunk line) is a fault: nothing more passes, and
 *     `why` says what was wrong;
 *   - bytes that belong to no response pass through untouched and mark
 *     the connection as not reusable (evhttp resets it when idle).
 *
 * It also decides whether the connection may carry another request
 * (RFC 9112 §9.3). Pure: no I/O, no event loop; the owner hands it the
 * evbuffer the bytes arrived in and the one evhttp reads.
 */
#ifndef FANOUTD_WIRE_H
#define FANOUTD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "buf.h"

/* Longest chunk-size line, extensions included. */
#define WIRE_MAX_CHUNK_LINE 4096

enum wire_state {
	WIRE_IDLE = 0,   /* no response expected */
	WIRE_HEAD,       /* reading a response head (status line, fields) */
	WIRE_LENGTH,     /* `left` bytes of a Content-Length body */
	WIRE_CHUNK_SIZE, /* reading a chunk-size line */
	WIRE_CHUNK_DATA, /* `left` bytes of chunk data */
	WIRE_CHUNK_END,  /* the CRLF after chunk data */
	WIRE_TRAILER,    /* the trailer section after the last chunk */
	WIRE_TO_CLOSE,   /* a body that ends when the connection closes */
	WIRE_DONE,       /* the response is complete */
	WIRE_FAULT,      /* malformed: nothing more passes; see `why` */
};

/* How the final response's body is delimited (RFC 9112 §6.3). */
enum wire_body {
	WIRE_BODY_NONE = 0, /* HEAD, 204, 304: no body */
	WIRE_BODY_LENGTH,   /* Content-Length */
	WIRE_BODY_CHUNKED,  /* Transfer-Encoding: chunked */
	WIRE_BODY_CLOSE,    /* read until the connection closes */
};

struct wire {
	enum wire_state state;
	enum wire_body body;
	size_t max_head;   /* bytes of a head, and of a trailer section */
	bool head_request; /* the request was HEAD: no body follows */
	uint64_t left;     /* WIRE_LENGTH, WIRE_CHUNK_DATA: bytes to go */
	size_t scan;       /* head or trailer bytes already searched */
	int status;        /* the final response's status code */
	int minor;         /* its HTTP/1.x minor version */
	unsigned interim;  /* interim responses dropped */
	bool persistent;   /* the connection may carry another request */
	bool final_head;   /* a final head was passed on (owner clears) */
	bool extra;        /* bytes arrived that belong to no response */
	bool rewrote;      /* the head evhttp sees has other framing fields */
	struct buf orig;   /* when rewrote: the framing fields as received,
	                      "name\0value\0" pairs, folded lines joined */
	char why[160];     /* WIRE_FAULT: what was wrong */
};

/* An idle wire; heads (and trailer sections) over max_head are faults. */
void wire_init(struct wire *w, size_t max_head);
void wire_free(struct wire *w);

/* A request was sent: read its response next. */
void wire_expect(struct wire *w, bool head_request);

/*
 * Move what `in` holds to `out`, re-framed. Bytes it cannot use yet (a
 * partial head or chunk-size line) stay in `in`. Returns 0, or -1 once
 * the response is malformed (state WIRE_FAULT, `why` set; `in` is left
 * as it is).
 */
int wire_feed(struct wire *w, struct evbuffer *in, struct evbuffer *out);

/* The response is complete and the connection may carry the next. */
bool wire_reusable(const struct wire *w);

#endif
