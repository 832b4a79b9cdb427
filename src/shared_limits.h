/*
 * shared_limits.h - rate limits shared by every fanoutd pointed at the
 * same Redis ([limits] shared, issue #19): the per-host rate and the
 * global rate, when set, hold for the fleet rather than per instance.
 *
 * The engine hands the scheduler this module's wait/take pair in place
 * of its own global and per-host buckets (scheduler.h, struct
 * sched_tokens). Slots come from Redis in small leases reserved by a
 * GCRA script run on Redis's clock (shared_policy.h); a key whose lease
 * is empty answers "not yet" and calls the ready callback once the
 * reservation is back, so the scheduler sleeps on its timer exactly as
 * long as the slot says, and never polls.
 *
 * The client is hiredis (Debian's 0.14) with its libevent adapter on the
 * daemon's own loop. 0.14 has no command timeout: every command carries
 * a deadline and one timer watches the oldest. When Redis refuses,
 * closes, errs or does not answer within [limits] shared_timeout_ms,
 * each instance falls back to local buckets at the limit divided by the
 * number of live instances (every instance keeps a heartbeat entry with
 * a TTL in Redis; the last count is used), logs it once, reports it in
 * /metrics and /healthz, and reconnects with a doubling backoff; the
 * first heartbeat answered brings it back to Redis. An item never fails
 * because Redis is away.
 */
#ifndef FANOUTD_SHARED_LIMITS_H
#define FANOUTD_SHARED_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <hiredis/async.h>

#include "config.h"
#include "shared_policy.h"

struct shared_limits;

/* shared_limits_wait_us when the answer is not known yet. */
#define SHARED_PENDING UINT64_MAX

/*
 * A key the scheduler was told SHARED_PENDING for can answer now: host
 * is the origin, NULL for the global rate; all: every waiting key
 * (Redis came back, or went away).
 */
typedef void (*shared_ready_fn)(void *arg, const char *host, bool all);

/*
 * Connect to cfg->shared (which must parse) on base; the rates are read
 * from cfg (which must outlive it) at every question, so a reload
 * applies at once. Returns NULL with a reason in why.
 */
struct shared_limits *shared_limits_new(struct event_base *base,
    const struct config *cfg, shared_ready_fn ready, void *arg, char *why,
    size_t whylen);
/* Close the connection; no callback runs after this. */
void shared_limits_free(struct shared_limits *sl);

/* Microseconds until a slot of host's rate (NULL: the global rate) is
 * there at now_us, 0 when it is now, SHARED_PENDING when not known yet
 * (ready follows). */
uint64_t shared_limits_wait_us(
    struct shared_limits *sl, const char *host, uint64_t now_us);
/* Spend the slot wait_us just offered. */
void shared_limits_take(
    struct shared_limits *sl, const char *host, uint64_t now_us);

/* A key nobody asked about for this long is forgotten (shared_limits,
 * shared_conc). */
#define SHARED_IDLE_US 60000000ull

/* A Lua script another module runs through this connection: its body
 * and SHA-1 (EVALSHA first, EVAL after NOSCRIPT). */
struct shared_script {
	const char *body;
	char sha[41];
};
void shared_script_init(struct shared_script *s, const char *body);

/* The answer to shared_limits_call: ok with the script's integer reply,
 * or !ok when Redis failed it (the limits are DOWN by then). */
typedef void (*shared_call_fn)(void *arg, bool ok, long long value);

/*
 * Run script (which must outlive the call) with one key, argv[0], and
 * the arguments argv[1..argc) on this connection, under its command
 * deadline and fallback. Returns -1 (fn never runs) when Redis is down
 * or away; else fn runs exactly once, unless sl is freed first.
 */
int shared_limits_call(struct shared_limits *sl,
    const struct shared_script *script, const char *const *argv, size_t argc,
    shared_call_fn fn, void *arg);

/* The connection's state, the live instances last counted (>= 1), this
 * instance's id in Redis, and Redis's address. */
enum shared_state shared_limits_state(const struct shared_limits *sl);
uint32_t shared_limits_instances(const struct shared_limits *sl);
const char *shared_limits_id(const struct shared_limits *sl);
const struct shared_addr *shared_limits_addr(const struct shared_limits *sl);

/* A hiredis connection to addr attached to base, with data and the two
 * callbacks set; NULL with a reason in why. */
redisAsyncContext *shared_redis_open(const struct shared_addr *addr,
    struct event_base *base, void *data, redisConnectCallback *on_conn,
    redisDisconnectCallback *on_disc, char *why, size_t whylen);

void shared_limits_stats(
    const struct shared_limits *sl, struct shared_stats *st);

/* NULL while the limits are shared (or first connecting), else one
 * sentence: why they are local now, and at what share. */
const char *shared_limits_degraded(const struct shared_limits *sl);

#endif
