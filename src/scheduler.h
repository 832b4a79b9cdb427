/*
 * scheduler.h - admission of upstream attempts (DESIGN.md §2): which
 * queued job runs next, so that at every instant the in-flight attempts
 * stay within the global cap, each batch's cap, each batch's per-host cap
 * and the server's per-host cap; so that a job waiting on a saturated host
 * never delays jobs bound for other hosts; and so that concurrent batches
 * share global capacity round-robin.
 *
 * Pure bookkeeping: no I/O and no clock. The owner (batch.c) enqueues
 * jobs, calls sched_run() to dispatch what the caps allow, and reports
 * each finished attempt with sched_done(). A job is intrusive: embed a
 * struct sched_job in the owner's per-item struct.
 *
 * Queues: each batch keeps one FIFO per host (a "host queue"). A host
 * queue is READY when it has jobs and neither its batch's per-host cap nor
 * the host's server-wide cap is reached; it then sits in its batch's ready
 * ring. One blocked by the server-wide host cap waits on the host and is
 * woken when the host frees a slot. A batch with a READY host queue and
 * room under its own cap sits in the scheduler's ring. sched_run takes the
 * next batch in the ring and the next host queue in that batch's ring, so
 * both levels are round-robin and a blocked host costs nothing per
 * dispatch.
 */
#ifndef FANOUTD_SCHEDULER_H
#define FANOUTD_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

struct sched;
struct sched_batch;
struct sched_hostq;

enum sched_job_state {
	SJ_IDLE = 0, /* not known to the scheduler */
	SJ_QUEUED,   /* waiting in its host queue */
	SJ_RUNNING,  /* dispatched: holds a slot under every cap */
};

struct sched_job {
	TAILQ_ENTRY(sched_job) link;
	struct sched_hostq *hq;
	enum sched_job_state state;
};

/* Called by sched_run for each job it admits; the job is SJ_RUNNING. */
typedef void (*sched_dispatch_fn)(struct sched_job *job, void *arg);

struct sched *sched_new(uint32_t global_cap, uint32_t per_host_cap);
/* All batches must have been freed. */
void sched_free(struct sched *s);
/* New caps apply to the next dispatch; running jobs are never stopped. */
void sched_set_caps(
    struct sched *s, uint32_t global_cap, uint32_t per_host_cap);

struct sched_batch *sched_batch_new(struct sched *s, uint32_t cap,
    uint32_t per_host_cap, sched_dispatch_fn dispatch, void *arg);
/* The batch must have no running job; queued jobs are dropped. */
void sched_batch_free(struct sched_batch *b);
/* A paused batch dispatches nothing (output backpressure). */
void sched_batch_pause(struct sched_batch *b, bool paused);

/* Append job to the batch's queue for host (any string naming the
 * origin). Dispatches nothing until sched_run. */
void sched_enqueue(
    struct sched_batch *b, struct sched_job *job, const char *host);
/* Take a queued job out of its queue (deadline, cancel). */
void sched_remove(struct sched_job *job);
/* A running job's attempt ended: free its slots. The job becomes SJ_IDLE
 * and may be enqueued again (retry). Dispatches nothing until sched_run. */
void sched_done(struct sched_job *job);

/*
 * Dispatch jobs, round-robin over batches and over each batch's hosts,
 * while the caps allow. Safe to call from inside a dispatch callback (the
 * outer call then carries on).
 */
void sched_run(struct sched *s);

/* Gauges, for metrics. */
uint32_t sched_inflight(const struct sched *s);
uint64_t sched_queued(const struct sched *s);

#endif
