/*
 * egress.c - the egress policy (see egress.h): CIDR parsing, the
 * built-in ranges, embedded IPv4 extraction, and the verdict.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "egress.h"
#include "util.h"

/* A named built-in range. */
struct builtin {
	const char *cidr;
	const char *what;
};

static const struct builtin always_denied[] = {
    {"169.254.0.0/16", "link-local, cloud metadata"},
    {"fe80::/10", "link-local"},
    {"fd00:ec2::254/128", "cloud metadata"},
    {"0.0.0.0/8", "unspecified"},
    {"::/128", "unspecified"},
    {"224.0.0.0/4", "multicast"},
    {"ff00::/8", "multicast"},
    {"240.0.0.0/4", "reserved, broadcast"},
};

static const struct builtin private_ranges[] = {
    {"127.0.0.0/8", "loopback"},
    {"::1/128", "loopback"},
    {"10.0.0.0/8", "private"},
    {"172.16.0.0/12", "private"},
    {"192.168.0.0/16", "private"},
    {"100.64.0.0/10", "CGNAT"},
    {"fc00::/7", "unique local"},
};

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int
egress_parse_cidr(const char *s, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long bits = -1;
	uint8_t v4[4];
	int i;

	memset(out, 0, sizeof(*out));
	if (n == 0 || n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (slash != NULL) {
		const char *p = slash + 1;

		/* Digits only: strtol would take blanks and signs. */
		if (*p == '\0' || strlen(p) > 3)
			return -1;
		for (bits = 0; *p != '\0'; p++) {
			if (*p < '0' || *p > '9')
				return -1;
			bits = bits * 10 + (*p - '0');
		}
	}
	if (inet_pton(AF_INET, host, v4) == 1) {
		if (bits > 32)
			return -1;
		memcpy(out->addr, v4mapped, 12);
		memcpy(out->addr + 12, v4, 4);
		out->bits = (uint8_t)(96 + (bits < 0 ? 32 : bits));
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		if (bits > 128)
			return -1;
		out->bits = (uint8_t)(bits < 0 ? 128 : bits);
	} else {
		return -1;
	}
	/* Clear host bits so matching is a plain prefix compare. */
	for (i = out->bits; i < 128; i++)
		out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	return 0;
}

static bool
cidr_match(const struct cidr *c, const uint8_t a[16])
{
	unsigned full = c->bits / 8, rest = c->bits % 8;

	if (memcmp(c->addr, a, full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((c->addr[full] ^ a[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

/* Call fn on each entry of a list separated by commas and blanks. */
static int
list_each(const char *list, int (*fn)(const char *entry, void *arg), void *arg)
{
	char entry[INET6_ADDRSTRLEN + 8];
	const char *p = list, *w;
	size_t len;

	while (next_word(&p, &w, &len)) {
		if (len >= sizeof(entry)) {
			if (fn(NULL, arg) != 0)
				return -1;
			continue;
		}
		memcpy(entry, w, len);
		entry[len] = '\0';
		if (fn(entry, arg) != 0)
			return -1;
	}
	return 0;
}

struct check_ctx {
	char *bad;
	size_t badlen;
};

static int
check_one(const char *entry, void *arg)
{
	struct check_ctx *c = arg;
	struct cidr tmp;

	if (entry == NULL) {
		snprintf(c->bad, c->badlen, "(an entry too long)");
		return -1;
	}
	if (egress_parse_cidr(entry, &tmp) != 0) {
		snprintf(c->bad, c->badlen, "%s", entry);
		return -1;
	}
	return 0;
}

int
egress_check_list(const char *list, char *bad, size_t badlen)
{
	struct check_ctx c = {bad, badlen};

	return list_each(list, check_one, &c);
}

struct add_ctx {
	struct cidr **v;
	size_t *n;
};

static int
add_one(const char *entry, void *arg)
{
	struct add_ctx *c = arg;
	struct cidr tmp;

	if (entry == NULL || egress_parse_cidr(entry, &tmp) != 0)
		return 0; /* validated by the config: skip the impossible */
	*c->v = xrealloc(*c->v, (*c->n + 1) * sizeof(**c->v));
	(*c->v)[(*c->n)++] = tmp;
	return 0;
}

static void
add_builtins(struct egress *e, const struct builtin *b, size_t n)
{
	struct add_ctx c = {&e->deny, &e->ndeny};
	size_t i;

	for (i = 0; i < n; i++)
		add_one(b[i].cidr, &c);
}

void
egress_init(
    struct egress *e, bool deny_private, const char *deny, const char *allow)
{
	struct add_ctx d = {&e->deny, &e->ndeny};
	struct add_ctx a = {&e->allow, &e->nallow};

	memset(e, 0, sizeof(*e));
	add_builtins(e, always_denied, ARRAY_SIZE(always_denied));
	e->nbuiltin = e->ndeny;
	if (deny_private)
		add_builtins(e, private_ranges, ARRAY_SIZE(private_ranges));
	list_each(deny ? deny : "", add_one, &d);
	list_each(allow ? allow : "", add_one, &a);
}

void
egress_free(struct egress *e)
{
	free(e->deny);
	free(e->allow);
	memset(e, 0, sizeof(*e));
}

void
egress_add_own(
    struct egress *e, const uint8_t addr[16], uint16_t port, bool any)
{
	if (e->nown == EGRESS_MAX_OWN)
		return;
	memcpy(e->own[e->nown].addr, addr, 16);
	e->own[e->nown].port = port;
	e->own[e->nown].any = any;
	e->nown++;
}

/*
 * The IPv4 addresses a v6 address carries (mapped, compatible, NAT64,
 * 6to4, both Teredo ones), as mapped v6 in out; returns how many.
 */
static int
embedded_v4(const uint8_t a[16], uint8_t out[2][16])
{
	static const uint8_t nat64[12] = {
	    0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t zero12[12] = {0};
	int n = 0, i;

	if (memcmp(a, v4mapped, 12) == 0)
		return 0; /* already IPv4 */
	if (memcmp(a, nat64, 12) == 0 ||
	    (memcmp(a, zero12, 12) == 0 && (a[12] | a[13]) != 0)) {
		memcpy(out[n] + 12, a + 12, 4);
		n++;
	} else if (a[0] == 0x20 && a[1] == 0x02) {
		/* 6to4: 2002:AABB:CCDD::/48 */
		memcpy(out[n] + 12, a + 2, 4);
		n++;
	} else if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		/* Teredo: the server at bits 32-63, the client obfuscated in
		 * the last 32 bits. */
		memcpy(out[n] + 12, a + 4, 4);
		n++;
		for (i = 0; i < 4; i++)
			out[n][12 + i] = (uint8_t)~a[12 + i];
		n++;
	}
	for (i = 0; i < n; i++)
		memcpy(out[i], v4mapped, 12);
	return n;
}

static const struct cidr *
first_match(const struct cidr *v, size_t n, const uint8_t a[16])
{
	size_t i;

	for (i = 0; i < n; i++)
		if (cidr_match(&v[i], a))
			return &v[i];
	return NULL;
}

/*
 * Does an allow range that holds a lie inside the default-denied range
 * b (as long a prefix or longer, and within it)? Only such a range
 * reopens b: an allow list that merely covers it does not.
 */
static bool
allowed_within(
    const struct egress *e, const uint8_t a[16], const struct cidr *b)
{
	size_t i;

	for (i = 0; i < e->nallow; i++)
		if (e->allow[i].bits >= b->bits &&
		    cidr_match(b, e->allow[i].addr) &&
		    cidr_match(&e->allow[i], a))
			return true;
	return false;
}

static void
addr_text(const uint8_t a[16], char *out, size_t n)
{
	if (memcmp(a, v4mapped, 12) == 0)
		inet_ntop(AF_INET, a + 12, out, (socklen_t)n);
	else
		inet_ntop(AF_INET6, a, out, (socklen_t)n);
}

static bool
is_loopback(const uint8_t a[16])
{
	static const uint8_t v6lo[16] = {
	    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

	return (memcmp(a, v4mapped, 12) == 0 && a[12] == 127) ||
	    memcmp(a, v6lo, 16) == 0;
}

int
egress_from_sockaddr(
    const struct sockaddr *sa, uint8_t addr[16], uint16_t *port)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		memcpy(addr, v4mapped, 12);
		memcpy(addr + 12, &s4->sin_addr, 4);
		*port = ntohs(s4->sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		memcpy(addr, &s6->sin6_addr, 16);
		*port = ntohs(s6->sin6_port);
		return 0;
	}
	return -1;
}

bool
egress_allowed(const struct egress *e, const uint8_t addr[16], uint16_t port,
    char *why, size_t whylen)
{
	uint8_t emb[2][16];
	const uint8_t *cand[3];
	const struct cidr *hit = NULL;
	char text[INET6_ADDRSTRLEN], range[INET6_ADDRSTRLEN];
	int n, i;
	size_t k;

	addr_text(addr, text, sizeof(text));
	for (k = 0; k < e->nown; k++)
		if (e->own[k].port == port &&
		    (memcmp(e->own[k].addr, addr, 16) == 0 ||
		        (e->own[k].any && is_loopback(addr)))) {
			snprintf(why, whylen,
			    "%s port %u is fanoutd's own listener", text, port);
			return false;
		}
	cand[0] = addr;
	n = embedded_v4(addr, emb);
	for (i = 0; i < n; i++)
		cand[1 + i] = emb[i];
	for (i = 0; i <= n && hit == NULL; i++) {
		hit = first_match(e->deny, e->nbuiltin, cand[i]);
		if (hit != NULL && allowed_within(e, cand[i], hit))
			hit = NULL;
	}
	if (hit == NULL) {
		for (i = 0; i <= n; i++)
			if (first_match(e->allow, e->nallow, cand[i]) != NULL)
				return true;
		for (i = 0; i <= n && hit == NULL; i++)
			hit = first_match(e->deny + e->nbuiltin,
			    e->ndeny - e->nbuiltin, cand[i]);
		if (hit == NULL)
			return true;
	}
	addr_text(hit->addr, range, sizeof(range));
	snprintf(why, whylen, "%s is in the denied range %s/%u", text, range,
	    memcmp(hit->addr, v4mapped, 12) == 0 && hit->bits >= 96
	        ? hit->bits - 96
	        : hit->bits);
	return false;
}
