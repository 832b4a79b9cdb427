/*
 * store.c - the backend-neutral half of the job store (see store.h): the
 * names and the two state machines, job IDs, the default line for items
 * the store ends itself, opening and closing, and the stats snapshot.
 * The request functions are in store_req.c, the threads in
 * store_thread.c, bodies in store_body.c, the SQL in store_sqlite*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

static const struct {
	const char *name;
	const char *message;
} store_errs[STORE_ERR__COUNT] = {
    [STORE_OK] = {"ok", "done"},
    [STORE_EINVAL] = {"invalid", "invalid argument"},
    [STORE_ENOENT] = {"not_found", "no such job, item or body"},
    [STORE_ESTATE] = {"conflict", "not allowed in the current state"},
    [STORE_ELIMIT] = {"limit", "a job limit was reached"},
    [STORE_EFULL] = {"store_full", "the job store is full"},
    [STORE_EIO] = {"store_io",
        "the job store cannot be read or written (/healthz says why)"},
    [STORE_ECLOSED] = {"closed", "the job store is closing"},
    [STORE_EINTERNAL] = {"internal", "internal job store error"},
};

static const char *const job_state_names[STORE_JOB__COUNT] = {
    "queued", "running", "done", "cancelled"};
static const char *const item_state_names[STORE_ITEM__COUNT] = {
    "pending", "in_flight", "done"};
static const char *const outcome_names[STORE_OUT__COUNT] = {
    "ok", "failed", "interrupted", "cancelled"};

const uint64_t store_hist_bounds_us[STORE_HIST_BUCKETS] = {100, 250, 500, 1000,
    2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};

const char *
store_err_name(enum store_err e)
{
	return (unsigned)e < STORE_ERR__COUNT ? store_errs[e].name : "?";
}

const char *
store_err_message(enum store_err e)
{
	return (unsigned)e < STORE_ERR__COUNT ? store_errs[e].message : "?";
}

const char *
store_job_state_name(enum store_job_state s)
{
	return (unsigned)s < STORE_JOB__COUNT ? job_state_names[s] : "?";
}

int
store_job_state_parse(const char *name)
{
	int i;

	for (i = 0; i < STORE_JOB__COUNT; i++)
		if (strcmp(name, job_state_names[i]) == 0)
			return i;
	return -1;
}

const char *
store_item_state_name(enum store_item_state s)
{
	return (unsigned)s < STORE_ITEM__COUNT ? item_state_names[s] : "?";
}

const char *
store_outcome_name(enum store_outcome o)
{
	return (unsigned)o < STORE_OUT__COUNT ? outcome_names[o] : "?";
}

int
store_job_step(enum store_job_state s, enum store_job_event ev)
{
	switch (s) {
	case STORE_JOB_QUEUED:
	case STORE_JOB_RUNNING:
		switch (ev) {
		case STORE_JOB_EV_LEASE:
			return STORE_JOB_RUNNING;
		case STORE_JOB_EV_DRAINED:
			return STORE_JOB_DONE;
		case STORE_JOB_EV_CANCEL:
			return STORE_JOB_CANCELLED;
		case STORE_JOB_EV_RETRY:
			return s;
		}
		break;
	case STORE_JOB_DONE:
	case STORE_JOB_CANCELLED:
		if (ev == STORE_JOB_EV_RETRY)
			return STORE_JOB_QUEUED;
		break;
	default:
		break;
	}
	return -1;
}

int
store_item_step(enum store_item_state s, enum store_item_event ev)
{
	switch (s) {
	case STORE_ITEM_PENDING:
		if (ev == STORE_ITEM_EV_LEASE)
			return STORE_ITEM_INFLIGHT;
		if (ev == STORE_ITEM_EV_CANCEL)
			return STORE_ITEM_DONE;
		break;
	case STORE_ITEM_INFLIGHT:
		if (ev == STORE_ITEM_EV_RESULT || ev == STORE_ITEM_EV_INTERRUPT)
			return STORE_ITEM_DONE;
		if (ev == STORE_ITEM_EV_RELEASE)
			return STORE_ITEM_PENDING;
		break;
	case STORE_ITEM_DONE:
		if (ev == STORE_ITEM_EV_RETRY)
			return STORE_ITEM_PENDING;
		break;
	default:
		break;
	}
	return -1;
}

bool
store_id_valid(const char *id)
{
	unsigned bad = 0;
	size_t i;

	/* The length first: never a read past a short string's end. */
	if (id == NULL || strnlen(id, STORE_ID_LEN + 1) != STORE_ID_LEN)
		return false;
	/* No branch per character: this runs twice per result of a job. */
	for (i = 0; i < STORE_ID_LEN; i++) {
		unsigned char c = (unsigned char)id[i];

		bad |= (unsigned)((unsigned char)(c - '0') > 9) &
		    (unsigned)((unsigned char)(c - 'a') > 5);
	}
	return bad == 0;
}

int64_t
store_now_ms(const struct store *st)
{
	struct timespec ts;

	if (st->cfg.now_ms != NULL)
		return st->cfg.now_ms();
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 128 bits from getrandom(2): blocks only before the kernel's pool is
 * first initialised, never afterwards. */
static void
random_bits(void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom((char *)p + got, n - got, 0);

		if (r < 0 && errno != EINTR) {
			log_error("getrandom: %s", strerror(errno));
			abort(); /* no safe job IDs without it */
		}
		if (r > 0)
			got += (size_t)r;
	}
}

void
store_new_id(const struct store *st, char id[STORE_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[STORE_ID_LEN / 2];
	size_t i;

	if (st->cfg.random != NULL)
		st->cfg.random(b, sizeof(b));
	else
		random_bits(b, sizeof(b));
	for (i = 0; i < sizeof(b); i++) {
		id[2 * i] = hex[b[i] >> 4];
		id[2 * i + 1] = hex[b[i] & 15];
	}
	id[STORE_ID_LEN] = '\0';
}

char *
store_line_default(const struct store_synth *s)
{
	json_t *spec = json_loadb(s->spec, s->spec_len, JSON_DECODE_ANY, NULL);
	json_t *o = json_object(), *e = json_object(), *url = NULL;
	bool cancelled = s->outcome == STORE_OUT_CANCELLED;
	char *line;

	json_object_set_new(o, "index", json_integer(s->index));
	if (json_is_object(spec)) {
		json_t *id = json_object_get(spec, "id");

		if (id != NULL)
			json_object_set(o, "id", id);
		url = json_object_get(spec, "url");
	} else if (json_is_string(spec)) {
		url = spec;
	}
	if (json_is_string(url))
		json_object_set(o, "url", url);
	json_object_set_new(o, "ok", json_false());
	json_object_set_new(
	    e, "type", json_string(cancelled ? "cancelled" : "interrupted"));
	json_object_set_new(e, "message",
	    json_string(cancelled
	            ? "the job was cancelled before this item ran"
	            : "fanoutd stopped while this non-idempotent "
	              "request may have been sent; it is not sent "
	              "again"));
	json_object_set_new(o, "error", e);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	json_decref(spec);
	if (line == NULL) {
		log_error("store: cannot render a line");
		abort(); /* out of memory */
	}
	return line;
}

void
store_config_defaults(struct store_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->durable = true;
}

/* cfg with every 0 replaced by its default. */
static void
config_fill(struct store_config *c)
{
	if (c->max_body_bytes == 0)
		c->max_body_bytes = 1ull << 30;
	if (c->ttl_s == 0)
		c->ttl_s = 7 * 24 * 3600;
	if (c->commit_max == 0)
		c->commit_max = 8192;
	if (c->commit_ms == 0)
		c->commit_ms = 10;
	if (c->linger_ms == 0)
		c->linger_ms = 5;
	if (c->retry_ms == 0)
		c->retry_ms = 1000;
	if (c->line == NULL)
		c->line = store_line_default;
}

/* mkdir -p path, mode 0700 for what it makes. */
static int
make_dirs(const char *path, char *err, size_t errlen)
{
	char *p = xstrdup(path), *s;
	int rc = 0;

	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", p,
			    strerror(errno));
			rc = -1;
			break;
		}
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return rc;
}

/* One process per store: an exclusive lock on DIR/lock, held while the
 * store is open (released by the kernel if the process dies). */
static int
lock_dir(struct store *st, char *err, size_t errlen)
{
	st->dirfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (st->dirfd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", st->dir,
		    strerror(errno));
		return -1;
	}
	st->lockfd =
	    openat(st->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lockfd < 0 || flock(st->lockfd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s/lock: %s", st->dir,
		    errno == EWOULDBLOCK ? "another fanoutd uses this store"
		                         : strerror(errno));
		return -1;
	}
	return 0;
}

static void
store_on_done(evutil_socket_t fd, short what, void *arg)
{
	struct store *st = arg;
	struct sreq *r, *next;
	uint64_t n;
	bool stop;

	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("store: eventfd: %s", strerror(errno));
	for (r = squeue_take(&st->done, false, 0, &stop); r; r = next) {
		next = r->next;
		store_deliver(st, r);
	}
}

/* Frees what a queue still holds (after store_abandon). */
static void
drop_queue(struct squeue *q)
{
	struct sreq *r, *next;
	bool stop;

	for (r = squeue_take(q, false, 0, &stop); r; r = next) {
		next = r->next;
		sreq_free(r);
	}
}

static void
store_free(struct store *st)
{
	drop_queue(&st->wq);
	drop_queue(&st->rq);
	drop_queue(&st->fq);
	drop_queue(&st->done);
	if (st->ev != NULL)
		event_free(st->ev);
	if (st->efd >= 0)
		close(st->efd);
	if (st->be != NULL)
		st->ops->close(st->be);
	if (st->dirfd >= 0)
		close(st->dirfd);
	if (st->lockfd >= 0)
		close(st->lockfd); /* and with it the lock */
	squeue_destroy(&st->wq);
	squeue_destroy(&st->rq);
	squeue_destroy(&st->fq);
	squeue_destroy(&st->done);
	free(st->dir);
	free((char *)st->cfg.pg);
	free(st);
}

struct store *
store_open(const struct store_config *cfg, struct event_base *base, char *err,
    size_t errlen)
{
	struct store *st = xcalloc(1, sizeof(*st));
	char *bodies;
	int rc;

	st->cfg = *cfg;
	st->cfg.pg = cfg->pg != NULL ? xstrdup(cfg->pg) : NULL;
	config_fill(&st->cfg);
	st->dir = xstrdup(cfg->dir != NULL ? cfg->dir : ".");
	st->cfg.dir = st->dir;
	st->base = base;
	st->efd = -1;
	st->ops = &store_sqlite_backend;
	squeue_init(&st->wq);
	squeue_init(&st->rq);
	squeue_init(&st->fq);
	squeue_init(&st->done);
	st->dirfd = st->lockfd = -1;
	bodies = xmalloc(strlen(st->dir) + sizeof("/bodies"));
	strcpy(bodies, st->dir);
	strcat(bodies, "/bodies");
	rc = make_dirs(bodies, err, errlen);
	free(bodies);
	if (rc < 0 || lock_dir(st, err, errlen) < 0)
		goto fail;
	st->opened = true; /* unless the backend leaves it to its probe */
	if (cfg->pg != NULL) {
		st->ops = &store_pg_backend;
		st->be = store_pg_open(st, err, errlen);
	} else {
		st->be = store_sqlite_open(st, err, errlen);
	}
	if (st->be == NULL)
		goto fail;
	st->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (st->efd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	st->ev =
	    event_new(base, st->efd, EV_READ | EV_PERSIST, store_on_done, st);
	if (st->ev == NULL || event_add(st->ev, NULL) < 0) {
		snprintf(err, errlen, "cannot watch the store's eventfd");
		goto fail;
	}
	if (!st->opened) { /* degraded from the start, and says why */
		char why[sizeof(st->why)];

		snprintf(why, sizeof(why), "cannot open the job store: %s",
		    st->ops->errmsg(st->be));
		store_set_health(st, false, why);
	}
	if (store_threads_start(st, err, errlen) < 0)
		goto fail;
	while (st->spawned != NULL) { /* what recovery left to do */
		struct sreq *r = st->spawned;

		st->spawned = r->next;
		squeue_push(r->op == SR_RMDIR ? &st->fq : &st->wq, r);
	}
	return st;
fail:
	while (st->spawned != NULL) {
		struct sreq *r = st->spawned;

		st->spawned = r->next;
		sreq_free(r);
	}
	store_threads_stop(st);
	store_free(st);
	return NULL;
}

void
store_close(struct store *st)
{
	struct sreq *r, *next;
	bool stop;

	if (st == NULL)
		return;
	atomic_store(&st->closing, true);
	store_threads_stop(st);
	for (r = squeue_take(&st->done, false, 0, &stop); r; r = next) {
		next = r->next;
		store_deliver(st, r);
	}
	store_free(st);
}

void
store_abandon(struct store *st)
{
	atomic_store(&st->closing, true);
	atomic_store(&st->abandon, true);
	store_threads_stop(st);
	store_free(st);
}

void
store_job_set_state(
    struct store_job *j, enum store_job_state to, int64_t now_ms)
{
	log_debug("store: job %s: %s -> %s", j->id,
	    store_job_state_name(j->state), store_job_state_name(to));
	if (to == STORE_JOB_RUNNING && j->started_ms == 0)
		j->started_ms = now_ms;
	if (to == STORE_JOB_DONE || to == STORE_JOB_CANCELLED) {
		j->finished_ms = now_ms;
		j->expires_ms = now_ms + (int64_t)j->ttl_s * 1000;
	}
	if (to == STORE_JOB_QUEUED)
		j->finished_ms = j->expires_ms = 0;
	j->state = to;
}

bool
store_shared(const struct store *st)
{
	return st->cfg.pg != NULL;
}

unsigned
store_instances(struct store *st)
{
	unsigned n = atomic_load(&st->instances);

	return n > 0 ? n : 1;
}

void
store_stats(struct store *st, struct store_stats *out)
{
	int i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < STORE_JOB__COUNT; i++)
		out->jobs[i] = atomic_load(&st->jobs[i]);
	out->items_pending = atomic_load(&st->items_pending);
	out->queue_depth = squeue_depth(&st->wq);
	out->records = atomic_load(&st->records);
	out->commits = atomic_load(&st->commits);
	out->commit_errors = atomic_load(&st->commit_errors);
	for (i = 0; i <= STORE_HIST_BUCKETS; i++)
		out->commit_hist[i] = atomic_load(&st->commit_hist[i]);
	out->commit_us_sum = atomic_load(&st->commit_us_sum);
	out->used_bytes = atomic_load(&st->used_bytes);
	out->degraded = atomic_load(&st->is_degraded);
}
