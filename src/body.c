/*
 * body.c - the response-body sink of one attempt (see body.h): the cap
 * on decoded bytes, truncation, and content codings undone with zlib:
 * the Content-Encoding list, one layer per coding (the raw-deflate
 * fallback included), gzip members one after the other.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sys/queue.h>

#include <event2/keyvalq_struct.h>
#include <zlib.h>

#include "body.h"
#include "util.h"

struct body_layer {
	z_stream z;
	enum body_coding coding;
	bool started; /* produced output, or went raw */
	bool raw;     /* deflate without its zlib wrapper */
	bool ended;   /* its stream (gzip: the last member so far) ended */
	uint64_t out; /* bytes it produced */
};

void
body_init(struct body *b, uint64_t cap, bool keep)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->keep = keep;
	b->keep_max = UINT64_MAX;
}

void
body_keep_max(struct body *b, uint64_t n)
{
	b->keep_max = n;
}

/* About to keep n more bytes: past keep_max, stop keeping any. */
static void
body_check_keep(struct body *b, size_t n)
{
	if (b->keep && b->data.len + n > b->keep_max) {
		buf_free(&b->data);
		b->keep = false;
		b->dropped = true;
	}
}

void
body_set_sink(struct body *b,
    void (*fn)(void *arg, const unsigned char *p, size_t n), void *arg)
{
	b->sink = fn;
	b->sink_arg = arg;
}

void
body_free(struct body *b)
{
	unsigned i;

	buf_free(&b->data);
	buf_free(&b->codings);
	for (i = 0; i < b->nlayers; i++)
		inflateEnd(&b->layers[i].z);
	free(b->layers);
	b->layers = NULL;
	b->nlayers = 0;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool
coding_is(const char *s, size_t n, const char *name)
{
	return strlen(name) == n && strncasecmp(s, name, n) == 0;
}

int
body_coding_list(const char *const *vals, size_t n, enum body_coding *out,
    size_t max, const char **bad, size_t *badlen)
{
	enum body_coding c;
	size_t count = 0, i;
	const char *p, *s;
	size_t len;

	*bad = NULL;
	*badlen = 0;
	for (i = 0; i < n; i++) {
		p = vals[i];
		while (
		    next_list_item(&p, vals[i] + strlen(vals[i]), &s, &len)) {
			if (coding_is(s, len, "identity"))
				continue;
			if (coding_is(s, len, "gzip") ||
			    coding_is(s, len, "x-gzip"))
				c = BODY_GZIP;
			else if (coding_is(s, len, "deflate"))
				c = BODY_DEFLATE;
			else {
				*bad = s;
				*badlen = len;
				return -1;
			}
			if (count == max)
				return -1;
			out[count++] = c;
		}
	}
	/* Listed in the order applied; undone the other way round. */
	for (i = 0; i < count / 2; i++) {
		c = out[i];
		out[i] = out[count - 1 - i];
		out[count - 1 - i] = c;
	}
	return (int)count;
}

void
body_decode(struct body *b, const char *const *vals, size_t n, bool decode)
{
	enum body_coding codes[BODY_MAX_CODINGS];
	const char *bad;
	size_t badlen, i;
	int k;

	if (n == 0 || b->codings.len > 0 || b->layers != NULL)
		return;
	for (i = 0; i < n; i++) {
		const char *v = vals[i], *e = v + strlen(v);

		while (is_ows(*v))
			v++;
		while (e > v && is_ows(e[-1]))
			e--;
		if (b->codings.len > 0 && e > v)
			buf_add(&b->codings, ", ", 2);
		buf_add(&b->codings, v, (size_t)(e - v));
	}
	k = body_coding_list(vals, n, codes, BODY_MAX_CODINGS, &bad, &badlen);
	if (k == 0)
		return; /* identity: nothing on */
	if (k < 0 || !decode) {
		b->coded = true; /* kept as sent: the result says so */
		return;
	}
	b->layers = xcalloc((size_t)k, sizeof(*b->layers));
	for (i = 0; i < (size_t)k; i++) {
		b->layers[i].coding = codes[i];
		/* 15 + 32: a zlib or a gzip header, detected. */
		if (inflateInit2(&b->layers[i].z, 15 + 32) != Z_OK)
			abort(); /* out of memory: see util.h */
		b->nlayers++;
	}
}

void
body_decode_fields(struct body *b, const struct evkeyvalq *h, bool decode)
{
	const char *few[8], **vals = few;
	struct evkeyval *kv;
	size_t n = 0;

	TAILQ_FOREACH(kv, h, next)
	n += (kv->key[0] | 0x20) == 'c' &&
	    strcasecmp(kv->key, "Content-Encoding") == 0;
	if (n == 0)
		return;
	if (n > ARRAY_SIZE(few))
		vals = xmalloc(n * sizeof(*vals));
	n = 0;
	TAILQ_FOREACH(kv, h, next)
	if (strcasecmp(kv->key, "Content-Encoding") == 0)
		vals[n++] = kv->value;
	body_decode(b, vals, n, decode);
	if (vals != few)
		free(vals);
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

	if (b->sink != NULL && take > 0)
		b->sink(b->sink_arg, p, take);
	body_check_keep(b, take);
	if (b->keep && take > 0)
		buf_add(&b->data, p, take);
	return b->truncated ? BODY_FULL : BODY_MORE;
}

/*
 * Undo layer i's coding on the n bytes at p and pass what comes out to
 * the next layer, or keep it after the last. Every byte of p is used,
 * unless the body ends here (full, or corrupt). An inner layer's output
 * counts against the cap too: a bomb can sit in any layer.
 */
static enum body_status
layer_feed(struct body *b, unsigned i, const unsigned char *p, size_t n)
{
	struct body_layer *l = &b->layers[i];
	unsigned char out[16384];
	enum body_status st = BODY_MORE;
	size_t got;
	int rc;

	l->z.next_in = (unsigned char *)p;
	l->z.avail_in = (uInt)n;
	do {
		if (l->ended && l->z.avail_in > 0) {
			/* RFC 1952 §2.2: another gzip member may follow;
			 * anything else after a stream is corrupt. */
			if (l->coding != BODY_GZIP ||
			    inflateReset2(&l->z, 15 + 16) != Z_OK)
				return BODY_BAD;
			l->ended = false;
		}
		l->z.next_out = out;
		l->z.avail_out = sizeof(out);
		rc = inflate(&l->z, Z_NO_FLUSH);
		if (rc == Z_DATA_ERROR && l->coding == BODY_DEFLATE &&
		    !l->started) {
			/* Raw deflate: start over on these bytes. */
			if (inflateReset2(&l->z, -15) != Z_OK)
				return BODY_BAD;
			l->started = l->raw = true;
			l->z.next_in = (unsigned char *)p;
			l->z.avail_in = (uInt)n;
			continue;
		}
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return BODY_BAD;
		got = sizeof(out) - l->z.avail_out;
		l->ended = rc == Z_STREAM_END;
		if (got == 0)
			continue;
		l->started = true;
		if (i + 1 == b->nlayers) {
			st = body_keep(b, out, got);
		} else if ((l->out += got) > b->cap) {
			b->truncated = true;
			st = BODY_FULL;
		} else {
			st = layer_feed(b, i + 1, out, got);
		}
	} while (st == BODY_MORE &&
	    (l->z.avail_in > 0 || (l->z.avail_out == 0 && !l->ended)));
	return st;
}

/* The first n bytes of in, to the sink, where they lie. */
static void
body_sink_plain(struct body *b, struct evbuffer *in, size_t n)
{
	struct evbuffer_ptr pos;
	struct evbuffer_iovec v;

	evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET);
	while (n > 0 && evbuffer_peek(in, -1, &pos, &v, 1) == 1) {
		size_t k = v.iov_len < n ? v.iov_len : n;

		b->sink(b->sink_arg, v.iov_base, k);
		n -= k;
		if (evbuffer_ptr_set(in, &pos, k, EVBUFFER_PTR_ADD) != 0)
			break;
	}
}

enum body_status
body_take(struct body *b, struct evbuffer *in)
{
	struct evbuffer_iovec v;
	enum body_status st = BODY_MORE;
	size_t take;

	if (b->layers != NULL) {
		while (st == BODY_MORE &&
		    evbuffer_peek(in, -1, NULL, &v, 1) == 1) {
			st = layer_feed(b, 0, v.iov_base, v.iov_len);
			evbuffer_drain(in, v.iov_len);
		}
		return st;
	}
	/* Plain bytes move straight from the evbuffer, no copy between. */
	take = body_fit(b, evbuffer_get_length(in));
	body_check_keep(b, take);
	if (b->sink != NULL && take > 0)
		body_sink_plain(b, in, take);
	if (b->sink != NULL && !b->keep)
		evbuffer_drain(in, take);
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
	unsigned i;

	if (b->truncated)
		return false;
	for (i = 0; i < b->nlayers; i++)
		if (!b->layers[i].ended && b->layers[i].z.total_in > 0)
			return true;
	return false;
}

const char *
body_encoding(struct body *b)
{
	return buf_cstr(&b->codings);
}

const char *
body_coded(struct body *b)
{
	return b->coded ? buf_cstr(&b->codings) : NULL;
}
