/*
 * store_pg_write.c - the writer side of the PostgreSQL backend: every
 * change, one request at a time inside the transaction store_thread.c
 * opens and commits (group commit), on the writer's connection; and the
 * job-row and result helpers the heartbeat's lease expiry shares.
 *
 * A job row is locked (FOR UPDATE) by the first request of a
 * transaction that touches it and written back once before COMMIT;
 * every state change goes through store_job_step. Results are not
 * written one by one: a transaction's records are kept, and at commit
 * each job's go in one statement (unnest of arrays, pgarr.c) that moves
 * the items to done and inserts the lines with seq last_seq + 1, + 2,
 * ...: seq is strictly increasing with no gap per job, whichever
 * instance commits.
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

_Static_assert(STORE_ITEM_PENDING == 0 && STORE_ITEM_INFLIGHT == 1 &&
        STORE_ITEM_DONE == 2 && STORE_OUT_OK == 0,
    "store_pg*.c spell these as 0, 1, 2 and 0");

#define CREATE_CHUNK 5000 /* items inserted per statement */
#define CANCEL_SLICE 2000 /* items ended per transaction */
#define TRASH_SLICE  2000 /* rows removed per table per transaction */
#define PARTS_SLICE  32   /* body parts (1 MiB each) per transaction */
#define SWEEP_SLICE  500  /* jobs expired per transaction */

/* Items whose owner has not been heard of for PG_LEASE_S ($N: none). */
#define SILENT(i)                                                         \
	"NOT EXISTS (SELECT 1 FROM instances n WHERE n.id = " i ".owner " \
	"AND n.seen > now() - interval '10 seconds')"
_Static_assert(PG_LEASE_S == 10, "SILENT() spells PG_LEASE_S");

/* Decimal text of v in a small buffer. */
#define I64(buf, v) (snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v)), buf)

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
	log_debug("store: job %s: %s -> %s", j->job.id,
	    store_job_state_name(j->job.state),
	    store_job_state_name((enum store_job_state)to));
	now = store_now_ms(t->be->st);
	if (to == STORE_JOB_RUNNING && j->job.started_ms == 0)
		j->job.started_ms = now;
	if (to == STORE_JOB_DONE || to == STORE_JOB_CANCELLED) {
		j->job.finished_ms = now;
		j->job.expires_ms = now + (int64_t)j->job.ttl_s * 1000;
	}
	if (to == STORE_JOB_QUEUED)
		j->job.finished_ms = j->job.expires_ms = 0;
	j->job.state = (enum store_job_state)to;
	j->dirty = true;
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

/* --- the writer's requests -------------------------------------------- */

/* r's job, locked: NULL (with r->err = ENOENT) when there is none. */
static enum store_err
req_job(struct pgtx *t, struct sreq *r, struct pjob **j)
{
	enum store_err err = pjob_get(t, r->id, j);

	if (err == STORE_OK && *j == NULL)
		r->err = STORE_ENOENT;
	return err;
}

/* Insert the items of a create, CREATE_CHUNK per statement. */
static enum store_err
put_items(struct pgtx *t, struct sreq *r, int64_t row)
{
	struct buf a[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	char jr[24];
	const char *p[4] = {I64(jr, row)};
	enum store_err err = STORE_OK;
	size_t i = 0, k;
	int q;

	while (i < r->nitems && err == STORE_OK) {
		PGresult *res;

		for (q = 0; q < 3; q++)
			pgarr_begin(&a[q]);
		for (k = 0; k < CREATE_CHUNK && i < r->nitems; k++, i++) {
			struct store_item_spec made;
			const struct store_item_spec *it = &made;

			if (r->item_fn != NULL)
				r->item_fn(r->item_arg, (uint32_t)i, &made);
			else
				it = &r->items[i];
			pgarr_int(&a[0], it->index);
			pgarr_int(&a[1], it->flags);
			pgarr_text(&a[2], it->spec, it->spec_len);
		}
		for (q = 0; q < 3; q++)
			p[q + 1] = pgarr_end(&a[q]);
		res = pg_q(t,
		    "INSERT INTO items (job, idx, flags, spec) SELECT $1, * "
		    "FROM "
		    "unnest($2::int[], $3::smallint[], $4::text[])",
		    4, p, PGRES_COMMAND_OK, &err);
		PQclear(res);
	}
	for (q = 0; q < 3; q++)
		buf_free(&a[q]);
	return err;
}

static enum store_err
w_create(struct pgtx *t, struct sreq *r)
{
	struct store *st = t->be->st;
	char n[24], now[24], ttl[24], st0[24];
	const char *p[8];
	struct store_job job;
	enum store_err err;
	PGresult *res;
	struct pjob *j;

	if (r->spec.idem != NULL) {
		p[0] = r->spec.idem;
		res = pg_q(t, "SELECT key FROM jobs WHERE idem = $1", 1, p,
		    PGRES_TUPLES_OK, &err);
		if (res == NULL)
			return err;
		if (PQntuples(res) == 1)
			snprintf(
			    r->id, sizeof(r->id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		if (r->id[0] != '\0') {
			if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
				return err;
			pjob_answer(r, j, true);
			return STORE_OK;
		}
	}
	if (st->cfg.max_active != 0) {
		res = pg_q(t, "SELECT count(*) FROM jobs WHERE state IN (0, 1)",
		    0, NULL, PGRES_TUPLES_OK, &err);
		if (res == NULL)
			return err;
		if (pg_int(res, 0, 0) >= (int64_t)st->cfg.max_active)
			r->err = STORE_ELIMIT;
		PQclear(res);
		if (r->err != STORE_OK)
			return STORE_OK;
	}
	memset(&job, 0, sizeof(job));
	store_new_id(st, job.id);
	job.state = STORE_JOB_QUEUED;
	job.n.total = job.n.pending = r->nitems;
	job.created_ms = store_now_ms(st);
	job.ttl_s = r->spec.ttl_s != 0 ? r->spec.ttl_s : st->cfg.ttl_s;
	p[0] = job.id;
	p[1] = r->spec.idem;
	p[2] = r->spec.name;
	p[3] = I64(st0, STORE_JOB_QUEUED);
	p[4] = I64(n, r->nitems);
	p[5] = I64(now, job.created_ms);
	p[6] = I64(ttl, job.ttl_s);
	p[7] = r->spec.options != NULL ? r->spec.options : "{}";
	res = pg_q(t,
	    "INSERT INTO jobs (key, idem, name, state, total, pending, "
	    "created_ms, ttl_s, options) VALUES ($1, $2, $3, $4, $5, $5, $6, "
	    "$7, $8) RETURNING id",
	    8, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	j = pjob_add(t, pg_int(res, 0, 0), &job);
	PQclear(res);
	j->name = r->spec.name != NULL ? xstrdup(r->spec.name) : NULL;
	j->options = xstrdup(p[7]);
	if ((err = put_items(t, r, j->row)) != STORE_OK)
		return err;
	memcpy(r->id, job.id, sizeof(r->id));
	pjob_count(t, j, 0, 0, 0, 0); /* an empty job is done at once */
	pjob_answer(r, j, false);
	return STORE_OK;
}

static int
by_index(const void *a, const void *b)
{
	const struct store_leased *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

/* Lease up to r->max pending items: the lowest ones not locked by
 * another instance's lease in progress (SKIP LOCKED). */
static enum store_err
w_lease(struct pgtx *t, struct sreq *r)
{
	struct store_leased *out;
	char row[24], max[24];
	const char *p[3];
	struct buf text = BUF_INIT;
	enum store_err err;
	PGresult *res;
	struct pjob *j;
	size_t n, i, *off;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (store_job_step(j->job.state, STORE_JOB_EV_LEASE) < 0) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	p[0] = I64(row, j->row);
	p[1] = I64(max, r->max);
	p[2] = t->be->instance;
	res = pg_q(t,
	    "WITH c AS (SELECT idx FROM items WHERE job = $1 AND state = 0 "
	    "ORDER BY idx LIMIT $2 FOR UPDATE SKIP LOCKED) "
	    "UPDATE items i SET state = 1, owner = $3 FROM c WHERE i.job = $1 "
	    "AND i.idx = c.idx RETURNING i.idx, i.attempt, i.flags, i.spec",
	    3, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	n = (size_t)PQntuples(res);
	off = xcalloc(n + 1, sizeof(*off));
	for (i = 0; i < n; i++) {
		off[i] = text.len;
		buf_add(&text, PQgetvalue(res, (int)i, 3),
		    (size_t)PQgetlength(res, (int)i, 3));
		buf_addc(&text, '\0');
	}
	out = xmalloc(n * sizeof(*out) + text.len + 1);
	if (text.len > 0)
		memcpy(out + n, text.data, text.len);
	for (i = 0; i < n; i++) {
		out[i].index = (uint32_t)pg_int(res, (int)i, 0);
		out[i].attempt = (uint32_t)pg_int(res, (int)i, 1);
		out[i].flags = (unsigned)pg_int(res, (int)i, 2);
		out[i].spec = (const char *)(out + n) + off[i];
		out[i].spec_len = (size_t)PQgetlength(res, (int)i, 3);
	}
	qsort(out, n, sizeof(*out), by_index);
	PQclear(res);
	free(off);
	buf_free(&text);
	r->out = out;
	r->leased = out;
	r->count = n;
	if (n > 0) {
		pjob_count(t, j, -(int64_t)n, (int64_t)n, 0, 0);
		pjob_move(t, j, STORE_JOB_EV_LEASE);
	}
	return STORE_OK;
}

static enum store_err
w_release(struct pgtx *t, struct sreq *r)
{
	char row[24], idx[24], att[24];
	const char *p[4];
	struct pjob *j;
	enum store_err err;
	PGresult *res;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
		return err;
	p[0] = I64(row, j->row);
	p[1] = I64(idx, r->index);
	p[2] = I64(att, r->attempt);
	p[3] = t->be->instance;
	res = pg_q(t,
	    "UPDATE items SET state = 0, owner = NULL WHERE job = $1 AND idx = "
	    "$2 AND state = 1 AND attempt = $3 AND owner = $4",
	    4, p, PGRES_COMMAND_OK, &err);
	if (res == NULL)
		return err;
	if (strcmp(PQcmdTuples(res), "1") != 0) {
		r->err = STORE_ESTATE;
	} else {
		pjob_count(t, j, 1, -1, 0, 0);
		if (j->job.state == STORE_JOB_CANCELLED) {
			struct sreq *s = sreq_new(SR_CANCEL_SLICE, 0);

			memcpy(s->id, j->job.id, sizeof(s->id));
			store_spawn(t->be->st, s);
		}
	}
	PQclear(res);
	return STORE_OK;
}

static enum store_err
w_cancel(struct pgtx *t, struct sreq *r)
{
	struct pjob *j;
	enum store_err err;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (store_job_step(j->job.state, STORE_JOB_EV_CANCEL) < 0) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	pjob_move(t, j, STORE_JOB_EV_CANCEL);
	if (j->job.n.pending > 0) {
		struct sreq *s = sreq_new(SR_CANCEL_SLICE, 0);

		memcpy(s->id, j->job.id, sizeof(s->id));
		store_spawn(t->be->st, s);
	}
	pjob_answer(r, j, false);
	return STORE_OK;
}

/* End the next slice of a cancelled job's pending items. */
static enum store_err
w_cancel_slice(struct pgtx *t, struct sreq *r)
{
	char row[24], lim[24];
	const char *p[2];
	struct pres *v;
	struct pjob *j;
	enum store_err err;
	PGresult *res;
	int i, n;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL ||
	    j->job.state != STORE_JOB_CANCELLED || j->job.n.pending == 0)
		return err;
	p[0] = I64(row, j->row);
	p[1] = I64(lim, CANCEL_SLICE);
	res = pg_q(t,
	    "SELECT idx, attempt, spec FROM items WHERE job = $1 AND state = 0 "
	    "ORDER BY idx LIMIT $2 FOR UPDATE SKIP LOCKED",
	    2, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	n = PQntuples(res);
	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		struct store_synth s = {(uint32_t)pg_int(res, i, 0),
		    (uint32_t)pg_int(res, i, 1), STORE_OUT_CANCELLED,
		    PQgetvalue(res, i, 2), (size_t)PQgetlength(res, i, 2)};

		v[i].index = s.index;
		v[i].attempt = s.attempt;
		v[i].outcome = STORE_OUT_CANCELLED;
		v[i].line = pg_synth(t->be, &s);
		v[i].len = strlen(v[i].line);
	}
	PQclear(res);
	if (n > 0)
		err = pg_results(t, j, STORE_ITEM_PENDING, NULL, v, (size_t)n);
	for (i = 0; i < n; i++)
		free((char *)v[i].line);
	free(v);
	r->count = (uint64_t)n;
	r->again = err == STORE_OK && n > 0 && j->job.n.pending > 0;
	return err;
}

static enum store_err
w_retry(struct pgtx *t, struct sreq *r)
{
	char row[24];
	const char *p[1];
	struct pjob *j;
	enum store_err err;
	PGresult *res;
	int64_t k;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (j->job.n.failed > 0) {
		p[0] = I64(row, j->row);
		res = pg_q(t,
		    "UPDATE items SET state = 0, attempt = attempt + 1, "
		    "outcome "
		    "= NULL WHERE job = $1 AND state = 2 AND outcome <> 0",
		    1, p, PGRES_COMMAND_OK, &err);
		if (res == NULL)
			return err;
		k = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		j->job.n.failed = (uint64_t)k; /* the rows are the truth */
		pjob_count(t, j, k, 0, 0, -k);
		pjob_move(t, j, STORE_JOB_EV_RETRY);
	}
	pjob_answer(r, j, false);
	return STORE_OK;
}

/* The job row goes now; its other rows in slices (SR_TRASH_SLICE). */
static enum store_err
trash_job(struct pgtx *t, struct pjob *j)
{
	char row[24];
	const char *p[] = {I64(row, j->row)};
	enum store_err err;
	PGresult *res;
	struct sreq *s;

	res = pg_q(t,
	    "WITH d AS (DELETE FROM jobs WHERE id = $1) INSERT INTO trash "
	    "VALUES ($1) ON CONFLICT DO NOTHING",
	    1, p, PGRES_COMMAND_OK, &err);
	PQclear(res);
	if (err != STORE_OK)
		return err;
	j->gone = true;
	s = sreq_new(SR_TRASH_SLICE, 0);
	memcpy(s->id, j->job.id, sizeof(s->id));
	s->job_row = j->row;
	store_spawn(t->be->st, s);
	return STORE_OK;
}

static enum store_err
w_delete(struct pgtx *t, struct sreq *r)
{
	struct pjob *j;
	enum store_err err;

	if ((err = req_job(t, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (j->job.state != STORE_JOB_DONE &&
	    j->job.state != STORE_JOB_CANCELLED) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	return trash_job(t, j);
}

static enum store_err
w_sweep(struct pgtx *t, struct sreq *r)
{
	char now[24], lim[24];
	const char *p[2];
	enum store_err err;
	PGresult *res;
	struct pjob *j;
	int i, n;

	p[0] = I64(now, store_now_ms(t->be->st));
	p[1] = I64(lim, SWEEP_SLICE);
	res = pg_q(t,
	    "SELECT key FROM jobs WHERE expires_ms > 0 AND expires_ms <= $1 "
	    "ORDER BY expires_ms LIMIT $2 FOR UPDATE SKIP LOCKED",
	    2, p, PGRES_TUPLES_OK, &err);
	if (res == NULL)
		return err;
	n = PQntuples(res);
	for (i = 0; i < n && err == STORE_OK; i++)
		if ((err = pjob_get(t, PQgetvalue(res, i, 0), &j)) ==
		        STORE_OK &&
		    j != NULL)
			err = trash_job(t, j);
	PQclear(res);
	r->count += (uint64_t)n;
	r->again = n == SWEEP_SLICE;
	return err;
}

/* The next slice of a deleted job's rows; the trash row once none is
 * left. Short transactions: no long-held locks, no bloat vacuum cannot
 * reclaim while it runs. */
static enum store_err
w_trash_slice(struct pgtx *t, struct sreq *r)
{
	static const char *const del[] = {
	    "DELETE FROM items WHERE ctid = ANY(ARRAY(SELECT ctid FROM items "
	    "WHERE job = $1 LIMIT $2))",
	    "DELETE FROM results WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	    "results WHERE job = $1 LIMIT $2))",
	    "DELETE FROM body_meta WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	    "body_meta WHERE job = $1 LIMIT $2))",
	    "DELETE FROM body_parts WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	    "body_parts WHERE job = $1 LIMIT $3))",
	    "DELETE FROM trash WHERE job = $1 AND $2::int > 0 AND $3::int > 0",
	};
	char row[24], lim[24], parts[24];
	const char *p[] = {I64(row, r->job_row), I64(lim, TRASH_SLICE),
	    I64(parts, PARTS_SLICE)};
	enum store_err err = STORE_OK;
	size_t i;

	r->count = 0;
	for (i = 0; i < 4 && err == STORE_OK; i++) {
		PGresult *res = pg_q(t, del[i], 3, p, PGRES_COMMAND_OK, &err);

		if (res != NULL)
			r->count +=
			    (uint64_t)strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	if (err == STORE_OK && r->count == 0) {
		PGresult *res = pg_q(t, del[4], 3, p, PGRES_COMMAND_OK, &err);

		PQclear(res);
	}
	r->again = err == STORE_OK && r->count > 0;
	return err;
}

enum store_err
pg_begin(void *p)
{
	struct pg_be *be = p;
	enum store_err err = pg_connect(&be->tx);

	be->nrecs = 0;
	pg_tx_reset(&be->tx);
	return err != STORE_OK ? err : pg_exec(&be->tx, "BEGIN");
}

enum store_err
pg_apply(void *p, struct sreq *r)
{
	struct pg_be *be = p;
	struct pgtx *t = &be->tx;

	switch (r->op) {
	case SR_CREATE:
		return w_create(t, r);
	case SR_LEASE:
		return w_lease(t, r);
	case SR_LEASE_REDO:
		return STORE_OK; /* leases are answered after commit only */
	case SR_RECORD: /* stored at commit, with the others of its job */
		if (be->nrecs == be->rcap) {
			be->rcap = be->rcap ? 2 * be->rcap : 256;
			be->recs =
			    xrealloc(be->recs, be->rcap * sizeof(*be->recs));
		}
		be->recs[be->nrecs++] = r;
		r->seq = 0;
		return STORE_OK;
	case SR_RELEASE:
		return w_release(t, r);
	case SR_CANCEL:
		return w_cancel(t, r);
	case SR_CANCEL_SLICE:
		return w_cancel_slice(t, r);
	case SR_RETRY:
		return w_retry(t, r);
	case SR_DELETE:
		return w_delete(t, r);
	case SR_SWEEP:
		return w_sweep(t, r);
	case SR_TRASH_SLICE:
		return w_trash_slice(t, r);
	case SR_TRASH_DONE:
		return STORE_OK;
	default:
		r->err = STORE_EINTERNAL;
		return STORE_OK;
	}
}

/* The transaction's records of job id (from recs[from]), in one
 * statement; the others of that job are marked done (r->again). */
static enum store_err
flush_job_records(struct pg_be *be, size_t from, bool *seen)
{
	struct sreq *first = be->recs[from];
	struct pres *v = xcalloc(be->nrecs - from, sizeof(*v));
	struct sreq **who = xcalloc(be->nrecs - from, sizeof(*who));
	enum store_err err;
	struct pjob *j;
	size_t i, n = 0;

	for (i = from; i < be->nrecs; i++) {
		struct sreq *r = be->recs[i];

		if (seen[i] || strcmp(r->id, first->id) != 0)
			continue;
		seen[i] = true;
		who[n] = r;
		v[n] = (struct pres){r->index, r->attempt, r->outcome, r->line,
		    r->line_len, 0, r};
		n++;
	}
	err = pjob_get(&be->tx, first->id, &j);
	if (err == STORE_OK && j != NULL)
		err = pg_results(
		    &be->tx, j, STORE_ITEM_INFLIGHT, be->instance, v, n);
	for (i = 0; i < n && err == STORE_OK; i++) {
		who[i]->seq = v[i].seq;
		who[i]->err = j == NULL ? STORE_ENOENT
		    : v[i].seq == 0     ? STORE_ESTATE
		                        : STORE_OK;
	}
	free(v);
	free(who);
	return err;
}

enum store_err
pg_commit(void *p)
{
	struct pg_be *be = p;
	bool *seen = xcalloc(be->nrecs + 1, sizeof(*seen));
	enum store_err err = STORE_OK;
	size_t i;

	for (i = 0; i < be->nrecs && err == STORE_OK; i++)
		if (!seen[i])
			err = flush_job_records(be, i, seen);
	free(seen);
	if (err == STORE_OK)
		err = pg_flush_jobs(&be->tx);
	if (err == STORE_OK)
		err = pg_exec(&be->tx, "COMMIT");
	if (err != STORE_OK)
		return err;
	for (i = 0; i < be->nrecs; i++) /* in the database now */
		if (be->recs[i]->file != NULL)
			unlinkat(be->st->dirfd, be->recs[i]->file->path, 0);
	be->nrecs = 0;
	pg_tx_reset(&be->tx);
	return STORE_OK;
}

void
pg_rollback(void *p)
{
	struct pg_be *be = p;

	if (be->tx.c != NULL && PQstatus(be->tx.c) == CONNECTION_OK)
		pg_exec(&be->tx, "ROLLBACK");
	be->nrecs = 0;
	pg_tx_reset(&be->tx);
}
