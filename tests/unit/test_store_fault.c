/*
 * test_store_fault.c - the job store when things go wrong, on a real
 * database in a temporary directory, under faultvfs (an SQLite VFS that
 * fails the Nth write or kills the process there; see faultvfs.h):
 *
 * - a crash (threads stopped mid-job) leaves items in flight: on reopen
 *   safe ones are pending again, unsafe ones end `interrupted`;
 * - disk full and I/O errors: the failing request reports the error,
 *   results wait and are retried, the store says it is degraded and
 *   recovers when writes succeed again, nothing committed is lost;
 * - every write of a run of operations failing in turn (the Nth, for
 *   each N): never a crash, the database stays intact;
 * - kill -9 in the middle of commits, many times over one job: every
 *   result reported committed survives with its seq and line, seq has
 *   no gap, and the job ends with exactly one line per item;
 * - a body file that cannot be written, max_store_bytes, and a close
 *   that still commits queued results.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "faultvfs.h"
#include "store.h"
#include "store_harness.h"

/* The database must pass SQLite's own check (store closed). */
static void
assert_intact(const struct th *t)
{
	char path[300];
	sqlite3 *db;
	sqlite3_stmt *s;

	snprintf(path, sizeof(path), "%s/jobs.db", t->dir);
	assert_int_equal(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(
	    sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal(sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* A custom line for items the store ends itself. */
static char *
my_line(const struct store_synth *s)
{
	char *p = malloc(64);

	snprintf(p, 64, "{\"index\":%u,\"mine\":\"%s\"}", s->index,
	    store_outcome_name(s->outcome));
	return p;
}

static void
test_a_crash_leaves_items_in_flight_to_recover(void **state)
{
	const unsigned flags[6] = {0, 0, STORE_ITEM_UNSAFE, STORE_ITEM_UNSAFE,
	    STORE_ITEM_UNSAFE | STORE_ITEM_RETRY_UNSAFE, 0};
	struct tpage *p = malloc(sizeof(*p));
	struct tleased l[6];
	struct th t;
	struct tjob j;
	size_t n;

	(void)state;
	th_init(&t, false);
	th_open(&t);
	assert_int_equal(th_create(&t, 6, flags, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 6, l, &n), STORE_OK);
	assert_int_equal(n, 6);
	assert_int_equal(l[2].flags, STORE_ITEM_UNSAFE);
	assert_int_equal(
	    th_record(&t, j.j.id, 5, 0, STORE_OUT_OK, NULL), STORE_OK);
	store_abandon(t.st); /* a crash: nothing finished or released */
	t.st = NULL;

	t.cfg.line = my_line;
	th_open(&t);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_RUNNING);
	assert_int_equal(j.j.n.pending, 3); /* 0, 1 and 4 (retry_unsafe) */
	assert_int_equal(j.j.n.inflight, 0);
	assert_int_equal(j.j.n.ok, 1);
	assert_int_equal(j.j.n.failed, 2); /* 2 and 3: interrupted */
	assert_int_equal(th_read(&t, j.j.id, 0, 10, false, p), STORE_OK);
	assert_int_equal(p->n, 3);
	assert_int_equal(p->index[0], 5);
	assert_int_equal(p->index[1], 2);
	assert_int_equal(p->outcome[1], STORE_OUT_INTERRUPTED);
	assert_string_equal(
	    p->line[1], "{\"index\":2,\"mine\":\"interrupted\"}");
	assert_int_equal(p->index[2], 3);
	th_page_free(p);
	assert_int_equal(th_lease(&t, j.j.id, 6, l, &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_int_equal(l[0].index, 0);
	assert_int_equal(l[1].index, 1);
	assert_int_equal(l[2].index, 4);
	assert_int_equal(l[2].attempt, 0);
	store_abandon(t.st); /* and again, now with the default line */
	t.st = NULL;
	t.cfg.line = NULL;
	th_open(&t);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.n.pending, 3);
	assert_int_equal(j.j.n.failed, 2);
	th_close(&t);
	assert_intact(&t);
	free(p);
	th_done(&t);
}

/* Disk full (or an I/O error) on every write, then space again. */
static void
full_then_space(int sqlite_err, enum store_err want, const char *why)
{
	enum { N = 200 };
	struct tleased *l = malloc(N * sizeof(*l));
	struct tpage *p = malloc(sizeof(*p));
	struct tcount c = {0};
	struct th t;
	struct tjob j, k;
	size_t n, i;

	faultvfs_register();
	th_init(&t, false);
	t.cfg.vfs = FAULTVFS_NAME;
	th_open(&t);
	assert_int_equal(th_create(&t, N, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 150, l, &n), STORE_OK);
	for (i = 0; i < 100; i++)
		assert_int_equal(
		    th_record(&t, j.j.id, (uint32_t)i, 0, STORE_OUT_OK, NULL),
		    STORE_OK);

	faultvfs_fail(1, sqlite_err, true);
	for (i = 100; i < 150; i++)
		th_record_async(&t, j.j.id, (uint32_t)i, 0, STORE_OUT_OK, &c);
	th_wait_health(&t, false); /* the records failed: degraded */
	assert_non_null(strstr(t.why, why));
	assert_int_equal(c.done, 0); /* waiting, not dropped */
	assert_int_equal(th_create(&t, 1, NULL, NULL, &k), want);
	assert_int_equal(th_lease(&t, j.j.id, 10, l, &n), want);
	assert_int_equal(th_cancel(&t, j.j.id, &k), want);
	/* Reads still work and show everything committed. */
	assert_int_equal(th_get(&t, j.j.id, &k), STORE_OK);
	assert_int_equal(k.j.n.ok, 100);
	assert_int_equal(th_read_all(&t, j.j.id, 30), 100);
	assert_true(faultvfs_failed() > 0);

	faultvfs_disarm(); /* space again: the records go in */
	th_wait_count(&t, &c.done, 50);
	assert_int_equal(c.errs, 0);
	assert_int_equal(c.max_seq, 150);
	assert_true(t.healthy);
	assert_int_equal(th_read_all(&t, j.j.id, 30), 150);
	assert_int_equal(th_read(&t, j.j.id, 0, 100, false, p), STORE_OK);
	for (i = 0; i < 100; i++) {
		char line[128];

		assert_int_equal(p->index[i], i);
		th_line(line, sizeof(line), (uint32_t)i, 0, STORE_OUT_OK);
		assert_string_equal(p->line[i], line);
	}
	th_page_free(p);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &k), STORE_OK);
	th_close(&t);
	assert_intact(&t);
	free(l);
	free(p);
	th_done(&t);
}

static void
test_disk_full_pauses_and_resumes_without_loss(void **state)
{
	(void)state;
	full_then_space(SQLITE_FULL, STORE_EFULL, "disk full");
}

static void
test_io_errors_pause_and_resume_without_loss(void **state)
{
	(void)state;
	full_then_space(SQLITE_IOERR_WRITE, STORE_EIO, "cannot write");
}

/* One round of work whose Nth write fails: never a crash; the error is
 * reported or the work done; committed lines stay. */
static void
nth_write_round(struct th *t, long nth, size_t *lines)
{
	int errs[] = {SQLITE_FULL, SQLITE_IOERR_WRITE, SQLITE_IOERR_FSYNC};
	struct tleased l[20];
	struct tcount c = {0};
	struct tjob j, g;
	enum store_err err;
	size_t n = 0, i;

	faultvfs_fail(nth, errs[nth % 3], false);
	err = th_create(t, 20, NULL, NULL, &j);
	assert_true(err == STORE_OK || err == STORE_EFULL || err == STORE_EIO);
	if (err != STORE_OK) {
		faultvfs_disarm();
		assert_int_equal(th_create(t, 20, NULL, NULL, &j), STORE_OK);
	}
	err = th_lease(t, j.j.id, 20, l, &n);
	assert_true(err == STORE_OK || err == STORE_EFULL || err == STORE_EIO);
	if (err != STORE_OK) {
		faultvfs_disarm();
		assert_int_equal(th_lease(t, j.j.id, 20, l, &n), STORE_OK);
	}
	for (i = 0; i < n; i++)
		th_record_async(t, j.j.id, l[i].index, 0,
		    i % 2 ? STORE_OUT_OK : STORE_OUT_FAILED, &c);
	th_wait_count(t, &c.done, n); /* records are retried until stored */
	faultvfs_disarm();
	assert_int_equal(c.errs, 0);
	assert_int_equal(th_get(t, j.j.id, &g), STORE_OK);
	assert_int_equal(g.j.state, STORE_JOB_DONE);
	assert_int_equal(g.j.n.ok, 10);
	assert_int_equal(th_read_all(t, j.j.id, 7), 20);
	*lines += 20;
}

/* Every N from 1 to 60: the Nth write of a round (create, lease, 20
 * records) fails once. */
static void
test_the_nth_write_failing_never_loses_a_result(void **state)
{
	struct th t;
	size_t lines = 0;
	long nth;

	(void)state;
	faultvfs_register();
	th_init(&t, false);
	t.cfg.vfs = FAULTVFS_NAME;
	th_open(&t);
	for (nth = 1; nth <= 60; nth++)
		nth_write_round(&t, nth, &lines);
	th_close(&t);
	assert_intact(&t);
	t.cfg.vfs = NULL;
	th_open(&t);
	assert_int_equal(lines, 60 * 20);
	th_done(&t);
}

/*
 * kill -9 mid-commit. The child runs the job under faultvfs, which kills
 * it at its nth write; for each result committed it writes "seq index"
 * to the pipe. The parent then opens the store (recovery) and checks
 * every reported line is there, unchanged, seq without a gap.
 */
enum { KJOB = 1000, KPAGE = 40 };

static void
child_on_record(enum store_err err, const struct store_line *l, void *arg)
{
	int *fd = arg;
	char msg[64];
	int len;

	if (err != STORE_OK)
		_exit(3);
	len = snprintf(
	    msg, sizeof(msg), "%llu %d\n", (unsigned long long)l->seq, fd[1]);
	if (write(fd[0], msg, (size_t)len) != len)
		_exit(4);
	fd[2]++;
}

/* The child: lease and record until the job is done or it is killed. */
static void
child_run(struct th *t, const char *id, long nth, int out)
{
	struct tleased l[KPAGE];
	size_t n, i;
	int ctx[KPAGE][3];
	int done;

	th_open(t);
	faultvfs_kill(nth);
	for (;;) {
		enum store_err err = th_lease(t, id, KPAGE, l, &n);

		if (err == STORE_ESTATE) /* done: the last crash came after */
			break;
		if (err != STORE_OK) {
			fprintf(
			    stderr, "child: lease: %s\n", store_err_name(err));
			_exit(2);
		}
		if (n == 0)
			break;
		done = 0;
		for (i = 0; i < n; i++) {
			char line[128];
			struct store_result r = {id, l[i].index, l[i].attempt,
			    STORE_OUT_OK, line, 0, NULL};

			ctx[i][0] = out;
			ctx[i][1] = (int)l[i].index;
			ctx[i][2] = 0;
			th_line(line, sizeof(line), l[i].index, l[i].attempt,
			    STORE_OUT_OK);
			r.line_len = strlen(line);
			if (store_record(t->st, &r, child_on_record, ctx[i]))
				_exit(5);
		}
		while (done < (int)n) {
			event_base_loop(t->base, EVLOOP_ONCE);
			for (done = 0, i = 0; i < n; i++)
				done += ctx[i][2];
		}
	}
	faultvfs_disarm();
	store_close(t->st);
	_exit(0);
}

/* Check what the child reported against what the store has. */
static void
check_reported(struct th *t, const char *id, const char *buf, bool *seen)
{
	struct tpage *p = malloc(sizeof(*p));
	unsigned long long seq;
	int index, used;
	char line[128];

	while (sscanf(buf, "%llu %d\n%n", &seq, &index, &used) == 2) {
		buf += used;
		assert_int_equal(
		    th_read(t, id, seq - 1, 1, false, p), STORE_OK);
		assert_int_equal(p->n, 1);
		assert_int_equal(p->seq[0], seq);
		assert_int_equal(p->index[0], index);
		th_line(line, sizeof(line), (uint32_t)index, p->attempt[0],
		    STORE_OUT_OK);
		assert_string_equal(p->line[0], line);
		th_page_free(p);
		seen[index] = true;
	}
	free(p);
}

static void
test_kill_9_mid_commit_loses_no_committed_result(void **state)
{
	unsigned flags[KJOB] = {0};
	bool seen[KJOB] = {false};
	static char buf[65536];
	struct tpage *p = malloc(sizeof(*p));
	struct th t;
	struct tjob j;
	int round, killed = 0, i, status;

	(void)state;
	faultvfs_register();
	for (i = 0; i < KJOB; i += 7)
		flags[i] = STORE_ITEM_UNSAFE; /* these may end interrupted */
	th_init(&t, false);
	th_open(&t);
	assert_int_equal(th_create(&t, KJOB, flags, NULL, &j), STORE_OK);
	th_close(&t);
	t.cfg.vfs = FAULTVFS_NAME;
	for (round = 0; round < 200; round++) {
		int fd[2];
		size_t len = 0;
		ssize_t got;
		pid_t pid;

		assert_int_equal(pipe(fd), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fd[0]);
			event_base_free(t.base);
			t.base = event_base_new();
			child_run(&t, j.j.id, 2 + (round * 37) % 100, fd[1]);
		}
		close(fd[1]);
		while (
		    (got = read(fd[0], buf + len, sizeof(buf) - 1 - len)) > 0 ||
		    (got < 0 && errno == EINTR))
			len += got > 0 ? (size_t)got : 0;
		buf[len] = '\0';
		close(fd[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		t.cfg.vfs = NULL;
		th_open(&t); /* recovery */
		check_reported(&t, j.j.id, buf, seen);
		assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
		assert_int_equal(
		    th_read_all(&t, j.j.id, 97), j.j.n.ok + j.j.n.failed);
		th_close(&t);
		assert_intact(&t);
		t.cfg.vfs = FAULTVFS_NAME;
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
			killed++;
			continue;
		}
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		break; /* the child finished the job */
	}
	print_message(
	    "kill -9: %d runs, %d killed mid-job\n", round + 1, killed);
	assert_true(killed >= 5);
	t.cfg.vfs = NULL;
	th_open(&t);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	assert_int_equal(j.j.n.ok + j.j.n.failed, KJOB);
	/* Exactly one line per item, seq 1..KJOB without a gap. */
	assert_int_equal(th_read_all(&t, j.j.id, 1000), KJOB);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(th_read(&t, j.j.id, 0, 1000, false, p), STORE_OK);
	for (i = 0; i < KJOB; i++) {
		assert_false(seen[p->index[i]]);
		seen[p->index[i]] = true;
		if (p->outcome[i] == STORE_OUT_INTERRUPTED)
			assert_int_equal(flags[p->index[i]], STORE_ITEM_UNSAFE);
		else
			assert_int_equal(p->outcome[i], STORE_OUT_OK);
	}
	th_page_free(p);
	free(p);
	th_done(&t);
}

static long
write_enospc(int fd, const void *p, size_t n)
{
	(void)fd;
	(void)p;
	(void)n;
	errno = ENOSPC;
	return -1;
}

struct bres {
	bool done;
	enum store_err err;
};

static void
on_body(enum store_err err, const struct store_body_page *pg, void *arg)
{
	struct bres *b = arg;

	b->err = err;
	b->done = true;
}

/* A body file that cannot be written: the result is still stored, and
 * reading the body says why it is not there. */
static void
test_a_body_that_cannot_be_written_keeps_its_result(void **state)
{
	static char data[3 * STORE_BODY_INLINE];
	struct store_body *b;
	struct tleased l[1];
	struct bres br = {0};
	struct tcount c = {0};
	struct th t;
	struct tjob j;
	size_t n;

	(void)state;
	th_init(&t, false);
	t.cfg.write = write_enospc;
	th_open(&t);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, 1, l, &n), STORE_OK);
	b = store_body_open(t.st, j.j.id, 0, 0);
	assert_true(store_body_add(b, data, sizeof(data)) > 0);
	th_record_body(&t, j.j.id, 0, b, &c);
	th_wait_count(&t, &c.done, 1);
	assert_int_equal(c.errs, 0);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.n.ok, 1);
	assert_int_equal(
	    store_body_read(t.st, j.j.id, 0, 0, 100, on_body, &br), STORE_OK);
	th_wait(&t, &br.done);
	assert_int_equal(br.err, STORE_EFULL); /* says why it is missing */
	th_done(&t);
}

/* Over max_store_bytes: new jobs and leases are refused (running jobs
 * pause), results still go in; deleting brings it back. */
static void
test_max_store_bytes_pauses_new_work(void **state)
{
	struct tleased l[10];
	struct tcount c = {0};
	struct store_stats ss;
	struct th t;
	struct tjob a, b, k;
	size_t n, i;

	(void)state;
	th_init(&t, false);
	t.cfg.max_store_bytes = 1024 * 1024;
	th_open(&t);
	assert_int_equal(th_create(&t, 10, NULL, NULL, &a), STORE_OK);
	assert_int_equal(th_lease(&t, a.j.id, 10, l, &n), STORE_OK);
	assert_true(t.healthy);
	assert_int_equal(th_create(&t, 20000, NULL, NULL, &b), STORE_OK);
	assert_false(t.healthy); /* told before the answer */
	assert_non_null(strstr(t.why, "max_store_bytes"));
	store_stats(t.st, &ss);
	assert_true(ss.degraded);
	assert_true(ss.used_bytes >= 1024 * 1024);
	assert_int_equal(th_create(&t, 1, NULL, NULL, &k), STORE_EFULL);
	assert_int_equal(th_lease(&t, b.j.id, 1, l, &n), STORE_EFULL);
	for (i = 0; i < 10; i++)
		th_record_async(&t, a.j.id, (uint32_t)i, 0, STORE_OUT_OK, &c);
	th_wait_count(&t, &c.done, 10);
	assert_int_equal(c.errs, 0);
	assert_int_equal(th_cancel(&t, b.j.id, &b), STORE_OK);
	assert_int_equal(th_delete(&t, b.j.id), STORE_OK);
	th_wait_health(&t, true); /* the rows go in slices, then healthy */
	assert_int_equal(th_create(&t, 1, NULL, NULL, &k), STORE_OK);
	th_done(&t);
}

/* store_close commits what is queued and answers it before returning. */
static void
test_close_commits_queued_results(void **state)
{
	enum { N = 1000 };
	struct tleased *l = malloc(N * sizeof(*l));
	struct tcount c = {0};
	struct th t;
	struct tjob j;
	size_t n, i;

	(void)state;
	th_init(&t, false);
	th_open(&t);
	assert_int_equal(th_create(&t, N, NULL, NULL, &j), STORE_OK);
	assert_int_equal(th_lease(&t, j.j.id, N, l, &n), STORE_OK);
	for (i = 0; i < N; i++)
		th_record_async(&t, j.j.id, (uint32_t)i, 0, STORE_OUT_OK, &c);
	th_close(&t);
	assert_int_equal(c.done, N);
	assert_int_equal(c.errs, 0);
	th_open(&t);
	assert_int_equal(th_read_all(&t, j.j.id, 333), N);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.state, STORE_JOB_DONE);
	free(l);
	th_done(&t);
}

/* Durable: every commit is fsync'd before its answer. Not durable:
 * results are not (kill -9 loses nothing; a power loss may lose the
 * newest), but a new job and a lease of unsafe items still are. A lease
 * of safe items is answered before its commit (the next test). */
static void
test_what_is_fsynced_before_the_answer(void **state)
{
	const unsigned unsafe[4] = {0, 0, STORE_ITEM_UNSAFE, 0};
	struct tleased l[4];
	struct th t;
	struct tjob j;
	size_t n;
	long s0;
	int durable;

	(void)state;
	faultvfs_register();
	for (durable = 1; durable >= 0; durable--) {
		th_init(&t, false);
		t.cfg.vfs = FAULTVFS_NAME;
		t.cfg.durable = durable;
		th_open(&t);
		s0 = faultvfs_syncs();
		assert_int_equal(th_create(&t, 4, unsafe, NULL, &j), STORE_OK);
		assert_true(faultvfs_syncs() > s0);
		assert_int_equal(th_lease(&t, j.j.id, 2, l, &n), STORE_OK);
		s0 = faultvfs_syncs();
		assert_int_equal(
		    th_record(&t, j.j.id, 0, 0, STORE_OUT_OK, NULL), STORE_OK);
		assert_int_equal(faultvfs_syncs() > s0, durable);
		s0 = faultvfs_syncs();
		assert_int_equal(th_lease(&t, j.j.id, 1, l, &n), STORE_OK);
		assert_int_equal(l[0].flags, STORE_ITEM_UNSAFE);
		assert_true(faultvfs_syncs() > s0);
		th_done(&t);
	}
}

/* A lease of safe items is answered once applied, before its commit: a
 * stalled commit does not hold it up. (Should that commit fail, the same
 * items are leased again before anything else: their results are still
 * recorded - test_the_nth_write_failing_never_loses_a_result.) */
static void
test_a_safe_lease_does_not_wait_for_its_commit(void **state)
{
	struct tleased l[4];
	struct th t;
	struct tjob j;
	size_t n;

	(void)state;
	faultvfs_register();
	th_init(&t, false);
	t.cfg.vfs = FAULTVFS_NAME;
	th_open(&t);
	assert_int_equal(th_create(&t, 4, NULL, NULL, &j), STORE_OK);
	faultvfs_stall(1);
	assert_int_equal(th_lease(&t, j.j.id, 2, l, &n), STORE_OK);
	assert_int_equal(n, 2);
	faultvfs_wait_stalled(); /* its commit is still under way */
	faultvfs_release();
	faultvfs_disarm();
	assert_int_equal(
	    th_record(&t, j.j.id, 1, 0, STORE_OUT_OK, NULL), STORE_OK);
	assert_int_equal(th_get(&t, j.j.id, &j), STORE_OK);
	assert_int_equal(j.j.n.inflight, 1);
	assert_int_equal(j.j.n.ok, 1);
	th_done(&t);
}

/* A failed fsync: when durable, the commit fails and the caller hears
 * store_io; when not, the commit stands (it cannot be undone), and the
 * store says it is degraded until an fsync succeeds again. */
static void
test_a_failed_fsync_is_reported(void **state)
{
	struct th t;
	struct tjob j;
	int durable;

	(void)state;
	faultvfs_register();
	for (durable = 1; durable >= 0; durable--) {
		th_init(&t, false);
		t.cfg.vfs = FAULTVFS_NAME;
		t.cfg.durable = durable;
		th_open(&t);
		faultvfs_fail_syncs(SQLITE_IOERR_FSYNC);
		assert_int_equal(th_create(&t, 2, NULL, NULL, &j),
		    durable ? STORE_EIO : STORE_OK);
		assert_false(t.healthy);
		faultvfs_fail_syncs(SQLITE_OK);
		assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_OK);
		assert_true(t.healthy);
		th_done(&t);
	}
}

/* Degraded by a refused write, then idle: the writer's probe writes on
 * its own (no request), keeps the store degraded while the disk is still
 * full, and makes it healthy once a write goes through, with nothing
 * else written. */
static void
test_an_idle_store_turns_healthy_once_writes_succeed(void **state)
{
	struct th t;
	struct tjob j;

	(void)state;
	faultvfs_register();
	th_init(&t, false);
	t.cfg.vfs = FAULTVFS_NAME;
	th_open(&t);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_OK);
	faultvfs_fail(1, SQLITE_FULL, true);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_EFULL);
	assert_false(t.healthy);
	assert_non_null(strstr(t.why, "disk full"));
	faultvfs_disarm(); /* space again */
	th_wait_health(&t, true);

	/* Again, and this time catch the probe writing: with no request
	 * queued, the next write (held until the test lets it go) is the
	 * probe's, and it turns the store healthy. */
	faultvfs_fail(1, SQLITE_FULL, true);
	assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_EFULL);
	assert_false(t.healthy);
	faultvfs_stall(1);
	faultvfs_wait_stalled();
	faultvfs_release(); /* that write goes through: healthy */
	th_wait_health(&t, true);
	faultvfs_disarm();
	assert_int_equal(th_create(&t, 2, NULL, NULL, &j), STORE_OK);
	th_done(&t);
}

/* One process per store directory. */
static void
test_a_second_open_of_the_same_store_is_refused(void **state)
{
	struct store *second;
	struct th t;
	char err[256] = "";

	(void)state;
	th_init(&t, false);
	th_open(&t);
	second = store_open(&t.cfg, t.base, err, sizeof(err));
	assert_null(second);
	assert_non_null(strstr(err, "another fanoutd uses this store"));
	th_close(&t);
	th_open(&t); /* free again once closed */
	th_done(&t);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_crash_leaves_items_in_flight_to_recover),
	    cmocka_unit_test(test_disk_full_pauses_and_resumes_without_loss),
	    cmocka_unit_test(test_io_errors_pause_and_resume_without_loss),
	    cmocka_unit_test(test_the_nth_write_failing_never_loses_a_result),
	    cmocka_unit_test(test_kill_9_mid_commit_loses_no_committed_result),
	    cmocka_unit_test(
	        test_a_body_that_cannot_be_written_keeps_its_result),
	    cmocka_unit_test(test_max_store_bytes_pauses_new_work),
	    cmocka_unit_test(test_close_commits_queued_results),
	    cmocka_unit_test(test_what_is_fsynced_before_the_answer),
	    cmocka_unit_test(test_a_safe_lease_does_not_wait_for_its_commit),
	    cmocka_unit_test(test_a_failed_fsync_is_reported),
	    cmocka_unit_test(
	        test_an_idle_store_turns_healthy_once_writes_succeed),
	    cmocka_unit_test(test_a_second_open_of_the_same_store_is_refused),
	};

	alarm(900);   /* a hang fails the test */
	if (argc > 1) /* a test's name, or a pattern with * and ? */
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
