/*
 * url.c - strict parsing of absolute http/https URLs (RFC 3986 §3) into
 * struct url (see url.h). One left-to-right pass: scheme, "//",
 * authority (userinfo, host, port), then path, query and fragment, each
 * checked against its character class. A host name goes through the
 * WHATWG URL standard's host parsing: percent-decoded, an international
 * name converted to its A-label form (libidn2), an IPv4 address in any
 * notation made dotted decimal. Everything it returns is a copy in the
 * caller's arena.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include <idn2.h>

#include "url.h"
#include "util.h"

/* RFC 3986 character classes. */
static bool
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static bool
is_sub_delim(unsigned char c)
{
	return c != '\0' && strchr("!$&'()*+,;=", c) != NULL;
}

static bool
is_hex(unsigned char c)
{
	return isxdigit(c) != 0;
}

/* pchar minus '%' (checked separately), plus '/' and '?'. */
static bool
is_path_char(unsigned char c)
{
	return is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' ||
	    c == '/' || c == '?';
}

/* Check s[0..n) against a class, allowing %XX escapes. */
static bool
valid_run(const char *s, size_t n, bool (*ok)(unsigned char))
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n || !is_hex((unsigned char)s[i + 1]) ||
			    !is_hex((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (!ok(c)) {
			return false;
		}
	}
	return true;
}

static bool
is_userinfo_char(unsigned char c)
{
	return is_unreserved(c) || is_sub_delim(c) || c == ':';
}

/* A reg-name's characters (RFC 3986 §3.2.2), and the bytes of a name
 * written in UTF-8 (an IRI's ucschar, RFC 3987 §2.2). */
static bool
is_regname_char(unsigned char c)
{
	return is_unreserved(c) || is_sub_delim(c) || c >= 0x80;
}

static char *
lower_dup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_strndup(a, s, n);
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)tolower((unsigned char)p[i]);
	return p;
}

/* Parse the port digits of s[0..n); 0 (use the default) when n is 0. */
static int
parse_port(const char *s, size_t n, unsigned *port)
{
	unsigned v = 0;
	size_t i;

	*port = 0;
	if (n == 0)
		return 0;
	if (n > 5)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = v;
	return 0;
}

/* One WHATWG IPv4 part: decimal, 0x hex or 0-led octal. -1 if not. */
static int
ipv4_part(const char *s, size_t n, uint64_t *v)
{
	unsigned base = 10;
	size_t i;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		n -= 2;
	} else if (n >= 2 && s[0] == '0') {
		base = 8;
		s++;
		n--;
	}
	*v = 0;
	for (i = 0; i < n; i++) {
		int d = isdigit((unsigned char)s[i]) ? s[i] - '0'
		    : isxdigit((unsigned char)s[i])
		    ? tolower((unsigned char)s[i]) - 'a' + 10
		    : 99;

		if (d >= (int)base || *v > 0xffffffffULL)
			return -1;
		*v = *v * base + (unsigned)d;
	}
	return *v > 0xffffffffULL ? -1 : 0;
}

/*
 * The WHATWG URL standard's IPv4 parser, which browsers and most URL
 * libraries apply: a host whose last dot-separated part is a number is
 * an IPv4 address written in any of the notations "2130706433",
 * "0177.0.0.1", "0x7f.1", "127.1". 1 with the address in out, 0 when
 * host is a name, -1 when it ends in a number but is no valid address
 * (the caller must refuse it, as browsers do).
 */
static int
ipv4_whatwg(const char *host, size_t n, uint32_t *out)
{
	const char *part[4], *p = host, *dot;
	size_t plen[4], np = 0, i;
	uint64_t v[4];
	uint32_t addr = 0;

	if (n > 0 && host[n - 1] == '.')
		n--; /* "127.0.0.1." */
	while (p <= host + n) {
		dot = memchr(p, '.', (size_t)(host + n - p));
		if (dot == NULL)
			dot = host + n;
		if (np == 4)
			return 0; /* five parts: a name, maybe */
		part[np] = p;
		plen[np++] = (size_t)(dot - p);
		p = dot + 1;
	}
	/* Only a last part that is a number makes it an address. */
	if (plen[np - 1] == 0 ||
	    ipv4_part(part[np - 1], plen[np - 1], &v[0]) != 0) {
		for (i = 0; i < plen[np - 1]; i++)
			if (!isdigit((unsigned char)part[np - 1][i]))
				return 0;
		return plen[np - 1] == 0 ? 0 : -1;
	}
	for (i = 0; i < np; i++) {
		if (plen[i] == 0 || ipv4_part(part[i], plen[i], &v[i]) != 0)
			return -1;
		if (i < np - 1 && v[i] > 255)
			return -1;
	}
	if (v[np - 1] >= (1ULL << (8 * (5 - np))))
		return -1;
	for (i = 0; i < np - 1; i++)
		addr |= (uint32_t)v[i] << (8 * (3 - i));
	*out = addr | (uint32_t)v[np - 1];
	return 1;
}

#define HOST_MAX 253 /* a DNS name, dots included (RFC 1035 §2.3.4) */
/* libidn2: NFC first, then UTS #46 non-transitional processing (what
 * the WHATWG URL standard and curl use); no STD3 rules, so "_" stays. */
#define HOST_IDNA (IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL)

/* WHATWG's forbidden domain code points, ASCII being all there is left
 * once a name is in A-label form. */
static bool
is_forbidden_in_host(unsigned char c)
{
	return c <= 0x20 || c >= 0x7f || strchr("#%/:<>?@[\\]^|", c) != NULL;
}

size_t
url_pct_decode(const char *s, size_t n, char *out)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n &&
		    is_hex((unsigned char)s[i + 1]) &&
		    is_hex((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], '\0'};

			out[k++] = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			out[k++] = s[i];
		}
	}
	return k;
}

/* Does the name have a byte outside ASCII, or an "xn--" label (an
 * A-label, which must be checked: RFC 5891 §5.4)? */
static bool
host_is_idn(const char *name, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if ((unsigned char)name[i] >= 0x80)
			return true;
		if ((i == 0 || name[i - 1] == '.') && n - i >= 4 &&
		    strncasecmp(name + i, "xn--", 4) == 0)
			return true;
	}
	return false;
}

/*
 * The international name `name` in A-label form (UTS #46, RFC 5891):
 * 0 with it in *out, or -1 with *why naming the first label that fails
 * on its own (or the whole name, when only the whole fails). libidn2,
 * not code of ours: the mapping follows Unicode's tables release by
 * release, and it is what curl and wget use.
 */
static int
host_to_ascii(const char *name, struct arena *a, char **out, const char **why)
{
	const char *label = name, *p = name, *dot;
	size_t n = strlen(name);
	uint8_t *ascii = NULL;
	char one[HOST_MAX * 3 + 1], msg[HOST_MAX * 3 + 128];
	int rc, lrc;

	rc = idn2_lookup_u8((const uint8_t *)name, &ascii, HOST_IDNA);
	if (rc == IDN2_OK) {
		*out = arena_strdup(a, (const char *)ascii);
		idn2_free(ascii);
		return 0;
	}
	lrc = rc;
	for (;;) {
		size_t k =
		    (dot = strchr(p, '.')) ? (size_t)(dot - p) : strlen(p);

		memcpy(one, p, k);
		one[k] = '\0';
		ascii = NULL;
		rc = idn2_lookup_u8((const uint8_t *)one, &ascii, HOST_IDNA);
		idn2_free(ascii);
		if (rc != IDN2_OK) {
			label = p, n = k, lrc = rc;
			break;
		}
		if (dot == NULL)
			break;
		p = dot + 1;
	}
	snprintf(msg, sizeof(msg), "invalid host name: \"%.*s\": %s", (int)n,
	    label, idn2_strerror(lrc));
	*why = arena_strdup(a, msg);
	return -1;
}

/*
 * Store a name host as DNS, the pool, Host and the certificate check
 * all need it (WHATWG URL host parsing): percent-decoded, in A-label
 * form, lower-cased, trailing dot dropped, an IPv4 address in any
 * notation made dotted decimal (so the egress policy sees the address
 * "127.0.0.%31" is).
 */
static int
set_name_host(const char *host, size_t hlen, struct arena *a, struct url *u,
    const char **why)
{
	char dec[HOST_MAX * 3 + 1], *name = (char *)host, dotted[16], *p;
	size_t n = hlen, i;
	uint32_t v4;
	bool decoded = memchr(host, '%', hlen) != NULL;

	if (decoded) {
		n = url_pct_decode(host, hlen, dec);
		dec[n] = '\0';
		name = dec;
	}
	if (host_is_idn(name, n)) {
		if (!decoded) {
			memcpy(dec, host, hlen);
			dec[n] = '\0';
		} else if (memchr(dec, '\0', n) != NULL) {
			*why = "invalid host name";
			return -1;
		}
		if (host_to_ascii(dec, a, &name, why) != 0)
			return -1;
		n = strlen(name);
		decoded = true;
	}
	/* The raw host held only reg-name characters; what decoding or
	 * IDNA made of it is checked again. */
	for (i = 0; decoded && i < n; i++)
		if (is_forbidden_in_host((unsigned char)name[i])) {
			*why = "invalid host name";
			return -1;
		}
	switch (ipv4_whatwg(name, n, &v4)) {
	case 1:
		for (i = 0, p = dotted; i < 4; i++) {
			if (i > 0)
				*p++ = '.';
			p += fmt_uint(p, (v4 >> (24 - 8 * i)) & 0xff);
		}
		u->host = arena_strndup(a, dotted, (size_t)(p - dotted));
		u->ip_literal = true;
		return 0;
	case -1:
		*why = "invalid IPv4 address in URL";
		return -1;
	}
	if (n > 1 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX || name[0] == '.' || name[n - 1] == '.') {
		*why = "invalid host name";
		return -1;
	}
	u->host = lower_dup(a, name, n);
	return 0;
}

/* Parse the authority s[0..n) into u (host, port, userinfo). */
static int
parse_authority(
    const char *s, size_t n, struct arena *a, struct url *u, const char **why)
{
	const char *at = memchr(s, '@', n);
	const char *host, *end = s + n, *portp = NULL;
	size_t hlen;
	unsigned port;

	if (at != NULL) {
		if (memchr(at + 1, '@', (size_t)(end - at - 1)) != NULL ||
		    !valid_run(s, (size_t)(at - s), is_userinfo_char)) {
			*why = "invalid user information in URL";
			return -1;
		}
		u->userinfo = arena_strndup(a, s, (size_t)(at - s));
		s = at + 1;
	}
	host = s;
	if (host == end) {
		*why = "missing host";
		return -1;
	}
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		char tmp[INET6_ADDRSTRLEN];
		struct in6_addr in6;

		hlen = close ? (size_t)(close - host - 1) : 0;
		if (close == NULL || hlen == 0 || hlen >= sizeof(tmp)) {
			*why = "invalid IPv6 address in URL";
			return -1;
		}
		memcpy(tmp, host + 1, hlen);
		tmp[hlen] = '\0';
		if (inet_pton(AF_INET6, tmp, &in6) != 1) {
			*why = "invalid IPv6 address in URL";
			return -1;
		}
		u->host = lower_dup(a, tmp, hlen);
		u->ip_literal = true;
		if (close + 1 < end) {
			if (close[1] != ':') {
				*why = "invalid character after IPv6 address";
				return -1;
			}
			portp = close + 2;
		}
	} else {
		const char *colon = memchr(host, ':', (size_t)(end - host));

		hlen = colon ? (size_t)(colon - host) : (size_t)(end - host);
		if (hlen == 0) {
			*why = "missing host";
			return -1;
		}
		if (hlen > 3 * HOST_MAX ||
		    !valid_run(host, hlen, is_regname_char)) {
			*why = "invalid host name";
			return -1;
		}
		if (set_name_host(host, hlen, a, u, why) != 0)
			return -1;
		if (colon != NULL)
			portp = colon + 1;
	}
	if (portp != NULL) {
		if (parse_port(portp, (size_t)(end - portp), &port) != 0) {
			*why = "invalid port";
			return -1;
		}
	} else {
		port = 0;
	}
	u->port = (uint16_t)(port ? port : (u->https ? 443 : 80));
	return 0;
}

/* host_header and origin, from host, port and scheme. */
static void
url_derive(struct arena *a, struct url *u)
{
	bool v6 = strchr(u->host, ':') != NULL;
	bool dflt = u->port == (u->https ? 443 : 80);
	size_t n = strlen(u->host);
	char buf[300], *p, *host, *end; /* a host is at most 253 bytes */

	/* "scheme://host:port" is the origin; Host is the part after "//",
	 * without ":port" when the port is the scheme's. Built by hand: a
	 * batch parses every item's URL, and printf cost a third of it. */
	p = stpcpy(buf, u->https ? "https://" : "http://");
	host = p;
	if (v6)
		*p++ = '[';
	memcpy(p, u->host, n);
	p += n;
	if (v6)
		*p++ = ']';
	end = p;
	*p++ = ':';
	p += fmt_uint(p, u->port);
	u->origin = arena_strndup(a, buf, (size_t)(p - buf));
	u->host_header =
	    arena_strndup(a, host, (size_t)((dflt ? end : p) - host));
}

int
url_parse(
    const char *s, size_t len, struct arena *a, struct url *u, const char **why)
{
	const char *p, *end = s + len, *auth, *path;
	size_t i;

	memset(u, 0, sizeof(*u));
	if (len > URL_MAX_LEN) {
		*why = "URL longer than 8192 bytes";
		return -1;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* Bytes past ASCII may name a host (checked there). */
		if (c <= 0x20 || c == 0x7f || strchr("\"<>\\^`{|}", c)) {
			*why = "invalid character in URL";
			return -1;
		}
	}
	p = memchr(s, ':', len);
	if (p == NULL || p == s || p + 3 > end || p[1] != '/' || p[2] != '/') {
		*why = "not an absolute URL";
		return -1;
	}
	if ((size_t)(p - s) == 4 && strncasecmp(s, "http", 4) == 0) {
		u->https = false;
	} else if ((size_t)(p - s) == 5 && strncasecmp(s, "https", 5) == 0) {
		u->https = true;
	} else {
		*why = "unsupported scheme; use http or https";
		return -1;
	}
	auth = p + 3;
	for (path = auth;
	     path < end && *path != '/' && *path != '?' && *path != '#'; path++)
		;
	if (parse_authority(auth, (size_t)(path - auth), a, u, why) != 0)
		return -1;
	/* Path and query (the fragment is never sent). */
	for (p = path; p < end && *p != '#'; p++)
		;
	if (!valid_run(path, (size_t)(p - path), is_path_char)) {
		*why = "invalid character in URL";
		return -1;
	}
	if (p < end && !valid_run(p + 1, (size_t)(end - p - 1), is_path_char)) {
		*why = "invalid character in URL fragment";
		return -1;
	}
	if (path == p || *path == '?') {
		/* Empty path: "/" then the query, if any. */
		char *t = arena_alloc(a, (size_t)(p - path) + 2);

		t[0] = '/';
		memcpy(t + 1, path, (size_t)(p - path));
		t[(size_t)(p - path) + 1] = '\0';
		u->target = t;
	} else {
		u->target = arena_strndup(a, path, (size_t)(p - path));
	}
	url_derive(a, u);
	return 0;
}

/* --- RFC 3986 §5.2 reference resolution ------------------------------- */

/* The five components of a URI reference (pointers into the string). */
struct uri_parts {
	const char *scheme, *auth, *path, *query;
	size_t scheme_len, auth_len, path_len, query_len;
	bool has_scheme, has_auth, has_query;
};

/* Split per RFC 3986 appendix B; the fragment is dropped. */
static void
uri_split(const char *s, struct uri_parts *p)
{
	const char *q = s + strcspn(s, ":/?#");

	memset(p, 0, sizeof(*p));
	if (*q == ':' && q > s) {
		p->has_scheme = true;
		p->scheme = s;
		p->scheme_len = (size_t)(q - s);
		s = q + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		p->has_auth = true;
		p->auth = s + 2;
		p->auth_len = strcspn(p->auth, "/?#");
		s = p->auth + p->auth_len;
	}
	p->path = s;
	p->path_len = strcspn(s, "?#");
	s += p->path_len;
	if (*s == '?') {
		p->has_query = true;
		p->query = s + 1;
		p->query_len = strcspn(p->query, "#");
	}
}

/* RFC 3986 §5.2.4: remove "." and ".." segments from in[0..n). */
static void
remove_dot_segments(const char *in, size_t n, struct buf *out)
{
	size_t start = out->len;

	while (n > 0) {
		if (n >= 3 && strncmp(in, "../", 3) == 0) {
			in += 3, n -= 3;
		} else if (n >= 2 && strncmp(in, "./", 2) == 0) {
			in += 2, n -= 2;
		} else if ((n >= 3 && strncmp(in, "/./", 3) == 0)) {
			in += 2, n -= 2;
		} else if (n == 2 && strncmp(in, "/.", 2) == 0) {
			in += 1, n -= 1;
			buf_addc(out, '/'), in += 1, n -= 1;
		} else if ((n >= 4 && strncmp(in, "/../", 4) == 0) ||
		    (n == 3 && strncmp(in, "/..", 3) == 0)) {
			/* Drop the last output segment. */
			while (
			    out->len > start && out->data[out->len - 1] != '/')
				out->len--;
			if (out->len > start)
				out->len--;
			if (n == 3) {
				buf_addc(out, '/');
				in += 3, n -= 3;
			} else {
				in += 3, n -= 3;
			}
		} else if ((n == 1 && in[0] == '.') ||
		    (n == 2 && strncmp(in, "..", 2) == 0)) {
			in += n, n = 0;
		} else {
			size_t seg = 1 + strcspn(in + 1, "/");

			if (seg > n)
				seg = n;
			buf_add(out, in, seg);
			in += seg, n -= seg;
		}
	}
	if (out->data != NULL)
		out->data[out->len] = '\0';
}

int
url_resolve(const char *base, const char *ref, struct buf *out)
{
	struct uri_parts b, r;

	uri_split(base, &b);
	uri_split(ref, &r);
	if (!b.has_scheme || !b.has_auth)
		return -1;
	if (r.has_scheme) {
		buf_add(out, r.scheme, r.scheme_len);
		buf_addc(out, ':');
		if (r.has_auth) {
			buf_add(out, "//", 2);
			buf_add(out, r.auth, r.auth_len);
		}
		remove_dot_segments(r.path, r.path_len, out);
		if (r.has_query) {
			buf_addc(out, '?');
			buf_add(out, r.query, r.query_len);
		}
		return 0;
	}
	buf_add(out, b.scheme, b.scheme_len);
	buf_add(out, "://", 3);
	if (r.has_auth) {
		buf_add(out, r.auth, r.auth_len);
		remove_dot_segments(r.path, r.path_len, out);
		if (r.has_query) {
			buf_addc(out, '?');
			buf_add(out, r.query, r.query_len);
		}
		return 0;
	}
	buf_add(out, b.auth, b.auth_len);
	if (r.path_len == 0) {
		buf_add(out, b.path, b.path_len);
		if (r.has_query) {
			buf_addc(out, '?');
			buf_add(out, r.query, r.query_len);
		} else if (b.has_query) {
			buf_addc(out, '?');
			buf_add(out, b.query, b.query_len);
		}
		return 0;
	}
	if (r.path[0] == '/') {
		remove_dot_segments(r.path, r.path_len, out);
	} else {
		/* Merge (§5.2.3): the base path up to its last "/", then
		 * the reference path. */
		struct buf merged = BUF_INIT;
		size_t keep = b.path_len;

		while (keep > 0 && b.path[keep - 1] != '/')
			keep--;
		if (b.path_len == 0)
			buf_addc(&merged, '/');
		else
			buf_add(&merged, b.path, keep);
		buf_add(&merged, r.path, r.path_len);
		remove_dot_segments(merged.data, merged.len, out);
		buf_free(&merged);
	}
	if (r.has_query) {
		buf_addc(out, '?');
		buf_add(out, r.query, r.query_len);
	}
	return 0;
}
