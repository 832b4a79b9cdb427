/*
 * test_scheduler.c - the admission rules of DESIGN.md §2, pinned on the
 * pure scheduler: the global, batch and per-host caps hold at every
 * dispatch, a saturated host never blocks other hosts, batches share
 * capacity round-robin, and removal / pause / re-enqueue keep the books
 * straight; an outside token source (shared limits) that cannot tell
 * yet parks its host with no timer until it says so. A simulated clock-free
 * world: the test decides when each running job finishes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scheduler.h"

#define MAXJOBS 4096

struct tjob {
	struct sched_job job; /* first: the test casts back */
	int batch;
	const char *host;
	int order; /* dispatch order, -1 until dispatched */
};

struct world {
	struct sched *s;
	uint32_t global_cap, batch_cap, host_cap, batch_host_cap;
	int running;
	int running_batch[8];
	int order;
	struct tjob *log[MAXJOBS]; /* jobs in dispatch order */
	int nlog;
	struct tjob jobs[MAXJOBS];
	int njobs;
	struct sched_batch *b[8];
};

static int
running_for_host(struct world *w, const char *host, int batch)
{
	int i, n = 0;

	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].job.life.state == ITEM_ADMITTED &&
		    strcmp(w->jobs[i].host, host) == 0 &&
		    (batch < 0 || w->jobs[i].batch == batch))
			n++;
	return n;
}

/* The dispatch callback checks every cap at the instant of admission. */
static void
on_dispatch(struct sched_job *job, void *arg)
{
	struct world *w = arg;
	struct tjob *t = (struct tjob *)job;

	assert_int_equal(job->life.state, ITEM_ADMITTED);
	t->order = w->order++;
	w->log[w->nlog++] = t;
	w->running++;
	w->running_batch[t->batch]++;
	assert_true((uint32_t)w->running <= w->global_cap);
	assert_true((uint32_t)w->running_batch[t->batch] <= w->batch_cap);
	assert_true((uint32_t)running_for_host(w, t->host, -1) <= w->host_cap);
	assert_true((uint32_t)running_for_host(w, t->host, t->batch) <=
	    w->batch_host_cap);
	assert_int_equal(sched_inflight(w->s), (uint32_t)w->running);
}

static void
world_init(struct world *w, uint32_t global_cap, uint32_t batch_cap,
    uint32_t host_cap, uint32_t batch_host_cap, int nbatches)
{
	struct sched_limits sl = {global_cap, host_cap, 0, 0, 0, 0};
	struct sched_batch_limits bl = {batch_cap, batch_host_cap, 0, 0, 0};
	int i;

	memset(w, 0, sizeof(*w));
	w->global_cap = global_cap;
	w->batch_cap = batch_cap;
	w->host_cap = host_cap;
	w->batch_host_cap = batch_host_cap;
	w->s = sched_new(&sl, 0);
	for (i = 0; i < nbatches; i++)
		w->b[i] = sched_batch_new(w->s, &bl, on_dispatch, w, 0);
}

static struct tjob *
add_job(struct world *w, int batch, const char *host)
{
	struct tjob *t = &w->jobs[w->njobs++];

	t->batch = batch;
	t->host = host;
	t->order = -1;
	sched_enqueue(w->b[batch], &t->job, host);
	return t;
}

static void
finish(struct world *w, struct tjob *t)
{
	assert_int_equal(t->job.life.state, ITEM_ADMITTED);
	/* The attempt's outcome, as fetch reports it. */
	item_set_state(&t->job.life, ITEM_OUTCOME);
	sched_done(&t->job);
	w->running--;
	w->running_batch[t->batch]--;
}

/* Finish the oldest running job; returns 0 when none runs. */
static int
finish_oldest(struct world *w)
{
	int i;

	for (i = 0; i < w->nlog; i++)
		if (w->log[i]->job.life.state == ITEM_ADMITTED) {
			finish(w, w->log[i]);
			return 1;
		}
	return 0;
}

static void
world_free(struct world *w)
{
	int i;

	while (finish_oldest(w))
		;
	for (i = 0; i < 8; i++)
		sched_batch_free(w->b[i]);
	sched_free(w->s);
}

static void
test_global_cap_holds_while_draining(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 10, 100, 100, 100, 1);
	for (i = 0; i < 200; i++)
		add_job(&w, 0, "h");
	sched_run(w.s, 0, 0);
	assert_int_equal(w.running, 10);
	assert_int_equal(sched_queued(w.s), 190);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 200);
	assert_int_equal(sched_queued(w.s), 0);
	world_free(&w);
}

/* A budget bounds the admissions of one call; the call then says "again
 * now", and round-robin carries on where it stopped. */
static void
test_budget_bounds_one_call(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 100, 100, 100, 100, 2);
	for (i = 0; i < 30; i++) {
		add_job(&w, 0, "a");
		add_job(&w, 1, "b");
	}
	assert_int_equal(sched_run(w.s, 7000, 8), 7000);
	assert_int_equal(w.running, 8);
	assert_int_equal(w.running_batch[0], 4);
	assert_int_equal(w.running_batch[1], 4);
	assert_int_equal(sched_run(w.s, 7000, 50), 7000);
	assert_int_equal(w.running, 58);
	/* Two jobs left: the budget is not spent, nothing is due. */
	assert_int_equal(sched_run(w.s, 7000, 50), SCHED_NEVER);
	assert_int_equal(w.running, 60);
	assert_int_equal(sched_queued(w.s), 0);
	world_free(&w);
}

static void
test_batch_cap_limits_one_batch(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 100, 7, 100, 100, 1);
	for (i = 0; i < 50; i++)
		add_job(&w, 0, "h");
	sched_run(w.s, 0, 0);
	assert_int_equal(w.running, 7);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 50);
	world_free(&w);
}

static void
test_saturated_host_does_not_block_other_hosts(void **state)
{
	static struct world w;
	int i;

	/* Host cap 2; 50 jobs for "slow" queued first, then 5 for "fast". */
	world_init(&w, 100, 100, 2, 100, 1);
	for (i = 0; i < 50; i++)
		add_job(&w, 0, "slow");
	for (i = 0; i < 5; i++)
		add_job(&w, 0, "fast");
	sched_run(w.s, 0, 0);
	assert_int_equal(running_for_host(&w, "slow", -1), 2);
	assert_int_equal(running_for_host(&w, "fast", -1), 2);
	assert_int_equal(w.running, 4);
	/* The fast host drains without any slow job finishing. */
	for (i = 0; i < 5; i++) {
		int j;

		for (j = 0; j < w.nlog; j++)
			if (w.log[j]->job.life.state == ITEM_ADMITTED &&
			    strcmp(w.log[j]->host, "fast") == 0) {
				finish(&w, w.log[j]);
				break;
			}
		sched_run(w.s, 0, 0);
	}
	assert_int_equal(running_for_host(&w, "fast", -1), 0);
	assert_int_equal(running_for_host(&w, "slow", -1), 2);
	world_free(&w);
}

static void
test_batch_per_host_cap_below_server_cap(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 100, 100, 50, 3, 2);
	for (i = 0; i < 20; i++) {
		add_job(&w, 0, "h");
		add_job(&w, 1, "h");
	}
	sched_run(w.s, 0, 0);
	assert_int_equal(running_for_host(&w, "h", 0), 3);
	assert_int_equal(running_for_host(&w, "h", 1), 3);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 40);
	world_free(&w);
}

static void
test_server_host_cap_shared_between_batches(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 100, 100, 4, 100, 2);
	for (i = 0; i < 30; i++) {
		add_job(&w, 0, "h");
		add_job(&w, 1, "h");
	}
	sched_run(w.s, 0, 0);
	assert_int_equal(running_for_host(&w, "h", -1), 4);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 60);
	world_free(&w);
}

static void
test_late_small_batch_gets_half_the_capacity(void **state)
{
	static struct world w;
	int i, small_done = 0, big_before = 0;

	/* A big batch fills the global cap; a small one arrives later. */
	world_init(&w, 10, 100, 100, 100, 2);
	for (i = 0; i < 1000; i++)
		add_job(&w, 0, "big");
	sched_run(w.s, 0, 0);
	assert_int_equal(w.running, 10);
	for (i = 0; i < 10; i++)
		add_job(&w, 1, "small");
	/* Each completion frees one slot: round-robin gives every other
	 * slot to the small batch, so it finishes within ~20 completions. */
	while (small_done < 10) {
		int n = w.nlog;

		finish_oldest(&w);
		sched_run(w.s, 0, 0);
		if (w.nlog > n && w.log[w.nlog - 1]->batch == 1)
			small_done++;
		else if (w.nlog > n)
			big_before++;
	}
	assert_true(big_before <= 10);
	world_free(&w);
}

static void
test_hosts_served_round_robin_within_a_batch(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 3, 100, 100, 100, 1);
	for (i = 0; i < 9; i++)
		add_job(&w, 0, "a");
	for (i = 0; i < 9; i++)
		add_job(&w, 0, "b");
	for (i = 0; i < 9; i++)
		add_job(&w, 0, "c");
	sched_run(w.s, 0, 0);
	/* One slot each, not three for "a". */
	assert_int_equal(running_for_host(&w, "a", -1), 1);
	assert_int_equal(running_for_host(&w, "b", -1), 1);
	assert_int_equal(running_for_host(&w, "c", -1), 1);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	world_free(&w);
}

static void
test_remove_queued_job(void **state)
{
	static struct world w;
	struct tjob *t[5];
	int i;

	world_init(&w, 1, 100, 100, 100, 1);
	for (i = 0; i < 5; i++)
		t[i] = add_job(&w, 0, "h");
	sched_run(w.s, 0, 0);
	sched_remove(&t[3]->job);
	assert_null(t[3]->job.hq); /* out of the scheduler */
	assert_int_equal(sched_queued(w.s), 3);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 4);
	assert_int_equal(t[3]->order, -1);
	world_free(&w);
}

static void
test_paused_batch_dispatches_nothing_until_resumed(void **state)
{
	static struct world w;
	int i;

	world_init(&w, 10, 10, 10, 10, 1);
	sched_batch_pause(w.b[0], true);
	for (i = 0; i < 5; i++)
		add_job(&w, 0, "h");
	sched_run(w.s, 0, 0);
	assert_int_equal(w.running, 0);
	sched_batch_pause(w.b[0], false);
	sched_run(w.s, 0, 0);
	assert_int_equal(w.running, 5);
	while (finish_oldest(&w))
		sched_run(w.s, 0, 0);
	world_free(&w);
}

static void
test_done_job_can_be_enqueued_again(void **state)
{
	static struct world w;
	struct tjob *t;

	world_init(&w, 1, 1, 1, 1, 1);
	t = add_job(&w, 0, "h");
	sched_run(w.s, 0, 0);
	finish(&w, t);
	assert_null(t->job.hq); /* out of the scheduler */
	sched_enqueue(w.b[0], &t->job, "h");
	sched_run(w.s, 0, 0);
	assert_int_equal(t->job.life.state, ITEM_ADMITTED);
	assert_int_equal(w.nlog, 2);
	finish(&w, t);
	world_free(&w);
}

/* Completing from inside the dispatch callback (a synchronous failure)
 * must not break the outer sched_run. */
static struct world *reentrant_world;

static void
on_dispatch_fail_at_once(struct sched_job *job, void *arg)
{
	struct world *w = arg;

	w->nlog++;
	assert_true(sched_inflight(w->s) <= 2);
	item_set_state(&job->life, ITEM_OUTCOME);
	sched_done(job);
	sched_run(w->s, 0, 0);
}

static void
test_completion_inside_dispatch_is_safe(void **state)
{
	static struct world w;
	struct sched_limits sl = {2, 2, 0, 0, 0, 0};
	struct sched_batch_limits bl = {2, 2, 0, 0, 0};
	struct sched_batch *b;
	int i;

	reentrant_world = &w;
	memset(&w, 0, sizeof(w));
	w.s = sched_new(&sl, 0);
	b = sched_batch_new(w.s, &bl, on_dispatch_fail_at_once, &w, 0);
	for (i = 0; i < 100; i++)
		sched_enqueue(b, &w.jobs[i].job, "h");
	sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 100);
	assert_int_equal(sched_inflight(w.s), 0);
	assert_int_equal(sched_queued(w.s), 0);
	sched_batch_free(b);
	sched_free(w.s);
}

static void
test_batch_free_drops_queued_jobs(void **state)
{
	static struct world w;
	struct tjob *t[3];
	int i;

	world_init(&w, 1, 1, 1, 1, 1);
	for (i = 0; i < 3; i++)
		t[i] = add_job(&w, 0, i ? "x" : "y");
	assert_int_equal(sched_queued(w.s), 3);
	sched_batch_free(w.b[0]);
	w.b[0] = NULL;
	assert_int_equal(sched_queued(w.s), 0);
	assert_null(t[1]->job.hq); /* out of the scheduler */
	world_free(&w);
}

/* A world with rate limits; jobs finish only when the test says so. */
static void
world_init_rates(struct world *w, const struct sched_limits *sl,
    const struct sched_batch_limits *bl, int nbatches)
{
	int i;

	memset(w, 0, sizeof(*w));
	w->global_cap = sl->concurrency;
	w->host_cap = sl->per_host_concurrency;
	w->batch_cap = bl->concurrency;
	w->batch_host_cap = bl->per_host_concurrency;
	w->s = sched_new(sl, 0);
	for (i = 0; i < nbatches; i++)
		w->b[i] = sched_batch_new(w->s, bl, on_dispatch, w, 0);
}

#define MS 1000ull

static void
test_global_rate_spaces_dispatches_and_says_when(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 10, 2, 0, 0};
	struct sched_batch_limits bl = {100, 100, 0, 0, 0};
	uint64_t t, next;
	int i;

	world_init_rates(&w, &sl, &bl, 1);
	for (i = 0; i < 50; i++)
		add_job(&w, 0, "h");
	next = sched_run(w.s, 0, 0);
	assert_int_equal(w.nlog, 2); /* the burst */
	assert_int_equal(next, 100 * MS);
	/* Waking early changes nothing; on time lets exactly one through. */
	assert_int_equal(sched_run(w.s, 50 * MS, 0), 100 * MS);
	assert_int_equal(w.nlog, 2);
	for (t = 100 * MS; t <= 1000 * MS; t = next) {
		next = sched_run(w.s, t, 0);
		assert_int_equal(next, t + 100 * MS);
	}
	assert_int_equal(w.nlog, 12); /* 2 + one per 100 ms up to 1 s */
	assert_true(sched_token_wait_us(w.s) > 0);
	world_free(&w);
}

static void
test_rate_limited_host_does_not_block_other_hosts(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 0, 0, 1, 1};
	struct sched_batch_limits bl = {100, 100, 0, 0, 0};
	int i;

	world_init_rates(&w, &sl, &bl, 1);
	for (i = 0; i < 5; i++)
		add_job(&w, 0, "a");
	add_job(&w, 0, "b");
	assert_int_equal(sched_run(w.s, 0, 0), 1000 * MS);
	assert_int_equal(running_for_host(&w, "a", -1), 1);
	assert_int_equal(running_for_host(&w, "b", -1), 1);
	/* A second batch's jobs for "a" wait on the same host bucket. */
	sched_run(w.s, 500 * MS, 0);
	assert_int_equal(w.nlog, 2);
	sched_run(w.s, 1000 * MS, 0);
	assert_int_equal(running_for_host(&w, "a", -1), 2);
	world_free(&w);
}

static void
test_host_bucket_is_shared_by_batches(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 0, 0, 2, 1};
	struct sched_batch_limits bl = {100, 100, 0, 0, 0};
	uint64_t t, next = 0;
	int i;

	world_init_rates(&w, &sl, &bl, 2);
	for (i = 0; i < 10; i++) {
		add_job(&w, 0, "h");
		add_job(&w, 1, "h");
	}
	for (t = 0; t <= 2000 * MS; t = next)
		next = sched_run(w.s, t, 0);
	/* 2/s burst 1 over two seconds, whatever the number of batches. */
	assert_int_equal(w.nlog, 5);
	world_free(&w);
}

static void
test_batch_rate_is_its_own(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 0, 0, 0, 0};
	struct sched_batch_limits slow = {100, 100, 2, 1, 0};
	struct sched_batch_limits fast = {100, 100, 0, 0, 0};
	int i, n0 = 0, n1 = 0;

	memset(&w, 0, sizeof(w));
	w.global_cap = w.host_cap = w.batch_cap = w.batch_host_cap = 100;
	w.s = sched_new(&sl, 0);
	w.b[0] = sched_batch_new(w.s, &slow, on_dispatch, &w, 0);
	w.b[1] = sched_batch_new(w.s, &fast, on_dispatch, &w, 0);
	for (i = 0; i < 10; i++) {
		add_job(&w, 0, "h");
		add_job(&w, 1, "h");
	}
	assert_int_equal(sched_run(w.s, 0, 0), 500 * MS);
	for (i = 0; i < w.nlog; i++) {
		n0 += w.log[i]->batch == 0;
		n1 += w.log[i]->batch == 1;
	}
	assert_int_equal(n0, 1);
	assert_int_equal(n1, 10);
	world_free(&w);
}

static void
test_batch_per_host_rate_limits_each_host(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 0, 0, 0, 0};
	struct sched_batch_limits bl = {100, 100, 0, 0, 4};
	uint64_t t, next = 0;
	int i;

	world_init_rates(&w, &sl, &bl, 1);
	for (i = 0; i < 20; i++) {
		add_job(&w, 0, "a");
		add_job(&w, 0, "b");
	}
	for (t = 0; t <= 1000 * MS; t = next)
		next = sched_run(w.s, t, 0);
	/* 4/s with a one-second burst (4), plus 4 refills in the second. */
	assert_int_equal(running_for_host(&w, "a", -1), 8);
	assert_int_equal(running_for_host(&w, "b", -1), 8);
	world_free(&w);
}

static void
test_freeing_a_parked_batch_leaves_no_wake(void **state)
{
	static struct world w;
	struct sched_limits sl = {100, 100, 0, 0, 1, 1};
	struct sched_batch_limits bl = {100, 100, 1, 1, 1};
	int i;

	world_init_rates(&w, &sl, &bl, 2);
	for (i = 0; i < 3; i++) {
		add_job(&w, 0, "a");
		add_job(&w, 1, "b");
	}
	assert_int_not_equal(sched_run(w.s, 0, 0), SCHED_NEVER);
	while (finish_oldest(&w))
		;
	sched_batch_free(w.b[0]);
	sched_batch_free(w.b[1]);
	w.b[0] = w.b[1] = NULL;
	assert_int_equal(sched_run(w.s, 0, 0), SCHED_NEVER);
	world_free(&w);
}

/* One batch with generous caps, two jobs for host "a" and one for "b"
 * queued (nothing runs before sched_run). */
static void
two_a_one_b(
    struct world *w, struct tjob **a1, struct tjob **a2, struct tjob **b1)
{
	world_init(w, 10, 10, 10, 10, 1);
	*a1 = add_job(w, 0, "a");
	*a2 = add_job(w, 0, "a");
	*b1 = add_job(w, 0, "b");
}

/* A token source like the shared limits: host "a" answers "not yet"
 * until told, then one token at a time with 10 ms between; the global
 * is asked too. */
struct fake_tokens {
	bool known;
	uint64_t next_at; /* when "a"'s next token opens */
	int global_asked, taken_a;
};

static uint64_t
fake_wait(void *arg, const char *host, uint64_t now)
{
	struct fake_tokens *f = arg;

	if (host == NULL) {
		f->global_asked++;
		return 0;
	}
	if (strcmp(host, "a") != 0)
		return 0;
	if (!f->known)
		return SCHED_NEVER;
	return f->next_at > now ? f->next_at - now : 0;
}

static void
fake_take(void *arg, const char *host, uint64_t now)
{
	struct fake_tokens *f = arg;

	if (host != NULL && strcmp(host, "a") == 0) {
		f->taken_a++;
		f->next_at = now + 10000;
	}
}

static void
test_token_source_pending_arms_no_timer(void **state)
{
	struct fake_tokens f = {0};
	struct sched_tokens t = {fake_wait, fake_take, &f};
	struct world w;
	struct tjob *a1, *a2, *b1;

	two_a_one_b(&w, &a1, &a2, &b1);
	sched_set_tokens(w.s, &t);
	/* "a" cannot tell yet: "b" goes, and no timer is armed. */
	assert_int_equal(sched_run(w.s, 0, 0), SCHED_NEVER);
	assert_int_equal(b1->order, 0);
	assert_int_equal(a1->order, -1);
	assert_true(f.global_asked > 0);
	/* Still not known: a later run changes nothing. */
	assert_int_equal(sched_run(w.s, 5000, 0), SCHED_NEVER);
	assert_int_equal(a1->order, -1);
	/* Known: one token now, the next 10 ms later - the exact wake. */
	f.known = true;
	sched_tokens_ready(w.s, "a", false);
	assert_int_equal(sched_run(w.s, 6000, 0), 16000);
	assert_int_equal(a1->order, 1);
	assert_int_equal(a2->order, -1);
	assert_int_equal(sched_run(w.s, 16000, 0), SCHED_NEVER);
	assert_int_equal(a2->order, 2);
	assert_int_equal(f.taken_a, 2);
	while (finish_oldest(&w))
		;
	world_free(&w);
}

static void
test_token_source_ready_all_wakes_every_host(void **state)
{
	struct fake_tokens f = {0};
	struct sched_tokens t = {fake_wait, fake_take, &f};
	struct world w;
	struct tjob *a1;

	world_init(&w, 10, 10, 10, 10, 1);
	sched_set_tokens(w.s, &t);
	a1 = add_job(&w, 0, "a");
	assert_int_equal(sched_run(w.s, 0, 0), SCHED_NEVER);
	f.known = true;
	sched_tokens_ready(w.s, NULL, true);
	sched_run(w.s, 1000, 0);
	assert_int_equal(a1->order, 0);
	while (finish_oldest(&w))
		;
	world_free(&w);
}

/* A slot source like the shared concurrency: "a" has `free` slots,
 * and counts what was taken and given back. */
struct fake_slots {
	int free, acquired, released;
};

static bool
fake_acquire(void *arg, const char *host, uint64_t now)
{
	struct fake_slots *f = arg;

	if (strcmp(host, "a") != 0)
		return true;
	if (f->free == 0)
		return false;
	f->free--;
	f->acquired++;
	return true;
}

static void
fake_release(void *arg, const char *host)
{
	struct fake_slots *f = arg;

	if (strcmp(host, "a") == 0) {
		f->free++;
		f->released++;
	}
}

static void
test_slot_source_parks_the_host_until_ready(void **state)
{
	struct fake_slots f = {1, 0, 0};
	struct sched_slots sl = {fake_acquire, fake_release, &f};
	struct world w;
	struct tjob *a1, *a2, *b1;

	two_a_one_b(&w, &a1, &a2, &b1);
	sched_set_slots(w.s, &sl);
	/* One slot for "a": a1 goes, a2 waits with no timer, "b" goes. */
	assert_int_equal(sched_run(w.s, 0, 0), SCHED_NEVER);
	assert_true(a1->order >= 0);
	assert_true(b1->order >= 0);
	assert_int_equal(a2->order, -1);
	assert_int_equal(f.acquired, 1);
	/* a1 ends: its slot is given back; a2 waits for the source. */
	finish(&w, a1);
	assert_int_equal(f.released, 1);
	assert_int_equal(sched_run(w.s, 1000, 0), SCHED_NEVER);
	assert_int_equal(a2->order, -1);
	sched_tokens_ready(w.s, "a", false);
	sched_run(w.s, 2000, 0);
	assert_int_equal(a2->order, 2);
	assert_int_equal(f.acquired, 2);
	while (finish_oldest(&w))
		;
	assert_int_equal(f.released, 2);
	world_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_global_cap_holds_while_draining),
	    cmocka_unit_test(test_batch_cap_limits_one_batch),
	    cmocka_unit_test(test_saturated_host_does_not_block_other_hosts),
	    cmocka_unit_test(test_batch_per_host_cap_below_server_cap),
	    cmocka_unit_test(test_server_host_cap_shared_between_batches),
	    cmocka_unit_test(test_late_small_batch_gets_half_the_capacity),
	    cmocka_unit_test(test_hosts_served_round_robin_within_a_batch),
	    cmocka_unit_test(test_remove_queued_job),
	    cmocka_unit_test(
	        test_paused_batch_dispatches_nothing_until_resumed),
	    cmocka_unit_test(test_done_job_can_be_enqueued_again),
	    cmocka_unit_test(test_completion_inside_dispatch_is_safe),
	    cmocka_unit_test(test_batch_free_drops_queued_jobs),
	    cmocka_unit_test(test_global_rate_spaces_dispatches_and_says_when),
	    cmocka_unit_test(test_rate_limited_host_does_not_block_other_hosts),
	    cmocka_unit_test(test_host_bucket_is_shared_by_batches),
	    cmocka_unit_test(test_batch_rate_is_its_own),
	    cmocka_unit_test(test_batch_per_host_rate_limits_each_host),
	    cmocka_unit_test(test_freeing_a_parked_batch_leaves_no_wake),
	    cmocka_unit_test(test_budget_bounds_one_call),
	    cmocka_unit_test(test_token_source_pending_arms_no_timer),
	    cmocka_unit_test(test_token_source_ready_all_wakes_every_host),
	    cmocka_unit_test(test_slot_source_parks_the_host_until_ready),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
