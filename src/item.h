/*
 * item.h - an item's life, as one state machine (DESIGN.md §2; the
 * shape of curl's multi states): every state an item passes through
 * from the moment its batch (or job) hands it to the engine until its
 * result line is written, one name per state for traces, one transition
 * function that checks the step and logs it at debug level, and the
 * job store's state (pending / in flight / done) each state is stored
 * as. The scheduler moves an item into the queue and admits it, fetch
 * moves it through its attempt, the engine (batch.c) decides what an
 * outcome means; all of them through item_set_state, on the one
 * struct item_life the item owns. Pure but for the trace.
 */
#ifndef FANOUTD_ITEM_H
#define FANOUTD_ITEM_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

enum item_state {
	ITEM_PENDING = 0, /* handed to the engine, not queued yet; or put
	                     back (a drain releases a job's item) */
	ITEM_QUEUED,      /* in the scheduler: waiting for a slot under
	                     every cap and a token from every bucket */
	ITEM_ADMITTED,    /* the scheduler gave it its slots; the attempt
	                     is starting */
	ITEM_RESOLVING,   /* attempt: looking up the host */
	ITEM_CONNECTING,  /* attempt: request queued on a new connection */
	ITEM_WAITING,     /* attempt: request on an open (pooled)
	                     connection, no response head yet */
	ITEM_READING,     /* attempt: response head in, reading the body */
	ITEM_OUTCOME,     /* attempt over; the engine decides: result,
	                     retry or redirect */
	ITEM_BACKOFF,     /* waiting out the delay before a retry */
	ITEM_DONE,        /* its result line is written */
	ITEM__COUNT
};

/*
 * The item's state, and who hears of each change: `changed`, when set,
 * is called after every transition with the state left (the engine
 * tells its caller - a job records what the store must know).
 */
struct item_life {
	enum item_state state;
	uint32_t index; /* the item's index, for the trace */
	void (*changed)(struct item_life *l, enum item_state from);
};

/* "queued", "reading", ... */
const char *item_state_name(enum item_state s);

/* Is from -> to a step of the machine? (The table is item.c's.) */
bool item_step_ok(enum item_state from, enum item_state to);

/* Admitted up to its outcome: the item holds its scheduler slots. */
bool item_in_attempt(enum item_state s);

/* How the job store keeps an item in state s: pending, in flight (from
 * queued to backing off: leased, its result not recorded) or done. */
enum store_item_state item_store_state(enum item_state s);

/*
 * The one transition function: l moves to `to`, the change is logged at
 * debug level ("item 12 (0x...): queued -> admitted") and `changed` is
 * told. A step the machine does not have is a bug: it is logged as an
 * error and made anyway, so a slip in the books never stops the daemon.
 */
void item_set_state(struct item_life *l, enum item_state to);

#endif
