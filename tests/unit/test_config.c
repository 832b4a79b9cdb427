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

#include <cmocka.h>

#include "config.h"
#include "log.h"

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

static char last_warning[256];

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
	assert_int_equal(config_load_string(&c, "[limits]\nconcurrency = 10\n",
	                     "v.conf", &err),
	    0);
	/* batch_concurrency and per_host_concurrency (100) are above 10. */
	assert_int_equal(config_warnings(&c, record_warning), 2);
	assert_string_equal(last_warning,
	    "[limits] per_host_concurrency (100) is above [limits] "
	    "concurrency (10); batches get 10");
	config_defaults(&c);
	c.max_body_bytes = c.max_body_bytes_cap + 1;
	assert_int_equal(config_warnings(&c, record_warning), 1);
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
	assert_memory_equal(&c, &d, sizeof(c));
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
	    cmocka_unit_test(test_a_default_above_its_cap_is_a_warning),
	    cmocka_unit_test(test_error_format_has_file_line_section_key),
	    cmocka_unit_test(test_config_set_is_what_flags_use),
	    cmocka_unit_test(
	        test_example_config_lists_every_key_with_its_default),
	    cmocka_unit_test(test_man_page_lists_every_key_with_its_default),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
