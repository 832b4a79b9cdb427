/*
 * shared_policy.c - the pure parts of the shared rate limits (see
 * shared_policy.h): the Redis address, the lease of reserved slots, the
 * fallback state machine and the script reply rule.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "shared_policy.h"
#include "util.h"

/* --- the address ---------------------------------------------------------- */

/* A decimal integer in [lo, hi] spelled by s[0..n). */
static int
parse_int_in(const char *s, size_t n, long lo, long hi, int *out)
{
	char tmp[16];
	uint64_t v;

	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	if (parse_uint(tmp, false, &v) != 0 || (long)v < lo || (long)v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

static int
addr_unix(const char *s, struct shared_addr *a, char *why, size_t whylen)
{
	const char *q = strchr(s, '?');
	size_t n = q ? (size_t)(q - s) : strlen(s);

	if (n < 2 || s[0] != '/' || n >= SHARED_PATH_LEN) {
		snprintf(why, whylen,
		    "expected unix:/PATH (an absolute socket path, at most "
		    "%d bytes)",
		    SHARED_PATH_LEN - 1);
		return -1;
	}
	memcpy(a->path, s, n);
	a->path[n] = '\0';
	a->unix_sock = true;
	if (q != NULL &&
	    (strncmp(q, "?db=", 4) != 0 ||
	        parse_int_in(q + 4, strlen(q + 4), 0, 1000000, &a->db) != 0)) {
		snprintf(why, whylen, "after the socket path, only ?db=N");
		return -1;
	}
	return 0;
}

/* HOST[:PORT] in s[0..n): a name, an IPv4 address or [IPv6]. */
static int
addr_hostport(const char *s, size_t n, struct shared_addr *a)
{
	const char *port = NULL, *end = s + n, *h = s, *hend;
	unsigned char tmp[16];

	if (n > 0 && *s == '[') {
		if ((hend = memchr(s, ']', n)) == NULL)
			return -1;
		h = s + 1;
		if (hend + 1 < end && hend[1] != ':')
			return -1;
		if (hend + 1 < end)
			port = hend + 2;
	} else {
		hend = memchr(s, ':', n);
		if (hend == NULL)
			hend = end;
		else
			port = hend + 1;
	}
	if (hend == h || (size_t)(hend - h) >= SHARED_HOST_LEN)
		return -1;
	memcpy(a->host, h, (size_t)(hend - h));
	a->host[hend - h] = '\0';
	if (*s == '[' && inet_pton(AF_INET6, a->host, tmp) != 1)
		return -1;
	if (strspn(a->host,
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	        "0123456789.-:") != strlen(a->host))
		return -1;
	a->port = 6379;
	if (port != NULL &&
	    parse_int_in(port, (size_t)(end - port), 1, 65535, &a->port) != 0)
		return -1;
	return 0;
}

int
shared_addr_parse(
    const char *s, struct shared_addr *a, char *why, size_t whylen)
{
	const char *slash;
	size_t n;

	memset(a, 0, sizeof(*a));
	if (strncmp(s, "unix:", 5) == 0)
		return addr_unix(s + 5, a, why, whylen);
	if (strncmp(s, "redis://", 8) != 0) {
		snprintf(why, whylen,
		    "expected redis://HOST:PORT[/DB] or unix:/PATH");
		return -1;
	}
	s += 8;
	slash = strchr(s, '/');
	n = slash ? (size_t)(slash - s) : strlen(s);
	if (memchr(s, '@', n) != NULL) {
		snprintf(why, whylen,
		    "credentials in the URL are not supported; keep Redis on a "
		    "trusted network or a unix socket");
		return -1;
	}
	if (addr_hostport(s, n, a) != 0) {
		snprintf(why, whylen,
		    "\"%.*s\" is not HOST, HOST:PORT or [IPv6]:PORT",
		    (int)(n > 60 ? 60 : n), s);
		return -1;
	}
	if (slash != NULL && slash[1] != '\0' &&
	    parse_int_in(slash + 1, strlen(slash + 1), 0, 1000000, &a->db) !=
	        0) {
		snprintf(why, whylen, "the database after / must be a number");
		return -1;
	}
	return 0;
}

/* --- the lease ------------------------------------------------------------ */

unsigned
shared_lease_size(double rate)
{
	double n = ceil(rate * (double)SHARED_LEASE_WINDOW_US / 1e6);

	if (!(n >= 1))
		return 1;
	return n > SHARED_LEASE_MAX ? SHARED_LEASE_MAX : (unsigned)n;
}

uint64_t
shared_interval_us(double rate)
{
	double t = ceil(1e6 / rate);

	return rate > 0 && t >= 1 ? (uint64_t)t : 1;
}

uint64_t
shared_tolerance_us(double rate, double burst)
{
	if (burst < 1)
		burst = rate >= 1 ? rate : 1; /* bucket.h's default */
	return (uint64_t)floor(burst - 1) * shared_interval_us(rate);
}

void
shared_lease_add(struct shared_lease *l, uint64_t now_us, int64_t first_us,
    uint64_t interval_us, unsigned n)
{
	unsigned k;

	for (k = 0; k < n && l->count < SHARED_LEASE_RING; k++) {
		int64_t rel = first_us + (int64_t)(k * interval_us);
		uint64_t at = rel > 0 ? now_us + (uint64_t)rel : now_us;

		l->slot[(l->head + l->count) % SHARED_LEASE_RING] = at;
		l->count++;
	}
}

uint64_t
shared_lease_wait_us(struct shared_lease *l, uint64_t now_us)
{
	while (l->count > 0 && l->slot[l->head] + SHARED_LEASE_TTL_US < now_us)
		shared_lease_take(l);
	if (l->count == 0)
		return SHARED_LEASE_EMPTY;
	return l->slot[l->head] > now_us ? l->slot[l->head] - now_us : 0;
}

void
shared_lease_take(struct shared_lease *l)
{
	if (l->count == 0)
		return;
	l->head = (l->head + 1) % SHARED_LEASE_RING;
	l->count--;
}

void
shared_lease_clear(struct shared_lease *l)
{
	l->head = 0;
	l->count = 0;
}

bool
shared_lease_low(const struct shared_lease *l, unsigned size)
{
	return l->count * 2 <= size;
}

/* --- the fallback state machine ------------------------------------------- */

const char *
shared_state_name(enum shared_state st)
{
	static const char *const names[SHARED__COUNT] = {
	    [SHARED_CONNECTING] = "connecting",
	    [SHARED_UP] = "shared",
	    [SHARED_DOWN] = "degraded",
	};

	return st < SHARED__COUNT ? names[st] : "?";
}

void
shared_fsm_init(struct shared_fsm *f, uint64_t now_us)
{
	memset(f, 0, sizeof(*f));
	f->state = SHARED_CONNECTING;
	f->instances = 1;
	f->backoff_us = SHARED_BACKOFF_MIN_US;
	f->since = now_us;
}

bool
shared_fsm_up(struct shared_fsm *f, uint32_t instances, uint64_t now_us)
{
	bool news = f->state != SHARED_UP;

	f->instances = instances > 0 ? instances : 1;
	f->backoff_us = SHARED_BACKOFF_MIN_US;
	if (news) {
		f->state = SHARED_UP;
		f->since = now_us;
		f->why[0] = '\0';
	}
	return news;
}

bool
shared_fsm_down(struct shared_fsm *f, const char *why, uint64_t now_us)
{
	bool news = f->state != SHARED_DOWN;

	f->retry_at = now_us + f->backoff_us;
	f->backoff_us *= 2;
	if (f->backoff_us > SHARED_BACKOFF_MAX_US)
		f->backoff_us = SHARED_BACKOFF_MAX_US;
	if (news) {
		f->state = SHARED_DOWN;
		f->since = now_us;
		f->fallbacks++;
		snprintf(f->why, sizeof(f->why), "%s", why);
	}
	return news;
}

double
shared_fsm_local(const struct shared_fsm *f, double shared)
{
	return shared / (double)(f->instances > 0 ? f->instances : 1);
}

double
shared_fsm_local_burst(const struct shared_fsm *f, double burst)
{
	double b = shared_fsm_local(f, burst);

	if (burst <= 0)
		return 0;
	return b >= 1 ? b : 1;
}

/* --- script replies ------------------------------------------------------ */

enum shared_reply
shared_reply_kind(bool is_int, const char *err, bool was_eval)
{
	if (err != NULL)
		return !was_eval && strncmp(err, "NOSCRIPT", 8) == 0
		    ? SHARED_REPLY_RETRY
		    : SHARED_REPLY_FAIL;
	return is_int ? SHARED_REPLY_OK : SHARED_REPLY_FAIL;
}
