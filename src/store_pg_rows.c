/*
 * store_pg_rows.c - the rows a PostgreSQL transaction changes, shared by
 * the writer (store_pg_write.c) and the heartbeat's lease expiry
 * (store_pg.c): job rows locked FOR UPDATE and written back once before
 * COMMIT (every state change through store_job_step), result lines
 * stored a batch per statement with the job's next seqs, bodies as
 * bytea parts, and the items of a dead (or restarted) instance given
 * back.
 *
 * One statement per batch of results: unnest() of arrays (pgarr.c) moves
 * the items to done, numbers the accepted lines last_seq + 1, + 2, ...
 * (row_number over the batch's order) and inserts them; the job row,
 * locked by this transaction, takes the new last_seq. So seq is strictly
 * increasing with no gap per job, whichever instance commits.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "pgarr.h"
#include "store.h"
#include "store_pg.h"
#include "util.h"

/* Items whose owner has not been heard of for PG_LEASE_S. */
#define SILENT(i)                                                         \
	"NOT EXISTS (SELECT 1 FROM instances n WHERE n.id = " i ".owner " \
	"AND n.seen > " PG_ALIVE_SINCE ")"
_Static_assert(PG_LEASE_S == 10, "PG_ALIVE_SINCE spells PG_LEASE_S");

/* Totals for /metrics: jobs by state, items pending. */
void
pg_stats(struct pgtx *t)
{
	struct store *st = t->be->st;
	uint64_t jobs[STORE_JOB__COUNT] = {0}, pending = 0;
	enum store_err err;
	PGresult *res = pg_q(t,
	    "SELECT state, count(*), sum(pending) FROM jobs GROUP BY state", 0,
	    NULL, PGRES_TUPLES_OK, &err);
	int i;

	if (res == NULL)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		int64_t s = pg_int(res, i, 0);

		if (s >= 0 && s < STORE_JOB__COUNT)
			jobs[s] = (uint64_t)pg_int(res, i, 1);
		pending += (uint64_t)pg_int(res, i, 2);
	}
	PQclear(res);
	for (i = 0; i < STORE_JOB__COUNT; i++)
		atomic_store(&st->jobs[i], jobs[i]);
	atomic_store(&st->items_pending, pending);
}

char *
pg_synth(struct pg_be *be, const struct store_synth *s)
{
	char *line = be->st->cfg.line(s);

	return line != NULL ? line : store_line_default(s);
}

struct pjob *
pjob_add(struct pgtx *t, int64_t row, const struct store_job *j)
{
	struct pjob *p;

	if (t->njobs == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 8;
		t->jobs = xrealloc(t->jobs, t->cap * sizeof(*t->jobs));
	}
	p = &t->jobs[t->njobs++];
	memset(p, 0, sizeof(*p));
	p->row = row;
	p->job = *j;
	p->job.name = p->job.options = NULL;
	return p;
}

void
pjob_move(struct pgtx *t, struct pjob *j, enum store_job_event ev)
{
	int to = store_job_step(j->job.state, ev);
	int64_t now;

	if (to < 0 || to == (int)j->job.state)
		return;
	now = store_now_ms(t->be->st);
	store_job_set_state(&j->job, (enum store_job_state)to, now);
	j->dirty = true;
	t->moved = true;
}

void
pjob_count(struct pgtx *t, struct pjob *j, int64_t pending, int64_t inflight,
    int64_t ok, int64_t failed)
{
	j->job.n.pending += (uint64_t)pending;
	j->job.n.inflight += (uint64_t)inflight;
	j->job.n.ok += (uint64_t)ok;
	j->job.n.failed += (uint64_t)failed;
	j->dirty = true;
	if (j->job.n.pending == 0 && j->job.n.inflight == 0)
		pjob_move(t, j, STORE_JOB_EV_DRAINED);
}

void
pjob_answer(struct sreq *r, const struct pjob *j, bool existing)
{
	r->job = j->job;
	r->job.existing = existing;
	sreq_set_job_strings(r, j->name, j->name ? strlen(j->name) : 0,
	    j->options ? j->options : "{}",
	    j->options ? strlen(j->options) : 2);
}

enum store_err
pg_flush_jobs(struct pgtx *t)
{
	char v[10][24];
	const char *p[10];
	enum store_err err = STORE_OK;
	size_t i;
	int k;

	for (k = 0; k < 10; k++)
		p[k] = v[k];
	for (i = 0; i < t->njobs && err == STORE_OK; i++) {
		const struct pjob *j = &t->jobs[i];
		PGresult *res;

		if (!j->dirty || j->gone)
			continue;
		I64(v[0], j->row);
		I64(v[1], j->job.state);
		I64(v[2], j->job.n.pending);
		I64(v[3], j->job.n.inflight);
		I64(v[4], j->job.n.ok);
		I64(v[5], j->job.n.failed);
		I64(v[6], j->job.last_seq);
		I64(v[7], j->job.started_ms);
		I64(v[8], j->job.finished_ms);
		I64(v[9], j->job.expires_ms);
		res = pg_q(t,
		    "UPDATE jobs SET state = $2, pending = $3, inflight = $4, "
		    "ok = $5, failed = $6, last_seq = $7, started_ms = $8, "
		    "finished_ms = $9, expires_ms = $10 WHERE id = $1",
		    10, p, PGRES_COMMAND_OK, &err);
		PQclear(res);
	}
	return err;
}

/* The stored body of an accepted record x of job j: body_meta, then
 * its bytes in parts of PG_PART_BYTES (read from its file if it has
 * one). */
static enum store_err
put_body(struct pgtx *t, const struct pjob *j, const struct pres *x)
{
	const struct sreq *r = x->r;
	struct store *st = t->be->st;
	char row[24], idx[24], att[24], size[24], e[24], part[24];
	const char *p[7] = {
	    row, idx, att, size, e, r->body_type, r->body_coding};
	int fmt[5] = {0, 0, 0, 0, 1}, len[5] = {0};
	enum store_err err, berr = r->body_err;
	uint64_t total = r->file != NULL ? r->file->size : r->chunk_len, off;
	char *piece = NULL;
	PGresult *res;
	int fd = -1;

	I64(row, j->row);
	I64(idx, x->index);
	I64(att, x->attempt);
	I64(size, total);
	if (r->file != NULL && berr == STORE_OK &&
	    (fd = openat(st->dirfd, r->file->path, O_RDONLY | O_CLOEXEC)) < 0)
		berr = STORE_EIO;
	I64(e, berr);
	res = pg_q(t,
	    "INSERT INTO body_meta (job, idx, attempt, size, err, type, "
	    "coding) "
	    "VALUES ($1, $2, $3, $4, $5, $6, $7)",
	    7, p, PGRES_COMMAND_OK, &err);
	PQclear(res);
	if (berr != STORE_OK)
		goto out;
	p[3] = part;
	for (off = 0; off < total && err == STORE_OK; off += PG_PART_BYTES) {
		size_t n = total - off < PG_PART_BYTES ? (size_t)(total - off)
		                                       : PG_PART_BYTES;

		if (fd >= 0) {
			if (piece == NULL)
				piece = xmalloc(PG_PART_BYTES);
			if (pread(fd, piece, n, (off_t)off) != (ssize_t)n) {
				snprintf(t->errmsg, t->errlen,
				    "cannot read body file %s", r->file->path);
				err = STORE_EIO;
				break;
			}
			p[4] = piece;
		} else {
			p[4] = (const char *)r->chunk + off;
		}
		len[4] = (int)n;
		I64(part, off / PG_PART_BYTES);
		if (t->c == NULL) {
			err = STORE_EIO;
			break;
		}
		res = PQexecParams(t->c,
		    "INSERT INTO body_parts (job, idx, attempt, part, data) "
		    "VALUES ($1, $2, $3, $4, $5)",
		    5, NULL, p, len, fmt, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			err = STORE_EIO,
			snprintf(t->errmsg, t->errlen, "PostgreSQL: %s",
			    PQerrorMessage(t->c));
		PQclear(res);
	}
out:
	if (fd >= 0)
		close(fd);
	free(piece);
	return err;
}

enum store_err
pg_results(struct pgtx *t, struct pjob *j, enum store_item_state from,
    const char *owner, struct pres *v, size_t n)
{
	struct buf a[4] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
	char row[24], st[24], base[24];
	const char *p[8];
	enum store_err err;
	PGresult *res;
	int64_t k = 0, ok = 0;
	size_t i;
	int q;

	for (q = 0; q < 4; q++)
		pgarr_begin(&a[q]);
	for (i = 0; i < n; i++) {
		v[i].seq = 0;
		pgarr_int(&a[0], v[i].index);
		pgarr_int(&a[1], v[i].attempt);
		pgarr_int(&a[2], v[i].outcome);
		pgarr_text(&a[3], v[i].line, v[i].len);
	}
	p[0] = I64(row, j->row);
	for (q = 0; q < 4; q++)
		p[q + 1] = pgarr_end(&a[q]);
	p[5] = I64(st, from);
	p[6] = owner;
	p[7] = I64(base, j->job.last_seq);
	res = pg_q(t,
	    "WITH u AS (SELECT * FROM unnest($2::int[], $3::int[], "
	    "$4::smallint[], $5::text[]) WITH ORDINALITY AS u(idx, attempt, "
	    "outcome, line, ord)), "
	    "d AS (UPDATE items i SET state = 2, outcome = u.outcome, owner = "
	    "NULL FROM u WHERE i.job = $1 AND i.idx = u.idx AND i.attempt = "
	    "u.attempt AND i.state = $6 AND ($7::text IS NULL OR i.owner = $7) "
	    "RETURNING u.*), "
	    "n AS (SELECT d.*, $8::bigint + row_number() OVER (ORDER BY d.ord) "
	    "AS seq FROM d), "
	    "ins AS (INSERT INTO results (job, seq, idx, attempt, outcome, "
	    "line) "
	    "SELECT $1, seq, idx, attempt, outcome, line FROM n) "
	    "SELECT ord, seq FROM n",
	    8, p, PGRES_TUPLES_OK, &err);
	for (q = 0; q < 4; q++)
		buf_free(&a[q]);
	if (res == NULL)
		return err;
	for (q = 0; q < PQntuples(res); q++) {
		int64_t o = pg_int(res, q, 0);

		if (o < 1 || (size_t)o > n)
			continue;
		v[o - 1].seq = (uint64_t)pg_int(res, q, 1);
		k++;
		ok += v[o - 1].outcome == STORE_OUT_OK;
	}
	PQclear(res);
	j->job.last_seq += (uint64_t)k;
	pjob_count(t, j, from == STORE_ITEM_PENDING ? -k : 0,
	    from == STORE_ITEM_INFLIGHT ? -k : 0, ok, k - ok);
	for (i = 0; i < n && err == STORE_OK; i++)
		if (v[i].seq != 0 && v[i].r != NULL && v[i].r->has_body)
			err = put_body(t, j, &v[i]);
	return err;
}

/* In-flight items of job key (owner's, or silent instances') back to
 * pending, unsafe ones ended `interrupted`: one transaction. */
static enum store_err
reclaim_job(struct pgtx *t, const char *key, const char *owner, uint64_t *back,
    uint64_t *stopped)
{
	struct buf safe = BUF_INIT;
	const char *p[2];
	struct pres *v = NULL;
	struct pjob *j;
	enum store_err err;
	PGresult *res = NULL, *up;
	char row[24];
	int i, n, nv = 0;

	if ((err = pg_exec(t, "BEGIN")) != STORE_OK)
		return err;
	if ((err = pjob_get(t, key, &j)) != STORE_OK || j == NULL)
		goto end;
	p[0] = I64(row, j->row);
	p[1] = owner;
	res = pg_q(t,
	    owner != NULL
	        ? "SELECT idx, attempt, flags, spec FROM items i WHERE job = "
	          "$1 "
	          "AND state = 1 AND owner = $2 FOR UPDATE SKIP LOCKED"
	        : "SELECT idx, attempt, flags, spec FROM items i WHERE job = "
	          "$1 "
	          "AND state = 1 AND " SILENT("i") " FOR UPDATE SKIP LOCKED",
	    owner != NULL ? 2 : 1, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		goto end;
	n = PQntuples(res);
	v = xcalloc((size_t)n + 1, sizeof(*v));
	pgarr_begin(&safe);
	for (i = 0; i < n; i++) {
		unsigned flags = (unsigned)pg_int(res, i, 2);
		struct store_synth s = {(uint32_t)pg_int(res, i, 0),
		    (uint32_t)pg_int(res, i, 1), STORE_OUT_INTERRUPTED,
		    PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3)};

		if (!(flags & STORE_ITEM_UNSAFE) ||
		    (flags & STORE_ITEM_RETRY_UNSAFE)) {
			pgarr_int(&safe, s.index);
			continue;
		}
		v[nv].index = s.index;
		v[nv].attempt = s.attempt;
		v[nv].outcome = STORE_OUT_INTERRUPTED;
		v[nv].line = pg_synth(t->be, &s);
		v[nv].len = strlen(v[nv].line);
		nv++;
	}
	p[1] = pgarr_end(&safe);
	up = pg_q(t,
	    "UPDATE items SET state = 0, owner = NULL WHERE job = $1 AND idx = "
	    "ANY($2::int[]) AND state = 1",
	    2, p, PGRES_COMMAND_OK, &err);
	if (up != NULL) {
		int64_t k = strtoll(PQcmdTuples(up), NULL, 10);

		*back += (uint64_t)k;
		if (k > 0)
			pjob_count(t, j, k, -k, 0, 0);
	}
	PQclear(up);
	if (err == STORE_OK && nv > 0 &&
	    (err = pg_results(
	         t, j, STORE_ITEM_INFLIGHT, NULL, v, (size_t)nv)) == STORE_OK)
		*stopped += (uint64_t)nv;
	if (err == STORE_OK)
		err = pg_flush_jobs(t);
end:
	err = err == STORE_OK ? pg_exec(t, "COMMIT") : err;
	if (err != STORE_OK)
		pg_exec(t, "ROLLBACK");
	pg_tx_reset(t);
	for (i = 0; i < nv; i++)
		free((char *)v[i].line);
	free(v);
	buf_free(&safe);
	PQclear(res);
	return err;
}

enum store_err
pg_reclaim(struct pgtx *t, const char *owner)
{
	const char *p[] = {owner};
	uint64_t back = 0, stopped = 0;
	enum store_err err;
	PGresult *res;
	int i;

	res = pg_q(t,
	    owner != NULL ? "SELECT DISTINCT j.key FROM items i JOIN jobs j ON "
	                    "j.id = i.job WHERE i.state = 1 AND i.owner = $1"
	                  : "SELECT DISTINCT j.key FROM items i JOIN jobs j ON "
	                    "j.id = i.job WHERE i.state = 1 AND " SILENT("i"),
	    owner != NULL ? 1 : 0, p, PGRES_TUPLES_OK, &err);
	for (i = 0; res != NULL && i < PQntuples(res) && err == STORE_OK; i++)
		err = reclaim_job(
		    t, PQgetvalue(res, i, 0), owner, &back, &stopped);
	PQclear(res);
	if (back + stopped > 0)
		log_info("store: %s: %" PRIu64 " items in flight back to "
		         "pending, %" PRIu64 " ended interrupted",
		    owner != NULL ? "recovered this instance's leases"
		                  : "leases of a silent instance expired",
		    back, stopped);
	return err;
}
