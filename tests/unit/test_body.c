/*
 * test_body.c - the response-body sink: the cap and truncation on plain
 * bytes, gzip and zlib-wrapped deflate decoded, raw deflate accepted,
 * the cap applied to the decoded size (a gzip bomb stops there, in any
 * layer), corrupt and unfinished streams reported; Content-Encoding as
 * a list over one or more lines (issue #13): stacked codings undone in
 * turn, gzip members one after the other, a list with an unknown coding
 * kept as sent and named. Compressed inputs are made here with zlib.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "body.h"

/* Compress n bytes of src: windowBits 15 + 16 for gzip, 15 for zlib,
 * -15 for raw deflate. Returns the length written to out. */
static size_t
squeeze(
    const void *src, size_t n, int window, unsigned char *out, size_t outlen)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(
	    deflateInit2(&z, 9, Z_DEFLATED, window, 9, Z_DEFAULT_STRATEGY),
	    Z_OK);
	z.next_in = (unsigned char *)src;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)outlen;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	n = z.total_out;
	deflateEnd(&z);
	return n;
}

/* Content-Encoding with the one field value v, decoded. */
static void
decode1(struct body *b, const char *v)
{
	const char *vals[] = {v};

	body_decode(b, vals, 1, true);
}

/* Feed p[0..n) to b in pieces of `step` bytes; the last status. */
static enum body_status
feed(struct body *b, const void *p, size_t n, size_t step)
{
	struct evbuffer *in = evbuffer_new();
	enum body_status st = BODY_MORE;
	size_t off;

	for (off = 0; off < n && st == BODY_MORE; off += step) {
		size_t k = n - off < step ? n - off : step;

		evbuffer_add(in, (const char *)p + off, k);
		st = body_take(b, in);
		evbuffer_drain(in, evbuffer_get_length(in)); /* as evhttp */
	}
	evbuffer_free(in);
	return st;
}

static void
test_plain_within_and_past_the_cap(void **state)
{
	struct body b;

	body_init(&b, 10, true);
	assert_int_equal(feed(&b, "hello", 5, 2), BODY_MORE);
	assert_int_equal(b.data.len, 5);
	assert_int_equal(feed(&b, "worlds!", 7, 7), BODY_FULL);
	assert_true(b.truncated);
	assert_int_equal(b.seen, 10);
	assert_memory_equal(b.data.data, "helloworld", 10);
	body_free(&b);

	/* Counted, not kept. */
	body_init(&b, 100, false);
	assert_int_equal(feed(&b, "abc", 3, 3), BODY_MORE);
	assert_int_equal(b.seen, 3);
	assert_int_equal(b.data.len, 0);
	body_free(&b);
}

/* A sink sees exactly the bytes counted, decoded and within the cap,
 * whether or not they are kept, however they arrive (the body observer
 * of fetch.h, which extraction parses as it streams). */
static void
sink_add(void *arg, const unsigned char *p, size_t n)
{
	buf_add(arg, p, n);
}

static void
test_sink_sees_decoded_bytes_within_the_cap(void **state)
{
	static const char text[] =
	    "<title>a sink sees every decoded byte</title>";
	struct buf seen = BUF_INIT;
	unsigned char z[256];
	struct evbuffer *in;
	struct body b;
	size_t n;

	body_init(&b, 10, false);
	body_set_sink(&b, sink_add, &seen);
	assert_int_equal(feed(&b, "hello", 5, 2), BODY_MORE);
	assert_int_equal(feed(&b, "worlds!", 7, 3), BODY_FULL);
	assert_int_equal(seen.len, 10);
	assert_memory_equal(seen.data, "helloworld", 10);
	assert_int_equal(b.data.len, 0);
	body_free(&b);

	/* Plain bytes spread over several evbuffer chains. */
	buf_reset(&seen);
	body_init(&b, 1000, false);
	body_set_sink(&b, sink_add, &seen);
	in = evbuffer_new();
	evbuffer_add(in, "ab", 2);
	evbuffer_add_reference(in, "cd", 2, NULL, NULL);
	evbuffer_add_reference(in, "ef", 2, NULL, NULL);
	assert_int_equal(body_take(&b, in), BODY_MORE);
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(seen.len, 6);
	assert_memory_equal(seen.data, "abcdef", 6);
	evbuffer_free(in);
	body_free(&b);

	/* gzip: the sink gets the decoded text, kept as well. */
	buf_reset(&seen);
	n = squeeze(text, sizeof(text) - 1, 15 + 16, z, sizeof(z));
	body_init(&b, 1000, true);
	body_set_sink(&b, sink_add, &seen);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n, 5), BODY_MORE);
	assert_int_equal(seen.len, sizeof(text) - 1);
	assert_memory_equal(seen.data, text, sizeof(text) - 1);
	assert_int_equal(b.data.len, sizeof(text) - 1);
	body_free(&b);
	buf_free(&seen);
}

/* keep_max: a body kept while it is short, dropped whole once it is
 * longer (a job's line carries small bodies only); the sink and the
 * count go on to the cap. */
static void
test_keep_max_drops_a_longer_body(void **state)
{
	static const char text[] = "0123456789abcdefghij";
	struct buf seen = BUF_INIT;
	unsigned char z[256];
	struct body b;
	size_t n;

	(void)state;
	body_init(&b, 100, true);
	body_keep_max(&b, 8);
	assert_int_equal(feed(&b, text, 8, 3), BODY_MORE);
	assert_int_equal(b.data.len, 8); /* at the limit: still kept */
	assert_false(b.dropped);
	body_free(&b);

	body_init(&b, 100, true);
	body_keep_max(&b, 8);
	body_set_sink(&b, sink_add, &seen);
	assert_int_equal(feed(&b, text, 20, 3), BODY_MORE);
	assert_true(b.dropped);
	assert_int_equal(b.data.len, 0);
	assert_int_equal(b.seen, 20);
	assert_int_equal(seen.len, 20);
	assert_memory_equal(seen.data, text, 20);
	body_free(&b);

	/* Decoded bytes count against it too. */
	buf_reset(&seen);
	n = squeeze(text, 20, 15 + 16, z, sizeof(z));
	body_init(&b, 100, true);
	body_keep_max(&b, 8);
	body_set_sink(&b, sink_add, &seen);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n, 4), BODY_MORE);
	assert_true(b.dropped);
	assert_int_equal(b.data.len, 0);
	assert_int_equal(seen.len, 20);
	body_free(&b);
	buf_free(&seen);
}

static void
test_gzip_and_deflate_decode(void **state)
{
	static const char text[] =
	    "the quick brown fox jumps over the lazy dog";
	unsigned char z[256];
	int windows[] = {15 + 16, 15, -15};
	const char *names[] = {"GZip", "deflate", "Deflate"};
	size_t i, n;
	struct body b;

	for (i = 0; i < 3; i++) {
		n = squeeze(text, sizeof(text) - 1, windows[i], z, sizeof(z));
		body_init(&b, 1000, true);
		decode1(&b, names[i]);
		assert_string_equal(body_encoding(&b), names[i]);
		assert_null(body_coded(&b));
		assert_int_equal(feed(&b, z, n, 3), BODY_MORE);
		assert_false(body_unfinished(&b));
		assert_int_equal(b.data.len, sizeof(text) - 1);
		assert_memory_equal(b.data.data, text, sizeof(text) - 1);
		body_free(&b);
	}
}

/* 16 MiB of zeros squeeze to ~16 KB; the cap stops decoding at 1 MiB. */
static void
test_gzip_bomb_stops_at_the_cap(void **state)
{
	size_t big = 16u << 20, n;
	char *zeros = calloc(1, big);
	unsigned char *z = malloc(big / 100);
	struct body b;

	n = squeeze(zeros, big, 15 + 16, z, big / 100);
	assert_true(n < 64 * 1024);
	body_init(&b, 1u << 20, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n, n), BODY_FULL);
	assert_true(b.truncated);
	assert_int_equal(b.seen, 1u << 20);
	assert_int_equal(b.data.len, 1u << 20);
	body_free(&b);
	free(zeros);
	free(z);
}

static void
test_corrupt_and_unfinished(void **state)
{
	static const char text[] = "some text that compresses, some text";
	unsigned char z[256];
	size_t n;
	struct body b;

	body_init(&b, 1000, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, "not gzip at all", 15, 15), BODY_BAD);
	body_free(&b);

	n = squeeze(text, sizeof(text) - 1, 15 + 16, z, sizeof(z));
	body_init(&b, 1000, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n / 2, 4), BODY_MORE);
	assert_true(body_unfinished(&b)); /* the response ended here */
	body_free(&b);
}

static void
test_unknown_encoding_passes_through(void **state)
{
	struct body b;

	body_init(&b, 100, true);
	decode1(&b, "br");
	assert_int_equal(feed(&b, "\x1f\x8b raw", 6, 6), BODY_MORE);
	assert_int_equal(b.data.len, 6);
	assert_false(body_unfinished(&b));
	assert_string_equal(body_coded(&b), "br");
	body_free(&b);
}

/* RFC 9110 §8.4: a list, in the order applied, over one or more lines;
 * undone the other way round. */
static void
test_coding_lists(void **state)
{
	enum body_coding c[BODY_MAX_CODINGS];
	const char *bad;
	size_t badlen;
	const char *one[] = {"gzip"};
	const char *pair[] = {"deflate, GZIP"};
	const char *lines[] = {"deflate", " x-gzip "};
	const char *sparse[] = {" , identity,, gzip ,", ""};
	const char *unknown[] = {"gzip", "gzip, br"};
	const char *many[] = {"gzip, gzip, gzip", "gzip, gzip"};
	const char *ident[] = {"identity"};

	assert_int_equal(body_coding_list(one, 1, c, 4, &bad, &badlen), 1);
	assert_int_equal(c[0], BODY_GZIP);
	assert_int_equal(body_coding_list(pair, 1, c, 4, &bad, &badlen), 2);
	assert_int_equal(c[0], BODY_GZIP); /* applied last: undone first */
	assert_int_equal(c[1], BODY_DEFLATE);
	assert_int_equal(body_coding_list(lines, 2, c, 4, &bad, &badlen), 2);
	assert_int_equal(c[0], BODY_GZIP);
	assert_int_equal(c[1], BODY_DEFLATE);
	assert_int_equal(body_coding_list(sparse, 2, c, 4, &bad, &badlen), 1);
	assert_int_equal(body_coding_list(ident, 1, c, 4, &bad, &badlen), 0);
	assert_int_equal(body_coding_list(unknown, 2, c, 4, &bad, &badlen), -1);
	assert_int_equal(badlen, 2);
	assert_memory_equal(bad, "br", 2);
	assert_int_equal(body_coding_list(many, 2, c, 4, &bad, &badlen), -1);
	assert_null(bad);
}

/* RFC 1952 §2.2: every member, in pieces of every size. */
static void
test_gzip_members(void **state)
{
	unsigned char z[512];
	size_t n, step;
	struct body b;

	n = squeeze("hello ", 6, 15 + 16, z, sizeof(z));
	n += squeeze("world", 5, 15 + 16, z + n, sizeof(z) - n);
	for (step = 1; step <= n; step++) {
		body_init(&b, 1000, true);
		decode1(&b, "gzip");
		assert_int_equal(feed(&b, z, n, step), BODY_MORE);
		assert_false(body_unfinished(&b));
		assert_int_equal(b.data.len, 11);
		assert_memory_equal(b.data.data, "hello world", 11);
		body_free(&b);
	}
	/* Capped on the decoded total, across members. */
	body_init(&b, 8, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n, n), BODY_FULL);
	assert_memory_equal(b.data.data, "hello wo", 8);
	body_free(&b);
	/* A member cut short, then bytes that are no member at all. */
	body_init(&b, 1000, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n - 3, 5), BODY_MORE);
	assert_true(body_unfinished(&b));
	body_free(&b);
	memcpy(z + n, "junk", 4);
	body_init(&b, 1000, true);
	decode1(&b, "gzip");
	assert_int_equal(feed(&b, z, n + 4, n + 4), BODY_BAD);
	body_free(&b);
}

/* gzip(gzip(text)) means the same said on one line or two. */
static void
test_stacked_codings(void **state)
{
	static const char text[] = "hello, stacked codings";
	unsigned char once[256], twice[256];
	const char *list[] = {"gzip, gzip"};
	const char *lines[] = {"gzip", "gzip"};
	const char *dg[] = {"deflate", "gzip"};
	const char *const *forms[] = {list, lines};
	size_t sizes[] = {1, 2}, n1, n2, i;
	struct body b;

	n1 = squeeze(text, sizeof(text) - 1, 15 + 16, once, sizeof(once));
	n2 = squeeze(once, n1, 15 + 16, twice, sizeof(twice));
	for (i = 0; i < 2; i++) {
		body_init(&b, 1000, true);
		body_decode(&b, forms[i], sizes[i], true);
		assert_int_equal(feed(&b, twice, n2, 7), BODY_MORE);
		assert_false(body_unfinished(&b));
		assert_int_equal(b.data.len, sizeof(text) - 1);
		assert_memory_equal(b.data.data, text, sizeof(text) - 1);
		assert_string_equal(body_encoding(&b), "gzip, gzip");
		body_free(&b);
	}
	n1 = squeeze(text, sizeof(text) - 1, 15, once, sizeof(once));
	n2 = squeeze(once, n1, 15 + 16, twice, sizeof(twice));
	body_init(&b, 1000, true);
	body_decode(&b, dg, 2, true);
	assert_int_equal(feed(&b, twice, n2, n2), BODY_MORE);
	assert_memory_equal(b.data.data, text, sizeof(text) - 1);
	body_free(&b);
}

/* Two layers of bomb, and a bomb in the outer layer whose inner one
 * makes nothing (empty stored blocks): both stop at the cap. */
static void
test_stacked_bombs_stop_at_the_cap(void **state)
{
	size_t big = 16u << 20, n1, n2, i;
	unsigned char *raw = malloc(big), *once = malloc(big / 50),
	              *twice = malloc(big / 50);
	const char *list[] = {"gzip, gzip"};
	const char *dg[] = {"deflate, gzip"};
	struct body b;

	memset(raw, 0, big);
	n1 = squeeze(raw, big, 15 + 16, once, big / 50);
	n2 = squeeze(once, n1, 15 + 16, twice, big / 50);
	body_init(&b, 1u << 20, true);
	body_decode(&b, list, 1, true);
	assert_int_equal(feed(&b, twice, n2, n2), BODY_FULL);
	assert_true(b.truncated);
	assert_int_equal(b.data.len, 1u << 20);
	body_free(&b);
	for (i = 0; i + 5 <= (2u << 20); i += 5) /* empty stored blocks */
		memcpy(raw + i, "\x00\x00\x00\xff\xff", 5);
	memcpy(raw + i, "\x03\x00", 2); /* an empty last block */
	n2 = squeeze(raw, i + 2, 15 + 16, twice, big / 50);
	body_init(&b, 1u << 20, true);
	body_decode(&b, dg, 1, true);
	assert_int_equal(feed(&b, twice, n2, 4096), BODY_FULL);
	assert_true(b.truncated);
	assert_int_equal(b.data.len, 0);
	body_free(&b);
	free(raw);
	free(once);
	free(twice);
}

/* Not decoded, and said so: an unknown coding anywhere in the list, too
 * many codings, or decoding off. identity alone is no coding. */
static void
test_codings_left_on(void **state)
{
	unsigned char z[256];
	const char *ce[] = {"gzip", "br"};
	const char *five[] = {"gzip, gzip, gzip, gzip, gzip"};
	const char *ident[] = {" identity "};
	size_t n = squeeze("hello", 5, 15 + 16, z, sizeof(z));
	struct body b;

	body_init(&b, 1000, true);
	body_decode(&b, ce, 2, true);
	assert_int_equal(feed(&b, z, n, 3), BODY_MORE);
	assert_int_equal(b.data.len, n); /* as sent */
	assert_memory_equal(b.data.data, z, n);
	assert_string_equal(body_coded(&b), "gzip, br");
	body_free(&b);
	body_init(&b, 1000, true);
	body_decode(&b, five, 1, true);
	assert_string_equal(body_coded(&b), "gzip, gzip, gzip, gzip, gzip");
	body_free(&b);
	body_init(&b, 1000, true);
	body_decode(&b, ce, 1, false);
	assert_int_equal(feed(&b, z, n, n), BODY_MORE);
	assert_int_equal(b.data.len, n);
	assert_string_equal(body_coded(&b), "gzip");
	body_free(&b);
	body_init(&b, 1000, true);
	body_decode(&b, ident, 1, true);
	assert_null(body_coded(&b));
	assert_int_equal(feed(&b, "hello", 5, 5), BODY_MORE);
	assert_memory_equal(b.data.data, "hello", 5);
	body_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_within_and_past_the_cap),
	    cmocka_unit_test(test_sink_sees_decoded_bytes_within_the_cap),
	    cmocka_unit_test(test_keep_max_drops_a_longer_body),
	    cmocka_unit_test(test_gzip_and_deflate_decode),
	    cmocka_unit_test(test_gzip_bomb_stops_at_the_cap),
	    cmocka_unit_test(test_corrupt_and_unfinished),
	    cmocka_unit_test(test_unknown_encoding_passes_through),
	    cmocka_unit_test(test_coding_lists),
	    cmocka_unit_test(test_gzip_members),
	    cmocka_unit_test(test_stacked_codings),
	    cmocka_unit_test(test_stacked_bombs_stop_at_the_cap),
	    cmocka_unit_test(test_codings_left_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
