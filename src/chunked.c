/*
 * chunked.c - the chunked body decoder (see chunked.h): a state machine
 * over single bytes, so where the input is split never matters. The
 * grammar, RFC 9112 §7.1:
 *
 *   chunk       = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
 *   last-chunk  = 1*"0" [ chunk-ext ] CRLF
 *   chunk-ext   = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val     = token / quoted-string
 *   trailer     = *( field-line CRLF ) CRLF
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "chunked.h"

enum {
	S_SIZE0,      /* the first hex digit of a chunk size */
	S_SIZE,       /* more hex digits */
	S_BWS,        /* whitespace before ';' */
	S_NAME0,      /* after ';': whitespace, then an extension name */
	S_NAME,       /* extension name */
	S_AFTER_NAME, /* after it: whitespace, '=', ';' or CR */
	S_VAL0,       /* after '=': whitespace, then a value */
	S_TOKEN,      /* a token value */
	S_QUOTED,     /* a quoted-string value */
	S_AFTER_VAL,  /* after a value: whitespace, ';' or CR */
	S_QPAIR,      /* after a backslash in it */
	S_LF,         /* the LF ending the size line */
	S_DATA,       /* chunk data */
	S_DATA_CR,    /* the CR after the data */
	S_DATA_LF,    /* and its LF */
	S_TRAILER0,   /* the start of a trailer line, or the final CR */
	S_TNAME,      /* a trailer field name */
	S_TVALUE,     /* its value */
	S_TLF,        /* the LF ending a trailer line */
	S_END_LF,     /* the LF of the final empty line */
	S_DONE,
};

static enum chunked_status fail(struct chunked *c, enum req_err e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum chunked_status
fail(struct chunked *c, enum req_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	c->error = e;
	c->status = CHUNKED_BAD;
	return CHUNKED_BAD;
}

static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t';
}

void
chunked_init(struct chunked *c, uint64_t max_body, uint64_t max_trailer)
{
	memset(c, 0, sizeof(*c));
	c->state = S_SIZE0;
	c->max_body = max_body;
	c->max_trailer = max_trailer;
}

/* One byte of a chunk extension's value (RFC 9112 §7.1.1): a token or
 * a quoted-string (RFC 9110 §5.6.4). */
static enum chunked_status
ext_value(struct chunked *c, unsigned char b)
{
	switch (c->state) {
	case S_VAL0:
		if (is_ws(b))
			return CHUNKED_MORE;
		if (b == '"')
			c->state = S_QUOTED;
		else if (is_tchar(b))
			c->state = S_TOKEN;
		else
			return fail(c, RERR_BAD_REQUEST,
			    "a malformed chunk extension value");
		return CHUNKED_MORE;
	case S_QUOTED:
		/* qdtext: HTAB, SP, VCHAR but " and \, obs-text */
		if (b == '"')
			c->state = S_AFTER_VAL;
		else if (b == '\\')
			c->state = S_QPAIR;
		else if (b != '\t' && (b < 0x20 || b == 0x7f))
			return fail(c, RERR_BAD_REQUEST,
			    "a control character in a chunk extension");
		return CHUNKED_MORE;
	case S_QPAIR:
		if (b != '\t' && (b < 0x20 || b == 0x7f))
			return fail(c, RERR_BAD_REQUEST,
			    "a control character in a chunk extension");
		c->state = S_QUOTED;
		return CHUNKED_MORE;
	default:
		return fail(
		    c, RERR_INTERNAL, "chunked decoder state %d", c->state);
	}
}

/* One byte of a chunk-size line (its size, extensions and CR). */
static enum chunked_status
size_line(struct chunked *c, unsigned char b)
{
	int hex =
	    isxdigit(b) ? (isdigit(b) ? b - '0' : (b | 0x20) - 'a' + 10) : -1;

	switch (c->state) {
	case S_SIZE0:
	case S_SIZE:
		if (hex >= 0) {
			if (c->left > (UINT64_MAX - 15) / 16 ||
			    c->total + c->left * 16 + (uint64_t)hex >
			        c->max_body)
				return fail(c, RERR_TOO_LARGE,
				    "the chunked request body is over %llu "
				    "bytes ([server] max_request_bytes)",
				    (unsigned long long)c->max_body);
			c->left = c->left * 16 + (uint64_t)hex;
			c->state = S_SIZE;
			return CHUNKED_MORE;
		}
		if (c->state == S_SIZE0)
			return fail(c, RERR_BAD_REQUEST,
			    "a chunk size is not hexadecimal");
		if (b == '\r') {
			c->state = S_LF;
			return CHUNKED_MORE;
		}
		c->state = S_BWS;
		return size_line(c, b);
	case S_BWS:
	case S_AFTER_NAME:
	case S_AFTER_VAL:
		if (is_ws(b))
			return CHUNKED_MORE;
		if (b == ';')
			c->state = S_NAME0;
		else if (b == '=' && c->state == S_AFTER_NAME)
			c->state = S_VAL0;
		else if (b == '\r' && c->state != S_BWS)
			c->state = S_LF;
		else if (b == '\r')
			return fail(c, RERR_BAD_REQUEST,
			    "whitespace after a chunk size");
		else
			return fail(
			    c, RERR_BAD_REQUEST, "a malformed chunk extension");
		return CHUNKED_MORE;
	case S_NAME0:
		if (is_ws(b))
			return CHUNKED_MORE;
		if (!is_tchar(b))
			return fail(
			    c, RERR_BAD_REQUEST, "a malformed chunk extension");
		c->state = S_NAME;
		return CHUNKED_MORE;
	case S_NAME:
	case S_TOKEN:
		if (is_tchar(b))
			return CHUNKED_MORE;
		c->state = c->state == S_NAME ? S_AFTER_NAME : S_AFTER_VAL;
		return size_line(c, b);
	case S_VAL0:
	case S_QUOTED:
	case S_QPAIR:
		return ext_value(c, b);
	default:
		break;
	}
	return fail(c, RERR_INTERNAL, "chunked decoder state %d", c->state);
}

/* One byte of the trailer section; fields are read and dropped. */
static enum chunked_status
trailer(struct chunked *c, unsigned char b)
{
	if (++c->trailer > c->max_trailer)
		return fail(c, RERR_HEADERS,
		    "the trailer fields are over %llu bytes ([server] "
		    "max_header_bytes)",
		    (unsigned long long)c->max_trailer);
	switch (c->state) {
	case S_TRAILER0:
		if (b == '\r')
			c->state = S_END_LF;
		else if (is_tchar(b))
			c->state = S_TNAME;
		else
			return fail(
			    c, RERR_BAD_REQUEST, "a malformed trailer field");
		return CHUNKED_MORE;
	case S_TNAME:
		if (b == ':')
			c->state = S_TVALUE;
		else if (!is_tchar(b))
			return fail(c, RERR_BAD_REQUEST,
			    "a malformed trailer field name");
		return CHUNKED_MORE;
	case S_TVALUE:
		if (b == '\r')
			c->state = S_TLF;
		else if (b != '\t' && (b < 0x20 || b == 0x7f))
			return fail(c, RERR_BAD_REQUEST,
			    "a control character in a trailer field");
		return CHUNKED_MORE;
	case S_TLF:
	case S_END_LF:
		if (b != '\n')
			return fail(c, RERR_BAD_REQUEST,
			    "a bare CR in the trailer fields");
		c->state = c->state == S_TLF ? S_TRAILER0 : S_DONE;
		return CHUNKED_MORE;
	}
	return fail(c, RERR_INTERNAL, "chunked decoder state %d", c->state);
}

enum chunked_status
chunked_step(struct chunked *c, const char *p, size_t n, size_t *used,
    size_t *data_off, size_t *data_len)
{
	size_t i = 0;

	*data_off = *data_len = 0;
	while (c->status == CHUNKED_MORE && c->state != S_DONE && i < n) {
		unsigned char b = (unsigned char)p[i];

		if (c->state == S_DATA) {
			size_t k = n - i < c->left ? n - i : (size_t)c->left;

			c->left -= k;
			c->total += k;
			if (c->left == 0)
				c->state = S_DATA_CR;
			*data_off = i;
			*data_len = k;
			*used = i + k;
			return CHUNKED_DATA;
		}
		i++;
		if (c->state == S_LF && b != '\n') {
			fail(c, RERR_BAD_REQUEST,
			    "a chunk-size line ends in a bare CR");
		} else if (c->state == S_LF) {
			c->line = 0;
			c->state = c->left > 0 ? S_DATA : S_TRAILER0;
		} else if (c->state == S_DATA_CR || c->state == S_DATA_LF) {
			if (b != (c->state == S_DATA_CR ? '\r' : '\n'))
				fail(c, RERR_BAD_REQUEST,
				    "chunk data is not followed by CR LF");
			else
				c->state =
				    c->state == S_DATA_CR ? S_DATA_LF : S_SIZE0;
		} else if (c->state >= S_TRAILER0) {
			trailer(c, b);
		} else if (++c->line > CHUNKED_MAX_LINE) {
			fail(c, RERR_BAD_REQUEST,
			    "a chunk-size line is over %d bytes",
			    CHUNKED_MAX_LINE);
		} else {
			size_line(c, b);
		}
	}
	*used = i;
	if (c->status == CHUNKED_BAD)
		return CHUNKED_BAD;
	if (c->state == S_DONE)
		return c->status = CHUNKED_DONE;
	return CHUNKED_MORE;
}
