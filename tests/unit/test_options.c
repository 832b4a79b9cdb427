/*
 * test_options.c - the batch options table: defaults come from the
 * server config, a value over its cap is clamped (a batch may lower a
 * cap, never raise it), bad values are refused with a reason, the JSON
 * and query-string forms agree, and "effective" lists every option.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "extract.h"
#include "options.h"
#include "util.h"

static struct config cfg;

static int
setup(void **state)
{
	config_defaults(&cfg);
	return 0;
}

static void
test_defaults_come_from_the_config(void **state)
{
	struct batch_opts o;

	cfg.batch_concurrency = 42;
	cfg.timeout_ms = 1234;
	opts_defaults(&o, &cfg);
	assert_int_equal(o.concurrency, 42);
	assert_int_equal(o.per_host_concurrency, 100);
	assert_int_equal(o.timeout_ms, 1234);
	assert_int_equal(o.connect_timeout_ms, 5000);
	assert_int_equal(o.deadline_ms, 300000);
	assert_int_equal(o.max_body_bytes, 1048576);
	assert_int_equal(o.body, BODY_AUTO);
	assert_true(o.headers);
}

static void
test_values_over_the_cap_are_clamped(void **state)
{
	struct batch_opts o;
	const char *why;
	json_t *big = json_integer(5000);

	opts_defaults(&o, &cfg);
	assert_int_equal(opts_set_json(&o, &cfg, "concurrency", big, &why), 0);
	assert_int_equal(o.concurrency, 1024);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "per_host_concurrency", "5000", &why), 0);
	assert_int_equal(o.per_host_concurrency, 100);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "timeout_ms", "99999999999999999999", &why),
	    0);
	assert_int_equal(o.timeout_ms, 300000);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "max_body_bytes", "99999999999", &why), 0);
	assert_int_equal(o.max_body_bytes, 16777216);
	json_decref(big);
}

static void
test_a_batch_may_lower_a_cap(void **state)
{
	struct batch_opts o;
	const char *why;

	opts_defaults(&o, &cfg);
	assert_int_equal(opts_set_text(&o, &cfg, "concurrency", "3", &why), 0);
	assert_int_equal(o.concurrency, 3);
	assert_int_equal(opts_set_text(&o, &cfg, "deadline_ms", "10", &why), 0);
	assert_int_equal(o.deadline_ms, 10);
}

static void
expect_json_refused(const char *name, json_t *v, const char *reason)
{
	struct batch_opts o;
	const char *why = NULL;

	opts_defaults(&o, &cfg);
	assert_int_equal(opts_set_json(&o, &cfg, name, v, &why), -1);
	assert_string_equal(why, reason);
	json_decref(v);
}

static void
test_bad_json_values_are_refused(void **state)
{
	const char *posint = "expected a positive integer";

	expect_json_refused("concurrency", json_integer(0), posint);
	expect_json_refused("concurrency", json_integer(-1), posint);
	expect_json_refused("concurrency", json_real(1.5), posint);
	expect_json_refused("timeout_ms", json_string("10"), posint);
	expect_json_refused("timeout_ms", json_true(), posint);
	expect_json_refused(
	    "body", json_string("raw"), "expected \"auto\" or \"none\"");
	expect_json_refused(
	    "body", json_integer(1), "expected \"auto\" or \"none\"");
	expect_json_refused(
	    "headers", json_string("yes"), "expected true or false");
	expect_json_refused("rate_limit", json_integer(1), "unknown option");
}

static void
test_bad_text_values_are_refused(void **state)
{
	struct batch_opts o;
	const char *why;

	opts_defaults(&o, &cfg);
	assert_int_equal(opts_set_text(&o, &cfg, "concurrency", "", &why), -1);
	assert_int_equal(opts_set_text(&o, &cfg, "concurrency", "0", &why), -1);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "concurrency", "-3", &why), -1);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "concurrency", "1e3", &why), -1);
	assert_string_equal(why, "expected a positive integer");
	assert_int_equal(opts_set_text(&o, &cfg, "headers", "maybe", &why), -1);
	assert_int_equal(opts_set_text(&o, &cfg, "nope", "1", &why), -1);
	assert_string_equal(why, "unknown option");
	assert_false(opts_is_option("nope"));
	assert_true(opts_is_option("deadline_ms"));
}

static void
test_body_and_headers_forms(void **state)
{
	struct batch_opts o;
	const char *why;

	opts_defaults(&o, &cfg);
	assert_int_equal(opts_set_text(&o, &cfg, "body", "none", &why), 0);
	assert_int_equal(o.body, BODY_NONE);
	assert_int_equal(opts_set_text(&o, &cfg, "headers", "0", &why), 0);
	assert_false(o.headers);
	assert_int_equal(
	    opts_set_json(&o, &cfg, "headers", json_true(), &why), 0);
	assert_true(o.headers);
}

/* One set of words for a boolean, the configuration file's. */
static void
test_booleans_read_as_the_config_reads_them(void **state)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	struct batch_opts o;
	const char *why;
	size_t i;

	opts_defaults(&o, &cfg);
	for (i = 0; i < 4; i++) {
		assert_int_equal(
		    opts_set_text(&o, &cfg, "decode", no[i], &why), 0);
		assert_false(o.decode);
		assert_int_equal(
		    opts_set_text(&o, &cfg, "decode", yes[i], &why), 0);
		assert_true(o.decode);
	}
	assert_int_equal(opts_set_text(&o, &cfg, "decode", "True", &why), -1);
	assert_string_equal(why, "expected true or false");
}

static void
test_rates_are_capped_by_the_server(void **state)
{
	struct batch_opts o;
	const char *why;
	json_t *v;

	cfg.rate = 50;
	cfg.per_host_rate = 5;
	opts_defaults(&o, &cfg);
	/* Unlimited is above any cap: a batch gets the server's. */
	assert_true(o.rate == 50);
	assert_true(o.per_host_rate == 5);
	assert_int_equal(opts_set_text(&o, &cfg, "rate", "0.5", &why), 0);
	assert_true(o.rate == 0.5);
	v = json_integer(500);
	assert_int_equal(opts_set_json(&o, &cfg, "rate", v, &why), 0);
	assert_true(o.rate == 50);
	json_decref(v);
	v = json_real(2.5);
	assert_int_equal(opts_set_json(&o, &cfg, "per_host_rate", v, &why), 0);
	assert_true(o.per_host_rate == 2.5);
	json_decref(v);
	assert_int_equal(opts_set_text(&o, &cfg, "rate", "-1", &why), -1);
	assert_string_equal(why, "expected a number from 0 to 1000000000");
	/* Past the largest rate: the message says where the range ends. */
	assert_int_equal(opts_set_text(&o, &cfg, "rate", "2e9", &why), -1);
	assert_string_equal(why, "expected a number from 0 to 1000000000");
	v = json_real(5e9);
	assert_int_equal(opts_set_json(&o, &cfg, "burst", v, &why), -1);
	assert_string_equal(why, "expected a number from 0 to 1000000000");
	json_decref(v);
	cfg.rate = 0;
	opts_defaults(&o, &cfg);
	assert_true(o.rate == 0);
}

static void
test_retry_options(void **state)
{
	struct batch_opts o;
	const char *why;
	json_t *v = json_pack("[sss]", "dns", "500", "reset");
	json_t *bad = json_pack("[s]", "5xx");
	json_t *zero = json_integer(0);

	opts_defaults(&o, &cfg);
	assert_int_equal(o.retries, 2);
	assert_int_equal(opts_set_json(&o, &cfg, "retries", zero, &why), 0);
	assert_int_equal(o.retries, 0);
	assert_int_equal(opts_set_text(&o, &cfg, "retries", "99", &why), 0);
	assert_int_equal(o.retries, 10);
	assert_int_equal(opts_set_json(&o, &cfg, "retry_on", v, &why), 0);
	assert_true(retry_wanted(&o.retry_on, IERR_NONE, 500, true, true));
	assert_false(retry_wanted(&o.retry_on, IERR_CONNECT, 0, false, true));
	assert_int_equal(opts_set_json(&o, &cfg, "retry_on", bad, &why), -1);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "retry_on", "timeout,503", &why), 0);
	assert_true(retry_wanted(&o.retry_on, IERR_NONE, 503, true, true));
	assert_false(retry_wanted(&o.retry_on, IERR_NONE, 500, true, true));
	assert_int_equal(
	    opts_set_text(&o, &cfg, "follow_redirects", "0", &why), 0);
	assert_int_equal(o.follow_redirects, 0);
	assert_int_equal(opts_set_text(&o, &cfg, "backoff_ms", "0", &why), -1);
	assert_int_equal(opts_set_text(&o, &cfg, "decode", "false", &why), 0);
	assert_false(o.decode);
	json_decref(v);
	json_decref(bad);
	json_decref(zero);
}

/* An item's own timeout_ms goes through the same row: the same cap. */
static void
test_per_item_timeout_is_clamped(void **state)
{
	struct batch_opts item;
	const char *why;
	json_t *v = json_integer(10), *big = json_integer(1ll << 40);

	opts_defaults(&item, &cfg);
	assert_true(opts_item_may_set("timeout_ms"));
	assert_int_equal(opts_set_json(&item, &cfg, "timeout_ms", v, &why), 0);
	assert_int_equal(item.timeout_ms, 10);
	assert_int_equal(
	    opts_set_json(&item, &cfg, "timeout_ms", big, &why), 0);
	assert_int_equal(item.timeout_ms, 300000);
	json_decref(v);
	json_decref(big);
}

static void
test_effective_lists_every_option(void **state)
{
	struct batch_opts o;
	struct buf b = BUF_INIT;
	const char *why;

	opts_defaults(&o, &cfg);
	opts_set_text(&o, &cfg, "concurrency", "7", &why);
	opts_set_text(&o, &cfg, "body", "none", &why);
	opts_set_text(&o, &cfg, "user_agent", "bot \"1\"", &why);
	opts_emit_effective(&o, &b);
	assert_string_equal(buf_cstr(&b),
	    "{\"concurrency\":7,\"per_host_concurrency\":100,"
	    "\"connect_timeout_ms\":5000,\"timeout_ms\":30000,"
	    "\"deadline_ms\":300000,\"max_body_bytes\":1048576,"
	    "\"rate\":0,\"burst\":0,\"per_host_rate\":0,\"retries\":2,"
	    "\"backoff_ms\":100,\"backoff_max_ms\":10000,"
	    "\"retry_on\":[\"connect\",\"timeout\",\"reset\",\"429\","
	    "\"502\",\"503\",\"504\"],\"follow_redirects\":5,"
	    "\"progress_ms\":0,\"body\":\"none\",\"headers\":true,"
	    "\"decode\":true,\"user_agent\":\"bot \\\"1\\\"\","
	    "\"extract\":false,\"max_links\":1000}");
	buf_free(&b);
}

/* extract: a list of title, links, meta (any order, repeats harmless),
 * true for all, false or [] for none; in the query string a boolean or
 * the words joined with commas. Anything else is refused with the
 * sentence naming the forms; an item may set its own, max_links not.
 * "effective" writes the list in a fixed order, which parses back to
 * the same value (a job stores its options that way). */
static void
test_extract(void **state)
{
	struct batch_opts o, back;
	struct buf b = BUF_INIT;
	const char *why;
	json_t *eff, *v;

	opts_defaults(&o, &cfg);
	assert_int_equal(o.extract, 0);
	assert_int_equal(o.max_links, 1000);
	assert_true(opts_item_may_set("extract"));
	assert_false(opts_item_may_set("max_links"));
	v = json_loads("[\"meta\",\"title\",\"title\"]", 0, NULL);
	assert_int_equal(opts_set_json(&o, &cfg, "extract", v, &why), 0);
	assert_int_equal(o.extract, EXTRACT_META | EXTRACT_TITLE);
	json_decref(v);
	v = json_true();
	assert_int_equal(opts_set_json(&o, &cfg, "extract", v, &why), 0);
	assert_int_equal(o.extract, EXTRACT_ALL);
	v = json_loads("[]", 0, NULL);
	assert_int_equal(opts_set_json(&o, &cfg, "extract", v, &why), 0);
	assert_int_equal(o.extract, 0);
	json_decref(v);
	v = json_loads("[\"title\",\"body\"]", 0, NULL);
	assert_int_equal(opts_set_json(&o, &cfg, "extract", v, &why), -1);
	assert_string_equal(why,
	    "expected a list of \"title\", \"links\", \"meta\", or true "
	    "or false");
	json_decref(v);
	v = json_string("title");
	assert_int_equal(opts_set_json(&o, &cfg, "extract", v, &why), -1);
	json_decref(v);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "extract", "links,title", &why), 0);
	assert_int_equal(o.extract, EXTRACT_LINKS | EXTRACT_TITLE);
	assert_int_equal(opts_set_text(&o, &cfg, "extract", "yes", &why), 0);
	assert_int_equal(o.extract, EXTRACT_ALL);
	assert_int_equal(
	    opts_set_text(&o, &cfg, "extract", "title,", &why), -1);
	assert_int_equal(opts_set_text(&o, &cfg, "max_links", "5", &why), 0);
	assert_int_equal(o.max_links, 5);
	assert_int_equal(opts_set_text(&o, &cfg, "max_links", "0", &why), -1);

	opts_set_text(&o, &cfg, "extract", "meta,links", &why);
	opts_emit_effective(&o, &b);
	eff = json_loads(buf_cstr(&b), 0, NULL);
	assert_non_null(eff);
	assert_non_null(
	    strstr(buf_cstr(&b), "\"extract\":[\"links\",\"meta\"]"));
	opts_defaults(&back, &cfg);
	assert_int_equal(opts_set_json(&back, &cfg, "extract",
	                     json_object_get(eff, "extract"), &why),
	    0);
	assert_int_equal(back.extract, o.extract);
	json_decref(eff);
	buf_free(&b);
}

/* user_agent: its default is [upstream] user_agent; JSON and the query
 * string set it the same way; an item may set its own; a value that
 * could split the request or overflow the field is refused. */
static void
test_user_agent(void **state)
{
	struct batch_opts o;
	const char *why;
	char longer[200];
	json_t *v = json_string("json-bot/2"), *n = json_integer(1);
	json_t *nul = json_stringn("a\0b", 3);

	snprintf(cfg.user_agent, sizeof(cfg.user_agent), "conf-bot/1");
	opts_defaults(&o, &cfg);
	assert_string_equal(o.user_agent, "conf-bot/1");
	assert_true(opts_item_may_set("user_agent"));
	assert_int_equal(opts_set_json(&o, &cfg, "user_agent", v, &why), 0);
	assert_string_equal(o.user_agent, "json-bot/2");
	assert_int_equal(
	    opts_set_text(&o, &cfg, "user_agent", "query bot/3", &why), 0);
	assert_string_equal(o.user_agent, "query bot/3");
	assert_int_equal(opts_set_text(&o, &cfg, "user_agent", "", &why), 0);
	assert_string_equal(o.user_agent, "");
	assert_int_equal(
	    opts_set_text(&o, &cfg, "user_agent", "a\r\nX-Evil: 1", &why), -1);
	assert_string_equal(why,
	    "expected a string of at most 127 bytes without CR, LF or NUL");
	assert_int_equal(opts_set_json(&o, &cfg, "user_agent", nul, &why), -1);
	assert_int_equal(opts_set_json(&o, &cfg, "user_agent", n, &why), -1);
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	assert_int_equal(
	    opts_set_text(&o, &cfg, "user_agent", longer, &why), -1);
	longer[127] = '\0';
	assert_int_equal(
	    opts_set_text(&o, &cfg, "user_agent", longer, &why), 0);
	assert_int_equal(strlen(o.user_agent), 127);
	json_decref(v);
	json_decref(n);
	json_decref(nul);
}

/* The whole text of srcdir/path (NULL-terminated, malloc'd). */
static char *
read_doc(const char *path)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char full[1024];
	struct buf b = BUF_INIT;
	char chunk[4096], *text;
	size_t n;
	FILE *f;

	snprintf(full, sizeof(full), "%s/%s", srcdir, path);
	if ((f = fopen(full, "r")) == NULL)
		fail_msg("cannot open %s", full);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&b, chunk, n);
	fclose(f);
	text = xstrdup(buf_cstr(&b));
	buf_free(&b);
	return text;
}

/*
 * The generated block of path, between the lines begin and end, must be
 * what the table renders in form. With FANOUTD_WRITE_DOCS=1 (`make
 * docs`) the block is rewritten instead.
 */
static void
check_block(const char *path, enum opts_doc_form form, const char *begin,
    const char *end)
{
	char *text = read_doc(path), *b, *e;
	struct buf want = BUF_INIT;

	opts_doc(&want, form);
	b = strstr(text, begin);
	e = b ? strstr(b, end) : NULL;
	if (b == NULL || e == NULL)
		fail_msg("%s: no \"%s\" ... \"%s\" block", path, begin, end);
	b += strlen(begin);
	if (getenv("FANOUTD_WRITE_DOCS") != NULL) {
		const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
		char full[1024];
		FILE *f;

		snprintf(full, sizeof(full), "%s/%s", srcdir, path);
		assert_non_null(f = fopen(full, "w"));
		fwrite(text, 1, (size_t)(b - text), f);
		fwrite(want.data, 1, want.len, f);
		fputs(e, f);
		fclose(f);
	} else if ((size_t)(e - b) != want.len ||
	    memcmp(b, want.data, want.len) != 0) {
		fail_msg("%s: the options block is not what src/options.c "
		         "renders; run `make docs`. It should read:\n%s",
		    path, buf_cstr(&want));
	}
	buf_free(&want);
	free(text);
}

/* The man page and the example configuration list every option as the
 * table renders it; the README's table of options names each one. */
static void
test_docs_come_from_the_table(void **state)
{
	char *readme = read_doc("README.md");
	char row[64];
	size_t i;

	check_block("man/fanoutd.8", OPTS_DOC_ROFF, ".\\\" BEGIN OPTIONS\n",
	    ".\\\" END OPTIONS\n");
	check_block("etc/fanoutd.conf", OPTS_DOC_CONF, "# BEGIN OPTIONS\n",
	    "# END OPTIONS\n");
	for (i = 0; i < opts_count(); i++) {
		snprintf(row, sizeof(row), "\n| `%s` |", opts_at(i)->name);
		if (strstr(readme, row) == NULL)
			fail_msg("README.md's table of options lacks %s",
			    opts_at(i)->name);
	}
	free(readme);
}

static bool
key_exists(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < config_key_count(); i++)
		if (strcmp(config_key_at(i)->section, section) == 0 &&
		    strcmp(config_key_at(i)->key, key) == 0)
			return true;
	return false;
}

/* Every row names real configuration keys, and a row's built-in
 * default is one its own parser takes (opts_defaults aborts if not). */
static void
test_rows_name_configuration_keys(void **state)
{
	struct batch_opts o;
	size_t i;

	opts_defaults(&o, &cfg);
	for (i = 0; i < opts_count(); i++) {
		const struct opts_info *r = opts_at(i);

		assert_true(opts_is_option(r->name));
		if (r->def_key != NULL)
			assert_true(key_exists(r->def_section, r->def_key));
		else
			assert_non_null(r->builtin);
		if (r->cap_key != NULL)
			assert_true(key_exists(r->cap_section, r->cap_key));
		assert_int_equal(opts_item_may_set(r->name), r->item);
	}
	assert_null(opts_at(opts_count()));
	assert_true(opts_item_may_set("retries"));
	assert_false(opts_item_may_set("concurrency"));
	assert_false(opts_item_may_set("nope"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_defaults_come_from_the_config, setup),
	    cmocka_unit_test_setup(test_values_over_the_cap_are_clamped, setup),
	    cmocka_unit_test_setup(test_a_batch_may_lower_a_cap, setup),
	    cmocka_unit_test_setup(test_bad_json_values_are_refused, setup),
	    cmocka_unit_test_setup(test_bad_text_values_are_refused, setup),
	    cmocka_unit_test_setup(test_body_and_headers_forms, setup),
	    cmocka_unit_test_setup(
	        test_booleans_read_as_the_config_reads_them, setup),
	    cmocka_unit_test_setup(test_rates_are_capped_by_the_server, setup),
	    cmocka_unit_test_setup(test_retry_options, setup),
	    cmocka_unit_test_setup(test_per_item_timeout_is_clamped, setup),
	    cmocka_unit_test_setup(test_effective_lists_every_option, setup),
	    cmocka_unit_test_setup(test_user_agent, setup),
	    cmocka_unit_test_setup(test_extract, setup),
	    cmocka_unit_test_setup(test_rows_name_configuration_keys, setup),
	    cmocka_unit_test_setup(test_docs_come_from_the_table, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
