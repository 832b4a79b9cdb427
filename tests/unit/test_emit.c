/*
 * test_emit.c - result lines and summaries (DESIGN.md §1): every object
 * parses back as JSON with the fields and key order of the contract;
 * bodies are UTF-8 text or base64 (strict UTF-8 detection decides);
 * whatever bytes headers hold, the output is valid UTF-8; and the three
 * framings (NDJSON, SSE, the buffered document) are exact.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base64.h"
#include "emit.h"

static struct result_view
response_view(void)
{
	static const struct emit_header h[] = {
	    {"Content-Type", "text/plain"},
	    {"Set-Cookie", "a=1"},
	    {"X-Multi", "one"},
	    {"set-cookie", "b=2"},
	    {"X-MULTI", "two"},
	};
	struct result_view r;

	memset(&r, 0, sizeof(r));
	r.index = 3;
	r.url = "http://h/x";
	r.status = 200;
	r.with_headers = true;
	r.headers = h;
	r.nheaders = 5;
	r.with_body = true;
	r.body = (const unsigned char *)"hello";
	r.body_len = 5;
	r.attempts = 1;
	r.elapsed_ms = 12.34;
	r.queued_ms = -1;
	r.dns_ms = -1;
	r.ttfb_ms = -1;
	return r;
}

/* Render r and parse it back; the caller json_decref()s. */
static json_t *
render(const struct result_view *r, struct buf *b)
{
	json_error_t e;
	json_t *j;

	buf_reset(b);
	emit_result(b, r);
	j = json_loads(buf_cstr(b), 0, &e);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", e.text, buf_cstr(b));
	return j;
}

static void
test_response_fields_and_key_order(void **state)
{
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	json_t *j = render(&r, &b);
	const char *keys[] = {"\"index\"", "\"url\"", "\"ok\"", "\"status\"",
	    "\"headers\"", "\"body\"", "\"body_encoding\"", "\"body_bytes\"",
	    "\"truncated\"", "\"attempts\"", "\"elapsed_ms\""};
	const char *prev = b.data;
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const char *p = strstr(b.data, keys[i]);

		assert_non_null(p);
		assert_true(p >= prev);
		prev = p;
	}
	assert_int_equal(json_integer_value(json_object_get(j, "index")), 3);
	assert_true(json_is_true(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
	assert_string_equal(
	    json_string_value(json_object_get(j, "body")), "hello");
	assert_string_equal(
	    json_string_value(json_object_get(j, "body_encoding")), "utf8");
	assert_int_equal(
	    json_integer_value(json_object_get(j, "body_bytes")), 5);
	assert_true(json_is_false(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "error"));
	assert_null(json_object_get(j, "id"));
	assert_null(json_object_get(j, "timings"));
	assert_non_null(strstr(b.data, "\"elapsed_ms\":12.3"));
	json_decref(j);
	buf_free(&b);
}

static void
test_headers_lower_cased_and_repeats_joined(void **state)
{
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	json_t *j = render(&r, &b), *h = json_object_get(j, "headers");

	assert_int_equal(json_object_size(h), 3);
	assert_string_equal(
	    json_string_value(json_object_get(h, "content-type")),
	    "text/plain");
	assert_string_equal(
	    json_string_value(json_object_get(h, "x-multi")), "one, two");
	assert_string_equal(
	    json_string_value(json_object_get(h, "set-cookie")), "a=1\nb=2");
	json_decref(j);
	buf_free(&b);
}

static void
test_status_400_and_above_is_not_ok(void **state)
{
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	json_t *j;

	r.status = 404;
	j = render(&r, &b);
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_int_equal(json_integer_value(json_object_get(j, "status")), 404);
	json_decref(j);
	r.status = 399;
	j = render(&r, &b);
	assert_true(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	buf_free(&b);
}

static void
test_binary_body_is_base64(void **state)
{
	static const unsigned char bin[] = {0xff, 0x00, 0x10, 0x80};
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	unsigned char back[16];
	const char *s;
	size_t n;
	json_t *j;

	r.body = bin;
	r.body_len = sizeof(bin);
	r.truncated = true;
	j = render(&r, &b);
	assert_string_equal(
	    json_string_value(json_object_get(j, "body_encoding")), "base64");
	s = json_string_value(json_object_get(j, "body"));
	assert_int_equal(base64_decode(s, strlen(s), back, &n), 0);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(back, bin, n);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "body_bytes")), 4);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	assert_null(json_object_get(j, "content_encoding"));
	json_decref(j);
	/* A body kept with its codings on says which. */
	r.content_encoding = "gzip, br";
	j = render(&r, &b);
	assert_string_equal(
	    json_string_value(json_object_get(j, "content_encoding")),
	    "gzip, br");
	json_decref(j);
	buf_free(&b);
}

static void
test_body_none_and_headers_false_omit_fields(void **state)
{
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	json_t *j;

	r.with_body = false;
	r.with_headers = false;
	j = render(&r, &b);
	assert_null(json_object_get(j, "body"));
	assert_null(json_object_get(j, "body_encoding"));
	assert_null(json_object_get(j, "headers"));
	assert_int_equal(
	    json_integer_value(json_object_get(j, "body_bytes")), 5);
	json_decref(j);
	buf_free(&b);
}

static void
test_error_line(void **state)
{
	struct result_view r;
	struct buf b = BUF_INIT;
	json_t *j, *e;

	memset(&r, 0, sizeof(r));
	r.index = 1;
	r.id_json = "\"b\"";
	r.url = "http://h/";
	r.error = IERR_TIMEOUT;
	r.message = "no response within \"2000\" ms";
	r.attempts = 3;
	r.elapsed_ms = NAN;
	r.queued_ms = 1.25;
	r.dns_ms = -1;
	r.ttfb_ms = -1;
	j = render(&r, &b);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "b");
	assert_true(json_is_false(json_object_get(j, "ok")));
	assert_null(json_object_get(j, "status"));
	assert_null(json_object_get(j, "body_bytes"));
	e = json_object_get(j, "error");
	assert_string_equal(
	    json_string_value(json_object_get(e, "type")), "timeout");
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    "no response within \"2000\" ms");
	assert_non_null(strstr(b.data, "\"elapsed_ms\":0.0"));
	/* Only the known timing is there. */
	assert_int_equal(json_object_size(json_object_get(j, "timings")), 1);
	assert_non_null(strstr(b.data, "\"timings\":{\"queued\":1.2"));
	json_decref(j);
	r.id_json = "42";
	r.url = NULL;
	j = render(&r, &b);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 42);
	assert_null(json_object_get(j, "url"));
	json_decref(j);
	buf_free(&b);
}

static void
test_utf8_detection(void **state)
{
	static const struct {
		const char *s;
		size_t n;
		bool valid;
	} cases[] = {
	    {"plain ascii", 11, true},
	    {"\xc3\xa9", 2, true},          /* é */
	    {"\xe2\x82\xac", 3, true},      /* € */
	    {"\xf0\x9f\x98\x80", 4, true},  /* 😀 */
	    {"\xf4\x8f\xbf\xbf", 4, true},  /* U+10FFFF */
	    {"\xc0\x80", 2, false},         /* overlong NUL */
	    {"\xe0\x80\x80", 3, false},     /* overlong */
	    {"\xed\xa0\x80", 3, false},     /* surrogate */
	    {"\xf4\x90\x80\x80", 4, false}, /* above U+10FFFF */
	    {"\xe2\x82", 2, false},         /* truncated */
	    {"\x80", 1, false},             /* lone continuation */
	    {"\xff", 1, false},
	    {"123456789\xff", 10, false}, /* past the 8-byte path */
	    {"12345678\xc3\xa9", 10, true},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (emit_is_utf8((const unsigned char *)cases[i].s,
		        cases[i].n) != cases[i].valid)
			fail_msg("case %zu misjudged", i);
}

static void
test_strings_escape_and_stay_valid_utf8(void **state)
{
	struct buf b = BUF_INIT;
	json_error_t e;
	json_t *j;

	emit_json_string(&b, "q\"b\\n\n\t\x01\xc3\xa9\xff!", 12);
	assert_string_equal(
	    buf_cstr(&b), "\"q\\\"b\\\\n\\n\\t\\u0001\xc3\xa9\xef\xbf\xbd!\"");
	j = json_loads(buf_cstr(&b), JSON_DECODE_ANY, &e);
	assert_non_null(j);
	assert_string_equal(
	    json_string_value(j), "q\"b\\n\n\t\x01\xc3\xa9\xef\xbf\xbd!");
	json_decref(j);
	buf_free(&b);
}

static void
test_bad_bytes_in_header_values_still_give_valid_json(void **state)
{
	static const struct emit_header h[] = {{"X-Latin1", "caf\xe9"}};
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	json_t *j;

	r.headers = h;
	r.nheaders = 1;
	j = render(&r, &b);
	assert_string_equal(json_string_value(json_object_get(
	                        json_object_get(j, "headers"), "x-latin1")),
	    "caf\xef\xbf\xbd");
	json_decref(j);
	buf_free(&b);
}

static void
test_frames(void **state)
{
	struct result_view r = response_view();
	struct summary_view s = {2, 1, 1, 4, 9.87, "{\"concurrency\":5}"};
	struct buf line = BUF_INIT, b = BUF_INIT;
	const char *results[2];
	size_t lens[2];
	json_error_t e;
	json_t *j;

	emit_result(&line, &r);
	emit_frame_result(&b, OUT_NDJSON, &r);
	assert_int_equal(b.len, line.len + 1);
	assert_memory_equal(b.data, line.data, line.len);
	assert_int_equal(b.data[b.len - 1], '\n');
	buf_reset(&b);
	emit_frame_result(&b, OUT_SSE, &r);
	assert_memory_equal(b.data, "event: result\ndata: ", 20);
	assert_memory_equal(b.data + 20, line.data, line.len);
	assert_string_equal(b.data + 20 + line.len, "\n\n");
	buf_reset(&b);
	emit_frame_summary(&b, OUT_NDJSON, &s);
	assert_string_equal(buf_cstr(&b),
	    "{\"summary\":{\"total\":2,\"ok\":1,\"failed\":1,\"retries\":4,"
	    "\"elapsed_ms\":9.9,\"effective\":{\"concurrency\":5}}}\n");
	buf_reset(&b);
	emit_frame_summary(&b, OUT_SSE, &s);
	assert_string_equal(buf_cstr(&b),
	    "event: summary\ndata: {\"total\":2,\"ok\":1,\"failed\":1,"
	    "\"retries\":4,\"elapsed_ms\":9.9,\"effective\":{\"concurrency\":"
	    "5}}\n\n");
	buf_reset(&b);
	s.effective_json = NULL;
	emit_summary(&b, &s);
	assert_non_null(strstr(buf_cstr(&b), "\"effective\":{}"));
	buf_reset(&b);
	results[0] = "{\"index\":0}";
	results[1] = "{\"index\":1}";
	lens[0] = lens[1] = 11;
	emit_json_document(&b, results, lens, 2, &s);
	j = json_loads(buf_cstr(&b), 0, &e);
	assert_non_null(j);
	assert_int_equal(
	    json_integer_value(json_object_get(
	        json_array_get(json_object_get(j, "results"), 1), "index")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(j, "summary"), "total")),
	    2);
	json_decref(j);
	buf_free(&b);
	buf_free(&line);
}

static void
test_error_body(void **state)
{
	struct buf b = BUF_INIT;

	emit_error_body(&b, "bad_request", "options.rate: expected a number");
	assert_string_equal(buf_cstr(&b),
	    "{\"error\":{\"type\":\"bad_request\",\"message\":\"options.rate: "
	    "expected a number\"}}\n");
	buf_free(&b);
}

/* Numbers are written by hand (no printf per result): integers as
 * "%llu" writes them, milliseconds exactly as "%.1f" does, ties
 * included. */
static void
test_numbers_match_printf(void **state)
{
	static const uint64_t ints[] = {
	    0, 7, 10, 99, 100, 4294967295u, 18446744073709551615ull};
	struct result_view r = response_view();
	struct buf b = BUF_INIT;
	char want[64], *at;
	size_t i;

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		buf_reset(&b);
		buf_addu(&b, ints[i]);
		snprintf(
		    want, sizeof(want), "%llu", (unsigned long long)ints[i]);
		assert_string_equal(buf_cstr(&b), want);
	}
	for (i = 0; i < 20000; i++) {
		/* Every twentieth is a tie or all but one (0.05, 0.25 ...). */
		double v = i % 20 == 0
		    ? (double)(i / 20) * 0.05
		    : (double)i * 0.0173 + (double)(i % 7) * 1234.5678;

		r.elapsed_ms = v;
		buf_reset(&b);
		emit_result(&b, &r);
		snprintf(want, sizeof(want), "\"elapsed_ms\":%.1f}", v);
		at = strstr(b.data, "\"elapsed_ms\":");
		assert_non_null(at);
		assert_string_equal(at, want);
	}
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_response_fields_and_key_order),
	    cmocka_unit_test(test_headers_lower_cased_and_repeats_joined),
	    cmocka_unit_test(test_status_400_and_above_is_not_ok),
	    cmocka_unit_test(test_binary_body_is_base64),
	    cmocka_unit_test(test_body_none_and_headers_false_omit_fields),
	    cmocka_unit_test(test_error_line),
	    cmocka_unit_test(test_utf8_detection),
	    cmocka_unit_test(test_strings_escape_and_stay_valid_utf8),
	    cmocka_unit_test(
	        test_bad_bytes_in_header_values_still_give_valid_json),
	    cmocka_unit_test(test_frames),
	    cmocka_unit_test(test_numbers_match_printf),
	    cmocka_unit_test(test_error_body),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
