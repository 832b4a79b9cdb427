/*
 * resolve.h - asynchronous name lookups with evdns_getaddrinfo, a small
 * TTL cache and at most one lookup in flight per name (DESIGN.md §2 DNS).
 * Nothing here ever blocks the loop: numeric hosts are parsed, names go
 * to evdns, which reads /etc/resolv.conf and /etc/hosts unless
 * [upstream] nameservers names the resolvers.
 *
 * evdns gives no TTLs, so answers are kept for [upstream] dns_cache_ms
 * and failures for one second (long enough to spare a resolver a burst of
 * identical misses, short enough to recover from a transient SERVFAIL).
 */
#ifndef FANOUTD_RESOLVE_H
#define FANOUTD_RESOLVE_H

#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"

#define RESOLVE_MAX_ADDRS 8

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

struct resolve_answer {
	int error; /* 0, or an EVUTIL_EAI_* code */
	unsigned naddrs;
	union sockaddr_any addrs[RESOLVE_MAX_ADDRS]; /* port 0 */
};

struct resolver;
struct resolve_waiter;

typedef void (*resolve_cb)(const struct resolve_answer *ans, void *arg);

/* Returns NULL with a reason in why when a nameserver is unusable. */
struct resolver *resolver_new(struct event_base *base, const struct config *cfg,
    char *why, size_t whylen);
void resolver_free(struct resolver *r);

enum resolve_status { RESOLVE_DONE, RESOLVE_PENDING };

/*
 * Look up host. RESOLVE_DONE: *ans is filled now (numeric host, cache
 * hit, or an answer evdns gave at once). RESOLVE_PENDING: cb(ans, arg)
 * is called later, never from inside this call, unless resolve_cancel()
 * is called on *waiter first.
 */
enum resolve_status resolve_lookup(struct resolver *r, const char *host,
    struct resolve_answer *ans, resolve_cb cb, void *arg,
    struct resolve_waiter **waiter);
void resolve_cancel(struct resolve_waiter *w);

/*
 * Answer host at once when it is a special-use name of RFC 6761 that a
 * resolver library must not send out: "invalid" and names under it get
 * EVUTIL_EAI_NONAME (§6.4); "localhost" and names under it get
 * 127.0.0.1 and ::1 (§6.3). host has no trailing dot. Returns 1 with
 * *ans filled, or 0 (ans cleared) for any other name. Pure.
 */
int resolve_special_use(const char *host, struct resolve_answer *ans);

/* A sentence for an EVUTIL_EAI_* code, for the item's error message. */
const char *resolve_strerror(int error);

#endif
