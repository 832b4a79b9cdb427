/*
 * store_pg_write.c - the writer side of the PostgreSQL backend: every
 * change, one request at a time inside the transaction store_thread.c
 * opens and commits (group commit), on the writer's connection. Job
 * rows, result batches and bodies: store_pg_rows.c.
 *
 * A transaction's records are not written one by one: they are kept and,
 * at commit, each job's go in one statement (pg_results).
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

/* --- the writer's requests -------------------------------------------- */

/* r's job, locked: NULL (with r->err = ENOENT) when there is none. */
static enum store_err
req_job(struct pgtx *t, struct sreq *r, struct pjob **j)
{
	enum store_err err = pjob_get(t, r->id, j);

	if (err == STORE_OK && *j == NULL && !t->later)
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
	t->moved = true;
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
	t->moved = true;
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
	t->unordered = true; /* locked already, and by no one else */
	for (i = 0; i < n && err == STORE_OK; i++)
		if ((err = pjob_get(t, PQgetvalue(res, i, 0), &j)) ==
		        STORE_OK &&
		    j != NULL)
			err = trash_job(t, j);
	t->unordered = false;
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
	static const struct {
		const char *sql;
		int limit;
	} del[] = {
	    {"DELETE FROM items WHERE ctid = ANY(ARRAY(SELECT ctid FROM items "
	     "WHERE job = $1 LIMIT $2))",
	        TRASH_SLICE},
	    {"DELETE FROM results WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	     "results WHERE job = $1 LIMIT $2))",
	        TRASH_SLICE},
	    {"DELETE FROM body_meta WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	     "body_meta WHERE job = $1 LIMIT $2))",
	        TRASH_SLICE},
	    {"DELETE FROM body_parts WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
	     "body_parts WHERE job = $1 LIMIT $2))",
	        PARTS_SLICE},
	};
	char row[24], lim[24];
	const char *p[] = {I64(row, r->job_row), lim};
	enum store_err err = STORE_OK;
	PGresult *res;
	size_t i;

	r->count = 0;
	for (i = 0; i < sizeof(del) / sizeof(del[0]) && err == STORE_OK; i++) {
		I64(lim, del[i].limit);
		res = pg_q(t, del[i].sql, 2, p, PGRES_COMMAND_OK, &err);
		if (res != NULL)
			r->count +=
			    (uint64_t)strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
	}
	if (err == STORE_OK && r->count == 0) { /* all gone: forget it */
		res = pg_q(t, "DELETE FROM trash WHERE job = $1", 1, p,
		    PGRES_COMMAND_OK, &err);
		PQclear(res);
	}
	r->again = err == STORE_OK && r->count > 0;
	return err;
}

/* BEGIN, on a new connection should the old one have dropped since the
 * last transaction (a restarted server): nothing was done on it yet. Not
 * before the store is set up (pg_probe does that). */
enum store_err
pg_begin(void *p)
{
	struct pg_be *be = p;
	enum store_err err = STORE_EIO;
	int try;

	be->nrecs = 0;
	pg_tx_reset(&be->tx);
	if (!atomic_load(&be->ready))
		return STORE_EIO; /* werr: why setup failed */
	for (try = 0; try < 2; try++) {
		if ((err = pg_connect(&be->tx)) != STORE_OK)
			return err;
		err = pg_exec(&be->tx, "BEGIN");
		if (err == STORE_OK || PQstatus(be->tx.c) == CONNECTION_OK)
			break;
	}
	be->tx.ordered = err == STORE_OK; /* job rows in key order */
	be->tx.conflict = false;
	return err;
}

/* r's part of the transaction (pg_apply). */
static enum store_err
apply_one(struct pg_be *be, struct sreq *r)
{
	struct pgtx *t = &be->tx;
	enum store_err err;
	struct pjob *j;

	switch (r->op) {
	case SR_CREATE:
		return w_create(t, r);
	case SR_LEASE:
		return w_lease(t, r);
	case SR_LEASE_REDO:
		return STORE_OK; /* leases are answered after commit only */
	case SR_RECORD: /* stored at commit, with the others of its job */
		/* Its job locked now, in key order like the others. */
		if ((err = pjob_get(t, r->id, &j)) != STORE_OK || t->later)
			return err;
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

/* r, unless a job row it needs would be locked out of key order: then
 * r->later, nothing done (each w_* locks its job before anything). */
enum store_err
pg_apply(void *p, struct sreq *r)
{
	struct pg_be *be = p;
	enum store_err err = apply_one(be, r);

	if (be->tx.later) {
		be->tx.later = false;
		r->later = true;
	}
	return err;
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
	for (i = 0; i < be->nrecs; i++) { /* in the database now */
		struct sreq *r = be->recs[i];

		if (r->file == NULL)
			continue;
		if (atomic_load(&be->st->closing)) { /* files thread gone */
			unlinkat(be->st->dirfd, r->file->path, 0);
			continue;
		}
		r->drop_file = true;
		r->route = ROUTE_FILES;
	}
	if (be->tx.moved) /* /metrics: jobs by state, at once */
		pg_stats(&be->tx);
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
