/*
 * fanout.c - the `fanout` command (fanout(1), issue #18): reads URLs or
 * a JSON batch, posts them to fanoutd's /v1/batch and prints one line
 * per item as it completes, with a progress bar on a terminal and
 * bodies saved to a directory with -d. This file runs the pieces of
 * cli.h in order and turns the outcome into the exit status:
 * 0 every item ok, 1 usage, 2 daemon unreachable / refused / cut
 * short, 3 some items failed, 4 every item failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "base64.h"
#include "cli.h"
#include "util.h"

/* The token: --token-file's first line, else FANOUTD_TOKEN, else none.
 * Never argv (other users can read it). 0, or 1 with err. */
static int
read_token(const struct cli *c, char **token, struct buf *err)
{
	const char *env = getenv("FANOUTD_TOKEN");
	char line[4096];
	FILE *f;

	*token = NULL;
	if (c->token_file == NULL) {
		if (env != NULL && env[0] != '\0')
			*token = strdup(env);
		return 0;
	}
	f = fopen(c->token_file, "r");
	if (f == NULL) {
		buf_printf(
		    err, "--token-file %s: %s", c->token_file, strerror(errno));
		return 1;
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '\0') {
		buf_printf(err, "--token-file %s: empty", c->token_file);
		return 1;
	}
	*token = strdup(line);
	return 0;
}

struct download {
	struct cli_run *r;
	const char *path; /* the daemon's body_url */
};

/* A job's stored body (GET body_url), streamed into fd. */
static int
fill_download(void *ctx, int fd, struct buf *err)
{
	struct download *d = ctx;
	struct cli_http h = {0};
	struct buf url = BUF_INIT;
	enum cli_http_end end;

	cli_server_url(d->r->c, &url, d->path, NULL);
	h.url = url.data;
	h.method = "GET";
	h.unix_socket = d->r->c->unix_socket;
	h.token = d->r->token;
	h.content_type = "application/json";
	h.raw_fd = fd;
	end = cli_http_run(&h);
	if (end == CLI_HTTP_STATUS)
		buf_printf(err, "GET %s: HTTP %ld: %.200s", d->path, h.status,
		    h.errbody.data != NULL ? h.errbody.data : "");
	else if (end != CLI_HTTP_DONE)
		buf_printf(err, "GET %s: %s", d->path,
		    end == CLI_HTTP_INTERRUPTED ? "interrupted" : h.error);
	cli_http_free(&h);
	buf_free(&url);
	return end == CLI_HTTP_DONE ? 0 : -1;
}

/*
 * Save an ok item's body: inline on its line, or (a job's, too large to
 * be inline) downloaded from its body_url straight to the file. A job's
 * body saved by an earlier run (its manifest says so, and the file is
 * there with that size) is not saved again. The line then ends with its
 * "saved_path" (and "save_skipped": true when it was there already), or
 * "save_error", spliced before the closing brace so the daemon's bytes
 * are otherwise kept.
 */
static void
save_body(struct cli_run *r, const char *line, size_t n)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	const char *url = json_string_value(json_object_get(j, "url"));
	json_t *body = json_object_get(j, "body");
	const char *enc =
	    json_string_value(json_object_get(j, "body_encoding"));
	const char *body_url =
	    json_string_value(json_object_get(j, "body_url"));
	uint64_t index =
	    (uint64_t)json_integer_value(json_object_get(j, "index"));
	uint64_t bytes =
	    (uint64_t)json_integer_value(json_object_get(j, "body_bytes"));
	struct download dl = {r, body_url};
	unsigned char *raw = NULL;
	bool skipped = false;
	size_t rawn = 0;
	json_t *note;
	char *lit;
	int rc = -1;

	buf_reset(&r->err);
	if (url == NULL || (!json_is_string(body) && body_url == NULL))
		buf_printf(&r->err, "the line has no url or body");
	else if (json_is_true(json_object_get(j, "truncated")) &&
	    r->job_id == NULL)
		buf_printf(&r->err,
		    "the body was cut at max_body_bytes (%llu bytes); ask "
		    "for more with --max-body-bytes (and --job for bodies "
		    "past the daemon's batch cap)",
		    (unsigned long long)bytes);
	else if (json_is_true(json_object_get(j, "truncated")))
		/* what the job stored is all there is: reading it again
		 * (fanout results) cannot give more */
		buf_printf(&r->err,
		    "the job stored the body cut at max_body_bytes (%llu "
		    "bytes); submit the job again with a larger "
		    "--max-body-bytes (up to the daemon's [jobs] "
		    "max_body_bytes_cap)",
		    (unsigned long long)bytes);
	else if (r->job_id != NULL &&
	    cli_saver_saved(&r->saver, index, bytes, &r->path))
		rc = 0, skipped = true;
	else if (!json_is_string(body))
		rc = cli_save_fill(
		    &r->saver, url, fill_download, &dl, &r->path, &r->err);
	else if (enc != NULL && strcmp(enc, "base64") == 0) {
		size_t bn = json_string_length(body);

		raw = malloc(BASE64_DECODED_MAX(bn) + 1);
		if (raw == NULL ||
		    base64_decode(json_string_value(body), bn, raw, &rawn) != 0)
			buf_printf(&r->err, "the body is not base64");
		else
			rc = 0;
	} else
		rc = 0;
	if (rc == 0 && !skipped && json_is_string(body)) {
		rc = raw != NULL
		    ? cli_save(&r->saver, url, raw, rawn, &r->path, &r->err)
		    : cli_save(&r->saver, url, json_string_value(body),
		          json_string_length(body), &r->path, &r->err);
	}
	if (rc == 0 && !skipped)
		cli_saver_record(&r->saver, index, bytes, r->path.data);
	note = rc == 0 ? json_string(r->path.data) : json_string(r->err.data);
	lit = json_dumps(note, JSON_ENCODE_ANY);
	buf_reset(&r->line);
	buf_add(&r->line, line, n - 1);
	buf_printf(&r->line, ",\"%s\":%s%s}",
	    rc == 0 ? "saved_path" : "save_error", lit != NULL ? lit : "null",
	    skipped ? ",\"save_skipped\":true" : "");
	if (rc != 0) {
		r->save_failed++;
		cli_out_clear(&r->out);
		fprintf(stderr, "fanout: %s: not saved: %s\n",
		    url != NULL ? url : "?", r->err.data);
	}
	free(lit);
	json_decref(note);
	free(raw);
	json_decref(j);
}

/* A job's summary, {"summary":{"job":{"counts":{...}},"lines":N}}:
 * the job's counts are the ones that say how it went (a retried item's
 * old failed line is still among the lines). */
static void
job_summary(const char *line, size_t n, struct cli_line *l)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	json_t *counts = json_object_get(
	    json_object_get(json_object_get(j, "summary"), "job"), "counts");

	l->total =
	    (uint64_t)json_integer_value(json_object_get(counts, "total"));
	l->okn = (uint64_t)json_integer_value(json_object_get(counts, "ok"));
	l->failed =
	    (uint64_t)json_integer_value(json_object_get(counts, "failed"));
	json_decref(j);
}

static int
on_line(void *ctx, const char *line, size_t n)
{
	struct cli_run *r = ctx;
	struct cli_line l;

	cli_line_scan(line, n, &l);
	switch (l.kind) {
	case CLI_LINE_PROGRESS:
		cli_out_count(&r->out, &l, false);
		return 0;
	case CLI_LINE_SUMMARY:
		r->summary = true;
		if (r->job_id != NULL)
			job_summary(line, n, &l);
		r->sum = l;
		cli_out_line(&r->out, line, n, &l);
		cli_out_count(&r->out, NULL, true); /* the last figures */
		return 0;
	case CLI_LINE_OTHER:
		cli_out_clear(&r->out);
		fprintf(stderr,
		    "fanout: ignored a line that is not a result: "
		    "%.200s\n",
		    line);
		return 0;
	case CLI_LINE_RESULT:
		break;
	}
	r->results++;
	if (!l.ok)
		r->failed++;
	if (r->saving && l.ok && (l.has_body || l.has_body_url) && n > 2 &&
	    line[n - 1] == '}') {
		save_body(r, line, n);
		cli_out_line(&r->out, r->line.data, r->line.len, &l);
	} else
		cli_out_line(&r->out, line, n, &l);
	/* the cursor a resume starts after: not past a line whose body
	 * download Ctrl-C cut short (the resume saves it) */
	if (r->job_id != NULL && n > 7 && memcmp(line, "{\"seq\":", 7) == 0 &&
	    !cli_http_interrupted())
		r->last_seq = strtoull(line + 7, NULL, 10);
	cli_out_count(&r->out, &l, false);
	if (!l.ok && r->c->fail_fast) {
		r->fail_fast_hit = true;
		r->fail_fast_index = l.index;
		return -1;
	}
	return 0;
}

static int
after_chunk(void *ctx)
{
	struct cli_run *r = ctx;

	if (cli_out_flush(&r->out) != 0) {
		int e = errno;

		cli_out_clear(&r->out);
		fprintf(stderr, "fanout: cannot write the results: %s\n",
		    strerror(e));
		return -1;
	}
	return 0;
}

/* A refusal in words: the daemon's {"error":{"type","message"}}. */
void
cli_say_refused(const struct cli_http *h, const char *what)
{
	json_t *j = json_loadb(h->errbody.data != NULL ? h->errbody.data : "",
	    h->errbody.len, 0, NULL);
	json_t *e = json_object_get(j, "error");
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (msg != NULL)
		fprintf(stderr,
		    "fanout: fanoutd refused %s (HTTP %ld, %s): %s\n", what,
		    h->status, type != NULL ? type : "error", msg);
	else
		fprintf(stderr, "fanout: fanoutd answered HTTP %ld: %.200s\n",
		    h->status, h->errbody.data != NULL ? h->errbody.data : "");
	json_decref(j);
}

/* No answer from the daemon, in words: where it was looked for (the
 * unix socket's path, else the URL) and why. */
void
cli_say_unreachable(const struct cli *c, const struct cli_http *h)
{
	if (c->unix_socket != NULL)
		fprintf(stderr,
		    "fanout: cannot reach fanoutd at the unix socket %s: %s\n",
		    c->unix_socket, h->error);
	else
		fprintf(stderr, "fanout: cannot reach fanoutd at %s: %s\n",
		    c->server, h->error);
}

/* The exit status of a run that ended as end. */
static int
outcome(struct cli_run *r, enum cli_http_end end, struct cli_http *h)
{
	uint64_t failed = r->failed + r->save_failed;

	switch (end) {
	case CLI_HTTP_TRANSPORT:
		cli_say_unreachable(r->c, h);
		return CLI_EXIT_DAEMON;
	case CLI_HTTP_STATUS:
		cli_say_refused(h, "the batch");
		return CLI_EXIT_DAEMON;
	case CLI_HTTP_INTERRUPTED:
		if (r->job_id != NULL) {
			struct buf cmd = BUF_INIT;

			cli_resume_command(r, &cmd);
			fprintf(stderr,
			    "fanout: interrupted; job %s keeps running. "
			    "Resume with: %s\n",
			    r->job_id, cmd.data);
			buf_free(&cmd);
			return 130;
		}
		fprintf(stderr,
		    "fanout: interrupted: the batch is cancelled "
		    "(%llu of its results printed)\n",
		    (unsigned long long)r->results);
		return 130;
	case CLI_HTTP_STOPPED:
		if (!r->fail_fast_hit)
			return CLI_EXIT_DAEMON; /* the output failed */
		if (r->job_id != NULL)
			cli_fail_fast_job(r);
		else
			fprintf(stderr,
			    "fanout: --fail-fast: item %llu failed; the "
			    "rest of the batch is cancelled\n",
			    (unsigned long long)r->fail_fast_index);
		return r->results == r->out.total && failed == r->results
		    ? CLI_EXIT_ALL_FAILED
		    : CLI_EXIT_SOME_FAILED;
	case CLI_HTTP_DONE:
		break;
	}
	if (r->job_id != NULL) /* the job's counts, not the lines' */
		failed = r->sum.failed + r->save_failed;
	if (!r->summary) {
		fprintf(stderr,
		    "fanout: the answer ended before its summary "
		    "(%llu results): fanoutd stopped?\n",
		    (unsigned long long)r->results);
		return CLI_EXIT_DAEMON;
	}
	if (failed == 0)
		return CLI_EXIT_OK;
	return failed >= r->sum.total ? CLI_EXIT_ALL_FAILED
	                              : CLI_EXIT_SOME_FAILED;
}

/* The daemon's URL for path (and query, when not empty) into url. */
void
cli_server_url(
    const struct cli *c, struct buf *url, const char *path, const char *query)
{
	size_t n = strlen(c->server);

	if (n > 0 && c->server[n - 1] == '/')
		n--;
	buf_printf(url, "%.*s%s%s%s", (int)n, c->server, path,
	    query != NULL && query[0] != '\0' ? "?" : "",
	    query != NULL ? query : "");
}

/* The request body: a plain URL list as text/plain, anything more (or
 * a job with a name) as JSON. 0, or 1 with r->err (a usage error). */
static int
batch_body(struct cli_run *r, struct cli_http *h, struct buf *list,
    json_t **batch, char **json, size_t *nitems)
{
	const struct cli *c = r->c;

	*nitems = c->nurls;
	if (c->job_name == NULL && cli_build_list(c, list)) {
		h->content_type = "text/plain";
		h->body = list->data;
		h->body_len = list->len;
		return 0;
	}
	if ((*batch = cli_build_batch(c, nitems, &r->err)) == NULL)
		return 1;
	if (c->job_name != NULL) {
		json_t *o = json_is_object(*batch)
		    ? json_incref(*batch)
		    : json_pack("{sO}", "requests", *batch);

		json_object_set_new(
		    o, "job", json_pack("{ss}", "name", c->job_name));
		json_decref(*batch);
		*batch = o;
	}
	*json = json_dumps(*batch, JSON_COMPACT);
	h->content_type = "application/json";
	h->body = *json;
	h->body_len = *json != NULL ? strlen(*json) : 0;
	return 0;
}

/* Where results go: -d, -o, the bar (total: the items). 0, or 1. */
static int
run_open(struct cli_run *r, uint64_t total)
{
	struct cli *c = r->c;
	int fd = STDOUT_FILENO;
	bool bar;

	if (c->dir != NULL) {
		if (cli_saver_open(&r->saver, c->dir, c->overwrite, &r->err) !=
		    0) {
			fprintf(stderr, "fanout: -d %s\n", r->err.data);
			return 1;
		}
		r->saving = true;
	}
	if (c->out_file != NULL) {
		fd = open(c->out_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0666);
		if (fd < 0) {
			fprintf(stderr, "fanout: -o %s: %s\n", c->out_file,
			    strerror(errno));
			return 1;
		}
	}
	bar = c->progress == CLI_PROGRESS_ALWAYS ||
	    (c->progress == CLI_PROGRESS_AUTO && isatty(STDERR_FILENO));
	cli_out_init(&r->out, fd, c->format, bar, total);
	return 0;
}

static void
run_close(struct cli_run *r)
{
	if (r->out.fd != STDOUT_FILENO && r->out.fd >= 0)
		close(r->out.fd);
	cli_out_free(&r->out);
	if (r->saving)
		cli_saver_close(&r->saver);
	buf_free(&r->line);
	buf_free(&r->path);
	buf_free(&r->err);
}

/* Stream a result set from url (POST body, or GET) into r's output;
 * the exit status. */
int
cli_run_stream(
    struct cli_run *r, struct cli_http *h, const char *url, const char *token)
{
	enum cli_http_end end;
	int rc;

	h->url = url;
	h->unix_socket = r->c->unix_socket;
	h->token = token;
	h->on_line = on_line;
	h->after_chunk = after_chunk;
	h->ctx = r;
	if (r->out.bar)
		cli_out_count(&r->out, NULL, true);
	end = cli_http_run(h);
	cli_out_clear(&r->out); /* before any message: the bar's line is free */
	rc = outcome(r, end, h);
	cli_http_free(h);
	return rc;
}

/* --job -d: a download keeps whole files, so unless the caller set
 * max_body_bytes (a flag, or --json's options) it asks for as much as
 * the daemon allows a job (it caps the value at [jobs]
 * max_body_bytes_cap). */
static void
ask_whole_bodies(struct cli *c)
{
	size_t i;

	if (!c->job || c->dir == NULL || c->json_file != NULL)
		return;
	for (i = 0; i < c->nopt_set; i++)
		if (strcmp(c->opt_set[i], "max_body_bytes") == 0)
			return;
	buf_printf(&c->query, "%smax_body_bytes=%llu", c->query.len ? "&" : "",
	    1ull << 40);
}

/* Everything after the command line was read. */
static int
run(struct cli *c)
{
	struct cli_run r = {.c = c};
	struct cli_http h = {0};
	struct buf url = BUF_INIT, list = BUF_INIT;
	size_t nitems = 0;
	json_t *batch = NULL;
	char *token = NULL, *json = NULL;
	int rc;

	if ((c->command == NULL &&
	        batch_body(&r, &h, &list, &batch, &json, &nitems) != 0) ||
	    read_token(c, &token, &r.err) != 0) {
		fprintf(stderr, "fanout: %s\n", buf_cstr(&r.err));
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	r.token = token;
	ask_whole_bodies(c);
	if (run_open(&r, nitems) != 0) {
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	/* the bar is drawn from the daemon's progress lines: ask for them
	 * (a job's results have none: the bar counts its lines) */
	if (r.out.bar && !c->progress_ms_set && !c->job && c->command == NULL)
		buf_printf(
		    &c->query, "%sprogress_ms=200", c->query.len ? "&" : "");
	if (c->command != NULL && strcmp(c->command, "jobs") == 0)
		rc = cli_job_list(&r, token);
	else if (c->command != NULL && strcmp(c->command, "results") == 0)
		rc = cli_job_results(&r, c->job_id, token);
	else if (c->command != NULL)
		rc = cli_job_one(&r, token);
	else if (c->job)
		rc = cli_job_submit(&r, &h, token);
	else {
		cli_server_url(c, &url, "/v1/batch", buf_cstr(&c->query));
		rc = cli_run_stream(&r, &h, url.data, token);
	}
out:
	run_close(&r);
	free(token);
	free(json);
	buf_free(&list);
	json_decref(batch);
	buf_free(&url);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli c;
	struct buf err = BUF_INIT;
	int rc;

	rc = cli_parse_args(&c, argc, argv, &err);
	if (rc != 0) {
		if (rc > 0)
			fprintf(stderr,
			    "fanout: %s\n(fanout --help lists the flags)\n",
			    err.data);
		cli_free(&c);
		buf_free(&err);
		return rc > 0 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
	}
	buf_free(&err);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "fanout: libcurl did not start\n");
		cli_free(&c);
		return CLI_EXIT_DAEMON;
	}
	rc = run(&c);
	curl_global_cleanup();
	cli_free(&c);
	return rc;
}
