/*
 * scheduler.c - admission under global, per-batch and per-host caps with
 * round-robin fairness (see scheduler.h for the queue structure).
 *
 * Every change of a counter is followed by hostq_update() and
 * batch_update(), which recompute where the host queue and the batch
 * belong. Those two functions are the whole state machine; nothing else
 * moves a queue between lists.
 */
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "scheduler.h"
#include "util.h"

struct sched_host {
	char *name;
	uint32_t inflight;
	uint32_t refs;                     /* host queues pointing here */
	TAILQ_HEAD(, sched_hostq) waiting; /* blocked by per_host_cap */
};

enum hostq_state {
	HQ_IDLE = 0,   /* no queued job */
	HQ_READY,      /* in its batch's ready ring */
	HQ_WAIT_HOST,  /* in host->waiting: the host is at the server cap */
	HQ_WAIT_BATCH, /* the batch's per-host cap is reached */
};

struct sched_hostq {
	struct sched_batch *b;
	struct sched_host *host;
	TAILQ_HEAD(, sched_job) jobs;
	uint32_t queued;
	uint32_t inflight;
	enum hostq_state state;
	TAILQ_ENTRY(sched_hostq) link; /* ready ring or host->waiting */
};

struct sched_batch {
	struct sched *s;
	struct htab hostqs; /* host name -> struct sched_hostq */
	TAILQ_HEAD(, sched_hostq) ready;
	uint32_t cap;
	uint32_t per_host_cap;
	uint32_t inflight;
	uint64_t queued;
	bool paused;
	bool in_ring;
	sched_dispatch_fn dispatch;
	void *arg;
	TAILQ_ENTRY(sched_batch) link; /* s->ring */
};

struct sched {
	struct htab hosts; /* name -> struct sched_host */
	TAILQ_HEAD(, sched_batch) ring;
	uint32_t global_cap;
	uint32_t per_host_cap;
	uint32_t inflight;
	uint64_t queued;
	bool running; /* inside sched_run */
	bool again;   /* sched_run was called while running */
};

struct sched *
sched_new(uint32_t global_cap, uint32_t per_host_cap)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	TAILQ_INIT(&s->ring);
	s->global_cap = global_cap;
	s->per_host_cap = per_host_cap;
	return s;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	htab_free(&s->hosts, NULL); /* empty once all batches are gone */
	free(s);
}

/* Put a host queue where its counters say it belongs. */
static void
hostq_update(struct sched_hostq *hq)
{
	struct sched_batch *b = hq->b;
	enum hostq_state want;

	if (hq->queued == 0)
		want = HQ_IDLE;
	else if (hq->inflight >= b->per_host_cap)
		want = HQ_WAIT_BATCH;
	else if (hq->host->inflight >= b->s->per_host_cap)
		want = HQ_WAIT_HOST;
	else
		want = HQ_READY;
	if (want == hq->state)
		return;
	if (hq->state == HQ_READY)
		TAILQ_REMOVE(&b->ready, hq, link);
	else if (hq->state == HQ_WAIT_HOST)
		TAILQ_REMOVE(&hq->host->waiting, hq, link);
	if (want == HQ_READY)
		TAILQ_INSERT_TAIL(&b->ready, hq, link);
	else if (want == HQ_WAIT_HOST)
		TAILQ_INSERT_TAIL(&hq->host->waiting, hq, link);
	hq->state = want;
}

/* Put a batch in or out of the scheduler's ring. */
static void
batch_update(struct sched_batch *b)
{
	bool want =
	    !b->paused && b->inflight < b->cap && !TAILQ_EMPTY(&b->ready);

	if (want == b->in_ring)
		return;
	if (want)
		TAILQ_INSERT_TAIL(&b->s->ring, b, link);
	else
		TAILQ_REMOVE(&b->s->ring, b, link);
	b->in_ring = want;
}

/* The host freed a slot: every queue waiting on it may run again. */
static void
host_wake(struct sched_host *h)
{
	struct sched_hostq *hq;

	while ((hq = TAILQ_FIRST(&h->waiting)) != NULL) {
		TAILQ_REMOVE(&h->waiting, hq, link);
		hq->state = HQ_IDLE;
		hostq_update(hq);
		batch_update(hq->b);
		if (hq->state == HQ_WAIT_HOST)
			break; /* cap lowered meanwhile: still full */
	}
}

void
sched_set_caps(struct sched *s, uint32_t global_cap, uint32_t per_host_cap)
{
	s->global_cap = global_cap;
	s->per_host_cap = per_host_cap;
	/* Queues parked on a host re-check on the host's next completion;
	 * raising the cap takes effect for new host queues at once. */
}

struct sched_batch *
sched_batch_new(struct sched *s, uint32_t cap, uint32_t per_host_cap,
    sched_dispatch_fn dispatch, void *arg)
{
	struct sched_batch *b = xcalloc(1, sizeof(*b));

	b->s = s;
	TAILQ_INIT(&b->ready);
	b->cap = cap ? cap : 1;
	b->per_host_cap = per_host_cap ? per_host_cap : 1;
	b->dispatch = dispatch;
	b->arg = arg;
	return b;
}

static struct sched_hostq *
hostq_get(struct sched_batch *b, const char *name)
{
	struct sched_hostq *hq = htab_get(&b->hostqs, name);
	struct sched_host *h;

	if (hq != NULL)
		return hq;
	if ((h = htab_get(&b->s->hosts, name)) == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->name = xstrdup(name);
		TAILQ_INIT(&h->waiting);
		htab_put(&b->s->hosts, name, h);
	}
	h->refs++;
	hq = xcalloc(1, sizeof(*hq));
	hq->b = b;
	hq->host = h;
	TAILQ_INIT(&hq->jobs);
	htab_put(&b->hostqs, name, hq);
	return hq;
}

static void
hostq_free(void *value)
{
	struct sched_hostq *hq = value;
	struct sched_host *h = hq->host;
	struct sched *s = hq->b->s;
	struct sched_job *job;

	while ((job = TAILQ_FIRST(&hq->jobs)) != NULL) {
		TAILQ_REMOVE(&hq->jobs, job, link);
		job->state = SJ_IDLE;
		job->hq = NULL;
		s->queued--;
	}
	if (hq->state == HQ_WAIT_HOST)
		TAILQ_REMOVE(&h->waiting, hq, link);
	if (--h->refs == 0 && h->inflight == 0) {
		htab_del(&s->hosts, h->name);
		free(h->name);
		free(h);
	}
	free(hq);
}

void
sched_batch_free(struct sched_batch *b)
{
	if (b == NULL)
		return;
	if (b->in_ring)
		TAILQ_REMOVE(&b->s->ring, b, link);
	htab_free(&b->hostqs, hostq_free);
	free(b);
}

void
sched_batch_pause(struct sched_batch *b, bool paused)
{
	b->paused = paused;
	batch_update(b);
}

void
sched_enqueue(struct sched_batch *b, struct sched_job *job, const char *host)
{
	struct sched_hostq *hq = hostq_get(b, host);

	job->hq = hq;
	job->state = SJ_QUEUED;
	TAILQ_INSERT_TAIL(&hq->jobs, job, link);
	hq->queued++;
	b->queued++;
	b->s->queued++;
	hostq_update(hq);
	batch_update(b);
}

void
sched_remove(struct sched_job *job)
{
	struct sched_hostq *hq = job->hq;

	if (job->state != SJ_QUEUED)
		return;
	TAILQ_REMOVE(&hq->jobs, job, link);
	hq->queued--;
	hq->b->queued--;
	hq->b->s->queued--;
	job->state = SJ_IDLE;
	job->hq = NULL;
	hostq_update(hq);
	batch_update(hq->b);
}

void
sched_done(struct sched_job *job)
{
	struct sched_hostq *hq = job->hq;
	struct sched_batch *b;
	struct sched_host *h;

	if (job->state != SJ_RUNNING)
		return;
	b = hq->b;
	h = hq->host;
	hq->inflight--;
	b->inflight--;
	b->s->inflight--;
	h->inflight--;
	job->state = SJ_IDLE;
	job->hq = NULL;
	hostq_update(hq);
	if (h->inflight < b->s->per_host_cap)
		host_wake(h);
	batch_update(b);
}

/* Admit the head job of hq: count it under every cap, then dispatch. */
static void
sched_admit(struct sched *s, struct sched_hostq *hq)
{
	struct sched_batch *b = hq->b;
	struct sched_job *job = TAILQ_FIRST(&hq->jobs);

	TAILQ_REMOVE(&hq->jobs, job, link);
	hq->queued--;
	b->queued--;
	s->queued--;
	hq->inflight++;
	b->inflight++;
	s->inflight++;
	hq->host->inflight++;
	job->state = SJ_RUNNING;
	hostq_update(hq);
	batch_update(b);
	b->dispatch(job, b->arg);
}

void
sched_run(struct sched *s)
{
	struct sched_batch *b;
	struct sched_hostq *hq;

	if (s->running) {
		s->again = true;
		return;
	}
	s->running = true;
	do {
		s->again = false;
		while (s->inflight < s->global_cap &&
		    (b = TAILQ_FIRST(&s->ring)) != NULL) {
			/* Rotate both rings: the next call serves the next. */
			TAILQ_REMOVE(&s->ring, b, link);
			TAILQ_INSERT_TAIL(&s->ring, b, link);
			hq = TAILQ_FIRST(&b->ready);
			TAILQ_REMOVE(&b->ready, hq, link);
			TAILQ_INSERT_TAIL(&b->ready, hq, link);
			if (hq->host->inflight >= s->per_host_cap) {
				/* Another batch filled the host meanwhile. */
				hostq_update(hq);
				batch_update(b);
				continue;
			}
			sched_admit(s, hq);
		}
	} while (s->again);
	s->running = false;
}

uint32_t
sched_inflight(const struct sched *s)
{
	return s->inflight;
}

uint64_t
sched_queued(const struct sched *s)
{
	return s->queued;
}
