/*
 * body.h - a response body as it streams in: bytes are decoded per the
 * response's Content-Encoding (RFC 9110 §8.4: a list, in the order the
 * codings were applied, over one or more field lines; gzip, x-gzip and
 * deflate known, identity a no-op), kept up to a cap that applies to
 * the decoded size (so a gzip bomb stops at the cap), counted, and
 * marked truncated past the cap. Stacked codings are undone in turn,
 * each layer's output also bounded by the cap; gzip's members are
 * decoded one after the other (RFC 1952 §2.2). "deflate" is meant to be
 * zlib-wrapped but some servers send it raw: on a bad header before any
 * output that layer starts over raw, once. A list with a coding fanoutd
 * does not know, or more than BODY_MAX_CODINGS, is not decoded at all:
 * the body stays as sent and body_coded() names the list. No I/O: the
 * owner hands it the evbuffer its bytes arrived in.
 */
#ifndef FANOUTD_BODY_H
#define FANOUTD_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "buf.h"

/* Codings undone at most; a longer list is left as sent. */
#define BODY_MAX_CODINGS 4

enum body_status {
	BODY_MORE, /* keep reading */
	BODY_FULL, /* past the cap: truncated */
	BODY_BAD,  /* the encoding is corrupt */
};

enum body_coding {
	BODY_GZIP,    /* gzip, x-gzip: one or more members */
	BODY_DEFLATE, /* deflate: zlib, or raw deflate */
};

struct body_layer; /* one coding being undone (body.c) */

struct body {
	struct buf data;           /* the kept bytes (decoded) */
	uint64_t seen;             /* bytes counted, up to cap */
	uint64_t cap;              /* max_body_bytes */
	bool keep;                 /* keep the bytes, or only count them */
	uint64_t keep_max;         /* past this many, nothing is kept */
	bool dropped;              /* went past keep_max: none kept */
	bool truncated;            /* more than cap arrived */
	struct body_layer *layers; /* outermost coding (applied last)
	                              first; NULL: bytes kept as they come */
	unsigned nlayers;
	struct buf codings; /* the Content-Encoding list, joined with ", " */
	bool coded;         /* the body is kept with those codings on */
	/* NULL, or given every byte counted (decoded, within the cap) as
	 * it is taken, kept or not. */
	void (*sink)(void *arg, const unsigned char *p, size_t n);
	void *sink_arg;
};

/* An empty sink keeping (or only counting) up to cap bytes. */
void body_init(struct body *b, uint64_t cap, bool keep);
/* Keep the body only while it is at most n bytes: past that the bytes
 * kept are freed, none more are kept and b->dropped is set (the sink, if
 * any, still sees every byte up to the cap). */
void body_keep_max(struct body *b, uint64_t n);
/* From now on, hand each byte taken to fn(arg, ...) as well. */
void body_set_sink(struct body *b,
    void (*fn)(void *arg, const unsigned char *p, size_t n), void *arg);
void body_free(struct body *b);

/*
 * The codings that Content-Encoding field values vals[0..n) list, in
 * the order to undo them (the last applied first), into out (room for
 * max). Elements are trimmed, case-insensitive; identity and empty ones
 * are skipped. Returns their number, or -1 when one is unknown (*bad
 * and *badlen then say which) or there are more than max.
 */
int body_coding_list(const char *const *vals, size_t n, enum body_coding *out,
    size_t max, const char **bad, size_t *badlen);

/*
 * The response's Content-Encoding field values vals[0..n), in order:
 * with decode, what follows is decoded when every coding is known;
 * otherwise (or without decode) it is kept as sent and body_coded()
 * names the codings.
 */
void body_decode(
    struct body *b, const char *const *vals, size_t n, bool decode);
/* The same from a response's header list: every Content-Encoding line,
 * in order (one list however it is split over lines, RFC 9110 §5.3). */
struct evkeyvalq;
void body_decode_fields(
    struct body *b, const struct evkeyvalq *headers, bool decode);
/* Take the body bytes in `in`: kept (or sunk) ones are removed from it;
 * evhttp drains the rest after its chunk callback. */
enum body_status body_take(struct body *b, struct evbuffer *in);
/* At the response's end: an encoded stream that began but did not end
 * is corrupt. */
bool body_unfinished(const struct body *b);
/* The codings being undone ("gzip", "gzip, gzip"), for messages. */
const char *body_encoding(struct body *b);
/* The codings the kept body still has on, as Content-Encoding listed
 * them, or NULL when it has none. */
const char *body_coded(struct body *b);

#endif
