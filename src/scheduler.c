/*
 * scheduler.c - admission under caps and token buckets with round-robin
 * fairness (see scheduler.h for the queue structure).
 *
 * Every change of a counter or a token wait is followed by
 * hostq_update() and ring_update(), which recompute where the host
 * queue and the batch belong; nothing else moves a queue between lists.
 * A queue parked for tokens is in the wake heap (struct sched_wake) and
 * in no list; popping it from the heap clears its flag and updates it.
 */
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "bucket.h"
#include "scheduler.h"
#include "util.h"

enum wake_kind { WAKE_HOSTQ, WAKE_HOST, WAKE_BATCH };

/* A host parked until its token source can tell (sched_tokens): it
 * sorts after every real time and never arms the timer. */
#define SCHED_PENDING (SCHED_NEVER - 1)

/* A place in the wake heap: something parked until `at`. */
struct sched_wake {
	uint64_t at;
	size_t idx; /* position in s->heap, or SIZE_MAX when not in it */
	enum wake_kind kind;
};

struct sched_host {
	char *name;
	uint32_t inflight;
	uint32_t refs;        /* host queues pointing here */
	uint64_t ended;       /* attempts that ended (sched_attempt_ended) */
	uint64_t failed;      /* ... of which failed */
	struct bucket bucket; /* server per_host_rate */
	struct sched_wake wake;
	TAILQ_HEAD(, sched_hostq) waiting; /* held by the host cap or bucket */
};

enum hostq_state {
	HQ_IDLE = 0,   /* no queued job */
	HQ_READY,      /* in its batch's ready ring */
	HQ_WAIT_HOST,  /* in host->waiting: host cap or host bucket */
	HQ_WAIT_BATCH, /* the batch's per-host cap is reached */
	HQ_WAIT_TOKEN, /* its own bucket (batch per_host_rate) is empty */
};

struct sched_hostq {
	struct sched_batch *b;
	struct sched_host *host;
	TAILQ_HEAD(, sched_job) jobs;
	uint32_t queued;
	uint32_t inflight;
	enum hostq_state state;
	struct bucket bucket; /* the batch's per_host_rate */
	struct sched_wake wake;
	TAILQ_ENTRY(sched_hostq) link; /* ready ring or host->waiting */
};

struct sched_batch {
	struct sched *s;
	struct htab hostqs; /* host name -> struct sched_hostq */
	TAILQ_HEAD(, sched_hostq) ready;
	struct sched_batch_limits lim;
	struct bucket bucket; /* the batch's rate */
	struct sched_wake wake;
	uint32_t inflight;
	uint64_t queued;
	bool paused;
	bool in_ring;
	sched_dispatch_fn dispatch;
	void *arg;
	TAILQ_ENTRY(sched_batch) link; /* s->ring */
};

struct sched {
	struct sched_limits lim;
	struct bucket bucket; /* global rate */
	uint64_t global_at;   /* the global bucket refills then; 0: not empty */
	struct htab hosts;    /* name -> struct sched_host */
	TAILQ_HEAD(, sched_batch) ring;
	struct sched_wake **heap;
	size_t nheap;
	size_t heapcap;
	uint32_t inflight;
	uint64_t queued;
	uint64_t token_wait_us;
	uint32_t budget;            /* admissions left in this sched_run */
	bool spent;                 /* sched_run used its budget up */
	bool running;               /* inside sched_run */
	bool again;                 /* sched_run was called while running */
	struct sched_tokens tokens; /* wait_us NULL: the buckets above */
	struct sched_slots slots;   /* acquire NULL: the caps alone */
};

/* --- the wake heap ------------------------------------------------------ */

static void
heap_swap(struct sched *s, size_t i, size_t j)
{
	struct sched_wake *t = s->heap[i];

	s->heap[i] = s->heap[j];
	s->heap[j] = t;
	s->heap[i]->idx = i;
	s->heap[j]->idx = j;
}

static void
heap_up(struct sched *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->at > s->heap[i]->at) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void
heap_down(struct sched *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && s->heap[l]->at < s->heap[m]->at)
			m = l;
		if (r < s->nheap && s->heap[r]->at < s->heap[m]->at)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static void
heap_push(struct sched *s, struct sched_wake *w, uint64_t at)
{
	if (s->nheap == s->heapcap) {
		s->heapcap = s->heapcap ? s->heapcap * 2 : 64;
		s->heap = xrealloc(s->heap, s->heapcap * sizeof(*s->heap));
	}
	w->at = at;
	w->idx = s->nheap;
	s->heap[s->nheap++] = w;
	heap_up(s, w->idx);
}

static void
heap_remove(struct sched *s, struct sched_wake *w)
{
	size_t i = w->idx;

	if (i == SIZE_MAX)
		return;
	s->nheap--;
	if (i != s->nheap) {
		s->heap[i] = s->heap[s->nheap];
		s->heap[i]->idx = i;
		heap_down(s, i);
		heap_up(s, i);
	}
	w->idx = SIZE_MAX;
}

static void
wake_init(struct sched_wake *w, enum wake_kind kind)
{
	w->at = 0;
	w->idx = SIZE_MAX;
	w->kind = kind;
}

static bool
wake_parked(const struct sched_wake *w)
{
	return w->idx != SIZE_MAX;
}

/* --- where queues belong ---------------------------------------------------
 */

/* Put a host queue where its counters and token waits say it belongs. */
static void
hostq_update(struct sched_hostq *hq)
{
	struct sched_batch *b = hq->b;
	struct sched_host *h = hq->host;
	enum hostq_state want;

	if (hq->queued == 0)
		want = HQ_IDLE;
	else if (hq->inflight >= b->lim.per_host_concurrency)
		want = HQ_WAIT_BATCH;
	else if (wake_parked(&hq->wake))
		want = HQ_WAIT_TOKEN;
	else if (h->inflight >= b->s->lim.per_host_concurrency ||
	    wake_parked(&h->wake))
		want = HQ_WAIT_HOST;
	else
		want = HQ_READY;
	if (want == hq->state)
		return;
	if (hq->state == HQ_READY)
		TAILQ_REMOVE(&b->ready, hq, link);
	else if (hq->state == HQ_WAIT_HOST)
		TAILQ_REMOVE(&h->waiting, hq, link);
	if (want == HQ_READY)
		TAILQ_INSERT_TAIL(&b->ready, hq, link);
	else if (want == HQ_WAIT_HOST)
		TAILQ_INSERT_TAIL(&h->waiting, hq, link);
	hq->state = want;
}

/* Put a batch in or out of the scheduler's ring. */
static void
ring_update(struct sched_batch *b)
{
	bool want = !b->paused && !wake_parked(&b->wake) &&
	    b->inflight < b->lim.concurrency && !TAILQ_EMPTY(&b->ready);

	if (want == b->in_ring)
		return;
	if (want)
		TAILQ_INSERT_TAIL(&b->s->ring, b, link);
	else
		TAILQ_REMOVE(&b->s->ring, b, link);
	b->in_ring = want;
}

/* The host freed a slot or refilled: its waiting queues may run again. */
static void
host_wake(struct sched_host *h)
{
	struct sched_hostq *hq, *next;

	for (hq = TAILQ_FIRST(&h->waiting); hq != NULL; hq = next) {
		next = TAILQ_NEXT(hq, link);
		TAILQ_REMOVE(&h->waiting, hq, link);
		hq->state = HQ_IDLE;
		hostq_update(hq);
		ring_update(hq->b);
		if (hq->state == HQ_WAIT_HOST)
			break; /* still full: the rest wait too */
	}
}

/* A token wait is over. */
static void
wake_fire(struct sched_wake *w)
{
	switch (w->kind) {
	case WAKE_HOSTQ: {
		struct sched_hostq *hq =
		    (struct sched_hostq *)(void *)((char *)w -
		        offsetof(struct sched_hostq, wake));

		hostq_update(hq);
		ring_update(hq->b);
		break;
	}
	case WAKE_HOST:
		host_wake((struct sched_host *)(void *)((char *)w -
		    offsetof(struct sched_host, wake)));
		break;
	case WAKE_BATCH:
		ring_update((struct sched_batch *)(void *)((char *)w -
		    offsetof(struct sched_batch, wake)));
		break;
	}
}

/* --- set-up --------------------------------------------------------------- */

struct sched *
sched_new(const struct sched_limits *l, uint64_t now_us)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	TAILQ_INIT(&s->ring);
	s->lim = *l;
	bucket_init(&s->bucket, l->rate, l->burst, now_us);
	return s;
}

void
sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	htab_free(&s->hosts, NULL); /* empty once all batches are gone */
	free(s->heap);
	free(s);
}

static void
host_set_bucket(void *value, void *arg)
{
	struct sched_host *h = value;
	struct sched *s = arg;

	bucket_set(&h->bucket, s->lim.per_host_rate, s->lim.per_host_burst,
	    h->bucket.last_us);
}

void
sched_set_limits(struct sched *s, const struct sched_limits *l, uint64_t now_us)
{
	s->lim = *l;
	bucket_set(&s->bucket, l->rate, l->burst, now_us);
	htab_foreach(&s->hosts, host_set_bucket, s);
	/* Queues parked on a host re-check at its next completion or
	 * refill; new host queues see the new caps at once. */
}

struct sched_batch *
sched_batch_new(struct sched *s, const struct sched_batch_limits *l,
    sched_dispatch_fn dispatch, void *arg, uint64_t now_us)
{
	struct sched_batch *b = xcalloc(1, sizeof(*b));

	b->s = s;
	TAILQ_INIT(&b->ready);
	b->lim = *l;
	if (b->lim.concurrency == 0)
		b->lim.concurrency = 1;
	if (b->lim.per_host_concurrency == 0)
		b->lim.per_host_concurrency = 1;
	bucket_init(&b->bucket, l->rate, l->burst, now_us);
	wake_init(&b->wake, WAKE_BATCH);
	b->dispatch = dispatch;
	b->arg = arg;
	return b;
}

static struct sched_hostq *
hostq_get(struct sched_batch *b, const char *name)
{
	struct sched_hostq *hq = htab_get(&b->hostqs, name);
	struct sched *s = b->s;
	struct sched_host *h;

	if (hq != NULL)
		return hq;
	if ((h = htab_get(&s->hosts, name)) == NULL) {
		h = xcalloc(1, sizeof(*h));
		h->name = xstrdup(name);
		TAILQ_INIT(&h->waiting);
		bucket_init(&h->bucket, s->lim.per_host_rate,
		    s->lim.per_host_burst, b->bucket.last_us);
		wake_init(&h->wake, WAKE_HOST);
		htab_put(&s->hosts, name, h);
	}
	h->refs++;
	hq = xcalloc(1, sizeof(*hq));
	hq->b = b;
	hq->host = h;
	TAILQ_INIT(&hq->jobs);
	/* A batch per-host rate only matters below the server's. */
	bucket_init(&hq->bucket,
	    s->lim.per_host_rate > 0 &&
	            b->lim.per_host_rate >= s->lim.per_host_rate
	        ? 0
	        : b->lim.per_host_rate,
	    s->lim.per_host_burst, b->bucket.last_us);
	wake_init(&hq->wake, WAKE_HOSTQ);
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
		job->hq = NULL;
		s->queued--;
	}
	if (hq->state == HQ_WAIT_HOST)
		TAILQ_REMOVE(&h->waiting, hq, link);
	heap_remove(s, &hq->wake);
	if (--h->refs == 0 && h->inflight == 0) {
		heap_remove(s, &h->wake);
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
	heap_remove(b->s, &b->wake);
	htab_free(&b->hostqs, hostq_free);
	free(b);
}

void
sched_batch_pause(struct sched_batch *b, bool paused)
{
	b->paused = paused;
	ring_update(b);
}

uint64_t
sched_batch_queued(const struct sched_batch *b)
{
	return b->queued;
}

uint32_t
sched_batch_inflight(const struct sched_batch *b)
{
	return b->inflight;
}

/* --- jobs --------------------------------------------------------------- */

void
sched_enqueue(struct sched_batch *b, struct sched_job *job, const char *host)
{
	struct sched_hostq *hq = hostq_get(b, host);

	job->hq = hq;
	TAILQ_INSERT_TAIL(&hq->jobs, job, link);
	hq->queued++;
	b->queued++;
	b->s->queued++;
	hostq_update(hq);
	ring_update(b);
	item_set_state(&job->life, ITEM_QUEUED);
}

void
sched_remove(struct sched_job *job)
{
	struct sched_hostq *hq = job->hq;

	if (hq == NULL || job->life.state != ITEM_QUEUED)
		return;
	TAILQ_REMOVE(&hq->jobs, job, link);
	hq->queued--;
	hq->b->queued--;
	hq->b->s->queued--;
	job->hq = NULL;
	hostq_update(hq);
	ring_update(hq->b);
}

void
sched_done(struct sched_job *job)
{
	struct sched_hostq *hq = job->hq;
	struct sched_batch *b;
	struct sched_host *h;

	if (hq == NULL || !item_in_attempt(job->life.state))
		return;
	b = hq->b;
	h = hq->host;
	hq->inflight--;
	b->inflight--;
	b->s->inflight--;
	h->inflight--;
	job->hq = NULL;
	if (b->s->slots.release != NULL)
		b->s->slots.release(b->s->slots.arg, h->name);
	hostq_update(hq);
	if (h->inflight < b->s->lim.per_host_concurrency)
		host_wake(h);
	ring_update(b);
}

void
sched_attempt_ended(struct sched_job *job, bool failed)
{
	if (job->hq == NULL || !item_in_attempt(job->life.state))
		return;
	job->hq->host->ended++;
	if (failed)
		job->hq->host->failed++;
}

struct host_walk {
	void (*fn)(const struct sched_host_view *v, void *arg);
	void *arg;
};

static void
host_visit(void *value, void *arg)
{
	const struct sched_host *h = value;
	const struct host_walk *w = arg;
	struct sched_host_view v = {h->name, h->inflight, h->ended, h->failed};

	w->fn(&v, w->arg);
}

void
sched_hosts_foreach(const struct sched *s,
    void (*fn)(const struct sched_host_view *v, void *arg), void *arg)
{
	struct host_walk w = {fn, arg};

	htab_foreach(&s->hosts, host_visit, &w);
}

/* --- server-wide tokens: own buckets or an outside source ----------------- */

void
sched_set_tokens(struct sched *s, const struct sched_tokens *t)
{
	s->tokens = *t;
}

void
sched_set_slots(struct sched *s, const struct sched_slots *sl)
{
	s->slots = *sl;
}

/* Until host h's (NULL: the global) token, or SCHED_NEVER: not known. */
static uint64_t
tokens_wait(struct sched *s, struct sched_host *h, uint64_t now)
{
	if (s->tokens.wait_us != NULL)
		return s->tokens.wait_us(
		    s->tokens.arg, h ? h->name : NULL, now);
	return bucket_wait_us(h ? &h->bucket : &s->bucket, now);
}

static void
tokens_take(struct sched *s, struct sched_host *h, uint64_t now)
{
	if (s->tokens.take != NULL)
		s->tokens.take(s->tokens.arg, h ? h->name : NULL, now);
	else
		bucket_take(h ? &h->bucket : &s->bucket, now);
}

static void
ready_host(struct sched *s, struct sched_host *h)
{
	if (h != NULL && wake_parked(&h->wake) && h->wake.at == SCHED_PENDING) {
		heap_remove(s, &h->wake);
		wake_fire(&h->wake);
	}
}

static void
ready_one(void *value, void *arg)
{
	struct sched_host *h = value;

	if (wake_parked(&h->wake) && h->wake.at == SCHED_PENDING) {
		heap_remove(arg, &h->wake);
		wake_fire(&h->wake); /* moves queues, never the host table */
	}
}

void
sched_tokens_ready(struct sched *s, const char *host, bool all)
{
	if (all) {
		s->global_at = 0;
		htab_foreach(&s->hosts, ready_one, s);
	} else if (host == NULL)
		s->global_at = 0;
	else
		ready_host(s, htab_get(&s->hosts, host));
}

/* --- dispatch ------------------------------------------------------------ */

/* Park w until now + wait for tokens; SCHED_NEVER: until the token
 * source says (sched_tokens_ready). */
static void
park(struct sched *s, struct sched_wake *w, uint64_t now, uint64_t wait)
{
	if (wait == SCHED_NEVER) {
		heap_push(s, w, SCHED_PENDING);
		return;
	}
	s->token_wait_us += wait;
	heap_push(s, w, now + wait);
}

/*
 * Try to admit the head job of hq at time now: every bucket that applies
 * must have a token. If one has none, park the narrowest thing it holds
 * back (the batch, the host or the host queue) and return false.
 */
static bool
sched_try_admit(struct sched *s, struct sched_hostq *hq, uint64_t now)
{
	struct sched_batch *b = hq->b;
	struct sched_host *h = hq->host;
	struct sched_job *job;
	uint64_t w;

	if (wake_parked(&h->wake)) {
		/* Another batch found the host's bucket empty meanwhile. */
		hostq_update(hq);
		ring_update(b);
		return false;
	}
	if ((w = bucket_wait_us(&b->bucket, now)) > 0) {
		park(s, &b->wake, now, w);
		ring_update(b);
		return false;
	}
	if ((w = tokens_wait(s, h, now)) > 0) {
		park(s, &h->wake, now, w);
		hostq_update(hq);
		ring_update(b);
		return false;
	}
	if ((w = bucket_wait_us(&hq->bucket, now)) > 0) {
		park(s, &hq->wake, now, w);
		hostq_update(hq);
		ring_update(b);
		return false;
	}
	if (s->slots.acquire != NULL &&
	    !s->slots.acquire(s->slots.arg, h->name, now)) {
		park(s, &h->wake, now, SCHED_NEVER);
		hostq_update(hq);
		ring_update(b);
		return false;
	}
	tokens_take(s, NULL, now);
	bucket_take(&b->bucket, now);
	tokens_take(s, h, now);
	bucket_take(&hq->bucket, now);
	job = TAILQ_FIRST(&hq->jobs);
	TAILQ_REMOVE(&hq->jobs, job, link);
	hq->queued--;
	b->queued--;
	s->queued--;
	hq->inflight++;
	b->inflight++;
	s->inflight++;
	h->inflight++;
	hostq_update(hq);
	ring_update(b);
	item_set_state(&job->life, ITEM_ADMITTED);
	b->dispatch(job, b->arg);
	return true;
}

/* One pass: wake what is due, then admit while caps and tokens allow. */
static void
sched_pass(struct sched *s, uint64_t now)
{
	struct sched_batch *b;
	struct sched_hostq *hq;
	uint64_t w;

	while (s->nheap > 0 && s->heap[0]->at <= now) {
		struct sched_wake *top = s->heap[0];

		heap_remove(s, top);
		wake_fire(top);
	}
	while (s->inflight < s->lim.concurrency &&
	    (b = TAILQ_FIRST(&s->ring)) != NULL) {
		if (s->budget == 0) {
			s->spent = true;
			return;
		}
		if ((w = tokens_wait(s, NULL, now)) > 0) {
			/* Nothing can go before the global refill. */
			if (w == SCHED_NEVER) {
				s->global_at = SCHED_NEVER; /* until ready */
				return;
			}
			if (s->global_at <= now || s->global_at == SCHED_NEVER)
				s->token_wait_us += w;
			s->global_at = now + w;
			return;
		}
		/* Rotate both rings: the next call serves the next. */
		TAILQ_REMOVE(&s->ring, b, link);
		TAILQ_INSERT_TAIL(&s->ring, b, link);
		hq = TAILQ_FIRST(&b->ready);
		TAILQ_REMOVE(&b->ready, hq, link);
		TAILQ_INSERT_TAIL(&b->ready, hq, link);
		if (hq->host->inflight >= s->lim.per_host_concurrency) {
			/* Another batch filled the host meanwhile. */
			hostq_update(hq);
			ring_update(b);
			continue;
		}
		if (sched_try_admit(s, hq, now))
			s->budget--;
	}
	s->global_at = 0;
}

uint64_t
sched_run(struct sched *s, uint64_t now_us, uint32_t budget)
{
	uint64_t next;

	if (s->running) {
		s->again = true;
		return SCHED_NEVER; /* the outer call returns the real time */
	}
	s->running = true;
	s->budget = budget > 0 ? budget : UINT32_MAX; /* no cap goes so far */
	s->spent = false;
	do {
		s->again = false;
		sched_pass(s, now_us);
	} while (s->again && !s->spent);
	s->running = false;
	if (s->spent)
		return now_us;
	next = s->nheap > 0 ? s->heap[0]->at : SCHED_NEVER;
	if (next >= SCHED_PENDING)
		next = SCHED_NEVER; /* only hosts waiting for their source */
	if (s->global_at > now_us && s->global_at < next)
		next = s->global_at;
	return next;
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

uint64_t
sched_token_wait_us(const struct sched *s)
{
	return s->token_wait_us;
}
