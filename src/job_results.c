/*
 * job_results.c - GET /v1/jobs/ID/results (see job_api.h): a job's
 * committed result lines in seq order, each the /v1/batch line with
 * "seq" first, then a summary of the job as it stands.
 *
 *   ?after=SEQ     lines after seq SEQ (SSE: Last-Event-ID does the same)
 *   ?state=failed  only lines whose outcome is not ok
 *   ?latest=true   only each item's current line (its newest, once the
 *                  item is done): lines a retry superseded are left out
 *   ?follow=true   stay open: new lines as they commit, until the job is
 *                  done or cancelled, then the summary
 *   ?format=       ndjson (default), sse, json (buffered, not with
 *                  follow, at most [server] max_json_items lines);
 *                  else Accept decides, as for a batch
 *
 * A job reader pages through the store (store_read, one page in flight
 * at a time) and writes each page as one chunk; it reads the next page
 * only once the caller has taken most of the last (backpressure at
 * [server] output_high_water). Caught up and following, it waits for
 * the runner's word that lines committed (jobs_notify): a line that is
 * the next after its cursor comes with that word, as committed, and is
 * written from memory (gathered in `live` and sent once per turn of the
 * loop, as a batch's stream does); anything else (a gap, a state
 * change, a caller that fell behind) is read from the store. The loop
 * never waits on the disk and a million-line job never sits in memory.
 *
 * A reader is READING (a page asked for), WRITING (waiting for the
 * caller to take what was written), WAITING (following, caught up),
 * SUMMING (the job's counts asked for), ENDED; `gone` says the caller
 * went away, and the reader is freed when nothing of the store's is
 * outstanding.
 *
 * GET /v1/jobs/ID/items/INDEX/body is a reader too (`body`): it pages
 * through one stored body (store_body_read, 1 MiB at a time) with the
 * same backpressure, and sends it raw with the stored Content-Type,
 * Content-Encoding and a Content-Length (RFC 9110 §8.3, §8.4, §8.6).
 * A body that fails after its head went out (its file vanished: the job
 * was deleted meanwhile) ends with the connection shut down, so the
 * caller sees a short body rather than a complete one.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>

#include "accept.h"
#include "emit.h"
#include "guard.h"
#include "job.h"
#include "job_api.h"
#include "log.h"
#include "server_int.h"
#include "util.h"

#define READER_PAGE    1000
#define READER_WRITE_S 60 /* a caller that reads nothing */

enum reader_state { RD_READING, RD_WRITING, RD_WAITING, RD_SUMMING, RD_ENDED };

struct job_reader {
	struct server *srv;
	struct evhttp_request *req;
	struct evhttp_connection *evcon; /* once the reply started */
	char id[STORE_ID_LEN + 1];
	enum reader_state state;
	enum out_format format;
	bool follow, failed_only, latest;
	bool started;  /* the reply's head is out */
	bool busy;     /* a store request is out */
	bool gone;     /* the caller went away, or the server closes */
	bool notified; /* lines committed while a page was being read */
	bool watching;
	bool in_end;           /* inside evhttp_send_reply_end */
	bool body;             /* a stored body, not lines */
	uint32_t index;        /* body: the item */
	uint64_t offset, size; /* body: bytes written, its length */
	uint64_t after;        /* the cursor: the last seq written */
	uint64_t lines;        /* lines written */
	struct buf doc;        /* OUT_JSON: the results array so far */
	struct buf live;       /* following: lines from their commit, unsent */
	struct event live_ev;  /* sends `live` (assigned when following) */
	struct jobs_watch watch;
	TAILQ_ENTRY(job_reader) link;
};

static void reader_read(struct job_reader *rd);
static void reader_flush_live(struct job_reader *rd);
static void reader_error(struct job_reader *rd, enum store_err err);
static void body_read(struct job_reader *rd);

static const char *const reader_state_names[] = {
    "reading", "writing", "waiting", "summing", "ended"};

/* The one place a reader's state changes (traced at debug level). */
static void
reader_set_state(struct job_reader *rd, enum reader_state to)
{
	if (rd->state != to)
		log_debug("job %s reader: %s -> %s", rd->id,
		    reader_state_names[rd->state], reader_state_names[to]);
	rd->state = to;
}

static void
reader_unwatch(struct job_reader *rd)
{
	if (rd->watching)
		jobs_unwatch(rd->srv->jobs, &rd->watch);
	rd->watching = false;
}

static void
reader_free(struct job_reader *rd)
{
	reader_unwatch(rd);
	TAILQ_REMOVE(&rd->srv->readers.list, rd, link);
	if (rd->follow)
		event_del(&rd->live_ev);
	buf_free(&rd->doc);
	buf_free(&rd->live);
	free(rd);
}

/* Free a reader that has ended and waits for nothing. */
static void
reader_maybe_free(struct job_reader *rd)
{
	if (rd->state == RD_ENDED && !rd->busy && rd->evcon == NULL)
		reader_free(rd);
}

/* The reply is fully written: the connection may carry another request. */
static void
reader_complete_cb(struct evhttp_request *req, void *arg)
{
	struct job_reader *rd = arg;
	struct timeval tv = tv_ms(rd->srv->cfg->keepalive_timeout_ms);

	(void)req;
	evhttp_connection_set_closecb(rd->evcon, NULL, NULL);
	bufferevent_set_timeouts(
	    evhttp_connection_get_bufferevent(rd->evcon), &tv, &tv);
	guard_reply_done(rd->srv->guard, rd->evcon);
	rd->evcon = NULL;
	if (!rd->in_end)
		reader_maybe_free(rd);
}

/* End the streamed reply; rd may be freed on return. */
static void
reader_end(struct job_reader *rd)
{
	reader_flush_live(rd);
	reader_set_state(rd, RD_ENDED);
	reader_unwatch(rd);
	rd->in_end = true;
	evhttp_send_reply_end(rd->req);
	rd->in_end = false;
	reader_maybe_free(rd);
}

/* The caller's connection closed mid-reply. */
static void
reader_close_cb(struct evhttp_connection *evcon, void *arg)
{
	struct job_reader *rd = arg;

	(void)evcon;
	rd->gone = true;
	reader_unwatch(rd);
	if (rd->state != RD_ENDED) {
		reader_set_state(rd, RD_ENDED);
		/* evhttp detached the request; ending it frees it. */
		evhttp_send_reply_end(rd->req);
	}
	rd->evcon = NULL;
	reader_maybe_free(rd);
}

/* Start the streamed reply, its head's fields set. */
static void
reader_start_stream(struct job_reader *rd)
{
	struct timeval wtv = {READER_WRITE_S, 0};
	struct bufferevent *bev;

	if (rd->req->major == 1 && rd->req->minor == 0)
		evhttp_remove_header(
		    evhttp_request_get_input_headers(rd->req), "Connection");
	rd->evcon = evhttp_request_get_connection(rd->req);
	evhttp_send_reply_start(rd->req, 200, "OK");
	bev = evhttp_connection_get_bufferevent(rd->evcon);
	bufferevent_set_timeouts(bev, NULL, &wtv);
	evhttp_connection_set_closecb(rd->evcon, reader_close_cb, rd);
	evhttp_request_set_on_complete_cb(rd->req, reader_complete_cb, rd);
	rd->started = true;
}

/* Start the streamed reply (NDJSON or SSE). */
static void
reader_start_reply(struct job_reader *rd)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(rd->req);

	evhttp_add_header(out, "Content-Type",
	    rd->format == OUT_SSE ? "text/event-stream"
	                          : "application/x-ndjson");
	evhttp_add_header(out, "Cache-Control", "no-store");
	reader_start_stream(rd);
}

/* A started body reply cannot say it failed: shut the connection, so
 * the caller sees fewer bytes than Content-Length. */
static void
reader_cut(struct job_reader *rd)
{
	if (rd->body && rd->started && rd->evcon != NULL)
		shutdown(bufferevent_getfd(
		             evhttp_connection_get_bufferevent(rd->evcon)),
		    SHUT_RDWR);
}

/* Bytes written to the caller and not yet sent. */
static size_t
reader_unsent(struct job_reader *rd)
{
	return evbuffer_get_length(bufferevent_get_output(
	    evhttp_connection_get_bufferevent(rd->evcon)));
}

/* A stored line with its seq first: {"seq":N,<the line's members>} */
static void
line_with_seq(struct buf *out, const struct store_line *l)
{
	buf_adds(out, "{\"seq\":");
	buf_addu(out, l->seq);
	if (l->len > 2)
		buf_addc(out, ',');
	buf_add(out, l->line + 1, l->len - 1);
}

/* One line, framed for NDJSON or SSE. */
static void
reader_frame(struct job_reader *rd, struct buf *out, const struct store_line *l)
{
	if (rd->format == OUT_SSE) {
		buf_adds(out, "id: ");
		buf_addu(out, l->seq);
		buf_adds(out, "\nevent: result\ndata: ");
	}
	line_with_seq(out, l);
	buf_adds(out, rd->format == OUT_SSE ? "\n\n" : "\n");
}

static void
reader_summary_cb(enum store_err err, const struct store_job *j, void *arg)
{
	struct job_reader *rd = arg;
	struct buf b = BUF_INIT, s = BUF_INIT;
	struct evbuffer *evb;

	rd->busy = false;
	if (rd->gone) {
		reader_maybe_free(rd);
		return;
	}
	reader_flush_live(rd);
	if (err != STORE_OK && err != STORE_ENOENT) { /* not "deleted" */
		reader_error(rd, err);
		return;
	}
	/* A follower ends with the job's last line: lines may have
	 * committed between its last page and this answer (read them), and
	 * a cancelled job still has lines to come while attempts that were
	 * in flight end (wait for them). */
	if (rd->follow && err == STORE_OK && j->last_seq > rd->after) {
		reader_read(rd);
		return;
	}
	if (rd->follow && err == STORE_OK && j->state == STORE_JOB_CANCELLED &&
	    j->n.inflight > 0) {
		reader_set_state(rd, RD_WAITING);
		if (rd->notified)
			reader_read(rd);
		return;
	}
	buf_adds(&s, "{\"job\":");
	if (err == STORE_OK)
		job_emit(&s, j, rd->srv->jobs);
	else
		buf_printf(&s, "{\"id\":\"%s\",\"state\":\"deleted\"}", rd->id);
	buf_printf(&s, ",\"lines\":%llu}", (unsigned long long)rd->lines);
	if (rd->format == OUT_JSON) {
		buf_adds(&b, "{\"results\":[");
		buf_add(&b, rd->doc.data, rd->doc.len);
		buf_printf(&b, "],\"summary\":%s}\n", buf_cstr(&s));
		reader_set_state(rd, RD_ENDED);
		server_reply(
		    rd->srv, rd->req, "application/json", b.data, b.len);
	} else {
		if (rd->format == OUT_SSE)
			buf_printf(&b,
			    "event: summary\ndata: {\"summary\":%s}\n\n",
			    buf_cstr(&s));
		else
			buf_printf(&b, "{\"summary\":%s}\n", buf_cstr(&s));
		evb = evbuffer_new();
		evbuffer_add(evb, b.data, b.len);
		evhttp_send_reply_chunk(rd->req, evb);
		evbuffer_free(evb);
	}
	buf_free(&b);
	buf_free(&s);
	if (rd->format == OUT_JSON)
		reader_maybe_free(rd);
	else
		reader_end(rd);
}

/* Caught up and not following (or the job has ended): the summary. */
static void
reader_finish(struct job_reader *rd)
{
	reader_set_state(rd, RD_SUMMING);
	if (store_get(jobs_store(rd->srv->jobs), rd->id, reader_summary_cb,
	        rd) == STORE_OK)
		rd->busy = true;
	else
		reader_summary_cb(STORE_ECLOSED, NULL, rd);
}

/* The caller took most of what was written: the next page. */
static void
reader_drained_cb(struct evhttp_connection *evcon, void *arg)
{
	struct job_reader *rd = arg;

	(void)evcon;
	if (rd->state == RD_WRITING && !rd->gone && rd->body)
		body_read(rd);
	else if (rd->state == RD_WRITING && !rd->gone)
		reader_read(rd);
}

void
job_body_start(struct server *srv, struct evhttp_request *req, const char *id,
    uint32_t index)
{
	struct job_reader *rd = xcalloc(1, sizeof(*rd));

	rd->srv = srv;
	rd->req = req;
	rd->body = true;
	rd->index = index;
	snprintf(rd->id, sizeof(rd->id), "%s", id);
	TAILQ_INSERT_TAIL(&srv->readers.list, rd, link);
	body_read(rd);
}

/* evbuffer_add_reference's cleanup: a page's chunk, sent. */
static void
chunk_free_cb(const void *data, size_t len, void *arg)
{
	(void)len;
	(void)arg;
	free((void *)data);
}

/* Send the lines taken from their commits, in one chunk; a caller
 * that falls behind is then fed from the store once it has taken most
 * of it (RD_WRITING). */
static void
reader_flush_live(struct job_reader *rd)
{
	struct evbuffer *evb;

	if (rd->live.len == 0)
		return;
	if (!rd->gone) {
		evb = evbuffer_new();
		evbuffer_add_reference(
		    evb, rd->live.data, rd->live.len, chunk_free_cb, NULL);
		rd->live = (struct buf)BUF_INIT;
		evhttp_send_reply_chunk_with_cb(
		    rd->req, evb, reader_drained_cb, rd);
		evbuffer_free(evb);
	}
	buf_free(&rd->live);
	if (rd->state == RD_WAITING && !rd->gone &&
	    reader_unsent(rd) > rd->srv->cfg->output_high_water)
		reader_set_state(rd, RD_WRITING);
}

static void
reader_live_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reader_flush_live(arg);
}

/* A caught-up follower takes line l as committed when it is the next
 * one after its cursor (no read); false: there is a gap, read. */
static bool
reader_take_live(struct job_reader *rd, const struct store_line *l)
{
	if (l->seq != rd->after + 1)
		return false;
	rd->after = l->seq;
	if (rd->failed_only && l->outcome == STORE_OUT_OK)
		return true;
	if (rd->live.len == 0)
		event_active(&rd->live_ev, EV_TIMEOUT, 1);
	reader_frame(rd, &rd->live, l);
	rd->lines++;
	return true;
}

/* New lines committed (line: one of them, as committed), or the job
 * changed state. */
static void
reader_notify(void *arg, const struct store_line *line)
{
	struct job_reader *rd = arg;

	if (rd->state == RD_WAITING && line != NULL &&
	    reader_take_live(rd, line))
		return;
	if (rd->state == RD_WAITING)
		reader_read(rd);
	else
		rd->notified = true;
}

/*
 * A results stream already started cannot change its status: a
 * follower waits out a store that cannot be read (EIO, EFULL: a
 * database away) and reads on at the next notice; any other reader
 * ends with an error line (NDJSON) or event (SSE) naming the cause,
 * never as if complete.
 */
static void
reader_stream_error(struct job_reader *rd, enum store_err err)
{
	struct evbuffer *evb;
	char msg[200];
	json_t *j;
	char *text;

	if (rd->follow && (err == STORE_EIO || err == STORE_EFULL)) {
		log_debug("job %s: a follower waits: %s", rd->id,
		    store_err_message(err));
		reader_set_state(rd, RD_WAITING);
		return;
	}
	reader_flush_live(rd);
	snprintf(msg, sizeof(msg), "the job store failed: %s",
	    store_err_message(err));
	j = json_pack("{s{ssss}}", "error", "type", req_err_name(RERR_STORAGE),
	    "message", msg);
	text = json_dumps(j, JSON_COMPACT);
	evb = evbuffer_new();
	evbuffer_add_printf(evb,
	    rd->format == OUT_SSE ? "event: error\ndata: %s\n\n" : "%s\n",
	    text);
	evhttp_send_reply_chunk(rd->req, evb);
	evbuffer_free(evb);
	free(text);
	json_decref(j);
	reader_end(rd);
}

static void
reader_error(struct job_reader *rd, enum store_err err)
{
	char msg[200];

	if (rd->started && !rd->body) {
		reader_stream_error(rd, err);
		return;
	}
	if (rd->started) {
		reader_cut(rd);
		reader_end(rd);
		return;
	}
	reader_set_state(rd, RD_ENDED);
	if (err == STORE_ENOENT && rd->body) {
		snprintf(msg, sizeof(msg),
		    "item %" PRIu32 " of job %s has no stored body (no such "
		    "job or item, no result yet, an error, or \"body\": "
		    "\"none\")",
		    rd->index, rd->id);
		server_error(rd->srv, rd->req, RERR_NOT_FOUND, msg, NULL, NULL);
	} else if (rd->body) {
		snprintf(msg, sizeof(msg),
		    "the body of item %" PRIu32 " of job %s is not available: "
		    "%s",
		    rd->index, rd->id, store_err_message(err));
		server_error(rd->srv, rd->req, RERR_STORAGE, msg, NULL, NULL);
	} else if (err == STORE_ENOENT) {
		snprintf(msg, sizeof(msg), "no such job: %s", rd->id);
		server_error(rd->srv, rd->req, RERR_NOT_FOUND, msg, NULL, NULL);
	} else {
		snprintf(msg, sizeof(msg), "the job store failed: %s",
		    store_err_message(err));
		server_error(rd->srv, rd->req, RERR_STORAGE, msg, NULL, NULL);
	}
	reader_maybe_free(rd);
}

/* A page for the buffered JSON document. */
static bool
reader_doc_add(struct job_reader *rd, const struct store_page *pg)
{
	size_t i;
	char msg[200];

	if (rd->lines + pg->n > rd->srv->cfg->max_json_items) {
		snprintf(msg, sizeof(msg),
		    "format json is limited to %llu lines ([server] "
		    "max_json_items); use NDJSON and ?after= for larger jobs",
		    (unsigned long long)rd->srv->cfg->max_json_items);
		reader_set_state(rd, RD_ENDED);
		server_error(rd->srv, rd->req, RERR_TOO_LARGE, msg, NULL, NULL);
		reader_maybe_free(rd);
		return false;
	}
	for (i = 0; i < pg->n; i++) {
		const struct store_line *l = &pg->lines[i];

		if (rd->doc.len > 0)
			buf_addc(&rd->doc, ',');
		line_with_seq(&rd->doc, l);
	}
	return true;
}

/* The bytes a page's lines take framed (SSE's framing included), so
 * that the chunk is allocated once. */
static size_t
page_bytes(const struct store_page *pg)
{
	size_t i, n = 0;

	for (i = 0; i < pg->n; i++)
		n += pg->lines[i].len + 80; /* seq, SSE id and framing */
	return n;
}

static void
reader_page_cb(enum store_err err, const struct store_page *pg, void *arg)
{
	struct job_reader *rd = arg;
	struct buf chunk = BUF_INIT;
	struct evbuffer *evb;
	bool final;
	size_t i;

	rd->busy = false;
	if (rd->gone) {
		reader_maybe_free(rd);
		return;
	}
	if (err != STORE_OK) {
		reader_error(rd, err);
		return;
	}
	reader_flush_live(rd); /* lines before the page's go first */
	if (pg->n > 0)
		rd->after = pg->lines[pg->n - 1].seq;
	/* Nothing more: every line up to the job's newest was looked at
	 * (?state=failed skips the others), so the cursor is there. */
	if (!pg->more && pg->last_seq > rd->after)
		rd->after = pg->last_seq;
	if (rd->format == OUT_JSON) {
		if (!reader_doc_add(rd, pg))
			return;
	} else {
		if (!rd->started)
			reader_start_reply(rd);
		buf_reserve(&chunk, page_bytes(pg));
		for (i = 0; i < pg->n; i++)
			reader_frame(rd, &chunk, &pg->lines[i]);
		if (chunk.len > 0) {
			/* the page's bytes go out as they are, not copied */
			evb = evbuffer_new();
			evbuffer_add_reference(
			    evb, chunk.data, chunk.len, chunk_free_cb, NULL);
			chunk = (struct buf)BUF_INIT;
			evhttp_send_reply_chunk_with_cb(
			    rd->req, evb, reader_drained_cb, rd);
			evbuffer_free(evb);
		}
		buf_free(&chunk);
	}
	rd->lines += pg->n;
	final = pg->state == STORE_JOB_DONE || pg->state == STORE_JOB_CANCELLED;
	if (pg->more) {
		if (rd->format != OUT_JSON &&
		    reader_unsent(rd) > rd->srv->cfg->output_high_water)
			reader_set_state(rd, RD_WRITING);
		else
			reader_read(rd);
	} else if (rd->follow && !final) {
		reader_set_state(rd, RD_WAITING);
		if (rd->notified)
			reader_read(rd);
	} else {
		reader_finish(rd);
	}
}

/* Ask the store for the next page after the cursor. */
static void
reader_read(struct job_reader *rd)
{
	struct store_cursor c;
	enum store_err err;

	memset(&c, 0, sizeof(c));
	c.after = rd->after;
	c.limit = READER_PAGE;
	c.failed_only = rd->failed_only;
	c.latest = rd->latest;
	rd->notified = false;
	reader_set_state(rd, RD_READING);
	err = store_read(
	    jobs_store(rd->srv->jobs), rd->id, &c, reader_page_cb, rd);
	if (err != STORE_OK) {
		reader_error(rd, err);
		return;
	}
	rd->busy = true;
}

/* The query of a results request into rd; -1 with msg. */
static int
reader_query(struct job_reader *rd, struct evhttp_request *req,
    const char *query, char *msg, size_t msglen)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *v, *accept = evhttp_find_header(in, "Accept");
	struct evkeyvalq q;
	bool b;
	int rc = -1;

	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		snprintf(msg, msglen, "the query string is malformed");
		return -1;
	}
	if (accept_format(accept, &rd->format) != 0)
		rd->format = OUT_NDJSON; /* ?format= may still say */
	if ((v = evhttp_find_header(&q, "format")) != NULL &&
	    accept_format_name(v, &rd->format) != 0) {
		snprintf(msg, msglen, "format: expected ndjson, json or sse");
		goto out;
	}
	v = evhttp_find_header(&q, "after");
	if (v == NULL)
		v = evhttp_find_header(in, "Last-Event-ID");
	if (v != NULL && parse_uint(v, false, &rd->after) != 0) {
		snprintf(
		    msg, msglen, "after: expected a seq (an integer >= 0)");
		goto out;
	}
	if ((v = evhttp_find_header(&q, "follow")) != NULL) {
		if (parse_bool(v, &b) != 0) {
			snprintf(msg, msglen, "follow: expected true or false");
			goto out;
		}
		rd->follow = b;
	}
	if ((v = evhttp_find_header(&q, "latest")) != NULL) {
		if (parse_bool(v, &b) != 0) {
			snprintf(msg, msglen, "latest: expected true or false");
			goto out;
		}
		rd->latest = b;
	}
	if ((v = evhttp_find_header(&q, "state")) != NULL) {
		if (strcmp(v, "failed") == 0)
			rd->failed_only = true;
		else if (strcmp(v, "all") != 0) {
			snprintf(msg, msglen, "state: expected failed or all");
			goto out;
		}
	}
	if (rd->follow && rd->format == OUT_JSON) {
		snprintf(msg, msglen,
		    "format json is one document and cannot follow; use "
		    "NDJSON or SSE with follow=true");
		goto out;
	}
	rc = 0;
out:
	evhttp_clear_headers(&q);
	return rc;
}

void
job_results_start(struct server *srv, struct evhttp_request *req,
    const char *id, const char *query)
{
	struct job_reader *rd = xcalloc(1, sizeof(*rd));
	char msg[200];

	rd->srv = srv;
	rd->req = req;
	snprintf(rd->id, sizeof(rd->id), "%s", id);
	TAILQ_INSERT_TAIL(&srv->readers.list, rd, link);
	if (reader_query(rd, req, query, msg, sizeof(msg)) != 0) {
		server_error(srv, req, RERR_BAD_REQUEST, msg, NULL, NULL);
		rd->state = RD_ENDED;
		reader_maybe_free(rd);
		return;
	}
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		server_send(srv, req, 200, NULL,
		    rd->format == OUT_SSE        ? "text/event-stream"
		        : rd->format == OUT_JSON ? "application/json"
		                                 : "application/x-ndjson",
		    "", 0, NULL, NULL);
		rd->state = RD_ENDED;
		reader_maybe_free(rd);
		return;
	}
	if (rd->follow) {
		snprintf(rd->watch.id, sizeof(rd->watch.id), "%s", id);
		rd->watch.fn = reader_notify;
		rd->watch.arg = rd;
		event_assign(
		    &rd->live_ev, srv->base, -1, 0, reader_live_cb, rd);
		jobs_watch(srv->jobs, &rd->watch);
		rd->watching = true;
	}
	reader_read(rd);
}

/* --- a stored body ------------------------------------------------------ */

static void body_page_cb(
    enum store_err err, const struct store_body_page *pg, void *arg);

/* Ask the store for the body's next piece. */
static void
body_read(struct job_reader *rd)
{
	enum store_err err;

	reader_set_state(rd, RD_READING);
	err = store_body_read(jobs_store(rd->srv->jobs), rd->id, rd->index,
	    rd->offset, 0, body_page_cb, rd);
	if (err != STORE_OK) {
		reader_error(rd, err);
		return;
	}
	rd->busy = true;
}

/* The reply's head, from the first piece: the stored Content-Type (a
 * body stored without one is application/octet-stream, RFC 9110
 * §8.3), the codings still on it, its length. */
static void
body_start_reply(struct job_reader *rd, const struct store_body_page *pg)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(rd->req);
	char len[24];

	rd->size = pg->size;
	evhttp_add_header(out, "Content-Type",
	    pg->type != NULL ? pg->type : "application/octet-stream");
	if (pg->coding != NULL)
		evhttp_add_header(out, "Content-Encoding", pg->coding);
	snprintf(len, sizeof(len), "%" PRIu64, pg->size);
	evhttp_add_header(out, "Content-Length", len);
	evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
	/* An upstream's page opened from the dashboard (same origin as
	 * its token) must not run: a sandbox, no script, no requests. */
	evhttp_add_header(
	    out, "Content-Security-Policy", "sandbox; default-src 'none'");
	evhttp_add_header(out, "Cache-Control", "no-store");
	reader_start_stream(rd);
}

static void
body_page_cb(enum store_err err, const struct store_body_page *pg, void *arg)
{
	struct job_reader *rd = arg;
	struct evbuffer *evb;

	rd->busy = false;
	if (rd->gone) {
		reader_maybe_free(rd);
		return;
	}
	if (err == STORE_OK && rd->started && pg->size != rd->size)
		err = STORE_EIO; /* another body now: not this one's rest */
	if (err != STORE_OK) {
		reader_error(rd, err);
		return;
	}
	if (!rd->started)
		body_start_reply(rd, pg);
	if (pg->len > 0 &&
	    evhttp_request_get_command(rd->req) != EVHTTP_REQ_HEAD) {
		evb = evbuffer_new();
		evbuffer_add(evb, pg->data, pg->len);
		evhttp_send_reply_chunk_with_cb(
		    rd->req, evb, reader_drained_cb, rd);
		evbuffer_free(evb);
	}
	rd->offset += pg->len;
	if (rd->offset >= rd->size || pg->len == 0 ||
	    evhttp_request_get_command(rd->req) == EVHTTP_REQ_HEAD)
		reader_end(rd);
	else if (reader_unsent(rd) > rd->srv->cfg->output_high_water)
		reader_set_state(rd, RD_WRITING);
	else
		body_read(rd);
}

void
job_readers_init(struct job_readers *rs)
{
	TAILQ_INIT(&rs->list);
}

void
job_readers_close(struct job_readers *rs)
{
	struct job_reader *rd, *next;

	for (rd = TAILQ_FIRST(&rs->list); rd != NULL; rd = next) {
		next = TAILQ_NEXT(rd, link);
		if (rd->state == RD_ENDED)
			continue;
		rd->gone = true;
		if (rd->started) {
			reader_cut(rd); /* a body's rest never comes */
			reader_end(rd);
			continue;
		}
		reader_set_state(rd, RD_ENDED);
		reader_unwatch(rd);
		server_error(rd->srv, rd->req, RERR_DRAINING,
		    "fanoutd is shutting down; read the results again later",
		    "Retry-After", "1");
		reader_maybe_free(rd);
	}
}
