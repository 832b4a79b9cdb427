/*
 * test_http.c - the HTTP vocabulary: method names (case-sensitive),
 * which methods are idempotent (and so retried after they may have been
 * sent) and which carry content, and the rules for an item's header
 * fields: token names, values that cannot split a request, and the
 * fields fanoutd keeps to itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http.h"

static void
test_methods_parse_exactly(void **state)
{
	assert_int_equal(http_method_parse("GET"), HM_GET);
	assert_int_equal(http_method_parse("OPTIONS"), HM_OPTIONS);
	assert_int_equal(http_method_parse("PATCH"), HM_PATCH);
	/* RFC 9110 §9.1: method names are case-sensitive. */
	assert_int_equal(http_method_parse("get"), -1);
	assert_int_equal(http_method_parse("TRACE"), -1);
	assert_int_equal(http_method_parse(""), -1);
}

static void
test_only_post_and_patch_are_not_idempotent(void **state)
{
	int m;

	for (m = 0; m < HM__COUNT; m++)
		assert_int_equal(http_method_idempotent((enum http_method)m),
		    m != HM_POST && m != HM_PATCH);
}

static void
test_post_put_patch_carry_content(void **state)
{
	int m;

	for (m = 0; m < HM__COUNT; m++)
		assert_int_equal(http_method_has_content((enum http_method)m),
		    m == HM_POST || m == HM_PUT || m == HM_PATCH);
}

static void
test_field_names_are_tokens(void **state)
{
	assert_true(http_field_name_valid("X-Trace-Id"));
	assert_true(http_field_name_valid("a!#$%&'*+-.^_`|~9"));
	assert_false(http_field_name_valid(""));
	assert_false(http_field_name_valid("Bad Name"));
	assert_false(http_field_name_valid("Colon:"));
	assert_false(http_field_name_valid("caf\xc3\xa9"));
}

static void
test_field_values_cannot_split_a_request(void **state)
{
	assert_true(http_field_value_valid("text/html; q=0.9", 16));
	assert_false(http_field_value_valid("a\r\nX-Evil: 1", 12));
	assert_false(http_field_value_valid("a\nb", 3));
	/* A NUL inside: the C string is shorter than the JSON string. */
	assert_false(http_field_value_valid("a\0b", 3));
}

static void
test_framing_fields_are_fanoutds(void **state)
{
	assert_true(http_field_managed("Content-Length"));
	assert_true(http_field_managed("transfer-encoding"));
	assert_true(http_field_managed("EXPECT"));
	assert_true(http_field_managed("Proxy-Connection"));
	assert_false(http_field_managed("Content-Type"));
	assert_false(http_field_managed("Host"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_methods_parse_exactly),
	    cmocka_unit_test(test_only_post_and_patch_are_not_idempotent),
	    cmocka_unit_test(test_post_put_patch_carry_content),
	    cmocka_unit_test(test_field_names_are_tokens),
	    cmocka_unit_test(test_field_values_cannot_split_a_request),
	    cmocka_unit_test(test_framing_fields_are_fanoutds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
