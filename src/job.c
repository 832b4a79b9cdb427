/*
 * job.c - durable jobs (see job.h): the store opened and recovered, the
 * queued and running jobs resumed (a runner each, job_run.c), expired
 * jobs swept, the store's health followed (running jobs pause while it
 * cannot write), the drain on SIGTERM, and the readers' watches.
 *
 * The drain: every runner stops leasing and pauses its batch, so only
 * attempts already in flight go on; a runner with none left stops at
 * once, giving every item it holds back to the store (run_stop). At
 * [server] drain_timeout_ms the rest stop the same way, except that an
 * unsafe item mid-attempt stays in flight (the next start ends it
 * `interrupted`). The drain is over once every runner is freed, which
 * waits for the store's answers.
 */
#include <stdlib.h>
#include <string.h>

#include "job_int.h"
#include "log.h"
#include "util.h"

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

uint32_t
jobs_start_early(struct jobs *js, const char *id, const char *options,
    struct job_items *head, uint32_t n)
{
	struct store_stats ss;

	if (store_shared(js->st))
		return 0;
	/* Not when the creation is bound to be refused (a race with another
	 * creation aside): a full or failing store, max_active reached. */
	store_stats(js->st, &ss);
	if (ss.degraded ||
	    (js->cfg->jobs_max_active != 0 &&
	        ss.jobs[STORE_JOB_QUEUED] + ss.jobs[STORE_JOB_RUNNING] >=
	            js->cfg->jobs_max_active))
		return 0;
	return run_start_early(js, id, options, head, n);
}

void
jobs_go_early(struct jobs *js, const char *id)
{
	struct job_run *r = run_find(js, id);

	if (r != NULL && r->creating && r->early != NULL)
		run_go_early(r);
}

void
jobs_created(struct jobs *js, const char *id, enum store_err err)
{
	struct job_run *r = run_find(js, id);

	if (r != NULL && r->creating)
		run_created(r, err);
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

/* Resume every queued or running job, a page at a time (with a shared
 * store, those with items pending: the others are being run elsewhere). */
static void
resume_cb(enum store_err err, const struct store_job *jobs, size_t n, bool more,
    void *arg)
{
	struct jobs *js = arg;
	bool shared = store_shared(js->st);
	struct store_list_query q;
	size_t i;

	if (err != STORE_OK) {
		js->scanning = false;
		if (!shared)
			log_error("jobs: cannot list jobs to resume: %s",
			    store_err_message(err));
		return;
	}
	for (i = 0; i < n && !js->draining; i++)
		if (run_find(js, jobs[i].id) == NULL &&
		    (!shared || jobs[i].n.pending > 0))
			run_start(js, &jobs[i]);
	js->scanning = more && n > 0 && !js->draining;
	if (more && n > 0 && !js->draining) {
		memset(&q, 0, sizeof(q));
		q.states = 1u << STORE_JOB_QUEUED | 1u << STORE_JOB_RUNNING;
		q.limit = JOB_RESUME_PAGE;
		q.after = jobs[n - 1].id;
		store_list(js->st, &q, resume_cb, js);
	}
}

/* A job this instance runs, as the shared store has it now: cancelled
 * through another instance, its attempts here stop too. */
static void
fleet_state_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct jobs *js = arg;

	if (err == STORE_OK && j->state == STORE_JOB_CANCELLED)
		jobs_cancelled(js, j->id);
}

/* A shared store: wake every follower (they read if caught up) and,
 * every JOB_FLEET_SCAN ticks, look for jobs to help with and at the
 * state of those it runs (one read each). No NOTIFY per line: a poll
 * costs one indexed read per follower. */
static void
fleet_cb(evutil_socket_t fd, short what, void *arg)
{
	struct jobs *js = arg;
	struct jobs_watch *w, *next;
	struct store_list_query q;
	struct job_run *r;

	(void)fd;
	(void)what;
	for (w = TAILQ_FIRST(&js->watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		w->fn(w->arg, NULL);
	}
	if (++js->fleet_ticks % JOB_FLEET_SCAN != 0 || js->draining ||
	    js->scanning || js->degraded != NULL)
		return;
	TAILQ_FOREACH(r, &js->runs, link)
	if (r->state != RUN_ENDED && r->state != RUN_DRAINING)
		store_get(js->st, r->id, fleet_state_cb, js);
	memset(&q, 0, sizeof(q));
	q.states = 1u << STORE_JOB_QUEUED | 1u << STORE_JOB_RUNNING;
	q.limit = JOB_RESUME_PAGE;
	if (store_list(js->st, &q, resume_cb, js) == STORE_OK)
		js->scanning = true;
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

void
jobs_counts(struct jobs *js, const struct store_job *j, uint64_t *pending,
    uint64_t *in_flight)
{
	struct job_run *r = js != NULL && j->state == STORE_JOB_RUNNING
	    ? run_find(js, j->id)
	    : NULL;
	struct progress_view pv;

	*pending = j->n.pending;
	*in_flight = j->n.inflight;
	/* Shared: this instance cannot see the others' wires; the rows are
	 * the one view every instance has. */
	if (r == NULL || r->b == NULL || store_shared(js->st))
		return;
	batch_progress(r->b, &pv);
	if (pv.in_flight <= *in_flight) {
		*pending += *in_flight - pv.in_flight;
		*in_flight = pv.in_flight;
	}
}

struct config *
jobs_options_config(const struct config *cfg)
{
	struct config *c = xmalloc(sizeof(*c));

	*c = *cfg;
	c->max_body_bytes_cap = cfg->jobs_max_body_bytes_cap;
	return c;
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
	sc.cpus = cfg->store_cpus;
	sc.dir = jobs_dir(cfg);
	sc.pg = cfg->jobs_store[0] != '\0' ? cfg->jobs_store : NULL;
	if (sc.pg != NULL && strncmp(sc.pg, "postgresql://", 13) != 0 &&
	    strncmp(sc.pg, "postgres://", 11) != 0) {
		snprintf(why, whylen,
		    "[jobs] store: expected postgresql://... or nothing");
		free(js);
		return NULL;
	}
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
	log_info("jobs: store in %s", sc.pg != NULL ? "PostgreSQL" : sc.dir);
	if (sc.pg != NULL) {
		js->fleet_ev = event_new(base, -1, EV_PERSIST, fleet_cb, js);
		timer_arm_ms(js->fleet_ev, JOB_FLEET_POLL_MS);
	}
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
void
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
void
jobs_drain_poke(struct jobs *js)
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
	if (js->fleet_ev != NULL)
		event_del(js->fleet_ev);
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
	jobs_drain_poke(js);
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
	if (js->fleet_ev != NULL)
		event_free(js->fleet_ev);
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
jobs_notify(struct jobs *js, const char *id, const struct store_line *line)
{
	struct jobs_watch *w, *next;

	for (w = TAILQ_FIRST(&js->watches); w != NULL; w = next) {
		next = TAILQ_NEXT(w, link);
		if (strcmp(w->id, id) == 0)
			w->fn(w->arg, line);
	}
}
