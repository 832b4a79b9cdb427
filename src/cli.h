/*
 * cli.h - the `fanout` command-line client (issue #18): what it was
 * asked to do (struct cli, filled by cli_args.c from argv and the
 * input files), the pure pieces the unit tests drive (the URL-list
 * parser, the result-line scanner and splitter, the download file
 * names), and the seams between its files:
 *
 *   fanout.c    main: parse, build the batch, run it, the exit status
 *   cli_args.c  argv to struct cli; the batch options come from the
 *               daemon's own option table (options.h), so every option
 *               is spelled once; the URL list and --json input
 *   cli_line.c  NDJSON framing and a scan of one line for the few
 *               fields fanout needs, without building a JSON tree
 *   cli_name.c  download file names and saving a body (.part, rename)
 *   cli_out.c   output (NDJSON or table, whole lines only) and the
 *               progress bar on stderr
 *   cli_http.c  the exchanges with fanoutd through libcurl
 *   cli_job.c   durable jobs: --job, and the jobs, status, results,
 *               retry and cancel commands
 */
#ifndef FANOUTD_CLI_H
#define FANOUTD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "buf.h"
#include "htab.h"

/* The exit statuses of fanout(1). */
enum cli_exit {
	CLI_EXIT_OK = 0,          /* every item ok */
	CLI_EXIT_USAGE = 1,       /* bad command line or input file */
	CLI_EXIT_DAEMON = 2,      /* unreachable, refused, or cut short */
	CLI_EXIT_SOME_FAILED = 3, /* at least one item failed */
	CLI_EXIT_ALL_FAILED = 4,  /* every item failed */
};

enum cli_format { CLI_FORMAT_NDJSON = 0, CLI_FORMAT_TABLE };
enum cli_progress {
	CLI_PROGRESS_AUTO = 0,
	CLI_PROGRESS_ALWAYS,
	CLI_PROGRESS_NEVER
};

struct cli {
	/* input: URLs (arguments and -i files) or one --json file */
	char **urls;
	size_t nurls, capurls;
	const char *json_file; /* "-": stdin */
	bool stdin_used;       /* by -i - */
	/* batch options, as the query string the daemon parses */
	struct buf query;
	const char **opt_set; /* option names given, for --json merging */
	size_t nopt_set;
	bool progress_ms_set;
	/* what every item gets */
	const char *method;
	const char **headers; /* "Name: value" */
	size_t nheaders;
	const char *user_agent;
	/* output */
	enum cli_format format;
	const char *out_file;
	enum cli_progress progress;
	const char *dir;
	bool overwrite;
	bool fail_fast;
	/* durable jobs (issue #16): --job submits the batch as a job and
	 * follows it; a command (jobs, status, results, retry, cancel) works
	 * on jobs already there */
	bool job;
	const char *job_name;
	const char *command; /* NULL: a batch (or --job) */
	const char *job_id;  /* the command's ID */
	bool follow;         /* results --follow */
	bool failed_only;    /* results --failed */
	const char *after;   /* results --after SEQ */
	const char *state;   /* jobs --state LIST */
	/* the daemon */
	const char *server;
	bool server_set; /* by --server (else FANOUTD_URL or the default) */
	const char *unix_socket;
	const char *token_file;
};

void cli_free(struct cli *c);

/*
 * Fill c from argv (env gives FANOUTD_URL). Returns 0; 1 with err set
 * to one sentence (a usage error); or -1 when --help or --version was
 * printed (exit 0).
 */
int cli_parse_args(struct cli *c, int argc, char **argv, struct buf *err);

/* True when "--flag" (without the dashes) sets a batch option of the
 * daemon's table: its own name, or the name with '-' for '_'. *option
 * gets the table's name. */
bool cli_is_batch_flag(const char *flag, const char **option);

/*
 * A URL list: one per line, blank lines and lines whose first non-blank
 * is '#' skipped, leading and trailing blanks (space, tab, CR) trimmed.
 * Calls add for each URL (not NUL-terminated). Returns the count.
 */
size_t cli_parse_list(const char *text, size_t n,
    void (*add)(void *ctx, const char *url, size_t len), void *ctx);

/*
 * The batch as a text/plain URL list (one a line), the form the daemon
 * reads fastest and the same batch byte for byte as `curl --data-binary
 * @list`: when there is no --json, -X, -H or -A, and no URL a list line
 * cannot carry (empty, a blank at either end, a line break, a leading
 * '#'). Else false (send JSON).
 */
bool cli_build_list(const struct cli *c, struct buf *out);

/* Read a URL list from path ("-": stdin) into c. 0, or 1 with err. */
int cli_read_list(struct cli *c, const char *path, struct buf *err);

/*
 * The JSON request body: c's URLs as items, or the --json file with
 * the command line's options taking the place of its own, and -X, -H,
 * --user-agent applied to every item. NULL with err (a usage error).
 * *nitems gets the number of items.
 */
json_t *cli_build_batch(const struct cli *c, size_t *nitems, struct buf *err);

/* --- cli_line.c --- */

enum cli_line_kind {
	CLI_LINE_RESULT = 0, /* {"index":..} */
	CLI_LINE_PROGRESS,   /* {"progress":{"done":..,"total":..}} */
	CLI_LINE_SUMMARY,    /* {"summary":{"total":..,"ok":..,"failed":..}} */
	CLI_LINE_OTHER,      /* anything else (not an object, ...) */
};

struct cli_line {
	enum cli_line_kind kind;
	bool ok;                           /* result: "ok" is true */
	bool has_body;                     /* result: a "body" member */
	bool has_body_url;                 /* result: a "body_url" (a job's) */
	uint64_t index;                    /* result */
	uint64_t body_bytes;               /* result */
	uint64_t done, total, okn, failed; /* progress / summary */
};

/*
 * Scan one NDJSON line (no newline) for the members fanout reads, at
 * the top level of the object only (a nested "ok" is not the item's).
 * Never reads past n; a malformed line is CLI_LINE_OTHER.
 */
void cli_line_scan(const char *s, size_t n, struct cli_line *out);

/* Splits a byte stream into lines, whatever the chunks. */
struct cli_lines {
	struct buf partial; /* an unfinished line carried to the next chunk */
};
/*
 * Feed n bytes; on_line gets each complete line without its '\n' (and
 * without a '\r' before it). Stops and returns -1 when on_line does;
 * else 0. cli_lines_end passes an unterminated last line, if any.
 */
int cli_lines_feed(struct cli_lines *l, const char *p, size_t n,
    int (*on_line)(void *ctx, const char *line, size_t len), void *ctx);
int cli_lines_end(struct cli_lines *l,
    int (*on_line)(void *ctx, const char *line, size_t len), void *ctx);
void cli_lines_free(struct cli_lines *l);

/* --- cli_name.c --- */

#define CLI_NAME_MAX 200 /* bytes of a file name fanout makes */

/*
 * The file name for a URL's body: its last path segment (query and
 * fragment cut, percent-decoded), with '/', '\\', control characters
 * and DEL made '_', a leading '.' made '_' (so never "." or ".." or a
 * hidden file), cut to CLI_NAME_MAX bytes; "index.html" when empty.
 * out has room for CLI_NAME_MAX + 1 bytes.
 */
void cli_name_from_url(const char *url, char *out);

/* Candidate k for name: k = 0 the name itself, else the stem (up to
 * its first '.') with "-k" after it: "a.tar.gz" -> "a-1.tar.gz".
 * out has room for CLI_NAME_MAX + 16 bytes. */
void cli_name_candidate(const char *name, unsigned k, char *out);

struct cli_saver {
	int dirfd;
	const char *dir;
	bool overwrite;
	struct htab taken; /* names written by this run */
	FILE *manifest;    /* a job's: DIR/.fanout-job-ID, or NULL */
	struct htab saved; /* its lines: "INDEX" -> "BYTES\tNAME" */
};

/* Writes a body to fd; 0, or -1 with err. */
typedef int (*cli_fill_fn)(void *ctx, int fd, struct buf *err);

/* Open (mkdir if missing) the download directory. 0, or -1 with err. */
int cli_saver_open(
    struct cli_saver *s, const char *dir, bool overwrite, struct buf *err);
void cli_saver_close(struct cli_saver *s);

/*
 * Write n bytes as the file for url: NAME.part first, then renamed
 * (never over an existing file unless overwrite; a taken name gets the
 * next candidate). path gets DIR/NAME. 0, or -1 with err.
 */
int cli_save(struct cli_saver *s, const char *url, const void *body, size_t n,
    struct buf *path, struct buf *err);
/* The same, the bytes written by fill (a download streamed to disk). */
int cli_save_fill(struct cli_saver *s, const char *url, cli_fill_fn fill,
    void *ctx, struct buf *path, struct buf *err);

/* Saving a job's bodies: read (create) its manifest in DIR. 0, or -1
 * with err. */
int cli_saver_job(struct cli_saver *s, const char *job_id, struct buf *err);
/* Was item index's body (bytes long) saved by an earlier run, and is
 * its file still there with that size? Then path gets DIR/NAME. */
bool cli_saver_saved(
    struct cli_saver *s, uint64_t index, uint64_t bytes, struct buf *path);
/* Item index's body is saved as path: into the manifest (if any). */
void cli_saver_record(
    struct cli_saver *s, uint64_t index, uint64_t bytes, const char *path);

/* --- cli_out.c --- */

/* Where results go: whole lines only, written with one write(2) per
 * flush, so a reader never sees half a line; and the progress bar. */
struct cli_out {
	int fd;
	struct buf buf;
	enum cli_format format;
	bool table_head; /* the table's header row is out */
	/* the progress bar on stderr (bar true: drawn at all) */
	bool bar;
	bool drawn; /* a bar is on the screen now */
	double t0, last_draw;
	uint64_t done, total, ok, failed, bytes;
};

void cli_out_init(struct cli_out *o, int fd, enum cli_format format, bool bar,
    uint64_t total);
/* A result or summary line (no newline) in the chosen format. */
void cli_out_line(
    struct cli_out *o, const char *line, size_t n, const struct cli_line *l);
/* All n bytes to fd (EINTR retried). 0, or -1 with errno. */
int cli_write_all(int fd, const void *p, size_t n);
/* Write what is buffered. 0, or -1 (errno) when the output failed. */
int cli_out_flush(struct cli_out *o);
/* Counts from a line, then redraw the bar (at most every 100 ms,
 * unless force). */
void cli_out_count(struct cli_out *o, const struct cli_line *l, bool force);
/* Remove the bar from the screen. */
void cli_out_clear(struct cli_out *o);
void cli_out_free(struct cli_out *o);

/* s as one word for a POSIX shell (XCU 2.2): as it is when every byte
 * is safe unquoted, else in single quotes ('\'' for a quote). */
void cli_shell_quote(struct buf *out, const char *s);

/* The bar's text for a width (no escapes): pure, for the unit test. */
void cli_bar_text(struct buf *out, unsigned width, uint64_t done,
    uint64_t total, uint64_t ok, uint64_t failed, uint64_t bytes,
    double elapsed_s);

/* --- cli_http.c --- */

enum cli_http_end {
	CLI_HTTP_DONE = 0,    /* a 2xx read to its end */
	CLI_HTTP_TRANSPORT,   /* no answer, or cut: error says why */
	CLI_HTTP_STATUS,      /* an answer other than 2xx: status, errbody */
	CLI_HTTP_STOPPED,     /* on_line or after_chunk said stop */
	CLI_HTTP_INTERRUPTED, /* SIGINT or SIGTERM */
};

struct cli_http {
	const char *url;          /* .../v1/batch?options */
	const char *method;       /* NULL: POST with a body, else GET */
	const char *unix_socket;  /* or NULL */
	const char *token;        /* or NULL */
	const char *content_type; /* of body */
	const char *body;
	size_t body_len;
	int (*on_line)(void *ctx, const char *line, size_t n);
	int (*after_chunk)(void *ctx); /* the chunk's lines are in: flush */
	int raw_fd; /* > 0: a 2xx body goes to this file as it is, and
	               on_line, after_chunk are not called */
	void *ctx;
	/* what happened */
	long status;
	struct buf errbody; /* the body of a refusal (first 64 KiB) */
	char error[256];
};

/* POST the batch (or the method named, with or without a body) and
 * stream the answer's lines to on_line. */
enum cli_http_end cli_http_run(struct cli_http *h);
void cli_http_free(struct cli_http *h);
/* Has SIGINT or SIGTERM come (during an exchange)? */
bool cli_http_interrupted(void);

/* --- fanout.c and cli_job.c: one run of the command --- */

/* What one run of fanout is doing: its output, its saver, its counts. */
struct cli_run {
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
	const char *token;
	/* a job's results (--job, fanout results) */
	const char *job_id;
	uint64_t last_seq; /* the cursor: the last line's seq */
};

/* fanout.c */
/* Stream a result set from url (POST h's body, or GET) into r's output;
 * the exit status. */
int cli_run_stream(
    struct cli_run *r, struct cli_http *h, const char *url, const char *token);
/* The daemon's URL for path (and query, when not empty) into url. */
void cli_server_url(
    const struct cli *c, struct buf *url, const char *path, const char *query);
/* A refusal in words, from the daemon's JSON error. */
void cli_say_refused(const struct cli_http *h, const char *what);
/* No answer from the daemon, in words. */
void cli_say_unreachable(const struct cli *c, const struct cli_http *h);

/* cli_job.c */
/* One short exchange about jobs; its JSON answer into doc. 0 on a 2xx;
 * else said in words and CLI_EXIT_DAEMON (130: interrupted). */
int cli_job_call(const struct cli *c, const char *token, const char *method,
    const char *path, const char *query, const struct cli_http *body,
    struct buf *doc);
/* fanout results ID (and --job's following): the exit status. */
int cli_job_results(struct cli_run *r, const char *id, const char *token);
/* fanout jobs */
int cli_job_list(struct cli_run *r, const char *token);
/* fanout status|retry|cancel ID */
int cli_job_one(struct cli_run *r, const char *token);
/* fanout --job: submit, then follow. */
int cli_job_submit(struct cli_run *r, struct cli_http *body, const char *token);
/* The command that resumes r's job where this run stopped. */
void cli_resume_command(const struct cli_run *r, struct buf *cmd);
/* --fail-fast on a job: cancel it (--job) or say it was not. */
void cli_fail_fast_job(struct cli_run *r);

#endif
