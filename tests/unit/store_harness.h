/*
 * store_harness.h - what the job store's tests share: a store on an
 * event_base of its own, an injected clock and random source, and a
 * synchronous wrapper for each store request (issue it, run the loop
 * until its callback ran, copy out the answer). No sleeps: waiting is
 * running the loop until the store's completion event fires.
 */
#ifndef FANOUTD_STORE_HARNESS_H
#define FANOUTD_STORE_HARNESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct event_base;

/* The injected wall clock (ms), read by the store's threads. */
extern atomic_llong th_clock;

struct th {
	struct event_base *base;
	struct store *st;
	struct store_config cfg;
	char dir[256];
	int health_changes;
	bool healthy;
	char why[256];
};

/* A job as answered, its strings copied. */
struct tjob {
	struct store_job j;
	char name[256];
	char options[1024];
};

struct tleased {
	uint32_t index, attempt;
	unsigned flags;
	char spec[256];
};

struct tpage {
	size_t n;
	uint64_t seq[STORE_PAGE_MAX];
	uint32_t index[STORE_PAGE_MAX];
	uint32_t attempt[STORE_PAGE_MAX];
	enum store_outcome outcome[STORE_PAGE_MAX];
	char *line[STORE_PAGE_MAX]; /* malloc'd */
	size_t bytes;
	bool more;
	uint64_t last_seq;
	enum store_job_state state;
};

/* A fresh directory, a base, and a config with the test hooks. */
void th_init(struct th *t, bool memory);
/* Open the store (asserting success). */
void th_open(struct th *t);
void th_close(struct th *t);
/* Close, remove the directory, free the base. */
void th_done(struct th *t);
/* Run the loop until *flag becomes true; failing after TH_WAIT_S. */
void th_wait(struct th *t, const bool *flag);
/* Run the loop until *count reaches n; failing after TH_WAIT_S. */
void th_wait_count(struct th *t, const size_t *count, size_t n);
/* Run the loop until t->healthy is `ok`; failing after TH_WAIT_S. */
void th_wait_health(struct th *t, bool ok);
/* Fail when a poll has gone round too often (a feature that never
 * finishes must fail, not hang). */
#define TH_POLL_MAX 100000
#define TH_WAIT_S   120

/* A job of n items through store_create_from: item i is th_spec(i),
 * unsafe when i % 3 == 0; *calls counts the items made. */
enum store_err th_create_from(
    struct th *t, size_t n, uint32_t *calls, struct tjob *out);
/* The spec of item i of the jobs th_create makes. */
void th_spec(char *out, size_t size, uint32_t i);
/* A job of n items; flags[i] (or 0 when flags is NULL). */
enum store_err th_create(struct th *t, size_t n, const unsigned *flags,
    const char *idem, struct tjob *out);
/* th_create with a spec of the caller's. */
enum store_err th_create_spec(struct th *t, size_t n, const unsigned *flags,
    const struct store_job_spec *spec, struct tjob *out);
enum store_err th_get(struct th *t, const char *id, struct tjob *out);
enum store_err th_cancel(struct th *t, const char *id, struct tjob *out);
enum store_err th_retry(struct th *t, const char *id, struct tjob *out);
enum store_err th_delete(struct th *t, const char *id);
enum store_err th_sweep(struct th *t, uint64_t *removed);
enum store_err th_release(
    struct th *t, const char *id, uint32_t index, uint32_t attempt);
/* Lease up to max into out (room for max); *n leased. */
enum store_err th_lease(
    struct th *t, const char *id, uint32_t max, struct tleased *out, size_t *n);
/* The line th_record stores for an item. */
void th_line(char *out, size_t size, uint32_t index, uint32_t attempt,
    enum store_outcome o);
enum store_err th_record(struct th *t, const char *id, uint32_t index,
    uint32_t attempt, enum store_outcome o, uint64_t *seq);

/* Records without waiting: each completion counts in *done (and its
 * error in *errs when not STORE_OK). */
struct tcount {
	size_t done, errs;
	enum store_err last_err;
	uint64_t max_seq;
};
void th_record_async(struct th *t, const char *id, uint32_t index,
    uint32_t attempt, enum store_outcome o, struct tcount *c);

/* The same with a body sink handed over with the result. */
void th_record_body(struct th *t, const char *id, uint32_t index,
    struct store_body *b, struct tcount *c);

enum store_err th_read(struct th *t, const char *id, uint64_t after,
    uint32_t limit, bool failed_only, struct tpage *p);
/* th_read with store_cursor.latest: each item's current line only. */
enum store_err th_read_latest(struct th *t, const char *id, uint64_t after,
    uint32_t limit, bool failed_only, struct tpage *p);
void th_page_free(struct tpage *p);
/* Every line of a job, in pages of `limit`: the count; asserts that seq
 * runs 1, 2, 3, ... without a gap. */
size_t th_read_all(struct th *t, const char *id, uint32_t limit);

#endif
