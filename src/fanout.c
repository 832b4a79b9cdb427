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

struct run {
	struct cli *c;
	struct cli_out out;
	struct cli_saver saver;
	bool saving;
	bool summary;        /* the summary line came */
	struct cli_line sum; /* its counts */
	uint64_t results, failed, save_failed;
	bool fail_fast_hit;
	uint64_t fail_fast_index;
	struct buf line, path, err;
};

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

/* Save an ok item's inline body; the line then ends with its
 * "saved_path" (or "save_error"), spliced before the closing brace so
 * the daemon's bytes are otherwise kept. */
static void
save_body(struct run *r, const char *line, size_t n)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	const char *url = json_string_value(json_object_get(j, "url"));
	json_t *body = json_object_get(j, "body");
	const char *enc =
	    json_string_value(json_object_get(j, "body_encoding"));
	unsigned char *raw = NULL;
	size_t rawn = 0;
	json_t *note;
	char *lit;
	int rc = -1;

	buf_reset(&r->err);
	if (url == NULL || !json_is_string(body))
		buf_printf(&r->err, "the line has no url or body");
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
	if (rc == 0)
		rc = raw != NULL
		    ? cli_save(&r->saver, url, raw, rawn, &r->path, &r->err)
		    : cli_save(&r->saver, url, json_string_value(body),
		          json_string_length(body), &r->path, &r->err);
	note = rc == 0 ? json_string(r->path.data) : json_string(r->err.data);
	lit = json_dumps(note, JSON_ENCODE_ANY);
	buf_reset(&r->line);
	buf_add(&r->line, line, n - 1);
	buf_printf(&r->line, ",\"%s\":%s}",
	    rc == 0 ? "saved_path" : "save_error", lit != NULL ? lit : "null");
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

static int
on_line(void *ctx, const char *line, size_t n)
{
	struct run *r = ctx;
	struct cli_line l;

	cli_line_scan(line, n, &l);
	switch (l.kind) {
	case CLI_LINE_PROGRESS:
		cli_out_count(&r->out, &l, false);
		return 0;
	case CLI_LINE_SUMMARY:
		r->summary = true;
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
	if (r->saving && l.ok && l.has_body && n > 2 && line[n - 1] == '}') {
		save_body(r, line, n);
		cli_out_line(&r->out, r->line.data, r->line.len, &l);
	} else
		cli_out_line(&r->out, line, n, &l);
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
	struct run *r = ctx;

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
static void
say_refused(const struct cli_http *h)
{
	json_t *j = json_loadb(h->errbody.data != NULL ? h->errbody.data : "",
	    h->errbody.len, 0, NULL);
	json_t *e = json_object_get(j, "error");
	const char *type = json_string_value(json_object_get(e, "type"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (msg != NULL)
		fprintf(stderr,
		    "fanout: fanoutd refused the batch (HTTP %ld, %s): %s\n",
		    h->status, type != NULL ? type : "error", msg);
	else
		fprintf(stderr, "fanout: fanoutd answered HTTP %ld: %.200s\n",
		    h->status, h->errbody.data != NULL ? h->errbody.data : "");
	json_decref(j);
}

/* The exit status of a run that ended as end. */
static int
outcome(struct run *r, enum cli_http_end end, struct cli_http *h)
{
	uint64_t failed = r->failed + r->save_failed;

	switch (end) {
	case CLI_HTTP_TRANSPORT:
		fprintf(stderr, "fanout: cannot reach fanoutd at %s: %s\n",
		    r->c->unix_socket != NULL ? r->c->unix_socket
		                              : r->c->server,
		    h->error);
		return CLI_EXIT_DAEMON;
	case CLI_HTTP_STATUS:
		say_refused(h);
		return CLI_EXIT_DAEMON;
	case CLI_HTTP_INTERRUPTED:
		fprintf(stderr,
		    "fanout: interrupted: the batch is cancelled "
		    "(%llu of its results printed)\n",
		    (unsigned long long)r->results);
		return 130;
	case CLI_HTTP_STOPPED:
		if (!r->fail_fast_hit)
			return CLI_EXIT_DAEMON; /* the output failed */
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

/* Everything after the command line was read. */
static int
run(struct cli *c)
{
	struct run r = {.c = c};
	struct cli_http h = {0};
	struct buf url = BUF_INIT, list = BUF_INIT;
	size_t nitems = c->nurls;
	json_t *batch = NULL;
	char *token = NULL, *json = NULL;
	int fd = STDOUT_FILENO, rc;
	enum cli_http_end end;
	bool bar;

	/* a plain URL list goes as text/plain; anything more as JSON */
	if (cli_build_list(c, &list)) {
		h.content_type = "text/plain";
		h.body = list.data;
		h.body_len = list.len;
	} else if ((batch = cli_build_batch(c, &nitems, &r.err)) != NULL) {
		json = json_dumps(batch, JSON_COMPACT);
		h.content_type = "application/json";
		h.body = json;
		h.body_len = json != NULL ? strlen(json) : 0;
	}
	if (h.body == NULL || read_token(c, &token, &r.err) != 0) {
		fprintf(stderr, "fanout: %s\n", buf_cstr(&r.err));
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	if (c->dir != NULL) {
		if (cli_saver_open(&r.saver, c->dir, c->overwrite, &r.err) !=
		    0) {
			fprintf(stderr, "fanout: -d %s\n", r.err.data);
			rc = CLI_EXIT_USAGE;
			goto out;
		}
		r.saving = true;
	}
	if (c->out_file != NULL) {
		fd = open(c->out_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0666);
		if (fd < 0) {
			fprintf(stderr, "fanout: -o %s: %s\n", c->out_file,
			    strerror(errno));
			rc = CLI_EXIT_USAGE;
			goto out;
		}
	}
	bar = c->progress == CLI_PROGRESS_ALWAYS ||
	    (c->progress == CLI_PROGRESS_AUTO && isatty(STDERR_FILENO));
	/* the bar is drawn from the daemon's progress lines: ask for them */
	if (bar && !c->progress_ms_set)
		buf_printf(
		    &c->query, "%sprogress_ms=200", c->query.len ? "&" : "");
	cli_out_init(&r.out, fd, c->format, bar, nitems);
	buf_printf(&url, "%.*s/v1/batch%s%s",
	    (int)(strlen(c->server) -
	        (c->server[0] != '\0' &&
	            c->server[strlen(c->server) - 1] == '/')),
	    c->server, c->query.len ? "?" : "", buf_cstr(&c->query));
	h.url = url.data;
	h.unix_socket = c->unix_socket;
	h.token = token;
	h.on_line = on_line;
	h.after_chunk = after_chunk;
	h.ctx = &r;
	if (bar)
		cli_out_count(&r.out, NULL, true);
	end = cli_http_run(&h);
	cli_out_clear(&r.out); /* before any message: the bar's line is free */
	rc = outcome(&r, end, &h);
	cli_http_free(&h);
	cli_out_free(&r.out);
	if (fd != STDOUT_FILENO)
		close(fd);
out:
	if (r.saving)
		cli_saver_close(&r.saver);
	free(token);
	free(json);
	buf_free(&list);
	json_decref(batch);
	buf_free(&url);
	buf_free(&r.line);
	buf_free(&r.path);
	buf_free(&r.err);
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
