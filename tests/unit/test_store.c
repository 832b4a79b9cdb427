/*
 * test_store.c - the job store's operations on an in-memory database
 * (SQLite's memdb; bodies in a temporary directory), one behaviour per
 * test: the two state machines, job IDs, create / get / list with the
 * idempotency key and the limits, leasing and recording with seq,
 * reading from a cursor, paging of a large job with bounded pages,
 * group commit grouping, release, cancel, retry keeping the old lines,
 * delete and the ttl sweep on an injected clock, and bodies inline and
 * in files. Crash recovery and failure injection: test_store_fault.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "store.h"
#include "faultvfs.h"
#include "store_harness.h"

static void
test_job_and_item_state_machines(void **state)
{
	(void)state;
	assert_int_equal(store_job_step(STORE_JOB_QUEUED, STORE_JOB_EV_LEASE),
	    STORE_JOB_RUNNING);
	assert_int_equal(
	    store_job_step(STORE_JOB_RUNNING, STORE_JOB_EV_DRAINED),
	    STORE_JOB_DONE);
	assert_int_equal(store_job_step(STORE_JOB_RUNNING, STORE_JOB_EV_CANCEL),
	    STORE_JOB_CANCELLED);
	assert_int_equal(store_job_step(STORE_JOB_DONE, STORE_JOB_EV_RETRY),
	    STORE_JOB_QUEUED);
	assert_int_equal(
	    store_job_step(STORE_JOB_CANCELLED, STORE_JOB_EV_RETRY),
	    STORE_JOB_QUEUED);
	assert_int_equal(store_job_step(STORE_JOB_RUNNING, STORE_JOB_EV_RETRY),
	    STORE_JOB_RUNNING);
	assert_int_equal(
	    store_job_step(STORE_JOB_DONE, STORE_JOB_EV_LEASE), -1);
	assert_int_equal(
	    store_job_step(STORE_JOB_DONE, STORE_JOB_EV_CANCEL), -1);
	assert_int_equal(
	    store_job_step(STORE_JOB_CANCELLED, STORE_JOB_EV_LEASE), -1);
	assert_int_equal(
	    store_job_step(STORE_JOB_CANCELLED, STORE_JOB_EV_DRAINED), -1);

	assert_int_equal(
	    store_item_step(STORE_ITEM_PENDING, STORE_ITEM_EV_LEASE),
	    STORE_ITEM_INFLIGHT);
	assert_int_equal(
	    store_item_step(STORE_ITEM_INFLIGHT, STORE_ITEM_EV_RESULT),
	    STORE_ITEM_DONE);
	assert_int_equal(
	    store_item_step(STORE_ITEM_INFLIGHT, STORE_ITEM_EV_RELEASE),
	    STORE_ITEM_PENDING);
	assert_int_equal(
	    store_item_step(STORE_ITEM_INFLIGHT, STORE_ITEM_EV_INTERRUPT),
	    STORE_ITEM_DONE);
	assert_int_equal(
	    store_item_step(STORE_ITEM_PENDING, STORE_ITEM_EV_CANCEL),
	    STORE_ITEM_DONE);
	assert_int_equal(store_item_step(STORE_ITEM_DONE, STORE_ITEM_EV_RETRY),
	    STORE_ITEM_PENDING);
	assert_int_equal(
	    store_item_step(STORE_ITEM_PENDING, STORE_ITEM_EV_RESULT), -1);
	assert_int_equal(
	    store_item_step(STORE_ITEM_DONE, STORE_ITEM_EV_LEASE), -1);

	assert_string_equal(
	    store_job_state_name(STORE_JOB_CANCELLED), "cancelled");
	assert_int_equal(store_job_state_parse("running"), STORE_JOB_RUNNING);
	assert_int_equal(store_job_state_parse("nope"), -1);
	assert_string_equal(
	    store_outcome_name(STORE_OUT_INTERRUPTED), "interrupted");
	assert_string_equal(store_err_name(STORE_EFULL), "store_full");
}

static void
test_job_ids_are_128_random_bits_in_hex(void **state)
{
	struct th t;
	struct tjob a, b;

	(void)state;
	assert_true(store_id_valid("0123456789abcdef0123456789abcdef"));
	assert_false(store_id_valid("0123456789ABCDEF0123456789abcdef"));
	assert_false(store_id_valid("0123456789abcdef0123456789abcde"));
	assert_false(store_id_valid("0123456789abcdef0123456789abcdef0"));
	assert_false(store_id_valid(NULL));
	th_init(&t, true);
	t.cfg.random = NULL; /* getrandom(2) */
	th_open(&t);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &a), STORE_OK);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &b), STORE_OK);
	assert_true(store_id_valid(a.j.id));
	assert_true(store_id_valid(b.j.id));
	assert_string_not_equal(a.j.id, b.j.id);
	th_done(&t);
}

struct lres {
	bool done;
	size_t n;
	bool more;
	char ids[5][STORE_ID_LEN + 1];
};

static void
on_list(enum store_err err, const struct store_job *jobs, size_t n, bool more,
    void *arg)
{
	struct lres *r = arg;
	size_t i;

	assert_int_equal(err, STORE_OK);
	for (i = 0; i < n && i < 5; i++) {
		memcpy(r->ids[i], jobs[i].id, STORE_ID_LEN + 1);
		assert_non_null(jobs[i].options);
	}
	r->n = n;
	r->more = more;
	r->done = true;
}

static void
test_create_get_and_list(void **state)
{
	struct store_list_query q = {0};
	struct th t;
	struct tjob j, g, k;
	char ids[5][STORE_ID_LEN + 1];
	int i;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	th_clock = 1700000000000LL;
	assert_int_equal(th_create(&t, 3, NULL, NULL, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_QUEUED);
	assert_int_equal(j.j.n.total, 3);
	assert_int_equal(j.j.n.pending, 3);
	assert_int_equal(j.j.created_ms, 1700000000000LL);
	assert_int_equal(j.j.started_ms, 0);
	assert_int_equal(j.j.ttl_s, 7 * 24 * 3600);
	assert_string_equal(j.j.options, "{\"concurrency\":7}");
	assert_string_equal(j.j.name, "a job");
	assert_false(j.j.existing);

	assert_int_equal(th_get(&t, j.j.id, &g), STORE_OK);
	assert_memory_equal(&g.j.n, &j.j.n, sizeof(j.j.n));
	assert_string_equal(g.j.options, j.j.options);
	assert_string_equal(g.j.name, "a job");
	assert_int_equal(
	    th_get(&t, "00000000000000000000000000000000", &g), STORE_ENOENT);
	assert_int_equal(store_get(t.st, "nope", NULL, NULL), STORE_EINVAL);

	/* An empty job is done at once. */
	assert_int_equal(th_create(&t, 0, NULL, NULL, &k), STORE_OK);
	assert_int_equal(k.j.state, STORE_JOB_DONE);
	assert_int_equal(k.j.finished_ms, 1700000000000LL);

	/* Listing: creation order, state filter, pages after a cursor. */
	memcpy(ids[0], j.j.id, sizeof(ids[0]));
	memcpy(ids[1], k.j.id, sizeof(ids[1]));
	for (i = 2; i < 5; i++) {
		assert_int_equal(th_create(&t, 1, NULL, NULL, &g), STORE_OK);
		memcpy(ids[i], g.j.id, sizeof(ids[i]));
	}
	{
		struct lres r;

		memset(&r, 0, sizeof(r));
		q.limit = 2;
		assert_int_equal(store_list(t.st, &q, on_list, &r), STORE_OK);
		th_wait(&t, &r.done);
		assert_int_equal(r.n, 2);
		assert_true(r.more);
		assert_string_equal(r.ids[0], ids[0]);
		assert_string_equal(r.ids[1], ids[1]);
		memset(&r, 0, sizeof(r));
		q.after = ids[1];
		q.limit = 10;
		assert_int_equal(store_list(t.st, &q, on_list, &r), STORE_OK);
		th_wait(&t, &r.done);
		assert_int_equal(r.n, 3);
		assert_false(r.more);
		assert_string_equal(r.ids[0], ids[2]);
		memset(&r, 0, sizeof(r));
		q.after = NULL;
		q.states = 1u << STORE_JOB_DONE;
		assert_int_equal(store_list(t.st, &q, on_list, &r), STORE_OK);
		th_wait(&t, &r.done);
		assert_int_equal(r.n, 1);
		assert_string_equal(r.ids[0], ids[1]);
	}
	th_done(&t);
}

static void
test_create_refuses_bad_items_and_applies_limits(void **state)
{
	struct store_item_spec dup[2] = {{0, "{}", 2, 0}, {0, "{}", 2, 0}};
	struct store_job_spec spec = {0};
	struct th t;
	struct tjob a, b, c;
	struct tleased l[2];
	size_t n;

	(void)state;
	th_init(&t, true);
	t.cfg.max_items = 2;
	t.cfg.max_active = 2;
	th_open(&t);
	assert_int_equal(
	    store_create(t.st, &spec, dup, 2, NULL, NULL), STORE_EINVAL);
	assert_int_equal(th_create(&t, 3, NULL, NULL, &a), STORE_ELIMIT);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &a), STORE_OK);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &b), STORE_OK);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &c), STORE_ELIMIT);
	/* Once one is done, another may start. */
	assert_int_equal(th_lease(&t, a.j.id, 2, l, &n), STORE_OK);
	assert_int_equal(
	    th_record(&t, a.j.id, 0, 0, STORE_OUT_OK, NULL), STORE_OK);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &c), STORE_OK);
	th_done(&t);
}

static void
test_idempotency_key_returns_the_existing_job(void **state)
{
	struct th t;
	struct tjob a, b, c;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 2, NULL, "key-1", &a), STORE_OK);
	assert_false(a.j.existing);
	assert_int_equal(th_create(&t, 5, NULL, "key-1", &b), STORE_OK);
	assert_true(b.j.existing);
	assert_string_equal(a.j.id, b.j.id);
	assert_int_equal(b.j.n.total, 2);
	assert_int_equal(th_create(&t, 2, NULL, "key-2", &c), STORE_OK);
	assert_string_not_equal(a.j.id, c.j.id);
	th_done(&t);
}

static void
test_lease_record_and_read_from_a_cursor(void **state)
{
	struct tleased l[10];
	struct tpage *p = malloc(sizeof(*p));
	struct th t;
	struct tjob j;
	uint64_t seq;
	size_t n, i;
	char spec[64];

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 5, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 3, l, &n), STORE_OK);
	assert_int_equal(n, 3);
	for (i = 0; i < 3; i++) {
		assert_int_equal(l[i].index, i);
		assert_int_equal(l[i].attempt, 0);
		th_spec(spec, sizeof(spec), (uint32_t)i);
		assert_string_equal(l[i].spec, spec);
	}
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_RUNNING);
	assert_int_equal(j.j.n.pending, 2);
	assert_int_equal(j.j.n.inflight, 3);

	/* Only an item in flight under its attempt takes a result. */
	assert_int_equal(
	    th_record(&t, j.j.id, 3, 0, STORE_OUT_OK, &seq), STORE_ESTATE);
	assert_int_equal(
	    th_record(&t, j.j.id, 1, 1, STORE_OUT_OK, &seq), STORE_ESTATE);
	assert_int_equal(
	    th_record(&t, j.j.id, 9, 0, STORE_OUT_OK, &seq), STORE_ENOENT);
	assert_int_equal(th_record(&t, "00000000000000000000000000000000", 1, 0,
	                     STORE_OUT_OK, &seq),
	    STORE_ENOENT);
	assert_int_equal(
	    th_record(&t, j.j.id, 2, 0, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(
	    th_record(&t, j.j.id, 2, 0, STORE_OUT_OK, &seq), STORE_ESTATE);
	assert_int_equal(
	    th_record(&t, j.j.id, 0, 0, STORE_OUT_FAILED, &seq), STORE_OK);
	assert_int_equal(seq, 2);
	assert_int_equal(
	    th_record(&t, j.j.id, 1, 0, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(seq, 3);
	assert_int_equal(th_lease(&t, j.j.id, 10, l, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].index, 3);
	assert_int_equal(th_lease(&t, j.j.id, 10, l, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(
	    th_record(&t, j.j.id, 4, 0, STORE_OUT_FAILED, &seq), STORE_OK);
	assert_int_equal(
	    th_record(&t, j.j.id, 3, 0, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	assert_int_equal(j.j.n.ok, 3);
	assert_int_equal(j.j.n.failed, 2);
	assert_int_equal(j.j.n.pending + j.j.n.inflight, 0);
	assert_int_equal(j.j.last_seq, 5);
	assert_int_equal(th_lease(&t, j.j.id, 1, l, &n), STORE_ESTATE);

	/* Reading: pages after a cursor, then failed lines only. */
	assert_int_equal(th_read(&t, j.j.id, 0, 2, false, p), STORE_OK);
	assert_int_equal(p->n, 2);
	assert_true(p->more);
	assert_int_equal(p->seq[0], 1);
	assert_int_equal(p->index[0], 2);
	assert_string_equal(p->line[0], "{\"index\":2,\"ok\":true,\"try\":0}");
	assert_int_equal(p->outcome[1], STORE_OUT_FAILED);
	assert_int_equal(p->last_seq, 5);
	assert_int_equal(p->state, STORE_JOB_DONE);
	th_page_free(p);
	assert_int_equal(th_read(&t, j.j.id, 2, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 3);
	assert_false(p->more);
	assert_int_equal(p->seq[0], 3);
	th_page_free(p);
	assert_int_equal(th_read(&t, j.j.id, 0, 10, true, p), STORE_OK);
	assert_int_equal(p->n, 2);
	assert_int_equal(p->seq[0], 2);
	assert_int_equal(p->seq[1], 4);
	th_page_free(p);
	assert_int_equal(th_read(&t, j.j.id, 5, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 0);
	assert_false(p->more);
	assert_int_equal(th_read_all(&t, j.j.id, 1), 5);
	free(p);
	th_done(&t);
}

/* A 100,000-item job goes through in pages: no lease and no read ever
 * hands over more than its page, and a page of large lines stops at
 * about 4 MiB. */
static void
test_a_large_job_is_leased_and_read_in_pages(void **state)
{
	enum { N = 100000, PAGE = 1000 };
	struct tleased *l = malloc(PAGE * sizeof(*l));
	struct tpage *p = malloc(sizeof(*p));
	struct tcount c = {0};
	struct th t;
	struct tjob j;
	size_t n, i, leased = 0;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, N, NULL, NULL, &j), STORE_OK);
	while (leased < N) {
		assert_int_equal(th_lease(&t, j.j.id, PAGE, l, &n), STORE_OK);
		assert_int_equal(n, PAGE);
		for (i = 0; i < n; i++) {
			assert_int_equal(l[i].index, leased + i);
			th_record_async(
			    &t, j.j.id, l[i].index, 0, STORE_OUT_OK, &c);
		}
		leased += n;
	}
	th_wait_count(&t, &c.done, N);
	assert_int_equal(c.errs, 0);
	assert_int_equal(c.max_seq, N);
	assert_int_equal(th_read_all(&t, j.j.id, STORE_PAGE_MAX), N);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	assert_int_equal(j.j.n.ok, N);
	th_done(&t);

	/* Large lines: a page stops near 4 MiB, whatever the limit. */
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 100, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 100, l, &n), STORE_OK);
	{
		size_t size = 100 * 1024;
		char *line = malloc(size + 1);
		struct store_result r = {
		    j.j.id, 0, 0, STORE_OUT_OK, line, size, NULL};

		memset(line, 'x', size);
		line[size] = '\0';
		c.done = 0;
		for (i = 0; i < 100; i++) {
			r.index = (uint32_t)i;
			assert_int_equal(
			    store_record(t.st, &r, NULL, NULL), STORE_OK);
		}
		free(line);
	}
	for (i = 0; j.j.last_seq < 100; i++) { /* no callbacks to wait on */
		assert_true(i < TH_POLL_MAX);
		assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	}
	assert_int_equal(th_read(&t, j.j.id, 0, 1000, false, p), STORE_OK);
	assert_true(p->more);
	assert_true(p->n >= 40 && p->n <= 42);
	assert_true(p->bytes <= 4 * 1024 * 1024 + 100 * 1024);
	th_page_free(p);
	th_done(&t);
	free(l);
	free(p);
}

/* Records queued together commit together, commit_max at a time: with
 * the writer held inside a commit (a write that waits), 20,000 records
 * queue up behind it, then go in 20 transactions, not 20,000. */
static void
test_group_commit_groups_records(void **state)
{
	enum { N = 20001 };
	struct tleased *l = malloc(N * sizeof(*l));
	struct store_stats s0, s1;
	struct tcount c = {0};
	struct th t;
	struct tjob j;
	size_t n, i, got = 0;

	(void)state;
	faultvfs_register();
	th_init(&t, false);
	t.cfg.vfs = FAULTVFS_NAME;
	t.cfg.commit_max = 1000;
	t.cfg.commit_ms = 600000; /* only commit_max cuts (valgrind is slow) */
	th_open(&t);
	assert_int_equal(th_create(&t, N, NULL, NULL, &j), STORE_OK);
	while (got < N) {
		assert_int_equal(
		    th_lease(&t, j.j.id, 10000, l + got, &n), STORE_OK);
		got += n;
	}
	store_stats(t.st, &s0);
	faultvfs_stall(1);
	th_record_async(&t, j.j.id, 0, 0, STORE_OUT_OK, &c);
	faultvfs_wait_stalled(); /* the writer is inside that commit */
	for (i = 1; i < N; i++)
		th_record_async(&t, j.j.id, (uint32_t)i, 0, STORE_OUT_OK, &c);
	store_stats(t.st, &s1);
	assert_int_equal(s1.queue_depth, N - 1);
	faultvfs_release();
	th_wait_count(&t, &c.done, N);
	faultvfs_disarm();
	store_stats(t.st, &s1);
	assert_int_equal(c.errs, 0);
	assert_int_equal(s1.records - s0.records, N);
	assert_int_equal(s1.commits - s0.commits, 1 + (N - 1) / 1000);
	assert_int_equal(s1.jobs[STORE_JOB_DONE], 1);
	assert_int_equal(s1.items_pending, 0);
	assert_int_equal(s1.queue_depth, 0);
	free(l);
	th_done(&t);
}

/* store_create_from: each item made on demand on the writer, once and
 * in order, and stored as made. */
static void
test_create_from_makes_each_item_once(void **state)
{
	enum { N = 3000 };
	struct tleased *l = malloc(N * sizeof(*l));
	char want[80];
	struct th t;
	struct tjob j;
	uint32_t calls;
	size_t n, i;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create_from(&t, N, &calls, &j), STORE_OK);
	assert_int_equal(calls, N);
	assert_int_equal(j.j.n.total, N);
	assert_int_equal(j.j.n.pending, N);
	assert_int_equal(th_lease(&t, j.j.id, N, l, &n), STORE_OK);
	assert_int_equal(n, N);
	for (i = 0; i < N; i++) {
		th_spec(want, sizeof(want), (uint32_t)i);
		assert_int_equal(l[i].index, i);
		assert_string_equal(l[i].spec, want);
		assert_int_equal(
		    l[i].flags, i % 3 == 0 ? STORE_ITEM_UNSAFE : 0);
	}
	free(l);
	th_done(&t);
}

/* An early start (store_job_spec.id, .leased): the job has the caller's
 * ID and its first items are in flight, so that their results are
 * recorded; a lease goes on after them. */
static void
test_an_early_start_creates_its_first_items_in_flight(void **state)
{
	struct store_job_spec spec = {.options = "{}"};
	struct tleased l[20];
	char id[STORE_ID_LEN + 1];
	struct th t;
	struct tjob j;
	uint64_t seq;
	size_t n, i;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	store_new_id(t.st, id);
	assert_true(store_id_valid(id));
	spec.leased = 1; /* no ID */
	assert_int_equal(th_create_spec(&t, 12, NULL, &spec, &j), STORE_EINVAL);
	spec.id = "not-an-id";
	assert_int_equal(th_create_spec(&t, 12, NULL, &spec, &j), STORE_EINVAL);
	spec.id = id;
	spec.leased = 13; /* more than the job has */
	assert_int_equal(th_create_spec(&t, 12, NULL, &spec, &j), STORE_EINVAL);
	spec.leased = 5;
	spec.idem = "k"; /* a repeat must send nothing */
	assert_int_equal(th_create_spec(&t, 12, NULL, &spec, &j), STORE_EINVAL);
	spec.idem = NULL;

	assert_int_equal(th_create_spec(&t, 12, NULL, &spec, &j), STORE_OK);
	assert_string_equal(j.j.id, id);
	assert_int_equal(j.j.state, STORE_JOB_RUNNING);
	assert_true(j.j.started_ms > 0);
	assert_int_equal(j.j.n.pending, 7);
	assert_int_equal(j.j.n.inflight, 5);
	assert_int_equal(th_record(&t, id, 4, 0, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(seq, 1);
	assert_int_equal(th_lease(&t, id, 20, l, &n), STORE_OK);
	assert_int_equal(n, 7);
	for (i = 0; i < n; i++)
		assert_int_equal(l[i].index, 5 + i);
	assert_int_equal(th_get(&t, id, &j), STORE_OK);
	assert_int_equal(j.j.n.pending, 0);
	assert_int_equal(j.j.n.inflight, 11);
	assert_int_equal(j.j.n.ok, 1);

	/* Every item leased at once (a small job). */
	store_new_id(t.st, id);
	spec.leased = 3;
	assert_int_equal(th_create_spec(&t, 3, NULL, &spec, &j), STORE_OK);
	assert_int_equal(j.j.n.inflight, 3);
	assert_int_equal(th_record(&t, id, 2, 0, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(th_lease(&t, id, 20, l, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_int_equal(th_record(&t, id, 0, 0, STORE_OUT_OK, &seq), STORE_OK);
	th_done(&t);
}

static void
test_release_puts_an_item_back_to_pending(void **state)
{
	struct tleased l[2];
	struct th t;
	struct tjob j;
	size_t n;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 2, l, &n), STORE_OK);
	assert_int_equal(th_release(&t, j.j.id, 1, 0), STORE_OK);
	assert_int_equal(th_release(&t, j.j.id, 1, 0), STORE_ESTATE);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.n.pending, 1);
	assert_int_equal(j.j.n.inflight, 1);
	assert_int_equal(th_read_all(&t, j.j.id, 10), 0);
	assert_int_equal(th_lease(&t, j.j.id, 2, l, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(l[0].index, 1);
	th_done(&t);
}

/* Cancel: no more leases; every pending item ends with a `cancelled`
 * line; items in flight still get their own result. */
static void
test_cancel_ends_pending_items_with_lines(void **state)
{
	enum { N = 5000 };
	struct tleased l[10];
	struct tpage *p = malloc(sizeof(*p));
	struct th t;
	struct tjob j;
	size_t n, i;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, N, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 10, l, &n), STORE_OK);
	assert_int_equal(th_cancel(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_CANCELLED);
	assert_true(j.j.finished_ms > 0);
	assert_int_equal(th_cancel(&t, j.j.id, &j), STORE_ESTATE);
	assert_int_equal(th_lease(&t, j.j.id, 10, l, &n), STORE_ESTATE);
	for (i = 0; j.j.n.pending > 0; i++) { /* slices, after the answer */
		assert_true(i < TH_POLL_MAX);
		assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	}
	assert_int_equal(j.j.n.failed, N - 10);
	for (i = 0; i < 10; i++)
		assert_int_equal(
		    th_record(&t, j.j.id, (uint32_t)i, 0, STORE_OUT_OK, NULL),
		    STORE_OK);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_CANCELLED);
	assert_int_equal(j.j.n.ok, 10);
	assert_int_equal(j.j.n.inflight, 0);
	assert_int_equal(th_read_all(&t, j.j.id, STORE_PAGE_MAX), N);
	assert_int_equal(th_read(&t, j.j.id, 0, 1, false, p), STORE_OK);
	assert_int_equal(p->index[0], 10);
	assert_int_equal(p->outcome[0], STORE_OUT_CANCELLED);
	assert_string_equal(p->line[0],
	    "{\"index\":10,\"id\":\"i10\",\"url\":\"http://127.0.0.1/10\","
	    "\"ok\":false,\"error\":{\"type\":\"cancelled\",\"message\":"
	    "\"the job was cancelled before this item ran\"}}");
	th_page_free(p);
	free(p);
	th_done(&t);
}

/* Retry: only the failed items go back, with attempt + 1; their old
 * lines keep their seq; a result for the old attempt is refused. */
static void
test_retry_requeues_failed_items_and_keeps_old_lines(void **state)
{
	struct tpage *p = malloc(sizeof(*p));
	struct tleased l[4];
	struct th t;
	struct tjob j;
	uint64_t seq;
	size_t n;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 4, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 4, l, &n), STORE_OK);
	th_record(&t, j.j.id, 0, 0, STORE_OUT_OK, NULL);
	th_record(&t, j.j.id, 1, 0, STORE_OUT_FAILED, NULL);
	th_record(&t, j.j.id, 2, 0, STORE_OUT_OK, NULL);
	th_record(&t, j.j.id, 3, 0, STORE_OUT_FAILED, NULL);
	assert_int_equal(th_retry(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_QUEUED);
	assert_int_equal(j.j.n.failed, 0);
	assert_int_equal(j.j.n.pending, 2);
	assert_int_equal(j.j.n.ok, 2);
	assert_int_equal(j.j.finished_ms, 0);
	assert_int_equal(th_lease(&t, j.j.id, 4, l, &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(l[0].index, 1);
	assert_int_equal(l[0].attempt, 1);
	assert_int_equal(l[1].index, 3);
	assert_int_equal(
	    th_record(&t, j.j.id, 1, 0, STORE_OUT_OK, &seq), STORE_ESTATE);
	assert_int_equal(
	    th_record(&t, j.j.id, 1, 1, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(seq, 5);
	assert_int_equal(
	    th_record(&t, j.j.id, 3, 1, STORE_OUT_OK, &seq), STORE_OK);
	assert_int_equal(th_read(&t, j.j.id, 0, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 6);
	assert_int_equal(p->index[1], 1);
	assert_int_equal(p->attempt[1], 0);
	assert_int_equal(p->outcome[1], STORE_OUT_FAILED);
	assert_int_equal(p->index[4], 1);
	assert_int_equal(p->attempt[4], 1);
	assert_string_equal(p->line[4], "{\"index\":1,\"ok\":true,\"try\":1}");
	th_page_free(p);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	assert_int_equal(j.j.n.ok, 4);
	/* Nothing failed: a retry changes nothing. */
	assert_int_equal(th_retry(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	free(p);
	th_done(&t);
}

/* ?latest: each item's current line; a retried item has none while it
 * is queued again, then its new line; superseded lines are left out. */
static void
test_latest_reads_each_items_current_line(void **state)
{
	struct tpage *p = malloc(sizeof(*p));
	struct tleased l[3];
	struct th t;
	struct tjob j;
	size_t n;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 3, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 3, l, &n), STORE_OK);
	th_record(&t, j.j.id, 0, 0, STORE_OUT_FAILED, NULL); /* seq 1 */
	th_record(&t, j.j.id, 1, 0, STORE_OUT_FAILED, NULL); /* seq 2 */
	th_record(&t, j.j.id, 2, 0, STORE_OUT_OK, NULL);     /* seq 3 */
	assert_int_equal(th_retry(&t, j.j.id, &j), STORE_OK);
	/* Items 0 and 1 are queued again: only item 2's line stands. */
	assert_int_equal(th_read_latest(&t, j.j.id, 0, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 1);
	assert_int_equal(p->seq[0], 3);
	th_page_free(p);
	assert_int_equal(th_read_latest(&t, j.j.id, 0, 10, true, p), STORE_OK);
	assert_int_equal(p->n, 0);
	assert_false(p->more);
	th_page_free(p);
	assert_int_equal(th_lease(&t, j.j.id, 3, l, &n), STORE_OK);
	th_record(&t, j.j.id, 1, 1, STORE_OUT_OK, NULL);     /* seq 4 */
	th_record(&t, j.j.id, 0, 1, STORE_OUT_FAILED, NULL); /* seq 5 */
	assert_int_equal(th_read_latest(&t, j.j.id, 0, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 3);
	assert_int_equal(p->seq[0], 3);
	assert_int_equal(p->seq[1], 4);
	assert_int_equal(p->seq[2], 5);
	th_page_free(p);
	/* Failed and current: item 0's second line, not its first. */
	assert_int_equal(th_read_latest(&t, j.j.id, 0, 10, true, p), STORE_OK);
	assert_int_equal(p->n, 1);
	assert_int_equal(p->seq[0], 5);
	assert_int_equal(p->attempt[0], 1);
	th_page_free(p);
	/* Paged: a limit of 1 after seq 3 gives seq 4, more to come. */
	assert_int_equal(th_read_latest(&t, j.j.id, 3, 1, false, p), STORE_OK);
	assert_int_equal(p->n, 1);
	assert_int_equal(p->seq[0], 4);
	assert_true(p->more);
	th_page_free(p);
	/* The plain read still has all five. */
	assert_int_equal(th_read(&t, j.j.id, 0, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 5);
	th_page_free(p);
	free(p);
	th_done(&t);
}

/* Finish every item of a job. */
static void
finish_job(struct th *t, const char *id, size_t n)
{
	struct tleased l[16];
	size_t got, i;

	assert_true(n <= 16);
	assert_int_equal(th_lease(t, id, (uint32_t)n, l, &got), STORE_OK);
	for (i = 0; i < got; i++)
		assert_int_equal(
		    th_record(t, id, l[i].index, 0, STORE_OUT_OK, NULL),
		    STORE_OK);
}

static void
test_delete_and_the_ttl_sweep(void **state)
{
	struct th t;
	struct tjob a, b, c;
	uint64_t removed;

	(void)state;
	th_init(&t, true);
	th_open(&t);
	th_clock = 1800000000000LL;
	assert_int_equal(th_create(&t, 2, NULL, NULL, &a), STORE_OK);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &b), STORE_OK);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &c), STORE_OK);
	assert_int_equal(th_delete(&t, a.j.id), STORE_ESTATE); /* queued */
	finish_job(&t, a.j.id, 2);
	finish_job(&t, b.j.id, 2);
	assert_int_equal(th_get(&t, b.j.id, &b), STORE_OK);
	assert_int_equal(b.j.expires_ms, 1800000000000LL + 7 * 24 * 3600000LL);
	assert_int_equal(th_delete(&t, a.j.id), STORE_OK);
	assert_int_equal(th_get(&t, a.j.id, &a), STORE_ENOENT);
	assert_int_equal(th_delete(&t, a.j.id), STORE_ENOENT);

	th_clock = b.j.expires_ms - 1;
	assert_int_equal(th_sweep(&t, &removed), STORE_OK);
	assert_int_equal(removed, 0);
	th_clock = b.j.expires_ms;
	assert_int_equal(th_sweep(&t, &removed), STORE_OK);
	assert_int_equal(removed, 1);
	assert_int_equal(th_get(&t, b.j.id, &b), STORE_ENOENT);
	assert_int_equal(th_get(&t, c.j.id, &c), STORE_OK); /* not done */
	th_clock = 1800000000000LL;
	th_done(&t);
}

struct bres {
	bool done;
	enum store_err err;
	uint64_t size;
	char *data;
	size_t len;
	char type[64], coding[16];
};

static void
on_body(enum store_err err, const struct store_body_page *pg, void *arg)
{
	struct bres *b = arg;

	b->err = err;
	b->size = pg != NULL ? pg->size : 0;
	b->len = pg != NULL ? pg->len : 0;
	b->data = malloc(b->len + 1);
	if (b->len > 0)
		memcpy(b->data, pg->data, b->len);
	snprintf(b->type, sizeof(b->type), "%s",
	    pg != NULL && pg->type != NULL ? pg->type : "-");
	snprintf(b->coding, sizeof(b->coding), "%s",
	    pg != NULL && pg->coding != NULL ? pg->coding : "-");
	b->done = true;
}

/* Read a whole body in pieces of `piece` bytes. */
static char last_type[64], last_coding[16]; /* of the last read_body */

static enum store_err
read_body(struct th *t, const char *id, uint32_t index, size_t piece,
    char **out, uint64_t *size)
{
	struct bres b;
	uint64_t off = 0;

	*out = NULL;
	do {
		memset(&b, 0, sizeof(b));
		assert_int_equal(
		    store_body_read(t->st, id, index, off, piece, on_body, &b),
		    STORE_OK);
		th_wait(t, &b.done);
		if (b.err != STORE_OK) {
			free(b.data);
			free(*out);
			*out = NULL;
			return b.err;
		}
		*out = realloc(*out, off + b.len + 1);
		memcpy(*out + off, b.data, b.len);
		free(b.data);
		off += b.len;
		*size = b.size;
		memcpy(last_type, b.type, sizeof(last_type));
		memcpy(last_coding, b.coding, sizeof(last_coding));
	} while (off < b.size && b.len > 0);
	assert_int_equal(off, b.size);
	return STORE_OK;
}

static void
on_drained(void *arg, uint32_t index)
{
	assert_int_equal(index, 1);
	*(bool *)arg = true;
}

/* Record item i with body b, and wait for it. */
static void
record_with_body(struct th *t, const char *id, uint32_t i, struct store_body *b)
{
	struct tcount c = {0};

	th_record_body(t, id, i, b, &c);
	th_wait_count(t, &c.done, 1);
	assert_int_equal(c.errs, 0);
}

static void
test_bodies_inline_and_in_files(void **state)
{
	size_t big = 3 * STORE_BODY_INLINE + 123, i;
	char *data = malloc(big), *got, path[512];
	struct tleased l[4];
	struct store_body *b;
	struct th t;
	struct tjob j;
	uint64_t size;
	struct stat sb;
	bool drained = false;
	size_t n;
	long q = 0;

	(void)state;
	for (i = 0; i < big; i++)
		data[i] = (char)(i * 7 + i / 251);
	th_init(&t, true);
	th_open(&t);
	assert_int_equal(th_create(&t, 4, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 4, l, &n), STORE_OK);

	/* Small: kept in memory, stored with the result. */
	b = store_body_open(t.st, j.j.id, 0, 0);
	store_body_set_type(b, "text/plain; charset=utf-8", NULL);
	assert_int_equal(store_body_add(b, "hello ", 6), 0);
	assert_int_equal(store_body_add(b, "body", 4), 0);
	record_with_body(&t, j.j.id, 0, b);
	/* Large: streamed to a file in pieces, read back in pieces. */
	b = store_body_open(t.st, j.j.id, 1, 0);
	store_body_set_type(b, "application/octet-stream", NULL);
	store_body_set_type(b, "application/x-tar", "gzip"); /* the last */
	for (i = 0; i < big; i += 10000) {
		q = store_body_add(
		    b, data + i, big - i < 10000 ? big - i : 10000);
		assert_true(q >= 0);
	}
	if (q > 0) {
		store_body_on_drain(b, on_drained, &drained);
		th_wait(&t, &drained);
	}
	record_with_body(&t, j.j.id, 1, b);
	/* A mismatched sink is refused; an aborted one leaves nothing. */
	b = store_body_open(t.st, j.j.id, 2, 0);
	{
		struct store_result r = {
		    j.j.id, 3, 0, STORE_OUT_OK, "{}", 2, b};

		assert_int_equal(
		    store_record(t.st, &r, NULL, NULL), STORE_EINVAL);
	}
	assert_int_equal(store_body_add(b, data, STORE_BODY_INLINE + 1),
	    STORE_BODY_INLINE + 1);
	store_body_abort(b);
	assert_int_equal(
	    th_record(&t, j.j.id, 2, 0, STORE_OUT_OK, NULL), STORE_OK);

	assert_int_equal(read_body(&t, j.j.id, 0, 4, &got, &size), STORE_OK);
	assert_int_equal(size, 10);
	assert_memory_equal(got, "hello body", 10);
	assert_string_equal(last_type, "text/plain; charset=utf-8");
	assert_string_equal(last_coding, "-");
	free(got);
	assert_int_equal(
	    read_body(&t, j.j.id, 1, 65536, &got, &size), STORE_OK);
	assert_int_equal(size, big);
	assert_memory_equal(got, data, big);
	assert_string_equal(last_type, "application/x-tar");
	assert_string_equal(last_coding, "gzip");
	free(got);
	snprintf(path, sizeof(path), "%s/bodies/%s/1.0", t.dir, j.j.id);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, big);
	assert_int_equal(
	    read_body(&t, j.j.id, 2, 100, &got, &size), STORE_ENOENT);
	assert_int_equal(
	    read_body(&t, j.j.id, 3, 100, &got, &size), STORE_ENOENT);
	snprintf(path, sizeof(path), "%s/bodies/%s/2.0", t.dir, j.j.id);
	th_close(&t); /* the files thread is done: the abort happened */
	assert_int_equal(stat(path, &sb), -1);

	/* Over max_body_bytes: refused. */
	t.cfg.max_body_bytes = 100;
	th_open(&t);
	b = store_body_open(t.st, j.j.id, 3, 0);
	assert_int_equal(store_body_add(b, data, 100), 0);
	assert_int_equal(store_body_add(b, data, 1), -1);
	store_body_abort(b);
	free(data);
	th_done(&t);
}

/* A store of schema version 1 (no body_type, body_coding; the
 * items_inflight index of versions 1 and 2) is migrated in place when
 * opened: its bodies then keep their type, the index is gone. */
static void
test_schema_1_is_migrated(void **state)
{
	struct tleased l[1];
	struct store_body *b;
	struct th t;
	struct tjob j;
	char path[600], *got;
	uint64_t size;
	sqlite3 *db;
	sqlite3_stmt *s;
	size_t n;

	(void)state;
	th_init(&t, false);
	snprintf(path, sizeof(path), "%s/jobs.db", t.dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	                     "CREATE TABLE results (id INTEGER PRIMARY KEY, "
	                     "job INTEGER NOT NULL, idx INTEGER NOT NULL, "
	                     "attempt INTEGER NOT NULL, outcome INTEGER NOT "
	                     "NULL, line TEXT NOT NULL, body_bytes INTEGER, "
	                     "body_file TEXT, body_err INTEGER NOT NULL, body "
	                     "BLOB); CREATE TABLE items (id INTEGER PRIMARY "
	                     "KEY, job INTEGER NOT NULL, state INTEGER NOT "
	                     "NULL, flags INTEGER NOT NULL, attempt INTEGER "
	                     "NOT NULL, outcome INTEGER, seq INTEGER, spec "
	                     "TEXT NOT NULL); CREATE INDEX items_inflight ON "
	                     "items (job) WHERE state = 1; PRAGMA "
	                     "user_version = 1",
	                     NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	th_open(&t);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 1, l, &n), STORE_OK);
	b = store_body_open(t.st, j.j.id, 0, 0);
	store_body_set_type(b, "text/csv", NULL);
	assert_int_equal(store_body_add(b, "a,b", 3), 0);
	record_with_body(&t, j.j.id, 0, b);
	assert_int_equal(read_body(&t, j.j.id, 0, 100, &got, &size), STORE_OK);
	assert_int_equal(size, 3);
	assert_string_equal(last_type, "text/csv");
	free(got);
	th_close(&t);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 3);
	sqlite3_finalize(s);
	assert_int_equal(sqlite3_prepare_v2(db,
	                     "SELECT count(*) FROM sqlite_master WHERE name = "
	                     "'items_inflight'",
	                     -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	th_done(&t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_job_and_item_state_machines),
	    cmocka_unit_test(test_job_ids_are_128_random_bits_in_hex),
	    cmocka_unit_test(test_create_get_and_list),
	    cmocka_unit_test(test_create_refuses_bad_items_and_applies_limits),
	    cmocka_unit_test(test_idempotency_key_returns_the_existing_job),
	    cmocka_unit_test(test_lease_record_and_read_from_a_cursor),
	    cmocka_unit_test(test_a_large_job_is_leased_and_read_in_pages),
	    cmocka_unit_test(test_group_commit_groups_records),
	    cmocka_unit_test(test_create_from_makes_each_item_once),
	    cmocka_unit_test(
	        test_an_early_start_creates_its_first_items_in_flight),
	    cmocka_unit_test(test_release_puts_an_item_back_to_pending),
	    cmocka_unit_test(test_cancel_ends_pending_items_with_lines),
	    cmocka_unit_test(
	        test_retry_requeues_failed_items_and_keeps_old_lines),
	    cmocka_unit_test(test_latest_reads_each_items_current_line),
	    cmocka_unit_test(test_delete_and_the_ttl_sweep),
	    cmocka_unit_test(test_bodies_inline_and_in_files),
	    cmocka_unit_test(test_schema_1_is_migrated),
	};

	alarm(600);   /* a hang fails the test */
	if (argc > 1) /* a test's name, or a pattern with * and ? */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
