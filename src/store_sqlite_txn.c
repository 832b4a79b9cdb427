/*
 * store_sqlite_txn.c - the writer's transactions on SQLite: its
 * statements, the cache of job rows (struct wjob) with the job state
 * machine and the counts, and begin / commit / rollback with the totals
 * and limits published after each commit. Writer thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "util.h"

#define CACHE_MAX 4096 /* cached job rows before the cache is cleared */

static const char *const wsql[W__COUNT] = {
    [W_BEGIN] = "BEGIN IMMEDIATE",
    [W_COMMIT] = "COMMIT",
    [W_ROLLBACK] = "ROLLBACK",
    [W_JOB_BY_KEY] = "SELECT " JOB_COLS ", body_bytes FROM jobs WHERE key "
                     "= ?1",
    [W_JOB_BY_IDEM] = "SELECT key FROM jobs WHERE idem = ?1",
    [W_JOB_STRINGS] = "SELECT name, options FROM jobs WHERE id = ?1",
    [W_JOB_INSERT] = "INSERT INTO jobs (key, idem, name, state, total, "
                     "pending, inflight, ok, failed, last_seq, body_bytes, "
                     "created_ms, started_ms, finished_ms, expires_ms, "
                     "ttl_s, options) VALUES (?1, ?2, ?3, ?4, ?5, ?5, 0, 0, "
                     "0, 0, 0, ?6, 0, 0, 0, ?7, ?8)",
    [W_JOB_UPDATE] = "UPDATE jobs SET state = ?2, pending = ?3, inflight = "
                     "?4, ok = ?5, failed = ?6, last_seq = ?7, started_ms = "
                     "?8, finished_ms = ?9, expires_ms = ?10, body_bytes = "
                     "?11 WHERE id = ?1",
    [W_JOB_DELETE] = "DELETE FROM jobs WHERE id = ?1",
    [W_ITEM_INSERT] = "INSERT INTO items (id, job, state, flags, attempt, "
                      "spec) VALUES (?1, ?2, 0, ?3, 0, ?4)",
    [W_PENDING] = "SELECT id, attempt, flags, spec FROM items WHERE id "
                  "BETWEEN ?1 AND ?2 AND state = 0 ORDER BY id LIMIT ?3",
    [W_LEASE_RANGE] = "UPDATE items SET state = ?3 WHERE id BETWEEN ?1 AND "
                      "?2 AND state = ?4",
    [W_ITEM_STATE] = "UPDATE items SET state = ?2 WHERE id = ?1 AND state "
                     "= ?3 AND attempt = ?4",
    [W_ITEM_DONE] = "UPDATE items SET state = ?2, outcome = ?3, seq = ?4 "
                    "WHERE id = ?1 AND state = ?5 AND attempt = ?6",
    [W_RESULT_INSERT] = "INSERT INTO results (id, job, idx, attempt, "
                        "outcome, line, body_bytes, body_file, body_err, "
                        "body, body_type, body_coding) VALUES (?1, ?2, ?3, "
                        "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    [W_RETRY] = "UPDATE items SET state = ?3, attempt = attempt + 1 WHERE "
                "id BETWEEN ?1 AND ?2 AND state = ?4 AND outcome <> 0",
    [W_EXPIRED] = "SELECT key FROM jobs WHERE expires_ms > 0 AND "
                  "expires_ms <= ?1 LIMIT ?2",
    [W_TRASH_INSERT] = "INSERT INTO trash (job, key, body_bytes) VALUES "
                       "(?1, ?2, ?3)",
    [W_TRASH_ITEMS] = "DELETE FROM items WHERE id IN (SELECT id FROM items "
                      "WHERE id BETWEEN ?1 AND ?2 LIMIT ?3)",
    [W_TRASH_RESULTS] = "DELETE FROM results WHERE id IN (SELECT id FROM "
                        "results WHERE id BETWEEN ?1 AND ?2 LIMIT ?3)",
    [W_TRASH_FORGET] = "DELETE FROM trash WHERE job = ?1",
    /* No index of the items in flight (it cost two index changes per
     * item): each job with some is one range of the items' b-tree
     * (`+`: no automatic index of the whole table on state). */
    [W_INFLIGHT] = "SELECT i.id, j.key, i.attempt, i.flags, i.spec FROM "
                   "jobs j CROSS JOIN items i ON i.id BETWEEN j.id * "
                   "4294967296 AND j.id * 4294967296 + 4294967295 WHERE "
                   "j.inflight > 0 AND +i.state = 1",
    [W_PAGE_COUNT] = "PRAGMA page_count",
    [W_FREELIST] = "PRAGMA freelist_count",
    [W_PROBE] = "PRAGMA user_version = " SCHEMA_VERSION_SQL,
};

/* W_ITEM_INSERT_MANY: W_ITEM_INSERT for ITEM_INSERT_ROWS rows, row k
 * bound at ?(4k+1) .. ?(4k+4) as W_ITEM_INSERT's ?1 .. ?4. */
static void
item_insert_many(struct buf *b)
{
	int k;

	buf_adds(b,
	    "INSERT INTO items (id, job, state, flags, attempt, spec) "
	    "VALUES ");
	for (k = 0; k < ITEM_INSERT_ROWS; k++)
		buf_printf(b, "%s(?%d, ?%d, 0, ?%d, 0, ?%d)", k ? ", " : "",
		    4 * k + 1, 4 * k + 2, 4 * k + 3, 4 * k + 4);
}

int
sqlite_prepare_writer(struct sqlite_be *be)
{
	struct buf many = BUF_INIT;
	int i, rc = SQLITE_OK;

	item_insert_many(&many);
	for (i = 0; i < W__COUNT && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(be->w,
		    i == W_ITEM_INSERT_MANY ? buf_cstr(&many) : wsql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &be->ws[i], NULL);
	buf_free(&many);
	return rc;
}

void
sqlite_writer_free(struct sqlite_be *be)
{
	int i;

	for (i = 0; i < W__COUNT; i++)
		sqlite3_finalize(be->ws[i]);
	htab_free(&be->jobs, free);
}

/* Step a statement of the writer's to its end and reset it. */
enum store_err
wrun(struct sqlite_be *be, enum wstmt w)
{
	int rc = sqlite_exec_step(be->ws[w]);

	return rc == SQLITE_DONE ? STORE_OK : sqlite_err(be, be->w, rc);
}

void
wjob_dirty(struct sqlite_be *be, struct wjob *j)
{
	if (j->dirty)
		return;
	j->dirty = true;
	j->next_dirty = be->dirty;
	be->dirty = j;
}

/* The cached row of job id; *out NULL when there is no such job. */
enum store_err
wjob_get(struct sqlite_be *be, const char *id, struct wjob **out)
{
	sqlite3_stmt *s = be->ws[W_JOB_BY_KEY];
	struct wjob *j = htab_get(&be->jobs, id);
	int rc;

	*out = j;
	if (j != NULL)
		return STORE_OK;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		j = xcalloc(1, sizeof(*j));
		sqlite_job_from_row(s, &j->job, &j->row);
		j->body_bytes = (uint64_t)sqlite3_column_int64(s, 14);
		htab_put(&be->jobs, j->job.id, j);
		*out = j;
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE
	    ? STORE_OK
	    : sqlite_err(be, be->w, rc);
}

/* The job's state machine: every change of a job's state is here. */
void
wjob_move(struct sqlite_be *be, struct wjob *j, enum store_job_event ev)
{
	int to = store_job_step(j->job.state, ev);
	int64_t now;

	if (to < 0 || to == (int)j->job.state)
		return;
	now = store_now_ms(be->st);
	be->live.jobs[j->job.state]--;
	be->live.jobs[to]++;
	store_job_set_state(&j->job, (enum store_job_state)to, now);
	wjob_dirty(be, j);
}

/* Adjust the job's counts (and the totals). */
void
wjob_count(struct sqlite_be *be, struct wjob *j, int64_t pending,
    int64_t inflight, int64_t ok, int64_t failed)
{
	j->job.n.pending += (uint64_t)pending;
	j->job.n.inflight += (uint64_t)inflight;
	j->job.n.ok += (uint64_t)ok;
	j->job.n.failed += (uint64_t)failed;
	be->live.pending += (uint64_t)pending;
	wjob_dirty(be, j);
	if (j->job.n.pending == 0 && j->job.n.inflight == 0)
		wjob_move(be, j, STORE_JOB_EV_DRAINED);
}

/* r's answer: the job as it will be committed, with its strings. */
enum store_err
wjob_answer(
    struct sqlite_be *be, struct sreq *r, const struct wjob *j, bool existing)
{
	sqlite3_stmt *s = be->ws[W_JOB_STRINGS];
	int rc;

	r->job = j->job;
	r->job.existing = existing;
	sqlite3_bind_int64(s, 1, j->row);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(s, 0);

		sreq_set_job_strings(r, name,
		    (size_t)sqlite3_column_bytes(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (size_t)sqlite3_column_bytes(s, 1));
	}
	sqlite3_reset(s);
	return rc == SQLITE_ROW ? STORE_OK : sqlite_err(be, be->w, rc);
}

enum store_err
sqlite_begin(void *p)
{
	struct sqlite_be *be = p;

	be->saved = be->live;
	be->sync_wanted = false;
	return wrun(be, W_BEGIN);
}

/* Write back every changed job row. */
static enum store_err
flush_jobs(struct sqlite_be *be)
{
	sqlite3_stmt *s = be->ws[W_JOB_UPDATE];
	enum store_err err = STORE_OK;
	struct wjob *j;

	for (j = be->dirty; j != NULL && err == STORE_OK; j = j->next_dirty) {
		if (j->gone)
			continue;
		sqlite3_bind_int64(s, 1, j->row);
		sqlite3_bind_int(s, 2, (int)j->job.state);
		sqlite3_bind_int64(s, 3, (int64_t)j->job.n.pending);
		sqlite3_bind_int64(s, 4, (int64_t)j->job.n.inflight);
		sqlite3_bind_int64(s, 5, (int64_t)j->job.n.ok);
		sqlite3_bind_int64(s, 6, (int64_t)j->job.n.failed);
		sqlite3_bind_int64(s, 7, (int64_t)j->job.last_seq);
		sqlite3_bind_int64(s, 8, j->job.started_ms);
		sqlite3_bind_int64(s, 9, j->job.finished_ms);
		sqlite3_bind_int64(s, 10, j->job.expires_ms);
		sqlite3_bind_int64(s, 11, (int64_t)j->body_bytes);
		err = wrun(be, W_JOB_UPDATE);
	}
	return err;
}

/* Forget the dirty list, freeing the rows that went to the trash. */
static void
clear_dirty(struct sqlite_be *be)
{
	struct wjob *j, *next;

	for (j = be->dirty; j != NULL; j = next) {
		next = j->next_dirty;
		j->dirty = false;
		if (j->gone)
			free(j);
	}
	be->dirty = NULL;
}

/*
 * Not durable (synchronous = NORMAL): a commit is in the WAL but not yet
 * on disk. For what a caller was promised is durable (a new job, a
 * cancel, a retry, a delete, a lease of unsafe items) fsync the WAL now,
 * as synchronous = FULL would. The transaction is committed either way:
 * a failed fsync cannot be rolled back, so it is logged and makes the
 * store degraded (sqlite_limits) until a later one succeeds.
 */
static void
sync_wal(struct sqlite_be *be)
{
	sqlite3_file *f = NULL;
	int rc = sqlite3_file_control(
	    be->w, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f);

	if (rc == SQLITE_OK && f != NULL && f->pMethods != NULL)
		rc = f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
	be->sync_failed = rc != SQLITE_OK;
	if (be->sync_failed) /* logged as the store turns degraded */
		snprintf(be->errmsg, sizeof(be->errmsg), "fsync of the WAL: %s",
		    sqlite3_errstr(rc));
}

enum store_err
sqlite_commit(void *p)
{
	struct sqlite_be *be = p;
	struct store *st = be->st;
	enum store_err err = flush_jobs(be);
	int i;

	if (err == STORE_OK)
		err = wrun(be, W_COMMIT);
	if (err != STORE_OK)
		return err;
	if (be->sync_wanted && !st->cfg.durable)
		sync_wal(be);
	clear_dirty(be);
	if (be->jobs.count > CACHE_MAX) {
		htab_free(&be->jobs, free);
		be->jobs = (struct htab)HTAB_INIT;
	}
	for (i = 0; i < STORE_JOB__COUNT; i++)
		atomic_store(&st->jobs[i], be->live.jobs[i]);
	atomic_store(&st->items_pending, be->live.pending);
	return STORE_OK;
}

void
sqlite_rollback(void *p)
{
	struct sqlite_be *be = p;

	if (!sqlite3_get_autocommit(be->w))
		wrun(be, W_ROLLBACK);
	be->live = be->saved;
	clear_dirty(be);
	htab_free(&be->jobs, free);
	be->jobs = (struct htab)HTAB_INIT;
}

/* A PRAGMA's single integer. */
static int64_t
pragma_int(struct sqlite_be *be, enum wstmt w)
{
	sqlite3_stmt *s = be->ws[w];
	int64_t v = 0;

	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_reset(s);
	return v;
}

const char *
sqlite_limits(void *p)
{
	struct sqlite_be *be = p;
	struct store *st = be->st;
	int64_t pages =
	    pragma_int(be, W_PAGE_COUNT) - pragma_int(be, W_FREELIST);
	uint64_t used =
	    (uint64_t)pages * (uint64_t)be->page_size + be->live.body_bytes;

	atomic_store(&st->used_bytes, used);
	be->over =
	    st->cfg.max_store_bytes != 0 && used >= st->cfg.max_store_bytes;
	if (be->sync_failed)
		return be->errmsg;
	if (!be->over)
		return NULL;
	snprintf(be->over_why, sizeof(be->over_why),
	    "the job store holds %llu bytes: max_store_bytes is %llu",
	    (unsigned long long)used,
	    (unsigned long long)st->cfg.max_store_bytes);
	return be->over_why;
}

/*
 * Degraded (disk full, I/O errors): the store is healthy again only once
 * a write reaches the disk, so write one page (the header, its
 * user_version rewritten to what it is) and sync it, as a commit would.
 * Healthy: nothing to prove, the files being local; sqlite_limits
 * still runs after.
 */
enum store_err
sqlite_probe(void *p, bool degraded)
{
	struct sqlite_be *be = p;
	enum store_err err;

	if (!degraded)
		return STORE_OK;
	if ((err = wrun(be, W_PROBE)) != STORE_OK)
		return err;
	if (!be->st->cfg.durable) /* (synchronous = FULL syncs it itself) */
		sync_wal(be);     /* a failure: sqlite_limits says so */
	return STORE_OK;
}
