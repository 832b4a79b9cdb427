/*
 * test_config.c - the configuration of DESIGN.md §3: built-in defaults,
 * the INI file (values, lists, size suffixes), errors that name the
 * line and key, cross-key validation, and the example etc/fanoutd.conf,
 * which must list exactly the keys of the parser's table with their
 * defaults.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "cpus.h"
#include "options.h"
#include "log.h"
#include "retry.h"

static void
test_defaults_are_the_documented_values(void **state)
{
	struct config c;

	config_defaults(&c);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0], "127.0.0.1:7878");
	assert_int_equal(c.max_items, 100000);
	assert_int_equal(c.max_request_bytes, 16 * 1024 * 1024);
	assert_int_equal(c.max_json_items, 1000);
	assert_int_equal(c.concurrency, 1024);
	assert_int_equal(c.batch_concurrency, 100);
	assert_int_equal(c.per_host_concurrency, 100);
	assert_int_equal(c.connect_timeout_ms, 5000);
	assert_int_equal(c.timeout_ms, 30000);
	assert_int_equal(c.deadline_ms, 300000);
	assert_int_equal(c.max_body_bytes, 1048576);
	assert_int_equal(c.nnameservers, 0);
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(strncmp(c.user_agent, "fanoutd/", 8), 0);
}

static void
test_defaults_raise_no_warning(void **state)
{
	struct config c;

	config_defaults(&c);
	assert_int_equal(config_warnings(&c, NULL), 0);
	assert_int_equal(opts_warnings(&c, NULL), 0);
}

static void
test_file_overrides_keys(void **state)
{
	struct config c;
	struct config_error err;
	const char *text = "; comment\n"
	                   "[limits]\nconcurrency = 50\n"
	                   "[server]\nmax_request_bytes = 2M\nlisten = "
	                   "127.0.0.1:1, [::1]:2 unix:/run/f.sock\n"
	                   "[upstream]\nnameservers = 127.0.0.1:5353\n"
	                   "max_body_bytes = 64k\n"
	                   "[log]\nlevel = debug\n";

	config_defaults(&c);
	assert_int_equal(config_load_string(&c, text, "t.conf", &err), 0);
	assert_int_equal(c.concurrency, 50);
	assert_int_equal(c.max_request_bytes, 2 * 1024 * 1024);
	assert_int_equal(c.max_body_bytes, 64 * 1024);
	assert_int_equal(c.nlisten, 3);
	assert_string_equal(c.listen[1], "[::1]:2");
	assert_string_equal(c.listen[2], "unix:/run/f.sock");
	assert_int_equal(c.nnameservers, 1);
	assert_string_equal(c.nameservers[0], "127.0.0.1:5353");
	assert_int_equal(c.log_level, LOG_DEBUG);
	/* Untouched keys keep their defaults. */
	assert_int_equal(c.batch_concurrency, 100);
}

/* Load text; expect an error at line/section/key. */
static void
expect_error(const char *text, int line, const char *section, const char *key,
    const char *msg_part)
{
	struct config c;
	struct config_error err;

	config_defaults(&c);
	assert_int_equal(config_load_string(&c, text, "bad.conf", &err), -1);
	assert_int_equal(err.line, line);
	assert_string_equal(err.section, section);
	assert_string_equal(err.key, key);
	assert_non_null(strstr(err.message, msg_part));
}

static void
test_errors_name_line_section_and_key(void **state)
{
	expect_error("[limits]\nconcurrency = 5\nconcurency = 6\n", 3, "limits",
	    "concurency", "unknown key");
	expect_error("[limit]\nconcurrency = 5\n", 2, "limit", "concurrency",
	    "unknown section");
	expect_error("[limits]\n\nconcurrency = 0\n", 3, "limits",
	    "concurrency", "from 1 to 1000000");
	expect_error("[limits]\nconcurrency = -5\n", 2, "limits", "concurrency",
	    "integer");
	expect_error("[limits]\nconcurrency = 10x\n", 2, "limits",
	    "concurrency", "integer");
	expect_error("[server]\nmax_request_bytes = 5T\n", 2, "server",
	    "max_request_bytes", "suffixes");
	expect_error("[server]\nlisten = localhost:80\n", 2, "server", "listen",
	    "localhost:80");
	expect_error(
	    "[server]\nlisten = 127.0.0.1\n", 2, "server", "listen", "ip:port");
	expect_error(
	    "[server]\nlisten = ,\n", 2, "server", "listen", "at least one");
	expect_error("[upstream]\nnameservers = 1.2.3.4:99999\n", 2, "upstream",
	    "nameservers", "not ip");
	expect_error("[log]\nlevel = loud\n", 2, "log", "level",
	    "error, warn, info or debug");
}

static void
test_syntax_error_reports_its_line(void **state)
{
	struct config c;
	struct config_error err;

	config_defaults(&c);
	assert_int_equal(
	    config_load_string(&c, "[limits]\nthis is not ini\n", "x", &err),
	    -1);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "syntax"));
}

static void
test_missing_file_is_an_error(void **state)
{
	struct config c;
	struct config_error err;

	config_defaults(&c);
	assert_int_equal(
	    config_load_file(&c, "/nonexistent/fanoutd.conf", &err), -1);
	assert_non_null(strstr(err.message, "cannot open"));
	assert_string_equal(err.file, "/nonexistent/fanoutd.conf");
}

/* A file that is no file of settings: refused, never read as "no
 * settings" (issue #14 point 10). */
static void
test_directory_or_empty_file_is_an_error(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[64];
	struct config_error err;
	struct config c;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	config_defaults(&c);
	assert_int_equal(config_load_file(&c, dir, &err), -1);
	assert_string_equal(err.message, "is a directory, not a file");
	snprintf(path, sizeof(path), "%s/empty.conf", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	assert_int_equal(config_load_file(&c, path, &err), -1);
	assert_non_null(strstr(err.message, "is empty"));
	/* Sections and comments only is a choice, not an accident. */
	assert_non_null(f = fopen(path, "w"));
	fputs("# all defaults\n[server]\n", f);
	fclose(f);
	assert_int_equal(config_load_file(&c, path, &err), 0);
	unlink(path);
	rmdir(dir);
}

/* A key set twice is refused, naming both lines; the lists add up
 * (issue #13 point 13). */
static void
test_repeated_keys(void **state)
{
	const char *lists = "[server]\nlisten = 127.0.0.1:1\n"
	                    "[upstream]\ndeny = 10.0.0.0/8\n"
	                    "retry_on = dns\nnameservers = 127.0.0.1\n"
	                    "[server]\nlisten = 127.0.0.1:2, unix:/s\n"
	                    "[upstream]\ndeny = 192.0.2.0/24\n"
	                    "allow = 10.1.0.0/16\nallow = 10.2.0.0/16\n"
	                    "retry_on = 503\nnameservers = [::1]:53\n";
	struct config_error err;
	struct config c;
	char why[64], nine[400] = "[server]\n";
	int i;

	expect_error("[server]\nlisten = 127.0.0.1:1\nmax_items = 5\n\n"
	             "max_items = 6\n",
	    5, "server", "max_items", "set twice, on lines 3 and 5");
	expect_error("[limits]\nrate = 5\n[upstream]\n[limits]\nrate = 5\n", 5,
	    "limits", "rate", "set twice, on lines 2 and 5");
	config_defaults(&c);
	assert_int_equal(config_load_string(&c, lists, "l.conf", &err), 0);
	assert_int_equal(c.nlisten, 3);
	assert_string_equal(c.listen[0], "127.0.0.1:1");
	assert_string_equal(c.listen[2], "unix:/s");
	assert_string_equal(c.deny, "10.0.0.0/8, 192.0.2.0/24");
	assert_string_equal(c.allow, "10.1.0.0/16, 10.2.0.0/16");
	assert_int_equal(c.nnameservers, 2);
	assert_true(retry_wanted(&c.retry_on, IERR_DNS, 0, false, true));
	assert_true(retry_wanted(&c.retry_on, IERR_NONE, 503, false, true));
	assert_false(retry_wanted(&c.retry_on, IERR_TIMEOUT, 0, false, true));
	/* Where each came from: its first line; a flag replaces. */
	assert_int_equal(c.line[0], 2); /* listen is the table's first */
	assert_int_equal(
	    config_set(&c, "server", "listen", "127.0.0.1:0", why, sizeof(why)),
	    0);
	assert_int_equal(c.nlisten, 1);
	assert_int_equal(c.line[0], CONFIG_LINE_FLAG);
	/* The lists keep their bounds in all. */
	for (i = 0; i < 9; i++)
		snprintf(nine + strlen(nine), sizeof(nine) - strlen(nine),
		    "listen = 127.0.0.1:%d\n", i + 1);
	expect_error(nine, 10, "server", "listen", "at most 8 entries");
	expect_error("[upstream]\ndeny = 10.0.0.0/8\ndeny = nope\n", 3,
	    "upstream", "deny", "\"nope\" is not a CIDR");
}

static char last_warning[256];
static unsigned nwarnings;
static char warnings[4][256];

static void
record_warnings(const char *msg)
{
	if (nwarnings < 4)
		snprintf(warnings[nwarnings], sizeof(warnings[0]), "%s", msg);
	nwarnings++;
}

/* What a reload loosens is said (issue #14 point 10). */
static void
test_reload_that_loosens_is_named(void **state)
{
	struct config old, next;
	struct config_error err;

	config_defaults(&old);
	assert_int_equal(
	    config_load_string(&old,
	        "[server]\nauth_tokens_file = /t\n[upstream]\n"
	        "deny_private = true\ndeny = 10.0.0.0/8, 192.0.2.0/24\n",
	        "old", &err),
	    0);
	next = old;
	nwarnings = 0;
	assert_int_equal(config_loosened(&old, &next, record_warnings), 0);
	config_defaults(&next);
	assert_int_equal(
	    config_load_string(&next,
	        "[upstream]\ndeny = 10.0.0.0/8\nallow = 10.1.0.0/16\n", "new",
	        &err),
	    0);
	assert_int_equal(config_loosened(&old, &next, record_warnings), 4);
	assert_non_null(strstr(warnings[0], "authentication is OFF"));
	assert_non_null(strstr(warnings[1], "deny_private is now false"));
	assert_string_equal(warnings[2],
	    "[upstream] deny no longer lists 192.0.2.0/24: batches may reach "
	    "it");
	assert_non_null(strstr(warnings[3], "allow now lists 10.1.0.0/16"));
	/* Tightening says nothing. */
	nwarnings = 0;
	assert_int_equal(config_loosened(&next, &old, record_warnings), 0);
}

/* config_check names the line of the key it refuses. */
static void
test_relations_name_their_line(void **state)
{
	struct config c;
	struct config_error err;

	config_defaults(&c);
	assert_int_equal(config_load_string(&c,
	                     "[server]\n\ntls_cert = /c.pem\n", "t.conf", &err),
	    0);
	assert_int_equal(config_check(&c, &err), -1);
	assert_int_equal(err.line, 3);
	assert_string_equal(err.key, "tls_cert");
	assert_string_equal(err.message, "needs tls_key too");
}

static void
record_warning(const char *msg)
{
	snprintf(last_warning, sizeof(last_warning), "%s", msg);
}

static void
test_a_default_above_its_cap_is_a_warning(void **state)
{
	struct config c;
	struct config_error err;

	config_defaults(&c);
	/* Lowering a cap below a built-in default is no one's mistake:
	 * batches quietly get the cap. */
	assert_int_equal(config_load_string(&c, "[limits]\nconcurrency = 10\n",
	                     "v.conf", &err),
	    0);
	assert_int_equal(opts_warnings(&c, record_warning), 0);
	/* A default the file sets above its cap is: batches get 10. */
	config_defaults(&c);
	assert_int_equal(
	    config_load_string(&c,
	        "[limits]\nconcurrency = 10\nbatch_concurrency = 20\n",
	        "v.conf", &err),
	    0);
	assert_int_equal(opts_warnings(&c, record_warning), 1);
	assert_string_equal(last_warning,
	    "[limits] batch_concurrency (20) is above [limits] "
	    "concurrency (10); batches get 10");
	config_defaults(&c);
	assert_int_equal(
	    config_load_string(
	        &c, "[upstream]\nmax_body_bytes = 32M\n", "v.conf", &err),
	    0);
	assert_int_equal(opts_warnings(&c, record_warning), 1);
	assert_non_null(strstr(last_warning, "[upstream] max_body_bytes ("));
}

static void
test_error_format_has_file_line_section_key(void **state)
{
	struct config c;
	struct config_error err;
	char out[512];

	config_defaults(&c);
	config_load_string(&c, "[log]\nlevel = x\n", "f.conf", &err);
	config_error_format(&err, out, sizeof(out));
	assert_string_equal(out,
	    "f.conf:2: [log] level: expected error, "
	    "warn, info or debug");
}

static void
test_config_set_is_what_flags_use(void **state)
{
	struct config c;
	char why[128];

	config_defaults(&c);
	assert_int_equal(
	    config_set(&c, "server", "listen", "127.0.0.1:0", why, sizeof(why)),
	    0);
	assert_string_equal(c.listen[0], "127.0.0.1:0");
	assert_int_equal(
	    config_set(&c, "server", "nope", "1", why, sizeof(why)), -1);
	assert_string_equal(why, "unknown key");
}

/*
 * etc/fanoutd.conf documents every key of the table with its default:
 * uncomment every "#key = value" line, load it, and compare.
 */
static void
test_example_config_lists_every_key_with_its_default(void **state)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char path[1024], line[1024], section[64] = "";
	struct config c, d;
	struct config_error err;
	size_t i, n = config_key_count(), found = 0;
	FILE *f;
	char *text = calloc(1, 65536);
	bool *seen = calloc(n, sizeof(bool));

	snprintf(path, sizeof(path), "%s/etc/fanoutd.conf", srcdir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char key[64], *eq;

		if (line[0] == '[') {
			sscanf(line, "[%63[^]]", section);
			strcat(text, line);
			continue;
		}
		if (line[0] != '#' || (eq = strstr(line, " =")) == NULL ||
		    strchr(line, ' ') != eq)
			continue;
		snprintf(
		    key, sizeof(key), "%.*s", (int)(eq - line - 1), line + 1);
		for (i = 0; i < n; i++) {
			const struct config_key_info *k = config_key_at(i);

			if (strcmp(k->section, section) == 0 &&
			    strcmp(k->key, key) == 0) {
				char want[512];

				assert_false(seen[i]);
				seen[i] = true;
				found++;
				snprintf(want, sizeof(want), "#%s =%s%s\n", key,
				    k->def[0] ? " " : "", k->def);
				/* The value shown is the table's default. */
				assert_string_equal(line, want);
			}
		}
		strcat(text, line + 1);
	}
	fclose(f);
	for (i = 0; i < n; i++)
		if (!seen[i])
			fail_msg("etc/fanoutd.conf lacks [%s] %s",
			    config_key_at(i)->section, config_key_at(i)->key);
	assert_int_equal(found, n);
	/* Uncommented, the file parses and equals the defaults. */
	config_defaults(&c);
	config_defaults(&d);
	assert_int_equal(config_load_string(&c, text, path, &err), 0);
	/* (Only the lines the keys came from differ.) */
	assert_memory_equal(&c, &d, offsetof(struct config, line));
	free(text);
	free(seen);
}

/*
 * man/fanoutd.conf.5 documents each key as ".B key = default" under its
 * ".SS [section]": the same keys and defaults as the parser's table.
 */
static void
test_man_page_lists_every_key_with_its_default(void **state)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char path[1024], line[1024], section[64] = "";
	size_t i, n = config_key_count(), found = 0;
	bool *seen = calloc(n, sizeof(bool));
	FILE *f;

	snprintf(path, sizeof(path), "%s/man/fanoutd.conf.5", srcdir);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char key[64], *eq, *val;
		bool known = false;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, ".SS [", 5) == 0) {
			sscanf(line + 4, "[%63[^]]", section);
			continue;
		}
		if (strncmp(line, ".B ", 3) != 0 ||
		    (eq = strstr(line, " =")) == NULL || section[0] == '\0')
			continue;
		snprintf(
		    key, sizeof(key), "%.*s", (int)(eq - line - 3), line + 3);
		val = eq[2] == ' ' ? eq + 3 : eq + 2;
		for (i = 0; i < n; i++) {
			const struct config_key_info *k = config_key_at(i);

			if (strcmp(k->section, section) != 0 ||
			    strcmp(k->key, key) != 0)
				continue;
			known = true;
			if (seen[i])
				fail_msg("[%s] %s twice in the man page",
				    section, key);
			seen[i] = true;
			found++;
			if (strcmp(val, k->def) != 0)
				fail_msg("[%s] %s: man page says \"%s\", the "
				         "table \"%s\"",
				    section, key, val, k->def);
		}
		if (!known)
			fail_msg("the man page documents [%s] %s, which does "
			         "not exist",
			    section, key);
	}
	fclose(f);
	for (i = 0; i < n; i++)
		if (!seen[i])
			fail_msg("man/fanoutd.conf.5 lacks [%s] %s",
			    config_key_at(i)->section, config_key_at(i)->key);
	assert_int_equal(found, n);
	free(seen);
}

/* [server] cpu_list, [jobs] store_cpu_list: taskset(1)'s list form,
 * each bad entry named; formatted back as ranges. */
static void
test_cpu_lists(void **state)
{
	char why[256], out[64];
	struct cpus c;

	(void)state;
	assert_int_equal(cpus_parse("", &c, why, sizeof(why)), 0);
	assert_false(c.on);
	assert_int_equal(cpus_parse(" 0 , 0-0 ", &c, why, sizeof(why)), 0);
	assert_true(c.on);
	assert_int_equal(CPU_COUNT(&c.set), 1);
	assert_true(CPU_ISSET(0, &c.set));
	assert_int_equal(cpus_parse("0,x", &c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "\"x\" is not a CPU or a range"));
	assert_int_equal(cpus_parse("1-0", &c, why, sizeof(why)), -1);
	assert_int_equal(cpus_parse("0-", &c, why, sizeof(why)), -1);
	assert_int_equal(cpus_parse("0,", &c, why, sizeof(why)), -1);
	assert_int_equal(cpus_parse("4096", &c, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "\"4096\""));

	CPU_ZERO(&c.set);
	c.on = true;
	CPU_SET(0, &c.set);
	CPU_SET(1, &c.set);
	CPU_SET(2, &c.set);
	CPU_SET(3, &c.set);
	CPU_SET(6, &c.set);
	CPU_SET(9, &c.set);
	CPU_SET(10, &c.set);
	cpus_format(&c, out, sizeof(out));
	assert_string_equal(out, "0-3,6,9-10");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults_are_the_documented_values),
	    cmocka_unit_test(test_defaults_raise_no_warning),
	    cmocka_unit_test(test_file_overrides_keys),
	    cmocka_unit_test(test_errors_name_line_section_and_key),
	    cmocka_unit_test(test_syntax_error_reports_its_line),
	    cmocka_unit_test(test_missing_file_is_an_error),
	    cmocka_unit_test(test_directory_or_empty_file_is_an_error),
	    cmocka_unit_test(test_repeated_keys),
	    cmocka_unit_test(test_reload_that_loosens_is_named),
	    cmocka_unit_test(test_relations_name_their_line),
	    cmocka_unit_test(test_a_default_above_its_cap_is_a_warning),
	    cmocka_unit_test(test_error_format_has_file_line_section_key),
	    cmocka_unit_test(test_config_set_is_what_flags_use),
	    cmocka_unit_test(
	        test_example_config_lists_every_key_with_its_default),
	    cmocka_unit_test(test_man_page_lists_every_key_with_its_default),
	    cmocka_unit_test(test_cpu_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
