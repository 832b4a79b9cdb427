/*
 * extract_test.c - helpers of the extractor's unit tests (see
 * extract_test.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "extract_test.h"

/* extract_json's output for body fed in pieces of `piece` bytes (0:
 * whole). */
static void
feed(const struct extract_opts *o, const char *ctype, const char *base,
    const char *body, size_t n, size_t piece, struct buf *out)
{
	struct extract *x = extract_create(o, base, ctype);
	size_t off;

	if (piece == 0)
		piece = n ? n : 1;
	for (off = 0; off < n; off += piece)
		extract_feed(x, body + off, n - off < piece ? n - off : piece);
	extract_finish(x);
	buf_addc(out, '{');
	extract_json(x, out);
	buf_addc(out, '}');
	extract_free(x);
}

static json_t *
run(const struct extract_opts *o, const char *ctype, const char *base,
    const void *body, size_t n)
{
	struct buf whole = BUF_INIT, ones = BUF_INIT, sevens = BUF_INIT;
	json_error_t err;
	json_t *j;

	feed(o, ctype, base, body, n, 0, &whole);
	feed(o, ctype, base, body, n, 1, &ones);
	feed(o, ctype, base, body, n, 7, &sevens);
	assert_string_equal(buf_cstr(&whole), buf_cstr(&ones));
	assert_string_equal(buf_cstr(&whole), buf_cstr(&sevens));
	j = json_loadb(whole.data, whole.len, 0, &err);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", err.text, buf_cstr(&whole));
	buf_free(&whole);
	buf_free(&ones);
	buf_free(&sevens);
	return j;
}

json_t *
xt_run_raw(const char *ctype, const char *base, const void *body, size_t n)
{
	return run(NULL, ctype, base, body, n);
}

json_t *
xt_run_opts(const struct extract_opts *o, const char *ctype, const char *base,
    const char *html)
{
	json_t *j =
	    run(o, ctype ? ctype : "text/html", base, html, strlen(html));
	json_t *x = json_incref(json_object_get(j, "extract"));

	json_decref(j);
	if (!json_is_object(x))
		fail_msg("no extract object for %s", html);
	return x;
}

json_t *
xt_run(const char *ctype, const char *base, const char *html)
{
	return xt_run_opts(NULL, ctype, base, html);
}

json_t *
xt_parse(const struct buf *out)
{
	struct buf b = BUF_INIT;
	json_error_t err;
	json_t *j, *x;

	buf_addc(&b, '{');
	buf_add(&b, out->data, out->len);
	buf_addc(&b, '}');
	j = json_loadb(b.data, b.len, 0, &err);
	if (j == NULL)
		fail_msg("not JSON (%s): %s", err.text, buf_cstr(&b));
	buf_free(&b);
	x = json_incref(json_object_get(j, "extract"));
	json_decref(j);
	assert_true(json_is_object(x));
	return x;
}

const char *
xt_get_str(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

void
xt_str(json_t *obj, const char *key, const char *want)
{
	assert_string_equal(xt_get_str(obj, key), want);
}

void
xt_links(json_t *x, ...)
{
	json_t *links = json_object_get(x, "links");
	const char *want;
	size_t i = 0;
	va_list ap;

	assert_true(json_is_array(links));
	va_start(ap, x);
	while ((want = va_arg(ap, const char *)) != NULL) {
		json_t *l = json_array_get(links, i++);

		if (l == NULL)
			fail_msg("link %zu missing, want %s", i - 1, want);
		assert_string_equal(xt_get_str(l, "url"), want);
	}
	va_end(ap);
	if (json_array_size(links) != i)
		fail_msg("%zu links, want %zu; extra: %s",
		    json_array_size(links), i,
		    xt_get_str(json_array_get(links, i), "url"));
}

void
xt_link_str(json_t *x, size_t i, const char *key, const char *want)
{
	json_t *l = json_array_get(json_object_get(x, "links"), i);

	assert_non_null(l);
	xt_str(l, key, want);
}

void
xt_link_text(json_t *x, size_t i, const char *want)
{
	xt_link_str(x, i, "text", want);
}
