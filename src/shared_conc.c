/*
 * shared_conc.c - per-host concurrency caps shared through Redis (see
 * shared_conc.h): the three scripts (acquire, release, renew) sent on
 * shared_limits' connection, the subscriber connection that hears
 * "a slot is free", the renewal tick, the retry timer, and the local
 * cap while Redis is away.
 *
 * Per host, `used` counts this instance's attempts in flight and
 * `held` the slots it holds in Redis (members "ID:SEQ"). Normally
 * held == used; after a fall back and return, attempts that started on
 * the local cap hold no member (used > held) until they end. Callbacks
 * from shared_limits may run inside shared_limits_call (a failing
 * connection ends every pending command): they only change this
 * module's state and defer the scheduler's wake-up to wake_ev.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "htab.h"
#include "log.h"
#include "shared_conc.h"
#include "util.h"

#define KEY_PREFIX "fanoutd:conc:host:"
#define CHANNEL    "fanoutd:conc:free:%d"
/* A failed send while Redis is first connecting: try again this soon. */
#define CONNECTING_RETRY_US 100000ull

/*
 * Take a slot. KEYS[1]: the host's sorted set; ARGV: the cap, the
 * lease (ms), the member. Expired members go first. Returns 0 when the
 * member was added, else the ms until the oldest lease ends (at least
 * 1): the latest instant worth trying again.
 */
static const char script_acquire[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
    "1000)\n"
    "local lease = tonumber(ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then\n"
    "  redis.call('ZADD', KEYS[1], now + lease, ARGV[3])\n"
    "  redis.call('PEXPIRE', KEYS[1], lease * 2)\n"
    "  return 0\n"
    "end\n"
    "local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "return math.max(1, tonumber(first[2]) - now)\n";

/* Give a slot back. KEYS[1]: the set; ARGV: the member, the channel,
 * the host (the notice). Returns 1 when the member was there. */
static const char script_release[] =
    "local n = redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "redis.call('PUBLISH', ARGV[2], ARGV[3])\n"
    "return n\n";

/* Extend leases. KEYS[1]: the set; ARGV: the lease (ms), then the
 * members. Returns how many were still there (the others expired). */
static const char script_renew[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
    "1000)\n"
    "local lease = tonumber(ARGV[1])\n"
    "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then\n"
    "    redis.call('ZADD', KEYS[1], now + lease, ARGV[i])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "redis.call('PEXPIRE', KEYS[1], lease * 2)\n"
    "return n\n";

struct conc_host {
	struct shared_conc *sc;
	char *name;
	char *rkey;
	uint32_t used;  /* attempts in flight here */
	uint64_t *held; /* sequence numbers of the members held */
	uint32_t nheld, capheld;
	uint64_t want;     /* the member an acquisition is out for */
	bool pending;      /* an acquisition is out */
	bool notified;     /* a notice came while it was out */
	bool waiting;      /* the scheduler was told no */
	bool wake;         /* tell the scheduler at the next wake_ev */
	uint64_t retry_at; /* refused: ask again then (mono µs); 0: not */
	uint64_t used_at;
};

struct shared_conc {
	struct event_base *base;
	const struct config *cfg;
	struct shared_limits *sl;
	shared_ready_fn ready;
	void *arg;
	struct htab hosts;      /* name -> struct conc_host */
	redisAsyncContext *sub; /* the subscriber; NULL when none */
	struct event *tick_ev;  /* renewals, every third of the lease */
	uint64_t tick_ms;       /* its period now */
	struct event *retry_ev; /* the earliest retry_at */
	struct event *wake_ev;  /* deferred: hosts flagged wake */
	struct shared_script acquire, release, renew;
	char channel[48];
	uint64_t seq;
	bool local; /* Redis away: per-host cap / instances */
	char degraded[SHARED_PATH_LEN + 800];
	struct shared_conc_stats st;
};

/* A renewal out: how many members it carried. */
struct renew_ctx {
	struct shared_conc *sc;
	size_t n;
};

/* --- hosts --------------------------------------------------------------- */

static void
host_free(void *value)
{
	struct conc_host *h = value;

	free(h->name);
	free(h->rkey);
	free(h->held);
	free(h);
}

static struct conc_host *
host_get(struct shared_conc *sc, const char *name)
{
	struct conc_host *h = htab_get(&sc->hosts, name);
	size_t n;

	if (h != NULL)
		return h;
	h = xcalloc(1, sizeof(*h));
	h->sc = sc;
	h->name = xstrdup(name);
	n = strlen(KEY_PREFIX) + strlen(name) + 1;
	h->rkey = xmalloc(n);
	snprintf(h->rkey, n, KEY_PREFIX "%s", name);
	htab_put(&sc->hosts, name, h);
	return h;
}

/* The member name of sequence number seq. */
static void
member(const struct shared_conc *sc, uint64_t seq, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s:%llu", shared_limits_id(sc->sl),
	    (unsigned long long)seq);
}

/* Tell the scheduler about h at the next wake_ev. */
static void
wake(struct conc_host *h)
{
	h->wake = true;
	h->retry_at = 0;
	event_active(h->sc->wake_ev, EV_TIMEOUT, 1);
}

/* The per-host cap while local: the fleet's over the live instances. */
static uint32_t
local_cap(const struct shared_conc *sc)
{
	uint64_t cap =
	    sc->cfg->per_host_concurrency / shared_limits_instances(sc->sl);

	return cap > 0 ? (uint32_t)cap : 1;
}

static void
forget_held(void *value, void *arg)
{
	((struct conc_host *)value)->nheld = 0;
}

static void
wake_waiting(void *value, void *arg)
{
	struct conc_host *h = value;

	if (h->waiting)
		wake(h);
}

/* Follow shared_limits' state: going local forgets the members (they
 * expire in Redis), is logged once and wakes every parked host. */
static void
sync_state(struct shared_conc *sc)
{
	bool local = shared_limits_state(sc->sl) == SHARED_DOWN;

	if (local == sc->local)
		return;
	sc->local = local;
	if (local) {
		htab_foreach(&sc->hosts, forget_held, NULL);
		log_warn("shared concurrency: Redis is away; each instance "
		         "caps a host at %u (per_host_concurrency %llu / %u "
		         "instances) until it returns",
		    local_cap(sc),
		    (unsigned long long)sc->cfg->per_host_concurrency,
		    shared_limits_instances(sc->sl));
	} else
		log_info("shared concurrency: back on Redis");
	htab_foreach(&sc->hosts, wake_waiting, NULL);
}

/* --- timers -------------------------------------------------------------- */

static void
earliest_retry(void *value, void *arg)
{
	const struct conc_host *h = value;
	uint64_t *at = arg;

	if (h->waiting && h->retry_at != 0 && h->retry_at < *at)
		*at = h->retry_at;
}

static void
retry_arm(struct shared_conc *sc)
{
	uint64_t at = UINT64_MAX, now = mono_us();
	struct timeval tv;

	htab_foreach(&sc->hosts, earliest_retry, &at);
	evtimer_del(sc->retry_ev);
	if (at == UINT64_MAX)
		return;
	tv = tv_us(at > now ? at - now : 0);
	evtimer_add(sc->retry_ev, &tv);
}

static void
retry_due(void *value, void *arg)
{
	struct conc_host *h = value;

	if (h->waiting && h->retry_at != 0 && h->retry_at <= *(uint64_t *)arg)
		wake(h);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct shared_conc *sc = arg;
	uint64_t now = mono_us();

	htab_foreach(&sc->hosts, retry_due, &now);
	retry_arm(sc);
}

struct woken {
	struct conc_host **h;
	size_t n, cap;
};

static void
collect_woken(void *value, void *arg)
{
	struct conc_host *h = value;
	struct woken *w = arg;

	if (!h->wake)
		return;
	h->wake = false;
	if (!h->waiting)
		return;
	h->waiting = false;
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 8;
		w->h = xrealloc(w->h, w->cap * sizeof(*w->h));
	}
	w->h[w->n++] = h;
}

/* Hosts flagged wake that the scheduler parked may move now. The
 * scheduler may add hosts meanwhile: collect first, then tell. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct shared_conc *sc = arg;
	struct woken w = {NULL, 0, 0};
	size_t i;

	htab_foreach(&sc->hosts, collect_woken, &w);
	for (i = 0; i < w.n; i++)
		sc->ready(sc->arg, w.h[i]->name, false);
	free(w.h);
}

/* --- commands ------------------------------------------------------------ */

static void
release_done(void *arg, bool ok, long long v)
{
}

/* Give one held member of h back (and publish the notice). */
static void
release_one(struct shared_conc *sc, struct conc_host *h)
{
	char m[160];
	const char *argv[4] = {h->rkey, m, sc->channel, h->name};

	member(sc, h->held[--h->nheld], m, sizeof(m));
	shared_limits_call(sc->sl, &sc->release, argv, 4, release_done, sc);
}

static void
acquire_done(void *arg, bool ok, long long v)
{
	struct conc_host *h = arg;
	struct shared_conc *sc = h->sc;

	h->pending = false;
	if (!ok || v == 0) {
		if (ok && !sc->local) {
			if (h->nheld == h->capheld) {
				h->capheld = h->capheld ? 2 * h->capheld : 4;
				h->held = xrealloc(
				    h->held, h->capheld * sizeof(*h->held));
			}
			h->held[h->nheld++] = h->want;
			sc->st.acquired++;
		}
		h->notified = false;
		wake(h);
		return;
	}
	sc->st.refused++;
	if (h->notified) {
		h->notified = false;
		wake(h);
		return;
	}
	if ((uint64_t)v > sc->cfg->shared_lease_ms)
		v = (long long)sc->cfg->shared_lease_ms;
	h->retry_at = mono_us() + (uint64_t)v * 1000;
	retry_arm(sc);
}

/* Ask Redis for a slot for h; false when it cannot go out. */
static bool
acquire_send(struct shared_conc *sc, struct conc_host *h)
{
	char cap[24], lease[24], m[160];
	const char *argv[4] = {h->rkey, cap, lease, m};

	snprintf(cap, sizeof(cap), "%llu",
	    (unsigned long long)sc->cfg->per_host_concurrency);
	snprintf(lease, sizeof(lease), "%llu",
	    (unsigned long long)sc->cfg->shared_lease_ms);
	h->want = ++sc->seq;
	member(sc, h->want, m, sizeof(m));
	if (shared_limits_call(
	        sc->sl, &sc->acquire, argv, 4, acquire_done, h) != 0)
		return false;
	h->pending = true;
	return true;
}

static void
renew_done(void *arg, bool ok, long long v)
{
	struct renew_ctx *ctx = arg;

	if (ok && v >= 0 && (size_t)v < ctx->n)
		ctx->sc->st.lost += ctx->n - (size_t)v;
	free(ctx);
}

/* Extend the leases of h's members. */
static void
renew(struct shared_conc *sc, struct conc_host *h)
{
	char lease[24];
	char(*m)[160] = xcalloc(h->nheld, sizeof(*m));
	const char **argv = xcalloc(h->nheld + 2, sizeof(*argv));
	struct renew_ctx *ctx = xcalloc(1, sizeof(*ctx));
	uint32_t i;

	snprintf(lease, sizeof(lease), "%llu",
	    (unsigned long long)sc->cfg->shared_lease_ms);
	argv[0] = h->rkey;
	argv[1] = lease;
	for (i = 0; i < h->nheld; i++) {
		member(sc, h->held[i], m[i], sizeof(m[i]));
		argv[i + 2] = m[i];
	}
	ctx->sc = sc;
	ctx->n = h->nheld;
	if (shared_limits_call(
	        sc->sl, &sc->renew, argv, h->nheld + 2, renew_done, ctx) != 0)
		free(ctx);
	free(argv);
	free(m);
}

/* --- the notice channel -------------------------------------------------- */

static void
on_message(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct shared_conc *sc = privdata;
	redisReply *r = reply;
	struct conc_host *h;

	if (r == NULL || ac != sc->sub || r->type != REDIS_REPLY_ARRAY ||
	    r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(r->element[0]->str, "subscribe") == 0) {
		sc->st.subscribed = 1;
		return;
	}
	if (strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	sc->st.notices++;
	if ((h = htab_get(&sc->hosts, r->element[2]->str)) == NULL)
		return;
	if (h->pending)
		h->notified = true;
	else if (h->waiting)
		wake(h);
}

static void
sub_lost(const redisAsyncContext *ac, int status)
{
	struct shared_conc *sc = ac->data;

	if (sc == NULL || ac != sc->sub)
		return;
	sc->sub = NULL; /* hiredis frees it */
	sc->st.subscribed = 0;
}

static void
sub_connected(const redisAsyncContext *ac, int status)
{
	if (status != REDIS_OK)
		sub_lost(ac, status);
}

/* Open the subscriber; failures wait for the next tick. */
static void
sub_open(struct shared_conc *sc)
{
	char why[200];
	redisAsyncContext *ac = shared_redis_open(shared_limits_addr(sc->sl),
	    sc->base, sc, sub_connected, sub_lost, why, sizeof(why));

	if (ac == NULL)
		return;
	sc->sub = ac;
	if (redisAsyncCommand(
	        ac, on_message, sc, "SUBSCRIBE %s", sc->channel) != REDIS_OK) {
		sc->sub = NULL;
		redisAsyncFree(ac);
	}
}

/* --- the tick ------------------------------------------------------------ */

/* Renew what is held, give back what nothing uses. */
static void
tick_host(void *value, void *arg)
{
	struct conc_host *h = value;
	struct shared_conc *sc = arg;

	if (sc->local)
		return;
	while (h->nheld > h->used && !h->waiting)
		release_one(sc, h);
	if (h->nheld > 0)
		renew(sc, h);
}

static bool
host_idle(void *value, void *arg)
{
	const struct conc_host *h = value;

	return h->used == 0 && h->nheld == 0 && !h->pending && !h->waiting &&
	    !h->wake && h->used_at + SHARED_IDLE_US <= *(const uint64_t *)arg;
}

/* (Re)arm the tick at a third of shared_lease_ms, which a reload may
 * change. */
static void
tick_arm(struct shared_conc *sc)
{
	struct timeval tv;

	if (sc->tick_ms == sc->cfg->shared_lease_ms / 3)
		return;
	sc->tick_ms = sc->cfg->shared_lease_ms / 3;
	tv = tv_us(sc->tick_ms * 1000);
	event_del(sc->tick_ev);
	event_add(sc->tick_ev, &tv);
}

static void
on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct shared_conc *sc = arg;
	uint64_t now = mono_us();

	tick_arm(sc);
	sync_state(sc);
	htab_foreach(&sc->hosts, tick_host, sc);
	htab_drop_if(&sc->hosts, host_idle, &now, host_free);
	if (sc->sub == NULL && shared_limits_state(sc->sl) == SHARED_UP)
		sub_open(sc);
}

/* --- the front ----------------------------------------------------------- */

struct shared_conc *
shared_conc_new(struct event_base *base, const struct config *cfg,
    struct shared_limits *sl, shared_ready_fn ready, void *arg)
{
	struct shared_conc *sc = xcalloc(1, sizeof(*sc));

	sc->base = base;
	sc->cfg = cfg;
	sc->sl = sl;
	sc->ready = ready;
	sc->arg = arg;
	shared_script_init(&sc->acquire, script_acquire);
	shared_script_init(&sc->release, script_release);
	shared_script_init(&sc->renew, script_renew);
	snprintf(sc->channel, sizeof(sc->channel), CHANNEL,
	    shared_limits_addr(sl)->db);
	sc->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, sc);
	sc->retry_ev = evtimer_new(base, on_retry, sc);
	sc->wake_ev = event_new(base, -1, 0, on_wake, sc);
	tick_arm(sc);
	return sc;
}

void
shared_conc_free(struct shared_conc *sc)
{
	redisAsyncContext *ac;

	if (sc == NULL)
		return;
	ac = sc->sub;
	sc->sub = NULL; /* its callbacks are stale now */
	if (ac != NULL)
		redisAsyncFree(ac);
	event_free(sc->tick_ev);
	event_free(sc->retry_ev);
	event_free(sc->wake_ev);
	htab_free(&sc->hosts, host_free);
	free(sc);
}

bool
shared_conc_acquire(struct shared_conc *sc, const char *host, uint64_t now_us)
{
	struct conc_host *h = host_get(sc, host);

	h->used_at = now_us;
	sync_state(sc);
	if (!sc->local && h->used < h->nheld) {
		h->used++;
		return true;
	}
	if (sc->local) {
		if (h->used >= local_cap(sc)) {
			h->waiting = true; /* the next release wakes it */
			return false;
		}
		h->used++;
		return true;
	}
	h->waiting = true;
	if (h->pending || (h->retry_at != 0 && h->retry_at > now_us))
		return false;
	if (!acquire_send(sc, h)) {
		sync_state(sc);
		if (sc->local)
			return shared_conc_acquire(sc, host, now_us);
		h->retry_at = now_us + CONNECTING_RETRY_US;
		retry_arm(sc);
	}
	return false;
}

void
shared_conc_release(struct shared_conc *sc, const char *host)
{
	struct conc_host *h = htab_get(&sc->hosts, host);

	if (h == NULL || h->used == 0)
		return;
	h->used--;
	sync_state(sc);
	if (!sc->local && h->nheld > h->used)
		release_one(sc, h);
	if (h->waiting)
		wake(h);
}

static void
count_held(void *value, void *arg)
{
	*(uint64_t *)arg += ((const struct conc_host *)value)->nheld;
}

void
shared_conc_stats(const struct shared_conc *sc, struct shared_conc_stats *st)
{
	*st = sc->st;
	st->local = shared_limits_state(sc->sl) == SHARED_DOWN;
	st->local_cap = local_cap(sc);
	st->held = 0;
	htab_foreach(&sc->hosts, count_held, &st->held);
}

const char *
shared_conc_degraded(struct shared_conc *sc)
{
	const char *limits = shared_limits_degraded(sc->sl);

	if (limits == NULL)
		return NULL;
	snprintf(sc->degraded, sizeof(sc->degraded),
	    "%s; per-host concurrency at %u per instance "
	    "(per_host_concurrency %llu / %u instances)",
	    limits, local_cap(sc),
	    (unsigned long long)sc->cfg->per_host_concurrency,
	    shared_limits_instances(sc->sl));
	return sc->degraded;
}
