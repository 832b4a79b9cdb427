/*
 * extract_url.c - the absolute URL a link's href leads to (see
 * extract_int.h, xurl_link). The resolution itself is RFC 3986 §5.2,
 * by the one resolver fanoutd has (url_resolve, which redirects use
 * too); around it, the few steps of the WHATWG URL parser that decide
 * where a browser goes on real pages: whitespace trimmed and removed,
 * backslashes, a same-scheme "http:x", scheme and host case, and
 * percent-encoding of what a page may leave raw (spaces, non-ASCII).
 */
#include <string.h>
#include <strings.h>

#include "extract_int.h"
#include "url.h"

static bool
is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_scheme_char(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') || c == '+' || c == '-' ||
	    c == '.';
}

/* The length of the scheme at s (before its ':'), or 0 without one. */
static size_t
scheme_len(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || !is_alpha((unsigned char)s[0]))
		return 0;
	for (i = 1; i < n && is_scheme_char((unsigned char)s[i]); i++)
		;
	return i < n && s[i] == ':' ? i : 0;
}

static bool
is_http(const char *s, size_t n)
{
	return (n == 4 && strncasecmp(s, "http", 4) == 0) ||
	    (n == 5 && strncasecmp(s, "https", 5) == 0);
}

/*
 * The href cleaned for url_resolve, into ref (NUL-terminated): C0
 * controls and spaces around it trimmed, tab/LF/CR removed (WHATWG URL
 * §4.4, basic URL parser steps 1-3), "\" as "/" before any '?' or '#'
 * (http(s) are "special" schemes), and an http(s) scheme without "//"
 * handled as WHATWG does: the base's own scheme makes the rest relative
 * ("http:x" on an http page is "x"), another gets its "//" ("https:h/p"
 * is "https://h/p"). Returns -1 for a scheme other than http(s).
 */
static int
clean_ref(const char *base, const char *p, size_t n, struct buf *ref)
{
	size_t i, sl;
	bool in_path = true;

	while (n > 0 && (unsigned char)*p <= 0x20)
		p++, n--;
	while (n > 0 && (unsigned char)p[n - 1] <= 0x20)
		n--;
	for (i = 0; i < n; i++) {
		char c = p[i];

		if (c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c == '?' || c == '#')
			in_path = false;
		buf_addc(ref, in_path && c == '\\' ? '/' : c);
	}
	buf_addc(ref, '\0');
	ref->len--;
	sl = scheme_len(ref->data, ref->len);
	if (sl == 0)
		return 0;
	if (!is_http(ref->data, sl))
		return -1;
	if (ref->len > sl + 2 && ref->data[sl + 1] == '/' &&
	    ref->data[sl + 2] == '/')
		return 0;
	if (scheme_len(base, strlen(base)) == sl &&
	    strncasecmp(base, ref->data, sl) == 0) {
		memmove(ref->data, ref->data + sl + 1, ref->len - sl);
		ref->len -= sl + 1;
		return 0;
	}
	{
		struct buf t = BUF_INIT;
		const char *rest = ref->data + sl + 1;

		while (*rest == '/')
			rest++;
		buf_add(&t, ref->data, sl);
		buf_add(&t, "://", 3);
		buf_adds(&t, rest);
		buf_reset(ref);
		buf_add(ref, t.data, t.len);
		buf_free(&t);
	}
	return 0;
}

/* Bytes RFC 3986 allows as they are in a path or query: unreserved,
 * sub-delims, ":@/?" and '%' (an escape, or left as a browser leaves
 * it). */
static bool
is_uri_char(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9') ||
	    (c != 0 && strchr("-._~!$&'()*+,;=:@/?%", c) != NULL);
}

/*
 * The resolved URL abs (scheme "://" authority path-and-query) into out
 * normalised: scheme and host lower-cased (RFC 3986 §6.2.2.1), an empty
 * path made "/" (§6.2.3), other bytes percent-encoded (§2.1). Returns -1
 * when it is not http(s) or has no host.
 */
static int
normalise(const char *abs, size_t n, struct buf *out)
{
	size_t sl = scheme_len(abs, n), i, auth, at, hostend;
	static const char hex[] = "0123456789ABCDEF";

	if (!is_http(abs, sl) || n < sl + 3 || abs[sl + 1] != '/' ||
	    abs[sl + 2] != '/')
		return -1;
	auth = sl + 3;
	hostend = auth + strcspn(abs + auth, "/?");
	for (at = hostend; at > auth && abs[at - 1] != '@'; at--)
		;
	if (at == hostend || abs[at] == ':')
		return -1; /* no host */
	for (i = 0; i < sl; i++)
		buf_addc(out, (char)(abs[i] | 0x20));
	buf_add(out, "://", 3);
	buf_add(out, abs + auth, at - auth); /* userinfo, as it was */
	for (i = at; i < hostend; i++) {
		char c = abs[i];

		buf_addc(out, c >= 'A' && c <= 'Z' ? (char)(c + 32) : c);
	}
	if (hostend == n || abs[hostend] != '/')
		buf_addc(out, '/');
	for (i = hostend; i < n; i++) {
		unsigned char c = (unsigned char)abs[i];

		if (is_uri_char(c)) {
			buf_addc(out, (char)c);
		} else {
			buf_addc(out, '%');
			buf_addc(out, hex[c >> 4]);
			buf_addc(out, hex[c & 15]);
		}
	}
	return 0;
}

int
xurl_link(const char *base, const char *p, size_t n, struct buf *out)
{
	struct buf ref = BUF_INIT, abs = BUF_INIT;
	int rc = -1;

	if (clean_ref(base, p, n, &ref) == 0 &&
	    url_resolve(base, buf_cstr(&ref), &abs) == 0)
		rc = normalise(buf_cstr(&abs), abs.len, out);
	buf_free(&ref);
	buf_free(&abs);
	return rc;
}
