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
/* The job was cancelled: end its unfinished items now. */
void jobs_cancelled(struct jobs *js, const char *id);

/* Why running jobs are paused ("disk full", ...), or NULL when healthy. */
const char *jobs_degraded(const struct jobs *js);

/*
 * A reader following a job's results (GET .../results?follow=true):
 * `fn` is called after new lines of job `id` committed, and after the
 * job changed state. Register with jobs_watch, remove with jobs_unwatch
 * before freeing.
 */
struct jobs_watch {
	char id[STORE_ID_LEN + 1];
	void (*fn)(void *arg);
	void *arg;
	TAILQ_ENTRY(jobs_watch) link;
};
void jobs_watch(struct jobs *js, struct jobs_watch *w);
void jobs_unwatch(struct jobs *js, struct jobs_watch *w);
/* Tell the watchers of job id. */
void jobs_notify(struct jobs *js, const char *id);

#endif
