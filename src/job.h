/*
 * job.h - durable jobs (issue #16, DESIGN.md §1 "Jobs"): batches that
 * outlive their caller and the daemon. A job is a second caller of the
 * dispatch engine (engine.h, batch.h), with the same options, caps,
 * fairness, retries and result lines as a POST /v1/batch; its items and
 * their results live in the job store (store.h), which this module is
 * the only engine-side user of.
 *
 * Each queued or running job this process knows of has one runner: it
 * leases pages of pending items from the store (a window of about twice
 * the job's concurrency, so memory does not grow with the job's size),
 * hands them to one engine batch, and records each result line as the
 * batch delivers it. The store commits in groups on its own thread; the
 * loop never waits on the disk.
 *
 * Threads: everything here runs on the loop thread; the store's own
 * threads are the store's business (docs/store.md).
 */
#ifndef FANOUTD_JOB_H
#define FANOUTD_JOB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "config.h"
#include "engine.h"
#include "store.h"

struct jobs;

/*
 * Open the store in [jobs] dir (or $STATE_DIRECTORY, else
 * CONFIG_JOBS_DIR), recover it and resume every queued or running job.
 * Returns NULL with a reason in why (the daemon then serves batches and
 * answers the job endpoints 503).
 */
struct jobs *jobs_open(struct event_base *base, struct engine *e,
    const struct config *cfg, char *why, size_t whylen);

/*
 * SIGTERM: no new leases; items not yet sent go back to pending, items
 * in an attempt get until timeout_ms to finish; then every item still
 * out is returned to pending (or, for an unsafe one mid-attempt, left
 * in flight, so the next start ends it `interrupted`). drained(arg) is
 * called once every runner has stopped and its records are committed.
 */
void jobs_drain(struct jobs *js, uint64_t timeout_ms,
    void (*drained)(void *arg), void *arg);

/*
 * The configuration a job's options are checked against (a malloc'd
 * copy of cfg; free it): the server's, with [jobs] max_body_bytes_cap as
 * the cap of max_body_bytes, since a job streams bodies to disk.
 */
struct config *jobs_options_config(const struct config *cfg);

/* A job's pending and in-flight counts as callers see them: while it
 * runs here, in flight is its attempts on the wire now, and what the
 * store has leased but not yet sent counts as pending; otherwise the
 * store's counts. A shared store (PostgreSQL): always the store's
 * counts, in flight being the items leased by any instance, so that
 * every instance answers the same for the same moment. js may be NULL. */
void jobs_counts(struct jobs *js, const struct store_job *j, uint64_t *pending,
    uint64_t *in_flight);

/* Close the store and free (after jobs_drain has called back). */
void jobs_close(struct jobs *js);

struct store *jobs_store(struct jobs *js);

/* Run the job (just created, or queued again by a retry). */
void jobs_kick(struct jobs *js, const char *id);

struct job_items;
/*
 * An early start: run the first items of job id (options: its stored
 * options JSON) while the store is still writing it, so that a large
 * job's first fetches do not wait for its last item to be stored. Reads
 * up to JOB_EARLY_WINDOWS lease windows of items (enough to last until
 * the creation and the first lease after it are answered: with one, the
 * engine stood idle ~150 ms of a 100,000-item job) from head (a copy of
 * the creation's
 * struct job_items, at item 0; the caller closes it) and stops at the
 * first unsafe one (RFC 9110 §9.2.1: a request that is not safe is sent
 * only once its job is durably stored, so a creation that fails sends
 * nothing but safe requests). Returns how many it will run (0: none;
 * then create the job as usual), holding them: the creation passes
 * that as store_job_spec.leased, so that they are in flight when
 * stored; once store_create_from has queued it (so that every result
 * is recorded after it), jobs_go_early sends them; jobs_created says how
 * the creation ended. Not for a shared store, nor while the store is
 * degraded or max_active jobs are active (it would be refused).
 */
uint32_t jobs_start_early(struct jobs *js, const char *id, const char *options,
    struct job_items *head, uint32_t n);
void jobs_go_early(struct jobs *js, const char *id);
/* The creation of an early-started job answered: on success its runner
 * leases on (jobs_kick), else it is cancelled and its results dropped. */
void jobs_created(struct jobs *js, const char *id, enum store_err err);
/* The job was cancelled: end its unfinished items now. */
void jobs_cancelled(struct jobs *js, const char *id);

/* Why running jobs are paused ("disk full", ...), or NULL when healthy. */
const char *jobs_degraded(const struct jobs *js);

/*
 * A reader following a job's results (GET .../results?follow=true):
 * `fn` is called after new lines of job `id` committed, and after the
 * job changed state. `line` is a line this instance recorded, as
 * committed (valid during the call only), or NULL when what changed is
 * not one known line (the job's state, lines the store or another
 * instance wrote): then read. Register with jobs_watch, remove with
 * jobs_unwatch before freeing.
 */
struct jobs_watch {
	char id[STORE_ID_LEN + 1];
	void (*fn)(void *arg, const struct store_line *line);
	void *arg;
	TAILQ_ENTRY(jobs_watch) link;
};
void jobs_watch(struct jobs *js, struct jobs_watch *w);
void jobs_unwatch(struct jobs *js, struct jobs_watch *w);
/* Tell the watchers of job id: something changed (line NULL), or line
 * committed. */
void jobs_notify(
    struct jobs *js, const char *id, const struct store_line *line);

#endif
