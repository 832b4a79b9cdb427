/*
 * store_pg.c - the job store on PostgreSQL (libpq, blocking, on the
 * store's threads; see store_pg.h): queries, the reader's reads, and the
 * heartbeat thread (which also expires the leases of silent instances
 * and keeps the stats). Opening, the schema and the backend's table of
 * functions are store_pg_open.c; the writer is store_pg_write.c.
 *
 * Schema. Items are keyed (job, idx); a partial index holds only the
 * pending ones, so that a lease (FOR UPDATE SKIP LOCKED, lowest index
 * first) reads O(batch) index entries however large the table grows,
 * and another holds the ones in flight, by owner, for lease expiry.
 * Results are keyed (job, seq): reading a cursor is one index range.
 * Bodies are rows of at most PG_PART_BYTES in body_parts. A deleted or
 * expired job's row goes at once; its other rows go in short slices
 * (trash), so no transaction is long and vacuum keeps up.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pgarr.h"
#include "store.h"
#include "store_pg.h"
#include "util.h"

#define PAGE_BYTES (4 * 1024 * 1024) /* a results page, about */

/* The columns pg_job_from read, first in every SELECT of jobs. */
#define JOB_COLS                                                           \
	"id, key, state, total, pending, inflight, ok, failed, last_seq, " \
	"created_ms, started_ms, finished_ms, expires_ms, ttl_s, name, "   \
	"options"

int64_t
pg_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col)
	    ? 0
	    : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* libpq's answer -> the store's error, with the message kept. */
static enum store_err
pg_classify(struct pgtx *t, const PGresult *res)
{
	const char *state =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *msg =
	    res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(t->c);

	if (msg == NULL || msg[0] == '\0')
		msg = t->c != NULL ? PQerrorMessage(t->c) : "no connection";
	snprintf(t->errmsg, t->errlen, "PostgreSQL: %.*s",
	    (int)strcspn(msg, "\n"), msg);
	if (t->c == NULL || PQstatus(t->c) != CONNECTION_OK || state == NULL)
		return STORE_EIO;
	if (strncmp(state, "53", 2) == 0) /* insufficient resources */
		return STORE_EFULL;
	if (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0)
		t->conflict = true; /* the writer runs it again at once */
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "40", 2) == 0 || strncmp(state, "55", 2) == 0)
		return STORE_EIO; /* connection, shutdown, deadlock, lock */
	log_error("store: %s (%s)", t->errmsg, state);
	return STORE_EIO;
}

PGresult *
pg_q(struct pgtx *t, const char *sql, int n, const char *const *params,
    ExecStatusType want, enum store_err *err)
{
	PGresult *res;

	if (t->c == NULL || PQstatus(t->c) != CONNECTION_OK) {
		*err = pg_classify(t, NULL);
		return NULL;
	}
	res = PQexecParams(t->c, sql, n, NULL, params, NULL, NULL, 0);
	if (res != NULL && PQresultStatus(res) == want) {
		*err = STORE_OK;
		return res;
	}
	*err = pg_classify(t, res);
	PQclear(res);
	return NULL;
}

enum store_err
pg_exec(struct pgtx *t, const char *sql)
{
	enum store_err err = STORE_OK;
	PGresult *res;

	if (t->c == NULL || PQstatus(t->c) != CONNECTION_OK)
		return pg_classify(t, NULL);
	res = PQexec(t->c, sql); /* the simple protocol: several commands */
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK)
		err = pg_classify(t, res);
	PQclear(res);
	return err;
}

void
pg_tx_reset(struct pgtx *t)
{
	size_t i;

	for (i = 0; i < t->njobs; i++) {
		free(t->jobs[i].name);
		free(t->jobs[i].options);
	}
	t->njobs = 0;
	t->moved = false;
	t->ordered = t->later = t->unordered = false;
	t->top[0] = '\0';
}

/* Row i of a SELECT JOB_COLS into j (strings left alone). */
static void
pg_job_from(const PGresult *res, int i, struct store_job *j, int64_t *row)
{
	memset(j, 0, sizeof(*j));
	*row = pg_int(res, i, 0);
	snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(res, i, 1));
	j->state = (enum store_job_state)pg_int(res, i, 2);
	j->n.total = (uint64_t)pg_int(res, i, 3);
	j->n.pending = (uint64_t)pg_int(res, i, 4);
	j->n.inflight = (uint64_t)pg_int(res, i, 5);
	j->n.ok = (uint64_t)pg_int(res, i, 6);
	j->n.failed = (uint64_t)pg_int(res, i, 7);
	j->last_seq = (uint64_t)pg_int(res, i, 8);
	j->created_ms = pg_int(res, i, 9);
	j->started_ms = pg_int(res, i, 10);
	j->finished_ms = pg_int(res, i, 11);
	j->expires_ms = pg_int(res, i, 12);
	j->ttl_s = (uint32_t)pg_int(res, i, 13);
}

enum store_err
pjob_get(struct pgtx *t, const char *id, struct pjob **out)
{
	const char *p[] = {id};
	struct store_job job;
	enum store_err err;
	PGresult *res;
	int64_t row;
	size_t i;

	*out = NULL;
	for (i = 0; i < t->njobs; i++)
		if (strcmp(t->jobs[i].job.id, id) == 0) {
			*out = t->jobs[i].gone ? NULL : &t->jobs[i];
			return STORE_OK;
		}
	if (t->ordered && !t->unordered && strcmp(id, t->top) < 0) {
		t->later = true; /* below a row we hold: not in this one */
		return STORE_OK;
	}
	res = pg_q(t, "SELECT " JOB_COLS " FROM jobs WHERE key = $1 FOR UPDATE",
	    1, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	if (t->ordered && strcmp(id, t->top) > 0)
		snprintf(t->top, sizeof(t->top), "%s", id);
	if (PQntuples(res) == 1) {
		pg_job_from(res, 0, &job, &row);
		*out = pjob_add(t, row, &job);
		if (!PQgetisnull(res, 0, 14))
			(*out)->name = xstrdup(PQgetvalue(res, 0, 14));
		(*out)->options = xstrdup(PQgetvalue(res, 0, 15));
	}
	PQclear(res);
	return STORE_OK;
}

/* --- the reader ----------------------------------------------------- */

/* The job of key id (no lock), its strings copied into r when r. */
static enum store_err
r_job(struct pgtx *t, const char *id, struct store_job *job, int64_t *row,
    struct sreq *r)
{
	const char *p[] = {id};
	enum store_err err;
	PGresult *res = pg_q(t, "SELECT " JOB_COLS " FROM jobs WHERE key = $1",
	    1, p, PGRES_TUPLES_OK, &err);

	if (res == NULL)
		return err;
	err = STORE_ENOENT;
	if (PQntuples(res) == 1) {
		pg_job_from(res, 0, job, row);
		if (r != NULL)
			sreq_set_job_strings(r,
			    PQgetisnull(res, 0, 14) ? NULL
			                            : PQgetvalue(res, 0, 14),
			    (size_t)PQgetlength(res, 0, 14),
			    PQgetvalue(res, 0, 15),
			    (size_t)PQgetlength(res, 0, 15));
		err = STORE_OK;
	}
	PQclear(res);
	return err;
}

static void
r_list(struct pgtx *t, struct sreq *r)
{
	char after[24], lim[16];
	const char *p[3] = {after, NULL, lim};
	struct buf states = BUF_INIT, text = BUF_INIT;
	struct store_job job;
	PGresult *res;
	int64_t row = 0;
	size_t n, i, *off;
	int s;

	if (r->q.after != NULL &&
	    (r->err = r_job(t, r->q.after, &job, &row, NULL)) != STORE_OK)
		return;
	pgarr_begin(&states);
	for (s = 0; s < STORE_JOB__COUNT; s++)
		if (r->q.states == 0 || (r->q.states & (1u << s)))
			pgarr_int(&states, s);
	p[1] = pgarr_end(&states);
	if (r->q.after == NULL && r->q.newest_first)
		row = INT64_MAX;
	snprintf(after, sizeof(after), "%" PRId64, row);
	snprintf(lim, sizeof(lim), "%u", r->q.limit + 1);
	res = pg_q(t,
	    r->q.newest_first
	        ? "SELECT " JOB_COLS " FROM jobs WHERE id < $1 AND "
	          "state = ANY($2::smallint[]) ORDER BY id DESC LIMIT $3"
	        : "SELECT " JOB_COLS " FROM jobs WHERE id > $1 AND "
	          "state = ANY($2::smallint[]) ORDER BY id LIMIT $3",
	    3, p, PGRES_TUPLES_OK, &r->err);
	buf_free(&states);
	if (res == NULL)
		return;
	n = (size_t)PQntuples(res);
	if (n > r->q.limit) {
		r->more = true;
		n = r->q.limit;
	}
	off = xcalloc(n + 1, 2 * sizeof(size_t));
	for (i = 0; i < n; i++) {
		off[2 * i] = text.len;
		buf_add(&text, PQgetvalue(res, (int)i, 15),
		    (size_t)PQgetlength(res, (int)i, 15));
		buf_addc(&text, '\0');
		off[2 * i + 1] = SIZE_MAX;
		if (!PQgetisnull(res, (int)i, 14)) {
			off[2 * i + 1] = text.len;
			buf_adds(&text, PQgetvalue(res, (int)i, 14));
			buf_addc(&text, '\0');
		}
	}
	r->out = xmalloc(n * sizeof(*r->jobs) + text.len + 1);
	r->jobs = r->out;
	if (text.len > 0)
		memcpy(r->jobs + n, text.data, text.len);
	for (i = 0; i < n; i++) {
		const char *base = (const char *)(r->jobs + n);

		pg_job_from(res, (int)i, &r->jobs[i], &row);
		r->jobs[i].options = base + off[2 * i];
		r->jobs[i].name =
		    off[2 * i + 1] == SIZE_MAX ? NULL : base + off[2 * i + 1];
	}
	r->njobs = n;
	free(off);
	buf_free(&text);
	PQclear(res);
}

/*
 * A page's query: [latest][failed_only]. latest: only a line that is its
 * item's newest (results_item) of an item that is done (state 2), so a
 * line a retry superseded, or one whose item is queued again, is left
 * out.
 */
#define LINES_COLS "SELECT seq, idx, attempt, outcome, line FROM results r "
#define LINES_LATEST                                                    \
	" AND EXISTS (SELECT 1 FROM items i WHERE i.job = r.job AND "   \
	"i.idx = r.idx AND i.state = 2) AND NOT EXISTS (SELECT 1 FROM " \
	"results n WHERE n.job = r.job AND n.idx = r.idx AND n.seq > r.seq)"
static const char *const lines_sql[2][2] = {
    {LINES_COLS "WHERE job = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        LINES_COLS "WHERE job = $1 AND seq > $2 AND outcome <> 0 "
                   "ORDER BY seq LIMIT $3"},
    {LINES_COLS "WHERE job = $1 AND seq > $2" LINES_LATEST
                " ORDER BY seq LIMIT $3",
        LINES_COLS "WHERE job = $1 AND seq > $2 AND outcome <> 0" LINES_LATEST
                   " ORDER BY seq LIMIT $3"},
};

/* A page of the job's lines after the cursor, into r->page. */
static enum store_err
r_lines(
    struct pgtx *t, struct sreq *r, const struct store_job *job, int64_t row)
{
	char jr[24], after[24], lim[16];
	const char *p[] = {jr, after, lim};
	struct store_line *v;
	struct buf text = BUF_INIT;
	enum store_err err;
	PGresult *res;
	size_t n = 0, i, rows;

	r->page.state = job->state;
	r->page.last_seq = job->last_seq;
	snprintf(jr, sizeof(jr), "%" PRId64, row);
	snprintf(after, sizeof(after), "%" PRIu64, r->cur.after);
	snprintf(lim, sizeof(lim), "%u", r->cur.limit + 1);
	res = pg_q(t, lines_sql[r->cur.latest][r->cur.failed_only], 3, p,
	    PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	rows = (size_t)PQntuples(res);
	v = xcalloc(rows + 1, sizeof(*v));
	for (i = 0; i < rows; i++) {
		if (n == r->cur.limit || (n > 0 && text.len >= PAGE_BYTES)) {
			r->page.more = true;
			break;
		}
		v[n].seq = (uint64_t)pg_int(res, (int)i, 0);
		v[n].index = (uint32_t)pg_int(res, (int)i, 1);
		v[n].attempt = (uint32_t)pg_int(res, (int)i, 2);
		v[n].outcome = (enum store_outcome)pg_int(res, (int)i, 3);
		v[n].len = (size_t)PQgetlength(res, (int)i, 4);
		v[n].line = (const char *)(uintptr_t)text.len; /* for now */
		buf_add(&text, PQgetvalue(res, (int)i, 4), v[n].len);
		buf_addc(&text, '\0');
		n++;
	}
	PQclear(res);
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

/* An item's stored body: its newest attempt's, if it is done. */
static enum store_err
r_body_of(
    struct pgtx *t, struct sreq *r, const struct store_job *job, int64_t row)
{
	char jr[24], idx[16], att[16], lo[16], hi[16];
	const char *p[] = {jr, idx, att, lo, hi};
	enum store_err err;
	PGresult *res;
	uint64_t size, end;
	int i, n;

	(void)job;
	snprintf(jr, sizeof(jr), "%" PRId64, row);
	snprintf(idx, sizeof(idx), "%" PRIu32, r->index);
	res = pg_q(t,
	    "SELECT state, attempt FROM items WHERE job = $1 AND "
	    "idx = $2",
	    2, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	if (PQntuples(res) != 1 || pg_int(res, 0, 0) != STORE_ITEM_DONE) {
		PQclear(res);
		return STORE_ENOENT;
	}
	snprintf(att, sizeof(att), "%" PRId64, pg_int(res, 0, 1));
	PQclear(res);
	res = pg_q(t,
	    "SELECT size, err, type, coding FROM body_meta WHERE "
	    "job = $1 AND idx = $2 AND attempt = $3",
	    3, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return STORE_ENOENT;
	}
	r->count = size = (uint64_t)pg_int(res, 0, 0);
	err = (enum store_err)pg_int(res, 0, 1);
	if (!PQgetisnull(res, 0, 2))
		r->body_type = xstrdup(PQgetvalue(res, 0, 2));
	if (!PQgetisnull(res, 0, 3))
		r->body_coding = xstrdup(PQgetvalue(res, 0, 3));
	PQclear(res);
	if (err != STORE_OK)
		return err;
	end = r->offset + r->max < size ? r->offset + r->max : size;
	r->blob = xmalloc(end > r->offset ? (size_t)(end - r->offset) + 1 : 1);
	if (end <= r->offset)
		return STORE_OK;
	snprintf(lo, sizeof(lo), "%" PRIu64, r->offset / PG_PART_BYTES);
	snprintf(hi, sizeof(hi), "%" PRIu64, (end - 1) / PG_PART_BYTES);
	res = PQexecParams(t->c,
	    "SELECT part, data FROM body_parts WHERE job = $1 AND idx = $2 "
	    "AND attempt = $3 AND part BETWEEN $4 AND $5 ORDER BY part",
	    5, NULL, p, NULL, NULL, 1);
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		err = pg_classify(t, res);
		PQclear(res);
		return err;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		uint64_t part, from, to, at;
		const char *d = PQgetvalue(res, i, 1);
		size_t len = (size_t)PQgetlength(res, i, 1);

		const unsigned char *b = /* int4, binary: big-endian */
		    (const unsigned char *)PQgetvalue(res, i, 0);

		part = (uint64_t)b[0] << 24 | (uint64_t)b[1] << 16 |
		    (uint64_t)b[2] << 8 | b[3];
		at = part * PG_PART_BYTES;
		from = at > r->offset ? at : r->offset;
		to = at + len < end ? at + len : end;
		if (to > from)
			memcpy((char *)r->blob + (from - r->offset),
			    d + (from - at), (size_t)(to - from));
		if (to > r->offset && to - r->offset > r->chunk_len)
			r->chunk_len = (size_t)(to - r->offset);
	}
	PQclear(res);
	if (r->chunk_len != end - r->offset) {
		log_warn("store: body of item %u of job %s is shorter than "
		         "recorded",
		    r->index, r->id);
		return STORE_EIO;
	}
	return STORE_OK;
}

/* fn(r) in one read-only snapshot with r's job: they agree. */
static void
in_job_snapshot(struct pgtx *t, struct sreq *r,
    enum store_err (*fn)(struct pgtx *t, struct sreq *r,
        const struct store_job *job, int64_t row))
{
	struct store_job job;
	int64_t row;

	if ((r->err = pg_exec(t,
	         "BEGIN ISOLATION LEVEL REPEATABLE READ "
	         "READ ONLY")) != STORE_OK)
		return;
	r->err = r_job(t, r->id, &job, &row, NULL);
	if (r->err == STORE_OK)
		r->err = fn(t, r, &job, row);
	pg_exec(t, "COMMIT");
}

/* One read on the reader's connection. */
static void
read_once(struct pgtx *t, struct sreq *r)
{
	int64_t row;

	if ((r->err = pg_connect(t)) != STORE_OK)
		return;
	switch (r->op) {
	case SR_GET:
		r->err = r_job(t, r->id, &r->job, &row, r);
		break;
	case SR_LIST:
		r_list(t, r);
		break;
	case SR_READ:
		in_job_snapshot(t, r, r_lines);
		break;
	case SR_BODY_READ:
		in_job_snapshot(t, r, r_body_of);
		break;
	default:
		r->err = STORE_EINTERNAL;
		break;
	}
}

/* The reader: a read that failed because the connection dropped (a
 * restarted server) is tried once more on a new one. */
void
pg_read(void *p, struct sreq *r)
{
	struct pg_be *be = p;

	if (!atomic_load(&be->ready)) { /* health says why */
		r->err = STORE_EIO;
		return;
	}
	read_once(&be->rtx, r);
	if (r->err == STORE_EIO && be->rtx.c != NULL &&
	    PQstatus(be->rtx.c) != CONNECTION_OK) {
		free(r->out); /* nothing was answered yet */
		free(r->blob);
		free(r->body_type);
		free(r->body_coding);
		r->out = r->blob = NULL;
		r->body_type = r->body_coding = NULL;
		r->chunk_len = 0;
		read_once(&be->rtx, r);
	}
}

/* --- heartbeat, lease expiry, stats ----------------------------------- */

/*
 * One beat: this instance is alive (the database's clock, so that the
 * instances' clocks may disagree); the items of silent ones go back.
 * Others are judged only once this instance has beaten for a whole
 * lease time: after an outage of the database itself every instance was
 * silent, and those that lived through it are heard again before their
 * leases could be taken for a dead instance's (their POSTs would end
 * `interrupted` though answered).
 */
static void
beat_once(struct pg_be *be)
{
	const char *p[] = {be->instance};
	enum store_err err;
	PGresult *res;

	if (!atomic_load(&be->ready) || pg_connect(&be->btx) != STORE_OK) {
		be->beat_since_us = 0;
		return;
	}
	res = pg_q(&be->btx,
	    "INSERT INTO instances (id, seen) VALUES ($1, now()) ON CONFLICT "
	    "(id) DO UPDATE SET seen = now()",
	    1, p, PGRES_COMMAND_OK, &err);
	PQclear(res);
	if (err != STORE_OK) {
		be->beat_since_us = 0;
		return;
	}
	if (be->beat_since_us == 0)
		be->beat_since_us = mono_us();
	res = pg_q(&be->btx,
	    "SELECT count(*) FROM instances WHERE seen > " PG_ALIVE_SINCE, 0,
	    NULL, PGRES_TUPLES_OK, &err);
	if (res != NULL && PQntuples(res) == 1)
		atomic_store(&be->st->instances, (unsigned)pg_int(res, 0, 0));
	PQclear(res);
	if (mono_us() - be->beat_since_us >= (uint64_t)PG_LEASE_S * 1000000 &&
	    pg_reclaim(&be->btx, NULL) != STORE_OK)
		log_warn("store: lease expiry: %s", be->berr);
	/* Instances gone for a day, with nothing in flight: forgotten. */
	res = pg_q(&be->btx,
	    "DELETE FROM instances n WHERE seen < now() - interval '1 day' AND "
	    "NOT EXISTS (SELECT 1 FROM items i WHERE i.state = 1 AND i.owner "
	    "= n.id)",
	    0, NULL, PGRES_COMMAND_OK, &err);
	PQclear(res);
	pg_stats(&be->btx);
}

void *
pg_beat_main(void *arg)
{
	struct pg_be *be = arg;
	struct timespec ts;

	pthread_mutex_lock(&be->mu);
	while (!be->stop) {
		pthread_mutex_unlock(&be->mu);
		beat_once(be);
		pthread_mutex_lock(&be->mu);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += PG_BEAT_MS / 1000;
		while (!be->stop &&
		    pthread_cond_timedwait(&be->cv, &be->mu, &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&be->mu);
	return NULL;
}
