/*
 * store_req.c - the loop thread's side of every store operation (see
 * store.h): check the arguments, copy them into a request, queue it to
 * the thread that runs it; and, when it comes back, run its callback and
 * free it (store_deliver). Nothing here touches the disk.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "store_int.h"
#include "util.h"

#define NAME_MAX_BYTES 200
#define IDEM_MAX_BYTES 255
#define LEASE_MAX      10000
#define LIST_MAX       1000
#define BODY_PAGE_MAX  (1024 * 1024)

struct sreq *
sreq_new(enum sreq_op op, size_t extra)
{
	struct sreq *r = xcalloc(1, sizeof(*r));

	r->op = op;
	if (extra > 0)
		r->data = xmalloc(extra);
	return r;
}

void
sreq_free(struct sreq *r)
{
	if (r->owns_file)
		sfile_free(r->file);
	free(r->data);
	free(r->blob);
	free(r->out);
	free(r->body_type);
	free(r->body_coding);
	free(r);
}

void
sreq_set_job_strings(struct sreq *r, const char *name, size_t name_len,
    const char *options, size_t options_len)
{
	char *p = xmalloc(name_len + options_len + 2);

	free(r->out);
	r->out = p;
	memcpy(p, options, options_len);
	p[options_len] = '\0';
	r->job.options = p;
	r->job.name = NULL;
	if (name != NULL) {
		memcpy(p + options_len + 1, name, name_len);
		p[options_len + 1 + name_len] = '\0';
		r->job.name = p + options_len + 1;
	}
}

/* Queue r to q, or free it when the store is closing. */
static enum store_err
submit(struct store *st, struct sreq *r, struct squeue *q)
{
	if (atomic_load(&st->closing) || !squeue_push(q, r)) {
		sreq_free(r);
		return STORE_ECLOSED;
	}
	return STORE_OK;
}

/* A request about job id, or NULL when id is not one. */
static struct sreq *
job_req(enum sreq_op op, const char *id, void *arg)
{
	struct sreq *r;

	if (!store_id_valid(id))
		return NULL;
	r = sreq_new(op, 0);
	memcpy(r->id, id, STORE_ID_LEN + 1);
	r->arg = arg;
	return r;
}

/* Each index of 0..n-1 exactly once? */
static bool
indexes_ok(const struct store_item_spec *items, size_t n)
{
	unsigned char *seen = xcalloc(n / 8 + 1, 1);
	bool ok = true;
	size_t i;

	for (i = 0; i < n && ok; i++) {
		uint32_t x = items[i].index;

		if (x >= n || (seen[x / 8] & (1u << (x % 8))))
			ok = false;
		else
			seen[x / 8] |= (unsigned char)(1u << (x % 8));
	}
	free(seen);
	return ok;
}

static bool
text_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return true;
	n = strlen(s);
	return n > 0 && n <= max;
}

/* An early start's ID and leased items make sense (store_job_spec). */
static bool
early_ok(const struct store *st, const struct store_job_spec *spec, size_t n)
{
	if (spec->id == NULL && spec->leased == 0)
		return true;
	return spec->id != NULL && store_id_valid(spec->id) &&
	    spec->leased <= n && spec->idem == NULL && !store_shared(st);
}

/* Copy the job spec and the items into one block of r->data. */
static void
copy_create(struct sreq *r, const struct store_job_spec *spec,
    const struct store_item_spec *items, size_t n)
{
	const char *opts = spec->options != NULL ? spec->options : "{}";
	size_t size = n * sizeof(*items) + strlen(opts) + 1, i;
	char *p;

	size += spec->name != NULL ? strlen(spec->name) + 1 : 0;
	size += spec->idem != NULL ? strlen(spec->idem) + 1 : 0;
	for (i = 0; i < n; i++)
		size += items[i].spec_len + 1;
	r->data = xmalloc(size);
	r->items = r->data;
	p = (char *)r->data + n * sizeof(*items);
	r->spec.ttl_s = spec->ttl_s;
	r->spec.options = strcpy(p, opts);
	p += strlen(p) + 1;
	if (spec->name != NULL) {
		r->spec.name = strcpy(p, spec->name);
		p += strlen(p) + 1;
	}
	if (spec->idem != NULL) {
		r->spec.idem = strcpy(p, spec->idem);
		p += strlen(p) + 1;
	}
	if (spec->id != NULL) {
		memcpy(r->id, spec->id, STORE_ID_LEN + 1);
		r->spec.id = r->id;
	}
	r->spec.leased = spec->leased;
	for (i = 0; i < n; i++) {
		r->items[i] = items[i];
		memcpy(p, items[i].spec, items[i].spec_len);
		p[items[i].spec_len] = '\0';
		r->items[i].spec = p;
		p += items[i].spec_len + 1;
	}
	r->nitems = n;
}

enum store_err
store_create_from(struct store *st, const struct store_job_spec *spec, size_t n,
    store_item_fn fn, void *fn_arg, store_job_cb cb, void *arg)
{
	struct sreq *r;

	if (!text_ok(spec->name, NAME_MAX_BYTES) ||
	    !text_ok(spec->idem, IDEM_MAX_BYTES) || n > UINT32_MAX ||
	    !early_ok(st, spec, n))
		return STORE_EINVAL;
	if (st->cfg.max_items != 0 && n > st->cfg.max_items)
		return STORE_ELIMIT;
	r = sreq_new(SR_CREATE, 0);
	copy_create(r, spec, NULL, 0);
	r->nitems = n;
	r->item_fn = fn;
	r->item_arg = fn_arg;
	r->cb.job = cb;
	r->arg = arg;
	return submit(st, r, &st->wq);
}

enum store_err
store_create(struct store *st, const struct store_job_spec *spec,
    const struct store_item_spec *items, size_t n, store_job_cb cb, void *arg)
{
	struct sreq *r;

	if (!text_ok(spec->name, NAME_MAX_BYTES) ||
	    !text_ok(spec->idem, IDEM_MAX_BYTES) || n > UINT32_MAX ||
	    !indexes_ok(items, n) || !early_ok(st, spec, n))
		return STORE_EINVAL;
	if (st->cfg.max_items != 0 && n > st->cfg.max_items)
		return STORE_ELIMIT;
	r = sreq_new(SR_CREATE, 0);
	copy_create(r, spec, items, n);
	r->cb.job = cb;
	r->arg = arg;
	return submit(st, r, &st->wq);
}

/* Queue a request about one job that answers with the job. */
static enum store_err
job_op(struct store *st, enum sreq_op op, const char *id, store_job_cb cb,
    void *arg, struct squeue *q)
{
	struct sreq *r = job_req(op, id, arg);

	if (r == NULL)
		return STORE_EINVAL;
	r->cb.job = cb;
	return submit(st, r, q);
}

enum store_err
store_get(struct store *st, const char *id, store_job_cb cb, void *arg)
{
	return job_op(st, SR_GET, id, cb, arg, &st->rq);
}

enum store_err
store_cancel(struct store *st, const char *id, store_job_cb cb, void *arg)
{
	return job_op(st, SR_CANCEL, id, cb, arg, &st->wq);
}

enum store_err
store_retry(struct store *st, const char *id, store_job_cb cb, void *arg)
{
	return job_op(st, SR_RETRY, id, cb, arg, &st->wq);
}

enum store_err
store_delete(struct store *st, const char *id, store_done_cb cb, void *arg)
{
	struct sreq *r = job_req(SR_DELETE, id, arg);

	if (r == NULL)
		return STORE_EINVAL;
	r->cb.done = cb;
	return submit(st, r, &st->wq);
}

enum store_err
store_sweep(struct store *st, store_sweep_cb cb, void *arg)
{
	struct sreq *r = sreq_new(SR_SWEEP, 0);

	r->cb.sweep = cb;
	r->arg = arg;
	return submit(st, r, &st->wq);
}

enum store_err
store_list(struct store *st, const struct store_list_query *q, store_list_cb cb,
    void *arg)
{
	struct sreq *r;

	if (q->after != NULL && !store_id_valid(q->after))
		return STORE_EINVAL;
	r = sreq_new(SR_LIST, 0);
	r->q = *q;
	r->q.after = NULL;
	if (q->after != NULL) {
		memcpy(r->id, q->after, STORE_ID_LEN + 1);
		r->q.after = r->id;
	}
	if (r->q.limit == 0)
		r->q.limit = 100;
	if (r->q.limit > LIST_MAX)
		r->q.limit = LIST_MAX;
	r->cb.list = cb;
	r->arg = arg;
	return submit(st, r, &st->rq);
}

enum store_err
store_lease(struct store *st, const char *id, uint32_t max, store_lease_cb cb,
    void *arg)
{
	struct sreq *r;

	if (max == 0 || max > LEASE_MAX ||
	    (r = job_req(SR_LEASE, id, arg)) == NULL)
		return STORE_EINVAL;
	r->max = max;
	r->cb.lease = cb;
	return submit(st, r, &st->wq);
}

enum store_err
store_record(struct store *st, const struct store_result *res,
    store_record_cb cb, void *arg)
{
	struct sreq *r;

	if ((unsigned)res->outcome >= STORE_OUT__COUNT || res->line == NULL ||
	    (r = job_req(SR_RECORD, res->job, arg)) == NULL)
		return STORE_EINVAL;
	if (atomic_load(&st->closing)) {
		sreq_free(r);
		return STORE_ECLOSED;
	}
	r->index = res->index;
	r->attempt = res->attempt;
	r->outcome = res->outcome;
	r->data = xmalloc(res->line_len + 1);
	memcpy(r->data, res->line, res->line_len);
	((char *)r->data)[res->line_len] = '\0';
	r->line = r->data;
	r->line_len = res->line_len;
	r->cb.record = cb;
	if (res->body == NULL)
		return submit(st, r, &st->wq);
	if (!store_body_take(res->body, r)) {
		sreq_free(r);
		return STORE_EINVAL;
	}
	return submit(st, r, r->file != NULL ? &st->fq : &st->wq);
}

enum store_err
store_release(struct store *st, const char *id, uint32_t index,
    uint32_t attempt, store_done_cb cb, void *arg)
{
	struct sreq *r = job_req(SR_RELEASE, id, arg);

	if (r == NULL)
		return STORE_EINVAL;
	r->index = index;
	r->attempt = attempt;
	r->cb.done = cb;
	return submit(st, r, &st->wq);
}

enum store_err
store_read(struct store *st, const char *id, const struct store_cursor *c,
    store_read_cb cb, void *arg)
{
	struct sreq *r = job_req(SR_READ, id, arg);

	if (r == NULL)
		return STORE_EINVAL;
	r->cur = *c;
	if (r->cur.limit == 0)
		r->cur.limit = 1000;
	if (r->cur.limit > STORE_PAGE_MAX)
		r->cur.limit = STORE_PAGE_MAX;
	r->cb.read = cb;
	return submit(st, r, &st->rq);
}

enum store_err
store_body_read(struct store *st, const char *id, uint32_t index,
    uint64_t offset, size_t max, store_body_read_cb cb, void *arg)
{
	struct sreq *r = job_req(SR_BODY_READ, id, arg);

	if (r == NULL)
		return STORE_EINVAL;
	r->index = index;
	r->offset = offset;
	r->max =
	    (uint32_t)(max == 0 || max > BODY_PAGE_MAX ? BODY_PAGE_MAX : max);
	r->cb.body = cb;
	return submit(st, r, &st->rq);
}

/* A request whose answer is a job: the job only on success. */
static void
deliver_job(struct sreq *r)
{
	if (r->cb.job != NULL)
		r->cb.job(r->err, r->err == STORE_OK ? &r->job : NULL, r->arg);
}

/* A body page to its reader. */
static void
store_deliver_body(struct sreq *r)
{
	struct store_body_page pg = {
	    r->count, r->body_type, r->body_coding, r->blob, r->chunk_len};

	r->cb.body(r->err, r->err == STORE_OK ? &pg : NULL, r->arg);
}

/* A record's answer: the line as committed, for a follower. */
static void
deliver_record(struct sreq *r)
{
	struct store_line l = {
	    r->seq, r->index, r->attempt, r->outcome, r->line, r->line_len};

	r->cb.record(r->err, r->err == STORE_OK ? &l : NULL, r->arg);
}

void
store_deliver(struct store *st, struct sreq *r)
{
	switch (r->op) {
	case SR_CREATE:
	case SR_GET:
	case SR_CANCEL:
	case SR_RETRY:
		deliver_job(r);
		break;
	case SR_LIST:
		r->cb.list(r->err, r->jobs, r->njobs, r->more, r->arg);
		break;
	case SR_LEASE:
		r->cb.lease(r->err, r->leased, (size_t)r->count, r->arg);
		break;
	case SR_RECORD:
		if (r->cb.record != NULL)
			deliver_record(r);
		break;
	case SR_RELEASE:
	case SR_DELETE:
		if (r->cb.done != NULL)
			r->cb.done(r->err, r->arg);
		break;
	case SR_SWEEP:
		if (r->cb.sweep != NULL)
			r->cb.sweep(r->err, r->count, r->arg);
		break;
	case SR_READ:
		r->cb.read(r->err, &r->page, r->arg);
		break;
	case SR_BODY_READ:
		store_deliver_body(r);
		break;
	case SR_BODY_CHUNK:
		store_body_chunk_done(r);
		break;
	case SR_HEALTH:
		if (st->cfg.on_health != NULL)
			st->cfg.on_health(
			    r->healthy, r->why, st->cfg.health_arg);
		break;
	default:
		break; /* internal requests: nothing to tell */
	}
	sreq_free(r);
}
