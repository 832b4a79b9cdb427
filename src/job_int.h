/*
 * job_int.h - the inside of durable jobs, shared by job.c (the jobs:
 * open, resume, sweep, health, drain, readers' watches) and job_run.c
 * (one job's runner). Nothing else includes it: callers see job.h.
 */
#ifndef FANOUTD_JOB_INT_H
#define FANOUTD_JOB_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "batch.h"
#include "batch_parse.h"
#include "job.h"

/* A runner's window (items leased at once): this many per slot of the
 * job's concurrency, within MIN (not with a shared store: the work
 * spreads over the instances) and MAX. */
#define JOB_WINDOW_PER_SLOT 4
#define JOB_WINDOW_MIN      4096
#define JOB_WINDOW_MAX      STORE_PAGE_MAX
#define JOB_EARLY_WINDOWS   3     /* an early start's items, in windows */
#define JOB_RETRY_MS        1000  /* lease again after the store refused */
#define JOB_SWEEP_MS        60000 /* expired jobs are swept this often */
#define JOB_RESUME_PAGE     1000  /* jobs read at start, per page */
/* A shared store (PostgreSQL): followers poll for lines this often, and
 * every JOB_FLEET_SCAN polls the instance looks for jobs with items
 * pending that it does not run (new ones from other instances, items a
 * dead instance held). */
#define JOB_FLEET_POLL_MS 200
#define JOB_FLEET_SCAN    5
/* Body bytes queued for the disk past which a response stops being read. */
#define RUN_BODY_HIGH_WATER (4 << 20)

enum run_state {
	RUN_LEASING,
	RUN_PAUSED,
	RUN_CLOSING,
	RUN_DRAINING,
	RUN_ENDED
};

/* One leased page: the items the batch points into, by index order. */
struct job_page {
	struct batch_spec spec;
	uint32_t *attempt; /* as leased */
	unsigned *flags;   /* STORE_ITEM_* */
	uint8_t *state;    /* enum item_state, from the batch */
	uint8_t *done;     /* its result was delivered */
	/* Storing bodies: each item's body sink (its attempt's), or NULL. */
	struct store_body **body;
	uint32_t left; /* items without a result yet */
	TAILQ_ENTRY(job_page) link;
};

struct job_run {
	struct jobs *js;
	char id[STORE_ID_LEN + 1];
	enum run_state state;
	struct batch *b;
	struct batch_opts opts;
	uint32_t window;      /* most items leased at once */
	uint32_t outstanding; /* leased, no result yet */
	uint32_t requests;    /* store requests not yet answered */
	bool leasing;         /* a store_lease is out */
	bool closed;          /* batch_close was called */
	bool kicked;          /* a retry queued items again meanwhile */
	bool adding;          /* inside batch_add */
	bool paused_said;     /* "paused" logged, "resumed" not yet */
	bool creating;        /* an early start: no lease until it is stored */
	bool abandoned;       /* its creation failed: results go nowhere */
	/* An early start's first items, until run_go_early sends them. */
	struct store_leased *early;
	uint32_t nearly;
	struct buf early_text; /* their specs */
	struct event *retry_ev;
	struct batch_body_store bodies; /* the store's body sinks */
	char body_url[sizeof("/v1/jobs//items/") + STORE_ID_LEN];
	TAILQ_HEAD(, job_page) pages;
	struct job_page *hint; /* where run_slot last found an item */
	TAILQ_ENTRY(job_run) link;
};

struct jobs {
	struct event_base *base;
	struct engine *e;
	const struct config *cfg;
	struct store *st;
	char *degraded; /* why, or NULL */
	TAILQ_HEAD(, job_run) runs;
	TAILQ_HEAD(, jobs_watch) watches;
	struct event *sweep_ev;
	struct event *fleet_ev; /* a shared store: the poll (job.c) */
	unsigned fleet_ticks;
	bool scanning; /* a scan's store_list is out */
	bool draining;
	bool closing; /* jobs_close: runners only wait for the store */
	struct event *drain_ev; /* the drain timeout */
	struct event *check_ev; /* draining: stop the quiet runners */
	void (*drained)(void *arg);
	void *drained_arg;
};

/* The runner (job_run.c). */
/* The one place a runner's state changes (traced at debug level). */
void run_set_state(struct job_run *r, enum run_state to);
/* The runner of job id, unless it has ended; NULL when none. */
struct job_run *run_find(struct jobs *js, const char *id);
/* Start running a queued or running job. */
void run_start(struct jobs *js, const struct store_job *j);
/* jobs_start_early's runner (job.h). */
uint32_t run_start_early(struct jobs *js, const char *id, const char *options,
    struct job_items *head, uint32_t n);
/* Its creation is queued: send the items it holds. */
void run_go_early(struct job_run *r);
/* Its creation answered: lease on (OK) or abandon the run. */
void run_created(struct job_run *r, enum store_err err);
/* Lease the next page once half the window has come back. */
void run_lease(struct job_run *r);
/* Nothing left to lease: the batch ends once the last result is in. */
void run_close(struct job_run *r);
/* Stop a draining runner now, giving back what it holds. */
void run_stop(struct job_run *r);
/* Has a draining runner no attempt left in flight? */
bool run_quiet(const struct job_run *r);
/* Free an ended runner once the store has answered all it asked. */
void run_maybe_free(struct job_run *r);

/* The jobs (job.c). */
/* Draining: once every runner is gone, call the drained callback. */
void jobs_maybe_drained(struct jobs *js);
/* From inside a batch callback: check the drain from the loop. */
void jobs_drain_poke(struct jobs *js);

#endif
