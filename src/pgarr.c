/*
 * pgarr.c - PostgreSQL array literals in text form (see pgarr.h).
 * Elements are separated by commas; a quoted element may hold anything
 * but NUL, with a backslash before each " and \ (PostgreSQL docs §8.15.6).
 */
#include <string.h>

#include "pgarr.h"

/* A comma unless the literal has just begun. */
static void
sep(struct buf *b)
{
	if (b->len > 1)
		buf_addc(b, ',');
}

void
pgarr_begin(struct buf *b)
{
	buf_reset(b);
	buf_addc(b, '{');
}

void
pgarr_text(struct buf *b, const char *s, size_t n)
{
	size_t i, run = 0;

	sep(b);
	buf_reserve(b, n + 2);
	buf_addc(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		buf_add(b, s + run, i - run);
		buf_addc(b, '\\');
		run = i;
	}
	buf_add(b, s + run, n - run);
	buf_addc(b, '"');
}

void
pgarr_int(struct buf *b, int64_t v)
{
	sep(b);
	if (v < 0) {
		buf_addc(b, '-');
		buf_addu(b, (uint64_t)0 - (uint64_t)v);
	} else {
		buf_addu(b, (uint64_t)v);
	}
}

void
pgarr_null(struct buf *b)
{
	sep(b);
	buf_adds(b, "NULL");
}

const char *
pgarr_end(struct buf *b)
{
	buf_addc(b, '}');
	return buf_cstr(b);
}
