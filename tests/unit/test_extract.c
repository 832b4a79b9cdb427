/*
 * test_extract.c - the extractor (src/extract.h): every fault of issue
 * #17's list (base href, the final URL as base, "?page=2", non-UTF-8
 * titles, SVG's <title>, no <head>, unclosed tags, a 10 MB page with
 * one link at the end, hrefs with whitespace and entities), links
 * (dedup, fragments, skipped schemes, max_links, anchor text, rel),
 * metadata, non-HTML responses, truncated bodies and the memory cap.
 * Charsets and URL details are in test_extract_charset.c.
 *
 * Each document goes through the extractor whole and in 1-byte and
 * 7-byte pieces; the three results must be the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "extract.h"
#include "extract_test.h"

static void
test_base_href_is_used(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/dir/page.html",
	    "<html><head><base href=\"http://cdn.test/root/\"></head>"
	    "<body><a href=\"x.html\">x</a><a href=\"/top\">t</a></body>");

	xt_links(x, "http://cdn.test/root/x.html", "http://cdn.test/top", NULL);
	json_decref(x);
	/* Relative to the document; only the first <base href> counts. */
	x = xt_run(NULL, "http://a.test/dir/page.html",
	    "<base target=_blank><base href=\"../other/\">"
	    "<base href=\"http://no.test/\"><a href=\"y\">y</a>");
	xt_links(x, "http://a.test/other/y", NULL);
	json_decref(x);
	/* A base that is not http(s) leaves the document's URL in force. */
	x = xt_run(NULL, "http://a.test/d/p",
	    "<base href=\"javascript:x\">"
	    "<a href=\"y\">y</a>");
	xt_links(x, "http://a.test/d/y", NULL);
	json_decref(x);
}

static void
test_links_resolve_against_the_final_url(void **state)
{
	/* The caller gives the URL after redirects: links resolve there,
	 * not against the URL first requested. */
	json_t *x = xt_run(NULL, "https://new.test/moved/here/",
	    "<a href=\"next\">n</a><a href=\"../up\">u</a>");

	xt_links(x, "https://new.test/moved/here/next",
	    "https://new.test/moved/up", NULL);
	json_decref(x);
}

static void
test_query_only_links_keep_the_path(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/list/items.php?page=1",
	    "<a href=\"?page=2\">2</a><a href=\"?page=3&amp;s=x\">3</a>"
	    "<a href=\"\">self</a><a href=\"#top\">top</a>");

	xt_links(x, "http://a.test/list/items.php?page=2",
	    "http://a.test/list/items.php?page=3&s=x",
	    "http://a.test/list/items.php?page=1", NULL);
	json_decref(x);
}

static void
test_title_in_svg_is_not_the_page_title(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<html><body><svg><title>icon</title><a href=\"/svg\">s</a></svg>"
	    "<math><title>m</title></math>"
	    "<title>The page</title><a href=\"/html\">h</a></body></html>");

	xt_str(x, "title", "The page");
	xt_links(x, "http://a.test/html", NULL);
	json_decref(x);
}

static void
test_page_without_head(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<title>No head</title><p>text <a href=b>b</a>");

	xt_str(x, "title", "No head");
	xt_links(x, "http://a.test/b", NULL);
	json_decref(x);
	x = xt_run(NULL, "http://a.test/", "<body><a href=/c>c</a></body>");
	assert_true(json_is_null(json_object_get(x, "title")));
	xt_links(x, "http://a.test/c", NULL);
	json_decref(x);
}

static void
test_unclosed_tags(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<html><head><title>Open title<body><p><a href=1>one<a href=2>"
	    "two<div><a href=3>three");

	/* An unclosed title runs to the end of the document (libxml2 reads
	 * a title as text-holding; the text after <body> is in it). */
	assert_non_null(strstr(xt_get_str(x, "title"), "Open title"));
	xt_links(
	    x, "http://a.test/1", "http://a.test/2", "http://a.test/3", NULL);
	xt_link_text(x, 0, "one");
	xt_link_text(x, 1, "two");
	json_decref(x);
	x = xt_run(NULL, "http://a.test/",
	    "<title>T</title><a href=\"x\"<b>broken</b></a><a href=y>y");
	xt_str(x, "title", "T");
	json_decref(x);
}

static void
test_ten_megabytes_with_one_link_at_the_end(void **state)
{
	static const char para[] =
	    "<p class=\"body text\">Lorem ipsum dolor sit amet, <span "
	    "title='consectetur \"adipiscing\"'>elit</span> &amp; sed do "
	    "<b>eiusmod</b> tempor.</p>\n";
	struct extract *x = extract_create(NULL, "http://a.test/", "text/html");
	struct buf out = BUF_INIT;
	size_t fed = 0;
	json_t *j;

	extract_feed(x, "<html><head><title>Big</title></head><body>", 43);
	while (fed < 10 * 1000 * 1000) {
		extract_feed(x, para, sizeof(para) - 1);
		fed += sizeof(para) - 1;
	}
	extract_feed(x, "<a href=\"/end\">the end</a></body></html>", 40);
	extract_json(x, &out);
	/* Bounded memory: the parser holds a step, not the document. */
	assert_true(extract_mem_peak(x) < 128 * 1024);
	j = xt_parse(&out);
	xt_str(j, "title", "Big");
	xt_links(j, "http://a.test/end", NULL);
	assert_null(json_object_get(j, "partial"));
	json_decref(j);
	buf_free(&out);
	extract_free(x);
}

static void
test_href_whitespace_and_entities(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/d/",
	    "<a href=\"  page.html?a=1&amp;b=2  \">1</a>"
	    "<a href=\"\n\t/p&#x61;th\r\n\">2</a>"
	    "<a href=' http://b.test/x y '>3</a>"
	    "<a href=\"caf&eacute;.html\">4</a>"
	    "<a href=\"\\\\c.test\\p\">5</a>");

	xt_links(x, "http://a.test/d/page.html?a=1&b=2", "http://a.test/path",
	    "http://b.test/x%20y", "http://a.test/d/caf%C3%A9.html",
	    "http://c.test/p", NULL);
	json_decref(x);
}

static void
test_duplicates_keep_the_first_and_fragments_go(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<a href=\"/x#one\">first</a><a href=\"/x#two\">second</a>"
	    "<a href=\"http://A.TEST/x\">third</a><a href=/y rel=next>y</a>"
	    "<area href=\"/x\"><area href=\"/z\" alt=z>");

	xt_links(
	    x, "http://a.test/x", "http://a.test/y", "http://a.test/z", NULL);
	xt_link_text(x, 0, "first");
	xt_link_text(x, 2, "");
	json_decref(x);
}

static void
test_other_schemes_are_skipped_and_counted(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<a href=\"mailto:a@b\">m</a><a href=\"javascript:void(0)\">j</a>"
	    "<a href=\"data:text/html,x\">d</a><a href=\"tel:+1\">t</a>"
	    "<a href=\"ftp://f.test/\">f</a><a href=\"http://\">empty</a>"
	    "<a href=\"HTTPS://ok.test\">ok</a><a>no href</a>");

	xt_links(x, "https://ok.test/", NULL);
	assert_int_equal(
	    json_integer_value(json_object_get(x, "links_skipped")), 6);
	json_decref(x);
}

static void
test_max_links_truncates(void **state)
{
	struct extract_opts o = {EXTRACT_LINKS, 2, 0, 0};
	json_t *x;

	x = xt_run_opts(&o, NULL, "http://a.test/",
	    "<a href=1>1</a><a href=2>2</a><a href=1>dup</a>");
	assert_true(json_is_false(json_object_get(x, "links_truncated")));
	assert_null(json_object_get(x, "title"));
	assert_null(json_object_get(x, "meta"));
	json_decref(x);
	x = xt_run_opts(&o, NULL, "http://a.test/",
	    "<a href=1>1</a><a href=2>2</a><a href=3>3</a><a href=1>1</a>");
	xt_links(x, "http://a.test/1", "http://a.test/2", NULL);
	assert_true(json_is_true(json_object_get(x, "links_truncated")));
	json_decref(x);
}

static void
test_anchor_text_is_collapsed_and_capped(void **state)
{
	struct extract_opts o = {EXTRACT_LINKS, 0, 10, 0};
	json_t *x;

	x = xt_run(NULL, "http://a.test/",
	    "<a href=1>\n  Read <b>the</b>\t\tdocs  </a>"
	    "<a href=2 rel=\" nofollow  noopener \">x</a><a href=3>y</a>");
	xt_link_text(x, 0, "Read the docs");
	xt_link_str(x, 1, "rel", "nofollow noopener");
	assert_null(json_object_get(
	    json_array_get(json_object_get(x, "links"), 2), "rel"));
	json_decref(x);
	/* 10 bytes at most, cut before a character that does not fit. */
	x = xt_run_opts(&o, NULL, "http://a.test/",
	    "<a href=1>abcdefgh\xC3\xA9\xC3\xA9</a><a href=2>ab  cd</a>");
	xt_link_text(x, 0, "abcdefgh\xC3\xA9");
	xt_link_text(x, 1, "ab cd");
	json_decref(x);
}

static void
test_meta_fields(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/d/p",
	    "<!doctype html><html lang=\"en-GB\"><head>"
	    "<meta charset=utf-8><link rel=\"Canonical\" href=\"/canon#f\">"
	    "<meta name=Description content=\" A  page \n about x \">"
	    "<meta name=robots content=\"noindex,nofollow\">"
	    "<meta http-equiv=Refresh content=\"5; URL='../next?x=1'\">"
	    "<link rel=canonical href=/second>");
	json_t *m = json_object_get(x, "meta");

	xt_str(m, "charset", "utf-8");
	xt_str(m, "lang", "en-GB");
	xt_str(m, "canonical", "http://a.test/canon");
	xt_str(m, "description", "A page about x");
	xt_str(m, "robots", "noindex,nofollow");
	xt_str(m, "refresh", "http://a.test/next?x=1");
	json_decref(x);
	x = xt_run(NULL, "http://a.test/d/p",
	    "<meta http-equiv=refresh content=\"0;url=/r\"><title>t</title>");
	xt_str(json_object_get(x, "meta"), "refresh", "http://a.test/r");
	assert_null(json_object_get(json_object_get(x, "meta"), "lang"));
	assert_null(json_object_get(json_object_get(x, "meta"), "canonical"));
	json_decref(x);
	x = xt_run(NULL, "http://a.test/d/p",
	    "<meta http-equiv=refresh content=\"30\">");
	xt_str(json_object_get(x, "meta"), "refresh", "http://a.test/d/p");
	json_decref(x);
	x = xt_run(NULL, "http://a.test/d/p",
	    "<meta http-equiv=refresh content=\"soon\">");
	assert_null(json_object_get(json_object_get(x, "meta"), "refresh"));
	json_decref(x);
}

static void
test_non_html_is_skipped_with_a_reason(void **state)
{
	json_t *r;

	r = xt_run_raw("image/png", "http://a.test/", "\x89PNG\r\n", 6);
	assert_true(json_is_null(json_object_get(r, "extract")));
	xt_str(r, "extract_skipped", "content type image/png is not HTML");
	json_decref(r);
	r = xt_run_raw("application/json; charset=utf-8", "http://a.test/",
	    "{\"a\":\"<html>\"}", 14);
	xt_str(
	    r, "extract_skipped", "content type application/json is not HTML");
	json_decref(r);
	r = xt_run_raw(NULL, "http://a.test/", "just text", 9);
	xt_str(r, "extract_skipped",
	    "no content type and the body does not look like HTML");
	json_decref(r);
	/* Sniffed: no Content-Type, an HTML pattern after whitespace. */
	r = xt_run_raw(
	    NULL, "http://a.test/", " \n<!DOCTYPE html><title>s", 25);
	xt_str(json_object_get(r, "extract"), "title", "s");
	json_decref(r);
	r = xt_run_raw("", "http://a.test/", "<P>para <a href=x>x</a>", 23);
	assert_true(json_is_object(json_object_get(r, "extract")));
	json_decref(r);
	r = xt_run_raw("Application/XHTML+XML", "http://a.test/",
	    "<html><title>x</title></html>", 29);
	xt_str(json_object_get(r, "extract"), "title", "x");
	json_decref(r);
	/* An HTML response without a body: nothing, but an object. */
	r = xt_run_raw("text/html", "http://a.test/", "", 0);
	assert_true(json_is_null(
	    json_object_get(json_object_get(r, "extract"), "title")));
	json_decref(r);
}

static void
test_skipped_without_an_extractor(void **state)
{
	struct buf out = BUF_INIT;

	buf_addc(&out, '{');
	extract_json_skipped(&out, "HEAD request: no body");
	buf_addc(&out, '}');
	assert_string_equal(buf_cstr(&out),
	    "{\"extract\":null,\"extract_skipped\":\"HEAD request: no body\"}");
	buf_free(&out);
}

static void
test_truncated_body_is_extracted_from_what_arrived(void **state)
{
	static const char doc[] =
	    "<html><head><title>Cut short</title><link rel=canonical "
	    "href=/c><meta name=description content=d>";
	json_t *x;

	/* Cut before </head> ended: what arrived is extracted. */
	x = xt_run(NULL, "http://a.test/", doc);
	xt_str(x, "title", "Cut short");
	xt_str(json_object_get(x, "meta"), "canonical", "http://a.test/c");
	json_decref(x);
	/* Cut inside the title and inside a tag. */
	x = xt_run(NULL, "http://a.test/", "<title>Half a ti");
	xt_str(x, "title", "Half a ti");
	json_decref(x);
	x = xt_run(NULL, "http://a.test/", "<a href=/ok>ok</a><a href=\"/cu");
	xt_links(x, "http://a.test/ok", NULL);
	json_decref(x);
}

static void
test_memory_cap_stops_the_parse(void **state)
{
	struct extract_opts o = {0, 0, 0, 64 * 1024};
	struct extract *x = extract_create(&o, "http://a.test/", "text/html");
	struct buf out = BUF_INIT;
	char junk[4096];
	size_t i;
	json_t *j;

	memset(junk, 'x', sizeof(junk));
	extract_feed(x, "<title>Before</title><a href=/a>a</a><!--", 42);
	for (i = 0; i < 1000; i++) /* a 4 MB comment */
		extract_feed(x, junk, sizeof(junk));
	extract_feed(x, "--><a href=/b>b</a>", 19);
	extract_json(x, &out);
	assert_true(extract_mem_peak(x) < 3 * 64 * 1024);
	j = xt_parse(&out);
	xt_str(j, "title", "Before");
	xt_links(j, "http://a.test/a", NULL);
	assert_non_null(strstr(xt_get_str(j, "partial"),
	    "memory cap of 65536 bytes reached after"));
	json_decref(j);
	buf_free(&out);
	extract_free(x);
}

static void
test_uppercase_markup_and_scripts(void **state)
{
	json_t *x = xt_run(NULL, "http://a.test/",
	    "<HTML LANG=fr><TITLE>Up</TITLE><SCRIPT>var s = '<a href=/no>"
	    "</a>';</SCRIPT><style>a{}</style><A HREF=/yes>Yes</A>");

	xt_str(x, "title", "Up");
	xt_str(json_object_get(x, "meta"), "lang", "fr");
	xt_links(x, "http://a.test/yes", NULL);
	json_decref(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base_href_is_used),
	    cmocka_unit_test(test_links_resolve_against_the_final_url),
	    cmocka_unit_test(test_query_only_links_keep_the_path),
	    cmocka_unit_test(test_title_in_svg_is_not_the_page_title),
	    cmocka_unit_test(test_page_without_head),
	    cmocka_unit_test(test_unclosed_tags),
	    cmocka_unit_test(test_ten_megabytes_with_one_link_at_the_end),
	    cmocka_unit_test(test_href_whitespace_and_entities),
	    cmocka_unit_test(test_duplicates_keep_the_first_and_fragments_go),
	    cmocka_unit_test(test_other_schemes_are_skipped_and_counted),
	    cmocka_unit_test(test_max_links_truncates),
	    cmocka_unit_test(test_anchor_text_is_collapsed_and_capped),
	    cmocka_unit_test(test_meta_fields),
	    cmocka_unit_test(test_non_html_is_skipped_with_a_reason),
	    cmocka_unit_test(test_skipped_without_an_extractor),
	    cmocka_unit_test(
	        test_truncated_body_is_extracted_from_what_arrived),
	    cmocka_unit_test(test_memory_cap_stops_the_parse),
	    cmocka_unit_test(test_uppercase_markup_and_scripts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
