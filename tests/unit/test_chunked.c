/*
 * test_chunked.c - the chunked body decoder: extensions (token and
 * quoted values) checked and ignored (issue #14 point 7), trailers
 * dropped, strict CR LF, the cap checked from each chunk size before
 * its data, where the body ends, and the same result whatever the
 * input's pieces.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "chunked.h"

/* Decode s in pieces of `step` bytes; data into out. Returns the last
 * status; *end is where decoding stopped. */
static enum chunked_status
decode_in(
    const char *s, size_t step, struct chunked *c, struct buf *out, size_t *end)
{
	size_t n = strlen(s), off = 0, avail = 0;
	enum chunked_status st = CHUNKED_MORE;

	chunked_init(c, 100, 64);
	while (st != CHUNKED_DONE && st != CHUNKED_BAD) {
		size_t used, doff, dlen;

		if (off == avail) {
			if (avail == n)
				break;
			avail = avail + step < n ? avail + step : n;
		}
		st = chunked_step(c, s + off, avail - off, &used, &doff, &dlen);
		if (st == CHUNKED_DATA)
			buf_add(out, s + off + doff, dlen);
		off += used;
	}
	*end = off;
	return st;
}

/* s decodes (in one piece and a byte at a time alike) to want, and
 * the body ends after `end` bytes; or fails with e and message. */
static void
check(const char *s, enum chunked_status want, const char *data, size_t end,
    enum req_err e, const char *msg)
{
	size_t steps[] = {1, 2, 7, strlen(s) + 1}, i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		size_t step = steps[i];
		struct buf out = BUF_INIT;
		struct chunked c;
		size_t stop;

		assert_int_equal(decode_in(s, step, &c, &out, &stop), want);
		if (want == CHUNKED_BAD) {
			assert_int_equal(c.error, e);
			assert_string_equal(c.message, msg);
		} else {
			assert_string_equal(buf_cstr(&out), data);
			assert_int_equal(stop, end);
		}
		buf_free(&out);
	}
}

static void
test_chunks_and_extensions(void **state)
{
	const char *s = "5\r\nhello\r\n1f;name=value\r\n"
	                "0123456789012345678901234567890\r\n0\r\n\r\nNEXT";

	check(s, CHUNKED_DONE, "hello0123456789012345678901234567890",
	    strlen(s) - 4, 0, NULL);
	/* Extensions of every shape RFC 9112 §7.1.1 allows, ignored. */
	check("3 ; a ; b = \"q\\\"x\" ;c=d\r\nabc\r\n0;last\r\n\r\n",
	    CHUNKED_DONE, "abc", 40, 0, NULL);
	check("A\r\n0123456789\r\n000\r\n\r\n", CHUNKED_DONE, "0123456789", 22,
	    0, NULL);
	/* Trailers are read and dropped. */
	check("2\r\nab\r\n0\r\nX-T: 1\r\nY:\r\n\r\n", CHUNKED_DONE, "ab", 24, 0,
	    NULL);
	/* Not ended yet. */
	check("2\r\nab\r\n0\r\n", CHUNKED_MORE, "ab", 10, 0, NULL);
}

static void
test_malformed_bodies(void **state)
{
	check("zz\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a chunk size is not hexadecimal");
	check("0x5\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension");
	check(" 5\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a chunk size is not hexadecimal");
	check("5 \r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "whitespace after a chunk size");
	check("5\nhello\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension");
	check("5\rhello\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a chunk-size line ends in a bare CR");
	check("5\r\nhelloX\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "chunk data is not followed by CR LF");
	check("5\r\nhello\n0\r\n\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "chunk data is not followed by CR LF");
	check("1;=v\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension");
	check("1;a=\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension value");
	check("1;a=b=c\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension");
	check("1;a=\"\001\"\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a control character in a chunk extension");
	/* A bare LF inside an extension never ends the line. */
	check("1;a\nb\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed chunk extension");
	check("0\r\nX-T 1\r\n\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed trailer field name");
	check("0\r\n X: 1\r\n\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a malformed trailer field");
	check("0\r\nX: 1\r\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a bare CR in the trailer fields");
	check("0\r\nX: 1\n\r\n", CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a control character in a trailer field");
}

static void
test_limits(void **state)
{
	char s[8192];

	/* The cap (100) is judged from the size, before the data. */
	check("40\r\n", CHUNKED_MORE, "", 4, 0, NULL);
	check("40\r\n"
	      "0123456789012345678901234567890123456789"
	      "012345678901234567890123\r\n"
	      "25\r\n",
	    CHUNKED_BAD, NULL, 0, RERR_TOO_LARGE,
	    "the chunked request body is over 100 bytes ([server] "
	    "max_request_bytes)");
	check("fffffffffffffffffffffff\r\n", CHUNKED_BAD, NULL, 0,
	    RERR_TOO_LARGE,
	    "the chunked request body is over 100 bytes ([server] "
	    "max_request_bytes)");
	/* Leading zeros are no size, but the line has a bound. */
	memset(s, '0', CHUNKED_MAX_LINE + 1);
	s[CHUNKED_MAX_LINE + 1] = '\0';
	check(s, CHUNKED_BAD, NULL, 0, RERR_BAD_REQUEST,
	    "a chunk-size line is over 4096 bytes");
	/* Trailers over their cap (64). */
	snprintf(s, sizeof(s), "0\r\nX: %070d\r\n\r\n", 0);
	check(s, CHUNKED_BAD, NULL, 0, RERR_HEADERS,
	    "the trailer fields are over 64 bytes ([server] "
	    "max_header_bytes)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_chunks_and_extensions),
	    cmocka_unit_test(test_malformed_bodies),
	    cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
