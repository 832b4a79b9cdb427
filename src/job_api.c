/*
 * job_api.c - the /v1/jobs endpoints but results (see job_api.h):
 * routing, creating a job from a batch body, and the answers that are
 * one JSON document each (a job, a list of jobs, an error).
 *
 * Every endpoint asks the store and answers from its callback. The
 * request stays valid meanwhile: evhttp notices a caller that went away
 * only when it writes (LIBEVENT-NOTES.md, Server), and the reply is the
 * first write. Store errors map to statuses as docs/store.md says:
 * not_found 404, state 409, limit 429 (max_active) or 413 (max_items),
 * full and I/O 507, closed 503, invalid 400.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "batch_parse.h"
#include "emit.h"
#include "http.h"
#include "job.h"
#include "job_api.h"
#include "log.h"
#include "options.h"
#include "server_int.h"
#include "util.h"

#define JOB_NAME_MAX 200
#define JOB_IDEM_MAX 255

/* One endpoint call waiting for the store. */
struct job_call {
	struct server *srv;
	struct evhttp_request *req;
	char id[STORE_ID_LEN + 1];
	int status; /* of a success */
};

static struct job_call *
call_new(struct server *srv, struct evhttp_request *req, const char *id)
{
	struct job_call *c = xcalloc(1, sizeof(*c));

	c->srv = srv;
	c->req = req;
	if (id != NULL)
		snprintf(c->id, sizeof(c->id), "%s", id);
	c->status = 200;
	return c;
}

/* A store error as the HTTP error it means. */
static void
job_store_error(struct server *srv, struct evhttp_request *req,
    enum store_err err, const char *id)
{
	const char *why;
	char msg[300];

	switch (err) {
	case STORE_ENOENT:
		snprintf(msg, sizeof(msg), "no such job: %s", id);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
		return;
	case STORE_ESTATE:
		snprintf(msg, sizeof(msg),
		    "job %s is not in a state that allows this", id);
		server_error(srv, req, RERR_CONFLICT, msg, NULL, NULL);
		return;
	case STORE_ELIMIT:
		snprintf(msg, sizeof(msg),
		    "%llu jobs are queued or running, the most [jobs] "
		    "max_active allows; retry later",
		    (unsigned long long)srv->cfg->jobs_max_active);
		server_error(
		    srv, req, RERR_TOO_MANY_JOBS, msg, "Retry-After", "10");
		return;
	case STORE_EFULL:
	case STORE_EIO:
		/* The cause, when the store said (disk full, PostgreSQL
		 * unreachable, ...). */
		why = srv->jobs != NULL ? jobs_degraded(srv->jobs) : NULL;
		snprintf(msg, sizeof(msg), "the job store cannot take it: %s",
		    why != NULL ? why : store_err_message(err));
		server_error(srv, req, RERR_STORAGE, msg, NULL, NULL);
		return;
	case STORE_ECLOSED:
		server_error(srv, req, RERR_DRAINING,
		    "fanoutd is shutting down; send it again later",
		    "Retry-After", "1");
		return;
	case STORE_EINVAL:
		snprintf(msg, sizeof(msg), "%s", store_err_message(err));
		server_error(srv, req, RERR_BAD_REQUEST, msg, NULL, NULL);
		return;
	default:
		snprintf(msg, sizeof(msg), "the job store failed: %s",
		    store_err_message(err));
		server_error(srv, req, RERR_INTERNAL, msg, NULL, NULL);
	}
}

/* A wall-clock time (ms since the epoch) as RFC 3339 UTC, or null. */
static void
emit_time(struct buf *out, const char *key, int64_t ms)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	char s[40];

	buf_printf(out, ",\"%s\":", key);
	if (ms <= 0) {
		buf_adds(out, "null");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(out, "\"%s.%03dZ\"", s, (int)(ms % 1000));
}

void
job_emit(struct buf *out, const struct store_job *j, struct jobs *js)
{
	const char *paused = js != NULL ? jobs_degraded(js) : NULL;
	uint64_t pending, inflight;

	buf_adds(out, "{\"id\":\"");
	buf_adds(out, j->id);
	buf_adds(out, "\",\"name\":");
	if (j->name != NULL)
		emit_json_string(out, j->name, strlen(j->name));
	else
		buf_adds(out, "null");
	buf_printf(out, ",\"state\":\"%s\"", store_job_state_name(j->state));
	if (paused != NULL &&
	    (j->state == STORE_JOB_QUEUED || j->state == STORE_JOB_RUNNING)) {
		buf_adds(out, ",\"paused\":");
		emit_json_string(out, paused, strlen(paused));
	}
	jobs_counts(js, j, &pending, &inflight);
	buf_printf(out,
	    ",\"counts\":{\"total\":%llu,\"pending\":%llu,\"in_flight\":%llu,"
	    "\"ok\":%llu,\"failed\":%llu}",
	    (unsigned long long)j->n.total, (unsigned long long)pending,
	    (unsigned long long)inflight, (unsigned long long)j->n.ok,
	    (unsigned long long)j->n.failed);
	buf_printf(out, ",\"last_seq\":%llu", (unsigned long long)j->last_seq);
	emit_time(out, "created_at", j->created_ms);
	emit_time(out, "started_at", j->started_ms);
	emit_time(out, "finished_at", j->finished_ms);
	emit_time(out, "expires_at", j->expires_ms);
	buf_printf(out, ",\"ttl_s\":%u,\"options\":%s}", j->ttl_s,
	    j->options ? j->options : "{}");
}

/* {"job":{...}} with the call's status (and Location for a new job). */
static void
job_reply(struct job_call *c, const struct store_job *j)
{
	struct buf b = BUF_INIT;
	char loc[64];

	buf_adds(&b, "{\"job\":");
	job_emit(&b, j, c->srv->jobs);
	buf_adds(&b, "}\n");
	snprintf(loc, sizeof(loc), "/v1/jobs/%s", j->id);
	server_send(c->srv, c->req, c->status,
	    c->status == 201 ? "Created" : NULL, "application/json", b.data,
	    b.len, c->status == 201 ? "Location" : NULL, loc);
	buf_free(&b);
}

/* The answer of get, cancel and retry: the job, or the error. */
static void
job_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_call *c = arg;

	if (err != STORE_OK)
		job_store_error(c->srv, c->req, err, c->id);
	else
		job_reply(c, j);
	free(c);
}

static void
job_cancel_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_call *c = arg;

	if (err == STORE_OK && c->srv->jobs != NULL) {
		jobs_cancelled(c->srv->jobs, j->id);
		jobs_notify(c->srv->jobs, j->id, NULL);
	}
	job_cb(err, j, arg);
}

static void
job_retry_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_call *c = arg;

	if (err == STORE_OK && c->srv->jobs != NULL) {
		jobs_kick(c->srv->jobs, j->id);
		jobs_notify(c->srv->jobs, j->id, NULL);
	}
	job_cb(err, j, arg);
}

static void
job_created_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_call *c = arg;

	if (err == STORE_OK) {
		c->status = j->existing ? 200 : 201;
		if (!j->existing) {
			log_info("job %s: created, %llu items", j->id,
			    (unsigned long long)j->n.total);
			if (c->srv->jobs != NULL)
				jobs_kick(c->srv->jobs, j->id);
		}
	}
	job_cb(err, j, arg);
}

static void
job_deleted_cb(enum store_err err, void *arg)
{
	struct job_call *c = arg;

	if (err != STORE_OK) {
		job_store_error(c->srv, c->req, err, c->id);
	} else {
		log_info("job %s: deleted", c->id);
		if (c->srv->jobs != NULL)
			jobs_notify(c->srv->jobs, c->id, NULL);
		server_send(c->srv, c->req, 204, NULL, "application/json", "",
		    0, NULL, NULL);
	}
	free(c);
}

/* The "job" object of a create: {"name": "...", "ttl_s": N}. */
static int
job_spec_parse(const char *json, struct store_job_spec *js, char **name,
    char *msg, size_t msglen)
{
	json_t *o = json ? json_loads(json, JSON_DECODE_ANY, NULL) : NULL, *v;
	const char *key;
	int rc = 0;

	if (json == NULL)
		return 0;
	if (!json_is_object(o)) {
		snprintf(msg, msglen, "job: expected an object");
		json_decref(o);
		return -1;
	}
	json_object_foreach(o, key, v)
	{
		if (strcmp(key, "name") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > JOB_NAME_MAX ||
			    strlen(json_string_value(v)) !=
			        json_string_length(v)) {
				snprintf(msg, msglen,
				    "job.name: expected a string of 1 to %d "
				    "bytes",
				    JOB_NAME_MAX);
				rc = -1;
				break;
			}
			*name = xstrdup(json_string_value(v));
		} else if (strcmp(key, "ttl_s") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 1 ||
			    json_integer_value(v) > 315360000) {
				snprintf(msg, msglen,
				    "job.ttl_s: expected an integer from 1 to "
				    "315360000 (seconds)");
				rc = -1;
				break;
			}
			js->ttl_s = (uint32_t)json_integer_value(v);
		} else {
			snprintf(msg, msglen, "job.%.60s: unknown key", key);
			rc = -1;
			break;
		}
	}
	json_decref(o);
	return rc;
}

/* An Idempotency-Key: 1 to 255 visible ASCII characters. */
static bool
idem_valid(const char *k)
{
	size_t i, n = strlen(k);

	if (n == 0 || n > JOB_IDEM_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (k[i] < 0x21 || k[i] > 0x7e)
			return false;
	return true;
}

/* A job's effective options, without the one that does not apply to a
 * job (deadline_ms: nobody waits on a job). */
static void
job_options_trim(struct buf *eff)
{
	json_t *o = json_loadb(eff->data, eff->len, 0, NULL);
	char *s;

	if (o == NULL)
		return;
	json_object_del(o, "deadline_ms");
	if ((s = json_dumps(o, JSON_COMPACT)) != NULL) {
		buf_reset(eff);
		buf_adds(eff, s);
		free(s);
	}
	json_decref(o);
}

/* A batch's deadline has no meaning for a job: refuse one that sets
 * it rather than ignore it. */
static bool
job_sets_deadline(const struct batch_spec *spec, const struct config *cfg)
{
	struct batch_opts d;

	opts_defaults(&d, cfg);
	return spec->opts.deadline_ms != d.deadline_ms;
}

/* A job being stored: its items are read from the body as the store's
 * writer thread writes them (store_create_from), so the body is moved
 * out of the request first - the loop never touches it meanwhile, even
 * if the caller goes away. */
struct job_creating {
	struct job_call *call;
	struct evbuffer *own; /* the body, unless it was decoded */
	struct buf dec;       /* the decoded body */
	struct job_items ji;
	struct config *cfg; /* the items' options are checked against */
	char early[STORE_ID_LEN + 1]; /* an early start's job ID, or "" */
};

/* store_item_fn: item i, on the writer thread. */
static void
job_item_made(void *arg, uint32_t i, struct store_item_spec *out)
{
	struct job_creating *jc = arg;
	struct job_item it;

	batch_job_next(&jc->ji, &it);
	out->index = i;
	out->spec = it.text;
	out->spec_len = it.len;
	out->flags = 0;
	if (it.unsafe)
		out->flags |= STORE_ITEM_UNSAFE;
	if (it.retry_unsafe)
		out->flags |= STORE_ITEM_RETRY_UNSAFE;
}

static void
job_creating_free(struct job_creating *jc)
{
	batch_job_close(&jc->ji);
	if (jc->own != NULL)
		evbuffer_free(jc->own);
	buf_free(&jc->dec);
	free(jc->cfg);
	free(jc);
}

static void
job_stored_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_creating *jc = arg;
	struct job_call *c = jc->call;

	if (jc->early[0] != '\0')
		jobs_created(c->srv->jobs, jc->early, err);
	job_creating_free(jc);
	job_created_cb(err, j, c);
}

/* Start running the job's first items while it is stored (jobs.h,
 * jobs_start_early): not with an idempotency key, whose repeat must
 * send nothing. */
static void
job_start_early(struct server *srv, struct store_job_spec *js,
    struct job_creating *jc, uint32_t n)
{
	struct job_items head = jc->ji; /* its own walk over the same body */

	if (js->idem != NULL)
		return;
	head.text = (struct buf)BUF_INIT;
	store_new_id(jobs_store(srv->jobs), jc->early);
	js->leased =
	    jobs_start_early(srv->jobs, jc->early, js->options, &head, n);
	batch_job_close(&head);
	if (js->leased > 0)
		js->id = jc->early;
	else
		jc->early[0] = '\0';
}

/* Hand a checked job to the store. */
static void
job_store_create(struct server *srv, struct evhttp_request *req,
    struct batch_spec *spec, struct store_job_spec *js, struct job_creating *jc)
{
	struct buf eff = BUF_INIT;
	enum store_err err;

	opts_emit_effective(&spec->opts, &eff);
	job_options_trim(&eff);
	js->options = buf_cstr(&eff);
	jc->call = call_new(srv, req, NULL);
	job_start_early(srv, js, jc, spec->nitems);
	err = store_create_from(jobs_store(srv->jobs), js, spec->nitems,
	    job_item_made, jc, job_stored_cb, jc);
	if (err == STORE_OK && jc->early[0] != '\0')
		jobs_go_early(srv->jobs, jc->early);
	if (err != STORE_OK) {
		if (jc->early[0] != '\0')
			jobs_created(srv->jobs, jc->early, err);
		free(jc->call);
		job_creating_free(jc);
		job_store_error(srv, req, err, "");
	}
	buf_free(&eff);
}

/* The request's body, owned by jc from now on. */
static const char *
job_take_body(struct server *srv, struct evhttp_request *req,
    struct job_creating *jc, size_t *len)
{
	const char *data = server_body(srv, req, &jc->dec, len);

	if (data == NULL || data == jc->dec.data || *len == 0)
		return data;
	jc->own = evbuffer_new();
	evbuffer_add_buffer(jc->own, evhttp_request_get_input_buffer(req));
	return (const char *)evbuffer_pullup(jc->own, -1);
}

/* POST /v1/jobs */
static void
job_create(struct server *srv, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *idem = evhttp_find_header(in, "Idempotency-Key");
	struct job_creating *jc;
	struct store_job_spec js;
	struct parse_error perr;
	struct batch_spec spec;
	const char *data;
	char msg[300], *name = NULL;
	size_t len;

	if (engine_draining(srv->engine)) {
		server_error(srv, req, RERR_DRAINING,
		    "fanoutd is shutting down; send the job again later",
		    "Retry-After", "1");
		return;
	}
	if (idem != NULL && !idem_valid(idem)) {
		server_error(srv, req, RERR_BAD_REQUEST,
		    "Idempotency-Key: expected 1 to 255 visible ASCII "
		    "characters",
		    NULL, NULL);
		return;
	}
	jc = xcalloc(1, sizeof(*jc));
	jc->cfg = jobs_options_config(srv->cfg);
	if ((data = job_take_body(srv, req, jc, &len)) == NULL) {
		job_creating_free(jc);
		return;
	}
	if (batch_job_open(&jc->ji, &spec, data, len,
	        evhttp_find_header(in, "Content-Type"), query, jc->cfg,
	        &perr) != 0) {
		server_error(srv, req, perr.code, perr.message, NULL, NULL);
		job_creating_free(jc);
		return;
	}
	memset(&js, 0, sizeof(js));
	js.idem = idem;
	if (job_spec_parse(spec.job_json, &js, &name, msg, sizeof(msg)) != 0) {
		server_error(srv, req, RERR_BAD_REQUEST, msg, NULL, NULL);
	} else if (job_sets_deadline(&spec, srv->cfg)) {
		server_error(srv, req, RERR_BAD_REQUEST,
		    "options.deadline_ms: a job has no deadline (it runs until "
		    "every item has its result; cancel it to stop it)",
		    NULL, NULL);
	} else if (spec.nitems == 0) {
		server_error(srv, req, RERR_BAD_REQUEST,
		    "requests: a job needs at least one item", NULL, NULL);
	} else {
		js.name = name;
		job_store_create(srv, req, &spec, &js, jc);
		jc = NULL; /* the store's until it answers */
	}
	if (jc != NULL)
		job_creating_free(jc);
	free(name);
	batch_spec_free(&spec);
}

static void
job_list_cb(enum store_err err, const struct store_job *jobs, size_t n,
    bool more, void *arg)
{
	struct job_call *c = arg;
	struct buf b = BUF_INIT;
	size_t i;

	if (err != STORE_OK) {
		job_store_error(c->srv, c->req, err, c->id);
		free(c);
		return;
	}
	buf_adds(&b, "{\"jobs\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(&b, ',');
		job_emit(&b, &jobs[i], c->srv->jobs);
	}
	buf_adds(&b, "],\"next\":");
	if (more && n > 0)
		buf_printf(&b, "\"%s\"", jobs[n - 1].id);
	else
		buf_adds(&b, "null");
	buf_adds(&b, "}\n");
	server_reply(c->srv, c->req, "application/json", b.data, b.len);
	buf_free(&b);
	free(c);
}

/* GET /v1/jobs?state=queued,running&limit=N&after=ID */
static void
job_list(struct server *srv, struct evhttp_request *req, const char *query)
{
	struct evkeyvalq q;
	struct store_list_query lq;
	const char *v, *p, *s;
	char msg[200], word[32];
	uint64_t n;
	size_t sl;
	int st;

	TAILQ_INIT(&q);
	memset(&lq, 0, sizeof(lq));
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		server_error(srv, req, RERR_BAD_REQUEST,
		    "the query string is malformed", NULL, NULL);
		return;
	}
	if ((v = evhttp_find_header(&q, "state")) != NULL) {
		for (p = v; next_list_item(&p, v + strlen(v), &s, &sl);) {
			snprintf(word, sizeof(word), "%.*s", (int)sl, s);
			if ((st = store_job_state_parse(word)) < 0) {
				snprintf(msg, sizeof(msg),
				    "state: expected queued, running, done or "
				    "cancelled, not \"%.30s\"",
				    word);
				goto bad;
			}
			lq.states |= 1u << st;
		}
	}
	if ((v = evhttp_find_header(&q, "limit")) != NULL) {
		if (parse_uint(v, false, &n) != 0 || n < 1 || n > 1000) {
			snprintf(msg, sizeof(msg),
			    "limit: expected an integer from 1 to 1000");
			goto bad;
		}
		lq.limit = (uint32_t)n;
	}
	if ((v = evhttp_find_header(&q, "after")) != NULL) {
		if (!store_id_valid(v)) {
			snprintf(msg, sizeof(msg),
			    "after: expected a job ID (32 hex digits)");
			goto bad;
		}
		lq.after = v;
	}
	if ((v = evhttp_find_header(&q, "order")) != NULL) {
		if (strcmp(v, "newest") == 0)
			lq.newest_first = true;
		else if (strcmp(v, "oldest") != 0) {
			snprintf(msg, sizeof(msg),
			    "order: expected oldest or newest");
			goto bad;
		}
	}
	if (store_list(jobs_store(srv->jobs), &lq, job_list_cb,
	        call_new(srv, req, lq.after)) != STORE_OK)
		server_error(srv, req, RERR_DRAINING,
		    "fanoutd is shutting down", NULL, NULL);
	evhttp_clear_headers(&q);
	return;
bad:
	server_error(srv, req, RERR_BAD_REQUEST, msg, NULL, NULL);
	evhttp_clear_headers(&q);
}

/* The 405 of a jobs path, with what it allows. */
static void
job_method(struct server *srv, struct evhttp_request *req, const char *what,
    const char *allow)
{
	char msg[200];

	snprintf(msg, sizeof(msg), "%s accepts %s only", what, allow);
	server_error(srv, req, RERR_METHOD, msg, "Allow", allow);
}

/* /v1/jobs/ID/items/INDEX/body: p (n bytes) is INDEX/body. */
static void
job_item(struct server *srv, struct evhttp_request *req, const char *id,
    const char *p, size_t n)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t dlen = strspn(p, "0123456789");
	char digits[16], msg[200];
	uint64_t index;

	if (dlen == 0 || dlen >= sizeof(digits) || n - dlen != 5 ||
	    memcmp(p + dlen, "/body", 5) != 0) {
		snprintf(msg, sizeof(msg),
		    "no such endpoint: /v1/jobs/%s/items/%.*s (expected "
		    "/v1/jobs/ID/items/INDEX/body)",
		    id, (int)(n > 60 ? 60 : n), p);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
		return;
	}
	memcpy(digits, p, dlen);
	digits[dlen] = '\0';
	if (parse_uint(digits, false, &index) != 0 || index > UINT32_MAX) {
		snprintf(msg, sizeof(msg), "no such item: %s", digits);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
	} else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		job_method(
		    srv, req, "/v1/jobs/ID/items/INDEX/body", "GET, HEAD");
	} else {
		job_body_start(srv, req, id, (uint32_t)index);
	}
}

/* /v1/jobs/ID[/rest]: split into the ID and what follows. */
static void
job_one(struct server *srv, struct evhttp_request *req, const char *p, size_t n,
    const char *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool get = cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD;
	size_t idlen = strcspn(p, "/?");
	const char *rest = p + idlen;
	size_t rlen = n - idlen;
	char id[STORE_ID_LEN + 1], msg[200];
	struct store *st = jobs_store(srv->jobs);
	enum store_err err = STORE_OK;

	if (idlen > n)
		idlen = n, rlen = 0;
	snprintf(
	    id, sizeof(id), "%.*s", (int)(idlen > STORE_ID_LEN ? 0 : idlen), p);
	if (idlen != STORE_ID_LEN || !store_id_valid(id)) {
		snprintf(msg, sizeof(msg), "no such job: %.*s",
		    (int)(idlen > 64 ? 64 : idlen), p);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
		return;
	}
#define REST_IS(s) (rlen == strlen(s) && memcmp(rest, s, rlen) == 0)
	if (REST_IS("")) {
		if (get)
			err = store_get(st, id, job_cb, call_new(srv, req, id));
		else if (cmd == EVHTTP_REQ_DELETE)
			err = store_delete(
			    st, id, job_deleted_cb, call_new(srv, req, id));
		else
			job_method(
			    srv, req, "/v1/jobs/ID", "GET, HEAD, DELETE");
	} else if (REST_IS("/cancel") || REST_IS("/retry")) {
		if (cmd != EVHTTP_REQ_POST)
			job_method(
			    srv, req, "/v1/jobs/ID/cancel and /retry", "POST");
		else if (REST_IS("/cancel"))
			err = store_cancel(
			    st, id, job_cancel_cb, call_new(srv, req, id));
		else
			err = store_retry(
			    st, id, job_retry_cb, call_new(srv, req, id));
	} else if (rlen > 7 && memcmp(rest, "/items/", 7) == 0) {
		job_item(srv, req, id, rest + 7, rlen - 7);
	} else if (REST_IS("/results")) {
		if (get)
			job_results_start(srv, req, id, query);
		else
			job_method(
			    srv, req, "/v1/jobs/ID/results", "GET, HEAD");
	} else {
		snprintf(msg, sizeof(msg), "no such endpoint: /v1/jobs/%s%.*s",
		    id, (int)(rlen > 60 ? 60 : rlen), rest);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
	}
#undef REST_IS
	if (err != STORE_OK)
		job_store_error(srv, req, err, id);
}

bool
job_api_route(struct server *srv, struct evhttp_request *req, const char *path,
    size_t plen, const char *query)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	char msg[400];

	if (plen < 8 || memcmp(path, "/v1/jobs", 8) != 0 ||
	    (plen > 8 && path[8] != '/'))
		return false;
	if (srv->jobs == NULL) {
		snprintf(msg, sizeof(msg), "jobs are unavailable: %s",
		    srv->jobs_why);
		server_error(srv, req, RERR_UNAVAILABLE, msg, NULL, NULL);
		return true;
	}
	if (plen == 8 || plen == 9) {
		if (cmd == EVHTTP_REQ_POST)
			job_create(srv, req, query);
		else if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
			job_list(srv, req, query);
		else
			job_method(srv, req, "/v1/jobs", "GET, HEAD, POST");
		return true;
	}
	job_one(srv, req, path + 9, plen - 9, query);
	return true;
}
