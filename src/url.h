/*
 * url.h - absolute http/https URLs, parsed strictly (RFC 3986) into what
 * a fetch needs: where to connect, what to put in Host, and the request
 * target to send verbatim. Pure: no I/O, no libevent.
 */
#ifndef FANOUTD_URL_H
#define FANOUTD_URL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

#define URL_MAX_LEN 8192

struct url {
	bool https;
	bool ip_literal; /* host is an IPv4 or IPv6 address */
	char *host;      /* lower-cased; IPv6 without brackets */
	uint16_t port;   /* explicit, or 80 / 443 */
	char *target;    /* path[?query] as given; "/" when the path is empty */
	char *host_header; /* host[:port], IPv6 in brackets, default port
	                      omitted */
	char *userinfo;    /* as given (still percent-encoded), or NULL */
	char *origin;      /* "http://host:port": the pool and per-host key */
};

/*
 * Parse the len bytes at s. Strings in *u are allocated from a. Returns 0,
 * or -1 with *why set to a static sentence saying what is wrong: "not an
 * absolute URL", "unsupported scheme; use http or https", "missing host",
 * "invalid port", "invalid character in URL", "URL longer than 8192
 * bytes", ... The fragment, if any, is dropped.
 */
int url_parse(const char *s, size_t len, struct arena *a, struct url *u,
    const char **why);

/* Percent-decode the n bytes at s into out (room for n); a '%' not
 * followed by two hex digits stays. Returns the decoded length. */
size_t url_pct_decode(const char *s, size_t n, char *out);

/*
 * Resolve the reference ref (a redirect's Location: absolute, or relative
 * like "../x?q", "//host/p", "?q") against the absolute URL base, per
 * RFC 3986 §5.2, dot segments removed. Appends the absolute URL to out
 * (without a fragment). Returns 0, or -1 when base is not absolute.
 */
int url_resolve(const char *base, const char *ref, struct buf *out);

#endif
