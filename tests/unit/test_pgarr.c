/*
 * test_pgarr.c - PostgreSQL array literals (pgarr.c): the empty array,
 * integers (negative and extreme), NULL, and text elements that need
 * quoting: quotes, backslashes, commas, braces, JSON lines, empty text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pgarr.h"

static void
test_empty(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	pgarr_begin(&b);
	assert_string_equal(pgarr_end(&b), "{}");
	buf_free(&b);
}

static void
test_ints_and_null(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	pgarr_begin(&b);
	pgarr_int(&b, 0);
	pgarr_int(&b, -7);
	pgarr_null(&b);
	pgarr_int(&b, INT64_MIN);
	pgarr_int(&b, 4294967295);
	assert_string_equal(
	    pgarr_end(&b), "{0,-7,NULL,-9223372036854775808,4294967295}");
	buf_free(&b);
}

static void
test_text_quoting(void **state)
{
	static const char json[] = "{\"url\":\"a\\\\b\",\"ok\":true}";
	struct buf b = BUF_INIT;

	(void)state;
	pgarr_begin(&b);
	pgarr_text(&b, "", 0);
	pgarr_text(&b, "a,b {c}", 7);
	pgarr_text(&b, "NULL", 4);
	pgarr_text(&b, json, strlen(json));
	pgarr_text(&b, "\"", 1);
	pgarr_text(&b, "x\\", 2);
	assert_string_equal(pgarr_end(&b),
	    "{\"\",\"a,b {c}\",\"NULL\","
	    "\"{\\\"url\\\":\\\"a\\\\\\\\b\\\",\\\"ok\\\":true}\","
	    "\"\\\"\",\"x\\\\\"}");
	buf_free(&b);
}

static void
test_reuse(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	pgarr_begin(&b);
	pgarr_int(&b, 1);
	pgarr_end(&b);
	pgarr_begin(&b); /* a second literal in the same buffer */
	pgarr_text(&b, "q", 1);
	assert_string_equal(pgarr_end(&b), "{\"q\"}");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_empty),
	    cmocka_unit_test(test_ints_and_null),
	    cmocka_unit_test(test_text_quoting),
	    cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
