/*
 * test_redirect.c - the next hop of a redirect: which statuses are
 * followed, Location resolved against the current URL, the method rules
 * (303 and POST after 301/302 become GET without a body; 307/308 keep
 * method and body), cross-origin detection, and the headers a
 * cross-origin hop drops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "redirect.h"

static struct arena a = ARENA_INIT;

static struct redirect_hop
next(const char *cur_url, enum http_method m, int status, const char *loc)
{
	struct redirect_hop hop;
	struct url cur;
	const char *why;

	assert_int_equal(
	    url_parse(cur_url, strlen(cur_url), &a, &cur, &why), 0);
	if (redirect_next(cur_url, &cur, m, status, loc, &a, &hop, &why) != 0)
		fail_msg("%s -> %s refused: %s", cur_url, loc, why);
	return hop;
}

static void
test_followed_statuses(void **state)
{
	int s;

	for (s = 300; s < 310; s++)
		assert_int_equal(redirect_status(s),
		    s == 301 || s == 302 || s == 303 || s == 307 || s == 308);
	assert_false(redirect_status(304));
	assert_false(redirect_status(200));
}

static void
test_relative_and_absolute_locations(void **state)
{
	struct redirect_hop h;

	h = next("http://a.test:81/x/y?q", HM_GET, 302, "z?w");
	assert_string_equal(h.url, "http://a.test:81/x/z?w");
	assert_string_equal(h.u.target, "/x/z?w");
	assert_false(h.cross_origin);
	h = next("http://a.test:81/x/y", HM_GET, 301, "/top");
	assert_string_equal(h.url, "http://a.test:81/top");
	h = next("http://a.test:81/x", HM_GET, 302, "http://b.test/p");
	assert_string_equal(h.u.origin, "http://b.test:80");
	assert_true(h.cross_origin);
	h = next("http://a.test/x", HM_GET, 302, "https://a.test/x");
	assert_true(h.cross_origin); /* the scheme is part of the origin */
	h = next("http://a.test/x", HM_GET, 302, "//a.test:80/y");
	assert_false(h.cross_origin);
}

static void
test_method_rules(void **state)
{
	struct redirect_hop h;

	h = next("http://a/", HM_POST, 303, "/n");
	assert_int_equal(h.method, HM_GET);
	assert_false(h.keep_body);
	h = next("http://a/", HM_PUT, 303, "/n");
	assert_int_equal(h.method, HM_GET);
	h = next("http://a/", HM_HEAD, 303, "/n");
	assert_int_equal(h.method, HM_HEAD);
	h = next("http://a/", HM_POST, 302, "/n");
	assert_int_equal(h.method, HM_GET);
	assert_false(h.keep_body);
	h = next("http://a/", HM_POST, 301, "/n");
	assert_int_equal(h.method, HM_GET);
	h = next("http://a/", HM_PUT, 302, "/n");
	assert_int_equal(h.method, HM_PUT);
	assert_true(h.keep_body);
	h = next("http://a/", HM_POST, 307, "/n");
	assert_int_equal(h.method, HM_POST);
	assert_true(h.keep_body);
	h = next("http://a/", HM_PATCH, 308, "/n");
	assert_int_equal(h.method, HM_PATCH);
	assert_true(h.keep_body);
}

static void
test_bad_locations_are_refused(void **state)
{
	struct redirect_hop h;
	struct url cur;
	const char *why;

	url_parse("http://a/x", 10, &a, &cur, &why);
	assert_int_equal(
	    redirect_next("http://a/x", &cur, HM_GET, 302, NULL, &a, &h, &why),
	    -1);
	assert_string_equal(why, "redirect without a Location");
	assert_int_equal(redirect_next("http://a/x", &cur, HM_GET, 302,
	                     "ftp://a/x", &a, &h, &why),
	    -1);
	assert_int_equal(redirect_next("http://a/x", &cur, HM_GET, 302, "/a b",
	                     &a, &h, &why),
	    -1);
}

static void
test_cross_origin_drops_credentials(void **state)
{
	assert_true(redirect_drops_header("Authorization"));
	assert_true(redirect_drops_header("cookie"));
	assert_false(redirect_drops_header("Accept"));
	assert_false(redirect_drops_header("X-Auth"));
	arena_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_followed_statuses),
	    cmocka_unit_test(test_relative_and_absolute_locations),
	    cmocka_unit_test(test_method_rules),
	    cmocka_unit_test(test_bad_locations_are_refused),
	    cmocka_unit_test(test_cross_origin_drops_credentials),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
