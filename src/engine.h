/*
 * engine.h - the dispatch engine's one front (DESIGN.md §4: server ->
 * engine/batch -> {scheduler, fetch} -> pool). The engine owns what
 * every batch shares: the resolver, the connection pool, the egress
 * policy, the fetcher and the scheduler with its one timer; it turns
 * the configuration into their limits at start and on reload, decides
 * whether a new batch may start, and reports the gauges /metrics shows.
 * The server and main talk to it, and to the batches it runs (batch.h),
 * and to nothing below it.
 *
 * The configuration is read in place: main replaces the struct config
 * the engine was given on reload, then calls engine_reload().
 */
#ifndef FANOUTD_ENGINE_H
#define FANOUTD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "err.h"
#include "metrics.h"

struct engine;

/*
 * Build the engine on base from cfg (which must outlive it): resolver,
 * pool (TLS client context), egress policy, fetcher, scheduler. Returns
 * NULL with a reason in why.
 */
struct engine *engine_new(struct event_base *base, const struct config *cfg,
    char *why, size_t whylen);
/* Every batch must have ended or been cancelled. */
void engine_free(struct engine *e);

/*
 * The configuration changed in place (SIGHUP): the server-wide limits
 * (concurrency, rates, per host) and the egress policy apply now, to
 * running batches too; idle-pool limits and response caps are read
 * where they are used. Batch defaults apply to the next batches.
 */
void engine_reload(struct engine *e);

/* The TCP addresses fanoutd listens on (real ports): the egress policy
 * denies them, and every address of this host for a wildcard listener,
 * so a batch can never make fanoutd call itself. Kept across reloads. */
void engine_set_self(
    struct engine *e, const struct sockaddr_storage *addrs, unsigned n);

/*
 * May a new batch start now? RERR__COUNT when it may; else
 * RERR_DRAINING (shutting down) or RERR_BUSY ([server]
 * max_active_batches running), with one sentence in msg. Both are worth
 * a Retry-After.
 */
enum req_err engine_admit(const struct engine *e, char *msg, size_t msglen);

/* Shutting down: no new batch is admitted; running ones carry on. */
void engine_drain(struct engine *e);
bool engine_draining(const struct engine *e);

/* The gauges /metrics shows: batches running, attempts in flight and
 * queued, upstream connections, time queues waited for tokens. */
void engine_gauges(const struct engine *e, struct metrics_gauges *g);

/* Each upstream host a running batch has a queue for (scheduler.h). */
struct sched_host_view;
void engine_hosts(const struct engine *e,
    void (*fn)(const struct sched_host_view *v, void *arg), void *arg);
/* NULL when the engine is whole; else one sentence on what is not (the
 * shared limits fell back to local buckets), for /healthz. */
const char *engine_degraded(const struct engine *e);

#endif
