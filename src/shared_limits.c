/*
 * shared_limits.c - rate limits shared through Redis (see
 * shared_limits.h): the hiredis connection on the daemon's loop, the two
 * Lua scripts (reserve slots, count instances), the command deadlines
 * that hiredis 0.14 lacks, the fallback to local buckets and the way
 * back.
 *
 * Ownership: a command (struct shared_cmd) belongs to hiredis from the
 * moment redisAsyncCommand accepts it until its callback runs, which it
 * always does - with the reply, or with NULL when the connection goes
 * (hiredis calls every pending callback as it frees a context). The
 * callback unlinks and frees it. A command whose connection is no longer
 * sl->ac is stale: its reply is dropped. Tearing a connection down is
 * always: forget it (sl->ac = NULL), change state, then free it; hiredis
 * defers the free when inside one of its callbacks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <unistd.h>

#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include "bucket.h"
#include "htab.h"
#include "log.h"
#include "shared_limits.h"
#include "util.h"

/* Heartbeat period, and how long an instance counts as alive after its
 * last one. */
#define BEAT_US     1000000ull
#define BEAT_TTL_MS 3000
#define KEY_PREFIX  "fanoutd:rate:"
#define INSTANCES   "fanoutd:instances"

/*
 * GCRA with reservation, on Redis's clock. KEYS[1] holds the theoretical
 * arrival time (µs); ARGV: emission interval (µs), tolerance (µs), slots.
 * Returns the first slot's offset from Redis's now, in µs (negative:
 * open already); slot k opens k intervals later. A reservation is never
 * refused: the caller waits until its slots open.
 */
static const char script_reserve[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local T = tonumber(ARGV[1])\n"
    "local tau = tonumber(ARGV[2])\n"
    "local n = tonumber(ARGV[3])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1])) or now\n"
    "if tat < now then tat = now end\n"
    "local new = tat + n * T\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX',\n"
    "    string.format('%d', math.floor((new - now) / 1000) + 1000))\n"
    "return tat - tau - now\n";

/*
 * The heartbeat: this instance (ARGV[1]) is alive for ARGV[2] ms more,
 * on Redis's clock; expired entries go; returns how many are alive.
 */
static const char script_beat[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / "
    "1000)\n"
    "local ttl = tonumber(ARGV[2])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)\n"
    "redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[1], ttl * 2)\n"
    "return redis.call('ZCARD', KEYS[1])\n";

struct shared_key {
	char *name; /* the origin; "" for the global rate */
	char *rkey; /* its Redis key */
	struct shared_lease lease;
	struct bucket local; /* while DOWN */
	bool local_set;      /* local is initialised */
	bool pending;        /* a reservation is out */
	bool waiting;        /* the scheduler was told SHARED_PENDING */
	uint64_t used_at;
};

enum cmd_kind { CMD_SELECT, CMD_BEAT, CMD_RESERVE, CMD_CALL };

struct shared_cmd {
	TAILQ_ENTRY(shared_cmd) link;
	struct shared_limits *sl;
	redisAsyncContext *ac; /* sent on */
	enum cmd_kind kind;
	struct shared_key *key; /* CMD_RESERVE */
	uint64_t interval, tolerance;
	unsigned n;
	bool eval; /* the script's body was sent (after NOSCRIPT) */
	/* CMD_CALL: another module's script, its arguments, its reply */
	const struct shared_script *script;
	char **argv;
	size_t argc;
	shared_call_fn fn;
	void *fn_arg;
	uint64_t deadline;
};

struct shared_limits {
	struct event_base *base;
	const struct config *cfg;
	struct shared_addr addr;
	char where[SHARED_PATH_LEN + 16]; /* for messages */
	redisAsyncContext *ac;            /* NULL when not connected */
	struct shared_fsm fsm;
	struct htab keys; /* name -> struct shared_key */
	TAILQ_HEAD(, shared_cmd) cmds;
	struct event *deadline_ev; /* the oldest command's deadline */
	struct event *beat_ev;     /* heartbeat, every BEAT_US */
	struct event *retry_ev;    /* reconnection */
	struct event *wake_ev;     /* deferred: every waiting key may move */
	bool beat_out;             /* a heartbeat is unanswered */
	shared_ready_fn ready;
	void *arg;
	char id[128];
	char sha_reserve[41], sha_beat[41];
	char degraded[SHARED_PATH_LEN + 400];
	struct shared_stats st;
	bool closing; /* shared_limits_free: no CMD_CALL callback runs */
};

static void sl_connect(struct shared_limits *sl);

/* --- small parts --------------------------------------------------------- */

static void
sha1_hex(const char *text, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0, i;

	EVP_Digest(text, strlen(text), md, &len, EVP_sha1(), NULL);
	for (i = 0; i < len && i < 20; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

void
shared_script_init(struct shared_script *s, const char *body)
{
	s->body = body;
	sha1_hex(body, s->sha);
}

static void
cmd_free(struct shared_cmd *c)
{
	size_t i;

	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c);
}

static void
key_free(void *value)
{
	struct shared_key *k = value;

	free(k->name);
	free(k->rkey);
	free(k);
}

static struct shared_key *
key_get(struct shared_limits *sl, const char *host)
{
	const char *name = host ? host : "";
	struct shared_key *k = htab_get(&sl->keys, name);
	size_t n;

	if (k != NULL)
		return k;
	k = xcalloc(1, sizeof(*k));
	k->name = xstrdup(name);
	n = strlen(KEY_PREFIX) + strlen(name) + 8;
	k->rkey = xmalloc(n);
	if (host == NULL)
		snprintf(k->rkey, n, KEY_PREFIX "global");
	else
		snprintf(k->rkey, n, KEY_PREFIX "host:%s", name);
	htab_put(&sl->keys, name, k);
	return k;
}

/* The rate and burst that apply to host (NULL: global). */
static void
key_limits(const struct shared_limits *sl, const char *host, double *rate,
    double *burst)
{
	*rate = host ? sl->cfg->per_host_rate : sl->cfg->rate;
	*burst = host ? sl->cfg->per_host_burst : sl->cfg->burst;
}

/* --- commands and their deadlines ---------------------------------------- */

static void
deadline_arm(struct shared_limits *sl)
{
	struct shared_cmd *head = TAILQ_FIRST(&sl->cmds);
	uint64_t now = mono_us();
	struct timeval tv;

	if (head == NULL) {
		evtimer_del(sl->deadline_ev);
		return;
	}
	tv = tv_us(head->deadline > now ? head->deadline - now : 0);
	evtimer_add(sl->deadline_ev, &tv);
}

static void
cmd_unlink(struct shared_cmd *c)
{
	struct shared_limits *sl = c->sl;
	bool head = TAILQ_FIRST(&sl->cmds) == c;

	TAILQ_REMOVE(&sl->cmds, c, link);
	if (c->key != NULL)
		c->key->pending = false;
	if (head && sl->deadline_ev != NULL)
		deadline_arm(sl);
}

static void cmd_cb(redisAsyncContext *ac, void *reply, void *privdata);

/* Send a CMD_CALL: EVALSHA (EVAL after NOSCRIPT) with one key. */
static int
call_send(struct shared_limits *sl, struct shared_cmd *c)
{
	const char **argv = xcalloc(c->argc + 3, sizeof(*argv));
	int rc;
	size_t i;

	argv[0] = c->eval ? "EVAL" : "EVALSHA";
	argv[1] = c->eval ? c->script->body : c->script->sha;
	argv[2] = "1";
	for (i = 0; i < c->argc; i++)
		argv[i + 3] = c->argv[i];
	rc = redisAsyncCommandArgv(
	    sl->ac, cmd_cb, c, (int)(c->argc + 3), argv, NULL);
	free(argv);
	return rc;
}

/* A CMD_CALL ends: tell its owner (unless fanoutd is closing). */
static void
call_end(struct shared_limits *sl, struct shared_cmd *c, bool ok, long long v)
{
	if (c->kind == CMD_CALL && !sl->closing)
		c->fn(c->fn_arg, ok, v);
}

/* Send c on the current connection; -1 when hiredis refuses it. */
static int
cmd_send(struct shared_limits *sl, struct shared_cmd *c)
{
	char a1[24], a2[24], a3[24];
	int rc;

	c->ac = sl->ac;
	c->deadline = mono_us() + sl->cfg->shared_timeout_ms * 1000;
	snprintf(a1, sizeof(a1), "%llu", (unsigned long long)c->interval);
	snprintf(a2, sizeof(a2), "%llu", (unsigned long long)c->tolerance);
	snprintf(a3, sizeof(a3), "%u", c->n);
	switch (c->kind) {
	case CMD_SELECT:
		rc = redisAsyncCommand(
		    sl->ac, cmd_cb, c, "SELECT %d", sl->addr.db);
		break;
	case CMD_BEAT:
		rc = redisAsyncCommand(sl->ac, cmd_cb, c,
		    c->eval ? "EVAL %s 1 %s %s %d" : "EVALSHA %s 1 %s %s %d",
		    c->eval ? script_beat : sl->sha_beat, INSTANCES, sl->id,
		    BEAT_TTL_MS);
		break;
	case CMD_CALL:
		rc = call_send(sl, c);
		break;
	default:
		rc = redisAsyncCommand(sl->ac, cmd_cb, c,
		    c->eval ? "EVAL %s 1 %s %s %s %s"
		            : "EVALSHA %s 1 %s %s %s %s",
		    c->eval ? script_reserve : sl->sha_reserve, c->key->rkey,
		    a1, a2, a3);
		break;
	}
	if (rc != REDIS_OK)
		return -1;
	TAILQ_INSERT_TAIL(&sl->cmds, c, link);
	if (TAILQ_FIRST(&sl->cmds) == c)
		deadline_arm(sl);
	if (c->key != NULL)
		c->key->pending = true;
	return 0;
}

/* --- state changes ------------------------------------------------------- */

static void
wake_later(struct shared_limits *sl)
{
	event_active(sl->wake_ev, EV_TIMEOUT, 1);
}

static void
clear_lease(void *value, void *arg)
{
	struct shared_key *k = value;

	shared_lease_clear(&k->lease);
	k->local_set = false;
}

/*
 * Redis failed: why says how. The connection (if any) is dropped, the
 * limits turn local (logged once), every waiting key is told, and a
 * reconnection is due after the backoff.
 */
static void
sl_fail(struct shared_limits *sl, const char *why)
{
	redisAsyncContext *ac = sl->ac;
	uint64_t now = mono_us();

	sl->ac = NULL;
	sl->beat_out = false;
	if (shared_fsm_down(&sl->fsm, why, now)) {
		htab_foreach(&sl->keys, clear_lease, NULL);
		snprintf(sl->degraded, sizeof(sl->degraded),
		    "shared limits: Redis at %s is unreachable (%s); local "
		    "buckets at 1/%u of the limits",
		    sl->where, why, sl->fsm.instances);
		log_warn("%s until it returns", sl->degraded);
		sl->st.fallbacks++;
	}
	if (ac != NULL)
		redisAsyncFree(ac); /* stale callbacks run, or soon */
	evtimer_del(sl->retry_ev);
	timer_arm_ms(sl->retry_ev,
	    (sl->fsm.retry_at > now ? sl->fsm.retry_at - now : 0) / 1000);
	wake_later(sl);
}

static void
sl_up(struct shared_limits *sl, long long instances)
{
	bool back = sl->fsm.state == SHARED_DOWN;

	if (shared_fsm_up(
	        &sl->fsm, instances > 0 ? (uint32_t)instances : 1, mono_us())) {
		log_info("shared limits: %s Redis at %s (%u instance%s)",
		    back ? "back on" : "using", sl->where, sl->fsm.instances,
		    sl->fsm.instances == 1 ? "" : "s");
		htab_foreach(&sl->keys, clear_lease, NULL);
		wake_later(sl);
	}
}

/* --- replies ------------------------------------------------------------- */

static void
reserve_done(struct shared_limits *sl, struct shared_cmd *c, long long first)
{
	struct shared_key *k = c->key;

	sl->st.reservations++;
	sl->st.slots += c->n;
	if (sl->fsm.state == SHARED_UP)
		shared_lease_add(
		    &k->lease, mono_us(), first, c->interval, c->n);
	if (k->waiting) {
		k->waiting = false;
		sl->ready(sl->arg, k->name[0] ? k->name : NULL, false);
	}
}

static void
cmd_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct shared_cmd *c = privdata;
	struct shared_limits *sl = c->sl;
	redisReply *r = reply;
	char why[200];
	enum shared_reply kind;

	cmd_unlink(c);
	if (c->ac != sl->ac || sl->ac == NULL) {
		call_end(sl, c, false, 0);
		cmd_free(c); /* stale: the connection was given up */
		return;
	}
	if (r == NULL) {
		snprintf(why, sizeof(why), "%s",
		    ac->errstr[0] ? ac->errstr : "connection lost");
		sl->ac = NULL; /* hiredis is freeing it */
		sl_fail(sl, why);
		call_end(sl, c, false, 0);
		cmd_free(c);
		return;
	}
	if (c->kind == CMD_SELECT)
		kind = r->type == REDIS_REPLY_ERROR ? SHARED_REPLY_FAIL
		                                    : SHARED_REPLY_OK;
	else
		kind = shared_reply_kind(r->type == REDIS_REPLY_INTEGER,
		    r->type == REDIS_REPLY_ERROR ? r->str : NULL, c->eval);
	if (kind == SHARED_REPLY_RETRY) {
		c->eval = true;
		if (cmd_send(sl, c) == 0)
			return;
		kind = SHARED_REPLY_FAIL;
	}
	if (kind == SHARED_REPLY_FAIL) {
		snprintf(why, sizeof(why), "it answered %.120s",
		    r->type == REDIS_REPLY_ERROR ? r->str
		                                 : "an unexpected reply");
		sl_fail(sl, why);
		call_end(sl, c, false, 0);
		cmd_free(c);
		return;
	}
	if (c->kind == CMD_BEAT) {
		sl->beat_out = false;
		sl_up(sl, r->integer);
	} else if (c->kind == CMD_RESERVE)
		reserve_done(sl, c, r->integer);
	call_end(sl, c, true, r->integer);
	cmd_free(c);
}

/* --- the connection ------------------------------------------------------ */

static struct shared_cmd *
cmd_new(struct shared_limits *sl, enum cmd_kind kind)
{
	struct shared_cmd *c = xcalloc(1, sizeof(*c));

	c->sl = sl;
	c->kind = kind;
	return c;
}

/* Send a command made by cmd_new; on refusal the connection fails. */
static int
cmd_go(struct shared_limits *sl, struct shared_cmd *c)
{
	if (sl->ac != NULL && cmd_send(sl, c) == 0)
		return 0;
	if (c->key != NULL)
		c->key->pending = false;
	cmd_free(c);
	if (sl->ac != NULL)
		sl_fail(sl, "the client refused a command");
	return -1;
}

static void
beat_send(struct shared_limits *sl)
{
	if (sl->ac == NULL || sl->beat_out)
		return;
	if (cmd_go(sl, cmd_new(sl, CMD_BEAT)) == 0)
		sl->beat_out = true;
}

static void
on_connect(const redisAsyncContext *ac, int status)
{
	struct shared_limits *sl = ac->data;

	if (status == REDIS_OK || sl == NULL || ac != sl->ac)
		return;
	sl->ac = NULL; /* hiredis frees it after this callback */
	sl_fail(sl, ac->errstr[0] ? ac->errstr : "cannot connect");
}

static void
on_disconnect(const redisAsyncContext *ac, int status)
{
	struct shared_limits *sl = ac->data;

	if (sl == NULL || ac != sl->ac)
		return;
	sl->ac = NULL;
	sl_fail(sl, ac->errstr[0] ? ac->errstr : "connection closed");
}

/* Open a connection; the heartbeat it sends first says when it works
 * (connecting counts against the heartbeat's deadline). */
redisAsyncContext *
shared_redis_open(const struct shared_addr *addr, struct event_base *base,
    void *data, redisConnectCallback *on_conn, redisDisconnectCallback *on_disc,
    char *why, size_t whylen)
{
	redisAsyncContext *ac = addr->unix_sock
	    ? redisAsyncConnectUnix(addr->path)
	    : redisAsyncConnect(addr->host, addr->port);

	if (ac == NULL || ac->err) {
		snprintf(why, whylen, "%s",
		    ac != NULL ? ac->errstr : "out of memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		return NULL;
	}
	ac->data = data;
	if (redisLibeventAttach(ac, base) != REDIS_OK) {
		redisAsyncFree(ac);
		snprintf(why, whylen, "cannot attach to the event loop");
		return NULL;
	}
	redisAsyncSetConnectCallback(ac, on_conn);
	redisAsyncSetDisconnectCallback(ac, on_disc);
	return ac;
}

static void
sl_connect(struct shared_limits *sl)
{
	char why[200];
	redisAsyncContext *ac = shared_redis_open(&sl->addr, sl->base, sl,
	    on_connect, on_disconnect, why, sizeof(why));

	if (ac == NULL) {
		sl_fail(sl, why);
		return;
	}
	sl->ac = ac;
	if (sl->addr.db > 0 && cmd_go(sl, cmd_new(sl, CMD_SELECT)) != 0)
		return;
	beat_send(sl);
}

/* --- timers -------------------------------------------------------------- */

static void
on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct shared_limits *sl = arg;
	struct shared_cmd *head = TAILQ_FIRST(&sl->cmds);
	char why[120];

	if (head == NULL)
		return;
	if (head->deadline > mono_us()) {
		deadline_arm(sl);
		return;
	}
	if (head->ac != sl->ac || sl->ac == NULL)
		return; /* stale ones go with their connection */
	sl->st.timeouts++;
	snprintf(why, sizeof(why), "no answer within %llu ms",
	    (unsigned long long)sl->cfg->shared_timeout_ms);
	sl_fail(sl, why);
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct shared_limits *sl = arg;

	if (sl->ac == NULL)
		sl_connect(sl);
}

/* Has nobody asked about k for a while (its host left)? */
static bool
key_idle(void *value, void *arg)
{
	const struct shared_key *k = value;

	return !k->pending && !k->waiting &&
	    k->used_at + SHARED_IDLE_US <= *(const uint64_t *)arg;
}

static void
on_beat(evutil_socket_t fd, short what, void *arg)
{
	struct shared_limits *sl = arg;

	uint64_t now = mono_us();

	beat_send(sl);
	htab_drop_if(&sl->keys, key_idle, &now, key_free);
}

/* Count (and clear) the keys the scheduler waits on with no
 * reservation out: they can answer now. */
static void
collect_waiting(void *value, void *arg)
{
	struct shared_key *k = value;

	if (!k->waiting || k->pending)
		return;
	k->waiting = false;
	(*(size_t *)arg)++;
}

/* Every waiting key (not waiting on a reservation) may answer now. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct shared_limits *sl = arg;
	size_t n = 0;

	htab_foreach(&sl->keys, collect_waiting, &n);
	if (n > 0)
		sl->ready(sl->arg, NULL, true);
}

/* --- the front ----------------------------------------------------------- */

struct shared_limits *
shared_limits_new(struct event_base *base, const struct config *cfg,
    shared_ready_fn ready, void *arg, char *why, size_t whylen)
{
	struct shared_limits *sl = xcalloc(1, sizeof(*sl));
	struct timeval beat = tv_us(BEAT_US);
	char host[64] = "";
	uint32_t rnd = 0;

	if (shared_addr_parse(cfg->shared, &sl->addr, why, whylen) != 0) {
		free(sl);
		return NULL;
	}
	sl->base = base;
	sl->cfg = cfg;
	sl->ready = ready;
	sl->arg = arg;
	TAILQ_INIT(&sl->cmds);
	shared_fsm_init(&sl->fsm, mono_us());
	if (sl->addr.unix_sock)
		snprintf(
		    sl->where, sizeof(sl->where), "unix:%s", sl->addr.path);
	else
		snprintf(sl->where, sizeof(sl->where),
		    strchr(sl->addr.host, ':') ? "[%s]:%d" : "%s:%d",
		    sl->addr.host, sl->addr.port);
	gethostname(host, sizeof(host) - 1);
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)mono_us();
	snprintf(
	    sl->id, sizeof(sl->id), "%s:%d:%08x", host, (int)getpid(), rnd);
	sha1_hex(script_reserve, sl->sha_reserve);
	sha1_hex(script_beat, sl->sha_beat);
	sl->deadline_ev = evtimer_new(base, on_deadline, sl);
	sl->retry_ev = evtimer_new(base, on_retry, sl);
	sl->beat_ev = event_new(base, -1, EV_PERSIST, on_beat, sl);
	sl->wake_ev = event_new(base, -1, 0, on_wake, sl);
	event_add(sl->beat_ev, &beat);
	/* Connect once the loop runs: the first deadline must not count
	 * the rest of the start-up. */
	event_active(sl->retry_ev, EV_TIMEOUT, 1);
	return sl;
}

void
shared_limits_free(struct shared_limits *sl)
{
	redisAsyncContext *ac;

	if (sl == NULL)
		return;
	ac = sl->ac;
	sl->ac = NULL; /* every pending callback is now stale */
	sl->closing = true;
	if (ac != NULL)
		redisAsyncFree(ac);
	event_free(sl->deadline_ev);
	event_free(sl->retry_ev);
	event_free(sl->beat_ev);
	event_free(sl->wake_ev);
	htab_free(&sl->keys, key_free);
	free(sl);
}

/* The local bucket of k at the fleet's limit divided by instances. */
static uint64_t
local_wait(struct shared_limits *sl, struct shared_key *k, double rate,
    double burst, uint64_t now)
{
	double lr = shared_fsm_local(&sl->fsm, rate);
	double lb = shared_fsm_local_burst(&sl->fsm, burst);

	if (!k->local_set) {
		bucket_init(&k->local, lr, lb, now);
		k->local_set = true;
	} else if (k->local.rate != lr)
		bucket_set(&k->local, lr, lb, now);
	return bucket_wait_us(&k->local, now);
}

/* Ask Redis for k's next lease; false when Redis is not there. */
static bool
reserve(
    struct shared_limits *sl, struct shared_key *k, double rate, double burst)
{
	struct shared_cmd *c;

	if (sl->ac == NULL || sl->fsm.state != SHARED_UP)
		return sl->fsm.state == SHARED_CONNECTING;
	c = cmd_new(sl, CMD_RESERVE);
	c->key = k;
	c->n = shared_lease_size(rate);
	c->interval = shared_interval_us(rate);
	c->tolerance = shared_tolerance_us(rate, burst);
	return cmd_go(sl, c) == 0;
}

uint64_t
shared_limits_wait_us(
    struct shared_limits *sl, const char *host, uint64_t now_us)
{
	struct shared_key *k;
	double rate, burst;
	uint64_t w;

	key_limits(sl, host, &rate, &burst);
	if (rate <= 0)
		return 0;
	k = key_get(sl, host);
	k->used_at = now_us;
	if (sl->fsm.state != SHARED_DOWN) {
		w = shared_lease_wait_us(&k->lease, now_us);
		if (w != SHARED_LEASE_EMPTY)
			return w;
		if (k->pending || reserve(sl, k, rate, burst)) {
			k->waiting = true;
			return SHARED_PENDING;
		}
	}
	return local_wait(sl, k, rate, burst, now_us);
}

void
shared_limits_take(struct shared_limits *sl, const char *host, uint64_t now_us)
{
	struct shared_key *k;
	double rate, burst;

	key_limits(sl, host, &rate, &burst);
	if (rate <= 0 || (k = htab_get(&sl->keys, host ? host : "")) == NULL)
		return;
	if (sl->fsm.state == SHARED_DOWN) {
		bucket_take(&k->local, now_us);
		return;
	}
	shared_lease_take(&k->lease);
	if (!k->pending && shared_lease_low(&k->lease, shared_lease_size(rate)))
		reserve(sl, k, rate, burst);
}

void
shared_limits_stats(const struct shared_limits *sl, struct shared_stats *st)
{
	*st = sl->st;
	st->state = sl->fsm.state;
	st->instances = sl->fsm.instances;
}

const char *
shared_limits_degraded(const struct shared_limits *sl)
{
	return sl->fsm.state == SHARED_DOWN ? sl->degraded : NULL;
}

int
shared_limits_call(struct shared_limits *sl, const struct shared_script *script,
    const char *const *argv, size_t argc, shared_call_fn fn, void *arg)
{
	struct shared_cmd *c;
	size_t i;

	if (sl->ac == NULL || sl->fsm.state == SHARED_DOWN)
		return -1;
	c = cmd_new(sl, CMD_CALL);
	c->script = script;
	c->argc = argc;
	c->argv = xcalloc(argc, sizeof(*c->argv));
	for (i = 0; i < argc; i++)
		c->argv[i] = xstrdup(argv[i]);
	c->fn = fn;
	c->fn_arg = arg;
	return cmd_go(sl, c);
}

enum shared_state
shared_limits_state(const struct shared_limits *sl)
{
	return sl->fsm.state;
}

uint32_t
shared_limits_instances(const struct shared_limits *sl)
{
	return sl->fsm.instances;
}

const char *
shared_limits_id(const struct shared_limits *sl)
{
	return sl->id;
}

const struct shared_addr *
shared_limits_addr(const struct shared_limits *sl)
{
	return &sl->addr;
}
