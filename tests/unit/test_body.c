/*
 * test_body.c - the response-body sink: the cap and truncation on plain
 * bytes, gzip and zlib-wrapped deflate decoded, raw deflate accepted,
 * the cap applied to the decoded size (a gzip bomb stops there), corrupt
 * and unfinished streams reported, unknown encodings passed through.
 * Compressed inputs are made here with zlib.
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

static void
test_gzip_and_deflate_decode(void **state)
{
	static const char text[] =
	    "the quick brown fox jumps over the lazy dog";
	unsigned char z[256];
	int windows[] = {15 + 16, 15, -15};
	const char *names[] = {"gzip", "deflate", "deflate"};
	size_t i, n;
	struct body b;

	for (i = 0; i < 3; i++) {
		n = squeeze(text, sizeof(text) - 1, windows[i], z, sizeof(z));
		body_init(&b, 1000, true);
		body_decode(&b, i == 0 ? "GZip" : "deflate");
		assert_string_equal(body_encoding(&b), names[i]);
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
	body_decode(&b, "gzip");
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
	body_decode(&b, "gzip");
	assert_int_equal(feed(&b, "not gzip at all", 15, 15), BODY_BAD);
	body_free(&b);

	n = squeeze(text, sizeof(text) - 1, 15 + 16, z, sizeof(z));
	body_init(&b, 1000, true);
	body_decode(&b, "gzip");
	assert_int_equal(feed(&b, z, n / 2, 4), BODY_MORE);
	assert_true(body_unfinished(&b)); /* the response ended here */
	body_free(&b);
}

static void
test_unknown_encoding_passes_through(void **state)
{
	struct body b;

	body_init(&b, 100, true);
	body_decode(&b, "br");
	body_decode(&b, NULL);
	assert_int_equal(feed(&b, "\x1f\x8b raw", 6, 6), BODY_MORE);
	assert_int_equal(b.data.len, 6);
	assert_false(body_unfinished(&b));
	body_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_within_and_past_the_cap),
	    cmocka_unit_test(test_gzip_and_deflate_decode),
	    cmocka_unit_test(test_gzip_bomb_stops_at_the_cap),
	    cmocka_unit_test(test_corrupt_and_unfinished),
	    cmocka_unit_test(test_unknown_encoding_passes_through),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
