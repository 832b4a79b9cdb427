/*
 * test_url.c - absolute http/https URLs as fetch needs them: where to
 * connect, what to send as Host, the request target verbatim, the pool
 * key; host names percent-decoded and in A-label form (issue #13); and
 * each URL that must be refused, with its reason.
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

/* Every notation the WHATWG parser reads as IPv4 becomes dotted
 * decimal, so the egress policy sees the address a browser would use. */
static void
test_ipv4_odd_notations_are_canonical(void **state)
{
	static const char *const cases[][2] = {
	    {"http://2130706433/", "127.0.0.1"},
	    {"http://0177.0.0.1/", "127.0.0.1"},
	    {"http://0x7f.1/", "127.0.0.1"},
	    {"http://0x7F.0.0.0x1/", "127.0.0.1"},
	    {"http://127.1/", "127.0.0.1"},
	    {"http://127.0.0.1./", "127.0.0.1"},
	    {"http://0251.0376.0251.0376/", "169.254.169.254"},
	    {"http://0xa9fea9fe/", "169.254.169.254"},
	    {"http://169.254.43518/", "169.254.169.254"},
	    {"http://0/", "0.0.0.0"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct url u = parse(cases[i][0]);

		assert_string_equal(u.host, cases[i][1]);
		assert_true(u.ip_literal);
	}
	refused("http://256.0.0.1/", "invalid IPv4 address in URL");
	refused("http://1.2.3.4294967296/", "invalid IPv4 address in URL");
	refused("http://1.2.65536/", "invalid IPv4 address in URL");
	refused("http://08.0.0.1/", "invalid IPv4 address in URL");
	refused("http://1.0x1g.3.4/", "invalid IPv4 address in URL");
}

/* Names keep their spelling, minus case and one trailing dot. */
static void
test_names_drop_the_trailing_dot(void **state)
{
	struct url u = parse("http://LocalHost./x");

	assert_string_equal(u.host, "localhost");
	assert_false(u.ip_literal);
	u = parse("http://0x7g.example/");
	assert_string_equal(u.host, "0x7g.example");
	assert_false(u.ip_literal);
	u = parse("http://1.2.3.4.example/");
	assert_false(u.ip_literal);
	refused("http://./", "invalid host name");
	refused("http://a../", "invalid host name");
	refused("http://.a/", "invalid host name");
}

/* WHATWG host parsing (issue #13): percent-decoded before anything
 * else, an international name in A-label form (UTS #46), IPv4 in any
 * spelling read once decoded; Host and the pool key carry the result. */
static void
test_hosts_are_decoded_and_in_a_label_form(void **state)
{
	static const char *const same[][2] = {
	    {"http://ex%61mple.test/", "example.test"},
	    {"http://EX%41MPLE.Test./", "example.test"},
	    {"http://b\xc3\xbc"
	     "cher.test/",
	        "xn--bcher-kva.test"},
	    {"http://b%C3%BCcher.test/", "xn--bcher-kva.test"},
	    {"http://B\xc3\x9c"
	     "CHER.test/",
	        "xn--bcher-kva.test"},
	    {"http://XN--BCHER-KVA.test/", "xn--bcher-kva.test"},
	    {"http://stra\xc3\x9f"
	     "e.de/",
	        "xn--strae-oqa.de"}, /* UTS #46
	       non-transitional: ß stays */
	    {"http://my_host.test/", "my_host.test"},
	};
	struct url u;
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		u = parse(same[i][0]);
		assert_string_equal(u.host, same[i][1]);
		assert_false(u.ip_literal);
	}
	u = parse("http://b\xc3\xbc"
	          "cher.test:8080/p");
	assert_string_equal(u.host_header, "xn--bcher-kva.test:8080");
	assert_string_equal(u.origin, "http://xn--bcher-kva.test:8080");
	assert_string_equal(u.target, "/p");
	/* An address once decoded: the egress policy sees the address. */
	u = parse("http://127.0.0.%31:8080/");
	assert_true(u.ip_literal);
	assert_string_equal(u.host, "127.0.0.1");
	assert_string_equal(u.host_header, "127.0.0.1:8080");
	u = parse("http://169.254.169.%32%35%34/");
	assert_true(u.ip_literal);
	assert_string_equal(u.host, "169.254.169.254");
	u = parse("http://\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1/");
	assert_true(u.ip_literal); /* full-width digits map to 127 */
	assert_string_equal(u.host, "127.0.0.1");
}

/* A host that decodes to what no host may hold, or a label IDNA
 * refuses: invalid_request, naming the label. */
static void
test_bad_hosts_are_refused_by_name(void **state)
{
	static const char *const bad[][2] = {
	    {"http://xn--zz.test/", "invalid host name: \"xn--zz\": "},
	    {"http://a.xn--a.test/", "invalid host name: \"xn--a\": "},
	    {"http://\xf0\x9f\x92\xa9.test/",
	        "invalid host name: \"\xf0\x9f\x92\xa9\": "},
	    {"http://b\xff"
	     "cher.test/",
	        "invalid host name: \"b\xff"
	        "cher\": "},
	};
	struct url u;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
		    url_parse(bad[i][0], strlen(bad[i][0]), &a, &u, &why), -1);
		if (strncmp(why, bad[i][1], strlen(bad[i][1])) != 0)
			fail_msg("%s: [%s]", bad[i][0], why);
	}
	refused("http://a%2Fb.test/", "invalid host name");
	refused("http://a%3Ab.test/", "invalid host name");
	refused("http://a%00b.test/", "invalid host name");
	refused("http://a%25b.test/", "invalid host name");
	refused("http://a%20b.test/", "invalid host name");
	refused("http://%2e/", "invalid host name");
	refused("http://h/b\xc3\xbc"
	        "cher",
	    "invalid character in URL");
	refused("http://b\xc3\xbc@h/", "invalid user information in URL");
}

/* The length limit holds for the name as DNS gets it. */
static void
test_host_length_counts_the_decoded_name(void **state)
{
	static char url[1024];
	size_t i, n = 7;

	memcpy(url, "http://", 7);
	for (i = 0; i < 253; i++, n += 3)
		memcpy(url + n, i % 50 == 49 ? "%2E" : "%61", 3);
	url[n] = '\0';
	assert_int_equal(strlen(parse(url).host), 253);
	memcpy(url + n, "%61", 4);
	refused(url, "invalid host name");
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

/* Found by fuzz_batch_parse: a URL list line "https://" at the very end
 * of the body, not NUL-terminated; the empty authority was read past its
 * end. An exact-size heap copy lets AddressSanitizer see any overread. */
static void
test_empty_authority_at_the_end_of_the_input(void **state)
{
	static const char *const cases[] = {"https://", "http://u@", "http://"};
	struct url u;
	const char *why;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		size_t n = strlen(cases[i]);
		char *exact = malloc(n);

		memcpy(exact, cases[i], n);
		assert_int_equal(url_parse(exact, n, &a, &u, &why), -1);
		assert_string_equal(why, "missing host");
		free(exact);
	}
	arena_free(&a);
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
	    cmocka_unit_test_teardown(
	        test_ipv4_odd_notations_are_canonical, teardown),
	    cmocka_unit_test_teardown(
	        test_names_drop_the_trailing_dot, teardown),
	    cmocka_unit_test_teardown(
	        test_hosts_are_decoded_and_in_a_label_form, teardown),
	    cmocka_unit_test_teardown(
	        test_bad_hosts_are_refused_by_name, teardown),
	    cmocka_unit_test_teardown(
	        test_host_length_counts_the_decoded_name, teardown),
	    cmocka_unit_test_teardown(test_userinfo_is_kept_raw, teardown),
	    cmocka_unit_test_teardown(test_refusals_say_why, teardown),
	    cmocka_unit_test(test_resolve_rfc3986_examples),
	    cmocka_unit_test(test_empty_authority_at_the_end_of_the_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
