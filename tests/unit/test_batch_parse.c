/*
 * test_batch_parse.c - request bodies into batch specs (DESIGN.md §1):
 * the three input forms and sniffing, query options and the output
 * format, every whole-request error with its status and the path its
 * message names, and every per-item problem, which must mark only that
 * item invalid while the rest of the batch parses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch_parse.h"

static struct config cfg;

static int
setup(void **state)
{
	config_defaults(&cfg);
	return 0;
}

/* Parse body as JSON; the batch must be accepted. */
static void
parse_ok(struct batch_spec *s, const char *ct, const char *body,
    const char *query, const char *accept)
{
	struct parse_error err;

	if (batch_parse(s, body, strlen(body), ct, query, accept, &cfg, &err) !=
	    0)
		fail_msg("refused: %d %s", err.code, err.message);
}

/* The batch must be refused with code and a message starting with msg. */
static void
parse_refused(const char *ct, const char *body, const char *query,
    enum req_err code, const char *msg)
{
	struct batch_spec s;
	struct parse_error err;

	assert_int_equal(
	    batch_parse(&s, body, strlen(body), ct, query, NULL, &cfg, &err),
	    -1);
	assert_int_equal(err.code, code);
	if (strncmp(err.message, msg, strlen(msg)) != 0)
		fail_msg("message \"%s\" does not start with \"%s\"",
		    err.message, msg);
}

static void
test_object_form_with_items_and_options(void **state)
{
	struct batch_spec s;
	const struct item_spec *it;

	parse_ok(&s, "application/json",
	    "{\"requests\":[\"http://a.test/x\",{\"id\":\"b\",\"url\":"
	    "\"https://B.test:8443/p?q=1\",\"method\":\"POST\",\"headers\":{"
	    "\"X-A\":\"1\",\"x-b\":\"2\"},\"body\":\"hi\",\"timeout_ms\":50}],"
	    "\"options\":{\"concurrency\":5,\"body\":\"none\"}}",
	    NULL, NULL);
	assert_int_equal(s.nitems, 2);
	assert_int_equal(s.opts.concurrency, 5);
	assert_int_equal(s.opts.body, BODY_NONE);
	assert_int_equal(s.format, OUT_NDJSON);
	it = &s.items[0];
	assert_null(it->invalid);
	assert_null(it->id_json);
	assert_int_equal(it->method, HM_GET);
	assert_string_equal(it->u.origin, "http://a.test:80");
	it = &s.items[1];
	assert_null(it->invalid);
	assert_int_equal(it->index, 1);
	assert_string_equal(it->id_json, "\"b\"");
	assert_string_equal(it->url, "https://B.test:8443/p?q=1");
	assert_string_equal(it->u.host, "b.test");
	assert_string_equal(it->u.target, "/p?q=1");
	assert_int_equal(it->method, HM_POST);
	assert_int_equal(it->nheaders, 2);
	assert_string_equal(it->headers[0].name, "X-A");
	assert_string_equal(it->headers[1].value, "2");
	assert_int_equal(it->body_len, 2);
	assert_memory_equal(it->body, "hi", 2);
	assert_non_null(it->opts);
	assert_int_equal(it->opts->timeout_ms, 50);
	batch_spec_free(&s);
}

static void
test_bare_array_and_integer_id(void **state)
{
	struct batch_spec s;

	parse_ok(&s, "application/json",
	    "[{\"url\":\"http://a.test/\",\"id\":7}]", NULL, NULL);
	assert_int_equal(s.nitems, 1);
	assert_string_equal(s.items[0].id_json, "7");
	batch_spec_free(&s);
}

static void
test_url_list_skips_comments_and_blank_lines(void **state)
{
	struct batch_spec s;

	parse_ok(&s, "text/plain; charset=utf-8",
	    "# urls\n\nhttp://a.test/1\r\n  http://a.test/2 \n#x\nftp://no\n",
	    "concurrency=3&timeout_ms=700", NULL);
	assert_int_equal(s.nitems, 3);
	assert_string_equal(s.items[1].url, "http://a.test/2");
	assert_int_equal(s.items[2].index, 2);
	assert_non_null(s.items[2].invalid);
	assert_string_equal(s.items[2].invalid,
	    "requests[2]: unsupported scheme; use http or https");
	assert_int_equal(s.opts.concurrency, 3);
	assert_int_equal(s.opts.timeout_ms, 700);
	batch_spec_free(&s);
}

/* Query components are form-decoded: '+' is a space, %XX a byte (so
 * %2B is a plus, never a space). */
static void
test_query_string_is_decoded(void **state)
{
	struct batch_spec s;

	parse_ok(
	    &s, NULL, "[]", "retry%5Fon=dns%2C503+timeout&format=ss%65", NULL);
	assert_int_equal(s.format, OUT_SSE);
	assert_true(retry_wanted(&s.opts.retry_on, IERR_DNS, 0, false, true));
	assert_true(retry_wanted(&s.opts.retry_on, IERR_NONE, 503, true, true));
	assert_true(
	    retry_wanted(&s.opts.retry_on, IERR_TIMEOUT, 0, true, true));
	assert_false(
	    retry_wanted(&s.opts.retry_on, IERR_CONNECT, 0, false, true));
	batch_spec_free(&s);
	parse_refused(NULL, "[]", "format=%2Bsse", RERR_BAD_REQUEST,
	    "query.format: expected ndjson, json or sse");
	parse_refused(NULL, "[]", "format=+sse", RERR_BAD_REQUEST,
	    "query.format: expected ndjson, json or sse");
}

static void
test_sniffing_without_or_with_form_content_type(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL, "  [\"http://a.test/\"]", NULL, NULL);
	assert_int_equal(s.nitems, 1);
	assert_null(s.items[0].invalid);
	batch_spec_free(&s);
	parse_ok(&s, "application/x-www-form-urlencoded",
	    "http://a.test/1\nhttp://a.test/2", NULL, NULL);
	assert_int_equal(s.nitems, 2);
	batch_spec_free(&s);
	parse_ok(&s, "application/x-www-form-urlencoded", "{\"requests\":[]}",
	    NULL, NULL);
	assert_int_equal(s.nitems, 0);
	batch_spec_free(&s);
}

static void
test_format_from_query_and_accept(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL, "[]", NULL, "application/json");
	assert_int_equal(s.format, OUT_JSON);
	batch_spec_free(&s);
	parse_ok(&s, NULL, "[]", NULL, "text/event-stream");
	assert_int_equal(s.format, OUT_SSE);
	batch_spec_free(&s);
	parse_ok(&s, NULL, "[]", "format=ndjson", "application/json");
	assert_int_equal(s.format, OUT_NDJSON);
	batch_spec_free(&s);
	parse_ok(&s, NULL, "[]", "format=sse", NULL);
	assert_int_equal(s.format, OUT_SSE);
	batch_spec_free(&s);
	parse_ok(&s, NULL, "[]", NULL, "*/*");
	assert_int_equal(s.format, OUT_NDJSON);
	batch_spec_free(&s);
}

/* Accept with weights (RFC 9110 §12.5.1), issue #14 point 8. */
static void
test_accept_is_negotiated(void **state)
{
	static const struct {
		const char *accept;
		int format; /* -1: 406 */
	} cases[] = {
	    {"text/event-stream;q=0, application/x-ndjson", OUT_NDJSON},
	    {"application/x-ndjson, application/json;q=0.1", OUT_NDJSON},
	    {"application/json;q=0.5, */*;q=0.1", OUT_JSON},
	    {"application/json, text/event-stream;q=0.9", OUT_JSON},
	    {"text/event-stream;charset=utf-8", OUT_SSE},
	    {"TEXT/*", OUT_SSE},
	    {"application/*", OUT_NDJSON},
	    {"application/*;q=0.2, application/json;q=0.1", OUT_NDJSON},
	    {"*/*;q=0.3, application/x-ndjson;q=0, text/event-stream", OUT_SSE},
	    {"text/html, */*;q=0.1", OUT_NDJSON},
	    {"text/html,application/xhtml+xml,*/*;q=0.8", OUT_NDJSON},
	    {"  ,, application/json ,", OUT_JSON},
	    {"garbage", OUT_NDJSON}, /* no media range: as absent */
	    {"", OUT_NDJSON},        /* as absent */
	    {"application/json;q=2", OUT_NDJSON}, /* a bad weight: skipped */
	    {"text/html", -1},
	    {"application/json;q=0", -1},
	    {"*/*;q=0", -1},
	    {"application/ndjson", -1},
	};
	struct batch_spec s;
	struct parse_error err;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = batch_parse(
		    &s, "[]", 2, NULL, NULL, cases[i].accept, &cfg, &err);

		if (cases[i].format < 0) {
			if (rc == 0 || err.code != RERR_NOT_ACCEPTABLE)
				fail_msg(
				    "Accept: %s: not a 406", cases[i].accept);
			assert_non_null(
			    strstr(err.message, "application/x-ndjson"));
			continue;
		}
		if (rc != 0)
			fail_msg(
			    "Accept: %s: %s", cases[i].accept, err.message);
		if ((int)s.format != cases[i].format)
			fail_msg("Accept: %s: format %d, expected %d",
			    cases[i].accept, s.format, cases[i].format);
		batch_spec_free(&s);
	}
	/* ?format= wins over Accept, even an unacceptable one. */
	parse_ok(&s, NULL, "[]", "format=json", "text/html");
	assert_int_equal(s.format, OUT_JSON);
	batch_spec_free(&s);
}

/* A UTF-8 byte-order mark before a batch (issue #13 point 11). */
static void
test_byte_order_mark_is_skipped(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL, "\xef\xbb\xbf[\"http://a.test/\"]", NULL, NULL);
	assert_int_equal(s.nitems, 1);
	assert_null(s.items[0].invalid);
	assert_string_equal(s.items[0].url, "http://a.test/");
	batch_spec_free(&s);
	parse_ok(&s, "application/json",
	    "\xef\xbb\xbf{\"requests\":[\"http://a.test/\"]}", NULL, NULL);
	assert_int_equal(s.nitems, 1);
	assert_null(s.items[0].invalid);
	batch_spec_free(&s);
	parse_ok(&s, "text/plain", "\xef\xbb\xbfhttp://a.test/\n", NULL, NULL);
	assert_int_equal(s.nitems, 1);
	assert_null(s.items[0].invalid);
	batch_spec_free(&s);
}

static void
test_json_options_override_query_options(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL, "{\"requests\":[],\"options\":{\"concurrency\":9}}",
	    "concurrency=4&deadline_ms=100&body=none", NULL);
	assert_int_equal(s.opts.concurrency, 9);
	assert_int_equal(s.opts.deadline_ms, 100);
	assert_int_equal(s.opts.body, BODY_NONE);
	batch_spec_free(&s);
}

static void
test_whole_request_errors(void **state)
{
	parse_refused("application/json", "{\"requests\":", NULL,
	    RERR_BAD_REQUEST, "body is not valid JSON:");
	parse_refused("application/json", "42", NULL, RERR_BAD_REQUEST,
	    "body: expected an object");
	parse_refused("application/json", "{}", NULL, RERR_BAD_REQUEST,
	    "requests: missing");
	parse_refused("application/json", "{\"requests\":{}}", NULL,
	    RERR_BAD_REQUEST, "requests: expected an array");
	parse_refused("application/json", "{\"requests\":[],\"x\":1}", NULL,
	    RERR_BAD_REQUEST, "x: unknown key");
	parse_refused("application/json", "{\"requests\":[],\"options\":[]}",
	    NULL, RERR_BAD_REQUEST, "options: expected an object");
	parse_refused("application/json",
	    "{\"requests\":[],\"options\":{\"timeout_ms\":\"5\"}}", NULL,
	    RERR_BAD_REQUEST,
	    "options.timeout_ms: expected a positive integer");
	parse_refused("application/json",
	    "{\"requests\":[],\"options\":{\"bogus\":1}}", NULL,
	    RERR_BAD_REQUEST, "options.bogus: unknown option");
	parse_refused("text/plain", "http://a.test/", "concurrency=x",
	    RERR_BAD_REQUEST, "query.concurrency: expected a positive integer");
	parse_refused("text/plain", "http://a.test/", "frobnicate=1",
	    RERR_BAD_REQUEST, "query.frobnicate: unknown option");
	parse_refused("text/plain", "http://a.test/", "format=xml",
	    RERR_BAD_REQUEST, "query.format: expected ndjson, json or sse");
	parse_refused("application/xml", "<a/>", NULL, RERR_MEDIA_TYPE,
	    "unsupported Content-Type \"application/xml\"");
}

static void
test_too_many_items_is_413_in_both_forms(void **state)
{
	char body[256];

	cfg.max_items = 2;
	snprintf(
	    body, sizeof(body), "[\"http://a/\",\"http://a/\",\"http://a/\"]");
	parse_refused("application/json", body, NULL, RERR_TOO_LARGE,
	    "requests: 3 items exceed the limit of 2 ([server] max_items)");
	parse_refused("text/plain", "http://a/\nhttp://a/\nhttp://a/\n", NULL,
	    RERR_TOO_LARGE,
	    "requests: 3 items exceed the limit of 2 ([server] max_items)");
}

static void
test_a_key_given_twice_is_refused(void **state)
{
	parse_refused("application/json",
	    "{\"requests\":[\"http://a/\"],\"requests\":[\"http://b/\"]}", NULL,
	    RERR_BAD_REQUEST,
	    "body is not valid JSON: duplicate object key near "
	    "'\"requests\"'");
	parse_refused("application/json",
	    "[{\"url\":\"http://a/\",\"headers\":{\"X-A\":\"1\","
	    "\"X-A\":\"2\"}}]",
	    NULL, RERR_BAD_REQUEST,
	    "body is not valid JSON: duplicate object key");
}

static void
test_json_format_is_limited_to_max_json_items(void **state)
{
	struct batch_spec s;

	cfg.max_json_items = 2;
	parse_refused(NULL, "[\"http://a/\",\"http://a/\",\"http://a/\"]",
	    "format=json", RERR_TOO_LARGE,
	    "format json is limited to 2 items ([server] max_json_items); "
	    "use NDJSON");
	parse_ok(&s, NULL, "[\"http://a/\",\"http://a/\",\"http://a/\"]", NULL,
	    NULL);
	batch_spec_free(&s);
}

/* A batch with one bad item (index 1) between two good ones. */
static void
expect_item_invalid(const char *bad, const char *msg)
{
	struct batch_spec s;
	struct parse_error err;
	char body[4096];

	snprintf(body, sizeof(body),
	    "[\"http://ok.test/a\",%s,\"http://ok.test/b\"]", bad);
	if (batch_parse(&s, body, strlen(body), NULL, NULL, NULL, &cfg, &err) !=
	    0)
		fail_msg("batch refused for item %s: %s", bad, err.message);
	assert_int_equal(s.nitems, 3);
	assert_null(s.items[0].invalid);
	assert_null(s.items[2].invalid);
	if (s.items[1].invalid == NULL)
		fail_msg("item %s was accepted", bad);
	if (strcmp(s.items[1].invalid, msg) != 0)
		fail_msg(
		    "item %s: \"%s\" != \"%s\"", bad, s.items[1].invalid, msg);
	batch_spec_free(&s);
}

static void
test_each_item_problem_marks_only_that_item(void **state)
{
	expect_item_invalid(
	    "42", "requests[1]: expected a URL string or an object");
	expect_item_invalid(
	    "\"not a url\"", "requests[1]: invalid character in URL");
	expect_item_invalid("\"ftp://x.test/\"",
	    "requests[1]: unsupported scheme; use http or https");
	expect_item_invalid("{\"id\":\"x\"}", "requests[1].url: missing");
	expect_item_invalid(
	    "{\"url\":5}", "requests[1].url: expected a string");
	expect_item_invalid(
	    "{\"url\":\"http://h:0/\"}", "requests[1].url: invalid port");
	expect_item_invalid("{\"url\":\"http://h/\",\"method\":\"get\"}",
	    "requests[1].method: expected one of GET, HEAD, POST, PUT, PATCH, "
	    "DELETE, OPTIONS");
	expect_item_invalid("{\"url\":\"http://h/\",\"colour\":1}",
	    "requests[1].colour: unknown key");
	expect_item_invalid("{\"url\":\"http://h/\",\"id\":[1]}",
	    "requests[1].id: expected a string or an integer");
	expect_item_invalid("{\"url\":\"http://h/\",\"headers\":[]}",
	    "requests[1].headers: expected an object");
	expect_item_invalid("{\"url\":\"http://h/\",\"headers\":{\"A\":1}}",
	    "requests[1].headers.A: expected a string");
	expect_item_invalid(
	    "{\"url\":\"http://h/\",\"headers\":{\"bad name\":\"v\"}}",
	    "requests[1].headers: \"bad name\" is not a valid header name");
	expect_item_invalid(
	    "{\"url\":\"http://h/\",\"headers\":{\"X\":\"a\\r\\nB: c\"}}",
	    "requests[1].headers.X: header values may not contain CR, LF or "
	    "NUL");
	expect_item_invalid(
	    "{\"url\":\"http://h/\",\"headers\":{\"X\":\"a\\u0000b\"}}",
	    "requests[1].headers.X: header values may not contain CR, LF or "
	    "NUL");
	expect_item_invalid(
	    "{\"url\":\"http://h/\",\"headers\":{\"content-length\":\"1\"}}",
	    "requests[1].headers.content-length: fanoutd sets this header "
	    "itself");
	expect_item_invalid(
	    "{\"url\":\"http://h/\",\"body\":\"a\",\"body_base64\":\"YQ==\"}",
	    "requests[1]: body and body_base64 are exclusive");
	expect_item_invalid("{\"url\":\"http://h/\",\"body_base64\":\"!!\"}",
	    "requests[1].body_base64: invalid base64");
	expect_item_invalid("{\"url\":\"http://h/\",\"body\":5}",
	    "requests[1].body: expected a string");
	expect_item_invalid("{\"url\":\"http://h/\",\"timeout_ms\":0}",
	    "requests[1].timeout_ms: expected a positive integer");
}

static void
test_invalid_item_keeps_its_url_and_id(void **state)
{
	struct batch_spec s;

	parse_ok(
	    &s, NULL, "[{\"id\":\"k\",\"url\":\"gopher://x/\"}]", NULL, NULL);
	assert_non_null(s.items[0].invalid);
	assert_string_equal(s.items[0].url, "gopher://x/");
	assert_string_equal(s.items[0].id_json, "\"k\"");
	batch_spec_free(&s);
}

static void
test_body_base64_is_binary(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL, "[{\"url\":\"http://h/\",\"body_base64\":\"AP8Q\"}]",
	    NULL, NULL);
	assert_true(s.items[0].has_body);
	assert_int_equal(s.items[0].body_len, 3);
	assert_memory_equal(s.items[0].body, "\x00\xff\x10", 3);
	batch_spec_free(&s);
}

static void
test_item_timeout_is_clamped_to_the_cap(void **state)
{
	struct batch_spec s;

	parse_ok(&s, NULL,
	    "[{\"url\":\"http://h/\",\"timeout_ms\":999999999999}]", NULL,
	    NULL);
	assert_int_equal(s.items[0].opts->timeout_ms, cfg.timeout_cap_ms);
	batch_spec_free(&s);
}

static void
test_hundred_thousand_items_parse(void **state)
{
	const char *item = "\"http://a.test/x\",";
	size_t n = 100000, len = strlen(item);
	char *body = malloc(n * len + 3);
	struct batch_spec s;
	struct parse_error err;
	size_t i;

	body[0] = '[';
	for (i = 0; i < n; i++)
		memcpy(body + 1 + i * len, item, len);
	body[n * len] = ']';
	body[n * len + 1] = '\0';
	assert_int_equal(
	    batch_parse(&s, body, n * len + 1, NULL, NULL, NULL, &cfg, &err),
	    0);
	assert_int_equal(s.nitems, 100000);
	assert_null(s.items[99999].invalid);
	batch_spec_free(&s);
	/* One more is over [server] max_items. */
	body = realloc(body, (n + 1) * len + 3);
	body[0] = '[';
	for (i = 0; i <= n; i++)
		memcpy(body + 1 + i * len, item, len);
	body[(n + 1) * len] = ']';
	assert_int_equal(batch_parse(&s, body, (n + 1) * len + 1, NULL, NULL,
	                     NULL, &cfg, &err),
	    -1);
	assert_int_equal(err.code, RERR_TOO_LARGE);
	free(body);
}

/* A job's body (issue #16): a "job" object, each item's text kept for
 * the store, and [jobs] max_items as the limit. */
static void
test_job_keeps_item_text_and_job_object(void **state)
{
	const char *body =
	    "{\"requests\":[\"http://a/1\",{\"url\":\"http://b/\","
	    "\"method\":\"POST\",\"retry_unsafe\":true}],"
	    "\"options\":{\"retries\":1},\"job\":{\"name\":\"n\"}}";
	struct parse_error err;
	struct batch_spec s;

	assert_int_equal(batch_parse_job(&s, body, strlen(body),
	                     "application/json", NULL, NULL, &cfg, &err),
	    0);
	assert_int_equal(s.nitems, 2);
	assert_string_equal(s.job_json, "{\"name\":\"n\"}");
	assert_string_equal(s.item_json[0], "\"http://a/1\"");
	assert_string_equal(s.item_json[1],
	    "{\"url\":\"http://b/"
	    "\",\"method\":\"POST\",\"retry_unsafe\":true}");
	assert_int_equal(s.item_json_len[1], strlen(s.item_json[1]));
	assert_int_equal(s.opts.retries, 1);
	batch_spec_free(&s);
	/* A URL list keeps each URL as a JSON string. */
	assert_int_equal(batch_parse_job(&s, "http://a/\"q\n", 12, "text/plain",
	                     NULL, NULL, &cfg, &err),
	    0);
	assert_string_equal(s.item_json[0], "\"http://a/\\\"q\"");
	batch_spec_free(&s);
	/* Bytes that are not UTF-8 cannot be kept as JSON text. */
	assert_int_equal(batch_parse_job(&s, "http://a/\nhttp://b/\xb0\n", 21,
	                     "text/plain", NULL, NULL, &cfg, &err),
	    -1);
	assert_string_equal(err.message,
	    "requests[1]: not valid UTF-8 (a job "
	    "keeps its items as JSON text)");
	/* A batch has no "job". */
	parse_refused("application/json", body, NULL, RERR_BAD_REQUEST,
	    "job: unknown key");
	cfg.jobs_max_items = 1;
	assert_int_equal(batch_parse_job(&s, body, strlen(body),
	                     "application/json", NULL, NULL, &cfg, &err),
	    -1);
	assert_int_equal(err.code, RERR_TOO_LARGE);
	assert_string_equal(err.message,
	    "requests: 2 items exceed the limit of 1 ([jobs] max_items)");
}

/* batch_job_open + batch_job_next (a job's body read without keeping
 * its items) say what batch_parse_job says of body: the verdict, the
 * error, each item's text and what its flags are made of. */
static void
streamed_agrees(const char *type, const char *body, const char *query)
{
	struct parse_error e1, e2;
	struct batch_spec s1, s2;
	struct job_items ji;
	struct job_item it;
	int rc;
	uint32_t i;

	rc = batch_parse_job(
	    &s1, body, strlen(body), type, query, NULL, &cfg, &e1);
	assert_int_equal(batch_job_open(&ji, &s2, body, strlen(body), type,
	                     query, &cfg, &e2),
	    rc);
	if (rc != 0) {
		assert_int_equal(e2.code, e1.code);
		assert_string_equal(e2.message, e1.message);
		return;
	}
	assert_int_equal(s2.nitems, s1.nitems);
	for (i = 0; i < s1.nitems; i++) {
		batch_job_next(&ji, &it);
		assert_int_equal(it.len, s1.item_json_len[i]);
		assert_memory_equal(it.text, s1.item_json[i], it.len);
		assert_int_equal(it.unsafe,
		    s1.items[i].invalid == NULL &&
		        !http_method_idempotent(s1.items[i].method));
		assert_int_equal(it.retry_unsafe, s1.items[i].retry_unsafe);
	}
	batch_job_close(&ji);
	batch_spec_free(&s1);
	batch_spec_free(&s2);
}

static void
test_job_streamed_agrees_with_the_whole_parse(void **state)
{
	static const char *const json[] = {
	    "{\"requests\":[\"http://a/1\",{\"url\":\"http://b/\","
	    "\"method\":\"POST\",\"retry_unsafe\":true},{\"url\":5,"
	    "\"method\":\"POST\"}],\"options\":{\"retries\":1},"
	    "\"job\":{\"name\":\"n\"}}",
	    " [ \"http://a/\" , {\"url\" : \"http://b/\", \"timeout_ms\":5} ] ",
	    "{\"job\":null,\"requests\":[]}", "[]", "{", "[\"a\" \"b\"]",
	    "{\"requests\":[1],\"requests\":[2]}", "{\"requests\":{}}",
	    "{\"options\":[],\"requests\":[]}", "{\"x\":1,\"requests\":[]}",
	    "{\"options\":{\"retries\":-1},\"requests\":[\"u\"]}", "5", "{}",
	    "[\"a\"] x", "{\"requests\":[\"a\"]", "[{\"url\":\"a\",\"url\":1}]",
	    "\n\n  [\"a\",\n  nul]"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		streamed_agrees("application/json", json[i], NULL);
	streamed_agrees(NULL, json[0], "retries=2");
	streamed_agrees("text/plain", "http://a/\"q\n\n# c\nhttp://b/\n", NULL);
	streamed_agrees("text/plain", "http://a/\nhttp://b/\xb0\n", NULL);
	streamed_agrees("text/plain", "", NULL);
	cfg.jobs_max_items = 1;
	streamed_agrees("application/json", json[0], NULL);
	cfg.jobs_max_items = 1000000;
}

/* Past 1 MiB a syntax error is worded by the walk itself, with where it
 * stopped (what jansson says too, but for its "near" part). */
static void
test_job_streamed_big_body_errors(void **state)
{
	struct job_items ji;
	struct batch_spec s;
	struct parse_error e;
	struct buf b = BUF_INIT;
	int i;

	(void)state;
	buf_adds(&b, "[");
	for (i = 0; i < 100000; i++)
		buf_adds(&b, "\"http://a/\",\n");
	buf_adds(&b, "\"x\" \"y\"]");
	assert_int_equal(batch_job_open(&ji, &s, b.data, b.len,
	                     "application/json", NULL, &cfg, &e),
	    -1);
	assert_int_equal(e.code, RERR_BAD_REQUEST);
	assert_string_equal(e.message,
	    "body is not valid JSON: ']' expected (line 100001, column 4)");
	buf_free(&b);
}

/* A leased page: the items keep the job's indexes, the job's options,
 * and an invalid item's message names its own index. */
static void
test_leased_page_keeps_indexes_and_options(void **state)
{
	const char *json[] = {"\"http://a/\"", "{\"url\":5}", "{\"url\":"};
	size_t len[] = {strlen(json[0]), strlen(json[1]), strlen(json[2])};
	uint32_t index[] = {7, 41, 99};
	struct batch_opts o;
	struct batch_spec s;

	opts_defaults(&o, &cfg);
	o.retries = 4;
	batch_parse_leased(&s, &o, json, len, index, 3, &cfg);
	assert_int_equal(s.nitems, 3);
	assert_int_equal(s.items[0].index, 7);
	if (s.items[0].invalid != NULL)
		fail_msg("%s", s.items[0].invalid);
	assert_string_equal(s.items[0].url, "http://a/");
	assert_int_equal(s.opts.retries, 4);
	assert_int_equal(s.items[1].index, 41);
	assert_string_equal(
	    s.items[1].invalid, "requests[41].url: expected a string");
	assert_int_equal(s.items[2].index, 99);
	assert_string_equal(
	    s.items[2].invalid, "requests[99]: the stored item is not JSON");
	batch_spec_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(
	        test_object_form_with_items_and_options, setup),
	    cmocka_unit_test_setup(test_bare_array_and_integer_id, setup),
	    cmocka_unit_test_setup(
	        test_url_list_skips_comments_and_blank_lines, setup),
	    cmocka_unit_test_setup(
	        test_sniffing_without_or_with_form_content_type, setup),
	    cmocka_unit_test_setup(test_format_from_query_and_accept, setup),
	    cmocka_unit_test_setup(test_query_string_is_decoded, setup),
	    cmocka_unit_test_setup(test_accept_is_negotiated, setup),
	    cmocka_unit_test_setup(test_byte_order_mark_is_skipped, setup),
	    cmocka_unit_test_setup(
	        test_json_options_override_query_options, setup),
	    cmocka_unit_test_setup(test_whole_request_errors, setup),
	    cmocka_unit_test_setup(
	        test_too_many_items_is_413_in_both_forms, setup),
	    cmocka_unit_test_setup(
	        test_json_format_is_limited_to_max_json_items, setup),
	    cmocka_unit_test_setup(test_a_key_given_twice_is_refused, setup),
	    cmocka_unit_test_setup(
	        test_each_item_problem_marks_only_that_item, setup),
	    cmocka_unit_test_setup(
	        test_invalid_item_keeps_its_url_and_id, setup),
	    cmocka_unit_test_setup(test_body_base64_is_binary, setup),
	    cmocka_unit_test_setup(
	        test_item_timeout_is_clamped_to_the_cap, setup),
	    cmocka_unit_test_setup(test_hundred_thousand_items_parse, setup),
	    cmocka_unit_test_setup(
	        test_job_keeps_item_text_and_job_object, setup),
	    cmocka_unit_test_setup(
	        test_job_streamed_agrees_with_the_whole_parse, setup),
	    cmocka_unit_test_setup(test_job_streamed_big_body_errors, setup),
	    cmocka_unit_test_setup(
	        test_leased_page_keeps_indexes_and_options, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
