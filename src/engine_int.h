/*
 * engine_int.h - the engine's inside, shared by engine.c (the front)
 * and batch.c (the batches it runs). Nothing else includes it: callers
 * see engine.h and batch.h.
 */
#ifndef FANOUTD_ENGINE_INT_H
#define FANOUTD_ENGINE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "config.h"
#include "egress.h"
#include "engine.h"
#include "fetch.h"
#include "scheduler.h"
#include "shared_conc.h"
#include "shared_limits.h"

struct engine {
	struct event_base *base;
	const struct config *cfg;
	struct resolver *resolver;
	struct pool *pool;
	struct egress egress; /* rebuilt on reload */
	struct sockaddr_storage self[CONFIG_MAX_LISTEN];
	unsigned nself; /* fanoutd's own addresses, which egress denies */
	struct fetch_ctx fetch;
	struct xpool *xpool; /* HTML extraction's parser threads */
	struct sched *sched;
	struct shared_limits *shared; /* [limits] shared; NULL: local */
	struct shared_conc *conc;     /* shared_concurrency; NULL: local */
	struct event *sched_ev; /* fires when rate-limited queues may move */
	uint64_t sched_at;      /* when sched_ev fires, if pending */
	uint64_t rng;           /* xorshift64* state, for backoff jitter */
	uint64_t active;        /* batches running */
	bool draining;
};

/* Dispatch what the caps and buckets allow now, and arm the scheduler
 * timer for the next token refill that matters. */
void engine_schedule(struct engine *e);

/* Uniform in [0, 1), for backoff jitter. */
double engine_rand01(struct engine *e);

#endif
