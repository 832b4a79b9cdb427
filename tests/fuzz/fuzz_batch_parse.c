/*
 * fuzz_batch_parse.c - libFuzzer harness for the batch parser. The first
 * byte picks the Content-Type (JSON, text/plain, none: sniffed) and the
 * output format; the rest is the body. Whatever it accepts must hold
 * the parser's promises: one item per input position, every valid item
 * with a usable URL, every invalid item with a reason, counts within
 * [server] max_items. With the first byte's top bit set, the rest is an
 * Accept header instead: it negotiates one of the three formats or
 * refuses with 406, never anything else. With bit 6 set the body is a
 * job's (batch_parse_job): each item's kept text, leased back
 * (batch_parse_leased), must give the same item - the store may never
 * change what an item means; and the streaming read of a job's body
 * (batch_job_open, batch_job_next) must agree with it: the same verdict,
 * the same error, the same item texts and flags.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#include "batch_parse.h"
#include "emit.h"

static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The same reason, as a result line shows it: bytes that are not UTF-8
 * become U+FFFD there (emit_json_string), and so they do in a stored
 * URL list item. */
static bool
same_shown(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return !emit_is_utf8((const unsigned char *)a, strlen(a)) ||
	    strcmp(a, b) == 0;
}

/* A job's items, as the store gives them back, are the items parsed. */
static void
check_leased(const struct batch_spec *spec)
{
	uint32_t *index = xcalloc(spec->nitems + 1, sizeof(*index)), i;
	struct batch_spec back;

	for (i = 0; i < spec->nitems; i++)
		index[i] = i;
	batch_parse_leased(&back, &spec->opts, spec->item_json,
	    spec->item_json_len, index, spec->nitems, &cfg);
	for (i = 0; i < spec->nitems; i++) {
		const struct item_spec *a = &spec->items[i],
		                       *b = &back.items[i];

		if (b->index != i || !same_shown(a->url, b->url) ||
		    !same_shown(a->invalid, b->invalid) ||
		    !same_str(a->id_json, b->id_json) ||
		    a->method != b->method || a->nheaders != b->nheaders ||
		    a->body_len != b->body_len ||
		    a->retry_unsafe != b->retry_unsafe)
			abort();
	}
	batch_spec_free(&back);
	free(index);
}

/* The streaming read of a job's body agrees with the whole parse (rc,
 * *spec, *err: what batch_parse_job said). */
static void
check_streamed(const uint8_t *data, size_t size, const char *type,
    const char *query, int rc, const struct batch_spec *spec,
    const struct parse_error *err)
{
	struct job_items ji;
	struct batch_spec s;
	struct parse_error e;
	struct job_item it;
	uint32_t i;

	if (batch_job_open(
	        &ji, &s, (const char *)data, size, type, query, &cfg, &e) != rc)
		abort();
	if (rc != 0) {
		if (e.code != err->code || strcmp(e.message, err->message) != 0)
			abort();
		return;
	}
	if (s.nitems != spec->nitems || !same_str(s.job_json, spec->job_json))
		abort();
	for (i = 0; i < s.nitems; i++) {
		const struct item_spec *a = &spec->items[i];

		batch_job_next(&ji, &it);
		if (it.len != spec->item_json_len[i] ||
		    memcmp(it.text, spec->item_json[i], it.len) != 0 ||
		    it.unsafe !=
		        (a->invalid == NULL &&
		            !http_method_idempotent(a->method)) ||
		    it.retry_unsafe != a->retry_unsafe)
			abort();
	}
	batch_job_close(&ji);
	batch_spec_free(&s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {"application/json", "text/plain",
	    NULL, "application/x-www-form-urlencoded"};
	static const char *const queries[] = {NULL, "format=json",
	    "concurrency=3&retries=0", "format=sse&retry_on=dns,503"};
	struct batch_spec spec;
	struct parse_error err;
	uint32_t i;
	int rc;

	if (size < 1)
		return 0;
	if (cfg.max_items == 0) {
		config_defaults(&cfg);
		cfg.max_items = 5000;
	}
	if (data[0] & 0x80) {
		char *accept = xstrndup((const char *)data + 1, size - 1);

		rc =
		    batch_parse(&spec, "[]", 2, NULL, NULL, accept, &cfg, &err);

		free(accept);
		if (rc != 0 &&
		    (err.code != RERR_NOT_ACCEPTABLE || err.message[0] == '\0'))
			abort();
		if (rc == 0 && (unsigned)spec.format > OUT_SSE)
			abort();
		if (rc == 0)
			batch_spec_free(&spec);
		return 0;
	}
	rc = (data[0] & 0x40 ? batch_parse_job : batch_parse)(&spec,
	    (const char *)data + 1, size - 1, types[data[0] & 3],
	    queries[(data[0] >> 2) & 3], NULL, &cfg, &err);
	if (data[0] & 0x40)
		check_streamed(data + 1, size - 1, types[data[0] & 3],
		    queries[(data[0] >> 2) & 3], rc, &spec, &err);
	if (rc != 0) {
		if (err.message[0] == '\0')
			abort(); /* a refusal always says why */
		return 0;
	}
	if (spec.nitems > cfg.max_items)
		abort();
	for (i = 0; i < spec.nitems; i++) {
		const struct item_spec *it = &spec.items[i];

		if (it->index != i)
			abort();
		if (it->invalid != NULL)
			continue;
		if (it->url == NULL || it->u.host == NULL ||
		    it->u.host[0] == '\0' || it->u.target == NULL ||
		    it->u.target[0] != '/' || it->u.origin == NULL ||
		    it->u.port == 0 || (unsigned)it->method >= HM__COUNT)
			abort();
		if (it->has_body && it->body_len > 0 && it->body == NULL)
			abort();
	}
	if (spec.job)
		check_leased(&spec);
	batch_spec_free(&spec);
	return 0;
}
