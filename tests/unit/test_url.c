/*
 * test_url.c - absolute http/https URLs as fetch needs them: where to
 * connect, what to send as Host, the request target verbatim, the pool
 * key; and each URL that must be refused, with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "url.h"

static struct arena a = ARENA_INIT;

static int
teardown(void **state)
{
	arena_free(&a);
	return 0;
}

static struct url
parse(const char *s)
{
	struct url u;
	const char *why = NULL;

	if (url_parse(s, strlen(s), &a, &u, &why) != 0)
		fail_msg("refused %s: %s", s, why);
	return u;
}

static void
refused(const char *s, const char *reason)
{
	struct url u;
	const char *why = NULL;

	if (url_parse(s, strlen(s), &a, &u, &why) == 0)
		fail_msg("accepted %s", s);
	assert_string_equal(why, reason);
}

static void
test_default_ports_and_origin(void **state)
{
	struct url u = parse("http://example.test/a");

	assert_false(u.https);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.host_header, "example.test");
	assert_string_equal(u.origin, "http://example.test:80");
	u = parse("https://example.test");
	assert_true(u.https);
	assert_int_equal(u.port, 443);
	assert_string_equal(u.origin, "https://example.test:443");
}

static void
test_explicit_port_is_in_host_header_unless_default(void **state)
{
	struct url u = parse("http://example.test:8080/");

	assert_int_equal(u.port, 8080);
	assert_string_equal(u.host_header, "example.test:8080");
	u = parse("https://example.test:443/");
	assert_string_equal(u.host_header, "example.test");
	u = parse("http://example.test:/x");
	assert_int_equal(u.port, 80);
}

static void
test_scheme_and_host_are_case_insensitive(void **state)
{
	struct url u = parse("HTTPS://Example.TEST/Path");

	assert_true(u.https);
	assert_string_equal(u.host, "example.test");
	assert_string_equal(u.target, "/Path");
}

static void
test_target_is_sent_as_given(void **state)
{
	assert_string_equal(parse("http://h").target, "/");
	assert_string_equal(parse("http://h?q=1").target, "/?q=1");
	assert_string_equal(
	    parse("http://h/a%20b/c?x=%2F&y").target, "/a%20b/c?x=%2F&y");
	assert_string_equal(parse("http://h/p?").target, "/p?");
	assert_string_equal(parse("http://h/p#frag").target, "/p");
	assert_string_equal(parse("http://h/p?q#frag").target, "/p?q");
}

static void
test_ip_literals(void **state)
{
	struct url u = parse("http://[::1]:8080/x");

	assert_true(u.ip_literal);
	assert_string_equal(u.host, "::1");
	assert_string_equal(u.host_header, "[::1]:8080");
	assert_string_equal(u.origin, "http://[::1]:8080");
	u = parse("http://[::1]/");
	assert_string_equal(u.host_header, "[::1]");
	u = parse("http://127.0.0.1:81/");
	assert_true(u.ip_literal);
	assert_string_equal(u.host, "127.0.0.1");
	assert_false(parse("http://localhost/").ip_literal);
}

static void
test_userinfo_is_kept_raw(void **state)
{
	struct url u;

	refused("http://a@b@h/", "invalid user information in URL");
	u = parse("http://user:p%40ss@h:81/");
	assert_string_equal(u.userinfo, "user:p%40ss");
	assert_string_equal(u.host, "h");
	assert_int_equal(u.port, 81);
	assert_null(parse("http://h/").userinfo);
}

static void
test_refusals_say_why(void **state)
{
	char *long_url;

	refused("example.test/x", "not an absolute URL");
	refused("/x", "not an absolute URL");
	refused("http:example.test", "not an absolute URL");
	refused("ftp://example.test/", "unsupported scheme; use http or https");
	refused(
	    "httpx://example.test/", "unsupported scheme; use http or https");
	refused("http:///x", "missing host");
	refused("http://:80/", "missing host");
	refused("http://h:0/", "invalid port");
	refused("http://h:65536/", "invalid port");
	refused("http://h:8a/", "invalid port");
	refused("http://h/a b", "invalid character in URL");
	refused("http://h/a\r\nb", "invalid character in URL");
	refused("http://h/<x>", "invalid character in URL");
	refused("http://h/\xc3\xa9", "invalid character in URL");
	refused(" http://h/", "invalid character in URL");
	refused("http://h/%zz", "invalid character in URL");
	refused("http://h/%2", "invalid character in URL");
	refused("http://h/a[1]", "invalid character in URL");
	refused("http://[::g]/", "invalid IPv6 address in URL");
	refused("http://[::1/", "invalid IPv6 address in URL");
	refused("http://[::1]x/", "invalid character after IPv6 address");
	refused("http://a%zz/", "invalid host name");
	long_url = malloc(URL_MAX_LEN + 32);
	memset(long_url, 'a', URL_MAX_LEN + 31);
	memcpy(long_url, "http://h/", 9);
	long_url[URL_MAX_LEN + 31] = '\0';
	refused(long_url, "URL longer than 8192 bytes");
	memset(long_url + 7, 'a', 254);
	long_url[254 + 7] = '\0';
	refused(long_url, "invalid host name"); /* a 254-byte name */
	free(long_url);
}

/* RFC 3986 §5.4: every normal and abnormal example. */
static void
test_resolve_rfc3986_examples(void **state)
{
	static const char *const cases[][2] = {
	    {"g:h", "g:h"},
	    {"g", "http://a/b/c/g"},
	    {"./g", "http://a/b/c/g"},
	    {"g/", "http://a/b/c/g/"},
	    {"/g", "http://a/g"},
	    {"//g", "http://g"},
	    {"?y", "http://a/b/c/d;p?y"},
	    {"g?y", "http://a/b/c/g?y"},
	    {"#s", "http://a/b/c/d;p?q"},
	    {"g#s", "http://a/b/c/g"},
	    {"g?y#s", "http://a/b/c/g?y"},
	    {";x", "http://a/b/c/;x"},
	    {"g;x", "http://a/b/c/g;x"},
	    {"", "http://a/b/c/d;p?q"},
	    {".", "http://a/b/c/"},
	    {"./", "http://a/b/c/"},
	    {"..", "http://a/b/"},
	    {"../", "http://a/b/"},
	    {"../g", "http://a/b/g"},
	    {"../..", "http://a/"},
	    {"../../", "http://a/"},
	    {"../../g", "http://a/g"},
	    {"../../../g", "http://a/g"},
	    {"../../../../g", "http://a/g"},
	    {"/./g", "http://a/g"},
	    {"/../g", "http://a/g"},
	    {"g.", "http://a/b/c/g."},
	    {".g", "http://a/b/c/.g"},
	    {"g..", "http://a/b/c/g.."},
	    {"..g", "http://a/b/c/..g"},
	    {"./../g", "http://a/b/g"},
	    {"./g/.", "http://a/b/c/g/"},
	    {"g/./h", "http://a/b/c/g/h"},
	    {"g/../h", "http://a/b/c/h"},
	    {"g;x=1/./y", "http://a/b/c/g;x=1/y"},
	    {"g;x=1/../y", "http://a/b/c/y"},
	    {"g?y/./x", "http://a/b/c/g?y/./x"},
	    {"g?y/../x", "http://a/b/c/g?y/../x"},
	    {"g#s/./x", "http://a/b/c/g"},
	    {"https://other.test:8443/x/../y", "https://other.test:8443/y"},
	};
	struct buf out = BUF_INIT;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_reset(&out);
		assert_int_equal(
		    url_resolve("http://a/b/c/d;p?q", cases[i][0], &out), 0);
		if (strcmp(buf_cstr(&out), cases[i][1]) != 0)
			fail_msg("\"%s\" resolved to \"%s\", not \"%s\"",
			    cases[i][0], buf_cstr(&out), cases[i][1]);
	}
	buf_reset(&out);
	assert_int_equal(url_resolve("http://h", "x", &out), 0);
	assert_string_equal(buf_cstr(&out), "http://h/x");
	buf_reset(&out);
	assert_int_equal(url_resolve("/relative", "x", &out), -1);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_teardown(test_default_ports_and_origin, teardown),
	    cmocka_unit_test_teardown(
	        test_explicit_port_is_in_host_header_unless_default, teardown),
	    cmocka_unit_test_teardown(
	        test_scheme_and_host_are_case_insensitive, teardown),
	    cmocka_unit_test_teardown(test_target_is_sent_as_given, teardown),
	    cmocka_unit_test_teardown(test_ip_literals, teardown),
	    cmocka_unit_test_teardown(test_userinfo_is_kept_raw, teardown),
	    cmocka_unit_test_teardown(test_refusals_say_why, teardown),
	    cmocka_unit_test(test_resolve_rfc3986_examples),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
