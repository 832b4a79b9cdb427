/*
 * shared_conc.h - per-host concurrency caps shared by every fanoutd on
 * the same Redis ([limits] shared_concurrency, issue #19): at most
 * per_host_concurrency attempts to one origin are in flight across the
 * fleet, not per instance.
 *
 * A slot is a member of the host's sorted set in Redis, scored by the
 * instant its lease ends on Redis's clock; a Lua script drops the
 * expired members and adds one if the set holds fewer than the cap.
 * The holder renews its members every third of [limits] shared_lease_ms
 * while its attempts run, and removes one as an attempt ends, publishing
 * the host's name on fanoutd:conc:free:DB. A dead instance renews
 * nothing: its slots come back within one lease.
 *
 * The scheduler asks for a slot as it admits an attempt (sched_slots):
 * a refused or unanswered host is parked with no timer and woken by a
 * notice on the channel (a second hiredis connection, subscribed), by
 * the instant the oldest lease ends (the script says when; the timer
 * fallback if a notice is lost), or by this instance's own release.
 *
 * Commands go through shared_limits' connection (shared_limits_call):
 * its command deadline, its fallback and its way back. While the limits
 * are DOWN each instance caps a host at per_host_concurrency divided by
 * the live instances (at least 1), logged once, in /metrics and
 * /healthz. An attempt never fails because Redis is away.
 */
#ifndef FANOUTD_SHARED_CONC_H
#define FANOUTD_SHARED_CONC_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "config.h"
#include "shared_limits.h"

struct shared_conc;

/*
 * Share cfg's per_host_concurrency through sl's Redis (sl and cfg must
 * outlive it). ready is shared_limits' callback type: a parked host (or
 * all) may be admitted now.
 */
struct shared_conc *shared_conc_new(struct event_base *base,
    const struct config *cfg, struct shared_limits *sl, shared_ready_fn ready,
    void *arg);
/* Give the slots up (they expire in Redis); no callback runs after. */
void shared_conc_free(struct shared_conc *sc);

/* May an attempt to host start now? Yes: it holds a slot until
 * shared_conc_release. No: ready follows when it may. */
bool shared_conc_acquire(
    struct shared_conc *sc, const char *host, uint64_t now_us);
void shared_conc_release(struct shared_conc *sc, const char *host);

void shared_conc_stats(
    const struct shared_conc *sc, struct shared_conc_stats *st);
/* NULL while shared, else one sentence for /healthz. */
const char *shared_conc_degraded(struct shared_conc *sc);

#endif
