/*
 * store_sqlite_write.c - the writer side of the SQLite backend: every
 * change to the database, applied one request at a time inside the
 * transaction store_thread.c opens and commits (group commit). Runs on
 * the writer thread only (and once in store_open, for recovery).
 *
 * Jobs are read and changed through the writer's cache of job rows
 * (store_sqlite_txn.c); every state change goes through store_job_step
 * / store_item_step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "util.h"

/* The SQL spells item states and the ok outcome as numbers, so that the
 * planner can match the partial indexes' WHERE clauses. */
_Static_assert(STORE_ITEM_PENDING == 0 && STORE_ITEM_INFLIGHT == 1 &&
        STORE_ITEM_DONE == 2 && STORE_OUT_OK == 0,
    "store_sqlite*.c spell these as 0, 1, 2 and 0");

#define CANCEL_SLICE 2000 /* items ended per transaction */
#define TRASH_SLICE  5000 /* rows removed per table per transaction */
#define SWEEP_SLICE  500  /* jobs expired per transaction */

/* A result for an item: `from` -ev-> done, the line gets the next seq.
 * body: the record request when a body goes with it. */
struct res {
	uint32_t index, attempt;
	enum store_item_state from;
	enum store_item_event ev;
	enum store_outcome outcome;
	const char *line;
	size_t len;
	const struct sreq *body;
};

static void
bind_body(sqlite3_stmt *s, const struct sreq *b)
{
	sqlite3_bind_text(
	    s, 11, b != NULL ? b->body_type : NULL, -1, SQLITE_STATIC);
	sqlite3_bind_text(
	    s, 12, b != NULL ? b->body_coding : NULL, -1, SQLITE_STATIC);
	if (b == NULL || !b->has_body) {
		sqlite3_bind_null(s, 7);
		sqlite3_bind_null(s, 8);
		sqlite3_bind_int(s, 9, 0);
		sqlite3_bind_null(s, 10);
	} else if (b->file != NULL) {
		sqlite3_bind_int64(s, 7, (int64_t)b->file->size);
		sqlite3_bind_text(s, 8, b->file->path, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 9, (int)b->body_err);
		sqlite3_bind_null(s, 10);
	} else {
		sqlite3_bind_int64(s, 7, (int64_t)b->chunk_len);
		sqlite3_bind_null(s, 8);
		sqlite3_bind_int(s, 9, 0);
		sqlite3_bind_blob64(s, 10, b->chunk_len ? b->chunk : "",
		    b->chunk_len, SQLITE_STATIC);
	}
}

static enum store_err
put_result(struct sqlite_be *be, struct wjob *j, const struct res *x,
    uint64_t *seq, enum store_err *refused)
{
	sqlite3_stmt *s = be->ws[W_ITEM_DONE];
	uint64_t next = j->job.last_seq + 1;
	bool ok = x->outcome == STORE_OUT_OK;
	enum store_err err;

	if (next > SEQ_MAX || x->index >= j->job.n.total) {
		*refused = next > SEQ_MAX ? STORE_ELIMIT : STORE_ENOENT;
		return STORE_OK;
	}
	sqlite3_bind_int64(s, 1, ROW_KEY(j->row, x->index));
	sqlite3_bind_int(s, 2, store_item_step(x->from, x->ev));
	sqlite3_bind_int(s, 3, (int)x->outcome);
	sqlite3_bind_int64(s, 4, (int64_t)next);
	sqlite3_bind_int(s, 5, (int)x->from);
	sqlite3_bind_int64(s, 6, x->attempt);
	if ((err = wrun(be, W_ITEM_DONE)) != STORE_OK)
		return err;
	if (sqlite3_changes(be->w) == 0) {
		*refused = STORE_ESTATE;
		return STORE_OK;
	}
	s = be->ws[W_RESULT_INSERT];
	sqlite3_bind_int64(s, 1, ROW_KEY(j->row, next));
	sqlite3_bind_int64(s, 2, j->row);
	sqlite3_bind_int64(s, 3, x->index);
	sqlite3_bind_int64(s, 4, x->attempt);
	sqlite3_bind_int(s, 5, (int)x->outcome);
	sqlite3_bind_text64(s, 6, x->line, x->len, SQLITE_STATIC, SQLITE_UTF8);
	bind_body(s, x->body);
	if ((err = wrun(be, W_RESULT_INSERT)) != STORE_OK)
		return err;
	if (x->body != NULL && x->body->file != NULL &&
	    x->body->body_err == STORE_OK) {
		j->body_bytes += x->body->file->size;
		be->live.body_bytes += x->body->file->size;
	}
	j->job.last_seq = next;
	*seq = next;
	wjob_count(be, j, x->from == STORE_ITEM_PENDING ? -1 : 0,
	    x->from == STORE_ITEM_INFLIGHT ? -1 : 0, ok ? 1 : 0, ok ? 0 : 1);
	return STORE_OK;
}

/* The line the store writes for an item it ends itself. */
static char *
synth_line(struct sqlite_be *be, const struct store_synth *s)
{
	char *line = be->st->cfg.line(s);

	return line != NULL ? line : store_line_default(s);
}

/* Pending (or in-flight) rows read before they are changed. */
struct prow {
	int64_t id;
	uint32_t attempt;
	unsigned flags;
	size_t off, len; /* the spec, in rows.text */
	size_t key;      /* W_INFLIGHT: the job id, in rows.text */
};

struct prows {
	struct prow *v;
	size_t n;
	struct buf text;
};

static void
prows_free(struct prows *p)
{
	free(p->v);
	buf_free(&p->text);
}

/* Up to max rows of statement w (W_PENDING bound to job, or
 * W_INFLIGHT); spec in column spec_col, job id in key_col (or -1). */
static enum store_err
collect(struct sqlite_be *be, enum wstmt w, int spec_col, int key_col,
    size_t max, struct prows *p)
{
	sqlite3_stmt *s = be->ws[w];
	size_t cap = 0;
	int rc;

	memset(p, 0, sizeof(*p));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && p->n < max) {
		struct prow *x;

		if (p->n == cap) {
			cap = cap ? cap * 2 : 64;
			p->v = xrealloc(p->v, cap * sizeof(*p->v));
		}
		x = &p->v[p->n++];
		x->id = sqlite3_column_int64(s, 0);
		x->attempt = (uint32_t)sqlite3_column_int64(s, spec_col - 2);
		x->flags = (unsigned)sqlite3_column_int(s, spec_col - 1);
		x->off = p->text.len;
		x->len = (size_t)sqlite3_column_bytes(s, spec_col);
		buf_add(&p->text, sqlite3_column_text(s, spec_col), x->len);
		buf_addc(&p->text, '\0');
		x->key = p->text.len;
		if (key_col >= 0) {
			buf_add(&p->text, sqlite3_column_text(s, key_col),
			    STORE_ID_LEN);
			buf_addc(&p->text, '\0');
		}
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		prows_free(p);
		return sqlite_err(be, be->w, rc);
	}
	return STORE_OK;
}

/* Up to max of j's pending rows, lowest index first: a range scan of its
 * rows from j->pending_from. */
static enum store_err
pending_rows(struct sqlite_be *be, struct wjob *j, size_t max, struct prows *p)
{
	sqlite3_stmt *s = be->ws[W_PENDING];

	sqlite3_bind_int64(s, 1, ROW_KEY(j->row, j->pending_from));
	sqlite3_bind_int64(s, 2, ROW_KEY(j->row, SEQ_MAX));
	sqlite3_bind_int64(s, 3, (int64_t)max);
	return collect(be, W_PENDING, 3, -1, max, p);
}

/* An item of j is pending again: the lease cursor goes back to it. */
static void
pending_again(struct wjob *j, uint32_t index)
{
	if (index < j->pending_from)
		j->pending_from = index;
}

/* Set an item's state by event, if it is in `from` under attempt. */
static enum store_err
item_move(struct sqlite_be *be, int64_t id, uint32_t attempt,
    enum store_item_state from, enum store_item_event ev, bool *moved)
{
	sqlite3_stmt *s = be->ws[W_ITEM_STATE];
	enum store_err err;

	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int(s, 2, store_item_step(from, ev));
	sqlite3_bind_int(s, 3, (int)from);
	sqlite3_bind_int64(s, 4, attempt);
	err = wrun(be, W_ITEM_STATE);
	*moved = err == STORE_OK && sqlite3_changes(be->w) == 1;
	return err;
}

/* Look up r's job: NULL (with r->err = ENOENT) when there is none. */
static enum store_err
req_job(struct sqlite_be *be, struct sreq *r, struct wjob **j)
{
	enum store_err err = wjob_get(be, r->id, j);

	if (err == STORE_OK && *j == NULL)
		r->err = STORE_ENOENT;
	return err;
}

/* Insert r's items from *next on: ITEM_INSERT_ROWS of them in one
 * statement while that many are left, else one; *next moves past them.
 * A made item's spec lives until the next is made: the many-row
 * statement copies it (SQLITE_TRANSIENT). */
static enum store_err
insert_items(struct sqlite_be *be, struct sreq *r, int64_t row, size_t *next)
{
	bool many = r->nitems - *next >= ITEM_INSERT_ROWS;
	enum wstmt w = many ? W_ITEM_INSERT_MANY : W_ITEM_INSERT;
	sqlite3_stmt *s = be->ws[w];
	size_t k, n = many ? ITEM_INSERT_ROWS : 1;

	for (k = 0; k < n; k++) {
		struct store_item_spec made;
		const struct store_item_spec *it = &made;
		int at = 4 * (int)k;

		if (r->item_fn != NULL)
			r->item_fn(r->item_arg, (uint32_t)(*next + k), &made);
		else
			it = &r->items[*next + k];
		sqlite3_bind_int64(s, at + 1, ROW_KEY(row, it->index));
		sqlite3_bind_int64(s, at + 2, row);
		sqlite3_bind_int(s, at + 3, (int)it->flags);
		sqlite3_bind_text64(s, at + 4, it->spec, it->spec_len,
		    many ? SQLITE_TRANSIENT : SQLITE_STATIC, SQLITE_UTF8);
	}
	*next += n;
	return wrun(be, w);
}

/* Every pending item of j from index lo to hi in flight (one UPDATE);
 * *moved: how many, which must be `expect` unless that is < 0 (this
 * thread alone writes: anything else is a bug, EINTERNAL). */
static enum store_err
lease_range(struct sqlite_be *be, const struct wjob *j, uint32_t lo,
    uint32_t hi, int64_t expect, int64_t *moved)
{
	sqlite3_stmt *s = be->ws[W_LEASE_RANGE];
	enum store_err err;

	sqlite3_bind_int64(s, 1, ROW_KEY(j->row, lo));
	sqlite3_bind_int64(s, 2, ROW_KEY(j->row, hi));
	sqlite3_bind_int(
	    s, 3, store_item_step(STORE_ITEM_PENDING, STORE_ITEM_EV_LEASE));
	sqlite3_bind_int(s, 4, STORE_ITEM_PENDING);
	err = wrun(be, W_LEASE_RANGE);
	*moved = err == STORE_OK ? sqlite3_changes(be->w) : 0;
	if (err == STORE_OK && expect >= 0 && *moved != expect) {
		snprintf(be->errmsg, sizeof(be->errmsg),
		    "job %s: leased %lld rows of %lld", j->job.id,
		    (long long)*moved, (long long)expect);
		err = STORE_EINTERNAL;
	}
	return err;
}

static enum store_err
w_create(struct sqlite_be *be, struct sreq *r)
{
	struct store *st = be->st;
	sqlite3_stmt *s;
	struct wjob *j;
	enum store_err err;
	int64_t moved;
	size_t i;

	if (r->spec.idem != NULL) {
		int rc;

		s = be->ws[W_JOB_BY_IDEM];
		sqlite3_bind_text(s, 1, r->spec.idem, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW)
			memcpy(r->id, sqlite3_column_text(s, 0), STORE_ID_LEN);
		sqlite3_reset(s);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return sqlite_err(be, be->w, rc);
		if (rc == SQLITE_ROW) {
			if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
				return err;
			return wjob_answer(be, r, j, true);
		}
	}
	if (st->cfg.max_active != 0 &&
	    be->live.jobs[STORE_JOB_QUEUED] +
	            be->live.jobs[STORE_JOB_RUNNING] >=
	        st->cfg.max_active) {
		r->err = STORE_ELIMIT;
		return STORE_OK;
	}
	if (be->over) {
		r->err = STORE_EFULL;
		return STORE_OK;
	}
	j = xcalloc(1, sizeof(*j));
	if (r->spec.id != NULL)
		memcpy(j->job.id, r->spec.id, sizeof(j->job.id));
	else
		store_new_id(st, j->job.id);
	j->job.state = STORE_JOB_QUEUED;
	j->job.n.total = j->job.n.pending = r->nitems;
	j->job.created_ms = store_now_ms(st);
	j->job.ttl_s = r->spec.ttl_s != 0 ? r->spec.ttl_s : st->cfg.ttl_s;
	s = be->ws[W_JOB_INSERT];
	sqlite3_bind_text(s, 1, j->job.id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, r->spec.idem, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, r->spec.name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, STORE_JOB_QUEUED);
	sqlite3_bind_int64(s, 5, (int64_t)r->nitems);
	sqlite3_bind_int64(s, 6, j->job.created_ms);
	sqlite3_bind_int64(s, 7, j->job.ttl_s);
	sqlite3_bind_text(s, 8, r->spec.options, -1, SQLITE_STATIC);
	err = wrun(be, W_JOB_INSERT);
	j->row = sqlite3_last_insert_rowid(be->w);
	if (err == STORE_OK && j->row >= ROW_JOB_MAX) {
		snprintf(be->errmsg, sizeof(be->errmsg), "job ids exhausted");
		err = STORE_EINTERNAL;
	}
	for (i = 0; i < r->nitems && err == STORE_OK;)
		err = insert_items(be, r, j->row, &i);
	if (err == STORE_OK && r->spec.leased > 0) /* an early start */
		err = lease_range(
		    be, j, 0, r->spec.leased - 1, r->spec.leased, &moved);
	if (err != STORE_OK) {
		free(j);
		return err;
	}
	htab_put(&be->jobs, j->job.id, j);
	be->live.jobs[STORE_JOB_QUEUED]++;
	be->live.pending += r->nitems;
	memcpy(r->id, j->job.id, sizeof(r->id));
	wjob_count(be, j, 0, 0, 0, 0); /* an empty job is done at once */
	if (r->spec.leased > 0) {      /* its runner has them already */
		j->pending_from = r->spec.leased;
		wjob_count(be, j, -(int64_t)r->spec.leased,
		    (int64_t)r->spec.leased, 0, 0);
		wjob_move(be, j, STORE_JOB_EV_LEASE);
	}
	return wjob_answer(be, r, j, false);
}

/* Lease up to r->max pending items: the lowest ones, read in one range
 * scan and moved in flight by one UPDATE of the same range (it holds no
 * other pending row). */
static enum store_err
w_lease(struct sqlite_be *be, struct sreq *r)
{
	struct store_leased *out;
	struct prows p;
	struct wjob *j;
	enum store_err err;
	int64_t moved;
	size_t i;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (store_job_step(j->job.state, STORE_JOB_EV_LEASE) < 0) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	if (be->over) {
		r->err = STORE_EFULL;
		return STORE_OK;
	}
	if ((err = pending_rows(be, j, r->max, &p)) != STORE_OK)
		return err;
	if (p.n > 0)
		err = lease_range(be, j, (uint32_t)(p.v[0].id & 0xffffffff),
		    (uint32_t)(p.v[p.n - 1].id & 0xffffffff), (int64_t)p.n,
		    &moved);
	if (err != STORE_OK) {
		prows_free(&p);
		return err;
	}
	out = xmalloc(p.n * sizeof(*out) + p.text.len + 1);
	if (p.text.len > 0)
		memcpy(out + p.n, p.text.data, p.text.len);
	for (i = 0; i < p.n; i++) {
		out[i].index = (uint32_t)(p.v[i].id & 0xffffffff);
		out[i].attempt = p.v[i].attempt;
		out[i].flags = p.v[i].flags;
		out[i].spec = (const char *)(out + p.n) + p.v[i].off;
		out[i].spec_len = p.v[i].len;
	}
	r->out = out;
	r->leased = out;
	r->count = p.n;
	if (p.n > 0) {
		j->pending_from = out[p.n - 1].index + 1;
		wjob_count(be, j, -(int64_t)p.n, (int64_t)p.n, 0, 0);
		wjob_move(be, j, STORE_JOB_EV_LEASE);
	} else {
		j->pending_from = (uint32_t)j->job.n.total;
	}
	prows_free(&p);
	return STORE_OK;
}

/* A lease whose answer went out before its transaction failed: the same
 * items (those of the range still pending: all of them, as the rollback
 * left them) in flight again. */
static enum store_err
w_lease_redo(struct sqlite_be *be, struct sreq *r)
{
	struct wjob *j;
	enum store_err err;
	int64_t k;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if ((err = lease_range(
	         be, j, (uint32_t)r->lo, (uint32_t)r->hi, -1, &k)) != STORE_OK)
		return err;
	if (k > 0) {
		wjob_count(be, j, -k, k, 0, 0);
		wjob_move(be, j, STORE_JOB_EV_LEASE);
	}
	return STORE_OK;
}

static enum store_err
w_record(struct sqlite_be *be, struct sreq *r)
{
	struct res x = {r->index, r->attempt, STORE_ITEM_INFLIGHT,
	    STORE_ITEM_EV_RESULT, r->outcome, r->line, r->line_len, r};
	struct wjob *j;
	enum store_err err;

	if ((err = req_job(be, r, &j)) == STORE_OK && j != NULL)
		err = put_result(be, j, &x, &r->seq, &r->err);
	if (err == STORE_OK && r->err != STORE_OK && r->file != NULL)
		r->route = ROUTE_FILES; /* refused: its body file goes */
	return err;
}

static enum store_err
w_release(struct sqlite_be *be, struct sreq *r)
{
	struct wjob *j;
	enum store_err err;
	bool moved;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (r->index >= j->job.n.total) {
		r->err = STORE_ENOENT;
		return STORE_OK;
	}
	err = item_move(be, ROW_KEY(j->row, r->index), r->attempt,
	    STORE_ITEM_INFLIGHT, STORE_ITEM_EV_RELEASE, &moved);
	if (err != STORE_OK || !moved) {
		r->err = STORE_ESTATE;
		return err;
	}
	wjob_count(be, j, 1, -1, 0, 0);
	pending_again(j, r->index);
	if (j->job.state == STORE_JOB_CANCELLED) { /* it is cancelled too */
		struct sreq *s = sreq_new(SR_CANCEL_SLICE, 0);

		memcpy(s->id, j->job.id, sizeof(s->id));
		store_spawn(be->st, s);
	}
	return STORE_OK;
}

static enum store_err
w_cancel(struct sqlite_be *be, struct sreq *r)
{
	struct wjob *j;
	enum store_err err;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (store_job_step(j->job.state, STORE_JOB_EV_CANCEL) < 0) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	wjob_move(be, j, STORE_JOB_EV_CANCEL);
	if (j->job.n.pending > 0) {
		struct sreq *s = sreq_new(SR_CANCEL_SLICE, 0);

		memcpy(s->id, j->job.id, sizeof(s->id));
		store_spawn(be->st, s);
	}
	return wjob_answer(be, r, j, false);
}

/* End the next slice of a cancelled job's pending items. */
static enum store_err
w_cancel_slice(struct sqlite_be *be, struct sreq *r)
{
	struct prows p;
	struct wjob *j;
	enum store_err err, refused = STORE_OK;
	size_t i;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL ||
	    j->job.state != STORE_JOB_CANCELLED || j->job.n.pending == 0)
		return err;
	if ((err = pending_rows(be, j, CANCEL_SLICE, &p)) != STORE_OK)
		return err;
	for (i = 0; i < p.n && err == STORE_OK; i++) {
		struct store_synth s = {(uint32_t)(p.v[i].id & 0xffffffff),
		    p.v[i].attempt, STORE_OUT_CANCELLED,
		    p.text.data + p.v[i].off, p.v[i].len};
		char *line = synth_line(be, &s);
		struct res x = {s.index, s.attempt, STORE_ITEM_PENDING,
		    STORE_ITEM_EV_CANCEL, STORE_OUT_CANCELLED, line,
		    strlen(line), NULL};

		err = put_result(be, j, &x, &r->seq, &refused);
		free(line);
	}
	r->count = p.n;
	r->again = err == STORE_OK && j->job.n.pending > 0;
	prows_free(&p);
	return err;
}

static enum store_err
w_retry(struct sqlite_be *be, struct sreq *r)
{
	sqlite3_stmt *s = be->ws[W_RETRY];
	struct wjob *j;
	enum store_err err;
	uint64_t k;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (j->job.n.failed > 0) {
		sqlite3_bind_int64(s, 1, ROW_KEY(j->row, 0));
		sqlite3_bind_int64(s, 2, ROW_KEY(j->row, SEQ_MAX));
		sqlite3_bind_int(s, 3,
		    store_item_step(STORE_ITEM_DONE, STORE_ITEM_EV_RETRY));
		sqlite3_bind_int(s, 4, STORE_ITEM_DONE);
		if ((err = wrun(be, W_RETRY)) != STORE_OK)
			return err;
		k = (uint64_t)sqlite3_changes64(be->w);
		if (k != j->job.n.failed)
			log_error("store: job %s counted %llu failed, retried "
			          "%llu",
			    j->job.id, (unsigned long long)j->job.n.failed,
			    (unsigned long long)k);
		j->job.n.failed = k; /* the rows are the truth */
		j->pending_from = 0;
		wjob_count(be, j, (int64_t)k, 0, 0, -(int64_t)k);
		wjob_move(be, j, STORE_JOB_EV_RETRY);
	}
	return wjob_answer(be, r, j, false);
}

/* Move a job to the trash: gone at once, its rows removed in slices. */
static enum store_err
trash_job(struct sqlite_be *be, struct wjob *j)
{
	sqlite3_stmt *s = be->ws[W_TRASH_INSERT];
	enum store_err err;
	struct sreq *t;

	sqlite3_bind_int64(s, 1, j->row);
	sqlite3_bind_text(s, 2, j->job.id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 3, (int64_t)j->body_bytes);
	if ((err = wrun(be, W_TRASH_INSERT)) != STORE_OK)
		return err;
	sqlite3_bind_int64(be->ws[W_JOB_DELETE], 1, j->row);
	if ((err = wrun(be, W_JOB_DELETE)) != STORE_OK)
		return err;
	be->live.jobs[j->job.state]--;
	be->live.pending -= j->job.n.pending;
	htab_del(&be->jobs, j->job.id);
	wjob_dirty(be, j);
	j->gone = true;
	t = sreq_new(SR_TRASH_SLICE, 0);
	memcpy(t->id, j->job.id, sizeof(t->id));
	t->job_row = j->row;
	t->body_bytes = j->body_bytes;
	store_spawn(be->st, t);
	log_debug("store: job %s deleted", j->job.id);
	return STORE_OK;
}

static enum store_err
w_delete(struct sqlite_be *be, struct sreq *r)
{
	struct wjob *j;
	enum store_err err;

	if ((err = req_job(be, r, &j)) != STORE_OK || j == NULL)
		return err;
	if (j->job.state != STORE_JOB_DONE &&
	    j->job.state != STORE_JOB_CANCELLED) {
		r->err = STORE_ESTATE;
		return STORE_OK;
	}
	return trash_job(be, j);
}

static enum store_err
w_sweep(struct sqlite_be *be, struct sreq *r)
{
	sqlite3_stmt *s = be->ws[W_EXPIRED];
	char keys[SWEEP_SLICE][STORE_ID_LEN + 1];
	size_t n = 0, i;
	struct wjob *j;
	enum store_err err = STORE_OK;
	int rc;

	sqlite3_bind_int64(s, 1, store_now_ms(be->st));
	sqlite3_bind_int(s, 2, SWEEP_SLICE);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && n < SWEEP_SLICE)
		snprintf(keys[n++], sizeof(keys[0]), "%s",
		    (const char *)sqlite3_column_text(s, 0));
	sqlite3_reset(s);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return sqlite_err(be, be->w, rc);
	for (i = 0; i < n && err == STORE_OK; i++)
		if ((err = wjob_get(be, keys[i], &j)) == STORE_OK && j != NULL)
			err = trash_job(be, j);
	r->count += n;
	r->again = n == SWEEP_SLICE;
	return err;
}

/* Remove the next slice of a deleted job's rows; when none is left, its
 * bodies go (files thread), then the trash row (SR_TRASH_DONE). */
static enum store_err
w_trash_slice(struct sqlite_be *be, struct sreq *r)
{
	static const enum wstmt del[] = {W_TRASH_ITEMS, W_TRASH_RESULTS};
	enum store_err err = STORE_OK;
	size_t i;

	r->count = 0;
	for (i = 0; i < 2 && err == STORE_OK; i++) {
		sqlite3_stmt *s = be->ws[del[i]];

		sqlite3_bind_int64(s, 1, ROW_KEY(r->job_row, 0));
		sqlite3_bind_int64(s, 2, ROW_KEY(r->job_row, SEQ_MAX));
		sqlite3_bind_int(s, 3, TRASH_SLICE);
		err = wrun(be, del[i]);
		r->count += (uint64_t)sqlite3_changes(be->w);
	}
	r->again = err == STORE_OK && r->count > 0;
	if (!r->again) {
		r->op = SR_RMDIR;
		r->route = ROUTE_FILES;
	}
	return err;
}

static enum store_err
w_trash_done(struct sqlite_be *be, struct sreq *r)
{
	enum store_err err;

	sqlite3_bind_int64(be->ws[W_TRASH_FORGET], 1, r->job_row);
	if ((err = wrun(be, W_TRASH_FORGET)) == STORE_OK)
		be->live.body_bytes -= r->body_bytes;
	return err;
}

/* Must r's answer wait for the disk, whatever `durable` says? A job
 * created ("201 once durably stored"), the caller's own changes, and a
 * lease of unsafe items (lost, they would be sent again). */
static bool
wants_sync(const struct sreq *r)
{
	size_t i;

	switch (r->op) {
	case SR_CREATE:
	case SR_CANCEL:
	case SR_RETRY:
	case SR_DELETE:
	case SR_SWEEP:
		return r->err == STORE_OK;
	case SR_LEASE:
		for (i = 0; i < r->count; i++)
			if ((r->leased[i].flags & STORE_ITEM_UNSAFE) &&
			    !(r->leased[i].flags & STORE_ITEM_RETRY_UNSAFE))
				return true;
		return false;
	default:
		return false;
	}
}

static enum store_err
apply(struct sqlite_be *be, struct sreq *r)
{
	switch (r->op) {
	case SR_CREATE:
		return w_create(be, r);
	case SR_LEASE:
		return w_lease(be, r);
	case SR_LEASE_REDO:
		return w_lease_redo(be, r);
	case SR_RECORD:
		return w_record(be, r);
	case SR_RELEASE:
		return w_release(be, r);
	case SR_CANCEL:
		return w_cancel(be, r);
	case SR_CANCEL_SLICE:
		return w_cancel_slice(be, r);
	case SR_RETRY:
		return w_retry(be, r);
	case SR_DELETE:
		return w_delete(be, r);
	case SR_SWEEP:
		return w_sweep(be, r);
	case SR_TRASH_SLICE:
		return w_trash_slice(be, r);
	case SR_TRASH_DONE:
		return w_trash_done(be, r);
	default:
		r->err = STORE_EINTERNAL;
		return STORE_OK;
	}
}

enum store_err
sqlite_apply(void *p, struct sreq *r)
{
	struct sqlite_be *be = p;
	enum store_err err = apply(be, r);

	if (err == STORE_OK && wants_sync(r))
		be->sync_wanted = true;
	return err;
}

enum store_err
sqlite_recover(struct sqlite_be *be)
{
	struct prows p;
	enum store_err err, refused = STORE_OK;
	uint64_t back = 0, stopped = 0, seq;
	size_t i;

	if ((err = collect(be, W_INFLIGHT, 4, 1, SIZE_MAX, &p)) != STORE_OK)
		return err;
	for (i = 0; i < p.n && err == STORE_OK; i++) {
		const struct prow *x = &p.v[i];
		struct wjob *j;
		bool moved;

		if ((err = wjob_get(be, p.text.data + x->key, &j)) !=
		        STORE_OK ||
		    j == NULL)
			continue;
		if ((x->flags & STORE_ITEM_UNSAFE) &&
		    !(x->flags & STORE_ITEM_RETRY_UNSAFE)) {
			struct store_synth s = {(uint32_t)(x->id & 0xffffffff),
			    x->attempt, STORE_OUT_INTERRUPTED,
			    p.text.data + x->off, x->len};
			char *line = synth_line(be, &s);
			struct res r = {s.index, s.attempt, STORE_ITEM_INFLIGHT,
			    STORE_ITEM_EV_INTERRUPT, STORE_OUT_INTERRUPTED,
			    line, strlen(line), NULL};

			err = put_result(be, j, &r, &seq, &refused);
			free(line);
			stopped++;
		} else {
			err = item_move(be, x->id, x->attempt,
			    STORE_ITEM_INFLIGHT, STORE_ITEM_EV_RELEASE, &moved);
			if (err == STORE_OK && moved) {
				wjob_count(be, j, 1, -1, 0, 0);
				pending_again(
				    j, (uint32_t)(x->id & 0xffffffff));
			}
			back++;
		}
	}
	prows_free(&p);
	if (p.n > 0)
		log_info("store: recovered %zu items in flight: %llu back to "
		         "pending, %llu ended interrupted",
		    p.n, (unsigned long long)back, (unsigned long long)stopped);
	return err;
}
