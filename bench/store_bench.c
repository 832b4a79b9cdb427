/*
 * store_bench.c - the job store's throughput through its whole path:
 * requests from the loop thread, the writer thread's group commits,
 * completions back on the loop. Never part of `make check` (it is only
 * built there); run it by hand:
 *
 *   bench/store_bench [DIR [ITEMS]]     (defaults: $TMPDIR, 100000)
 *
 * It measures, on a durable store (an fsync per commit) in DIR, or with
 * STORE_BENCH_NORMAL=1 in the environment on one that is not (results
 * are not fsync'd, see docs/store.md):
 *   create    one job of ITEMS items, until it is committed;
 *   lease     all of them, in pages of 1,000;
 *   record    a result (a 330-byte line) for each, all queued at once;
 *   window    the same with at most 100 results waiting at any time,
 *             as a job at concurrency 100 produces them;
 *   read      every line back, in pages of 1,000;
 *   retry     a job whose ITEMS results all failed: all of them again;
 *   restart   a job of 10 x ITEMS items, half done and 1,000 in flight
 *             when its process dies of SIGKILL: store_open (recovery
 *             included) until the store answers the first lease.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "store.h"
#include "util.h"

static struct event_base *base;
static struct store *st;
static char dir[512];
static size_t pending;   /* requests not yet answered */
static const char *line; /* the result line */

static double
now_s(void)
{
	return (double)mono_us() / 1e6;
}

static void
wait_all(void)
{
	while (pending > 0)
		event_base_loop(base, EVLOOP_ONCE);
}

static void
fail(const char *what, enum store_err err)
{
	fprintf(stderr, "store_bench: %s: %s\n", what, store_err_name(err));
	exit(1);
}

static char job_id[STORE_ID_LEN + 1];

static void
on_job(enum store_err err, const struct store_job *job, void *arg)
{
	if (err != STORE_OK)
		fail("create or retry", err);
	memcpy(job_id, job->id, sizeof(job_id));
	pending--;
}

static void
create(size_t n)
{
	struct store_item_spec *items = xcalloc(n, sizeof(*items));
	struct store_job_spec spec = {.options = "{\"concurrency\":100}"};
	char *specs = xmalloc(n * 64);
	size_t i;

	for (i = 0; i < n; i++) {
		items[i].index = (uint32_t)i;
		items[i].spec = specs + i * 64;
		items[i].spec_len = (size_t)snprintf(specs + i * 64, 64,
		    "{\"url\":\"http://127.0.0.1:8080/small?i=%zu\"}", i);
	}
	pending++;
	if (store_create(st, &spec, items, n, on_job, NULL) != STORE_OK)
		fail("create", STORE_EINVAL);
	free(items);
	free(specs);
	wait_all();
}

static size_t leased;

static void
on_lease(
    enum store_err err, const struct store_leased *items, size_t n, void *arg)
{
	if (err != STORE_OK)
		fail("lease", err);
	leased = n;
	pending--;
}

static size_t
lease_all(void)
{
	size_t total = 0;

	do {
		pending++;
		store_lease(st, job_id, 1000, on_lease, NULL);
		wait_all();
		total += leased;
	} while (leased > 0);
	return total;
}

static void
on_record(enum store_err err, const struct store_line *l, void *arg)
{
	if (err != STORE_OK)
		fail("record", err);
	pending--;
}

static bool failed_ones; /* record outcomes as failed */

static void
record(uint32_t i)
{
	struct store_result r = {job_id, i, 0,
	    failed_ones ? STORE_OUT_FAILED : STORE_OUT_OK, line, strlen(line),
	    NULL};

	pending++;
	if (store_record(st, &r, on_record, NULL) != STORE_OK)
		fail("record", STORE_EINVAL);
}

/* Record items [from, to) keeping at most window waiting (0: all). */
static void
record_range(size_t from, size_t to, size_t window)
{
	size_t i;

	for (i = from; i < to; i++) {
		while (window > 0 && pending >= window)
			event_base_loop(base, EVLOOP_ONCE);
		record((uint32_t)i);
	}
	wait_all();
}

static size_t lines_read;
static uint64_t next_after;
static bool more;

static void
on_read(enum store_err err, const struct store_page *p, void *arg)
{
	if (err != STORE_OK)
		fail("read", err);
	lines_read += p->n;
	if (p->n > 0)
		next_after = p->lines[p->n - 1].seq;
	more = p->more;
	pending--;
}

static void
read_all(void)
{
	struct store_cursor c = {0, 1000, false, false};

	lines_read = 0;
	next_after = 0;
	do {
		c.after = next_after;
		pending++;
		store_read(st, job_id, &c, on_read, NULL);
		wait_all();
	} while (more);
}

static void
open_store(void)
{
	struct store_config cfg;
	char err[256];

	store_config_defaults(&cfg);
	cfg.dir = dir;
	cfg.durable = getenv("STORE_BENCH_NORMAL") == NULL;
	if (getenv("STORE_BENCH_COMMIT_MAX") != NULL) /* 1: no grouping */
		cfg.commit_max = (uint32_t)strtoul(
		    getenv("STORE_BENCH_COMMIT_MAX"), NULL, 10);
	st = store_open(&cfg, base, err, sizeof(err));
	if (st == NULL) {
		fprintf(stderr, "store_bench: %s\n", err);
		exit(1);
	}
}

static void
report(const char *what, size_t n, const char *unit, double s)
{
	printf("%-8s %9zu %-8s in %7.3f s  %10.0f %s/s\n", what, n, unit, s,
	    (double)n / s, unit);
}

/* A job of n items, half done and 1,000 in flight, in a child that then
 * dies of SIGKILL; then the time until the store, opened again, has
 * recovered and answers a lease. */
static void
restart(size_t n)
{
	size_t done = 0;
	int status, fd[2];
	double t;
	pid_t pid;

	if (pipe(fd) < 0 || (pid = fork()) < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		close(fd[0]);
		event_base_free(base);
		base = event_base_new();
		open_store();
		create(n);
		while (done < n / 2) {
			pending++;
			store_lease(st, job_id, 10000, on_lease, NULL);
			wait_all();
			record_range(done, done + leased, 0);
			done += leased;
		}
		pending++;
		store_lease(st, job_id, 1000, on_lease, NULL); /* in flight */
		wait_all();
		if (write(fd[1], job_id, STORE_ID_LEN) != STORE_ID_LEN)
			_exit(1);
		raise(SIGKILL);
	}
	close(fd[1]);
	if (read(fd[0], job_id, STORE_ID_LEN) != STORE_ID_LEN ||
	    waitpid(pid, &status, 0) != pid || !WIFSIGNALED(status)) {
		fprintf(stderr, "store_bench: the restart child did not die\n");
		exit(1);
	}
	t = now_s();
	open_store();
	pending++;
	store_lease(st, job_id, 100, on_lease, NULL);
	wait_all();
	printf("\nrestart  %9zu items half done, killed: serving (first lease "
	       "of %zu) after %.3f s\n",
	    n, leased, now_s() - t);
	store_close(st);
}

int
main(int argc, char **argv)
{
	const char *tmp = getenv("TMPDIR");
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000, got;
	struct store_stats s0, s1;
	double t;
	char cmd[600];

	line =
	    "{\"index\":12345,\"url\":\"http://127.0.0.1:8080/small?i=12345\","
	    "\"ok\":true,\"status\":200,\"headers\":{\"content-type\":"
	    "\"text/plain\",\"content-length\":\"100\"},\"body\":\"xxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx\",\"body_encoding\":\"utf8\","
	    "\"body_bytes\":100,\"truncated\":false,\"attempts\":1,"
	    "\"elapsed_ms\":1.2}";
	snprintf(dir, sizeof(dir), "%s/fanoutd-store-bench.XXXXXX",
	    argc > 1  ? argv[1]
	        : tmp ? tmp
	              : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	base = event_base_new();
	open_store();
	printf("store_bench: %zu items, %zu-byte lines, %s, in %s\n", n,
	    strlen(line),
	    getenv("STORE_BENCH_NORMAL") ? "not durable" : "durable", dir);

	t = now_s();
	create(n);
	report("create", n, "items", now_s() - t);
	t = now_s();
	got = lease_all();
	report("lease", got, "items", now_s() - t);
	store_stats(st, &s0);
	t = now_s();
	record_range(0, n, 0);
	t = now_s() - t;
	store_stats(st, &s1);
	report("record", n, "records", t);
	printf("         %llu commits, %.0f records per commit, %.2f ms per "
	       "commit\n",
	    (unsigned long long)(s1.commits - s0.commits),
	    (double)(s1.records - s0.records) /
	        (double)(s1.commits - s0.commits),
	    (double)(s1.commit_us_sum - s0.commit_us_sum) / 1000.0 /
	        (double)(s1.commits - s0.commits));
	t = now_s();
	read_all();
	report("read", lines_read, "lines", now_s() - t);

	create(n);
	lease_all();
	store_stats(st, &s0);
	t = now_s();
	record_range(0, n, 100);
	t = now_s() - t;
	store_stats(st, &s1);
	report("window", n, "records", t);
	printf("         (at most 100 waiting) %.0f records per commit, %.2f "
	       "ms per commit\n",
	    (double)(s1.records - s0.records) /
	        (double)(s1.commits - s0.commits),
	    (double)(s1.commit_us_sum - s0.commit_us_sum) / 1000.0 /
	        (double)(s1.commits - s0.commits));

	create(n); /* every result a failure, then all of them again */
	lease_all();
	failed_ones = true;
	record_range(0, n, 0);
	t = now_s();
	pending++;
	store_retry(st, job_id, on_job, NULL);
	wait_all();
	report("retry", n, "items", now_s() - t);

	store_close(st);
	restart(10 * n);
	event_base_free(base);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : 1;
}
