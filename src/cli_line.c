/*
 * cli_line.c - fanout's reading of the daemon's NDJSON stream (see
 * cli.h): lines out of chunks, and a scan of one line for the handful
 * of members fanout needs (index, ok, body_bytes, the progress and
 * summary counts). The scan walks the top-level object member by
 * member and skips each value by its JSON grammar (RFC 8259 §2: strings
 * with their escapes, nested objects and arrays), so 100,000 lines cost
 * no JSON trees; a line that does not scan is CLI_LINE_OTHER.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Past the blanks of RFC 8259 §2 at p. */
static const char *
skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* p at '"': past the closing quote, or NULL (RFC 8259 §7). */
static const char *
skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			p++;
			continue;
		}
		if (*p == '"')
			return p + 1;
	}
	return NULL;
}

/* Past one value at p (any kind), or NULL. Nesting is counted, so a
 * deep value costs no stack. */
static const char *
skip_value(const char *p, const char *end)
{
	size_t depth = 0;

	p = skip_ws(p, end);
	if (p >= end)
		return NULL;
	do {
		if (p >= end)
			return NULL;
		if (*p == '"') {
			p = skip_string(p, end);
			if (p == NULL)
				return NULL;
			continue;
		}
		if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']') {
			if (depth == 0)
				return NULL;
			depth--;
		} else if (depth == 0) {
			/* a scalar: up to the next delimiter */
			while (p < end && strchr(",}] \t\r\n", *p) == NULL)
				p++;
			return p;
		}
		p++;
	} while (depth > 0);
	return p;
}

/* The members of the object at [p, end): calls fn for each key (the
 * bytes between its quotes) and value span. 0, or -1 if malformed. */
static int
members(const char *p, const char *end,
    void (*fn)(
        void *ctx, const char *k, size_t kn, const char *v, const char *vend),
    void *ctx)
{
	p = skip_ws(p, end);
	if (p >= end || *p != '{')
		return -1;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return 0;
	for (;;) {
		const char *k, *kend, *v;

		if (p >= end || *p != '"')
			return -1;
		k = p + 1;
		kend = skip_string(p, end);
		if (kend == NULL)
			return -1;
		p = skip_ws(kend, end);
		if (p >= end || *p != ':')
			return -1;
		v = skip_ws(p + 1, end);
		p = skip_value(v, end);
		if (p == NULL)
			return -1;
		fn(ctx, k, (size_t)(kend - 1 - k), v, p);
		p = skip_ws(p, end);
		if (p < end && *p == ',') {
			p = skip_ws(p + 1, end);
			continue;
		}
		return p < end && *p == '}' ? 0 : -1;
	}
}

/* A non-negative integer value, or 0. */
static uint64_t
number(const char *v, const char *vend)
{
	uint64_t n = 0;

	for (; v < vend && *v >= '0' && *v <= '9'; v++)
		n = n * 10 + (uint64_t)(*v - '0');
	return n;
}

static bool
key_is(const char *k, size_t kn, const char *name)
{
	return kn == strlen(name) && memcmp(k, name, kn) == 0;
}

/* Members of a progress or summary object. */
static void
count_member(
    void *ctx, const char *k, size_t kn, const char *v, const char *vend)
{
	struct cli_line *l = ctx;

	if (key_is(k, kn, "done"))
		l->done = number(v, vend);
	else if (key_is(k, kn, "total"))
		l->total = number(v, vend);
	else if (key_is(k, kn, "ok"))
		l->okn = number(v, vend);
	else if (key_is(k, kn, "failed"))
		l->failed = number(v, vend);
}

/* Members of the line's own object. */
static void
line_member(
    void *ctx, const char *k, size_t kn, const char *v, const char *vend)
{
	struct cli_line *l = ctx;

	if (key_is(k, kn, "index")) {
		l->kind = CLI_LINE_RESULT;
		l->index = number(v, vend);
	} else if (key_is(k, kn, "ok"))
		l->ok = vend - v == 4 && memcmp(v, "true", 4) == 0;
	else if (key_is(k, kn, "body"))
		l->has_body = true;
	else if (key_is(k, kn, "body_url"))
		l->has_body_url = true;
	else if (key_is(k, kn, "body_bytes"))
		l->body_bytes = number(v, vend);
	else if (key_is(k, kn, "progress") || key_is(k, kn, "summary")) {
		l->kind = k[0] == 'p' ? CLI_LINE_PROGRESS : CLI_LINE_SUMMARY;
		if (members(v, vend, count_member, l) != 0)
			l->kind = CLI_LINE_OTHER;
	}
}

void
cli_line_scan(const char *s, size_t n, struct cli_line *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = CLI_LINE_OTHER;
	if (members(s, s + n, line_member, out) != 0) {
		memset(out, 0, sizeof(*out));
		out->kind = CLI_LINE_OTHER;
	}
}

/* One line to on_line, a '\r' before the '\n' dropped. */
static int
emit(int (*on_line)(void *, const char *, size_t), void *ctx, const char *s,
    size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	return on_line(ctx, s, n);
}

int
cli_lines_feed(struct cli_lines *l, const char *p, size_t n,
    int (*on_line)(void *ctx, const char *line, size_t len), void *ctx)
{
	const char *end = p + n, *nl;

	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		int rc;

		if (l->partial.len > 0) {
			buf_add(&l->partial, p, (size_t)(nl - p));
			rc =
			    emit(on_line, ctx, l->partial.data, l->partial.len);
			buf_reset(&l->partial);
		} else
			rc = emit(on_line, ctx, p, (size_t)(nl - p));
		p = nl + 1;
		if (rc != 0)
			return -1;
	}
	if (p < end)
		buf_add(&l->partial, p, (size_t)(end - p));
	return 0;
}

int
cli_lines_end(struct cli_lines *l,
    int (*on_line)(void *ctx, const char *line, size_t len), void *ctx)
{
	int rc = 0;

	if (l->partial.len > 0)
		rc = emit(on_line, ctx, l->partial.data, l->partial.len);
	buf_reset(&l->partial);
	return rc != 0 ? -1 : 0;
}

void
cli_lines_free(struct cli_lines *l)
{
	buf_free(&l->partial);
}
