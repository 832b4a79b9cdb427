/*
 * test_rate.c - the stats rate estimate (rate.h) with an injected clock:
 * a slow job (one item every 4 s, sampled each second) reads a steady
 * 0.25/s, within 30% from its second item on and 15% from its fifth
 * (the mean since the start), where a one-second
 * difference swings from 0 to 1; the mean since the start seeds it; a
 * change of pace shows within a few time constants; a count that goes
 * back restarts it; updates under 0.5 s apart keep the estimate.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rate.h"

#define SEC 1000000ull
#define TAU 30.0

static void
test_slow_job_is_steady(void **state)
{
	struct rate_est e = {0};
	double r, lo = 1e9, hi = 0, lo2 = 1e9, hi2 = 0;
	uint64_t t, count = 0;

	(void)state;
	rate_update(&e, 0, 0, TAU, 0, 0);
	for (t = 1; t <= 300; t++) {
		if (t % 4 == 0)
			count++;
		r = rate_update(&e, count, t * SEC, TAU, 0, 0);
		if (t >= 8) { /* from the second item on */
			lo2 = r < lo2 ? r : lo2;
			hi2 = r > hi2 ? r : hi2;
		}
		if (t >= 20) { /* from the fifth */
			lo = r < lo ? r : lo;
			hi = r > hi ? r : hi;
		}
	}
	assert_true(lo2 > 0.25 * 0.7);
	assert_true(hi2 < 0.25 * 1.3);
	assert_true(lo > 0.25 * 0.85);
	assert_true(hi < 0.25 * 1.15);
}

static void
test_seed_counts_as_history(void **state)
{
	struct rate_est e = {0};
	double r;

	(void)state;
	/* A job seen first after 100 s at 0.25/s: 0.25 worth 30 s. */
	r = rate_update(&e, 25, 0, TAU, 0.25, 30);
	assert_true(fabs(r - 0.25) < 1e-9);
	/* One second with nothing ended barely moves it. */
	r = rate_update(&e, 25, SEC, TAU, 0.25, 30);
	assert_true(r > 0.24 && r < 0.25);
	/* Without a seed the mean since first seen is exact. */
	e = (struct rate_est){0};
	rate_update(&e, 0, 0, TAU, 0, 0);
	rate_update(&e, 10, 2 * SEC, TAU, 0, 0);
	r = rate_update(&e, 10, 4 * SEC, TAU, 0, 0);
	assert_true(fabs(r - 2.5) < 1e-9);
}

static void
test_follows_a_change_of_pace(void **state)
{
	struct rate_est e = {0};
	uint64_t t, count = 0;
	double r = 0;

	(void)state;
	rate_update(&e, 0, 0, TAU, 0, 0);
	for (t = 1; t <= 120; t++)
		r = rate_update(&e, count += 10, t * SEC, TAU, 0, 0);
	assert_true(fabs(r - 10) < 0.01);
	for (t = 121; t <= 120 + 4 * (uint64_t)TAU; t++)
		r = rate_update(&e, count += 100, t * SEC, TAU, 0, 0);
	assert_true(r > 95 && r < 100);
}

static void
test_restart_and_too_soon(void **state)
{
	struct rate_est e = {0};
	double r;

	(void)state;
	rate_update(&e, 100, 0, 1.5, 0, 0);
	r = rate_update(&e, 110, SEC, 1.5, 0, 0);
	assert_true(fabs(r - 10) < 1e-9);
	/* 0.2 s later: too soon, the last estimate stays. */
	r = rate_update(&e, 500, SEC + SEC / 5, 1.5, 0, 0);
	assert_true(fabs(r - 10) < 1e-9);
	/* The count went back (a new host entry): start again. */
	r = rate_update(&e, 3, 2 * SEC, 1.5, 7, 0);
	assert_true(fabs(r - 7) < 1e-9);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_slow_job_is_steady),
	    cmocka_unit_test(test_seed_counts_as_history),
	    cmocka_unit_test(test_follows_a_change_of_pace),
	    cmocka_unit_test(test_restart_and_too_soon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
