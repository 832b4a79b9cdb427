/*
 * test_guard.c - the request-head reader behind the early JSON 413:
 * where a head ends (CR LF or bare LF, split across reads), which body
 * length it announces as evhttp reads it (first Content-Length, chunked
 * wins, HEAD and TRACE carry none), and what it leaves to evhttp.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"

/* The whole head at once, searched from its start. */
static int
head(const char *s, uint64_t *len)
{
	*len = 12345;
	return guard_head_body_length(s, strlen(s), 0, len);
}

static void
test_content_length_is_read(void **state)
{
	uint64_t len;

	assert_int_equal(head("POST /v1/batch HTTP/1.1\r\nHost: x\r\n"
	                      "Content-Length: 5000\r\n\r\nbody",
	                     &len),
	    1);
	assert_int_equal(len, 5000);
	assert_int_equal(
	    head("PUT / HTTP/1.1\ncontent-LENGTH:\t 77 \n\n", &len), 1);
	assert_int_equal(len, 77);
	assert_int_equal(head("POST / HTTP/1.1\r\nContent-Length: "
	                      "18446744073709551615\r\n\r\n",
	                     &len),
	    1);
	assert_int_equal(len, UINT64_MAX);
	/* Past 2^64 - 1: as large as it gets (evhttp clamps it too). */
	assert_int_equal(head("POST / HTTP/1.1\r\nContent-Length: "
	                      "99999999999999999999\r\n\r\n",
	                     &len),
	    1);
	assert_int_equal(len, UINT64_MAX);
}

static void
test_incomplete_head(void **state)
{
	uint64_t len;

	assert_int_equal(head("", &len), -1);
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Length: 9\r\n", &len), -1);
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r", &len), -1);
}

/* Fed a byte at a time, each search starting 3 bytes before the new
 * byte as conn_head_feed does, the end is found at the same place. */
static void
test_head_split_across_reads(void **state)
{
	const char *s = "POST / HTTP/1.1\r\nContent-Length: 123\r\n\r\nxyz";
	size_t n, end = strlen(s) - 3;
	uint64_t len = 0;
	int rc = -1;

	for (n = 1; n <= strlen(s) && rc < 0; n++) {
		size_t from = n - 1 > 3 ? n - 1 - 3 : 0;

		rc = guard_head_body_length(s, n, from, &len);
		if (n < end)
			assert_int_equal(rc, -1);
	}
	assert_int_equal(rc, 1);
	assert_int_equal(n - 1, end);
	assert_int_equal(len, 123);
}

static void
test_left_to_evhttp(void **state)
{
	uint64_t len;

	/* No length, chunked, bodiless methods, malformed. */
	assert_int_equal(head("POST / HTTP/1.1\r\nHost: x\r\n\r\n", &len), 0);
	assert_int_equal(head("POST / HTTP/1.1\r\nContent-Length: 9\r\n"
	                      "Transfer-Encoding: Chunked\r\n\r\n",
	                     &len),
	    0);
	assert_int_equal(
	    head("HEAD / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", &len),
	    0);
	assert_int_equal(
	    head("TRACE / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", &len),
	    0);
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Length: 9x\r\n\r\n", &len), 0);
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &len), 0);
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", &len), 0);
	/* A name that only starts like it. */
	assert_int_equal(
	    head("POST / HTTP/1.1\r\nContent-Lengthy: 5\r\n\r\n", &len), 0);
	/* A header in the body does not count. */
	assert_int_equal(
	    head("POST / HTTP/1.1\r\n\r\nContent-Length: 5\r\n\r\n", &len), 0);
}

static void
test_first_content_length_counts(void **state)
{
	uint64_t len;

	assert_int_equal(head("POST / HTTP/1.1\r\nContent-Length: 10\r\n"
	                      "Content-Length: 99999\r\n\r\n",
	                     &len),
	    1);
	assert_int_equal(len, 10);
	/* A Transfer-Encoding other than chunked leaves the length. */
	assert_int_equal(head("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
	                      "Content-Length: 64\r\n\r\n",
	                     &len),
	    1);
	assert_int_equal(len, 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_length_is_read),
	    cmocka_unit_test(test_incomplete_head),
	    cmocka_unit_test(test_head_split_across_reads),
	    cmocka_unit_test(test_left_to_evhttp),
	    cmocka_unit_test(test_first_content_length_counts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
