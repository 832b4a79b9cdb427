/*
 * shared_policy.h - the pure parts of the rate limits a fleet shares in
 * Redis (issue #19, [limits] shared): the address of the Redis, the
 * local lease of slots one reservation hands back, how many slots a
 * reservation asks for, the fallback state machine (shared, or local
 * buckets at the limit divided by the live instances while Redis is
 * away, with reconnection backoff), and what to do with a script reply
 * (EVALSHA, then EVAL on NOSCRIPT).
 *
 * The reservation itself is GCRA computed inside Redis on Redis's clock
 * (shared_limits.c holds the script): a call for n slots answers with
 * the offset of the first slot from Redis's "now" (negative when the
 * burst allows it already) and the slots follow one emission interval
 * apart. The lease turns that answer into local monotonic instants,
 * taking the instant the answer arrived as Redis's "now": an answer
 * comes after Redis computed it, so every local slot is at or after the
 * instant Redis granted, and a fleet never goes faster than the limit
 * however the instances' clocks drift.
 *
 * No I/O here: times are microseconds on a monotonic clock passed in.
 */
#ifndef FANOUTD_SHARED_POLICY_H
#define FANOUTD_SHARED_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- the address ---------------------------------------------------------- */

#define SHARED_HOST_LEN 256
#define SHARED_PATH_LEN 512

struct shared_addr {
	bool unix_sock;             /* path, else host:port */
	char host[SHARED_HOST_LEN]; /* IPv6 without brackets */
	int port;                   /* 6379 when not given */
	char path[SHARED_PATH_LEN]; /* unix socket */
	int db;                     /* SELECT db when > 0 */
};

/*
 * Parse "redis://HOST[:PORT][/DB]" (HOST a name, an IPv4 address or a
 * bracketed IPv6 one) or "unix:/PATH[?db=DB]". Returns 0, or -1 with one
 * sentence in why.
 */
int shared_addr_parse(
    const char *s, struct shared_addr *a, char *why, size_t whylen);

/* --- the lease ------------------------------------------------------------ */

/* Slots one reservation may take, at most; a lease holds up to twice
 * that (the next reservation arrives with up to half of one left). */
#define SHARED_LEASE_MAX  64
#define SHARED_LEASE_RING (2 * SHARED_LEASE_MAX)
/* A reservation takes the slots of this long at the limit's rate. */
#define SHARED_LEASE_WINDOW_US 100000ull
/* A slot unused this long after it opened is dropped: reserved slots
 * spread in Redis's timeline; spent much later, after the next ones,
 * they would add to a burst. */
#define SHARED_LEASE_TTL_US 1000000ull
/* lease_wait_us when the lease holds no slot: reserve more. */
#define SHARED_LEASE_EMPTY UINT64_MAX

struct shared_lease {
	uint64_t slot[SHARED_LEASE_RING]; /* when each slot opens (local) */
	unsigned head;                    /* the next slot */
	unsigned count;                   /* slots held */
};

/* How many slots a reservation asks for at rate/s: the window's worth,
 * at least 1, at most SHARED_LEASE_MAX. */
unsigned shared_lease_size(double rate);

/* The emission interval (µs between slots) at rate/s, and GCRA's
 * tolerance for burst (burst 0: one second's worth, as bucket.h). */
uint64_t shared_interval_us(double rate);
uint64_t shared_tolerance_us(double rate, double burst);

/*
 * Add the n slots a reservation answered at local time now: the first
 * opens first_us from now (negative: already open), the rest interval
 * apart. Slots that would open before now open now. Slots beyond
 * SHARED_LEASE_RING are lost (a lower rate, never a higher one).
 */
void shared_lease_add(struct shared_lease *l, uint64_t now_us, int64_t first_us,
    uint64_t interval_us, unsigned n);

/* Microseconds until the next slot opens (0: open now), dropping the
 * expired ones; SHARED_LEASE_EMPTY when none is left. */
uint64_t shared_lease_wait_us(struct shared_lease *l, uint64_t now_us);

/* Spend the next slot; only after shared_lease_wait_us returned 0. */
void shared_lease_take(struct shared_lease *l);

/* Drop every slot (Redis went away: they may no longer be honoured). */
void shared_lease_clear(struct shared_lease *l);

/* Should a reservation go out now, ahead of need? When at most half a
 * reservation's worth is left, so the next slots arrive before the
 * last ones are spent. */
bool shared_lease_low(const struct shared_lease *l, unsigned size);

/* --- the fallback state machine ------------------------------------------- */

enum shared_state {
	SHARED_CONNECTING = 0, /* first connection: waiting for Redis */
	SHARED_UP,             /* slots come from Redis */
	SHARED_DOWN,           /* local buckets at limit / instances */
	SHARED__COUNT
};

const char *shared_state_name(enum shared_state st);

/* What /metrics shows of the shared limits. */
struct shared_stats {
	enum shared_state state;
	uint32_t instances;    /* live instances last counted */
	uint64_t reservations; /* reservation calls answered by Redis */
	uint64_t slots;        /* slots they granted */
	uint64_t fallbacks;    /* times the limits fell back to local */
	uint64_t timeouts;     /* commands not answered in time */
};

/* What /metrics shows of the shared concurrency (shared_conc.h). */
struct shared_conc_stats {
	bool local;          /* capped locally (Redis away) */
	uint64_t held;       /* slots this instance holds in Redis now */
	uint64_t local_cap;  /* the per-host cap while local */
	uint64_t acquired;   /* slots Redis granted */
	uint64_t refused;    /* acquisitions refused: the fleet was full */
	uint64_t notices;    /* "a slot is free" notices received */
	uint64_t lost;       /* held slots found expired at renewal */
	uint64_t subscribed; /* 1 while the notice channel is subscribed */
};

#define SHARED_BACKOFF_MIN_US 100000ull  /* first reconnection delay */
#define SHARED_BACKOFF_MAX_US 2000000ull /* the longest */

struct shared_fsm {
	enum shared_state state;
	uint32_t instances;  /* live instances last counted (>= 1) */
	uint64_t backoff_us; /* the next reconnection delay */
	uint64_t retry_at;   /* when DOWN: reconnect then */
	uint64_t since;      /* when the state was entered */
	uint64_t fallbacks;  /* UP or CONNECTING -> DOWN, counted */
	char why[160];       /* when DOWN: what went wrong */
};

void shared_fsm_init(struct shared_fsm *f, uint64_t now_us);

/* Redis answered the heartbeat: count live instances (0 is read as 1).
 * Returns true when this is a return from DOWN or the first success
 * (worth a log line). */
bool shared_fsm_up(struct shared_fsm *f, uint32_t instances, uint64_t now_us);

/*
 * Redis failed (refused, closed, an error reply, no answer in time).
 * Returns true when this turned the state to DOWN (log it once); when
 * already DOWN, only the next reconnection is pushed back (doubling
 * backoff).
 */
bool shared_fsm_down(struct shared_fsm *f, const char *why, uint64_t now_us);

/* The rate (and burst) each instance uses on its own while DOWN: the
 * shared one divided by the instances last counted; a burst at least 1
 * (0 stays 0: one second's worth of the divided rate). */
double shared_fsm_local(const struct shared_fsm *f, double shared);
double shared_fsm_local_burst(const struct shared_fsm *f, double burst);

/* --- script replies ------------------------------------------------------ */

enum shared_reply {
	SHARED_REPLY_OK,    /* use it */
	SHARED_REPLY_RETRY, /* NOSCRIPT to an EVALSHA: send it as EVAL */
	SHARED_REPLY_FAIL,  /* anything else: Redis is failing */
};

/*
 * What to do with the reply to a script call: is_int when it is an
 * integer reply, err the error text when it is an error (else NULL),
 * was_eval when the call already sent the script's body.
 */
enum shared_reply shared_reply_kind(
    bool is_int, const char *err, bool was_eval);

#endif
