/*
 * batch_parse_job.c - a POST /v1/jobs body read without keeping its
 * items (see batch_parse.h, struct job_items): batch_job_open checks the
 * whole request - its options, its shape, every item - and counts the
 * items; batch_job_next then gives them one at a time, as the JSON text
 * the store keeps, while the store writes them (store_create_from). So
 * creating a job of a million items holds its body and one item, never
 * a parsed item per item (a jansson tree and an item_spec each: 428 MiB
 * for a million URLs).
 *
 * A URL list is read line by line. A JSON body is walked by its
 * structure: the top-level object's members (or the bare array) and the
 * requests array's elements are each parsed on their own by jansson
 * (JSON_DISABLE_EOF_CHECK says where each one ends), so no tree of the
 * whole body is ever built. A syntax error is reported as a batch's is:
 * in jansson's own words for a body up to EXACT_MAX (parsed whole again,
 * only then), else in the same form with the line and column where the
 * walk stopped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "batch_parse.h"
#include "batch_parse_int.h"
#include "buf.h"
#include "emit.h"
#include "util.h"

#define EXACT_MAX  (1024 * 1024) /* bodies whose syntax errors jansson words */
#define KEYS_MAX   64            /* top-level keys checked for duplicates */
#define ITEM_FLAGS (JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES)

static void
skip_ws(const struct job_items *ji, size_t *pos)
{
	while (*pos < ji->len &&
	    (ji->body[*pos] == ' ' || ji->body[*pos] == '\t' ||
	        ji->body[*pos] == '\n' || ji->body[*pos] == '\r'))
		(*pos)++;
}

/* A syntax error at offset at (what: jansson's text, or ours). */
static int
syntax_error(const struct job_items *ji, size_t at, const char *what,
    struct parse_error *err)
{
	int line = 1, col = 0;
	size_t i;

	if (ji->len <= EXACT_MAX) {
		json_error_t je;
		json_t *root = json_loadb(ji->body, ji->len, ITEM_FLAGS, &je);

		if (root == NULL)
			return batch_perr(err, RERR_BAD_REQUEST,
			    "body is not valid JSON: %s (line %d, column %d)",
			    je.text, je.line, je.column);
		json_decref(root); /* not reached: the walk is stricter */
	}
	for (i = 0; i < at && i < ji->len; i++) {
		if (ji->body[i] == '\n') {
			line++;
			col = 0;
		} else if (((unsigned char)ji->body[i] & 0xc0) != 0x80) {
			col++; /* jansson counts characters, not bytes */
		}
	}
	return batch_perr(err, RERR_BAD_REQUEST,
	    "body is not valid JSON: %s (line %d, column %d)", what, line, col);
}

/*
 * Where the value jansson parsed from `from` really ends, given the end
 * it reports. jansson reads one byte past a number or a literal (true,
 * false, null) and puts it back; a NUL put back is lost - its stream
 * takes an empty slot for "read more" - so the NUL is skipped, and not
 * counted in the position it reports. Each such NUL inside the value
 * moves the true end one byte further.
 */
static size_t
true_end(const struct job_items *ji, size_t from, size_t end)
{
	size_t i;

	for (i = from + 1; i < end && i < ji->len; i++)
		if (ji->body[i] == '\0' &&
		    isalnum((unsigned char)ji->body[i - 1]))
			end++;
	return end < ji->len ? end : ji->len;
}

/* One JSON value at *pos, which moves past it; NULL after an error. */
static json_t *
value_at(const struct job_items *ji, size_t *pos, struct parse_error *err)
{
	json_error_t je;
	json_t *v = json_loadb(ji->body + *pos, ji->len - *pos,
	    ITEM_FLAGS | JSON_DISABLE_EOF_CHECK, &je);

	if (v == NULL) {
		syntax_error(ji, *pos + (size_t)je.position, je.text, err);
		return NULL;
	}
	*pos = true_end(ji, *pos, *pos + (size_t)je.position);
	/* A NUL right after a number or a literal is lost too (true_end):
	 * the whole-body parse skips it, and so do we. */
	if (!json_is_string(v) && !json_is_object(v) && !json_is_array(v) &&
	    *pos < ji->len && ji->body[*pos] == '\0')
		(*pos)++;
	return v;
}

/* Item i (a parsed value) as the batch parser sees it, for its flags. */
static void
item_flags(
    struct job_items *ji, uint32_t i, const json_t *v, struct job_item *out)
{
	struct batch_spec one;
	struct item_spec it;

	memset(&one, 0, sizeof(one));
	memset(&it, 0, sizeof(it));
	one.opts = ji->opts;
	batch_parse_item(&one, &it, i, v, ji->cfg);
	out->unsafe = it.invalid == NULL && !http_method_idempotent(it.method);
	out->retry_unsafe = it.retry_unsafe;
	arena_free(&one.arena);
}

/* The requests array at *pos ('['): every element checked, counted. */
static int
walk_items(struct job_items *ji, const struct batch_spec *spec, size_t *pos,
    struct parse_error *err)
{
	json_t *v;

	ji->start = ++*pos;
	skip_ws(ji, pos);
	if (*pos < ji->len && ji->body[*pos] == ']') {
		(*pos)++;
		return 0;
	}
	for (;;) {
		skip_ws(ji, pos);
		if ((v = value_at(ji, pos, err)) == NULL)
			return -1;
		json_decref(v);
		if (ji->n++ == UINT32_MAX - 1)
			return batch_perr(
			    err, RERR_TOO_LARGE, "requests: too many items");
		skip_ws(ji, pos);
		if (*pos < ji->len && ji->body[*pos] == ',') {
			(*pos)++;
			continue;
		}
		if (*pos < ji->len && ji->body[*pos] == ']') {
			(*pos)++;
			return 0;
		}
		return syntax_error(ji, *pos, "']' expected", err);
	}
}

/* A member of the top-level object other than requests. */
static int
member(struct job_items *ji, struct batch_spec *spec, const char *key,
    json_t *v, struct parse_error *sem)
{
	const char *k, *why;
	json_t *o;

	if (strcmp(key, "job") == 0) {
		char *js = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		spec->job_json = arena_strdup(&spec->arena, js ? js : "null");
		free(js);
		return 0;
	}
	if (strcmp(key, "options") != 0)
		return batch_perr(
		    sem, RERR_BAD_REQUEST, "%.100s: unknown key", key);
	if (!json_is_object(v)) {
		ji->options_bad = true;
		return 0;
	}
	json_object_foreach(v, k, o)
	{
		if (opts_set_json(&spec->opts, ji->cfg, k, o, &why) != 0) {
			ji->options_bad = true;
			batch_perr(&ji->options_err, RERR_BAD_REQUEST,
			    "options.%.100s: %s", k, why);
			return 0;
		}
	}
	return 0;
}

/* {"requests": [...], "options": {...}, "job": {...}} at *pos ('{').
 * Syntax errors return at once; the first error of meaning (in sem)
 * waits until the whole body is known to be JSON, as with a batch. */
static int
walk_object(struct job_items *ji, struct batch_spec *spec, size_t *pos,
    struct parse_error *sem, bool *sem_set)
{
	struct buf keys = BUF_INIT;
	size_t nkeys = 0;
	json_t *k, *v;
	int rc = -1;

	(*pos)++;
	skip_ws(ji, pos);
	if (*pos < ji->len && ji->body[*pos] == '}') {
		(*pos)++;
		return 0;
	}
	for (;;) {
		const char *key;

		skip_ws(ji, pos);
		if (*pos >= ji->len || ji->body[*pos] != '"') {
			syntax_error(ji, *pos, "string or '}' expected", sem);
			goto out;
		}
		if ((k = value_at(ji, pos, sem)) == NULL)
			goto out;
		key = json_string_value(k);
		if (strlen(key) != json_string_length(k)) { /* as jansson */
			json_decref(k);
			syntax_error(ji, *pos,
			    "NUL byte in object key not supported", sem);
			goto out;
		}
		if (nkeys < KEYS_MAX) {
			size_t off;

			for (off = 0; off < keys.len;
			     off += strlen(keys.data + off) + 1)
				if (strcmp(keys.data + off, key) == 0) {
					json_decref(k);
					syntax_error(ji, *pos,
					    "duplicate object key", sem);
					goto out;
				}
			buf_add(&keys, key, strlen(key) + 1);
			nkeys++;
		}
		skip_ws(ji, pos);
		if (*pos >= ji->len || ji->body[*pos] != ':') {
			json_decref(k);
			syntax_error(ji, *pos, "':' expected", sem);
			goto out;
		}
		(*pos)++;
		skip_ws(ji, pos);
		if (strcmp(key, "requests") == 0 && *pos < ji->len &&
		    ji->body[*pos] == '[') {
			ji->has_requests = true;
			if (walk_items(ji, spec, pos, sem) != 0) {
				json_decref(k);
				goto out;
			}
		} else {
			if ((v = value_at(ji, pos, sem)) == NULL) {
				json_decref(k);
				goto out;
			}
			if (strcmp(key, "requests") == 0)
				ji->requests_bad = true;
			else if (!*sem_set &&
			    member(ji, spec, key, v, &ji->key_err) != 0)
				*sem_set = true;
			json_decref(v);
		}
		json_decref(k);
		skip_ws(ji, pos);
		if (*pos < ji->len && ji->body[*pos] == ',') {
			(*pos)++;
			continue;
		}
		if (*pos < ji->len && ji->body[*pos] == '}') {
			(*pos)++;
			rc = 0;
			goto out;
		}
		syntax_error(ji, *pos, "'}' expected", sem);
		goto out;
	}
out:
	buf_free(&keys);
	return rc;
}

/* The JSON body: its shape, then the errors of meaning in the batch
 * parser's order. */
static int
open_json(
    struct job_items *ji, struct batch_spec *spec, struct parse_error *err)
{
	size_t pos = 0;
	bool sem_set = false;

	skip_ws(ji, &pos);
	if (pos < ji->len && ji->body[pos] == '[') {
		ji->has_requests = true;
		if (walk_items(ji, spec, &pos, err) != 0)
			return -1;
	} else if (pos < ji->len && ji->body[pos] == '{') {
		if (walk_object(ji, spec, &pos, err, &sem_set) != 0)
			return -1;
	} else {
		json_t *v = value_at(ji, &pos, err);

		if (v == NULL)
			return -1;
		json_decref(v);
		skip_ws(ji, &pos);
		if (pos < ji->len)
			return syntax_error(
			    ji, pos, "end of file expected", err);
		return batch_perr(err, RERR_BAD_REQUEST,
		    "body: expected an object with \"requests\" or an array "
		    "of requests");
	}
	skip_ws(ji, &pos);
	if (pos < ji->len)
		return syntax_error(ji, pos, "end of file expected", err);
	if (sem_set) {
		*err = ji->key_err;
		return -1;
	}
	if (ji->requests_bad)
		return batch_perr(
		    err, RERR_BAD_REQUEST, "requests: expected an array");
	if (!ji->has_requests)
		return batch_perr(err, RERR_BAD_REQUEST, "requests: missing");
	if (ji->options_bad) {
		if (ji->options_err.message[0] != '\0')
			*err = ji->options_err;
		else
			batch_perr(err, RERR_BAD_REQUEST,
			    "options: expected an object");
		return -1;
	}
	return 0;
}

/* A URL list: every line valid UTF-8 (a job keeps JSON text), counted. */
static int
open_text(struct job_items *ji, struct parse_error *err)
{
	const char *p = ji->body, *end = ji->body + ji->len, *s;
	size_t sl;

	while (next_text_line(&p, end, &s, &sl)) {
		if (!emit_is_utf8((const unsigned char *)s, sl))
			return batch_perr(err, RERR_BAD_REQUEST,
			    "requests[%u]: not valid UTF-8 (a job keeps its "
			    "items as JSON text)",
			    ji->n);
		if (ji->n++ == UINT32_MAX - 1)
			return batch_perr(
			    err, RERR_TOO_LARGE, "requests: too many items");
	}
	return 0;
}

int
batch_job_open(struct job_items *ji, struct batch_spec *spec, const char *body,
    size_t len, const char *content_type, const char *query,
    const struct config *cfg, struct parse_error *err)
{
	int rc;

	memset(ji, 0, sizeof(*ji));
	if (batch_parse_head(spec, true, &body, &len, content_type, query, NULL,
	        cfg, err, &ji->json) != 0)
		goto fail;
	ji->body = body;
	ji->len = len;
	ji->cfg = cfg;
	rc = ji->json ? open_json(ji, spec, err) : open_text(ji, err);
	if (rc != 0)
		goto fail;
	if (ji->n > cfg->jobs_max_items) {
		batch_perr(err, RERR_TOO_LARGE,
		    "requests: %u items exceed the limit of %llu ([jobs] "
		    "max_items)",
		    ji->n, (unsigned long long)cfg->jobs_max_items);
		goto fail;
	}
	if (batch_check_json_items(spec, ji->n, cfg, err) != 0)
		goto fail;
	spec->nitems = ji->n;
	ji->opts = spec->opts;
	ji->pos = ji->start;
	ji->line = ji->body;
	return 0;
fail:
	batch_spec_free(spec);
	memset(ji, 0, sizeof(*ji));
	return -1;
}

void
batch_job_next(struct job_items *ji, struct job_item *out)
{
	memset(out, 0, sizeof(*out));
	buf_free(&ji->text);
	if (ji->next >= ji->n)
		return;
	ji->next++;
	if (!ji->json) {
		const char *s;
		size_t sl;

		if (next_text_line(&ji->line, ji->body + ji->len, &s, &sl))
			emit_json_string(&ji->text, s, sl);
	} else {
		struct parse_error err;
		json_t *v;
		char *t;

		skip_ws(ji, &ji->pos);
		if (ji->body[ji->pos] == ',')
			ji->pos++;
		skip_ws(ji, &ji->pos);
		v = value_at(ji, &ji->pos, &err); /* checked: never NULL */
		if (v != NULL) {
			item_flags(ji, ji->next - 1, v, out);
			t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			if (t != NULL)
				buf_adds(&ji->text, t);
			free(t);
			json_decref(v);
		}
	}
	if (ji->text.len == 0)
		buf_adds(&ji->text, "null");
	out->text = ji->text.data;
	out->len = ji->text.len;
}

void
batch_job_close(struct job_items *ji)
{
	buf_free(&ji->text);
	memset(ji, 0, sizeof(*ji));
}
