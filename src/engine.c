/*
 * engine.c - the dispatch engine's front (see engine.h): builds the
 * modules every batch shares, turns the configuration into their limits
 * (start and reload), admits new batches and reports the gauges. The
 * batches themselves are batch.c's.
 */
#include <ifaddrs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine_int.h"
#include "extract_pool.h"
#include "pool.h"
#include "resolve.h"
#include "util.h"

/*
 * Attempts started per turn of the event loop. A new connection costs a
 * connect() that the kernel completes on the spot over loopback (~30 us):
 * starting 10,000 in one go would hold the loop for 300 ms, and evhttp
 * writes a request only once its connection's event comes back. Between
 * slices the loop writes the requests already connected, reads what has
 * arrived and serves other callers.
 */
#define ENGINE_DISPATCH_SLICE 256

/* The server-wide limits of the configuration, as the scheduler takes
 * them. */
static struct sched_limits
engine_limits(const struct config *cfg)
{
	struct sched_limits l = {(uint32_t)cfg->concurrency,
	    (uint32_t)cfg->per_host_concurrency, cfg->rate, cfg->burst,
	    cfg->per_host_rate, cfg->per_host_burst};

	return l;
}

/* Deny a wildcard listener's port on every address of this host. */
static void
engine_deny_interfaces(struct engine *e, uint16_t port)
{
	struct ifaddrs *ifs, *i;
	uint8_t a[16];
	uint16_t ignored;

	if (getifaddrs(&ifs) != 0)
		return;
	for (i = ifs; i != NULL; i = i->ifa_next)
		if (i->ifa_addr != NULL &&
		    egress_from_sockaddr(i->ifa_addr, a, &ignored) == 0)
			egress_add_own(&e->egress, a, port, false);
	freeifaddrs(ifs);
}

/*
 * (Re)build the egress policy from the configuration: the configured
 * ranges, then every TCP address fanoutd listens on, so a batch can
 * never make fanoutd call itself.
 */
static void
engine_set_egress(struct engine *e)
{
	static const uint8_t zero[16];
	static const uint8_t v4any[16] = {[10] = 0xff, [11] = 0xff};
	const struct config *cfg = e->cfg;
	uint8_t a[16];
	uint16_t port;
	unsigned i;

	egress_free(&e->egress);
	egress_init(&e->egress, cfg->deny_private, cfg->deny, cfg->allow);
	for (i = 0; i < e->nself; i++) {
		bool any;

		if (egress_from_sockaddr(
		        (const struct sockaddr *)&e->self[i], a, &port) != 0)
			continue;
		any = memcmp(a, zero, 16) == 0 || memcmp(a, v4any, 16) == 0;
		egress_add_own(&e->egress, a, port, any);
		if (any)
			engine_deny_interfaces(e, port);
	}
}

/* The shared limits can answer for host (or all): run the scheduler. */
static void
engine_tokens_ready(void *arg, const char *host, bool all)
{
	struct engine *e = arg;

	sched_tokens_ready(e->sched, host, all);
	engine_schedule(e);
}

static uint64_t
engine_tokens_wait(void *arg, const char *host, uint64_t now_us)
{
	uint64_t w = shared_limits_wait_us(arg, host, now_us);

	return w == SHARED_PENDING ? SCHED_NEVER : w;
}

static void
engine_tokens_take(void *arg, const char *host, uint64_t now_us)
{
	shared_limits_take(arg, host, now_us);
}

static bool
engine_slot_acquire(void *arg, const char *host, uint64_t now_us)
{
	return shared_conc_acquire(arg, host, now_us);
}

static void
engine_slot_release(void *arg, const char *host)
{
	shared_conc_release(arg, host);
}

/* [limits] shared: the global and per-host rates come from Redis, and
 * with shared_concurrency the per-host caps too. */
static int
engine_share_limits(struct engine *e, char *why, size_t whylen)
{
	struct sched_tokens t = {engine_tokens_wait, engine_tokens_take, NULL};
	struct sched_slots sl = {
	    engine_slot_acquire, engine_slot_release, NULL};

	if (e->cfg->shared[0] == '\0')
		return 0;
	e->shared = shared_limits_new(
	    e->base, e->cfg, engine_tokens_ready, e, why, whylen);
	if (e->shared == NULL)
		return -1;
	t.arg = e->shared;
	sched_set_tokens(e->sched, &t);
	if (e->cfg->shared_concurrency) {
		e->conc = shared_conc_new(
		    e->base, e->cfg, e->shared, engine_tokens_ready, e);
		sl.arg = e->conc;
		sched_set_slots(e->sched, &sl);
	}
	return 0;
}

static void
engine_sched_cb(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	e->sched_at = 0;
	engine_schedule(e);
}

/* [extract] threads, or one per online CPU; none with on_loop. */
static unsigned
engine_extract_threads(const struct config *cfg)
{
	long n;

	if (cfg->extract_on_loop)
		return 0;
	if (cfg->extract_threads > 0)
		return (unsigned)cfg->extract_threads;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1                ? 1
	    : n > XPOOL_MAX_THREADS ? XPOOL_MAX_THREADS
	                            : (unsigned)n;
}

struct engine *
engine_new(
    struct event_base *base, const struct config *cfg, char *why, size_t whylen)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	struct sched_limits l = engine_limits(cfg);

	e->base = base;
	e->cfg = cfg;
	if ((e->resolver = resolver_new(base, cfg, why, whylen)) == NULL ||
	    (e->pool = pool_new(base, cfg, why, whylen)) == NULL ||
	    (e->xpool = xpool_new(
	         base, engine_extract_threads(cfg), why, whylen)) == NULL) {
		engine_free(e);
		return NULL;
	}
	engine_set_egress(e);
	e->fetch.base = base;
	e->fetch.pool = e->pool;
	e->fetch.resolver = e->resolver;
	e->fetch.egress = &e->egress;
	e->fetch.cfg = cfg;
	e->sched = sched_new(&l, mono_us());
	e->sched_ev = evtimer_new(base, engine_sched_cb, e);
	if (engine_share_limits(e, why, whylen) != 0) {
		engine_free(e);
		return NULL;
	}
	if (getrandom(&e->rng, sizeof(e->rng), 0) != sizeof(e->rng))
		e->rng = mono_us();
	e->rng |= 1;
	return e;
}

void
engine_free(struct engine *e)
{
	if (e == NULL)
		return;
	shared_conc_free(e->conc); /* before the connection it uses */
	shared_limits_free(e->shared);
	if (e->sched_ev != NULL)
		event_free(e->sched_ev);
	sched_free(e->sched);
	xpool_free(e->xpool);
	pool_free(e->pool);
	resolver_free(e->resolver);
	egress_free(&e->egress);
	free(e);
}

void
engine_reload(struct engine *e)
{
	struct sched_limits l = engine_limits(e->cfg);

	sched_set_limits(e->sched, &l, mono_us());
	engine_set_egress(e);
	engine_schedule(e); /* raised limits admit what waits, now */
}

void
engine_set_self(
    struct engine *e, const struct sockaddr_storage *addrs, unsigned n)
{
	if (n > CONFIG_MAX_LISTEN)
		n = CONFIG_MAX_LISTEN;
	memcpy(e->self, addrs, n * sizeof(addrs[0]));
	e->nself = n;
	engine_set_egress(e);
}

enum req_err
engine_admit(const struct engine *e, char *msg, size_t msglen)
{
	if (e->draining) {
		snprintf(msg, msglen,
		    "fanoutd is shutting down; send the batch again later");
		return RERR_DRAINING;
	}
	if (e->active >= e->cfg->max_active_batches) {
		snprintf(msg, msglen,
		    "%llu batches are running, the most [server] "
		    "max_active_batches allows; retry shortly",
		    (unsigned long long)e->active);
		return RERR_BUSY;
	}
	return RERR__COUNT;
}

void
engine_drain(struct engine *e)
{
	e->draining = true;
}

bool
engine_draining(const struct engine *e)
{
	return e->draining;
}

void
engine_gauges(const struct engine *e, struct metrics_gauges *g)
{
	g->batches_active = e->active;
	g->inflight = sched_inflight(e->sched);
	g->queued = sched_queued(e->sched);
	g->connections_open = pool_open_count(e->pool);
	g->connections_idle = pool_idle_count(e->pool);
	g->token_wait_us = sched_token_wait_us(e->sched);
	xpool_stats(e->xpool, &g->extract_busy, &g->extract_queued_bytes);
	g->shared = e->shared != NULL;
	if (e->shared != NULL)
		shared_limits_stats(e->shared, &g->shared_stats);
	g->shared_conc = e->conc != NULL;
	if (e->conc != NULL)
		shared_conc_stats(e->conc, &g->conc_stats);
}

void
engine_hosts(const struct engine *e,
    void (*fn)(const struct sched_host_view *v, void *arg), void *arg)
{
	sched_hosts_foreach(e->sched, fn, arg);
}

const char *
engine_degraded(const struct engine *e)
{
	if (e->conc != NULL)
		return shared_conc_degraded(e->conc);
	return e->shared != NULL ? shared_limits_degraded(e->shared) : NULL;
}

void
engine_schedule(struct engine *e)
{
	uint64_t now = mono_us();
	uint64_t next = sched_run(e->sched, now, ENGINE_DISPATCH_SLICE);
	struct timeval tv;

	if (next == SCHED_NEVER)
		return;
	if (e->sched_at != 0 && e->sched_at <= next &&
	    evtimer_pending(e->sched_ev, NULL))
		return;
	e->sched_at = next;
	tv = tv_us(next > now ? next - now : 0);
	evtimer_add(e->sched_ev, &tv);
}

double
engine_rand01(struct engine *e)
{
	uint64_t x = e->rng;

	/* xorshift64* */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return (double)((x * 2685821657736338717ull) >> 11) /
	    9007199254740992.0;
}
