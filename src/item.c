/*
 * item.c - the item state machine (see item.h): one row per state with
 * its name, the store state it is kept as, and the states it may move
 * to.
 */
#include "item.h"
#include "log.h"

#define TO(s) (1u << (s))

/* Every attempt state may end early: cancelled (done), or released back
 * to pending by a drain. */
#define ENDS (TO(ITEM_OUTCOME) | TO(ITEM_PENDING) | TO(ITEM_DONE))

static const struct {
	const char *name;
	enum store_item_state store;
	unsigned next; /* TO() of each state it may move to */
} item_states[ITEM__COUNT] = {
    [ITEM_PENDING] = {"pending", STORE_ITEM_PENDING,
        TO(ITEM_QUEUED) | TO(ITEM_DONE)},
    [ITEM_QUEUED] = {"queued", STORE_ITEM_INFLIGHT,
        TO(ITEM_ADMITTED) | TO(ITEM_PENDING) | TO(ITEM_DONE)},
    [ITEM_ADMITTED] = {"admitted", STORE_ITEM_INFLIGHT,
        TO(ITEM_RESOLVING) | TO(ITEM_CONNECTING) | TO(ITEM_WAITING) | ENDS},
    [ITEM_RESOLVING] = {"resolving", STORE_ITEM_INFLIGHT,
        TO(ITEM_CONNECTING) | ENDS},
    /* A new connection that fails tries the next address. */
    [ITEM_CONNECTING] = {"connecting", STORE_ITEM_INFLIGHT,
        TO(ITEM_CONNECTING) | TO(ITEM_READING) | ENDS},
    /* A pooled connection the peer closed as it was reused: the same
     * attempt on a new one, resolving first unless the answer is kept. */
    [ITEM_WAITING] = {"waiting", STORE_ITEM_INFLIGHT,
        TO(ITEM_RESOLVING) | TO(ITEM_CONNECTING) | TO(ITEM_READING) | ENDS},
    [ITEM_READING] = {"reading", STORE_ITEM_INFLIGHT, ENDS},
    /* A redirect or a retry at once queues again; a result is done. */
    [ITEM_OUTCOME] = {"outcome", STORE_ITEM_INFLIGHT,
        TO(ITEM_QUEUED) | TO(ITEM_BACKOFF) | TO(ITEM_DONE)},
    [ITEM_BACKOFF] = {"backoff", STORE_ITEM_INFLIGHT,
        TO(ITEM_QUEUED) | TO(ITEM_PENDING) | TO(ITEM_DONE)},
    [ITEM_DONE] = {"done", STORE_ITEM_DONE, 0},
};

const char *
item_state_name(enum item_state s)
{
	return (unsigned)s < ITEM__COUNT ? item_states[s].name : "?";
}

bool
item_step_ok(enum item_state from, enum item_state to)
{
	return (unsigned)from < ITEM__COUNT && (unsigned)to < ITEM__COUNT &&
	    (item_states[from].next & TO(to)) != 0;
}

bool
item_in_attempt(enum item_state s)
{
	return s >= ITEM_ADMITTED && s <= ITEM_OUTCOME;
}

enum store_item_state
item_store_state(enum item_state s)
{
	return item_states[s].store;
}

void
item_set_state(struct item_life *l, enum item_state to)
{
	enum item_state from = l->state;

	if (!item_step_ok(from, to))
		log_error("item %u (%p): %s -> %s is not a step of the item "
		          "state machine",
		    l->index, (void *)l, item_state_name(from),
		    item_state_name(to));
	else
		log_debug("item %u (%p): %s -> %s", l->index, (void *)l,
		    item_state_name(from), item_state_name(to));
	l->state = to;
	if (l->changed != NULL)
		l->changed(l, from);
}
