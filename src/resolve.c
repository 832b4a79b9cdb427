/*
 * resolve.c - evdns lookups behind a TTL cache keyed by host name (see
 * resolve.h). Each cache entry is in one of three states: PENDING (one
 * evdns request in flight, waiters queued), DONE (answer valid until
 * expires_us) or expired (looked up again on next use). Waiters are
 * notified in FIFO order; a cancelled waiter is unlinked and the lookup
 * carries on for the cache's sake.
 *
 * Special-use names (RFC 6761) are answered here and never sent to a
 * resolver: anything under .invalid is NXDOMAIN (§6.4), anything under
 * .localhost is the loopback address (§6.3), as curl does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <arpa/inet.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "htab.h"
#include "log.h"
#include "resolve.h"
#include "util.h"

#define RESOLVE_NEGATIVE_US 1000000u
#define RESOLVE_MAX_ENTRIES 10000

enum entry_state { ENTRY_PENDING, ENTRY_DONE };

struct resolve_waiter {
	TAILQ_ENTRY(resolve_waiter) link;
	struct resolve_entry *entry;
	resolve_cb cb;
	void *arg;
};

struct resolve_entry {
	struct resolver *r;
	char *name;
	enum entry_state state;
	uint64_t expires_us;
	struct resolve_answer ans;
	struct evdns_getaddrinfo_request *req;
	TAILQ_HEAD(, resolve_waiter) waiters;
	int in_lookup; /* inside evdns_getaddrinfo: answer may come at once */
};

struct resolver {
	struct event_base *base;
	struct evdns_base *dns;
	struct htab cache; /* name -> struct resolve_entry */
	uint64_t ttl_us;
};

static void
evdns_log(int severity, const char *msg)
{
	log_debug("evdns: %s", msg);
}

struct resolver *
resolver_new(
    struct event_base *base, const struct config *cfg, char *why, size_t whylen)
{
	struct resolver *r = xcalloc(1, sizeof(*r));
	unsigned i;
	int rc;

	r->base = base;
	r->ttl_us = cfg->dns_cache_ms * 1000u;
	/* DISABLE_WHEN_INACTIVE keeps an idle daemon from holding the loop
	 * open; resolv.conf is parsed separately (LIBEVENT-NOTES.md, DNS). */
	r->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (r->dns == NULL) {
		snprintf(why, whylen, "cannot create the DNS resolver");
		free(r);
		return NULL;
	}
	evdns_set_log_fn(evdns_log);
	if (cfg->nnameservers == 0) {
		rc = evdns_base_resolv_conf_parse(
		    r->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
		if (rc != 0 && rc != 6) /* 6: no nameserver; evdns adds one */
			log_warn("resolver: /etc/resolv.conf unusable (code "
			         "%d); using defaults",
			    rc);
	} else {
		for (i = 0; i < cfg->nnameservers; i++) {
			if (evdns_base_nameserver_ip_add(
			        r->dns, cfg->nameservers[i]) != 0) {
				snprintf(why, whylen,
				    "[upstream] nameservers: cannot use %s",
				    cfg->nameservers[i]);
				evdns_base_free(r->dns, 0);
				free(r);
				return NULL;
			}
		}
		evdns_base_load_hosts(r->dns, NULL);
	}
	evdns_base_set_option(r->dns, "randomize-case:", "0");
	return r;
}

static void
entry_free(void *value)
{
	struct resolve_entry *e = value;

	free(e->name);
	free(e);
}

void
resolver_free(struct resolver *r)
{
	if (r == NULL)
		return;
	/* Fails pending requests: their callbacks see EAI_CANCEL and find
	 * no waiters (every batch is gone by now). */
	evdns_base_free(r->dns, 1);
	htab_free(&r->cache, entry_free);
	free(r);
}

const char *
resolve_strerror(int error)
{
	switch (error) {
	case EVUTIL_EAI_NONAME:
		return "no such host";
	case EVUTIL_EAI_NODATA:
		return "the name has no address";
	case EVUTIL_EAI_AGAIN:
		return "the resolver failed temporarily";
	case EVUTIL_EAI_FAIL:
		return "the resolver failed";
	case EVUTIL_EAI_CANCEL:
		return "the lookup was cancelled";
	default:
		return evutil_gai_strerror(error);
	}
}

/* Parse a numeric IPv4 or IPv6 host into ans; 0 when host is a name. */
static int
resolve_numeric(const char *host, struct resolve_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (evutil_inet_pton(AF_INET, host, &ans->addrs[0].sin.sin_addr) == 1) {
		ans->addrs[0].sin.sin_family = AF_INET;
		ans->naddrs = 1;
		return 1;
	}
	if (evutil_inet_pton(AF_INET6, host, &ans->addrs[0].sin6.sin6_addr) ==
	    1) {
		ans->addrs[0].sin6.sin6_family = AF_INET6;
		ans->naddrs = 1;
		return 1;
	}
	return 0;
}

/* Does name equal label or end in "." label? Case-insensitive. */
static int
name_in_domain(const char *name, const char *label)
{
	size_t n = strlen(name), l = strlen(label);

	if (n == l)
		return strcasecmp(name, label) == 0;
	return n > l && name[n - l - 1] == '.' &&
	    strcasecmp(name + n - l, label) == 0;
}

int
resolve_special_use(const char *host, struct resolve_answer *ans)
{
	memset(ans, 0, sizeof(*ans));
	if (name_in_domain(host, "invalid")) {
		ans->error = EVUTIL_EAI_NONAME;
		return 1;
	}
	if (name_in_domain(host, "localhost")) {
		ans->addrs[0].sin.sin_family = AF_INET;
		ans->addrs[0].sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ans->addrs[1].sin6.sin6_family = AF_INET6;
		ans->addrs[1].sin6.sin6_addr = in6addr_loopback;
		ans->naddrs = 2;
		return 1;
	}
	return 0;
}

/* Copy an evdns answer list into a fixed answer, ports cleared. */
static void
answer_from_addrinfo(
    struct resolve_answer *ans, int result, struct evutil_addrinfo *ai)
{
	memset(ans, 0, sizeof(*ans));
	ans->error = result;
	for (; result == 0 && ai != NULL && ans->naddrs < RESOLVE_MAX_ADDRS;
	     ai = ai->ai_next) {
		union sockaddr_any *a = &ans->addrs[ans->naddrs];

		if (ai->ai_family == AF_INET &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in)) {
			memcpy(&a->sin, ai->ai_addr, sizeof(a->sin));
			a->sin.sin_port = 0;
		} else if (ai->ai_family == AF_INET6 &&
		    ai->ai_addrlen >= sizeof(struct sockaddr_in6)) {
			memcpy(&a->sin6, ai->ai_addr, sizeof(a->sin6));
			a->sin6.sin6_port = 0;
		} else {
			continue;
		}
		ans->naddrs++;
	}
	if (result == 0 && ans->naddrs == 0)
		ans->error = EVUTIL_EAI_NODATA;
}

static void
resolve_done_cb(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct resolve_entry *e = arg;
	struct resolve_waiter *w;

	answer_from_addrinfo(&e->ans, result, ai);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
	e->req = NULL;
	e->state = ENTRY_DONE;
	e->expires_us =
	    mono_us() + (e->ans.error ? RESOLVE_NEGATIVE_US : e->r->ttl_us);
	log_debug("resolve %s: %s (%u addresses)", e->name,
	    e->ans.error ? resolve_strerror(e->ans.error) : "ok",
	    e->ans.naddrs);
	if (e->in_lookup)
		return; /* resolve_lookup answers its caller directly */
	while ((w = TAILQ_FIRST(&e->waiters)) != NULL) {
		TAILQ_REMOVE(&e->waiters, w, link);
		w->cb(&e->ans, w->arg);
		free(w);
	}
}

struct sweep {
	struct resolve_entry **victims;
	size_t n;
	uint64_t now; /* 0: take every finished entry */
};

static void
sweep_collect(void *value, void *arg)
{
	struct resolve_entry *e = value;
	struct sweep *sw = arg;

	if (e->state == ENTRY_DONE &&
	    (sw->now == 0 || e->expires_us <= sw->now))
		sw->victims[sw->n++] = e;
}

/*
 * Bound the cache: drop expired answers, or every finished answer when
 * none has expired. O(entries), and only when the bound is reached.
 */
static void
cache_sweep(struct resolver *r)
{
	struct sweep sw;
	size_t i;

	sw.victims = xcalloc(r->cache.count, sizeof(*sw.victims));
	sw.n = 0;
	sw.now = mono_us();
	htab_foreach(&r->cache, sweep_collect, &sw);
	if (sw.n == 0) {
		sw.now = 0;
		htab_foreach(&r->cache, sweep_collect, &sw);
	}
	for (i = 0; i < sw.n; i++) {
		htab_del(&r->cache, sw.victims[i]->name);
		entry_free(sw.victims[i]);
	}
	free(sw.victims);
}

enum resolve_status
resolve_lookup(struct resolver *r, const char *host, struct resolve_answer *ans,
    resolve_cb cb, void *arg, struct resolve_waiter **waiter)
{
	struct evutil_addrinfo hints;
	struct resolve_entry *e;
	struct resolve_waiter *w;

	*waiter = NULL;
	if (resolve_numeric(host, ans) || resolve_special_use(host, ans))
		return RESOLVE_DONE;
	e = htab_get(&r->cache, host);
	if (e != NULL && e->state == ENTRY_DONE && e->expires_us > mono_us()) {
		*ans = e->ans;
		return RESOLVE_DONE;
	}
	if (e == NULL) {
		if (r->cache.count >= RESOLVE_MAX_ENTRIES)
			cache_sweep(r);
		e = xcalloc(1, sizeof(*e));
		e->r = r;
		e->name = xstrdup(host);
		TAILQ_INIT(&e->waiters);
		htab_put(&r->cache, host, e);
	}
	w = xcalloc(1, sizeof(*w));
	w->entry = e;
	w->cb = cb;
	w->arg = arg;
	TAILQ_INSERT_TAIL(&e->waiters, w, link);
	if (e->state == ENTRY_PENDING && e->req != NULL) {
		*waiter = w;
		return RESOLVE_PENDING;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	e->state = ENTRY_PENDING;
	e->in_lookup = 1;
	e->req =
	    evdns_getaddrinfo(r->dns, host, NULL, &hints, resolve_done_cb, e);
	e->in_lookup = 0;
	if (e->state == ENTRY_DONE) {
		/* Answered at once (/etc/hosts, or an immediate failure):
		 * only this waiter can be queued, since none was pending. */
		TAILQ_REMOVE(&e->waiters, w, link);
		free(w);
		*ans = e->ans;
		return RESOLVE_DONE;
	}
	*waiter = w;
	return RESOLVE_PENDING;
}

void
resolve_cancel(struct resolve_waiter *w)
{
	if (w == NULL)
		return;
	TAILQ_REMOVE(&w->entry->waiters, w, link);
	free(w);
}
