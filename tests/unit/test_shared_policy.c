/*
 * test_shared_policy.c - the pure parts of the shared rate limits
 * (issue #19) with an injected clock: the Redis address forms and their
 * errors; a reservation's answer turned into local slots, exactly spaced,
 * never earlier than granted, expiring when left unused; the lease size
 * against the rate (fewer round trips than items at high rates); GCRA's
 * tolerance for a burst; the fallback state machine (logged once, backoff
 * doubling to its cap, the limit divided among the live instances, back
 * to shared); and the NOSCRIPT rule.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shared_policy.h"

#define MS 1000ull
#define S  1000000ull

static void
test_addr_forms(void **state)
{
	struct shared_addr a;
	char why[200];

	assert_int_equal(
	    shared_addr_parse("redis://127.0.0.1:6380/2", &a, why, sizeof(why)),
	    0);
	assert_false(a.unix_sock);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6380);
	assert_int_equal(a.db, 2);
	assert_int_equal(
	    shared_addr_parse("redis://cache.internal", &a, why, sizeof(why)),
	    0);
	assert_string_equal(a.host, "cache.internal");
	assert_int_equal(a.port, 6379);
	assert_int_equal(a.db, 0);
	assert_int_equal(
	    shared_addr_parse("redis://[::1]:7000/", &a, why, sizeof(why)), 0);
	assert_string_equal(a.host, "::1");
	assert_int_equal(a.port, 7000);
	assert_int_equal(shared_addr_parse("unix:/run/redis/redis.sock?db=3",
	                     &a, why, sizeof(why)),
	    0);
	assert_true(a.unix_sock);
	assert_string_equal(a.path, "/run/redis/redis.sock");
	assert_int_equal(a.db, 3);
}

static void
test_addr_errors_say_what(void **state)
{
	static const char *const bad[] = {"127.0.0.1:6379", "redis://",
	    "redis://h:0", "redis://h:65536", "redis://h:x", "redis://h/x",
	    "redis://u:p@h:1", "redis://[::1", "redis://[zz]:1",
	    "redis://h o:1", "unix:relative", "unix:/s?x=1", "http://h"};
	struct shared_addr a;
	char why[200];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		if (shared_addr_parse(bad[i], &a, why, sizeof(why)) != -1)
			fail_msg("accepted %s", bad[i]);
		assert_true(why[0] != '\0');
	}
}

static void
test_lease_slots_are_spaced_and_never_early(void **state)
{
	struct shared_lease l = {0};
	uint64_t now = 10 * S;
	int k;

	/* Redis: the first slot 30 ms after its now, 20 ms apart. */
	shared_lease_add(&l, now, 30000, 20000, 5);
	assert_int_equal(l.count, 5);
	for (k = 0; k < 5; k++) {
		uint64_t at = now + 30 * MS + (uint64_t)k * 20 * MS;

		assert_int_equal(shared_lease_wait_us(&l, at - 1), 1);
		assert_int_equal(shared_lease_wait_us(&l, at), 0);
		shared_lease_take(&l);
	}
	assert_true(shared_lease_wait_us(&l, now + S) == SHARED_LEASE_EMPTY);
}

static void
test_lease_burst_opens_now(void **state)
{
	struct shared_lease l = {0};
	uint64_t now = 5 * S;
	int open = 0;

	/* Burst 4 at 50/s from an idle key: tolerance 60 ms, so the
	 * first slot opened 60 ms ago; four are open now, not five. */
	shared_lease_add(&l, now, -60000, 20000, 5);
	while (shared_lease_wait_us(&l, now) == 0) {
		shared_lease_take(&l);
		open++;
	}
	assert_int_equal(open, 4);
	assert_int_equal(shared_lease_wait_us(&l, now), 20000);
}

static void
test_lease_unused_slots_expire(void **state)
{
	struct shared_lease l = {0};

	shared_lease_add(&l, 0, 0, 100000, 3); /* at 0, 100, 200 ms */
	assert_int_equal(shared_lease_wait_us(&l, 0), 0);
	/* 1.05 s later the first has expired, the next two are open. */
	assert_int_equal(
	    shared_lease_wait_us(&l, SHARED_LEASE_TTL_US + 50 * MS), 0);
	assert_int_equal(l.count, 2);
	assert_true(shared_lease_wait_us(&l, 10 * S) == SHARED_LEASE_EMPTY);
}

static void
test_lease_keeps_a_prefetched_reservation_whole(void **state)
{
	struct shared_lease l = {0};
	unsigned n = shared_lease_size(1e6), k;

	/* The largest lease, spent to the prefetch point, then the next
	 * one arrives: every slot of both is kept (none lost = no rate
	 * lost), in order. */
	shared_lease_add(&l, 0, 0, 10, n);
	while (!shared_lease_low(&l, n))
		shared_lease_take(&l);
	k = l.count;
	shared_lease_add(&l, 0, 1000, 10, n);
	assert_int_equal(l.count, k + n);
	while (l.count > 1)
		shared_lease_take(&l);
	assert_int_equal(shared_lease_wait_us(&l, 0), 1000 + (n - 1) * 10);
	/* Beyond the ring, slots are dropped, never overwritten. */
	shared_lease_add(&l, 0, 0, 1, SHARED_LEASE_RING);
	assert_int_equal(l.count, SHARED_LEASE_RING);
	shared_lease_clear(&l);
	assert_true(shared_lease_wait_us(&l, 0) == SHARED_LEASE_EMPTY);
}

static void
test_lease_size_cuts_round_trips_at_high_rates(void **state)
{
	assert_int_equal(shared_lease_size(0), 1);
	assert_int_equal(shared_lease_size(1), 1);
	assert_int_equal(shared_lease_size(10), 1);
	assert_int_equal(shared_lease_size(50), 5);
	assert_int_equal(shared_lease_size(200), 20);
	assert_int_equal(shared_lease_size(1e6), SHARED_LEASE_MAX);
	/* Prefetch once half a lease is left. */
	{
		struct shared_lease l = {0};

		shared_lease_add(&l, 0, 0, 1, 3);
		assert_false(shared_lease_low(&l, 5));
		shared_lease_take(&l);
		assert_true(shared_lease_low(&l, 5));
	}
}

static void
test_gcra_interval_and_tolerance(void **state)
{
	assert_int_equal(shared_interval_us(50), 20000);
	assert_int_equal(shared_interval_us(3), 333334); /* never faster */
	assert_int_equal(shared_tolerance_us(50, 1), 0);
	assert_int_equal(shared_tolerance_us(50, 5), 80000);
	/* Burst 0: one second's worth, as the local buckets. */
	assert_int_equal(shared_tolerance_us(50, 0), 49 * 20000);
	assert_int_equal(shared_tolerance_us(0.5, 0), 0);
}

static void
test_fallback_logged_once_with_backoff(void **state)
{
	struct shared_fsm f;
	uint64_t now = 100 * S;
	int logs = 0, i;

	shared_fsm_init(&f, now);
	assert_int_equal(f.state, SHARED_CONNECTING);
	assert_true(shared_fsm_up(&f, 2, now));
	assert_false(shared_fsm_up(&f, 2, now + S));
	for (i = 0; i < 8; i++)
		logs += shared_fsm_down(&f, "connection refused", now);
	assert_int_equal(logs, 1);
	assert_int_equal(f.fallbacks, 1);
	assert_int_equal(f.state, SHARED_DOWN);
	assert_string_equal(f.why, "connection refused");
	/* 100 ms, 200, ... doubling, then held at the cap. */
	assert_int_equal(f.retry_at, now + SHARED_BACKOFF_MAX_US);
	assert_true(shared_fsm_up(&f, 2, now + 5 * S));
	assert_int_equal(f.backoff_us, SHARED_BACKOFF_MIN_US);
	shared_fsm_down(&f, "timeout", now + 6 * S);
	assert_int_equal(f.retry_at, now + 6 * S + SHARED_BACKOFF_MIN_US);
	assert_int_equal(f.fallbacks, 2);
}

static void
test_fallback_divides_among_instances(void **state)
{
	struct shared_fsm f;

	shared_fsm_init(&f, 0);
	shared_fsm_up(&f, 2, 0);
	shared_fsm_down(&f, "gone", 0);
	assert_true(shared_fsm_local(&f, 50) == 25);
	assert_true(shared_fsm_local_burst(&f, 5) == 2.5);
	assert_true(shared_fsm_local_burst(&f, 1) == 1); /* at least 1 */
	assert_true(shared_fsm_local_burst(&f, 0) == 0); /* the default */
	assert_true(shared_fsm_local(&f, 0) == 0);       /* unlimited */
	shared_fsm_up(&f, 0, 0); /* a count of 0 is read as 1 */
	assert_true(shared_fsm_local(&f, 50) == 50);
}

static void
test_noscript_retries_once_as_eval(void **state)
{
	assert_int_equal(shared_reply_kind(true, NULL, false), SHARED_REPLY_OK);
	assert_int_equal(
	    shared_reply_kind(false, "NOSCRIPT No matching script", false),
	    SHARED_REPLY_RETRY);
	assert_int_equal(
	    shared_reply_kind(false, "NOSCRIPT No matching script", true),
	    SHARED_REPLY_FAIL);
	assert_int_equal(
	    shared_reply_kind(false, "OOM command not allowed", false),
	    SHARED_REPLY_FAIL);
	assert_int_equal(shared_reply_kind(false, NULL, false),
	    SHARED_REPLY_FAIL); /* not an integer */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr_forms),
	    cmocka_unit_test(test_addr_errors_say_what),
	    cmocka_unit_test(test_lease_slots_are_spaced_and_never_early),
	    cmocka_unit_test(test_lease_burst_opens_now),
	    cmocka_unit_test(test_lease_unused_slots_expire),
	    cmocka_unit_test(test_lease_keeps_a_prefetched_reservation_whole),
	    cmocka_unit_test(test_lease_size_cuts_round_trips_at_high_rates),
	    cmocka_unit_test(test_gcra_interval_and_tolerance),
	    cmocka_unit_test(test_fallback_logged_once_with_backoff),
	    cmocka_unit_test(test_fallback_divides_among_instances),
	    cmocka_unit_test(test_noscript_retries_once_as_eval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
