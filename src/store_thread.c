/*
 * store_thread.c - the store's three threads and the queues between them
 * and the loop (see store_int.h for who owns what).
 *
 * The writer runs group commit: it takes everything queued, applies
 * request after request inside one transaction, and takes more as it
 * arrives, until the queue is drained or the transaction holds
 * cfg.commit_max records or has been open cfg.commit_ms; then it
 * commits once for all of them and only then sends each on. A
 * transaction of results alone (no caller waits on it: only readers of
 * lines) lingers up to cfg.linger_ms for more, woken early by anything
 * else (sreq_urgent) or by a full transaction's worth: one commit (one
 * fsync, one write of each page touched) then carries hundreds of
 * results instead of a few dozen. A lease of safe items is answered as
 * soon as it is applied (answer_early). WAL checkpoints run on the files
 * thread (SR_CHECKPOINT, store_sqlite_open.c), not inside a commit. A failed
 * transaction (disk full, I/O error) is rolled back whole: requests from
 * callers fail with the error, while results and the store's own
 * follow-up work wait cfg.retry_ms and go again, for as long as it
 * takes; whatever arrives meanwhile waits behind them, in order, so that
 * nothing overtakes a retry (the records of items whose lease is being
 * redone). The health changes this causes reach the loop as SR_HEALTH.
 * Health follows reachability, not only the last commit: when the
 * writer has had nothing to do for cfg.retry_ms, or is degraded with
 * nothing to retry, it probes the backend (ops->probe: PostgreSQL's
 * SELECT 1, SQLite's small synced write while degraded), so that an
 * idle instance sees an outage and its end; the probe also finishes an
 * open PostgreSQL was not there for. A transaction lost to another
 * writer (ops->conflict: a PostgreSQL deadlock) is applied again at once
 * (redo), and a request the backend puts off (sreq.later: its lock
 * would come out of order) goes first in the next transaction.
 *
 * Completions go back to the loop through a queue and an eventfd that
 * the loop watches with an ordinary libevent event: the store threads
 * never call libevent, so the loop's base needs no evthread locking
 * (LIBEVENT-NOTES.md, "Threads": every base, evhttp and event is used
 * only by the thread that owns it). The eventfd is written only when
 * the queue turns non-empty, so a burst of completions costs one
 * wake-up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

void
squeue_init(struct squeue *q)
{
	pthread_condattr_t a;

	pthread_mutex_init(&q->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cv, &a);
	pthread_condattr_destroy(&a);
	q->head = NULL;
	q->tail = &q->head;
	q->depth = 0;
	q->stop = false;
}

void
squeue_destroy(struct squeue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
}

/* Appends r under the lock; true when the queue was empty. */
static bool
append(struct squeue *q, struct sreq *r)
{
	bool was_empty = q->head == NULL;

	r->next = NULL;
	*q->tail = r;
	q->tail = &r->next;
	q->depth++;
	return was_empty;
}

bool
sreq_urgent(const struct sreq *r)
{
	return r->op != SR_RECORD;
}

bool
squeue_push(struct squeue *q, struct sreq *r)
{
	bool was_empty;

	pthread_mutex_lock(&q->mu);
	if (q->stop) {
		pthread_mutex_unlock(&q->mu);
		return false;
	}
	was_empty = append(q, r);
	if (q->linger > 0 ? sreq_urgent(r) || q->depth == q->linger : was_empty)
		pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return true;
}

/* Until deadline_us (mono_us) on q's condition, q->mu held; false when
 * it passed. */
static bool
squeue_wait(struct squeue *q, uint64_t deadline_us)
{
	struct timespec ts = {(time_t)(deadline_us / 1000000),
	    (long)(deadline_us % 1000000) * 1000};

	if (deadline_us == 0) {
		pthread_cond_wait(&q->cv, &q->mu);
		return true;
	}
	return pthread_cond_timedwait(&q->cv, &q->mu, &ts) != ETIMEDOUT;
}

/* Take the whole queue, q->mu held. */
static struct sreq *
take_all(struct squeue *q, bool *stop)
{
	struct sreq *list = q->head;

	q->head = NULL;
	q->tail = &q->head;
	q->depth = 0;
	*stop = q->stop;
	return list;
}

struct sreq *
squeue_take(struct squeue *q, bool wait, uint64_t deadline_us, bool *stop)
{
	struct sreq *list;

	pthread_mutex_lock(&q->mu);
	while (wait && q->head == NULL && !q->stop)
		if (!squeue_wait(q, deadline_us))
			break;
	list = take_all(q, stop);
	pthread_mutex_unlock(&q->mu);
	return list;
}

struct sreq *
squeue_linger(struct squeue *q, size_t enough, uint64_t deadline_us, bool *stop)
{
	struct sreq *list, *r;
	bool hurry = false;

	pthread_mutex_lock(&q->mu);
	q->linger = enough > 0 ? enough : 1;
	for (r = q->head; r != NULL && !hurry; r = r->next)
		hurry = sreq_urgent(r);
	while (!hurry && !q->stop && q->depth < q->linger) {
		if (!squeue_wait(q, deadline_us))
			break;
		for (r = q->head; r != NULL && !hurry; r = r->next)
			hurry = sreq_urgent(r);
	}
	q->linger = 0;
	list = take_all(q, stop);
	pthread_mutex_unlock(&q->mu);
	return list;
}

void
squeue_stop(struct squeue *q)
{
	pthread_mutex_lock(&q->mu);
	q->stop = true;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

size_t
squeue_depth(struct squeue *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	n = q->depth;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/* Hand r to the loop thread. */
static void
post_done(struct store *st, struct sreq *r)
{
	struct squeue *q = &st->done;
	uint64_t one = 1;
	bool wake;

	pthread_mutex_lock(&q->mu);
	wake = append(q, r);
	pthread_mutex_unlock(&q->mu);
	if (wake && write(st->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_error("store: eventfd: %s", strerror(errno));
}

void
store_route(struct store *st, struct sreq *r)
{
	enum sreq_route to = r->route;

	r->route = ROUTE_LOOP;
	if (to == ROUTE_WRITER && squeue_push(&st->wq, r))
		return;
	if (to == ROUTE_FILES && squeue_push(&st->fq, r))
		return;
	if (to != ROUTE_LOOP && r->err == STORE_OK)
		r->err = STORE_ECLOSED; /* its next thread has stopped */
	post_done(st, r);
}

void
store_spawn(struct store *st, struct sreq *r)
{
	r->next = st->spawned;
	st->spawned = r;
}

void
store_set_health(struct store *st, bool ok, const char *why)
{
	struct sreq *r;

	if (ok == !st->degraded && (ok || strcmp(why, st->why) == 0))
		return;
	st->degraded = !ok;
	snprintf(st->why, sizeof(st->why), "%s", ok ? "" : why);
	atomic_store(&st->is_degraded, !ok);
	if (ok)
		log_info("store: writing again");
	else
		log_error("store: %s", why);
	r = sreq_new(SR_HEALTH, 0);
	r->healthy = ok;
	r->out = xstrdup(st->why);
	r->why = r->out;
	post_done(st, r);
}

/* How much of a transaction's budget r takes. */
static uint64_t
weight(const struct sreq *r)
{
	if (r->op == SR_CREATE)
		return r->nitems > 0 ? r->nitems : 1;
	if (r->op == SR_LEASE || r->op == SR_CANCEL_SLICE ||
	    r->op == SR_TRASH_SLICE)
		return r->count > 0 ? r->count : 1;
	return 1;
}

static bool
retried(const struct sreq *r)
{
	return r->op == SR_RECORD || r->op == SR_CANCEL_SLICE ||
	    r->op == SR_TRASH_SLICE || r->op == SR_TRASH_DONE ||
	    r->op == SR_LEASE_REDO;
}

struct group {
	struct sreq *todo;  /* not yet applied */
	struct sreq *retry; /* failed, to run again */
	struct sreq **retry_tail;
	bool stopped;  /* the writer queue was stopped */
	int conflicts; /* transactions lost to other writers in a row */
};

/* Transactions lost to another writer (ops->conflict) run again at once
 * this many times in a row; then they fail as any other. */
#define REDO_MAX 5

static void
push_back(struct sreq **head, struct sreq ***tail, struct sreq *r)
{
	r->next = NULL;
	**tail = r;
	*tail = &r->next;
}

/* Why the store is degraded after err: the backend's message, after
 * what could not be done. */
static void
health_why(struct store *st, enum store_err err, char *why, size_t len)
{
	const char *msg = st->ops->errmsg(st->be);

	if (!st->opened)
		snprintf(why, len, "cannot open the job store: %s", msg);
	else if (err == STORE_EFULL)
		snprintf(why, len, "disk full: %s", msg);
	else
		snprintf(why, len, "cannot write the job store: %s", msg);
}

/* Forget what the store made for itself in a transaction that did not
 * commit (its follow-up work is found again). */
static void
drop_spawned(struct store *st)
{
	struct sreq *r;

	while ((r = st->spawned) != NULL) {
		st->spawned = r->next;
		sreq_free(r);
	}
}

/* The transaction failed: callers hear the error, the rest waits. */
static void
fail_applied(
    struct store *st, struct group *g, struct sreq *done, enum store_err err)
{
	struct sreq *r, *next;
	char why[200];

	atomic_fetch_add(&st->commit_errors, 1);
	health_why(st, err, why, sizeof(why));
	store_set_health(st, false, why);
	for (r = done; r != NULL; r = next) {
		next = r->next;
		if (retried(r)) {
			r->err = STORE_OK;
			push_back(&g->retry, &g->retry_tail, r);
		} else {
			r->err = err;
			store_route(st, r);
		}
	}
	drop_spawned(st);
}

/* Queue what the store made for itself (recovery's follow-up work,
 * slices): to the writer, a directory's removal to the files thread. */
static void
push_spawned(struct store *st, bool stopped)
{
	struct sreq *r, *next;

	for (r = st->spawned; r != NULL; r = next) {
		next = r->next;
		if (stopped ||
		    !squeue_push(r->op == SR_RMDIR ? &st->fq : &st->wq, r))
			sreq_free(r); /* resumed at the next open */
	}
	st->spawned = NULL;
}

/*
 * Nothing to write for a while (or a degraded store waiting): ask the
 * backend whether the database takes writes, so that health follows
 * reachability and not only the last commit. The first success after
 * an open left undone finishes it and queues what its recovery found.
 */
static void
probe(struct store *st, bool stopped)
{
	enum store_err err = st->ops->probe(st->be, st->degraded);
	const char *over;
	char why[200];

	if (err != STORE_OK) {
		health_why(st, err, why, sizeof(why));
		store_set_health(st, false, why);
		drop_spawned(st); /* found again next time */
		return;
	}
	if (!st->opened) {
		st->opened = true;
		log_info("store: open");
		push_spawned(st, stopped);
	}
	over = st->ops->limits(st->be);
	store_set_health(st, over == NULL, over);
}

/* The transaction committed: send each request on. */
static void
finish_applied(struct store *st, struct group *g, struct sreq *done,
    uint64_t records, uint64_t us)
{
	const char *over = st->ops->limits(st->be);
	struct sreq *r, *next;
	int b;

	atomic_fetch_add(&st->commits, 1);
	atomic_fetch_add(&st->records, records);
	atomic_fetch_add(&st->commit_us_sum, us);
	for (b = 0; b < STORE_HIST_BUCKETS && us > store_hist_bounds_us[b];)
		b++;
	atomic_fetch_add(&st->commit_hist[b], 1);
	store_set_health(st, over == NULL, over);
	push_spawned(st, g->stopped);
	for (r = done; r != NULL; r = next) {
		next = r->next;
		if (r->op == SR_LEASE_REDO) { /* its lease is committed */
			sreq_free(r);
			continue;
		}
		if (!r->again) {
			store_route(st, r);
			continue;
		}
		r->again = false; /* a slice: run again later */
		if (g->stopped || !squeue_push(&st->wq, r))
			sreq_free(r); /* resumed at the next open */
	}
}

/*
 * May r be answered before its transaction commits? A lease of safe
 * items only: should the process die first, its items are pending again
 * - where recovery puts a safe item in flight anyway; should the commit
 * fail, its twin (early_twin) leases the same items again, before the
 * records that follow it are retried. An unsafe item's lease must be on
 * disk before it can be sent; and while the store is degraded every
 * lease waits for its commit, so that a full disk pauses the runners
 * (the lease fails).
 */
static bool
answer_early(const struct store *st, const struct sreq *r)
{
	size_t i;

	if (r->op != SR_LEASE || st->degraded || st->ops->lease_after_commit)
		return false;
	for (i = 0; i < r->count; i++)
		if ((r->leased[i].flags & STORE_ITEM_UNSAFE) &&
		    !(r->leased[i].flags & STORE_ITEM_RETRY_UNSAFE))
			return false;
	return true;
}

/* The twin of an early answered lease r: the same range of items, moved
 * in flight again if the transaction fails (SR_LEASE_REDO); freed once it
 * commits. */
static struct sreq *
early_twin(const struct sreq *r)
{
	struct sreq *t = sreq_new(SR_LEASE_REDO, 0);

	memcpy(t->id, r->id, sizeof(t->id));
	if (r->count > 0) {
		t->lo = r->leased[0].index;
		t->hi = r->leased[r->count - 1].index;
		t->count = r->count;
	}
	return t;
}

/* Next request for the running transaction: from todo, else whatever
 * arrived meanwhile (without waiting). */
static struct sreq *
next_req(struct store *st, struct group *g)
{
	struct sreq *r;
	bool stop;

	if (g->todo == NULL && !g->stopped) {
		g->todo = squeue_take(&st->wq, false, 0, &stop);
		g->stopped = stop;
	}
	r = g->todo;
	if (r != NULL)
		g->todo = r->next;
	return r;
}

/* r as before it was applied: its answer dropped. */
static void
unanswer(struct sreq *r)
{
	free(r->out);
	r->out = NULL;
	r->jobs = NULL;
	r->njobs = 0;
	r->leased = NULL;
	r->more = false;
	memset(&r->job, 0, sizeof(r->job));
	r->err = STORE_OK;
	r->again = false;
	r->seq = 0;
	if (r->op == SR_LEASE || r->op == SR_CANCEL_SLICE ||
	    r->op == SR_TRASH_SLICE)
		r->count = 0;
	if (r->op == SR_CREATE)
		r->id[0] = '\0'; /* (the job's, once applied) */
}

/*
 * A transaction rolled back because it lost to another writer (a
 * PostgreSQL deadlock between two instances' groups): nothing of it was
 * answered, so its requests go again at once, first in line, without
 * failing anyone or turning the store degraded. False: fail it as usual.
 */
static bool
redo(struct store *st, struct group *g, struct sreq *done)
{
	struct sreq *r, **tail = &done;

	if (st->ops->conflict == NULL || !st->ops->conflict(st->be) ||
	    !st->ops->lease_after_commit || g->conflicts >= REDO_MAX)
		return false;
	g->conflicts++;
	log_info("store: a transaction lost to another writer (%s); again",
	    st->ops->errmsg(st->be));
	drop_spawned(st);
	for (r = done; r != NULL; r = r->next) {
		unanswer(r);
		tail = &r->next;
	}
	*tail = g->todo;
	g->todo = done;
	return true;
}

/* One transaction over requests from g->todo (and the queue). */
static void
run_txn(struct store *st, struct group *g)
{
	uint64_t t0 = mono_us(), budget = 0, records = 0;
	uint64_t limit_us = (uint64_t)st->cfg.commit_ms * 1000;
	struct sreq *done = NULL, **tail = &done, *r;
	enum store_err err = st->ops->begin(st->be);
	bool stop;

	uint64_t linger_to = t0 + (uint64_t)st->cfg.linger_ms * 1000;
	bool hurry = false;

	/* No transaction (a database server unreachable): what was to go
	 * in it fails or waits, as after a failed commit. */
	if (err != STORE_OK) {
		done = g->todo;
		g->todo = NULL;
	}

	while (err == STORE_OK) {
		if ((r = next_req(st, g)) == NULL) {
			/* Only records so far: wait a little for more, so
			 * that one commit carries many. */
			if (hurry || g->stopped || mono_us() >= linger_to)
				break;
			g->todo = squeue_linger(&st->wq,
			    st->cfg.commit_max - budget, linger_to, &stop);
			g->stopped = stop;
			continue;
		}
		err = st->ops->apply(st->be, r);
		if (err == STORE_OK && r->later) { /* the next one's first */
			r->later = false;
			r->next = g->todo;
			g->todo = r;
			break;
		}
		if (r->op == SR_RECORD && r->err == STORE_OK)
			records++;
		budget += weight(r);
		if (err == STORE_OK && answer_early(st, r)) {
			if (r->count > 0)
				push_back(&done, &tail, early_twin(r));
			store_route(st, r);
		} else {
			push_back(&done, &tail, r);
			hurry = hurry || sreq_urgent(r);
		}
		if (budget >= st->cfg.commit_max || mono_us() - t0 >= limit_us)
			break;
	}
	if (err == STORE_OK)
		err = st->ops->commit(st->be);
	if (err != STORE_OK) {
		st->ops->rollback(st->be);
		if (!redo(st, g, done))
			fail_applied(st, g, done, err);
		return;
	}
	g->conflicts = 0;
	finish_applied(st, g, done, records, mono_us() - t0);
}

/* Fail what still waits for a retry (the store is closing): a result's
 * or a caller's request is answered with the error. */
static void
give_up(struct store *st, struct group *g)
{
	struct sreq *r, *next;

	for (r = g->retry; r != NULL; r = next) {
		next = r->next;
		r->err = st->degraded && strncmp(st->why, "disk full", 9) == 0
		    ? STORE_EFULL
		    : STORE_EIO;
		if (r->op == SR_RECORD)
			log_error("store: result of item %u of job %s not "
			          "stored: %s",
			    r->index, r->id, st->why);
		else if (retried(r)) { /* the store's own follow-up work */
			sreq_free(r);
			continue;
		}
		post_done(st, r); /* its caller hears the error */
	}
	g->retry = NULL;
	g->retry_tail = &g->retry;
}

/* Put what is not yet applied behind the retries, in order. */
static void
defer_todo(struct group *g)
{
	*g->retry_tail = g->todo;
	while (*g->retry_tail != NULL)
		g->retry_tail = &(*g->retry_tail)->next;
	g->todo = NULL;
}

static void *
writer_main(void *arg)
{
	struct store *st = arg;
	struct group g = {NULL, NULL, &g.retry, false, 0};
	uint64_t retry_us = (uint64_t)st->cfg.retry_ms * 1000;
	uint64_t retry_at = 0, probe_at = mono_us();
	bool stop, final = false;

	if (st->opened) /* (else at once: the open is to be finished) */
		probe_at += retry_us;
	while (!atomic_load(&st->abandon)) {
		g.todo = squeue_take(&st->wq, !g.stopped,
		    g.retry != NULL ? retry_at : probe_at, &stop);
		g.stopped = g.stopped || stop;
		if (g.todo == NULL && g.retry == NULL && !g.stopped) {
			/* Idle, or degraded by a failure nothing retries
			 * (a refused create): a retry is a probe itself. */
			if (mono_us() >= probe_at) {
				probe(st, g.stopped);
				probe_at = mono_us() + retry_us;
			}
			continue;
		}
		if (g.retry != NULL) {
			/* Nothing overtakes a retry (a lease's redo before
			 * the records of its items): what arrived waits
			 * behind, and all of it goes when the time comes. */
			defer_todo(&g);
			if (mono_us() >= retry_at || g.stopped) {
				g.todo = g.retry;
				g.retry = NULL;
				g.retry_tail = &g.retry;
			}
		}
		if (g.todo == NULL && g.stopped && g.retry == NULL)
			break;
		while (g.todo != NULL && !atomic_load(&st->abandon)) {
			run_txn(st, &g);
			if (g.retry != NULL) { /* it failed: the rest waits */
				defer_todo(&g);
				retry_at = mono_us() + retry_us;
			}
		}
		if (st->opened) /* a write was a probe (the open is not) */
			probe_at = mono_us() + retry_us;
		if (g.stopped && g.retry != NULL) {
			if (final)
				give_up(st, &g);
			final = true; /* one last attempt, then give up */
		}
	}
	while (g.retry != NULL) { /* abandoned */
		struct sreq *r = g.retry;

		g.retry = r->next;
		sreq_free(r);
	}
	return NULL;
}

/* A worker: each request in arrival order through run, then on. */
static void
work(struct store *st, struct squeue *q,
    void (*run)(struct store *st, struct sreq *r))
{
	struct sreq *r, *next;
	bool stop = false;

	while (!atomic_load(&st->abandon)) {
		r = squeue_take(q, true, 0, &stop);
		if (r == NULL && stop)
			break;
		for (; r != NULL; r = next) {
			next = r->next;
			if (atomic_load(&st->abandon)) {
				sreq_free(r);
				continue;
			}
			run(st, r);
			store_route(st, r);
		}
	}
}

static void
read_one(struct store *st, struct sreq *r)
{
	st->ops->read(st->be, r);
}

/* The reader: every read, one at a time, on its own connection. */
static void *
reader_main(void *arg)
{
	struct store *st = arg;

	work(st, &st->rq, read_one);
	return NULL;
}

void
store_checkpoint_soon(struct store *st)
{
	struct sreq *r;

	if (atomic_exchange(&st->ckpt_queued, true))
		return;
	r = sreq_new(SR_CHECKPOINT, 0);
	if (!squeue_push(&st->fq, r)) {
		sreq_free(r);
		atomic_store(&st->ckpt_queued, false);
	}
}

static void
files_run(struct store *st, struct sreq *r)
{
	if (r->op != SR_CHECKPOINT) {
		store_files_run(st, r);
		return;
	}
	st->ops->checkpoint(st->be);
	atomic_store(&st->ckpt_queued, false);
}

/* The files thread: body files and checkpoints, in arrival order. */
static void *
files_main(void *arg)
{
	struct store *st = arg;

	work(st, &st->fq, files_run);
	return NULL;
}

int
store_threads_start(struct store *st, char *err, size_t errlen)
{
	void *(*mains[])(void *) = {writer_main, reader_main, files_main};
	pthread_t *ids[] = {&st->writer, &st->reader, &st->files};
	/* Named for top -H and /proc/PID/task/TID/comm (15 bytes most). */
	static const char *const names[] = {
	    "store-writer", "store-reader", "store-files"};
	char list[64];
	int i, rc;

	for (i = 0; i < 3; i++) {
		rc = pthread_create(ids[i], NULL, mains[i], st);
		if (rc != 0) {
			snprintf(
			    err, errlen, "pthread_create: %s", strerror(rc));
			return -1;
		}
		st->threads = i + 1;
		pthread_setname_np(*ids[i], names[i]);
		if ((rc = cpus_apply(*ids[i], &st->cfg.cpus)) != 0) {
			cpus_format(&st->cfg.cpus, list, sizeof(list));
			snprintf(err, errlen,
			    "store_cpu_list %s: cannot run there: %s", list,
			    strerror(rc));
			return -1;
		}
	}
	return 0;
}

void
store_threads_stop(struct store *st)
{
	/* Files first: they pass records on to the writer. */
	squeue_stop(&st->fq);
	if (st->threads >= 3)
		pthread_join(st->files, NULL);
	squeue_stop(&st->wq);
	if (st->threads >= 1)
		pthread_join(st->writer, NULL);
	squeue_stop(&st->rq);
	if (st->threads >= 2)
		pthread_join(st->reader, NULL);
	st->threads = 0;
}
