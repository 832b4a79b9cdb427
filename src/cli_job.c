/*
 * cli_job.c - fanout on durable jobs (issue #18 with #16): --job submits
 * the batch as a job and follows its results; the commands jobs,
 * status, results, retry and cancel; the command that resumes a
 * following interrupted by Ctrl-C; --fail-fast on a job (which cancels
 * it). Each short exchange is one JSON document (cli_job_call); a job's
 * results stream through cli_run_stream like a batch's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static int
on_doc_line(void *ctx, const char *line, size_t n)
{
	buf_add(ctx, line, n);
	return 0;
}

static int
no_flush(void *ctx)
{
	(void)ctx;
	return 0;
}

/*
 * One short exchange about jobs: method path (with query), an optional
 * JSON body; the answer's document into doc. 0 on a 2xx; else the
 * failure said in words and CLI_EXIT_DAEMON.
 */
int
cli_job_call(const struct cli *c, const char *token, const char *method,
    const char *path, const char *query, const struct cli_http *body,
    struct buf *doc)
{
	struct cli_http h = {0};
	struct buf url = BUF_INIT;
	enum cli_http_end end;
	int rc = 0;

	cli_server_url(c, &url, path, query);
	h.url = url.data;
	h.method = method;
	h.unix_socket = c->unix_socket;
	h.token = token;
	h.content_type = body != NULL ? body->content_type : "application/json";
	h.body = body != NULL ? body->body : NULL;
	h.body_len = body != NULL ? body->body_len : 0;
	h.on_line = on_doc_line;
	h.after_chunk = no_flush;
	h.ctx = doc;
	end = cli_http_run(&h);
	if (end == CLI_HTTP_TRANSPORT) {
		cli_say_unreachable(c, &h);
		rc = CLI_EXIT_DAEMON;
	} else if (end == CLI_HTTP_STATUS) {
		cli_say_refused(&h, body != NULL ? "the job" : "the request");
		rc = CLI_EXIT_DAEMON;
	} else if (end != CLI_HTTP_DONE) {
		rc = end == CLI_HTTP_INTERRUPTED ? 130 : CLI_EXIT_DAEMON;
	}
	cli_http_free(&h);
	buf_free(&url);
	return rc;
}

/* Print one JSON value as a line on the results' output. */
static int
print_line(struct cli_run *r, json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT);
	int rc = 0;

	if (s == NULL || cli_write_all(r->out.fd, s, strlen(s)) != 0 ||
	    cli_write_all(r->out.fd, "\n", 1) != 0)
		rc = CLI_EXIT_DAEMON;
	free(s);
	return rc;
}

/* fanout results ID: the job's counts first (for the bar), then its
 * lines (following when asked). */
int
cli_job_results(struct cli_run *r, const char *id, const char *token)
{
	const struct cli *c = r->c;
	struct buf path = BUF_INIT, q = BUF_INIT, doc = BUF_INIT,
	           url = BUF_INIT;
	struct cli_http h = {0};
	json_t *j;
	int rc;

	buf_printf(&path, "/v1/jobs/%s", id);
	if ((rc = cli_job_call(c, token, "GET", path.data, NULL, NULL, &doc)) !=
	    0)
		goto out;
	j = json_loadb(doc.data ? doc.data : "", doc.len, 0, NULL);
	r->out.total = (uint64_t)json_integer_value(json_object_get(
	    json_object_get(json_object_get(j, "job"), "counts"), "total"));
	json_decref(j);
	r->job_id = id;
	if (c->after != NULL) /* the cursor, until a line moves it */
		r->last_seq = strtoull(c->after, NULL, 10);
	if (r->saving && cli_saver_job(&r->saver, id, &r->err) != 0) {
		fprintf(stderr, "fanout: -d %s\n", r->err.data);
		rc = CLI_EXIT_USAGE;
		goto out;
	}
	buf_printf(&q, "after=%s%s%s", c->after != NULL ? c->after : "0",
	    c->follow ? "&follow=true" : "",
	    c->failed_only ? "&state=failed" : "");
	buf_adds(&path, "/results");
	cli_server_url(c, &url, path.data, q.data);
	h.method = "GET";
	rc = cli_run_stream(r, &h, url.data, token);
out:
	buf_free(&path);
	buf_free(&q);
	buf_free(&doc);
	buf_free(&url);
	return rc;
}

/* fanout jobs: every job (of --state), one JSON line each. */
int
cli_job_list(struct cli_run *r, const char *token)
{
	const struct cli *c = r->c;
	struct buf q = BUF_INIT, doc = BUF_INIT;
	char next[64] = "";
	size_t i;
	int rc;

	do {
		json_t *j, *jobs, *nx;

		buf_reset(&q);
		buf_reset(&doc);
		buf_printf(&q, "limit=1000%s%s%s%s", c->state ? "&state=" : "",
		    c->state ? c->state : "", next[0] ? "&after=" : "", next);
		if ((rc = cli_job_call(
		         c, token, "GET", "/v1/jobs", q.data, NULL, &doc)) != 0)
			break;
		j = json_loadb(doc.data ? doc.data : "", doc.len, 0, NULL);
		jobs = json_object_get(j, "jobs");
		for (i = 0; rc == 0 && i < json_array_size(jobs); i++)
			rc = print_line(r, json_array_get(jobs, i));
		nx = json_object_get(j, "next");
		snprintf(next, sizeof(next), "%s",
		    json_is_string(nx) ? json_string_value(nx) : "");
		json_decref(j);
	} while (rc == 0 && next[0] != '\0');
	buf_free(&q);
	buf_free(&doc);
	return rc;
}

/* fanout status|retry|cancel ID: the job, one JSON line. */
int
cli_job_one(struct cli_run *r, const char *token)
{
	const struct cli *c = r->c;
	struct buf path = BUF_INIT, doc = BUF_INIT;
	bool get = strcmp(c->command, "status") == 0;
	json_t *j;
	int rc;

	buf_printf(&path, "/v1/jobs/%s%s%s", c->job_id, get ? "" : "/",
	    get ? "" : c->command);
	rc = cli_job_call(
	    c, token, get ? "GET" : "POST", path.data, NULL, NULL, &doc);
	if (rc == 0) {
		j = json_loadb(doc.data ? doc.data : "", doc.len, 0, NULL);
		rc = print_line(r, json_object_get(j, "job"));
		json_decref(j);
	}
	buf_free(&path);
	buf_free(&doc);
	return rc;
}

/* fanout --job: submit the batch as a job, then follow its results. */
int
cli_job_submit(struct cli_run *r, struct cli_http *body, const char *token)
{
	struct buf doc = BUF_INIT;
	json_t *j;
	char id[64];
	int rc;

	rc = cli_job_call(r->c, token, "POST", "/v1/jobs",
	    buf_cstr(&r->c->query), body, &doc);
	if (rc == 0) {
		j = json_loadb(doc.data ? doc.data : "", doc.len, 0, NULL);
		snprintf(id, sizeof(id), "%s",
		    json_string_value(
		        json_object_get(json_object_get(j, "job"), "id"))
		        ?: "");
		json_decref(j);
		fprintf(stderr,
		    "fanout: job %s submitted; its results: fanout "
		    "results %s\n",
		    id, id);
		r->c->follow = true;
		rc = cli_job_results(r, id, token);
	}
	buf_free(&doc);
	return rc;
}

/*
 * The command that goes on following r's job where this run stopped and
 * does what this run did: the same daemon, token file, bodies saved to
 * the same directory, format and progress. -o FILE, which truncates,
 * becomes an append (>> FILE). Each argument quoted for a shell.
 */
void
cli_resume_command(const struct cli_run *r, struct buf *cmd)
{
	const struct cli *c = r->c;
	const struct {
		const char *flag, *value;
	} args[] = {
	    {"--server", c->server_set ? c->server : NULL},
	    {"--unix-socket", c->unix_socket},
	    {"--token-file", c->token_file},
	    {"-d", c->dir},
	    {"--format", c->format == CLI_FORMAT_TABLE ? "table" : NULL},
	    {"--progress",
	        c->progress == CLI_PROGRESS_ALWAYS      ? "always"
	            : c->progress == CLI_PROGRESS_NEVER ? "never"
	                                                : NULL},
	};
	size_t i;

	buf_adds(cmd, "fanout results ");
	cli_shell_quote(cmd, r->job_id);
	buf_printf(
	    cmd, " --follow --after %llu", (unsigned long long)r->last_seq);
	if (c->failed_only)
		buf_adds(cmd, " --failed");
	for (i = 0; i < ARRAY_SIZE(args); i++) {
		if (args[i].value == NULL)
			continue;
		buf_printf(cmd, " %s ", args[i].flag);
		cli_shell_quote(cmd, args[i].value);
	}
	if (c->dir != NULL && c->overwrite)
		buf_adds(cmd, " --overwrite");
	if (c->out_file != NULL) {
		buf_adds(cmd, " >> ");
		cli_shell_quote(cmd, c->out_file);
	}
}

/*
 * --fail-fast on a job's results. Closing the connection stops only the
 * reading: a job runs whether anyone reads it or not. So with --job the
 * first failure cancels the job (POST /v1/jobs/ID/cancel, as `fanout
 * cancel` does) and says whether that was done; `fanout results` stops
 * reading and leaves the job as it is (it was not started here).
 */
void
cli_fail_fast_job(struct cli_run *r)
{
	struct buf path = BUF_INIT, doc = BUF_INIT;
	unsigned long long index = (unsigned long long)r->fail_fast_index;

	if (!r->c->job) {
		fprintf(stderr,
		    "fanout: --fail-fast: item %llu failed; stopped reading "
		    "job %s, which is not cancelled (fanout cancel %s)\n",
		    index, r->job_id, r->job_id);
		return;
	}
	buf_printf(&path, "/v1/jobs/%s/cancel", r->job_id);
	if (cli_job_call(r->c, r->token, "POST", path.data, NULL, NULL, &doc) ==
	    0)
		fprintf(stderr,
		    "fanout: --fail-fast: item %llu failed; job %s is "
		    "cancelled\n",
		    index, r->job_id);
	else
		fprintf(stderr,
		    "fanout: --fail-fast: item %llu failed; job %s could not "
		    "be cancelled (the reason is above)\n",
		    index, r->job_id);
	buf_free(&path);
	buf_free(&doc);
}
