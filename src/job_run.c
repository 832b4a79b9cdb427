/*
 * job_run.c - one durable job's runner (see job.h, job_int.h).
 *
 * A runner is one job's caller of the engine: one batch, fed in pages
 * leased from the store. It keeps at most `window` items leased (four
 * times the job's concurrency, 4,096 to 10,000): it leases the next page
 * once a quarter of the window has come back. With a shared store
 * (PostgreSQL) the floor is gone: a lease takes only what this instance
 * will run soon (four times the concurrency), so that a job smaller than
 * 4,096 items is not leased whole by one instance while the others
 * idle; they find the rest pending. Every result line the batch
 * delivers is recorded in the store under the attempt it was leased
 * with; the store answers once the line is committed, and only then are
 * the job's readers told (jobs_notify, with the line as committed, which
 * a follower that is caught up writes as it is), so a reader never sees
 * a line a crash could take back.
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
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <event2/http.h>

#include "fetch.h"
#include "http.h"
#include "job_int.h"
#include "log.h"
#include "util.h"

static void run_abandon(struct job_run *r);
static void run_early_free(struct job_run *r);

static const char *const run_state_names[] = {
    "leasing", "paused", "closing", "draining", "ended"};

/* The one place a runner's state changes (traced at debug level). */
void
run_set_state(struct job_run *r, enum run_state to)
{
	if (r->state == to)
		return;
	log_debug("job %s: %s -> %s", r->id, run_state_names[r->state],
	    run_state_names[to]);
	r->state = to;
}

struct job_run *
run_find(struct jobs *js, const char *id)
{
	struct job_run *r;

	TAILQ_FOREACH(r, &js->runs, link)
	if (strcmp(r->id, id) == 0 && r->state != RUN_ENDED)
		return r;
	return NULL;
}

/* Item index's slot in page p, if p holds it unfinished. */
static bool
page_slot(const struct job_page *p, uint32_t index, uint32_t *slot)
{
	uint32_t lo = 0, hi = p->spec.nitems;

	if (hi == 0 || index < p->spec.items[0].index ||
	    index > p->spec.items[hi - 1].index)
		return false;
	/* A run of indexes, as leases mostly are: no search. */
	if (p->spec.items[hi - 1].index - p->spec.items[0].index == hi - 1)
		lo = hi = index - p->spec.items[0].index;
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
		return true;
	}
	return false;
}

/* The page holding item index, and its slot; NULL when none does. The
 * page of the last answer is tried first: an item's state changes, body
 * and result come one after another (about ten lookups an item). */
static struct job_page *
run_slot(struct job_run *r, uint32_t index, uint32_t *slot)
{
	struct job_page *p;

	if (r->hint != NULL && page_slot(r->hint, index, slot))
		return r->hint;
	TAILQ_FOREACH(p, &r->pages, link)
	if (p != r->hint && page_slot(p, index, slot)) {
		r->hint = p;
		return p;
	}
	return NULL;
}

/* Drop slot's body sink, if it has one. */
static void
page_body_drop(struct job_page *p, uint32_t slot)
{
	if (p->body != NULL && p->body[slot] != NULL) {
		store_body_abort(p->body[slot]);
		p->body[slot] = NULL;
	}
}

static void
page_free(struct job_page *p)
{
	uint32_t i;

	for (i = 0; p->body != NULL && i < p->spec.nitems; i++)
		page_body_drop(p, i);
	free(p->body);
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
			if (r->hint == p)
				r->hint = NULL;
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

/* A result committed: its line goes straight to the job's followers. */
static void
run_recorded_cb(enum store_err err, const struct store_line *line, void *arg)
{
	struct job_run *r = arg;

	if (err != STORE_OK && !r->abandoned)
		log_warn("job %s: a result was not recorded: %s", r->id,
		    store_err_message(err));
	jobs_notify(r->js, r->id, line);
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
	if (p->body != NULL && res->error == IERR_NONE) {
		sr.body = p->body[slot]; /* the store takes it over */
		p->body[slot] = NULL;
	}
	page_body_drop(p, slot); /* an error's: none stored */
	if (store_record(r->js->st, &sr, run_recorded_cb, r) == STORE_OK)
		r->requests++;
	else
		log_error("job %s: item %u: the store refused its result",
		    r->id, res->index);
	if (!r->adding)
		run_lease(r);
	jobs_drain_poke(r->js);
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
		jobs_drain_poke(r->js);
}

/* --- response bodies: streamed to the store as they arrive ------------ */

/* An attempt's response head: a new body sink for its item (an earlier
 * attempt's is dropped). */
static bool
run_body_begin(void *arg, uint32_t index, const struct fetch_head *h)
{
	struct job_run *r = arg;
	struct job_page *p;
	uint32_t slot;

	if ((p = run_slot(r, index, &slot)) == NULL || p->body == NULL)
		return false;
	page_body_drop(p, slot);
	p->body[slot] =
	    store_body_open(r->js->st, r->id, index, p->attempt[slot]);
	if (p->body[slot] == NULL)
		return false;
	store_body_set_type(p->body[slot],
	    evhttp_find_header(h->headers, "Content-Type"),
	    h->content_encoding);
	return true;
}

/* The files thread caught up with item index's body: read on. */
static void
run_body_drained(void *arg, uint32_t index)
{
	struct job_run *r = arg;

	if (r->b != NULL)
		batch_body_drained(r->b, index);
}

/* A piece of the body: queued for the store's files thread; true (stop
 * reading) past RUN_BODY_HIGH_WATER bytes not yet written, until
 * run_body_drained. A write that failed is not retried here: the
 * record says the body is missing, and reading it says why. */
static bool
run_body_data(void *arg, uint32_t index, const unsigned char *d, size_t n)
{
	struct job_run *r = arg;
	struct job_page *p;
	uint32_t slot;

	if ((p = run_slot(r, index, &slot)) == NULL || p->body == NULL ||
	    p->body[slot] == NULL)
		return false;
	if (store_body_add(p->body[slot], d, n) <= (long)RUN_BODY_HIGH_WATER)
		return false;
	store_body_on_drain(p->body[slot], run_body_drained, r);
	return true;
}

static void
run_body_abort(void *arg, uint32_t index)
{
	struct job_run *r = arg;
	struct job_page *p;
	uint32_t slot;

	if ((p = run_slot(r, index, &slot)) != NULL)
		page_body_drop(p, slot);
}

/* Where the runner's batch stores bodies ("body": "auto"): the store;
 * lines carry a body inline only up to what a batch could carry. */
static void
run_body_setup(struct job_run *r, struct batch_caller *caller)
{
	uint64_t inline_max = r->js->cfg->max_body_bytes_cap;

	if (r->opts.body != BODY_AUTO)
		return;
	snprintf(r->body_url, sizeof(r->body_url), "/v1/jobs/%s/items/", r->id);
	r->bodies.begin = run_body_begin;
	r->bodies.data = run_body_data;
	r->bodies.abort = run_body_abort;
	r->bodies.inline_max = r->opts.max_body_bytes < inline_max
	    ? r->opts.max_body_bytes
	    : inline_max;
	r->bodies.url_prefix = r->body_url;
	caller->body = &r->bodies;
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
	jobs_notify(r->js, r->id, NULL);
	run_maybe_free(r);
}

/* Nothing left to lease: the batch ends once the last result is in. */
void
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
	if (r->bodies.begin != NULL)
		p->body = xcalloc(n, sizeof(*p->body));
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
		if (!r->paused_said) /* once per outage, not per retry */
			log_warn("job %s: paused (no new leases; the items "
			         "already leased still run): %s",
			    r->id, store_err_message(err));
		r->paused_said = true;
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
		if (r->paused_said)
			log_info("job %s: resumed", r->id);
		r->paused_said = false;
		run_add(r, items, n);
		run_lease(r);
	}
	run_maybe_free(r);
}

/* Lease the next page once a quarter of the window has come back. */
void
run_lease(struct job_run *r)
{
	enum store_err err;

	if (r->leasing || r->creating || r->state != RUN_LEASING ||
	    r->outstanding > r->window - r->window / 4)
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
/*
 * A shared store: every live instance runs the job, so each takes its
 * share of the job's own limits (concurrency and rate, in all and per
 * host), and the fleet together keeps them, as instances fall back to
 * a shared rate's share when Redis is away. At least 1 in flight each:
 * a job with a concurrency below the instances may have up to one per
 * instance. Counted when the runner starts (an instance that dies
 * leaves the others their shares: slower, never over).
 */
static void
run_share_limits(struct job_run *r)
{
	unsigned n;

	if (!store_shared(r->js->st) || (n = store_instances(r->js->st)) < 2)
		return;
	r->opts.concurrency =
	    r->opts.concurrency / n > 0 ? r->opts.concurrency / n : 1;
	if (r->opts.per_host_concurrency > 0)
		r->opts.per_host_concurrency =
		    r->opts.per_host_concurrency / n > 0
		    ? r->opts.per_host_concurrency / n
		    : 1;
	r->opts.rate /= n;
	r->opts.per_host_rate /= n;
	if (r->opts.burst > 0) /* a bucket holds one attempt at least */
		r->opts.burst = r->opts.burst / n > 1 ? r->opts.burst / n : 1;
	log_info("job %s: this instance runs its share (1/%u) of the "
	         "job's limits: concurrency %u, rate %g/s",
	    r->id, n, r->opts.concurrency, r->opts.rate);
}

static void
run_options(struct job_run *r, const char *json)
{
	json_t *root = json_loads(json ? json : "{}", 0, NULL), *v;
	struct config *cfg = jobs_options_config(r->js->cfg);
	const char *key, *why;

	opts_defaults(&r->opts, cfg);
	json_object_foreach(root, key, v)
	{
		if (opts_set_json(&r->opts, cfg, key, v, &why) != 0)
			log_warn("job %s: stored option %s ignored: %s", r->id,
			    key, why);
	}
	json_decref(root);
	free(cfg);
	/* A batch's deadline bounds a caller's wait; a job has no caller
	 * waiting, and a large one runs for hours: none (49 days). */
	r->opts.deadline_ms = UINT32_MAX;
	run_share_limits(r);
}

/* A runner for job id with its stored options, not yet leasing. */
static struct job_run *
run_new(struct jobs *js, const char *id, const char *options)
{
	struct job_run *r = xcalloc(1, sizeof(*r));
	struct batch_caller caller = {
	    run_result, run_end, run_item_state, r, NULL, true};
	uint64_t w;

	r->js = js;
	snprintf(r->id, sizeof(r->id), "%s", id);
	TAILQ_INIT(&r->pages);
	run_options(r, options);
	w = JOB_WINDOW_PER_SLOT * (uint64_t)r->opts.concurrency;
	if (w < JOB_WINDOW_MIN && !store_shared(js->st))
		w = JOB_WINDOW_MIN;
	r->window = (uint32_t)(w < 1 ? 1
	        : w > JOB_WINDOW_MAX ? JOB_WINDOW_MAX
	                             : w);
	r->retry_ev = evtimer_new(js->base, run_retry_cb, r);
	run_body_setup(r, &caller);
	r->state = RUN_LEASING;
	TAILQ_INSERT_TAIL(&js->runs, r, link);
	r->b = batch_start(js->e, &r->opts, 0, &caller);
	return r;
}

/* Start running a queued or running job. */
void
run_start(struct jobs *js, const struct store_job *j)
{
	struct job_run *r = run_new(js, j->id, j->options);

	log_info("job %s: running (%llu pending, window %u)", r->id,
	    (unsigned long long)j->n.pending, r->window);
	run_lease(r);
}

uint32_t
run_start_early(struct jobs *js, const char *id, const char *options,
    struct job_items *head, uint32_t n)
{
	struct job_item it;
	struct job_run *r;
	size_t *off;
	uint32_t i;

	if (js->draining || n == 0)
		return 0;
	r = run_new(js, id, options);
	r->creating = true;
	if (n > JOB_EARLY_WINDOWS * r->window)
		n = JOB_EARLY_WINDOWS * r->window;
	r->early = xcalloc(n, sizeof(*r->early));
	off = xcalloc(n, sizeof(*off));
	for (i = 0; i < n; i++) {
		batch_job_next(head, &it);
		if (it.unsafe) /* sent only once it is stored */
			break;
		r->early[i].index = i;
		r->early[i].spec_len = it.len;
		off[i] = r->early_text.len;
		buf_add(&r->early_text, it.text, it.len);
	}
	r->nearly = i;
	for (i = 0; i < r->nearly; i++)
		r->early[i].spec = r->early_text.data + off[i];
	free(off);
	if (r->nearly == 0) {
		run_abandon(r);
		return 0;
	}
	return r->nearly;
}

/* The items an early start holds, freed (sent or not). */
static void
run_early_free(struct job_run *r)
{
	free(r->early);
	r->early = NULL;
	r->nearly = 0;
	buf_free(&r->early_text);
}

void
run_go_early(struct job_run *r)
{
	log_info("job %s: running its first %u items while it is stored", r->id,
	    r->nearly);
	run_add(r, r->early, r->nearly);
	run_early_free(r);
}

void
run_created(struct job_run *r, enum store_err err)
{
	if (err == STORE_OK) {
		r->creating = false;
		return;
	}
	log_info("job %s: not stored (%s): its first items' results are "
	         "dropped",
	    r->id, store_err_message(err));
	run_abandon(r);
}

/* The job was never stored: cancel everything, record nothing. */
static void
run_abandon(struct job_run *r)
{
	r->abandoned = true;
	run_early_free(r);
	if (r->b != NULL) {
		batch_cancel(r->b);
		r->b = NULL;
	}
	run_set_state(r, RUN_ENDED);
	run_maybe_free(r);
}

/* Free an ended runner once the store has answered all it asked. Its
 * last result may have ended the job (followers took its line as
 * committed, not the job's new state): the job's followers are told
 * to read. */
void
run_maybe_free(struct job_run *r)
{
	struct jobs *js = r->js;
	struct job_page *p;

	if (r->state != RUN_ENDED || r->requests > 0)
		return;
	if (!r->abandoned && !js->closing)
		jobs_notify(js, r->id, NULL);
	TAILQ_REMOVE(&js->runs, r, link);
	while ((p = TAILQ_FIRST(&r->pages)) != NULL) {
		TAILQ_REMOVE(&r->pages, p, link);
		page_free(p);
	}
	event_free(r->retry_ev);
	run_early_free(r);
	if (r->kicked && !js->draining && !js->closing)
		jobs_kick(js, r->id);
	free(r);
	if (!js->closing)
		jobs_maybe_drained(js);
}

/*
 * Stop a draining runner now: cancel its batch (nothing more is
 * delivered) and give back what it holds - every item not yet sent, and
 * every safe one mid-attempt; an unsafe item mid-attempt may have been
 * sent and stays in flight (the next start ends it `interrupted`).
 */
void
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
bool
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
