/*
 * extract_pool.c - the parser threads of extract_pool.h and the queues
 * between them and the loop.
 *
 * One mutex guards the pool: the run queue (jobs with bytes or an end
 * to parse, waiting for a worker), the done queue (jobs with news for
 * the loop: finished, or drained below the low-water mark) and each
 * job's state, chunk queue and flags. The extractor itself (struct
 * extract) is touched outside the lock, by exactly one thread at a time:
 * the worker holding the job (XJ_RUNNING), else the loop. A job freed by
 * the loop while a worker holds it is only marked; the worker frees it
 * when it next takes the lock, after its current chunk.
 *
 * Workers never call libevent: they write the eventfd when the done
 * queue turns non-empty, and the loop's event on it drains the queue.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/queue.h>
#include <unistd.h>

#include "extract_pool.h"
#include "log.h"
#include "util.h"

/* Bytes of a chunk that small feeds are gathered into. */
#define XCHUNK 16384

struct xchunk {
	struct xchunk *next;
	size_t len, cap;
	unsigned char data[];
};

enum xjob_state {
	XJ_IDLE,    /* nothing to parse: waiting for bytes or the end */
	XJ_READY,   /* in the run queue */
	XJ_RUNNING, /* a worker holds it (and its extractor) */
	XJ_DONE,    /* the document is parsed; the loop's alone */
};

struct xjob {
	struct xpool *p;
	struct extract *x;
	struct xjob_cbs cbs;
	enum xjob_state state;
	struct xchunk *head, *tail; /* bytes queued, in order */
	size_t held;                /* queued bytes plus the chunk in hand */
	bool ending;                /* xjob_finish came: no more bytes */
	bool paused;                /* a feed said "pause", no flow yet */
	bool cancelled;             /* freed by the loop while RUNNING */
	bool on_doneq;
	bool tell_done, tell_flow; /* news for the loop */
	TAILQ_ENTRY(xjob) run_link;
	TAILQ_ENTRY(xjob) done_link;
};

TAILQ_HEAD(xjob_list, xjob);

struct xpool {
	struct event_base *base;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct xjob_list runq, doneq;
	uint64_t busy;   /* jobs READY or RUNNING */
	uint64_t queued; /* bytes held by every job */
	bool stop;
	int efd;
	struct event *ev;
	unsigned nthreads;
	pthread_t threads[];
};

static bool
xj_busy(enum xjob_state s)
{
	return s == XJ_READY || s == XJ_RUNNING;
}

/* The one place a job's state changes (under the lock, or inline). */
static void
xj_set(struct xjob *j, enum xjob_state s)
{
	j->p->busy += xj_busy(s);
	j->p->busy -= xj_busy(j->state);
	j->state = s;
}

/* --- both sides ---------------------------------------------------------- */

static void
chunks_free(struct xjob *j)
{
	struct xchunk *c, *next;

	for (c = j->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	j->head = j->tail = NULL;
}

static void
job_destroy(struct xjob *j)
{
	chunks_free(j);
	extract_free(j->x);
	free(j);
}

/* Tell the loop about j (under the lock): wake it when the queue was
 * empty. */
static void
post_news(struct xpool *p, struct xjob *j)
{
	bool was_empty = TAILQ_EMPTY(&p->doneq);
	uint64_t one = 1;

	if (j->on_doneq)
		return;
	j->on_doneq = true;
	TAILQ_INSERT_TAIL(&p->doneq, j, done_link);
	if (!was_empty)
		return;
	if (p->nthreads == 0) {
		event_active(p->ev, EV_READ, 0);
		return;
	}
	while (write(p->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* --- workers ---------------------------------------------------------------
 */

/*
 * Parse j (held: XJ_RUNNING) chunk by chunk for up to a slice, then
 * hand it on: done, back to the run queue, idle, or freed if the loop
 * dropped it meanwhile. Called and returns with the lock held.
 */
static void
worker_run(struct xpool *p, struct xjob *j)
{
	size_t slice = 0;

	for (;;) {
		struct xchunk *c = j->head;

		if (j->cancelled) {
			xj_set(j, XJ_IDLE);
			p->queued -= j->held;
			pthread_mutex_unlock(&p->mu);
			job_destroy(j);
			pthread_mutex_lock(&p->mu);
			return;
		}
		if (c == NULL && j->ending) {
			pthread_mutex_unlock(&p->mu);
			extract_finish(j->x);
			pthread_mutex_lock(&p->mu);
			if (j->cancelled)
				continue;
			xj_set(j, XJ_DONE);
			j->tell_done = true;
			post_news(p, j);
			return;
		}
		if (c == NULL) {
			xj_set(j, XJ_IDLE);
			return;
		}
		if (slice >= XPOOL_SLICE && !TAILQ_EMPTY(&p->runq)) {
			xj_set(j, XJ_READY);
			TAILQ_INSERT_TAIL(&p->runq, j, run_link);
			return;
		}
		if ((j->head = c->next) == NULL)
			j->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		extract_feed(j->x, c->data, c->len);
		pthread_mutex_lock(&p->mu);
		slice += c->len;
		j->held -= c->len;
		p->queued -= c->len;
		free(c);
		if (j->paused && j->held <= XPOOL_LOW_WATER && !j->cancelled) {
			j->paused = false;
			j->tell_flow = true;
			post_news(p, j);
		}
	}
}

static void *
worker_main(void *arg)
{
	struct xpool *p = arg;
	struct xjob *j;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && TAILQ_EMPTY(&p->runq))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		j = TAILQ_FIRST(&p->runq);
		TAILQ_REMOVE(&p->runq, j, run_link);
		xj_set(j, XJ_RUNNING);
		worker_run(p, j);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Put an IDLE job with work on the run queue (under the lock). */
static void
make_ready(struct xpool *p, struct xjob *j)
{
	if (j->state != XJ_IDLE)
		return;
	xj_set(j, XJ_READY);
	TAILQ_INSERT_TAIL(&p->runq, j, run_link);
	pthread_cond_signal(&p->cv);
}

/* --- the loop's side --------------------------------------------------------
 */

/* The eventfd: deliver each job's news, one job at a time (a callback
 * may free any job, the next one included). */
static void
xpool_news_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xpool *p = arg;
	uint64_t n;

	if (p->nthreads > 0)
		while (read(p->efd, &n, sizeof(n)) < 0 && errno == EINTR)
			;
	for (;;) {
		struct xjob *j;
		bool done, flow;

		pthread_mutex_lock(&p->mu);
		if ((j = TAILQ_FIRST(&p->doneq)) != NULL) {
			TAILQ_REMOVE(&p->doneq, j, done_link);
			j->on_doneq = false;
			done = j->tell_done;
			flow = j->tell_flow;
			j->tell_done = j->tell_flow = false;
		}
		pthread_mutex_unlock(&p->mu);
		if (j == NULL)
			return;
		if (done)
			j->cbs.done(j->cbs.arg); /* may free j */
		else if (flow && j->cbs.flow != NULL)
			j->cbs.flow(j->cbs.arg);
	}
}

struct xpool *
xpool_new(struct event_base *base, unsigned nthreads, char *why, size_t whylen)
{
	struct xpool *p;
	unsigned i;
	int rc;

	if (nthreads > XPOOL_MAX_THREADS)
		nthreads = XPOOL_MAX_THREADS;
	p = xcalloc(1, sizeof(*p) + nthreads * sizeof(p->threads[0]));
	p->base = base;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	TAILQ_INIT(&p->runq);
	TAILQ_INIT(&p->doneq);
	p->efd = -1;
	if (nthreads > 0 &&
	    (p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		snprintf(why, whylen, "extraction threads: eventfd: %s",
		    strerror(errno));
		xpool_free(p);
		return NULL;
	}
	p->ev = event_new(base, p->efd, nthreads > 0 ? EV_READ | EV_PERSIST : 0,
	    xpool_news_cb, p);
	if (p->ev == NULL || (nthreads > 0 && event_add(p->ev, NULL) != 0)) {
		snprintf(why, whylen,
		    "extraction threads: cannot watch the "
		    "eventfd");
		xpool_free(p);
		return NULL;
	}
	for (i = 0; i < nthreads; i++) {
		if ((rc = pthread_create(
		         &p->threads[i], NULL, worker_main, p)) != 0) {
			snprintf(why, whylen,
			    "extraction threads: pthread_create: %s",
			    strerror(rc));
			xpool_free(p);
			return NULL;
		}
		pthread_setname_np(p->threads[i], "extract");
		p->nthreads++;
	}
	return p;
}

void
xpool_free(struct xpool *p)
{
	unsigned i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	if (!TAILQ_EMPTY(&p->runq) || !TAILQ_EMPTY(&p->doneq))
		log_error("extract pool: freed with jobs still queued");
	if (p->ev != NULL)
		event_free(p->ev);
	if (p->efd >= 0)
		close(p->efd);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}

unsigned
xpool_threads(const struct xpool *p)
{
	return p->nthreads;
}

void
xpool_stats(struct xpool *p, uint64_t *busy, uint64_t *queued)
{
	pthread_mutex_lock(&p->mu);
	*busy = p->busy;
	*queued = p->queued;
	pthread_mutex_unlock(&p->mu);
}

struct xjob *
xjob_new(struct xpool *p, const struct extract_opts *opts, const char *base_url,
    const char *content_type, const struct xjob_cbs *cbs)
{
	struct xjob *j = xcalloc(1, sizeof(*j));

	j->p = p;
	j->x = extract_create(opts, base_url, content_type);
	j->cbs = *cbs;
	xj_set(j, XJ_IDLE);
	return j;
}

/* Append p[0..n) to j's queue (under the lock), gathering small feeds
 * into the last chunk. */
static void
queue_bytes(struct xjob *j, const unsigned char *s, size_t n)
{
	struct xchunk *c = j->tail;

	if (c == NULL || c->cap - c->len < n) {
		size_t cap = n > XCHUNK ? n : XCHUNK;

		c = xmalloc(sizeof(*c) + cap);
		c->next = NULL;
		c->len = 0;
		c->cap = cap;
		if (j->tail != NULL)
			j->tail->next = c;
		else
			j->head = c;
		j->tail = c;
	}
	memcpy(c->data + c->len, s, n);
	c->len += n;
	j->held += n;
}

bool
xjob_feed(struct xjob *j, const void *s, size_t n)
{
	struct xpool *p = j->p;
	bool pause;

	if (n == 0 || j->ending)
		return false;
	if (p->nthreads == 0) {
		extract_feed(j->x, s, n);
		return false;
	}
	pthread_mutex_lock(&p->mu);
	queue_bytes(j, s, n);
	p->queued += n;
	make_ready(p, j);
	pause = j->held > XPOOL_HIGH_WATER;
	if (pause)
		j->paused = true;
	pthread_mutex_unlock(&p->mu);
	return pause;
}

void
xjob_finish(struct xjob *j)
{
	struct xpool *p = j->p;

	if (j->ending) /* only this thread writes it */
		return;
	if (p->nthreads == 0) {
		j->ending = true;
		extract_finish(j->x);
		xj_set(j, XJ_DONE);
		j->tell_done = true;
		post_news(p, j);
		return;
	}
	pthread_mutex_lock(&p->mu);
	j->ending = true;
	j->paused = false; /* no more bytes to pause */
	make_ready(p, j);
	pthread_mutex_unlock(&p->mu);
}

bool
xjob_done(const struct xjob *j)
{
	struct xpool *p = j->p;
	bool done;

	pthread_mutex_lock(&p->mu);
	done = j->state == XJ_DONE;
	pthread_mutex_unlock(&p->mu);
	return done;
}

void
xjob_json(struct xjob *j, struct buf *out)
{
	extract_json(j->x, out);
}

void
xjob_free(struct xjob *j)
{
	struct xpool *p;

	if (j == NULL)
		return;
	p = j->p;
	pthread_mutex_lock(&p->mu);
	if (j->on_doneq) {
		TAILQ_REMOVE(&p->doneq, j, done_link);
		j->on_doneq = false;
	}
	if (j->state == XJ_RUNNING) {
		j->cancelled = true; /* the worker frees it */
		pthread_mutex_unlock(&p->mu);
		return;
	}
	if (j->state == XJ_READY)
		TAILQ_REMOVE(&p->runq, j, run_link);
	xj_set(j, XJ_IDLE);
	p->queued -= j->held;
	pthread_mutex_unlock(&p->mu);
	job_destroy(j);
}
