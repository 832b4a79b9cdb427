/*
 * test_extract_charset.c - the extractor's character sets and link URLs:
 * the HTML standard's order (BOM, HTTP charset, <meta> prescan of the
 * first 1024 bytes, UTF-8), the legacy encodings through iconv, bytes
 * that do not decode as U+FFFD (always valid JSON), sequences split
 * between pieces; and xurl_link's steps around the RFC 3986 resolver.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "extract_int.h"
#include "extract_test.h"

/* The title and the charset of a page served as ctype. */
static void
title_is(const char *ctype, const char *html, size_t n, const char *want,
    const char *charset)
{
	json_t *r = xt_run_raw(ctype, "http://a.test/", html, n);
	json_t *x = json_object_get(r, "extract");

	assert_true(json_is_object(x));
	xt_str(x, "title", want);
	xt_str(json_object_get(x, "meta"), "charset", charset);
	json_decref(r);
}

#define TITLE_IS(ctype, lit, want, cs) \
	title_is(ctype, lit, sizeof(lit) - 1, want, cs)

static void
test_http_charset(void **state)
{
	TITLE_IS("text/html; charset=windows-1252",
	    "<title>Caf\xE9 \x93q\x94</title>", "Café “q”", "windows-1252");
	/* ISO-8859-1 is read as windows-1252, as WHATWG says. */
	TITLE_IS("text/html;charset=\"ISO-8859-1\"", "<title>\x93x\x94</title>",
	    "“x”", "windows-1252");
	/* HTTP wins over <meta>. */
	TITLE_IS("text/html; charset=windows-1251",
	    "<meta charset=utf-8><title>\xCC\xE8\xF0</title>", "Мир",
	    "windows-1251");
}

static void
test_bom_wins(void **state)
{
	TITLE_IS("text/html; charset=windows-1252",
	    "\xEF\xBB\xBF<title>\xC3\xA9t\xC3\xA9</title>", "été", "utf-8");
	TITLE_IS("text/html",
	    "\xFF\xFE<\0t\0i\0t\0l\0e\0>\0\xA9\x03<\0/\0t\0i\0t\0l\0e\0>\0",
	    "Ω", "utf-16le");
	TITLE_IS("text/html", "\xFE\xFF\0<\0t\0i\0t\0l\0e\0>\x03\xA9", "Ω",
	    "utf-16be");
}

static void
test_meta_prescan(void **state)
{
	TITLE_IS("text/html",
	    "<!-- <meta charset=koi8-u> --><meta charset=\"koi8-r\">"
	    "<title>\xF0\xD2\xC9\xD7\xC5\xD4</title>",
	    "Привет", "koi8-r");
	TITLE_IS("text/html",
	    "<head><meta http-equiv=\"Content-Type\" content=\"text/html; "
	    "charset=iso-8859-2\"><title>Za\xBF\xF3\xB3\xE6</title>",
	    "Zażółć", "iso-8859-2");
	/* content=charset without http-equiv is not a declaration. */
	TITLE_IS("text/html",
	    "<meta content=\"text/html; charset=koi8-r\"><title>ok</title>",
	    "ok", "utf-8");
	/* An unknown HTTP label is ignored: the prescan decides. */
	TITLE_IS("text/html; charset=x-no-such",
	    "<meta charset=windows-1251><title>\xCC\xE8\xF0</title>", "Мир",
	    "windows-1251");
	/* utf-16 named in a <meta> means utf-8 (the bytes are ASCII). */
	TITLE_IS(
	    "text/html", "<meta charset=utf-16><title>u</title>", "u", "utf-8");
}

static void
test_meta_past_1024_bytes_is_not_seen(void **state)
{
	char doc[2048];
	size_t n;

	memset(doc, ' ', 1100);
	n = 1100;
	memcpy(doc + n, "<meta charset=windows-1252><title>\xE9</title>", 44);
	n += 44;
	title_is("text/html", doc, n, "\xEF\xBF\xBD", "utf-8");
}

static void
test_east_asian_and_cyrillic_encodings(void **state)
{
	TITLE_IS("text/html; charset=Shift_JIS",
	    "<title>\x93\xFA\x96\x7B\x8C\xEA</title>", "日本語", "shift_jis");
	TITLE_IS("text/html; charset=euc-jp",
	    "<title>\xC6\xFC\xCB\xDC\xB8\xEC</title>", "日本語", "euc-jp");
	TITLE_IS("text/html; charset=gb2312", "<title>\xD6\xD0\xCE\xC4</title>",
	    "中文", "gbk");
	TITLE_IS("text/html; charset=big5", "<title>\xA4\xA4\xA4\xE5</title>",
	    "中文", "big5");
	TITLE_IS("text/html; charset=euc-kr", "<title>\xC7\xD1\xB1\xB9</title>",
	    "한국", "euc-kr");
	TITLE_IS("text/html; charset=koi8-r",
	    "<title>\xF0\xD2\xC9\xD7\xC5\xD4</title>", "Привет", "koi8-r");
}

static void
test_undecodable_bytes_become_replacement_characters(void **state)
{
	/* UTF-8 (the fallback): a stray byte, an overlong, a surrogate, a
	 * cut sequence at the end, NUL. */
	TITLE_IS("text/html",
	    "<title>a\xFF"
	    "b\xC0\xAF"
	    "c\xED\xA0\x80</title>",
	    "a\xEF\xBF\xBD"
	    "b\xEF\xBF\xBD\xEF\xBF\xBD"
	    "c\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD",
	    "utf-8");
	TITLE_IS("text/html", "<title>x\0y</title>", "x\xEF\xBF\xBDy", "utf-8");
	TITLE_IS("text/html", "<title>end\xE2\x82", "end\xEF\xBF\xBD", "utf-8");
	/* Shift_JIS with a lead byte followed by one it cannot pair. */
	TITLE_IS("text/html; charset=shift_jis",
	    "<title>\x93\xFA\x81\x20x</title>", "日\xEF\xBF\xBD x",
	    "shift_jis");
}

static void
test_prescan_details(void **state)
{
	static const char a[] = "<p class='<meta charset=koi8-r>'>";
	static const char b[] = "<META CHARSET = ' Windows-1250 '>";
	static const char c[] = "<meta http-equiv=content-type "
	                        "content='text/html;charset = \"euc-jp\"'>";

	assert_null(xcs_prescan((const unsigned char *)a, sizeof(a) - 1));
	assert_string_equal(
	    xcs_prescan((const unsigned char *)b, sizeof(b) - 1),
	    "windows-1250");
	assert_string_equal(
	    xcs_prescan((const unsigned char *)c, sizeof(c) - 1), "euc-jp");
	assert_string_equal(xcs_lookup(" LATIN1 ", 8), "windows-1252");
	assert_null(xcs_lookup("latin-1", 7));
	assert_string_equal(
	    xcs_from_content_type("text/html; q=1; CharSet=\"utf8\""), "utf-8");
	assert_null(xcs_from_content_type("text/html"));
}

static void
test_decoder_carries_split_sequences(void **state)
{
	static const unsigned char sjis[] = "\x93\xFA\x96\x7B\x8C\xEA";
	static const unsigned char utf8[] = "\xE6\x97\xA5\xF0\x9F\x98\x80";
	struct xdec d;
	struct buf out = BUF_INIT;
	size_t i;

	xdec_open(&d, "shift_jis");
	for (i = 0; i < 6; i++)
		xdec_run(&d, sjis + i, 1, false, &out);
	xdec_run(&d, NULL, 0, true, &out);
	assert_string_equal(buf_cstr(&out), "日本語");
	xdec_close(&d);
	buf_reset(&out);
	xdec_open(&d, "utf-8");
	for (i = 0; i < 7; i++)
		xdec_run(&d, utf8 + i, 1, false, &out);
	xdec_run(&d, NULL, 0, true, &out);
	assert_string_equal(buf_cstr(&out), "日😀");
	xdec_close(&d);
	buf_free(&out);
}

/* xurl_link(base, href) is want (NULL: skipped). */
static void
link_is(const char *base, const char *href, const char *want)
{
	struct buf out = BUF_INIT;
	int rc = xurl_link(base, href, strlen(href), &out);

	if (want == NULL) {
		if (rc != -1)
			fail_msg(
			    "%s: want skipped, got %s", href, buf_cstr(&out));
	} else {
		if (rc != 0)
			fail_msg("%s: skipped, want %s", href, want);
		assert_string_equal(buf_cstr(&out), want);
	}
	buf_free(&out);
}

static void
test_link_urls(void **state)
{
	const char *b = "http://a.test/b/c/d;p?q";

	link_is(b, "g?y#s", "http://a.test/b/c/g?y");
	link_is(b, "?page=2", "http://a.test/b/c/d;p?page=2");
	link_is(b, "../../../g", "http://a.test/g");
	link_is(b, "//other.test", "http://other.test/");
	link_is(
	    b, "HTTPS://Other.TEST:8443/P?Q", "https://other.test:8443/P?Q");
	link_is(b, "http:g", "http://a.test/b/c/g");
	link_is(b, "https:h.test/x", "https://h.test/x");
	link_is(b, " \t/x\ny \x01", "http://a.test/xy");
	link_is(b, "/a b/ü?q=ä\"", "http://a.test/a%20b/%C3%BC?q=%C3%A4%22");
	link_is(b, "\\\\h.test\\p?x\\y", "http://h.test/p?x%5Cy");
	link_is(b, "/%7e%zz", "http://a.test/%7e%zz");
	link_is(b, "http://u:p@H.test", "http://u:p@h.test/");
	link_is(b, "mailto:x@y", NULL);
	link_is(b, "JavaScript:go()", NULL);
	link_is(b, "http://", NULL);
	link_is(b, "http://:80/", NULL);
	link_is("not a url", "x", NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_charset),
	    cmocka_unit_test(test_bom_wins),
	    cmocka_unit_test(test_meta_prescan),
	    cmocka_unit_test(test_meta_past_1024_bytes_is_not_seen),
	    cmocka_unit_test(test_east_asian_and_cyrillic_encodings),
	    cmocka_unit_test(
	        test_undecodable_bytes_become_replacement_characters),
	    cmocka_unit_test(test_prescan_details),
	    cmocka_unit_test(test_decoder_carries_split_sequences),
	    cmocka_unit_test(test_link_urls),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
