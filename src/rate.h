/*
 * rate.h - a stable estimate of a count's rate (items per second) for
 * GET /v1/stats: the rate and ETA of a job, a batch, a host. Pure: the
 * caller passes the count and the time (microseconds, monotonic), so
 * tests drive the arithmetic exactly.
 *
 * The estimate is the count's mean rate since it was first seen (a
 * seed - say the mean since the job started - counts as `seed_s`
 * seconds of it) until that mean covers tau_s seconds, then an
 * exponentially weighted moving average with time constant tau_s over
 * the rates between updates (alpha = 1 - exp(-dt / tau_s)). A job that
 * ends one item every four seconds so reads a steady 0.25/s, not 0, 1,
 * 0, 0.5 as a one-second difference would, and a change of pace shows
 * within about tau_s.
 */
#ifndef FANOUTD_RATE_H
#define FANOUTD_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct rate_est {
	uint64_t count; /* the count at the last update */
	uint64_t at_us; /* when */
	double span_s;  /* seconds the mean covers (seed included) */
	double rate;    /* the estimate, per second */
	bool started;
};

/* Starts (or restarts, when the count went back) at count, with the
 * estimate `seed` worth seed_s seconds of observation (0: none). */
void rate_start(struct rate_est *e, uint64_t count, uint64_t now_us,
    double seed, double seed_s);

/* The estimate with count as of now_us. Updates less than 0.5 s apart
 * keep the last estimate (the count waits for the next). */
double rate_update(struct rate_est *e, uint64_t count, uint64_t now_us,
    double tau_s, double seed, double seed_s);

#endif
