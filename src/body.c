/*
 * body.c - the response-body sink of one attempt (see body.h): the cap
 * on decoded bytes, truncation, and gzip / deflate decoding with zlib,
 * including the raw-deflate fallback.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "body.h"
#include "util.h"

void
body_init(struct body *b, uint64_t cap, bool keep)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->keep = keep;
}

void
body_free(struct body *b)
{
	buf_free(&b->data);
	if (b->z != NULL) {
		inflateEnd(b->z);
		free(b->z);
		b->z = NULL;
	}
}

void
body_decode(struct body *b, const char *ce)
{
	z_stream *z;

	if (ce == NULL || b->z != NULL)
		return;
	if (strcasecmp(ce, "gzip") == 0 || strcasecmp(ce, "x-gzip") == 0)
		b->deflate = false;
	else if (strcasecmp(ce, "deflate") == 0)
		b->deflate = true;
	else
		return; /* identity, br, ...: passed through as is */
	z = xcalloc(1, sizeof(*z));
	/* 15 + 32: a zlib or a gzip header, detected. */
	if (inflateInit2(z, 15 + 32) != Z_OK) {
		free(z);
		return;
	}
	b->z = z;
}

/* Of n more bytes, how many fit under the cap: count them, and mark the
 * body truncated when some do not. */
static size_t
body_fit(struct body *b, size_t n)
{
	uint64_t room = b->cap - b->seen;
	size_t take = n < room ? n : (size_t)room;

	b->seen += take;
	if (n > room)
		b->truncated = true;
	return take;
}

/* Keep n decoded bytes at p, within the cap. */
static enum body_status
body_keep(struct body *b, const unsigned char *p, size_t n)
{
	size_t take = body_fit(b, n);

	if (b->keep && take > 0)
		buf_add(&b->data, p, take);
	return b->truncated ? BODY_FULL : BODY_MORE;
}

/* Inflate what in holds, keeping the output within the cap. */
static enum body_status
body_inflate(struct body *b, struct evbuffer *in)
{
	unsigned char out[16384];
	struct evbuffer_iovec v;
	z_stream *z = b->z;
	enum body_status st = BODY_MORE;
	int rc = Z_OK;

	while (st == BODY_MORE && !b->z_ended &&
	    evbuffer_peek(in, -1, NULL, &v, 1) == 1) {
		z->next_in = v.iov_base;
		z->avail_in = (uInt)v.iov_len;
		do {
			z->next_out = out;
			z->avail_out = sizeof(out);
			rc = inflate(z, Z_NO_FLUSH);
			if (rc == Z_DATA_ERROR && b->deflate &&
			    z->total_out == 0 && !b->z_started) {
				/* Raw deflate: start over on this chunk. */
				inflateEnd(z);
				memset(z, 0, sizeof(*z));
				if (inflateInit2(z, -15) != Z_OK)
					return BODY_BAD;
				b->z_started = true;
				z->next_in = v.iov_base;
				z->avail_in = (uInt)v.iov_len;
				continue;
			}
			if (rc != Z_OK && rc != Z_STREAM_END &&
			    rc != Z_BUF_ERROR)
				return BODY_BAD;
			st = body_keep(b, out, sizeof(out) - z->avail_out);
		} while (st == BODY_MORE && rc != Z_STREAM_END &&
		    (z->avail_in > 0 || z->avail_out == 0));
		if (z->total_out > 0)
			b->z_started = true;
		evbuffer_drain(in, v.iov_len - z->avail_in);
		if (rc == Z_STREAM_END) {
			b->z_ended = true;
			evbuffer_drain(in, evbuffer_get_length(in));
		}
	}
	return st;
}

enum body_status
body_take(struct body *b, struct evbuffer *in)
{
	size_t take;

	if (b->z != NULL)
		return b->z_ended ? BODY_MORE : body_inflate(b, in);
	/* Plain bytes move straight from the evbuffer, no copy between. */
	take = body_fit(b, evbuffer_get_length(in));
	if (b->keep && take > 0) {
		buf_reserve(&b->data, take);
		evbuffer_remove(in, b->data.data + b->data.len, take);
		b->data.len += take;
	}
	return b->truncated ? BODY_FULL : BODY_MORE;
}

bool
body_unfinished(const struct body *b)
{
	const z_stream *z = b->z;

	return z != NULL && !b->z_ended && !b->truncated && z->total_in > 0;
}

const char *
body_encoding(const struct body *b)
{
	return b->deflate ? "deflate" : "gzip";
}
