/*
 * store_sqlite.c - the job store on SQLite (libsqlite3, WAL mode): the
 * reader thread's queries, and the backend's table of functions.
 * The writer's side is store_sqlite_write.c, opening and recovery
 * store_sqlite_open.c; the row keys are explained in store_sqlite.h.
 *
 * Two connections: the writer's (read-write, used by the writer thread
 * and, before the threads start, by store_open) and the reader's
 * (query_only, the reader thread's). In WAL mode a reader never waits
 * for the writer and sees only committed transactions, each read of a
 * page inside one read transaction so that the job row and the lines
 * agree. synchronous = FULL when the store is durable: a commit is on
 * disk (fsync of the WAL) before anyone hears of it; NORMAL otherwise:
 * kill -9 loses nothing committed, a power loss may lose the newest
 * transactions.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "util.h"

#define PAGE_BYTES (4 * 1024 * 1024) /* a results page, about */

const char *const sqlite_rsql[R__COUNT] = {
    [R_BEGIN] = "BEGIN",
    [R_END] = "COMMIT",
    [R_JOB] = "SELECT " JOB_COLS ", name, options FROM jobs WHERE key = ?1",
    [R_ROW_OF] = "SELECT id FROM jobs WHERE key = ?1",
    [R_LIST] = "SELECT " JOB_COLS ", name, options FROM jobs WHERE id > ?1 AND "
               "((1 << state) & ?2) <> 0 ORDER BY id LIMIT ?3",
    [R_LIST_NEWEST] = "SELECT " JOB_COLS ", name, options FROM jobs WHERE id "
                      "< ?1 AND ((1 << state) & ?2) <> 0 ORDER BY id DESC "
                      "LIMIT ?3",
    [R_LINES] = "SELECT id, idx, attempt, outcome, line FROM results "
                "WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3",
    [R_FAILED] = "SELECT id, idx, attempt, outcome, line FROM results "
                 "WHERE job = ?4 AND outcome <> 0 AND id > ?1 AND id <= ?2 "
                 "ORDER BY id LIMIT ?3",
    /* ?latest=true: a line whose item is done with it as its newest
     * (items.seq); the results range (or the failed index) drives, each
     * line's item found by its key. */
    [R_LATEST] = "SELECT r.id, r.idx, r.attempt, r.outcome, r.line FROM "
                 "results r CROSS JOIN items i ON i.id = ((r.job << 32) | "
                 "r.idx) WHERE r.id > ?1 AND r.id <= ?2 AND i.state = 2 AND "
                 "i.seq = (r.id & 4294967295) ORDER BY r.id LIMIT ?3",
    [R_LATEST_FAILED] = "SELECT r.id, r.idx, r.attempt, r.outcome, r.line "
                        "FROM results r CROSS JOIN items i ON i.id = "
                        "((r.job << 32) | r.idx) WHERE r.job = ?4 AND "
                        "r.outcome <> 0 AND r.id > ?1 AND r.id <= ?2 AND "
                        "i.state = 2 AND i.seq = (r.id & 4294967295) ORDER "
                        "BY r.id LIMIT ?3",
    [R_ITEM] = "SELECT state, seq FROM items WHERE id = ?1",
    [R_BODY] = "SELECT body_bytes, body_file, body_err, substr(body, ?2, "
               "?3), body_type, body_coding FROM results WHERE id = ?1",
};

enum store_err
sqlite_err(struct sqlite_be *be, sqlite3 *db, int rc)
{
	if (db == be->w)
		snprintf(be->errmsg, sizeof(be->errmsg), "%s (%d)",
		    sqlite3_errmsg(db), rc);
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return STORE_EFULL;
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_PROTOCOL:
	case SQLITE_NOLFS:
		return STORE_EIO;
	default:
		log_error("store: sqlite: %s (%d)", sqlite3_errmsg(db), rc);
		return STORE_EINTERNAL;
	}
}

int
sqlite_exec_step(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Fill j from a row starting with JOB_COLS (strings left alone). */
void
sqlite_job_from_row(sqlite3_stmt *s, struct store_job *j, int64_t *row)
{
	memset(j, 0, sizeof(*j));
	*row = sqlite3_column_int64(s, 0);
	memcpy(j->id, sqlite3_column_text(s, 1), STORE_ID_LEN);
	j->state = (enum store_job_state)sqlite3_column_int(s, 2);
	j->n.total = (uint64_t)sqlite3_column_int64(s, 3);
	j->n.pending = (uint64_t)sqlite3_column_int64(s, 4);
	j->n.inflight = (uint64_t)sqlite3_column_int64(s, 5);
	j->n.ok = (uint64_t)sqlite3_column_int64(s, 6);
	j->n.failed = (uint64_t)sqlite3_column_int64(s, 7);
	j->last_seq = (uint64_t)sqlite3_column_int64(s, 8);
	j->created_ms = sqlite3_column_int64(s, 9);
	j->started_ms = sqlite3_column_int64(s, 10);
	j->finished_ms = sqlite3_column_int64(s, 11);
	j->expires_ms = sqlite3_column_int64(s, 12);
	j->ttl_s = (uint32_t)sqlite3_column_int64(s, 13);
}

/* Run a reader statement to its end (BEGIN, COMMIT). */
static enum store_err
r_exec(struct sqlite_be *be, enum rstmt w)
{
	int rc = sqlite_exec_step(be->rs[w]);

	return rc == SQLITE_DONE ? STORE_OK : sqlite_err(be, be->r, rc);
}

/* The job row of id into *job; with r, its strings copied into r. */
static enum store_err
r_job(struct sqlite_be *be, const char *id, struct store_job *job, int64_t *row,
    struct sreq *r)
{
	sqlite3_stmt *s = be->rs[R_JOB];
	enum store_err err = STORE_OK;
	int rc;

	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		sqlite_job_from_row(s, job, row);
		if (r != NULL)
			sreq_set_job_strings(r,
			    (const char *)sqlite3_column_text(s, 14),
			    (size_t)sqlite3_column_bytes(s, 14),
			    (const char *)sqlite3_column_text(s, 15),
			    (size_t)sqlite3_column_bytes(s, 15));
	} else {
		err = rc == SQLITE_DONE ? STORE_ENOENT
		                        : sqlite_err(be, be->r, rc);
	}
	sqlite3_reset(s);
	return err;
}

static void
r_get(struct sqlite_be *be, struct sreq *r)
{
	int64_t row;

	r->err = r_job(be, r->id, &r->job, &row, r);
}

static void
r_list(struct sqlite_be *be, struct sreq *r)
{
	sqlite3_stmt *s = be->rs[r->q.newest_first ? R_LIST_NEWEST : R_LIST];
	struct store_job *jobs = xcalloc(r->q.limit + 1, sizeof(*jobs));
	struct buf text = BUF_INIT;
	size_t *off = xcalloc(r->q.limit + 1, 2 * sizeof(size_t)), n = 0, i;
	int64_t after = r->q.newest_first ? INT64_MAX : 0, row;
	int rc;

	if (r->q.after != NULL) {
		sqlite3_bind_text(
		    be->rs[R_ROW_OF], 1, r->id, -1, SQLITE_STATIC);
		rc = sqlite3_step(be->rs[R_ROW_OF]);
		if (rc == SQLITE_ROW)
			after = sqlite3_column_int64(be->rs[R_ROW_OF], 0);
		sqlite3_reset(be->rs[R_ROW_OF]);
		if (rc != SQLITE_ROW) {
			r->err = rc == SQLITE_DONE ? STORE_ENOENT
			                           : sqlite_err(be, be->r, rc);
			goto out;
		}
	}
	sqlite3_bind_int64(s, 1, after);
	sqlite3_bind_int64(s, 2, r->q.states ? r->q.states : 0xffff);
	sqlite3_bind_int64(s, 3, (int64_t)r->q.limit + 1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == r->q.limit) {
			r->more = true;
			break;
		}
		sqlite_job_from_row(s, &jobs[n], &row);
		off[2 * n] = text.len;
		buf_add(&text, sqlite3_column_text(s, 15),
		    (size_t)sqlite3_column_bytes(s, 15));
		buf_addc(&text, '\0');
		off[2 * n + 1] = SIZE_MAX;
		if (sqlite3_column_type(s, 14) != SQLITE_NULL) {
			off[2 * n + 1] = text.len;
			buf_add(&text, sqlite3_column_text(s, 14),
			    (size_t)sqlite3_column_bytes(s, 14));
			buf_addc(&text, '\0');
		}
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		r->err = sqlite_err(be, be->r, rc);
		goto out;
	}
	r->out = xmalloc(n * sizeof(*jobs) + text.len + 1);
	r->jobs = r->out;
	memcpy(r->jobs, jobs, n * sizeof(*jobs));
	if (text.len > 0)
		memcpy(r->jobs + n, text.data, text.len);
	for (i = 0; i < n; i++) {
		const char *base = (const char *)(r->jobs + n);

		r->jobs[i].options = base + off[2 * i];
		r->jobs[i].name =
		    off[2 * i + 1] == SIZE_MAX ? NULL : base + off[2 * i + 1];
	}
	r->njobs = n;
out:
	free(jobs);
	free(off);
	buf_free(&text);
}

/* The lines of one page, into r->page. */
static enum store_err
r_lines(struct sqlite_be *be, struct sreq *r, const struct store_job *job,
    int64_t row)
{
	static const enum rstmt which[2][2] = {
	    {R_LINES, R_FAILED}, {R_LATEST, R_LATEST_FAILED}};
	sqlite3_stmt *s = be->rs[which[r->cur.latest][r->cur.failed_only]];
	struct store_line *v = xcalloc(r->cur.limit, sizeof(*v));
	struct buf text = BUF_INIT;
	size_t n = 0, i;
	int rc;

	r->page.state = job->state;
	r->page.last_seq = job->last_seq;
	sqlite3_bind_int64(s, 1, ROW_KEY(row, r->cur.after));
	sqlite3_bind_int64(s, 2, ROW_KEY(row, SEQ_MAX));
	sqlite3_bind_int64(s, 3, (int64_t)r->cur.limit + 1);
	if (r->cur.failed_only)
		sqlite3_bind_int64(s, 4, row);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == r->cur.limit || (n > 0 && text.len >= PAGE_BYTES)) {
			r->page.more = true;
			break;
		}
		v[n].seq = (uint64_t)sqlite3_column_int64(s, 0) & 0xffffffff;
		v[n].index = (uint32_t)sqlite3_column_int64(s, 1);
		v[n].attempt = (uint32_t)sqlite3_column_int64(s, 2);
		v[n].outcome = (enum store_outcome)sqlite3_column_int(s, 3);
		v[n].len = (size_t)sqlite3_column_bytes(s, 4);
		v[n].line = (const char *)(uintptr_t)text.len; /* for now */
		buf_add(&text, sqlite3_column_text(s, 4), v[n].len);
		buf_addc(&text, '\0');
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(v);
		buf_free(&text);
		return sqlite_err(be, be->r, rc);
	}
	r->out = xrealloc(v, n * sizeof(*v) + text.len + 1);
	v = r->out;
	if (text.len > 0)
		memcpy(v + n, text.data, text.len);
	for (i = 0; i < n; i++)
		v[i].line = (const char *)(v + n) + (uintptr_t)v[i].line;
	buf_free(&text);
	r->page.lines = v;
	r->page.n = n;
	return STORE_OK;
}

/* fn(r) inside one read transaction, with r's job row looked up: the
 * job and what fn reads agree. */
static void
in_job_snapshot(struct sqlite_be *be, struct sreq *r,
    enum store_err (*fn)(struct sqlite_be *be, struct sreq *r,
        const struct store_job *job, int64_t row))
{
	struct store_job job;
	int64_t row;

	if ((r->err = r_exec(be, R_BEGIN)) != STORE_OK)
		return;
	r->err = r_job(be, r->id, &job, &row, NULL);
	if (r->err == STORE_OK)
		r->err = fn(be, r, &job, row);
	r_exec(be, R_END);
}

/* Bytes [off, off + max) of a body file into r->blob. */
static enum store_err
read_file(struct sqlite_be *be, struct sreq *r, const char *path, uint64_t size)
{
	int fd = openat(be->st->dirfd, path, O_RDONLY | O_CLOEXEC);
	uint64_t want = r->offset < size ? size - r->offset : 0;
	struct stat sb;
	size_t got = 0;

	if (fd < 0)
		return STORE_EIO;
	if (fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < size) {
		log_warn("store: body %s is shorter than recorded", path);
		close(fd);
		return STORE_EIO;
	}
	if (want > r->max)
		want = r->max;
	r->blob = xmalloc((size_t)want + 1);
	while (got < want) {
		ssize_t n = pread(fd, (char *)r->blob + got, (size_t)want - got,
		    (off_t)(r->offset + got));

		if (n <= 0) {
			close(fd);
			return STORE_EIO;
		}
		got += (size_t)n;
	}
	close(fd);
	r->chunk_len = got;
	return STORE_OK;
}

/* A text column's copy, or NULL. */
static char *
column_strdup(sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);

	return t != NULL ? xstrdup(t) : NULL;
}

/* The item's newest result's body (row ids: store_sqlite.h). */
static enum store_err
r_body_of(struct sqlite_be *be, struct sreq *r, const struct store_job *job,
    int64_t row)
{
	sqlite3_stmt *s = be->rs[R_ITEM];
	enum store_err err = STORE_ENOENT;
	int64_t seq = 0;
	int rc;

	sqlite3_bind_int64(s, 1, ROW_KEY(row, r->index));
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_int(s, 0) == STORE_ITEM_DONE)
		seq = sqlite3_column_int64(s, 1);
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sqlite_err(be, be->r, rc);
	if (seq == 0 || r->index > SEQ_MAX)
		return STORE_ENOENT;
	s = be->rs[R_BODY];
	sqlite3_bind_int64(s, 1, ROW_KEY(row, seq));
	sqlite3_bind_int64(s, 2, (int64_t)r->offset + 1);
	sqlite3_bind_int64(s, 3, r->max);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && sqlite3_column_type(s, 0) != SQLITE_NULL) {
		r->count = (uint64_t)sqlite3_column_int64(s, 0);
		r->body_type = column_strdup(s, 4);
		r->body_coding = column_strdup(s, 5);
		err = (enum store_err)sqlite3_column_int(s, 2);
		if (err != STORE_OK)
			; /* the body was not stored: say why */
		else if (sqlite3_column_type(s, 1) != SQLITE_NULL)
			err = read_file(be, r,
			    (const char *)sqlite3_column_text(s, 1), r->count);
		else {
			r->chunk_len = (size_t)sqlite3_column_bytes(s, 3);
			r->blob = xmalloc(r->chunk_len + 1);
			if (r->chunk_len > 0)
				memcpy(r->blob, sqlite3_column_blob(s, 3),
				    r->chunk_len);
		}
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = sqlite_err(be, be->r, rc);
	}
	sqlite3_reset(s);
	return err;
}

static void
sqlite_read(void *p, struct sreq *r)
{
	struct sqlite_be *be = p;

	switch (r->op) {
	case SR_GET:
		r_get(be, r);
		break;
	case SR_LIST:
		r_list(be, r);
		break;
	case SR_READ:
		in_job_snapshot(be, r, r_lines);
		break;
	case SR_BODY_READ:
		in_job_snapshot(be, r, r_body_of);
		break;
	default:
		r->err = STORE_EINTERNAL;
		break;
	}
}

static const char *
sqlite_errmsg(void *p)
{
	return ((struct sqlite_be *)p)->errmsg;
}

static void
sqlite_close(void *p)
{
	struct sqlite_be *be = p;
	int i;

	for (i = 0; i < R__COUNT; i++)
		sqlite3_finalize(be->rs[i]);
	sqlite_writer_free(be);
	if (atomic_load(&be->st->abandon) && be->w != NULL) /* as a crash */
		sqlite3_db_config(
		    be->w, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* The writer's last: the last one closed checkpoints (unless
	 * abandoned). */
	sqlite3_close_v2(be->c);
	sqlite3_close_v2(be->r);
	sqlite3_close_v2(be->w);
	free(be);
}

const struct store_backend store_sqlite_backend = {
    sqlite_begin,
    sqlite_apply,
    sqlite_commit,
    sqlite_rollback,
    sqlite_limits,
    sqlite_read,
    sqlite_errmsg,
    sqlite_checkpoint,
    sqlite_probe,
    NULL, /* one writer: no conflict to lose */
    sqlite_close,
    false,
};
