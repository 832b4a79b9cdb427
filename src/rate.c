/*
 * rate.c - a stable rate estimate: a cumulative mean that turns into an
 * exponentially weighted moving average (see rate.h).
 */
#include <math.h>

#include "rate.h"

#define RATE_MIN_DT_S 0.5 /* closer updates keep the last estimate */

/* Starts the estimate at count: seed, worth seed_s seconds. */
void
rate_start(struct rate_est *e, uint64_t count, uint64_t now_us, double seed,
    double seed_s)
{
	e->count = count;
	e->at_us = now_us;
	e->rate = seed > 0 ? seed : 0;
	e->span_s = seed_s > 0 ? seed_s : 0;
	e->started = true;
}

/*
 * One step: the rate over the last dt seconds moves the estimate by
 * alpha, the larger of the mean's weight (dt over all it covers, so the
 * estimate is exactly the mean since the start, seed included) and the
 * EWMA's (1 - exp(-dt / tau_s)).
 */
double
rate_update(struct rate_est *e, uint64_t count, uint64_t now_us, double tau_s,
    double seed, double seed_s)
{
	double dt, inst, alpha, ewma;

	if (!e->started || count < e->count || now_us < e->at_us) {
		rate_start(e, count, now_us, seed, seed_s);
		return e->rate;
	}
	dt = (double)(now_us - e->at_us) / 1e6;
	if (dt < RATE_MIN_DT_S)
		return e->rate;
	inst = (double)(count - e->count) / dt;
	e->span_s += dt;
	alpha = dt / e->span_s;
	ewma = tau_s > 0 ? 1 - exp(-dt / tau_s) : 1;
	if (ewma > alpha)
		alpha = ewma;
	e->rate += alpha * (inst - e->rate);
	e->count = count;
	e->at_us = now_us;
	return e->rate;
}
