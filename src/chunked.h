/*
 * chunked.h - a chunked request body (RFC 9112 §7.1) decoded byte by
 * byte, strictly, before evhttp sees it. Pure: no I/O.
 *
 * libevent 2.1 refuses a chunk extension ("1f;name=value") as a body
 * too large, in HTML; RFC 9112 §7.1.1 says extensions a recipient does
 * not understand are ignored. So the guard decodes the body here -
 * extensions checked for syntax and dropped, trailers checked and
 * dropped, CR LF required where the grammar has it - and hands evhttp
 * plain chunks. The decoded size is capped (max_request_bytes) as each
 * chunk size is read, before its data arrives.
 */
#ifndef FANOUTD_CHUNKED_H
#define FANOUTD_CHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum chunked_status {
	CHUNKED_MORE = 0, /* everything given was used; send more */
	CHUNKED_DATA,     /* a span of body data (see chunked_step) */
	CHUNKED_DONE,     /* the last chunk and the trailers have ended */
	CHUNKED_BAD,      /* malformed or too large: error, message */
};

/* The longest chunk-size line (size and extensions) accepted. */
#define CHUNKED_MAX_LINE 4096

struct chunked {
	int state;
	uint64_t left;     /* data bytes of the current chunk to come */
	uint64_t total;    /* decoded bytes so far */
	uint64_t max_body; /* past it: 413 */
	uint64_t max_trailer;
	uint64_t trailer; /* trailer bytes so far */
	size_t line;      /* bytes of the current chunk-size line */
	enum chunked_status status;
	enum req_err error;
	char message[160];
};

/* A decoder for one body: at most max_body decoded bytes (413 past
 * it), at most max_trailer bytes of trailer fields (431). */
void chunked_init(struct chunked *c, uint64_t max_body, uint64_t max_trailer);

/*
 * Decode from p[0..n). Returns CHUNKED_DATA when p[*data_off ..
 * *data_off + *data_len) is body data, *used bytes having been read
 * (the data included); CHUNKED_MORE when all n bytes were read;
 * CHUNKED_DONE when the body ended after *used bytes (what follows is
 * the next request); CHUNKED_BAD on an error, for good. Call again with
 * the bytes after *used.
 */
enum chunked_status chunked_step(struct chunked *c, const char *p, size_t n,
    size_t *used, size_t *data_off, size_t *data_len);

#endif
