/*
 * buf.h - a growable byte string. Emitters write JSON into one, parsers
 * build error messages in one; the caller owns it and reuses it across
 * lines (buf_reset keeps the allocation).
 */
#ifndef FANOUTD_BUF_H
#define FANOUTD_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct buf {
	char *data; /* NUL-terminated whenever len < cap; NULL when empty */
	size_t len;
	size_t cap;
};

#define BUF_INIT           \
	{                  \
		NULL, 0, 0 \
	}

void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Make room for at least `extra` more bytes plus a terminating NUL. */
void buf_reserve(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
/* v in decimal: what "%llu" writes, without printf's cost per result. */
void buf_addu(struct buf *b, uint64_t v);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The contents as a C string ("" when empty). */
const char *buf_cstr(struct buf *b);

#endif
