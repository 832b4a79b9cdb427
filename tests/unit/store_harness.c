/*
 * store_harness.c - see store_harness.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "store_harness.h"

atomic_llong th_clock = 1700000000000LL;
static atomic_ullong th_rand;

static int64_t
fake_now(void)
{
	return atomic_load(&th_clock);
}

/* Distinct, predictable IDs: a counter, not randomness. */
static void
fake_random(void *p, size_t n)
{
	unsigned long long v = atomic_fetch_add(&th_rand, 1) + 1;

	memset(p, 0xab, n);
	memcpy(p, &v, n < sizeof(v) ? n : sizeof(v));
}

static void
on_health(bool ok, const char *why, void *arg)
{
	struct th *t = arg;

	t->health_changes++;
	t->healthy = ok;
	snprintf(t->why, sizeof(t->why), "%s", why);
}

void
th_init(struct th *t, bool memory)
{
	const char *tmp = getenv("TMPDIR");

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s/fanoutd-store.XXXXXX",
	    tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(t->dir));
	t->base = event_base_new();
	assert_non_null(t->base);
	store_config_defaults(&t->cfg);
	t->cfg.dir = t->dir;
	t->cfg.memory = memory;
	t->cfg.durable = !memory;
	t->cfg.retry_ms = 20;
	t->cfg.now_ms = fake_now;
	t->cfg.random = fake_random;
	t->cfg.on_health = on_health;
	t->cfg.health_arg = t;
	t->healthy = true;
}

void
th_open(struct th *t)
{
	char err[256] = "";

	t->st = store_open(&t->cfg, t->base, err, sizeof(err));
	if (t->st == NULL)
		fail_msg("store_open: %s", err);
}

void
th_close(struct th *t)
{
	store_close(t->st);
	t->st = NULL;
}

void
th_done(struct th *t)
{
	char cmd[300];

	if (t->st != NULL)
		th_close(t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	assert_int_equal(system(cmd), 0);
	event_base_free(t->base);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
	*(bool *)arg = true;
}

/* Run the loop until done(arg): a guard timer fails a wait that would
 * otherwise hang. */
static void
wait_for(
    struct th *t, bool (*done)(struct th *t, const void *arg), const void *arg)
{
	struct timeval tv = {TH_WAIT_S, 0};
	bool expired = false;
	struct event *guard = evtimer_new(t->base, on_guard, &expired);

	evtimer_add(guard, &tv);
	while (!done(t, arg) && !expired)
		assert_int_equal(event_base_loop(t->base, EVLOOP_ONCE), 0);
	event_free(guard);
	if (expired)
		fail_msg("nothing happened for %d s", TH_WAIT_S);
}

static bool
flag_set(struct th *t, const void *arg)
{
	return *(const bool *)arg;
}

void
th_wait(struct th *t, const bool *flag)
{
	wait_for(t, flag_set, flag);
}

struct count_goal {
	const size_t *count;
	size_t n;
};

static bool
count_reached(struct th *t, const void *arg)
{
	const struct count_goal *g = arg;

	return *g->count >= g->n;
}

void
th_wait_count(struct th *t, const size_t *count, size_t n)
{
	struct count_goal g = {count, n};

	wait_for(t, count_reached, &g);
}

static bool
health_is(struct th *t, const void *arg)
{
	return t->healthy == *(const bool *)arg;
}

void
th_wait_health(struct th *t, bool ok)
{
	wait_for(t, health_is, &ok);
}

struct ans {
	bool done;
	enum store_err err;
	struct tjob *job;
	uint64_t seq;
	struct tleased *leased;
	size_t n, max;
	struct tpage *page;
};

static void
copy_job(struct tjob *out, const struct store_job *j)
{
	out->j = *j;
	snprintf(out->name, sizeof(out->name), "%s", j->name ? j->name : "");
	snprintf(out->options, sizeof(out->options), "%s", j->options);
	out->j.name = j->name ? out->name : NULL;
	out->j.options = out->options;
}

static void
on_job(enum store_err err, const struct store_job *job, void *arg)
{
	struct ans *a = arg;

	a->err = err;
	if (err == STORE_OK) {
		assert_non_null(job);
		if (a->job != NULL)
			copy_job(a->job, job);
	} else {
		assert_null(job);
	}
	a->done = true;
}

static void
on_done(enum store_err err, void *arg)
{
	struct ans *a = arg;

	a->err = err;
	a->done = true;
}

static enum store_err
wait_ans(struct th *t, enum store_err queued, struct ans *a)
{
	if (queued != STORE_OK)
		return queued;
	th_wait(t, &a->done);
	return a->err;
}

void
th_spec(char *out, size_t size, uint32_t i)
{
	snprintf(out, size, "{\"id\":\"i%u\",\"url\":\"http://127.0.0.1/%u\"}",
	    i, i);
}

enum store_err
th_create(struct th *t, size_t n, const unsigned *flags, const char *idem,
    struct tjob *out)
{
	struct store_job_spec spec = {
	    .options = "{\"concurrency\":7}", .name = "a job", .idem = idem};

	return th_create_spec(t, n, flags, &spec, out);
}

enum store_err
th_create_spec(struct th *t, size_t n, const unsigned *flags,
    const struct store_job_spec *spec, struct tjob *out)
{
	struct store_item_spec *items = calloc(n ? n : 1, sizeof(*items));
	char *text = malloc(n * 80 + 1);
	struct ans a = {.job = out};
	enum store_err err;
	size_t i;

	for (i = 0; i < n; i++) {
		th_spec(text + i * 80, 80, (uint32_t)i);
		items[i].index = (uint32_t)i;
		items[i].spec = text + i * 80;
		items[i].spec_len = strlen(items[i].spec);
		items[i].flags = flags ? flags[i] : 0;
	}
	err = store_create(t->st, spec, items, n, on_job, &a);
	free(items); /* copied: the store must not need them */
	free(text);
	return wait_ans(t, err, &a);
}

struct made {
	char text[80];
	uint32_t *calls;
	uint32_t next;
};

/* store_item_fn: item i, asked for in order and once (on the writer
 * thread). */
static void
made_item(void *arg, uint32_t i, struct store_item_spec *out)
{
	struct made *m = arg;

	if (i == m->next) { /* not in order: not counted (another
		             * thread: no assert here) */
		m->next++;
		(*m->calls)++;
	}
	th_spec(m->text, sizeof(m->text), i);
	out->index = i;
	out->spec = m->text;
	out->spec_len = strlen(m->text);
	out->flags = i % 3 == 0 ? STORE_ITEM_UNSAFE : 0;
}

enum store_err
th_create_from(struct th *t, size_t n, uint32_t *calls, struct tjob *out)
{
	struct store_job_spec spec = {.options = "{}"};
	struct made m = {.calls = calls};
	struct ans a = {.job = out};

	*calls = 0;
	return wait_ans(t,
	    store_create_from(t->st, &spec, n, made_item, &m, on_job, &a), &a);
}

enum store_err
th_get(struct th *t, const char *id, struct tjob *out)
{
	struct ans a = {.job = out};

	return wait_ans(t, store_get(t->st, id, on_job, &a), &a);
}

enum store_err
th_cancel(struct th *t, const char *id, struct tjob *out)
{
	struct ans a = {.job = out};

	return wait_ans(t, store_cancel(t->st, id, on_job, &a), &a);
}

enum store_err
th_retry(struct th *t, const char *id, struct tjob *out)
{
	struct ans a = {.job = out};

	return wait_ans(t, store_retry(t->st, id, on_job, &a), &a);
}

enum store_err
th_delete(struct th *t, const char *id)
{
	struct ans a = {0};

	return wait_ans(t, store_delete(t->st, id, on_done, &a), &a);
}

static void
on_sweep(enum store_err err, uint64_t removed, void *arg)
{
	struct ans *a = arg;

	a->err = err;
	a->seq = removed;
	a->done = true;
}

enum store_err
th_sweep(struct th *t, uint64_t *removed)
{
	struct ans a = {0};
	enum store_err err = wait_ans(t, store_sweep(t->st, on_sweep, &a), &a);

	*removed = a.seq;
	return err;
}

enum store_err
th_release(struct th *t, const char *id, uint32_t index, uint32_t attempt)
{
	struct ans a = {0};

	return wait_ans(
	    t, store_release(t->st, id, index, attempt, on_done, &a), &a);
}

static void
on_lease(
    enum store_err err, const struct store_leased *items, size_t n, void *arg)
{
	struct ans *a = arg;
	size_t i;

	a->err = err;
	a->n = n;
	assert_true(n <= a->max); /* a page is never longer than asked */
	for (i = 0; i < n; i++) {
		a->leased[i].index = items[i].index;
		a->leased[i].attempt = items[i].attempt;
		a->leased[i].flags = items[i].flags;
		assert_int_equal(strlen(items[i].spec), items[i].spec_len);
		snprintf(a->leased[i].spec, sizeof(a->leased[i].spec), "%s",
		    items[i].spec);
	}
	a->done = true;
}

enum store_err
th_lease(
    struct th *t, const char *id, uint32_t max, struct tleased *out, size_t *n)
{
	struct ans a = {.leased = out, .max = max};
	enum store_err err =
	    wait_ans(t, store_lease(t->st, id, max, on_lease, &a), &a);

	*n = a.n;
	return err;
}

void
th_line(char *out, size_t size, uint32_t index, uint32_t attempt,
    enum store_outcome o)
{
	snprintf(out, size, "{\"index\":%u,\"ok\":%s,\"try\":%u}", index,
	    o == STORE_OUT_OK ? "true" : "false", attempt);
}

/* A record's answer, with a copy of the committed line it hands back. */
struct rec_ans {
	struct ans a;
	struct store_line l;
	char text[128];
};

static void
on_record(enum store_err err, const struct store_line *l, void *arg)
{
	struct rec_ans *ra = arg;

	ra->a.err = err;
	ra->a.seq = l != NULL ? l->seq : 0;
	ra->a.done = true;
	if (l != NULL) {
		ra->l = *l;
		assert_true(l->len < sizeof(ra->text));
		memcpy(ra->text, l->line, l->len);
		ra->l.line = ra->text;
	}
}

/* Record a result; a committed one's answer must hand back the line as
 * recorded, under its seq (what a follower is fed from). */
enum store_err
th_record(struct th *t, const char *id, uint32_t index, uint32_t attempt,
    enum store_outcome o, uint64_t *seq)
{
	struct rec_ans ra;
	struct store_result r = {id, index, attempt, o, NULL, 0, NULL};
	char line[128];
	enum store_err err;

	memset(&ra, 0, sizeof(ra));
	th_line(line, sizeof(line), index, attempt, o);
	r.line = line;
	r.line_len = strlen(line);
	err = wait_ans(t, store_record(t->st, &r, on_record, &ra), &ra.a);
	if (err == STORE_OK) {
		assert_true(ra.a.seq > 0);
		assert_int_equal(ra.l.seq, ra.a.seq);
		assert_int_equal(ra.l.index, index);
		assert_int_equal(ra.l.attempt, attempt);
		assert_int_equal(ra.l.outcome, o);
		assert_int_equal(ra.l.len, r.line_len);
		assert_memory_equal(ra.text, line, r.line_len);
	}
	if (seq != NULL)
		*seq = ra.a.seq;
	return err;
}

static void
on_count(enum store_err err, const struct store_line *l, void *arg)
{
	struct tcount *c = arg;
	uint64_t seq = l != NULL ? l->seq : 0;

	c->done++;
	if (err != STORE_OK) {
		c->errs++;
		c->last_err = err;
	}
	if (seq > c->max_seq)
		c->max_seq = seq;
}

void
th_record_async(struct th *t, const char *id, uint32_t index, uint32_t attempt,
    enum store_outcome o, struct tcount *c)
{
	struct store_result r = {id, index, attempt, o, NULL, 0, NULL};
	char line[128];

	th_line(line, sizeof(line), index, attempt, o);
	r.line = line;
	r.line_len = strlen(line);
	assert_int_equal(store_record(t->st, &r, on_count, c), STORE_OK);
}

void
th_record_body(struct th *t, const char *id, uint32_t index,
    struct store_body *b, struct tcount *c)
{
	struct store_result r = {id, index, 0, STORE_OUT_OK, NULL, 0, b};
	char line[128];

	th_line(line, sizeof(line), index, 0, STORE_OUT_OK);
	r.line = line;
	r.line_len = strlen(line);
	assert_int_equal(store_record(t->st, &r, on_count, c), STORE_OK);
}

static void
on_read(enum store_err err, const struct store_page *pg, void *arg)
{
	struct ans *a = arg;
	struct tpage *p = a->page;
	size_t i;

	a->err = err;
	a->done = true;
	if (err != STORE_OK)
		return;
	p->n = pg->n;
	p->more = pg->more;
	p->last_seq = pg->last_seq;
	p->state = pg->state;
	for (i = 0; i < pg->n; i++) {
		p->seq[i] = pg->lines[i].seq;
		p->index[i] = pg->lines[i].index;
		p->attempt[i] = pg->lines[i].attempt;
		p->outcome[i] = pg->lines[i].outcome;
		assert_int_equal(strlen(pg->lines[i].line), pg->lines[i].len);
		p->line[i] = strdup(pg->lines[i].line);
		p->bytes += pg->lines[i].len;
	}
}

enum store_err
th_read(struct th *t, const char *id, uint64_t after, uint32_t limit,
    bool failed_only, struct tpage *p)
{
	struct store_cursor c = {after, limit, failed_only, false};
	struct ans a = {.page = p};

	memset(p, 0, sizeof(*p));
	return wait_ans(t, store_read(t->st, id, &c, on_read, &a), &a);
}

enum store_err
th_read_latest(struct th *t, const char *id, uint64_t after, uint32_t limit,
    bool failed_only, struct tpage *p)
{
	struct store_cursor c = {after, limit, failed_only, true};
	struct ans a = {.page = p};

	memset(p, 0, sizeof(*p));
	return wait_ans(t, store_read(t->st, id, &c, on_read, &a), &a);
}

void
th_page_free(struct tpage *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->line[i]);
	p->n = 0;
}

size_t
th_read_all(struct th *t, const char *id, uint32_t limit)
{
	struct tpage *p = malloc(sizeof(*p));
	uint64_t after = 0;
	size_t total = 0, i;

	do {
		assert_int_equal(
		    th_read(t, id, after, limit, false, p), STORE_OK);
		assert_true(p->n <= limit);
		for (i = 0; i < p->n; i++)
			assert_int_equal(p->seq[i], after + i + 1);
		total += p->n;
		after += p->n;
		th_page_free(p);
	} while (p->more);
	free(p);
	return total;
}
