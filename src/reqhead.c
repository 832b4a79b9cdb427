/*
 * reqhead.c - the request head validator (see reqhead.h). One line is
 * judged at a time, in order: its size as soon as it grows (so a head
 * that never ends is refused at the limit), its syntax once its line
 * end has arrived, and the framing rules that span fields (RFC 9112
 * §6.1 and §6.3) at the empty line. Because a line is judged only
 * whole and sizes only grow, a head split anywhere gets the verdict
 * the same head gets in one piece.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reqhead.h"
#include "util.h"

/* A request line may be this much longer than max_url_bytes: the
 * method, two spaces and "HTTP/1.1". */
#define LINE_SLACK 64

enum field_id {
	F_OTHER = 0,
	F_CONTENT_LENGTH,
	F_TRANSFER_ENCODING,
	F_CONNECTION,
	F_EXPECT,
	F_HOST,
	F_AUTHORIZATION,
	F_CONTENT_TYPE,
	F_HOPS,
};

/* The fields framing or fanoutd depends on. `once`: a second line of
 * it is refused, because two readers could each pick another one. */
static const struct field {
	const char *name;
	enum field_id id;
	bool once;
} fields[] = {
    {"content-length", F_CONTENT_LENGTH, false},
    {"transfer-encoding", F_TRANSFER_ENCODING, false},
    {"connection", F_CONNECTION, false},
    {"expect", F_EXPECT, false},
    {"host", F_HOST, true},
    {"authorization", F_AUTHORIZATION, true},
    {"content-type", F_CONTENT_TYPE, true},
    {"x-fanoutd-hops", F_HOPS, true},
};

/* The methods evhttp parses, but CONNECT: fanoutd is not a proxy. */
static const char *const methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"};

static enum reqhead_status bad(struct reqhead *h, enum req_err e,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static enum reqhead_status
bad(struct reqhead *h, enum req_err e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->message, sizeof(h->message), fmt, ap);
	va_end(ap);
	h->error = e;
	h->status = REQHEAD_BAD;
	return REQHEAD_BAD;
}

/* RFC 9110 §5.6.2 token characters. */
static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 3986 unreserved and sub-delims. */
static bool
is_uri_plain(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("-._~!$&'()*+,;=", c));
}

void
reqhead_init(struct reqhead *h)
{
	memset(h, 0, sizeof(*h));
}

size_t
reqhead_max_bytes(const struct reqhead_limits *lim)
{
	/* Content is capped at max_header_bytes; every complete line adds
	 * at most CR LF; a partial line at most a CR. */
	return (size_t)lim->max_header_bytes +
	    2 * ((size_t)lim->max_headers + REQHEAD_MAX_EMPTY_LINES + 2) + 1;
}

/* The next element of a comma-separated list (RFC 9110 §5.6.1) in
 * [*s, end), OWS trimmed; empty elements are returned too. False at
 * the end. */
static bool
list_next(const char **s, const char *end, const char **e, size_t *elen)
{
	const char *p = *s, *q;

	if (p > end)
		return false;
	q = memchr(p, ',', (size_t)(end - p));
	if (q == NULL)
		q = end;
	*s = q + 1;
	while (p < q && is_ows(*p))
		p++;
	while (q > p && is_ows(q[-1]))
		q--;
	*e = p;
	*elen = (size_t)(q - p);
	return true;
}

/*
 * Request target characters (RFC 3986 §3.3, §3.4: pchar, "/", and "?"
 * in the query, "%" with two hex digits). '#' is refused: a fragment
 * never belongs in a request.
 */
static enum reqhead_status
check_uri_chars(struct reqhead *h, const char *t, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < len; i++) {
		unsigned char c = (unsigned char)t[i];

		if (is_uri_plain(c) || c == ':' || c == '@' || c == '/' ||
		    c == '?')
			continue;
		if (c == '%' && i + 2 < len &&
		    isxdigit((unsigned char)t[i + 1]) &&
		    isxdigit((unsigned char)t[i + 2])) {
			i += 2;
			continue;
		}
		if (c == '%')
			return bad(h, RERR_BAD_REQUEST,
			    "the request target has a '%%' without two hex "
			    "digits (byte %zu)",
			    i + 1);
		if (isgraph(c))
			return bad(h, RERR_BAD_REQUEST,
			    "the request target has an invalid character "
			    "'%c' (byte %zu)",
			    c, i + 1);
		return bad(h, RERR_BAD_REQUEST,
		    "the request target has an invalid byte 0x%02x (byte %zu)",
		    c, i + 1);
	}
	return REQHEAD_MORE;
}

/* Host (RFC 9110 §7.2): reg-name, IPv4 or a bracketed IPv6 literal,
 * an optional port; no user info, no path. */
static bool
host_ok(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];

		if (is_uri_plain(c) || c == ':' || c == '[' || c == ']')
			continue;
		if (c == '%' && i + 2 < len &&
		    isxdigit((unsigned char)v[i + 1]) &&
		    isxdigit((unsigned char)v[i + 2])) {
			i += 2;
			continue;
		}
		return false;
	}
	return true;
}

/*
 * The request target (RFC 9112 §3.2): origin-form "/path?query" (the
 * path as sent: "//x/y" is a path, not an authority), absolute-form
 * "http(s)://host/path?query", or "*" for OPTIONS. Sets form and the
 * route (the path and query within it).
 */
static enum reqhead_status
check_target(struct reqhead *h, const char *p, bool options)
{
	const char *t = p + h->target_off;
	size_t len = h->target_len, i;

	h->route_off = h->target_off;
	h->route_len = len;
	if (len == 1 && t[0] == '*') {
		if (!options)
			return bad(h, RERR_BAD_REQUEST,
			    "the request target * is for OPTIONS only");
		h->form = REQHEAD_ASTERISK;
		return REQHEAD_MORE;
	}
	if (t[0] == '/') {
		h->form = REQHEAD_ORIGIN;
		return check_uri_chars(h, t, len, 0);
	}
	if (len > 7 && strncasecmp(t, "http://", 7) == 0)
		i = 7;
	else if (len > 8 && strncasecmp(t, "https://", 8) == 0)
		i = 8;
	else
		return bad(h, RERR_BAD_REQUEST,
		    "the request target must be /path, http(s)://host/path "
		    "or *");
	h->form = REQHEAD_ABSOLUTE;
	h->route_off = h->target_off + i;
	while (h->route_off < h->target_off + len && p[h->route_off] != '/' &&
	    p[h->route_off] != '?')
		h->route_off++;
	if (h->route_off == h->target_off + i ||
	    !host_ok(t + i, h->route_off - h->target_off - i))
		return bad(h, RERR_BAD_REQUEST,
		    "the request target has no valid host after http(s)://");
	h->route_len = h->target_off + len - h->route_off;
	return check_uri_chars(h, t, len, h->route_off - h->target_off);
}

/* The request line (RFC 9112 §3): method SP target SP HTTP/1.x. */
static enum reqhead_status
request_line(struct reqhead *h, const char *p, size_t off, size_t len,
    const struct reqhead_limits *lim)
{
	const char *s = p + off, *sp1, *sp2, *v;
	size_t i, mlen, vlen;
	bool known = false;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r')
			return bad(h, RERR_BAD_REQUEST,
			    "a bare CR in the request line");
		if (c < 0x20 || c == 0x7f)
			return bad(h, RERR_BAD_REQUEST,
			    "a control character in the request line");
	}
	sp1 = memchr(s, ' ', len);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(s + len - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || sp1 == s || sp2 == sp1 + 1 ||
	    memchr(sp2 + 1, ' ', (size_t)(s + len - sp2 - 1)) != NULL)
		return bad(h, RERR_BAD_REQUEST,
		    "malformed request line (expected METHOD TARGET "
		    "HTTP/1.1, one space apart)");
	mlen = (size_t)(sp1 - s);
	for (i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)s[i]))
			return bad(h, RERR_BAD_REQUEST,
			    "invalid character in the request method");
	v = sp2 + 1;
	vlen = (size_t)(s + len - v);
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 ||
	    !isdigit((unsigned char)v[5]) || v[6] != '.' ||
	    !isdigit((unsigned char)v[7]))
		return bad(h, RERR_BAD_REQUEST,
		    "malformed HTTP version (expected HTTP/1.1)");
	if (v[5] != '1')
		return bad(h, RERR_VERSION,
		    "HTTP/%c.%c is not supported; fanoutd speaks HTTP/1.1",
		    v[5], v[7]);
	for (i = 0; i < ARRAY_SIZE(methods); i++)
		if (strlen(methods[i]) == mlen &&
		    memcmp(methods[i], s, mlen) == 0)
			known = true;
	if (mlen == 7 && memcmp(s, "CONNECT", 7) == 0)
		return bad(h, RERR_NOT_IMPLEMENTED,
		    "CONNECT is not implemented: fanoutd is not a proxy");
	if (!known)
		return bad(h, RERR_NOT_IMPLEMENTED,
		    "method %.*s is not implemented",
		    (int)(mlen > 40 ? 40 : mlen), s);
	h->line_off = off;
	h->method_len = mlen;
	h->target_off = off + mlen + 1;
	h->target_len = (size_t)(sp2 - sp1 - 1);
	h->minor = v[7] == '0' ? 0 : 1;
	h->head = mlen == 4 && memcmp(s, "HEAD", 4) == 0;
	if (h->target_len > lim->max_url_bytes)
		return bad(h, RERR_URI_TOO_LONG,
		    "the request target is %zu bytes, over %llu ([server] "
		    "max_url_bytes)",
		    h->target_len, (unsigned long long)lim->max_url_bytes);
	if (check_target(h, p, mlen == 7 && memcmp(s, "OPTIONS", 7) == 0) !=
	    REQHEAD_MORE)
		return h->status;
	h->have_line = true;
	return REQHEAD_MORE;
}

/* Content-Length (RFC 9110 §8.6): a number, or a list of the same
 * number ("31, 31"); any other value, or another value in a second
 * field line, makes the framing ambiguous. */
static enum reqhead_status
field_length(struct reqhead *h, const char *v, size_t vlen)
{
	const char *s = v, *e;
	size_t elen, i;
	bool any = false;

	while (list_next(&s, v + vlen, &e, &elen)) {
		uint64_t x = 0;

		for (i = 0; i < elen && isdigit((unsigned char)e[i]); i++) {
			unsigned d = (unsigned)(e[i] - '0');

			x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
		}
		if (elen == 0 || i < elen)
			return bad(h, RERR_BAD_REQUEST,
			    "Content-Length \"%.*s\" is not a number",
			    (int)(vlen > 40 ? 40 : vlen), v);
		if ((h->has_length || any) && x != h->length)
			return bad(h, RERR_BAD_REQUEST,
			    "two different Content-Length values (%llu and "
			    "%llu)",
			    (unsigned long long)h->length,
			    (unsigned long long)x);
		h->length = x;
		any = true;
	}
	h->has_length = true;
	return REQHEAD_MORE;
}

/* Transfer-Encoding (RFC 9112 §6.1): the codings, in order, across
 * field lines; judged at the end of the head. */
static enum reqhead_status
field_te(struct reqhead *h, const char *v, size_t vlen)
{
	const char *s = v, *e;
	size_t elen, n;

	h->has_te = true;
	while (list_next(&s, v + vlen, &e, &elen)) {
		if (elen == 0)
			continue;
		for (n = 0; n < elen && is_tchar((unsigned char)e[n]); n++)
			;
		if (n == 0 || (n < elen && e[n] != ';' && !is_ows(e[n])))
			return bad(h, RERR_BAD_REQUEST,
			    "invalid Transfer-Encoding \"%.*s\"",
			    (int)(vlen > 40 ? 40 : vlen), v);
		h->codings++;
		if (n == 7 && strncasecmp(e, "chunked", 7) == 0) {
			if (n < elen)
				return bad(h, RERR_BAD_REQUEST,
				    "the chunked transfer coding takes no "
				    "parameters");
			h->chunked++;
			h->last_chunked = true;
		} else {
			h->last_chunked = false;
			snprintf(h->unknown_coding, sizeof(h->unknown_coding),
			    "%.*s", (int)n, e);
		}
	}
	return REQHEAD_MORE;
}

/* Connection and Expect: lists of tokens. */
static void
field_tokens(struct reqhead *h, enum field_id id, const char *v, size_t vlen)
{
	const char *s = v, *e;
	size_t elen;

	while (list_next(&s, v + vlen, &e, &elen)) {
		if (elen == 0)
			continue;
		if (id == F_CONNECTION && elen == 5 &&
		    strncasecmp(e, "close", 5) == 0)
			h->conn_close = true;
		else if (id == F_CONNECTION && elen == 10 &&
		    strncasecmp(e, "keep-alive", 10) == 0)
			h->conn_keepalive = true;
		else if (id == F_EXPECT && elen == 12 &&
		    strncasecmp(e, "100-continue", 12) == 0)
			h->expect_continue = true;
		else if (id == F_EXPECT)
			h->expect_other = true;
	}
}

/* One header field line (RFC 9112 §5, RFC 9110 §5.5). */
static enum reqhead_status
field_line(struct reqhead *h, const char *s, size_t len,
    const struct reqhead_limits *lim)
{
	const char *colon, *v;
	size_t i, nlen, vlen;

	if (is_ows(s[0]))
		return bad(h, RERR_BAD_REQUEST,
		    "a header line starts with whitespace (obsolete line "
		    "folding)");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\0')
			return bad(
			    h, RERR_BAD_REQUEST, "a NUL byte in a header");
		if (c == '\r')
			return bad(
			    h, RERR_BAD_REQUEST, "a bare CR in a header");
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return bad(h, RERR_BAD_REQUEST,
			    "a control character in a header");
	}
	if ((colon = memchr(s, ':', len)) == NULL)
		return bad(
		    h, RERR_BAD_REQUEST, "a header line without a colon");
	nlen = (size_t)(colon - s);
	if (nlen == 0)
		return bad(
		    h, RERR_BAD_REQUEST, "a header line with an empty name");
	if (is_ows(s[nlen - 1])) {
		while (nlen > 0 && is_ows(s[nlen - 1]))
			nlen--;
		return bad(h, RERR_BAD_REQUEST,
		    "whitespace between the header name \"%.*s\" and its colon",
		    (int)(nlen > 40 ? 40 : nlen), s);
	}
	for (i = 0; i < nlen; i++)
		if (!is_tchar((unsigned char)s[i]))
			return bad(h, RERR_BAD_REQUEST,
			    "invalid character in a header name");
	if (++h->fields > lim->max_headers)
		return bad(h, RERR_HEADERS,
		    "more than %llu request headers ([server] max_headers)",
		    (unsigned long long)lim->max_headers);
	v = colon + 1;
	vlen = len - nlen - 1;
	while (vlen > 0 && is_ows(*v))
		v++, vlen--;
	while (vlen > 0 && is_ows(v[vlen - 1]))
		vlen--;
	for (i = 0; i < ARRAY_SIZE(fields); i++) {
		const struct field *f = &fields[i];

		if (strlen(f->name) != nlen || strncasecmp(f->name, s, nlen))
			continue;
		if (f->once && (h->seen & (1u << i)))
			return bad(h, RERR_BAD_REQUEST,
			    "more than one %.*s header", (int)nlen, s);
		h->seen |= 1u << i;
		switch (f->id) {
		case F_CONTENT_LENGTH:
			return field_length(h, v, vlen);
		case F_TRANSFER_ENCODING:
			return field_te(h, v, vlen);
		case F_CONNECTION:
		case F_EXPECT:
			field_tokens(h, f->id, v, vlen);
			return REQHEAD_MORE;
		case F_HOST:
			if (!host_ok(v, vlen))
				return bad(h, RERR_BAD_REQUEST,
				    "invalid Host header \"%.*s\"",
				    (int)(vlen > 60 ? 60 : vlen), v);
			return REQHEAD_MORE;
		default:
			return REQHEAD_MORE;
		}
	}
	return REQHEAD_MORE;
}

static bool
seen(const struct reqhead *h, enum field_id id)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fields); i++)
		if (fields[i].id == id)
			return (h->seen & (1u << i)) != 0;
	return false;
}

/* The empty line: the framing rules of RFC 9112 §6.1 and §6.3. */
static enum reqhead_status
finish(struct reqhead *h, const char *p, const struct reqhead_limits *lim)
{
	bool bodyless = h->head ||
	    (h->method_len == 5 && memcmp(p + h->line_off, "TRACE", 5) == 0);

	if (h->minor == 1 && !seen(h, F_HOST))
		return bad(h, RERR_BAD_REQUEST,
		    "an HTTP/1.1 request without a Host header");
	if (h->has_te) {
		if (h->minor == 0)
			return bad(h, RERR_BAD_REQUEST,
			    "Transfer-Encoding in an HTTP/1.0 request");
		if (h->has_length)
			return bad(h, RERR_BAD_REQUEST,
			    "both Content-Length and Transfer-Encoding");
		if (h->codings == 0)
			return bad(
			    h, RERR_BAD_REQUEST, "an empty Transfer-Encoding");
		if (!h->last_chunked)
			return bad(h, RERR_BAD_REQUEST,
			    "the last transfer coding is %s, not chunked: the "
			    "body's length is unknown",
			    h->unknown_coding);
		if (h->chunked > 1)
			return bad(h, RERR_BAD_REQUEST,
			    "the chunked transfer coding is applied twice");
		if (h->codings > 1)
			return bad(h, RERR_NOT_IMPLEMENTED,
			    "the transfer coding %s is not implemented",
			    h->unknown_coding);
		h->framing = REQHEAD_BODY_CHUNKED;
	} else if (h->has_length && h->length > lim->max_body_bytes) {
		return bad(h, RERR_TOO_LARGE,
		    "the request body is %llu bytes, over %llu ([server] "
		    "max_request_bytes)",
		    (unsigned long long)h->length,
		    (unsigned long long)lim->max_body_bytes);
	} else if (h->has_length && h->length > 0) {
		h->framing = REQHEAD_BODY_LENGTH;
	}
	if (bodyless && h->framing != REQHEAD_BODY_NONE)
		return bad(h, RERR_BAD_REQUEST, "a %.*s request with a body",
		    (int)h->method_len, p + h->line_off);
	if (h->expect_other)
		return bad(h, RERR_EXPECTATION,
		    "Expect: only 100-continue is supported");
	/* RFC 9110 §10.1.1: HTTP/1.0 callers never get a 100. */
	h->expect_continue = h->expect_continue && h->minor == 1 &&
	    h->framing != REQHEAD_BODY_NONE;
	h->close = h->minor == 0 ? !h->conn_keepalive : h->conn_close;
	h->status = REQHEAD_OK;
	return REQHEAD_OK;
}

/* Sizes are judged on every line as it grows, before its end. */
static enum reqhead_status
check_size(struct reqhead *h, size_t clen, const struct reqhead_limits *lim)
{
	if (!h->have_line && clen > lim->max_url_bytes + LINE_SLACK)
		return bad(h, RERR_URI_TOO_LONG,
		    "the request line is over %llu bytes ([server] "
		    "max_url_bytes, plus the method and version)",
		    (unsigned long long)lim->max_url_bytes + LINE_SLACK);
	if (h->bytes + clen > lim->max_header_bytes)
		return bad(h, RERR_HEADERS,
		    "the request line and headers are over %llu bytes "
		    "([server] max_header_bytes)",
		    (unsigned long long)lim->max_header_bytes);
	return REQHEAD_MORE;
}

enum reqhead_status
reqhead_parse(struct reqhead *h, const char *p, size_t n,
    const struct reqhead_limits *lim)
{
	while (h->status == REQHEAD_MORE) {
		const char *lf =
		    h->scan < n ? memchr(p + h->scan, '\n', n - h->scan) : NULL;
		size_t end = lf ? (size_t)(lf - p) : n;
		size_t clen = end - h->pos;

		/* A line ends in LF or CR LF (RFC 9112 §2.2); a CR last in
		 * what has arrived may be the start of that end. */
		if (clen > 0 && p[end - 1] == '\r')
			clen--;
		if (check_size(h, clen, lim) != REQHEAD_MORE)
			break;
		if (lf == NULL) {
			h->scan = n;
			break;
		}
		if (!h->have_line && clen == 0) {
			if (++h->empties > REQHEAD_MAX_EMPTY_LINES)
				bad(h, RERR_BAD_REQUEST,
				    "more than %d empty lines before the "
				    "request line",
				    REQHEAD_MAX_EMPTY_LINES);
		} else if (!h->have_line) {
			request_line(h, p, h->pos, clen, lim);
		} else if (clen == 0) {
			h->head_len = end + 1;
			finish(h, p, lim);
		} else {
			field_line(h, p + h->pos, clen, lim);
		}
		h->bytes += clen;
		h->pos = h->scan = end + 1;
	}
	return h->status;
}

/* The field lines of a complete head, "name: value" with CR LF, but
 * those whose value fanoutd writes itself. */
static void
canon_fields(const struct reqhead *h, const char *p, struct buf *out)
{
	const char *lf =
	    memchr(p + h->line_off, '\n', h->head_len - h->line_off);
	size_t q = (size_t)(lf - p) + 1; /* past the request line */

	while (q < h->head_len) {
		const char *s = p + q, *colon, *v;
		size_t len, nlen, vlen;

		lf = memchr(s, '\n', h->head_len - q);
		len = (size_t)(lf - s);
		q += len + 1;
		if (len > 0 && s[len - 1] == '\r')
			len--;
		if (len == 0)
			break; /* the empty line */
		colon = memchr(s, ':', len);
		nlen = (size_t)(colon - s);
		v = colon + 1;
		vlen = len - nlen - 1;
		while (vlen > 0 && is_ows(*v))
			v++, vlen--;
		while (vlen > 0 && is_ows(v[vlen - 1]))
			vlen--;
		/* Framing, Connection and Expect: fanoutd's own below. */
		if ((nlen == 14 && strncasecmp(s, "content-length", 14) == 0) ||
		    (nlen == 17 &&
		        strncasecmp(s, "transfer-encoding", 17) == 0) ||
		    (nlen == 10 && strncasecmp(s, "connection", 10) == 0) ||
		    (nlen == 6 && strncasecmp(s, "expect", 6) == 0))
			continue;
		buf_add(out, s, nlen);
		buf_add(out, ": ", 2);
		buf_add(out, v, vlen);
		buf_add(out, "\r\n", 2);
	}
}

void
reqhead_route(const struct reqhead *h, const char *p, struct buf *out)
{
	if (h->form == REQHEAD_ABSOLUTE &&
	    (h->route_len == 0 || p[h->route_off] == '?'))
		buf_addc(out, '/');
	buf_add(out, p + h->route_off, h->route_len);
}

void
reqhead_canon(const struct reqhead *h, const char *p, struct buf *out)
{
	struct buf route = BUF_INIT;

	buf_add(out, p + h->line_off, h->method_len);
	buf_addc(out, ' ');
	/* evhttp reads "//x" as an authority and "*" as nothing: those
	 * get "/", and fanoutd routes on reqhead_route, never on this. */
	reqhead_route(h, p, &route);
	if (route.len >= 1 && route.data[0] == '/' &&
	    !(route.len >= 2 && route.data[1] == '/'))
		buf_add(out, route.data, route.len);
	else
		buf_addc(out, '/');
	buf_free(&route);
	buf_adds(out, h->minor == 0 ? " HTTP/1.0\r\n" : " HTTP/1.1\r\n");
	canon_fields(h, p, out);
	if (h->framing == REQHEAD_BODY_LENGTH)
		buf_printf(out, "Content-Length: %llu\r\n",
		    (unsigned long long)h->length);
	else if (h->framing == REQHEAD_BODY_CHUNKED)
		buf_adds(out, "Transfer-Encoding: chunked\r\n");
	if (h->close)
		buf_adds(out, "Connection: close\r\n");
	else if (h->minor == 0)
		buf_adds(out, "Connection: keep-alive\r\n");
	if (h->expect_continue)
		buf_adds(out, "Expect: 100-continue\r\n");
	buf_add(out, "\r\n", 2);
}
