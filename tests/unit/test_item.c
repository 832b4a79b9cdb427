/*
 * test_item.c - the item state machine: the life of an item as the
 * engine drives it (first try, redirect, retry after a backoff, deadline
 * and cancel from every state, a drain's release) is made of steps the
 * machine has; the steps it does not have are refused; each state is
 * kept in the job store as pending, in flight or done; and every change
 * is told to the item's owner.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "item.h"

/* Walk `path` (ending with ITEM__COUNT) from PENDING: every step legal. */
static void
walk(const enum item_state *path)
{
	enum item_state s = ITEM_PENDING;

	for (; *path != ITEM__COUNT; path++) {
		if (!item_step_ok(s, *path))
			fail_msg("%s -> %s refused", item_state_name(s),
			    item_state_name(*path));
		s = *path;
	}
}

static void
test_the_lives_the_engine_drives_are_steps(void **state)
{
	/* New connection, first try. */
	static const enum item_state fresh[] = {ITEM_QUEUED, ITEM_ADMITTED,
	    ITEM_RESOLVING, ITEM_CONNECTING, ITEM_READING, ITEM_OUTCOME,
	    ITEM_DONE, ITEM__COUNT};
	/* Pooled connection, redirect, then a retry after a backoff with
	 * the stale-connection retry inside the attempt. */
	static const enum item_state winding[] = {ITEM_QUEUED, ITEM_ADMITTED,
	    ITEM_WAITING, ITEM_READING, ITEM_OUTCOME, ITEM_QUEUED,
	    ITEM_ADMITTED, ITEM_WAITING, ITEM_RESOLVING, ITEM_CONNECTING,
	    ITEM_CONNECTING, ITEM_OUTCOME, ITEM_BACKOFF, ITEM_QUEUED,
	    ITEM_ADMITTED, ITEM_WAITING, ITEM_CONNECTING, ITEM_READING,
	    ITEM_OUTCOME, ITEM_DONE, ITEM__COUNT};
	/* An invalid item; a job's item released by a drain, then done. */
	static const enum item_state invalid[] = {ITEM_DONE, ITEM__COUNT};
	static const enum item_state released[] = {ITEM_QUEUED, ITEM_ADMITTED,
	    ITEM_RESOLVING, ITEM_PENDING, ITEM_QUEUED, ITEM_PENDING, ITEM_DONE,
	    ITEM__COUNT};

	walk(fresh);
	walk(winding);
	walk(invalid);
	walk(released);
}

/* Deadline, abort and cancel end an item from any state but done. */
static void
test_any_unfinished_state_may_end(void **state)
{
	int s;

	for (s = 0; s < ITEM__COUNT; s++)
		assert_int_equal(item_step_ok((enum item_state)s, ITEM_DONE),
		    s != ITEM_DONE);
}

static void
test_steps_the_machine_does_not_have(void **state)
{
	int s;

	/* Done is final. */
	for (s = 0; s < ITEM__COUNT; s++)
		assert_false(item_step_ok(ITEM_DONE, (enum item_state)s));
	/* Only the scheduler admits, only from its queue. */
	assert_false(item_step_ok(ITEM_PENDING, ITEM_ADMITTED));
	assert_false(item_step_ok(ITEM_BACKOFF, ITEM_ADMITTED));
	/* An attempt goes through its outcome before anything else. */
	assert_false(item_step_ok(ITEM_READING, ITEM_QUEUED));
	assert_false(item_step_ok(ITEM_READING, ITEM_BACKOFF));
	assert_false(item_step_ok(ITEM_ADMITTED, ITEM_QUEUED));
	/* Reading does not go back to connecting. */
	assert_false(item_step_ok(ITEM_READING, ITEM_CONNECTING));
	assert_false(item_step_ok(ITEM_OUTCOME, ITEM_PENDING));
	assert_false(item_step_ok(ITEM__COUNT, ITEM_DONE));
}

static void
test_store_states(void **state)
{
	int s;

	assert_int_equal(item_store_state(ITEM_PENDING), STORE_ITEM_PENDING);
	for (s = ITEM_QUEUED; s <= ITEM_BACKOFF; s++)
		assert_int_equal(
		    item_store_state((enum item_state)s), STORE_ITEM_INFLIGHT);
	assert_int_equal(item_store_state(ITEM_DONE), STORE_ITEM_DONE);
	/* Slots are held from admission to the outcome. */
	for (s = 0; s < ITEM__COUNT; s++)
		assert_int_equal(item_in_attempt((enum item_state)s),
		    s >= ITEM_ADMITTED && s <= ITEM_OUTCOME);
}

static void
test_names(void **state)
{
	int s, t;

	for (s = 0; s < ITEM__COUNT; s++) {
		assert_non_null(item_state_name((enum item_state)s));
		for (t = 0; t < s; t++)
			assert_string_not_equal(
			    item_state_name((enum item_state)s),
			    item_state_name((enum item_state)t));
	}
	assert_string_equal(item_state_name(ITEM_QUEUED), "queued");
	assert_string_equal(item_state_name(ITEM__COUNT), "?");
}

static enum item_state seen_from[8], seen_to[8];
static int nseen;

static void
record(struct item_life *l, enum item_state from)
{
	seen_from[nseen] = from;
	seen_to[nseen++] = l->state;
}

static void
test_every_change_is_told(void **state)
{
	struct item_life l = {ITEM_PENDING, 7, record};

	item_set_state(&l, ITEM_QUEUED);
	item_set_state(&l, ITEM_ADMITTED);
	item_set_state(&l, ITEM_DONE);
	assert_int_equal(nseen, 3);
	assert_int_equal(seen_from[0], ITEM_PENDING);
	assert_int_equal(seen_to[0], ITEM_QUEUED);
	assert_int_equal(seen_from[2], ITEM_ADMITTED);
	assert_int_equal(seen_to[2], ITEM_DONE);
	/* A step the machine lacks is still made (and logged as a bug). */
	item_set_state(&l, ITEM_QUEUED);
	assert_int_equal(l.state, ITEM_QUEUED);
	assert_int_equal(nseen, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_lives_the_engine_drives_are_steps),
	    cmocka_unit_test(test_any_unfinished_state_may_end),
	    cmocka_unit_test(test_steps_the_machine_does_not_have),
	    cmocka_unit_test(test_store_states),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_every_change_is_told),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
