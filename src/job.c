/*
 * job.c - the runners of durable jobs (see job.h).
 *
 * A runner is one job's caller of the engine: one batch, fed in pages
 * leased from the store. It keeps at most `window` items leased (about
 * twice the job's concurrency): it leases the next page once half the
 * window has come back. Every result line the batch delivers is
 * recorded in the store under the attempt it was leased with; the store
 * answers once the line is committed, and only then are the job's
 * readers told (jobs_notify), so a reader never sees a line a crash
 * could take back.
 *
 * A runner's state (enum run_state, changed only by run_set_state):
 *   LEASING  - feeding the batch as results come back;
 *   PAUSED   - the store is full or failing: no lease until it is
 *              healthy again (results still get recorded: the store
 *              keeps them queued and retries);
 *   CLOSING  - nothing left to lease (or the job was cancelled): the
 *              batch is closed and ends once every item has its result;
 *   DRAINING - SIGTERM: the batch is paused, attempts in flight finish;
 *   ENDED    - the batch is gone; the runner is freed once its last
 *              store request has answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch.h"
#include "batch_parse.h"
#include "http.h"
#include "job.h"
#include "log.h"
#include "util.h"

#define JOB_WINDOW_MIN  1024
#define JOB_WINDOW_MAX  STORE_PAGE_MAX
#define JOB_RETRY_MS    1000  /* lease again after the store refused */
#define JOB_SWEEP_MS    60000 /* expired jobs are swept this often */
#define JOB_RESUME_PAGE 1000  /* jobs read at start, per page */

enum run_state {
	RUN_LEASING,
	RUN_PAUSED,
	RUN_CLOSING,
	RUN_DRAINING,
	RUN_ENDED
};

static const char *const run_state_names[] = {
    "leasing", "paused", "closing", "draining", "ended"};

/* One leased page: the items the batch points into, by index order. */
struct job_page {
	struct batch_spec spec;
	uint32_t *attempt; /* as leased */
	unsigned *flags;   /* STORE_ITEM_* */
	uint8_t *state;    /* enum item_state, from the batch */
	uint8_t *done;     /* its result was delivered */
	uint32_t left;     /* items without a result yet */
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
	struct event *retry_ev;
	TAILQ_HEAD(, job_page) pages;
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
	bool draining;
	bool closing; /* jobs_close: runners only wait for the store */
	struct event *drain_ev; /* the drain timeout */
	struct event *check_ev; /* draining: stop the quiet runners */
	void (*drained)(void *arg);
	void *drained_arg;
};

static void run_lease(struct job_run *r);
static void drain_poke(struct jobs *js);
static void run_maybe_free(struct job_run *r);
static void jobs_maybe_drained(struct jobs *js);

/* The one place a runner's state changes (traced at debug level). */
static void
run_set_state(struct job_run *r, enum run_state to)
{
	if (r->state == to)
		return;
	log_debug("job %s: %s -> %s", r->id, run_state_names[r->state],
	    run_state_names[to]);
	r->state = to;
}

static struct job_run *
run_find(struct jobs *js, const char *id)
{
	struct job_run *r;

	TAILQ_FOREACH(r, &js->runs, link)
	if (strcmp(r->id, id) == 0 && r->state != RUN_ENDED)
		return r;
	return NULL;
}

/* The page holding item index, and its slot; NULL when none does. */
static struct job_page *
run_slot(struct job_run *r, uint32_t index, uint32_t *slot)
{
	struct job_page *p;

	TAILQ_FOREACH(p, &r->pages, link)
	{
		uint32_t lo = 0, hi = p->spec.nitems;

		if (hi == 0 || index < p->spec.items[0].index ||
		    index > p->spec.items[hi - 1].index)
			continue;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;

			if (p->spec.items[mid].index < index)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < p->spec.nitems && p->spec.items[lo].index == index &&
		    !p->done[lo]) {
			*slot = lo;
			return p;
		}
	}
	return NULL;
}

static void
page_free(struct job_page *p)
{
	batch_spec_free(&p->spec);
	free(p->attempt);
	free(p->flags);
	free(p->state);
	free(p->done);
	free(p);
}

/* Free the pages whose every item has its result (not the one whose
 * last result is being delivered right now: freed on the next call). */
static void
run_gc(struct job_run *r, const struct job_page *keep)
{
	struct job_page *p, *next;

	for (p = TAILQ_FIRST(&r->pages); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (p->left == 0 && p != keep) {
			TAILQ_REMOVE(&r->pages, p, link);
			page_free(p);
		}
	}
}

/* A store request of the runner answered. */
static void
run_answered(struct job_run *r)
{
	r->requests--;
	run_maybe_free(r);
}

static void
run_recorded_cb(enum store_err err, uint64_t seq, void *arg)
{
	struct job_run *r = arg;

	(void)seq;
	if (err != STORE_OK)
		log_warn("job %s: a result was not recorded: %s", r->id,
		    store_err_message(err));
	jobs_notify(r->js, r->id);
	run_answered(r);
}

/* An item's result line from the batch: recorded under its lease. */
static void
run_result(void *arg, const struct batch_result *res)
{
	struct job_run *r = arg;
	struct store_result sr;
	struct job_page *p;
	uint32_t slot;

	run_gc(r, NULL);
	if ((p = run_slot(r, res->index, &slot)) == NULL) {
		log_error("job %s: a result for item %u, which is not leased",
		    r->id, res->index);
		return;
	}
	p->done[slot] = 1;
	p->left--;
	r->outstanding--;
	memset(&sr, 0, sizeof(sr));
	sr.job = r->id;
	sr.index = res->index;
	sr.attempt = p->attempt[slot];
	sr.outcome = res->ok ? STORE_OUT_OK
	    : res->error == IERR_CANCELLED && r->state == RUN_CLOSING
	    ? STORE_OUT_CANCELLED
	    : STORE_OUT_FAILED;
	sr.line = res->line;
	sr.line_len = res->len;
	if (store_record(r->js->st, &sr, run_recorded_cb, r) == STORE_OK)
		r->requests++;
	else
		log_error("job %s: item %u: the store refused its result",
		    r->id, res->index);
	if (!r->adding)
		run_lease(r);
	drain_poke(r->js);
}

/* The batch tells each change of an item's state: kept for the drain. */
static void
run_item_state(
    void *arg, uint32_t index, enum item_state from, enum item_state to)
{
	struct job_run *r = arg;
	struct job_page *p;
	uint32_t slot;

	(void)from;
	if ((p = run_slot(r, index, &slot)) != NULL)
		p->state[slot] = (uint8_t)to;
	if (!item_in_attempt(to))
		drain_poke(r->js);
}

static void
run_end(void *arg, const struct batch_stats *st)
{
	struct job_run *r = arg;

	log_info("job %s: run ended: %u items, %u ok, %u failed, %llu "
	         "retries, %.1f ms",
	    r->id, st->items, st->ok, st->failed,
	    (unsigned long long)st->retries, st->elapsed_ms);
	r->b = NULL;
	run_set_state(r, RUN_ENDED);
	jobs_notify(r->js, r->id);
	run_maybe_free(r);
}

/* Nothing left to lease: the batch ends once the last result is in. */
static void
run_close(struct job_run *r)
{
	if (r->state == RUN_DRAINING || r->state == RUN_ENDED)
		return;
	run_set_state(r, RUN_CLOSING);
	if (!r->closed) {
		r->closed = true;
		batch_close(r->b);
	}
}

static void
run_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct job_run *r = arg;

	(void)fd;
	(void)what;
	if (r->state == RUN_PAUSED)
		run_set_state(r, RUN_LEASING);
	run_lease(r);
}

/* A page of leased items: handed to the batch. */
static void
run_add(struct job_run *r, const struct store_leased *items, size_t n)
{
	struct job_page *p = xcalloc(1, sizeof(*p));
	const char **json = xcalloc(n, sizeof(*json));
	size_t *len = xcalloc(n, sizeof(*len));
	uint32_t *index = xcalloc(n, sizeof(*index));
	size_t i;

	p->attempt = xcalloc(n, sizeof(*p->attempt));
	p->flags = xcalloc(n, sizeof(*p->flags));
	p->state = xcalloc(n, sizeof(*p->state));
	p->done = xcalloc(n, sizeof(*p->done));
	for (i = 0; i < n; i++) {
		json[i] = items[i].spec;
		len[i] = items[i].spec_len;
		index[i] = items[i].index;
		p->attempt[i] = items[i].attempt;
		p->flags[i] = items[i].flags;
	}
	batch_parse_leased(
	    &p->spec, &r->opts, json, len, index, (uint32_t)n, r->js->cfg);
	free(json);
	free(len);
	free(index);
	p->left = (uint32_t)n;
	r->outstanding += (uint32_t)n;
	TAILQ_INSERT_TAIL(&r->pages, p, link);
	r->adding = true;
	batch_add(r->b, p->spec.items, (uint32_t)n);
	r->adding = false;
}

static void
run_release_cb(enum store_err err, void *arg)
{
	struct job_run *r = arg;

	if (err != STORE_OK)
		log_warn("job %s: an item was not returned to pending: %s",
		    r->id, store_err_message(err));
	run_answered(r);
}

/* Return a leased item to pending (a drain): it was never sent. */
static void
run_release(struct job_run *r, uint32_t index, uint32_t attempt)
{
	if (store_release(r->js->st, r->id, index, attempt, run_release_cb,
	        r) == STORE_OK)
		r->requests++;
}

static void
run_leased_cb(
    enum store_err err, const struct store_leased *items, size_t n, void *arg)
{
	struct job_run *r = arg;
	size_t i;

	r->leasing = false;
	r->requests--;
	if (r->state == RUN_DRAINING || r->state == RUN_ENDED) {
		/* Stopping: what was just leased goes straight back. */
		for (i = 0; err == STORE_OK && i < n; i++)
			run_release(r, items[i].index, items[i].attempt);
		run_maybe_free(r);
		return;
	}
	if (err == STORE_EFULL || err == STORE_EIO) {
		log_warn("job %s: paused: %s", r->id, store_err_message(err));
		run_set_state(r, RUN_PAUSED);
		timer_arm_ms(r->retry_ev, JOB_RETRY_MS);
	} else if (err != STORE_OK || n == 0) {
		/* done, cancelled, deleted, or nothing pending any more */
		if (err != STORE_OK && err != STORE_ESTATE &&
		    err != STORE_ENOENT)
			log_error("job %s: lease failed: %s", r->id,
			    store_err_message(err));
		run_close(r);
	} else {
		run_add(r, items, n);
		run_lease(r);
	}
	run_maybe_free(r);
}

/* Lease the next page once half the window has come back. */
static void
run_lease(struct job_run *r)
{
	enum store_err err;

	if (r->leasing || r->state != RUN_LEASING ||
	    r->outstanding > r->window / 2)
		return;
	err = store_lease(
	    r->js->st, r->id, r->window - r->outstanding, run_leased_cb, r);
	if (err != STORE_OK) {
		log_error(
		    "job %s: lease refused: %s", r->id, store_err_message(err));
		run_close(r);
		return;
	}
	r->leasing = true;
	r->requests++;
}

/* The job's options as stored (its effective options) back into o. */
static void
run_options(struct job_run *r, const char *json)
{
	json_t *root = json_loads(json ? json : "{}", 0, NULL), *v;
	const char *key, *why;

	opts_defaults(&r->opts, r->js->cfg);
	json_object_foreach(root, key, v)
	{
		if (opts_set_json(&r->opts, r->js->cfg, key, v, &why) != 0)
			log_warn("job %s: stored option %s ignored: %s", r->id,
			    key, why);
	}
	json_decref(root);
	/* A batch's deadline bounds a caller's wait; a job has no caller
	 * waiting, and a large one runs for hours: none (49 days). */
	r->opts.deadline_ms = UINT32_MAX;
}

/* Start running a queued or running job. */
static void
run_start(struct jobs *js, const struct store_job *j)
{
	struct job_run *r = xcalloc(1, sizeof(*r));
	struct batch_caller caller = {
	    run_result, run_end, run_item_state, r, true};
	uint64_t w;

	r->js = js;
	memcpy(r->id, j->id, sizeof(r->id));
	TAILQ_INIT(&r->pages);
	run_options(r, j->options);
	w = 4 * (uint64_t)r->opts.concurrency;
	r->window = (uint32_t)(w < JOB_WINDOW_MIN ? JOB_WINDOW_MIN
	        : w > JOB_WINDOW_MAX              ? JOB_WINDOW_MAX
	                                          : w);
	r->retry_ev = evtimer_new(js->base, run_retry_cb, r);
	r->state = RUN_LEASING;
	TAILQ_INSERT_TAIL(&js->runs, r, link);
	r->b = batch_start(js->e, &r->opts, 0, &caller);
	log_info("job %s: running (%llu pending, window %u)", r->id,
	    (unsigned long long)j->n.pending, r->window);
	run_lease(r);
}

/* Free an ended runner once the store has answered all it asked. */
static void
run_maybe_free(struct job_run *r)
{
	struct jobs *js = r->js;
	struct job_page *p;

	if (r->state != RUN_ENDED || r->requests > 0)
		return;
	TAILQ_REMOVE(&js->runs, r, link);
	while ((p = TAILQ_FIRST(&r->pages)) != NULL) {
		TAILQ_REMOVE(&r->pages, p, link);
		page_free(p);
	}
	event_free(r->retry_ev);
	if (r->kicked && !js->draining && !js->closing)
		jobs_kick(js, r->id);
	free(r);
	if (!js->closing)
		jobs_maybe_drained(js);
}

static void
kick_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct jobs *js = arg;

	if (err != STORE_OK || js->draining)
		return;
	if (j->state != STORE_JOB_QUEUED && j->state != STORE_JOB_RUNNING)
		return;
	if (run_find(js, j->id) == NULL)
		run_start(js, j);
}

void
jobs_kick(struct jobs *js, const char *id)
{
	struct job_run *r = run_find(js, id);

	if (r != NULL) {
		/* Its batch may be closed already: run again after it. */
		if (r->closed)
			r->kicked = true;
		else
			run_lease(r);
		return;
	}
	if (!js->draining)
		store_get(js->st, id, kick_cb, js);
}

void
jobs_cancelled(struct jobs *js, const char *id)
{
	struct job_run *r = run_find(js, id);

	if (r == NULL || r->state == RUN_DRAINING)
		return;
	run_close(r);
	batch_abort(r->b, "the job was cancelled");
}

/* Resume every queued or running job, a page at a time. */
static void
resume_cb(enum store_err err, const struct store_job *jobs, size_t n, bool more,
    void *arg)
{
	struct jobs *js = arg;
	struct store_list_query q;
	size_t i;

	if (err != STORE_OK) {
		log_error("jobs: cannot list jobs to resume: %s",
		    store_err_message(err));
		return;
	}
	for (i = 0; i < n && !js->draining; i++)
		if (run_find(js, jobs[i].id) == NULL)
			run_start(js, &jobs[i]);
	if (more && n > 0 && !js->draining) {
		memset(&q, 0, sizeof(q));
		q.states = 1u << STORE_JOB_QUEUED | 1u << STORE_JOB_RUNNING;
		q.limit = JOB_RESUME_PAGE;
		q.after = jobs[n - 1].id;
		store_list(js->st, &q, resume_cb, js);
	}
}

static void
sweep_done_cb(enum store_err err, uint64_t removed, void *arg)
{
	(void)arg;
	if (err != STORE_OK)
		log_warn("jobs: sweep failed: %s", store_err_message(err));
	else if (removed > 0)
		log_info("jobs: %llu expired jobs removed",
		    (unsigned long long)removed);
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *js = arg;

	(void)fd;
	(void)what;
	if (!js->draining)
		store_sweep(js->st, sweep_done_cb, NULL);
}

static void
health_cb(bool ok, const char *why, void *arg)
{
	struct jobs *js = arg;
	struct job_run *r;

	free(js->degraded);
	js->degraded = ok ? NULL : xstrdup(why ? why : "store failing");
	if (ok) {
		log_info("jobs: the store is healthy again");
		TAILQ_FOREACH(r, &js->runs, link)
		if (r->state == RUN_PAUSED) {
			run_set_state(r, RUN_LEASING);
			run_lease(r);
		}
	} else {
		log_warn("jobs: the store is degraded: %s", js->degraded);
	}
}

/* The store directory: [jobs] dir, else systemd's, else the default. */
static const char *
jobs_dir(const struct config *cfg)
{
	const char *sd = getenv("STATE_DIRECTORY");

	if (cfg->jobs_dir[0] != '\0')
		return cfg->jobs_dir;
	if (sd != NULL && sd[0] != '\0') {
		/* Several directories are separated by colons: the first. */
		static char first[CONFIG_PATH_LEN];

		snprintf(
		    first, sizeof(first), "%.*s", (int)strcspn(sd, ":"), sd);
		return first;
	}
	return CONFIG_JOBS_DIR;
}

struct jobs *
jobs_open(struct event_base *base, struct engine *e, const struct config *cfg,
    char *why, size_t whylen)
{
	struct jobs *js = xcalloc(1, sizeof(*js));
	struct store_config sc;
	struct store_list_query q;

	js->base = base;
	js->e = e;
	js->cfg = cfg;
	TAILQ_INIT(&js->runs);
	TAILQ_INIT(&js->watches);
	store_config_defaults(&sc);
	sc.dir = jobs_dir(cfg);
	sc.durable = cfg->jobs_durable;
	sc.max_active = (uint32_t)cfg->jobs_max_active;
	sc.max_items = (uint32_t)cfg->jobs_max_items;
	sc.max_store_bytes = cfg->jobs_max_store_bytes;
	sc.max_body_bytes = cfg->jobs_max_body_bytes_cap;
	sc.ttl_s = (uint32_t)cfg->jobs_ttl_s;
	sc.on_health = health_cb;
	sc.health_arg = js;
	if ((js->st = store_open(&sc, base, why, whylen)) == NULL) {
		free(js);
		return NULL;
	}
	log_info("jobs: store in %s", sc.dir);
	js->sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, js);
	timer_arm_ms(js->sweep_ev, JOB_SWEEP_MS);
	event_active(js->sweep_ev, EV_TIMEOUT, 1); /* one sweep at start */
	memset(&q, 0, sizeof(q));
	q.states = 1u << STORE_JOB_QUEUED | 1u << STORE_JOB_RUNNING;
	q.limit = JOB_RESUME_PAGE;
	store_list(js->st, &q, resume_cb, js);
	return js;
}

/* The drain is over once every runner is gone. */
static void
jobs_maybe_drained(struct jobs *js)
{
	void (*fn)(void *arg) = js->drained;

	if (!js->draining || fn == NULL || !TAILQ_EMPTY(&js->runs))
		return;
	js->drained = NULL;
	if (js->drain_ev != NULL)
		event_del(js->drain_ev);
	fn(js->drained_arg);
}

/*
 * Stop a draining runner now: cancel its batch (nothing more is
 * delivered) and give back what it holds - every item not yet sent, and
 * every safe one mid-attempt; an unsafe item mid-attempt may have been
 * sent and stays in flight (the next start ends it `interrupted`).
 */
static void
run_stop(struct job_run *r)
{
	struct job_page *p;
	uint32_t i;

	if (r->b != NULL) {
		batch_cancel(r->b);
		r->b = NULL;
	}
	TAILQ_FOREACH(p, &r->pages, link)
	for (i = 0; i < p->spec.nitems; i++) {
		bool unsafe = (p->flags[i] & STORE_ITEM_UNSAFE) &&
		    !(p->flags[i] & STORE_ITEM_RETRY_UNSAFE);

		if (p->done[i])
			continue;
		if (unsafe && item_in_attempt((enum item_state)p->state[i]))
			continue;
		run_release(r, p->spec.items[i].index, p->attempt[i]);
	}
	run_set_state(r, RUN_ENDED);
	run_maybe_free(r);
}

/* Has a draining runner no attempt left in flight? */
static bool
run_quiet(const struct job_run *r)
{
	const struct job_page *p;
	uint32_t i;

	TAILQ_FOREACH(p, &r->pages, link)
	for (i = 0; i < p->spec.nitems; i++)
		if (!p->done[i] &&
		    item_in_attempt((enum item_state)p->state[i]))
			return false;
	return true;
}

/* Stop every draining runner that is quiet (all of them at the
 * timeout). */
static void
drain_check(struct jobs *js, bool all)
{
	struct job_run *r, *next;

	for (r = TAILQ_FIRST(&js->runs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, link);
		if (r->state == RUN_DRAINING && (all || run_quiet(r)))
			run_stop(r);
	}
	jobs_maybe_drained(js);
}

static void
drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	drain_check(arg, false);
}

static void
drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *js = arg;

	(void)fd;
	(void)what;
	log_info("jobs: drain timeout: returning what is still out");
	drain_check(js, true);
}

/* From inside a batch callback: check the drain from the loop. */
static void
drain_poke(struct jobs *js)
{
	if (js->draining && js->check_ev != NULL)
		event_active(js->check_ev, EV_READ, 1);
}

void
jobs_drain(
    struct jobs *js, uint64_t timeout_ms, void (*drained)(void *arg), void *arg)
{
	struct job_run *r;

	js->draining = true;
	js->drained = drained;
	js->drained_arg = arg;
	event_del(js->sweep_ev);
	TAILQ_FOREACH(r, &js->runs, link)
	{
		if (r->state == RUN_ENDED)
			continue;
		run_set_state(r, RUN_DRAINING);
		event_del(r->retry_ev);
		if (r->b != NULL)
			batch_pause(r->b, true);
	}
	js->check_ev = event_new(js->base, -1, 0, drain_check_cb, js);
	js->drain_ev = evtimer_new(js->base, drain_timeout_cb, js);
	timer_arm_ms(js->drain_ev, timeout_ms);
	drain_poke(js);
}

void
jobs_close(struct jobs *js)
{
	struct job_run *r, *next;

	/* Not drained (a second signal, a start-up failure): stop every
	 * batch; the runners stay until the store has answered them. */
	js->closing = true;
	TAILQ_FOREACH(r, &js->runs, link)
	{
		if (r->b != NULL) {
			batch_cancel(r->b);
			r->b = NULL;
		}
		run_set_state(r, RUN_ENDED);
	}
	/* Every request still queued is answered now: runners and readers
	 * waiting on the store hear back and free themselves (the server
	 * outlives this). */
	store_close(js->st);
	for (r = TAILQ_FIRST(&js->runs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, link);
		r->requests = 0;
		run_maybe_free(r);
	}
	event_free(js->sweep_ev);
	if (js->check_ev != NULL)
		event_free(js->check_ev);
	if (js->drain_ev != NULL)
		event_free(js->drain_ev);
	free(js->degraded);
	free(js);
}

struct store *
jobs_store(struct jobs *js)
{
	return js->st;
}

const struct config *
jobs_config(const struct jobs *js)
{
	return js->cfg;
}

const char *
jobs_degraded(const struct jobs *js)
{
	return js->degraded;
}

void
jobs_watch(struct jobs *js, struct jobs_watch *w)
{
	TAILQ_INSERT_TAIL(&js->watches, w, link);
}

void
jobs_unwatch(struct jobs *js, struct jobs_watch *w)
{
	TAILQ_REMOVE(&js->watches, w, link);
}

void
jobs_notify(struct jobs *js, const char *id)
{
	struct jobs_watch *w, *next;

	for (w = TAILQ_FIRST(&js->watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (strcmp(w->id, id) == 0)
			w->fn(w->arg);
	}
}

void
jobs_gauges(const struct jobs *js, struct jobs_gauges *g)
{
	const struct job_run *r;

	memset(g, 0, sizeof(*g));
	TAILQ_FOREACH(r, &js->runs, link)
	{
		g->runners++;
		g->leased += r->outstanding;
	}
}
