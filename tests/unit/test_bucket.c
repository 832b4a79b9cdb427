/*
 * test_bucket.c - token bucket arithmetic with an injected clock: a full
 * bucket allows exactly `burst` at once, then one token per 1/rate; the
 * wait it reports is the exact refill instant; rate 0 never waits; over
 * ten simulated seconds at 20/s burst 1 exactly 201 attempts pass, evenly
 * spaced.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bucket.h"

#define SEC 1000000ull

static void
test_full_bucket_allows_burst_then_waits(void **state)
{
	struct bucket b;
	int i;

	bucket_init(&b, 10, 5, 0);
	for (i = 0; i < 5; i++) {
		assert_int_equal(bucket_wait_us(&b, 0), 0);
		bucket_take(&b, 0);
	}
	assert_int_equal(bucket_wait_us(&b, 0), 100000);
	assert_int_equal(bucket_wait_us(&b, 40000), 60000);
	assert_int_equal(bucket_wait_us(&b, 100000), 0);
}

static void
test_rate_never_bursts_past_burst(void **state)
{
	struct bucket b;
	int i, n = 0;

	bucket_init(&b, 100, 3, 0);
	/* A long idle time refills to burst, not more. */
	for (i = 0; i < 10; i++)
		if (bucket_wait_us(&b, 60 * SEC) == 0) {
			bucket_take(&b, 60 * SEC);
			n++;
		}
	assert_int_equal(n, 3);
}

static void
test_zero_rate_is_unlimited(void **state)
{
	struct bucket b;
	int i;

	bucket_init(&b, 0, 0, 0);
	assert_true(bucket_unlimited(&b));
	for (i = 0; i < 100000; i++) {
		assert_int_equal(bucket_wait_us(&b, 0), 0);
		bucket_take(&b, 0);
	}
}

static void
test_default_burst_is_one_second_and_at_least_one(void **state)
{
	struct bucket b;

	bucket_init(&b, 20, 0, 0);
	assert_true(b.burst == 20);
	bucket_init(&b, 0.5, 0, 0);
	assert_true(b.burst == 1);
}

/* Drive a bucket the way the scheduler does: wait exactly as told. */
static void
test_ten_seconds_at_20_per_second_burst_1(void **state)
{
	struct bucket b;
	uint64_t now = 0, prev = 0, w;
	int n = 0;

	bucket_init(&b, 20, 1, 0);
	while (now <= 10 * SEC) {
		w = bucket_wait_us(&b, now);
		if (w > 0) {
			now += w;
			continue;
		}
		if (n > 0)
			assert_int_equal(now - prev, 50000); /* evenly spaced */
		bucket_take(&b, now);
		prev = now;
		n++;
	}
	assert_int_equal(n, 201); /* t = 0, 0.05, ..., 10.0 */
}

static void
test_set_keeps_level_within_new_burst(void **state)
{
	struct bucket b;

	bucket_init(&b, 10, 10, 0);
	bucket_set(&b, 10, 2, 0);
	assert_true(b.tokens == 2);
	bucket_set(&b, 0, 0, 0);
	assert_int_equal(bucket_wait_us(&b, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_full_bucket_allows_burst_then_waits),
	    cmocka_unit_test(test_rate_never_bursts_past_burst),
	    cmocka_unit_test(test_zero_rate_is_unlimited),
	    cmocka_unit_test(test_default_burst_is_one_second_and_at_least_one),
	    cmocka_unit_test(test_ten_seconds_at_20_per_second_burst_1),
	    cmocka_unit_test(test_set_keeps_level_within_new_burst),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
