/*
 * test_cli.c - the pure parts of fanout(1): download file names (no
 * "..", no path, no control character; collision candidates), the URL
 * list (comments, blanks, CRLF), the batch flags made from the option
 * table (every row is a flag, under both spellings, and a bad value is
 * a usage error), the NDJSON line scan and splitter, the bar's text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "options.h"

static void
name_is(const char *url, const char *want)
{
	char out[CLI_NAME_MAX + 1];

	cli_name_from_url(url, out);
	if (strcmp(out, want) != 0)
		fail_msg("%s: got [%s], want [%s]", url, out, want);
}

static void
test_names_are_the_last_segment(void **state)
{
	name_is("http://h/a/b/file.txt", "file.txt");
	name_is("http://h/a/b/file.txt?x=1#f", "file.txt");
	name_is("http://h/a/b/", "index.html");
	name_is("http://h", "index.html");
	name_is("http://h?q=/etc/passwd", "index.html");
	name_is("http://h/a%20b.txt", "a b.txt");
	name_is("https://user@h:8080/dir/x.tar.gz", "x.tar.gz");
}

static void
test_names_cannot_escape_the_directory(void **state)
{
	char out[CLI_NAME_MAX + 1], big[600];
	size_t i;

	name_is("http://h/..", "_.");
	name_is("http://h/a/%2e%2e", "_.");
	name_is("http://h/.", "_");
	name_is("http://h/.hidden", "_hidden");
	name_is("http://h/%2e%2e%2fetc%2fpasswd", "_._etc_passwd");
	name_is("http://h/..%5c..%5cwin.ini", "_._.._win.ini");
	name_is("http://h/%2Fabs", "_abs");
	name_is("http://h/a%0Ab%1bc%7f", "a_b_c_");
	name_is("http://h/%00x", "_x");
	/* a bad escape stays as it is */
	name_is("http://h/100%zz", "100%zz");
	/* long names are cut */
	strcpy(big, "http://h/");
	for (i = strlen(big); i < sizeof(big) - 1; i++)
		big[i] = 'a';
	big[i] = '\0';
	cli_name_from_url(big, out);
	assert_int_equal(strlen(out), CLI_NAME_MAX);
}

static void
test_collision_candidates(void **state)
{
	char out[CLI_NAME_MAX + 16];

	cli_name_candidate("a.txt", 0, out);
	assert_string_equal(out, "a.txt");
	cli_name_candidate("a.txt", 1, out);
	assert_string_equal(out, "a-1.txt");
	cli_name_candidate("a.tar.gz", 12, out);
	assert_string_equal(out, "a-12.tar.gz");
	cli_name_candidate("README", 2, out);
	assert_string_equal(out, "README-2");
	cli_name_candidate("_hidden.x", 1, out);
	assert_string_equal(out, "_hidden-1.x");
}

struct collected {
	char got[8][64];
	size_t n;
};

static void
collect(void *ctx, const char *url, size_t len)
{
	struct collected *c = ctx;

	assert_true(c->n < 8);
	snprintf(c->got[c->n++], 64, "%.*s", (int)len, url);
}

static void
test_url_list(void **state)
{
	static const char text[] = "http://a/1\n"
	                           "# a comment\n"
	                           "\n"
	                           "   http://a/2  \r\n"
	                           "\t#indented comment\n"
	                           "http://a/3#frag\n"
	                           "http://a/4";
	struct collected c = {.n = 0};

	assert_int_equal(cli_parse_list(text, strlen(text), collect, &c), 4);
	assert_string_equal(c.got[0], "http://a/1");
	assert_string_equal(c.got[1], "http://a/2");
	assert_string_equal(c.got[2], "http://a/3#frag");
	assert_string_equal(c.got[3], "http://a/4");
	c.n = 0;
	assert_int_equal(cli_parse_list("", 0, collect, &c), 0);
	assert_int_equal(cli_parse_list("\n\r\n  \n#x", 9, collect, &c), 0);
}

/* Every row of the option table is a flag, in both spellings. */
static void
test_every_option_is_a_flag(void **state)
{
	size_t i;

	assert_true(opts_count() > 10);
	for (i = 0; i < opts_count(); i++) {
		const char *name = opts_at(i)->name, *got = NULL;
		char dashed[64];
		size_t j;

		assert_true(cli_is_batch_flag(name, &got));
		assert_string_equal(got, name);
		snprintf(dashed, sizeof(dashed), "%s", name);
		for (j = 0; dashed[j] != '\0'; j++)
			if (dashed[j] == '_')
				dashed[j] = '-';
		got = NULL;
		assert_true(cli_is_batch_flag(dashed, &got));
		assert_string_equal(got, name);
	}
	assert_false(cli_is_batch_flag("per-host", &(const char *){NULL}));
	assert_false(
	    cli_is_batch_flag("no-such-option", &(const char *){NULL}));
}

/* Parse argv (NULL-terminated); returns cli_parse_args's result. */
static int
parse(struct cli *c, struct buf *err, ...)
{
	char *argv[32];
	int argc = 0;
	va_list ap;

	argv[argc++] = "fanout";
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	buf_reset(err);
	return cli_parse_args(c, argc, argv, err);
}

static void
test_flags_become_the_query(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT;

	assert_int_equal(
	    parse(&c, &err, "-j", "5", "--per-host-concurrency", "2",
	        "--timeout_ms", "500", "--retry-on", "timeout,503", "--headers",
	        "false", "http://x/", NULL),
	    0);
	assert_string_equal(buf_cstr(&c.query),
	    "concurrency=5&per_host_concurrency=2&timeout_ms=500&"
	    "retry_on=timeout,503&headers=false");
	assert_int_equal(c.nurls, 1);
	assert_int_equal(c.nopt_set, 5);
	cli_free(&c);
	/* a value the daemon's parser refuses is a usage error */
	assert_int_equal(parse(&c, &err, "--concurrency", "0", "u:", NULL), 1);
	assert_non_null(strstr(buf_cstr(&err), "--concurrency 0"));
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--body", "maybe", "u:", NULL), 1);
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--rate", NULL), 1);
	assert_non_null(strstr(buf_cstr(&err), "needs a value"));
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--no-such", "u:", NULL), 1);
	assert_non_null(strstr(buf_cstr(&err), "unknown flag"));
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--format", "xml", "u:", NULL), 1);
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "-H", "novalue", "u:", NULL), 1);
	cli_free(&c);
	assert_int_equal(parse(&c, &err, NULL), 1);
	assert_non_null(strstr(buf_cstr(&err), "no URLs"));
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--json", "f", "u:", NULL), 1);
	cli_free(&c);
	/* query values are percent-encoded */
	assert_int_equal(parse(&c, &err, "--rate", "2.5", "u:", NULL), 0);
	assert_string_equal(buf_cstr(&c.query), "rate=2.5");
	cli_free(&c);
	buf_free(&err);
}

/* Flags are their exact names, or a documented alias (issue #18's
 * --timeout and --per-host): never a prefix getopt would complete. An
 * unknown flag is named as typed, without the value after it. */
static void
test_flags_are_exact_names_or_aliases(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT;

	assert_int_equal(parse(&c, &err, "--timeout", "500", "--per-host", "2",
	                     "--per_host", "3", "u:", NULL),
	    0);
	assert_string_equal(buf_cstr(&c.query),
	    "timeout_ms=500&per_host_concurrency=2&per_host_concurrency=3");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--timeout=700", "u:", NULL), 0);
	assert_string_equal(buf_cstr(&c.query), "timeout_ms=700");
	cli_free(&c);
	/* prefixes of one flag, or of several, are unknown flags */
	assert_int_equal(parse(&c, &err, "--ret", "0", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--ret: unknown flag");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--concurr", "4", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--concurr: unknown flag");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--overwr", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--overwr: unknown flag");
	cli_free(&c);
	/* the value after a flag is never echoed: it may be a secret */
	assert_int_equal(parse(&c, &err, "--token", "sekrit", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--token: unknown flag");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--token=sekrit", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--token: unknown flag");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--tok", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--tok: unknown flag");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "--overwrite=yes", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "--overwrite: takes no value");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "-q", "u:", NULL), 1);
	assert_string_equal(buf_cstr(&err), "-q: unknown flag");
	cli_free(&c);
	buf_free(&err);
}

/* What can be known wrong from the command line is a usage error there,
 * before anything is sent: the daemon's URL, a method, an argument that
 * is neither a URL nor a command. */
static void
test_usage_errors_at_parse_time(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT;

	assert_int_equal(
	    parse(&c, &err, "--server", "notaurl", "http://x/", NULL), 1);
	assert_string_equal(buf_cstr(&err),
	    "--server notaurl: expected an http:// or https:// URL");
	cli_free(&c);
	assert_int_equal(
	    parse(&c, &err, "--server", "ftp://h/", "http://x/", NULL), 1);
	cli_free(&c);
	assert_int_equal(
	    parse(&c, &err, "--server", "http://", "http://x/", NULL), 1);
	cli_free(&c);
	assert_int_equal(
	    parse(&c, &err, "--server", "HTTPS://h:1/base/", "http://x/", NULL),
	    0);
	cli_free(&c);
	setenv("FANOUTD_URL", "localhost:7878", 1);
	assert_int_equal(parse(&c, &err, "http://x/", NULL), 1);
	assert_string_equal(buf_cstr(&err),
	    "FANOUTD_URL=localhost:7878: expected an http:// or https:// URL");
	cli_free(&c);
	assert_int_equal(
	    parse(&c, &err, "--server", "http://h/", "http://x/", NULL), 0);
	cli_free(&c);
	unsetenv("FANOUTD_URL");
	/* methods are case-sensitive (RFC 9110 §9.1): the daemon's own */
	assert_int_equal(parse(&c, &err, "-X", "put", "http://x/", NULL), 1);
	assert_non_null(strstr(buf_cstr(&err), "-X put: not a method"));
	cli_free(&c);
	assert_int_equal(
	    parse(&c, &err, "--method", "FETCH", "http://x/", NULL), 1);
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "-X", "PATCH", "http://x/", NULL), 0);
	cli_free(&c);
	/* a mistyped command is not two URLs */
	assert_int_equal(parse(&c, &err, "stauts", "abc", NULL), 1);
	assert_string_equal(buf_cstr(&err),
	    "stauts: not a URL (no scheme, such as http://) nor a command "
	    "(jobs, status, results, retry, cancel)");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "http://x/", "--", "-x", NULL), 1);
	cli_free(&c);
	/* a URL with any scheme goes to the daemon, which names what is
	 * wrong with it per item */
	assert_int_equal(parse(&c, &err, "ftp://x/", "a+b.c-d:rest", NULL), 0);
	cli_free(&c);
	buf_free(&err);
}

/* URLs from -i files and arguments keep the command line's order. */
static void
test_urls_in_command_line_order(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT;
	char path[] = "/tmp/test_cli_urls_XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "http://i/1\nhttp://i/2\n", 22), 22);
	close(fd);
	assert_int_equal(parse(&c, &err, "http://a/", "-i", path, "-j", "2",
	                     "http://b/", "--", "http://c/", NULL),
	    0);
	assert_int_equal(c.nurls, 5);
	assert_string_equal(c.urls[0], "http://a/");
	assert_string_equal(c.urls[1], "http://i/1");
	assert_string_equal(c.urls[2], "http://i/2");
	assert_string_equal(c.urls[3], "http://b/");
	assert_string_equal(c.urls[4], "http://c/");
	cli_free(&c);
	unlink(path);
	buf_free(&err);
}

static void
test_items_get_method_and_headers(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT;
	size_t n;
	json_t *b;
	char *s;

	assert_int_equal(parse(&c, &err, "-X", "HEAD", "-H", "X-A:  1", "-A",
	                     "bot/1", "http://x/", NULL),
	    0);
	b = cli_build_batch(&c, &n, &err);
	assert_non_null(b);
	assert_int_equal(n, 1);
	s = json_dumps(
	    json_object_get(b, "requests"), JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s,
	    "[{\"headers\":{\"User-Agent\":\"bot/1\",\"X-A\":"
	    "\"1\"},\"method\":\"HEAD\",\"url\":\"http://x/\"}]");
	free(s);
	json_decref(b);
	cli_free(&c);
	/* an item's own method and headers win over -X, -H and -A */
	{
		char path[] = "/tmp/test_cli_json_XXXXXX";
		int fd = mkstemp(path);
		static const char doc[] =
		    "[{\"url\":\"http://x/\",\"method\":\"PUT\","
		    "\"headers\":{\"X-A\":\"mine\",\"User-Agent\":\"me\"}}]";

		assert_true(fd >= 0);
		assert_int_equal(
		    write(fd, doc, sizeof(doc) - 1), (ssize_t)sizeof(doc) - 1);
		close(fd);
		assert_int_equal(parse(&c, &err, "-X", "POST", "-H", "X-A: 1",
		                     "-A", "bot/1", "--json", path, NULL),
		    0);
		b = cli_build_batch(&c, &n, &err);
		s = json_dumps(json_object_get(b, "requests"),
		    JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(s,
		    "[{\"headers\":{\"User-Agent\":\"me\",\"X-A\":"
		    "\"mine\"},\"method\":\"PUT\",\"url\":\"http://x/\"}]");
		free(s);
		json_decref(b);
		cli_free(&c);
		unlink(path);
	}
	/* a file that cannot be read: named, without a line number */
	assert_int_equal(
	    parse(&c, &err, "--json", "/nonexistent/b.json", NULL), 0);
	assert_null(cli_build_batch(&c, &n, &err));
	assert_string_equal(buf_cstr(&err),
	    "--json /nonexistent/b.json: unable to open /nonexistent/b.json: "
	    "No such file or directory");
	cli_free(&c);
	/* plain URLs stay strings */
	assert_int_equal(parse(&c, &err, "http://x/", "http://y/", NULL), 0);
	b = cli_build_batch(&c, &n, &err);
	s = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
	    s, "{\"options\":{},\"requests\":[\"http://x/\",\"http://y/\"]}");
	free(s);
	json_decref(b);
	cli_free(&c);
	buf_free(&err);
}

/* A list with url as its one URL is refused: it goes as JSON. */
static void
list_refuses(const char *url)
{
	struct cli c;
	struct buf err = BUF_INIT, list = BUF_INIT;

	assert_int_equal(parse(&c, &err, "http://x/", NULL), 0);
	free(c.urls[0]);
	c.urls[0] = strdup(url);
	assert_false(cli_build_list(&c, &list));
	cli_free(&c);
	buf_free(&list);
	buf_free(&err);
}

/* A plain list goes as text/plain, byte for byte what -i reads; any
 * URL a list line cannot carry, or -X/-H/-A, makes it JSON. */
static void
test_plain_lists_go_as_text(void **state)
{
	struct cli c;
	struct buf err = BUF_INIT, list = BUF_INIT;

	assert_int_equal(parse(&c, &err, "http://x/", "http://y/#f", NULL), 0);
	assert_true(cli_build_list(&c, &list));
	assert_string_equal(buf_cstr(&list), "http://x/\nhttp://y/#f\n");
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "-X", "HEAD", "http://x/", NULL), 0);
	assert_false(cli_build_list(&c, &list));
	cli_free(&c);
	assert_int_equal(parse(&c, &err, "http://x/\nhttp://y/", NULL), 0);
	assert_false(cli_build_list(&c, &list));
	cli_free(&c);
	/* arguments without a scheme are usage errors now; what a list
	 * line could not carry still makes JSON */
	list_refuses("#http://y/");
	list_refuses(" http://x/");
	list_refuses("http://x/ ");
	list_refuses("");
	buf_free(&list);
	buf_free(&err);
}

static void
test_line_scan(void **state)
{
	struct cli_line l;
	const char *s;

	s = "{\"index\":7,\"id\":{\"ok\":true,\"index\":1},\"url\":\"http://x/"
	    "\\\",\\\"ok\\\":true\",\"ok\":false,\"status\":500,\"body\":\"}\","
	    "\"body_bytes\":11}";
	cli_line_scan(s, strlen(s), &l);
	assert_int_equal(l.kind, CLI_LINE_RESULT);
	assert_int_equal(l.index, 7);
	assert_false(l.ok);
	assert_true(l.has_body);
	assert_int_equal(l.body_bytes, 11);
	s = "{\"index\":0,\"ok\":true,\"body_bytes\":3}";
	cli_line_scan(s, strlen(s), &l);
	assert_true(l.ok);
	assert_false(l.has_body);
	assert_false(l.has_body_url);
	s = "{\"seq\":4,\"index\":2,\"ok\":true,\"body_bytes\":9000000,"
	    "\"body_url\":\"/v1/jobs/ab/items/2/body\"}";
	cli_line_scan(s, strlen(s), &l);
	assert_false(l.has_body);
	assert_true(l.has_body_url);
	s = "{\"progress\":{\"done\":5,\"total\":9,\"in_flight\":2,\"queued\":"
	    "2}}";
	cli_line_scan(s, strlen(s), &l);
	assert_int_equal(l.kind, CLI_LINE_PROGRESS);
	assert_int_equal(l.done, 5);
	assert_int_equal(l.total, 9);
	s = "{\"summary\":{\"total\":4,\"ok\":1,\"failed\":3,\"effective\":{"
	    "\"ok\":9}}}";
	cli_line_scan(s, strlen(s), &l);
	assert_int_equal(l.kind, CLI_LINE_SUMMARY);
	assert_int_equal(l.total, 4);
	assert_int_equal(l.okn, 1);
	assert_int_equal(l.failed, 3);
	/* malformed or cut lines are "other", never a result */
	s = "{\"index\":1,\"ok\":true";
	cli_line_scan(s, strlen(s), &l);
	assert_int_equal(l.kind, CLI_LINE_OTHER);
	cli_line_scan("[1,2]", 5, &l);
	assert_int_equal(l.kind, CLI_LINE_OTHER);
	cli_line_scan("{\"index\":1,\"url\":\"abc}", 22, &l);
	assert_int_equal(l.kind, CLI_LINE_OTHER);
	cli_line_scan("", 0, &l);
	assert_int_equal(l.kind, CLI_LINE_OTHER);
}

static int
append_line(void *ctx, const char *line, size_t n)
{
	struct buf *b = ctx;

	buf_add(b, line, n);
	buf_addc(b, '|');
	return 0;
}

/* The same stream in any chunks gives the same lines. */
static void
test_lines_whatever_the_chunks(void **state)
{
	static const char text[] =
	    "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"d\"";
	size_t step;

	for (step = 1; step <= sizeof(text); step++) {
		struct cli_lines l = {BUF_INIT};
		struct buf got = BUF_INIT;
		size_t i;

		for (i = 0; i < sizeof(text) - 1; i += step) {
			size_t n = sizeof(text) - 1 - i < step
			    ? sizeof(text) - 1 - i
			    : step;
			assert_int_equal(
			    cli_lines_feed(&l, text + i, n, append_line, &got),
			    0);
		}
		assert_int_equal(cli_lines_end(&l, append_line, &got), 0);
		assert_string_equal(
		    buf_cstr(&got), "{\"a\":1}|{\"b\":2}||{\"c\":3}|{\"d\"|");
		cli_lines_free(&l);
		buf_free(&got);
	}
}

static void
quoted_is(const char *s, const char *want)
{
	struct buf b = BUF_INIT;

	cli_shell_quote(&b, s);
	assert_string_equal(buf_cstr(&b), want);
	buf_free(&b);
}

/* A resume command's arguments survive a shell as they were. */
static void
test_shell_quote(void **state)
{
	quoted_is("dl", "dl");
	quoted_is("/tmp/a-b_c.d/x=1,y:2@h%20", "/tmp/a-b_c.d/x=1,y:2@h%20");
	quoted_is("", "''");
	quoted_is("my dir", "'my dir'");
	quoted_is("it's", "'it'\\''s'");
	quoted_is("$(rm -rf ~)`x`;&|<>*?[]#~!\"\\\n",
	    "'$(rm -rf ~)`x`;&|<>*?[]#~!\"\\\n'");
	quoted_is("-rf", "-rf");
}

static void
test_bar_text(void **state)
{
	struct buf b = BUF_INIT;

	cli_bar_text(&b, 80, 50, 100, 48, 2, 1500000, 5.0);
	assert_int_equal(b.len, 80);
	assert_non_null(
	    strstr(b.data, " 50/100 ok 48 failed 2 10/s 1.5 MB ETA 0:05"));
	assert_non_null(strstr(b.data, "[#####"));
	buf_reset(&b);
	cli_bar_text(&b, 80, 0, 0, 0, 0, 0, 0);
	assert_non_null(strstr(b.data, " 0/0 ok 0 failed 0 0/s 0 B"));
	buf_free(&b);
}

/* The bar never takes more than the width it is given, however narrow:
 * fewer fields first, then a shorter bar, then the count cut. */
static void
test_bar_fits_narrow_terminals(void **state)
{
	static const uint64_t big = 123456789012ull;
	struct buf b = BUF_INIT;
	unsigned w;

	for (w = 0; w <= 120; w++) {
		buf_reset(&b);
		cli_bar_text(&b, w, 3, 16, 3, 0, 2000, 0.6);
		if (b.len > w)
			fail_msg("width %u: %zu bytes [%s]", w, b.len, b.data);
		buf_reset(&b);
		cli_bar_text(&b, w, big, big + 1, big - 7, 7, big * 100, 1.0);
		if (b.len > w)
			fail_msg("width %u: %zu bytes [%s]", w, b.len, b.data);
	}
	/* what stays, narrow: the count, then ok/failed, with a bar */
	buf_reset(&b);
	cli_bar_text(&b, 29, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(b.data, "[#-------] 3/16 ok 3 failed 0");
	buf_reset(&b);
	cli_bar_text(&b, 49, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(
	    b.data, "[#-------] 3/16 ok 3 failed 0 5/s 2.0 kB ETA 0:03");
	buf_reset(&b);
	cli_bar_text(&b, 40, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(b.data, "[#---------] 3/16 ok 3 failed 0 ETA 0:03");
	buf_reset(&b);
	cli_bar_text(&b, 15, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(b.data, "[#-------] 3/16");
	buf_reset(&b);
	cli_bar_text(&b, 4, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(b.data, "3/16");
	buf_reset(&b);
	cli_bar_text(&b, 3, 3, 16, 3, 0, 2000, 0.6);
	assert_string_equal(b.data, "3/1");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names_are_the_last_segment),
	    cmocka_unit_test(test_names_cannot_escape_the_directory),
	    cmocka_unit_test(test_collision_candidates),
	    cmocka_unit_test(test_url_list),
	    cmocka_unit_test(test_every_option_is_a_flag),
	    cmocka_unit_test(test_flags_become_the_query),
	    cmocka_unit_test(test_flags_are_exact_names_or_aliases),
	    cmocka_unit_test(test_urls_in_command_line_order),
	    cmocka_unit_test(test_usage_errors_at_parse_time),
	    cmocka_unit_test(test_items_get_method_and_headers),
	    cmocka_unit_test(test_plain_lists_go_as_text),
	    cmocka_unit_test(test_line_scan),
	    cmocka_unit_test(test_lines_whatever_the_chunks),
	    cmocka_unit_test(test_shell_quote),
	    cmocka_unit_test(test_bar_text),
	    cmocka_unit_test(test_bar_fits_narrow_terminals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
