/*
 * body.h - a response body as it streams in: bytes are decoded when the
 * response says gzip or deflate (zlib), kept up to a cap that applies
 * to the decoded size (so a gzip bomb stops at the cap), counted, and
 * marked truncated past the cap. "deflate" is meant to be zlib-wrapped
 * but some servers send it raw: on a bad header before any output the
 * sink starts over raw, once. No I/O: the owner hands it the evbuffer
 * its bytes arrived in.
 */
#ifndef FANOUTD_BODY_H
#define FANOUTD_BODY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "buf.h"

enum body_status {
	BODY_MORE, /* keep reading */
	BODY_FULL, /* past the cap: truncated */
	BODY_BAD,  /* the encoding is corrupt */
};

struct body {
	struct buf data; /* the kept bytes (decoded) */
	uint64_t seen;   /* bytes counted, up to cap */
	uint64_t cap;    /* max_body_bytes */
	bool keep;       /* keep the bytes, or only count them */
	bool truncated;  /* more than cap arrived */
	void *z;         /* z_stream while decoding, else NULL */
	bool deflate;    /* Content-Encoding: deflate (may be raw) */
	bool z_started;  /* inflate produced output, or went raw */
	bool z_ended;    /* the encoded stream is complete */
};

/* An empty sink keeping (or only counting) up to cap bytes. */
void body_init(struct body *b, uint64_t cap, bool keep);
void body_free(struct body *b);
/* Decode what follows per Content-Encoding ce (NULL, or one we do not
 * decode: passed through as is). */
void body_decode(struct body *b, const char *ce);
/* Take the body bytes in `in`: kept ones are removed from it; evhttp
 * drains the rest after its chunk callback. */
enum body_status body_take(struct body *b, struct evbuffer *in);
/* At the response's end: an encoded stream that began but did not end
 * is corrupt. */
bool body_unfinished(const struct body *b);
/* "gzip" or "deflate", for messages. */
const char *body_encoding(const struct body *b);

#endif
