/*
 * wire_oracle.h - what the unit test and the fuzz harness of wire.c
 * check its output against: the bytes evhttp would be handed, read the
 * way libevent 2.1.12's client reads them (http.c: the first field of a
 * name wins, Transfer-Encoding must read exactly "chunked", values lose
 * leading spaces and trailing whitespace), and the body they carry,
 * chunks joined. oracle_read() returns false when that output is not
 * what the wire said it would be: evhttp would frame it differently, or
 * the chunks are malformed. Header-only, for the two test programs.
 */
#ifndef FANOUTD_WIRE_ORACLE_H
#define FANOUTD_WIRE_ORACLE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire.h"

struct oracle {
	size_t head_len;  /* bytes of the final head handed to evhttp */
	char body[65536]; /* the body, chunks joined (first bytes) */
	size_t body_len;  /* bytes of it (all of them counted) */
	bool complete;    /* evhttp would see the message end */
};

/* evhttp_find_header() on the head p[0..n): the first value of name,
 * trimmed as evhttp trims it, in out; false when there is none. */
static inline bool
oracle_field(
    const char *p, size_t n, const char *name, char *out, size_t outlen)
{
	const char *q = memchr(p, '\n', n), *end = p + n;
	size_t nl = strlen(name);

	while (q != NULL && q + 1 < end) {
		const char *s = q + 1, *e = memchr(s, '\n', (size_t)(end - s));
		size_t len;

		if (e == NULL)
			break;
		len = (size_t)(e - s);
		if (len > nl && s[nl] == ':' && strncasecmp(s, name, nl) == 0) {
			const char *v = s + nl + 1, *ve = e;

			while (v < ve && *v == ' ')
				v++;
			while (ve > v &&
			    (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
				ve--;
			len = (size_t)(ve - v) < outlen - 1 ? (size_t)(ve - v)
			                                    : outlen - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return true;
		}
		q = e;
	}
	return false;
}

static inline void
oracle_body(struct oracle *o, const char *p, size_t n)
{
	size_t room = sizeof(o->body) -
	    (o->body_len < sizeof(o->body) ? o->body_len : sizeof(o->body));

	memcpy(o->body + sizeof(o->body) - room, p, n < room ? n : room);
	o->body_len += n;
}

/* Strict chunks, as wire.c writes them: "HEX\r\nDATA\r\n"..."0\r\n\r\n". */
static inline bool
oracle_chunks(struct oracle *o, const char *p, size_t n)
{
	while (n > 0) {
		char *end;
		unsigned long long size = strtoull(p, &end, 16);
		size_t line = (size_t)(end - p);

		if (line == 0 || line + 2 > n || end[0] != '\r' ||
		    end[1] != '\n')
			return false;
		p += line + 2, n -= line + 2;
		if (size == 0) {
			if (n != 2 || p[0] != '\r' || p[1] != '\n')
				return false;
			o->complete = true;
			return true;
		}
		if (size + 2 > n || p[size] != '\r' || p[size + 1] != '\n')
			return false;
		oracle_body(o, p, (size_t)size);
		p += size + 2, n -= (size_t)size + 2;
	}
	return true;
}

/*
 * Read out[0..n), all that w passed on for one response (no bytes past
 * it: w->extra must be false). Call it once the wire left WIRE_HEAD.
 */
static inline bool
oracle_read(const struct wire *w, const char *out, size_t n, struct oracle *o)
{
	const char *e = NULL;
	char te[64], cl[64], conn[64];
	bool has_te, has_cl, has_conn;
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i + 1 < n && e == NULL; i++)
		if (out[i] == '\n' &&
		    (out[i + 1] == '\n' ||
		        (out[i + 1] == '\r' && i + 2 < n &&
		            out[i + 2] == '\n')))
			e = out + i + (out[i + 1] == '\n' ? 2 : 3);
	if (e == NULL || strncmp(out, "HTTP/1.", 7) != 0)
		return false;
	o->head_len = (size_t)(e - out);
	has_te =
	    oracle_field(out, o->head_len, "Transfer-Encoding", te, sizeof(te));
	has_cl =
	    oracle_field(out, o->head_len, "Content-Length", cl, sizeof(cl));
	has_conn =
	    oracle_field(out, o->head_len, "Connection", conn, sizeof(conn));
	out += o->head_len, n -= o->head_len;
	switch (w->body) {
	case WIRE_BODY_NONE:
		o->complete = true;
		return n == 0;
	case WIRE_BODY_CHUNKED:
		return has_te && strcasecmp(te, "chunked") == 0 &&
		    oracle_chunks(o, out, n);
	case WIRE_BODY_LENGTH: {
		char *end;
		unsigned long long len;

		if ((has_te && strcasecmp(te, "chunked") == 0) || !has_cl)
			return false;
		len = strtoull(cl, &end, 10);
		if (cl[0] < '0' || cl[0] > '9' || *end != '\0' || n > len)
			return false;
		oracle_body(o, out, n);
		o->complete = n == len;
		return true;
	}
	case WIRE_BODY_CLOSE:
		if ((has_te && strcasecmp(te, "chunked") == 0) || has_cl ||
		    (has_conn && strcasecmp(conn, "close") != 0))
			return false;
		oracle_body(o, out, n);
		return true;
	}
	return false;
}

#endif
