/*
 * fuzz_cli.c - libFuzzer harness for the parsers of fanout(1): the
 * daemon's answer cut into lines (cli_lines_feed) fed whole and in
 * random pieces (sizes drawn from a generator the first input byte
 * seeds) must give the same lines; each line's scan (cli_line_scan)
 * must agree with jansson wherever jansson reads the line as a result
 * object (kind, "ok", "index", "body_bytes"); and the URL-list parser
 * (cli_parse_list) yields trimmed, non-empty, non-comment lines only.
 * Lines with a \u escape or a raw NUL are scanned but not compared
 * (keys are read as written; jansson reads "1\0" as 1).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
collect(void *ctx, const char *line, size_t n)
{
	struct buf *b = ctx;

	buf_addu(b, n);
	buf_addc(b, ':');
	buf_add(b, line, n);
	return 0;
}

/* All lines of p[0..n) in pieces drawn from seed (0: at once). */
static void
split(const char *p, size_t n, uint32_t seed, struct buf *out)
{
	struct cli_lines l = {BUF_INIT};
	uint32_t rng = seed * 2654435761u + 1;
	size_t off = 0;

	while (off < n) {
		size_t step = seed ? (rng >> 16) % 32 + 1 : n;

		rng = rng * 1103515245u + 12345u;
		if (step > n - off)
			step = n - off;
		if (cli_lines_feed(&l, p + off, step, collect, out) != 0)
			abort();
		off += step;
	}
	if (cli_lines_end(&l, collect, out) != 0)
		abort();
	cli_lines_free(&l);
}

/* The scan of one line against jansson's reading of it. */
static int
check_line(void *ctx, const char *line, size_t n)
{
	struct cli_line l;
	json_t *j, *v;

	(void)ctx;
	cli_line_scan(line, n, &l);
	/* a \u escape can spell a key ("ind\u0065x"): the daemon never
	 * writes one and the scan reads keys as written, so no oracle */
	if (memmem(line, n, "\\u", 2) != NULL)
		return 0;
	/* jansson takes a raw NUL after a number ("1\0,") as the end of
	 * the number; RFC 8259 has no such byte outside a string, and the
	 * scan calls the line malformed: no oracle either */
	if (memchr(line, '\0', n) != NULL)
		return 0;
	j = json_loadb(line, n, 0, NULL);
	if (j == NULL)
		return 0;
	if (json_is_object(j) && json_object_get(j, "index") != NULL &&
	    json_object_get(j, "progress") == NULL &&
	    json_object_get(j, "summary") == NULL) {
		if (l.kind != CLI_LINE_RESULT)
			abort();
		if (l.ok != json_is_true(json_object_get(j, "ok")))
			abort();
		if (l.has_body != (json_object_get(j, "body") != NULL))
			abort();
		v = json_object_get(j, "index");
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    (uint64_t)json_integer_value(v) != l.index)
			abort();
		v = json_object_get(j, "body_bytes");
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    (uint64_t)json_integer_value(v) != l.body_bytes)
			abort();
	}
	if (!json_is_object(j) && l.kind != CLI_LINE_OTHER)
		abort();
	json_decref(j);
	return 0;
}

static void
list_item(void *ctx, const char *url, size_t n)
{
	(void)ctx;
	if (n == 0 || url[0] == '#' || memchr(url, '\n', n) != NULL ||
	    url[0] == ' ' || url[0] == '\t' || url[n - 1] == ' ' ||
	    url[n - 1] == '\r')
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct cli_lines l = {BUF_INIT};
	const char *p = (const char *)data + 1;

	if (size < 1)
		return 0;
	size--;
	split(p, size, 0, &a);
	split(p, size, (uint32_t)data[0] + 1, &b);
	if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	(void)cli_lines_feed(&l, p, size, check_line, NULL);
	(void)cli_lines_end(&l, check_line, NULL);
	cli_lines_free(&l);
	cli_parse_list(p, size, list_item, NULL);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
