/*
 * test_retry.c - the retry decision (classes, statuses, unsafe methods),
 * full-jitter backoff bounds with injected randomness, and Retry-After in
 * all its forms with an injected clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "retry.h"

static void
test_default_set(void **state)
{
	struct retry_on r;
	struct buf b = BUF_INIT;

	retry_on_default(&r);
	retry_on_emit(&r, &b);
	assert_string_equal(buf_cstr(&b),
	    "[\"connect\",\"timeout\",\"reset\",\"429\",\"502\",\"503\","
	    "\"504\"]");
	buf_free(&b);
	assert_true(retry_wanted(&r, IERR_CONNECT, 0, false, true));
	assert_true(retry_wanted(&r, IERR_TIMEOUT, 0, true, true));
	assert_true(retry_wanted(&r, IERR_RESET, 0, true, true));
	assert_false(retry_wanted(&r, IERR_DNS, 0, false, true));
	assert_false(retry_wanted(&r, IERR_TLS, 0, false, true));
	assert_false(retry_wanted(&r, IERR_PROTOCOL, 0, true, true));
	assert_true(retry_wanted(&r, IERR_NONE, 503, true, true));
	assert_true(retry_wanted(&r, IERR_NONE, 429, true, true));
	assert_false(retry_wanted(&r, IERR_NONE, 500, true, true));
	assert_false(retry_wanted(&r, IERR_NONE, 200, true, true));
}

static void
test_unsafe_methods_only_when_never_sent(void **state)
{
	struct retry_on r;

	retry_on_default(&r);
	/* POST: a connect failure never sent it; a timeout may have. */
	assert_true(retry_wanted(&r, IERR_CONNECT, 0, false, false));
	assert_false(retry_wanted(&r, IERR_TIMEOUT, 0, true, false));
	assert_false(retry_wanted(&r, IERR_NONE, 503, true, false));
	/* A connect timeout never sent it either. */
	assert_true(retry_wanted(&r, IERR_TIMEOUT, 0, false, false));
}

/* One text form for the configuration file and the query string alike:
 * words separated by commas, spaces or tabs; the first bad word named,
 * the set untouched. */
static void
test_text_form(void **state)
{
	struct retry_on r, before;
	struct buf b = BUF_INIT;
	const char *bad;
	size_t n;

	assert_int_equal(
	    retry_on_parse(" dns,503 \t,timeout\t429,", &r, &bad, &n), 0);
	retry_on_emit(&r, &b);
	assert_string_equal(
	    buf_cstr(&b), "[\"dns\",\"timeout\",\"429\",\"503\"]");
	buf_free(&b);
	assert_int_equal(retry_on_parse("", &r, &bad, &n), 0);
	assert_int_equal(r.classes, 0);
	retry_on_default(&r);
	before = r;
	assert_int_equal(
	    retry_on_parse("connect, 5xx, reset", &r, &bad, &n), -1);
	assert_int_equal(n, 3);
	assert_memory_equal(bad, "5xx", 3);
	assert_memory_equal(&r, &before, sizeof(r));
	assert_int_equal(retry_on_parse("timeouts", &r, &bad, &n), -1);
	assert_int_equal(n, 8);
}

static void
test_custom_set_and_bad_words(void **state)
{
	struct retry_on r;

	retry_on_clear(&r);
	assert_int_equal(retry_on_add(&r, "dns"), 0);
	assert_int_equal(retry_on_add(&r, "500"), 0);
	assert_int_equal(retry_on_add(&r, "5xx"), -1);
	assert_int_equal(retry_on_add(&r, "600"), -1);
	assert_int_equal(retry_on_add(&r, "099"), -1);
	assert_int_equal(retry_on_add(&r, "Timeout"), -1);
	assert_true(retry_wanted(&r, IERR_DNS, 0, false, true));
	assert_true(retry_wanted(&r, IERR_NONE, 500, true, true));
	assert_false(retry_wanted(&r, IERR_CONNECT, 0, false, true));
	assert_false(retry_wanted(&r, IERR_NONE, 503, true, true));
}

static void
test_backoff_is_full_jitter_under_the_cap(void **state)
{
	/* u = 0 waits nothing; u -> 1 approaches min(max, base * 2^n). */
	assert_int_equal(retry_backoff_ms(100, 10000, 0, 0.0), 0);
	assert_int_equal(retry_backoff_ms(100, 10000, 0, 0.5), 50);
	assert_int_equal(retry_backoff_ms(100, 10000, 0, 0.999999), 99);
	assert_int_equal(retry_backoff_ms(100, 10000, 3, 0.5), 400);
	assert_int_equal(retry_backoff_ms(100, 10000, 20, 0.5), 5000);
	assert_int_equal(retry_backoff_ms(100, 1000, 40, 0.999999), 999);
	assert_int_equal(retry_backoff_ms(100, 1000, 3, 1.0), 799);
}

static void
test_retry_after_forms(void **state)
{
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */

	assert_int_equal(retry_after_ms("0", now), 0);
	assert_int_equal(retry_after_ms("120", now), 120000);
	assert_int_equal(retry_after_ms(" 3 ", now), 3000);
	assert_int_equal(
	    retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000);
	assert_int_equal(
	    retry_after_ms("Sunday, 06-Nov-94 08:50:37 GMT", now), 60000);
	assert_int_equal(retry_after_ms("Sun Nov  6 08:49:39 1994", now), 2000);
	/* A date in the past: no wait. */
	assert_int_equal(
	    retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now), 0);
	assert_int_equal(retry_after_ms("soon", now), -1);
	assert_int_equal(retry_after_ms("-5", now), -1);
	assert_int_equal(retry_after_ms("1.5", now), -1);
	assert_int_equal(retry_after_ms("", now), -1);
	assert_int_equal(
	    retry_after_ms("Sun, 32 Nov 1994 08:49:47 GMT", now), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_set),
	    cmocka_unit_test(test_unsafe_methods_only_when_never_sent),
	    cmocka_unit_test(test_text_form),
	    cmocka_unit_test(test_custom_set_and_bad_words),
	    cmocka_unit_test(test_backoff_is_full_jitter_under_the_cap),
	    cmocka_unit_test(test_retry_after_forms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
