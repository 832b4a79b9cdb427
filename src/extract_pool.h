/*
 * extract_pool.h - HTML extraction (extract.h) off the event loop: a
 * small pool of parser threads, so the loop only moves bytes (issue #17).
 *
 * One xjob per response being extracted. The loop creates it, feeds it
 * the decoded body as it streams and says when the body ended, exactly
 * as it would an extractor; the bytes are copied into the job's queue
 * and a worker thread runs extract_feed / extract_finish on them. A job
 * is held by at most one worker at a time, so its chunks are parsed in
 * order, and a worker hands it back to the run queue after a slice so
 * that a 10 MB page does not keep every other page waiting. Once the
 * worker has finished the document, the job's done callback runs on the
 * loop thread (never inside an xjob_* call), and xjob_json gives the
 * result as extract_json would.
 *
 * The loop learns of finished jobs through an eventfd it watches with an
 * ordinary event: workers never call libevent (LIBEVENT-NOTES.md,
 * "Threads"), so the base needs no evthread locking.
 *
 * Memory: what a job holds queued is bounded by the source: xjob_feed
 * returns true once the job holds more than XPOOL_HIGH_WATER bytes not
 * yet parsed, and the job's flow callback runs (on the loop) once the
 * worker has brought it down to XPOOL_LOW_WATER, so the caller can stop
 * reading its upstream in between. The extractor's own memory cap
 * (extract_opts.mem_cap) holds as before.
 *
 * A pool of 0 threads parses on the calling thread, inside xjob_feed
 * and xjob_finish (the behaviour before the pool; the done callback
 * still comes from the loop).
 */
#ifndef FANOUTD_EXTRACT_POOL_H
#define FANOUTD_EXTRACT_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

#include "buf.h"
#include "extract.h"

/* Bytes queued and not parsed above which xjob_feed says "pause", and
 * below which the flow callback says "go on". */
#define XPOOL_HIGH_WATER (64 * 1024)
#define XPOOL_LOW_WATER  (16 * 1024)
/* Bytes a worker parses of one job before it lets the next job in. */
#define XPOOL_SLICE (64 * 1024)
/* Most threads a pool may have. */
#define XPOOL_MAX_THREADS 256

struct xpool;
struct xjob;

/*
 * A pool of nthreads parser threads (0: parse on the caller's thread),
 * reporting to the loop of base. NULL with why filled on failure (no
 * eventfd, no thread).
 */
struct xpool *xpool_new(
    struct event_base *base, unsigned nthreads, char *why, size_t whylen);

/* Stop and join the threads. Every job must have been freed. */
void xpool_free(struct xpool *p);

/* The number of threads (0: parsing on the loop). */
unsigned xpool_threads(const struct xpool *p);

/* Jobs with bytes or an end waiting for a worker or being parsed, and
 * the bytes queued for them (for /metrics). */
void xpool_stats(struct xpool *p, uint64_t *busy, uint64_t *queued);

/* Called on the loop thread with the job's arg: done once the document
 * is parsed (after xjob_finish), flow each time the queue fell back to
 * XPOOL_LOW_WATER after an xjob_feed returned true. */
struct xjob_cbs {
	void (*done)(void *arg);
	void (*flow)(void *arg); /* NULL: not wanted */
	void *arg;
};

/* A job extracting one response; the arguments as extract_create's. */
struct xjob *xjob_new(struct xpool *p, const struct extract_opts *opts,
    const char *base_url, const char *content_type, const struct xjob_cbs *cbs);

/* Queue the next n bytes of decoded body (copied). True: the job now
 * holds more than XPOOL_HIGH_WATER unparsed bytes; pause the source
 * until the flow callback. */
bool xjob_feed(struct xjob *j, const void *p, size_t n);

/* The body ended: the rest is parsed, then the done callback runs. No
 * feed may follow; idempotent. */
void xjob_finish(struct xjob *j);

/* Has the document been parsed (xjob_json may be called)? */
bool xjob_done(const struct xjob *j);

/* The result, as extract_json's (only once xjob_done). */
void xjob_json(struct xjob *j, struct buf *out);

/* Drop the job, at any point of its life, also while a worker parses
 * it (the worker then frees it after its current chunk); no callback
 * follows. NULL is a no-op. */
void xjob_free(struct xjob *j);

#endif
