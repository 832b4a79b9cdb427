/*
 * batch_parse.c - a POST /v1/batch body into a struct batch_spec (see
 * batch_parse.h). Three layers: the query string (options and format),
 * the body's kind (JSON or URL list, from Content-Type or sniffed), and
 * the items. Whole-request errors stop the parse; item errors are kept
 * on the item (the first problem found wins) and parsing goes on.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base64.h"
#include "accept.h"
#include "batch_parse.h"
#include "batch_parse_int.h"
#include "buf.h"
#include "emit.h"
#include "util.h"

#define perr batch_perr

enum input_kind { INPUT_JSON, INPUT_TEXT };

int
batch_perr(struct parse_error *err, enum req_err code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

static void item_invalid(struct batch_spec *spec, struct item_spec *it,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Mark the item invalid with the first problem found. */
static void
item_invalid(
    struct batch_spec *spec, struct item_spec *it, const char *fmt, ...)
{
	char msg[300];
	va_list ap;

	if (it->invalid != NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	it->invalid = arena_strdup(&spec->arena, msg);
}

/* A query-string component s[0..n) decoded into out (room for n + 1),
 * NUL-terminated: each '+' is a space, the pieces between them are
 * percent-decoded (so "%2B" is a plus). */
static void
query_decode(const char *s, size_t n, char *out)
{
	const char *end = s + n, *plus;
	size_t k = 0;

	for (;;) {
		plus = memchr(s, '+', (size_t)(end - s));
		k += url_pct_decode(
		    s, (size_t)((plus ? plus : end) - s), out + k);
		if (plus == NULL)
			break;
		out[k++] = ' ';
		s = plus + 1;
	}
	out[k] = '\0';
}

/* key=value&...: batch options and `format`. */
static int
parse_query(struct batch_spec *spec, const char *q, const struct config *cfg,
    struct parse_error *err)
{
	size_t qlen = strlen(q);
	char *key = xmalloc(qlen + 1), *val = xmalloc(qlen + 1);
	const char *p = q, *why;
	int rc = 0;

	while (rc == 0 && *p != '\0') {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;

		query_decode(p, klen, key);
		query_decode(
		    eq ? eq + 1 : p + len, eq ? len - klen - 1 : 0, val);
		p += len + (p[len] == '&');
		if (key[0] == '\0')
			continue;
		if (strcmp(key, "format") == 0) {
			spec->format_set = true;
			if (accept_format_name(val, &spec->format) != 0)
				rc = perr(err, RERR_BAD_REQUEST,
				    "query.format: expected ndjson, json or "
				    "sse");
		} else if (!opts_is_option(key)) {
			rc = perr(err, RERR_BAD_REQUEST,
			    "query.%.100s: unknown option", key);
		} else if (opts_set_text(&spec->opts, cfg, key, val, &why) !=
		    0) {
			rc = perr(err, RERR_BAD_REQUEST, "query.%.100s: %s",
			    key, why);
		}
	}
	free(key);
	free(val);
	return rc;
}

/* JSON or URL list, from the Content-Type or by sniffing the body. */
static int
input_kind(const char *ct, const char *body, size_t len, enum input_kind *k,
    struct parse_error *err)
{
	char type[128];
	size_t n, i;

	if (ct != NULL) {
		while (*ct == ' ' || *ct == '\t')
			ct++;
		n = strcspn(ct, "; \t");
		if (n >= sizeof(type))
			n = sizeof(type) - 1;
		for (i = 0; i < n; i++)
			type[i] = (char)tolower((unsigned char)ct[i]);
		type[n] = '\0';
		if (strcmp(type, "application/json") == 0) {
			*k = INPUT_JSON;
			return 0;
		}
		if (strcmp(type, "text/plain") == 0) {
			*k = INPUT_TEXT;
			return 0;
		}
		if (n > 0 &&
		    strcmp(type, "application/x-www-form-urlencoded") != 0)
			return perr(err, RERR_MEDIA_TYPE,
			    "unsupported Content-Type \"%.60s\"; send "
			    "application/json or text/plain",
			    type);
	}
	for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
		;
	*k = i < len && (body[i] == '{' || body[i] == '[') ? INPUT_JSON
	                                                   : INPUT_TEXT;
	return 0;
}

/* "headers": {"Name": "value", ...} into the item. */
static void
parse_item_headers(
    struct batch_spec *spec, struct item_spec *it, const json_t *h)
{
	struct http_header *hs;
	const char *name;
	json_t *v;
	size_t n = 0;

	if (!json_is_object(h)) {
		item_invalid(spec, it,
		    "requests[%u].headers: expected an object", it->index);
		return;
	}
	hs = arena_alloc(&spec->arena, json_object_size(h) * sizeof(*hs) + 1);
	json_object_foreach((json_t *)h, name, v)
	{
		const char *val;
		size_t vlen;

		if (!http_field_name_valid(name)) {
			item_invalid(spec, it,
			    "requests[%u].headers: \"%.60s\" is not a valid "
			    "header name",
			    it->index, name);
			return;
		}
		if (http_field_managed(name)) {
			item_invalid(spec, it,
			    "requests[%u].headers.%s: fanoutd sets this header "
			    "itself",
			    it->index, name);
			return;
		}
		if (!json_is_string(v)) {
			item_invalid(spec, it,
			    "requests[%u].headers.%.60s: expected a string",
			    it->index, name);
			return;
		}
		val = json_string_value(v);
		vlen = json_string_length(v);
		if (!http_field_value_valid(val, vlen)) {
			item_invalid(spec, it,
			    "requests[%u].headers.%.60s: header values may not "
			    "contain CR, LF or NUL",
			    it->index, name);
			return;
		}
		hs[n].name = arena_strdup(&spec->arena, name);
		hs[n].value = arena_strndup(&spec->arena, val, vlen);
		n++;
	}
	it->headers = hs;
	it->nheaders = (uint32_t)n;
}

static void
parse_item_body(struct batch_spec *spec, struct item_spec *it,
    const json_t *body, const json_t *b64)
{
	if (body != NULL && b64 != NULL) {
		item_invalid(spec, it,
		    "requests[%u]: body and body_base64 are exclusive",
		    it->index);
	} else if (body != NULL) {
		if (!json_is_string(body)) {
			item_invalid(spec, it,
			    "requests[%u].body: expected a string", it->index);
			return;
		}
		it->body_len = json_string_length(body);
		it->body = arena_memdup(
		    &spec->arena, json_string_value(body), it->body_len);
		it->has_body = true;
	} else if (b64 != NULL) {
		size_t n, outlen;
		unsigned char *out;

		if (!json_is_string(b64)) {
			item_invalid(spec, it,
			    "requests[%u].body_base64: expected a string",
			    it->index);
			return;
		}
		n = json_string_length(b64);
		out = arena_alloc(&spec->arena, BASE64_DECODED_MAX(n));
		if (base64_decode(json_string_value(b64), n, out, &outlen) !=
		    0) {
			item_invalid(spec, it,
			    "requests[%u].body_base64: invalid base64",
			    it->index);
			return;
		}
		it->body = out;
		it->body_len = outlen;
		it->has_body = true;
	}
}

static void
parse_item_url(struct batch_spec *spec, struct item_spec *it, const char *s,
    size_t len, const char *path)
{
	const char *why;

	it->url = arena_strndup(&spec->arena, s, len);
	if (url_parse(s, len, &spec->arena, &it->u, &why) != 0)
		item_invalid(
		    spec, it, "requests[%u]%s: %s", it->index, path, why);
}

/* An option the item sets for itself, on its own copy of the batch's
 * options (the same parser, the same caps). */
static void
parse_item_option(struct batch_spec *spec, struct item_spec *it,
    const char *key, const json_t *v, const struct config *cfg)
{
	struct batch_opts *o = (struct batch_opts *)it->opts;
	const char *why;

	if (o == NULL) {
		o = arena_alloc(&spec->arena, sizeof(*o));
		*o = spec->opts;
		it->opts = o;
	}
	if (opts_set_json(o, cfg, key, v, &why) != 0)
		item_invalid(
		    spec, it, "requests[%u].%s: %s", it->index, key, why);
}

static void
parse_item_object(struct batch_spec *spec, struct item_spec *it,
    const json_t *obj, const struct config *cfg)
{
	const json_t *url = json_object_get(obj, "url");
	const json_t *id = json_object_get(obj, "id");
	const char *key;
	json_t *v;
	int m;

	if (id != NULL) {
		if (json_is_string(id) || json_is_integer(id)) {
			char *s = json_dumps(id, JSON_ENCODE_ANY);

			it->id_json = arena_strdup(&spec->arena, s);
			free(s);
		} else {
			item_invalid(spec, it,
			    "requests[%u].id: expected a string or an integer",
			    it->index);
		}
	}
	if (url != NULL && json_is_string(url))
		parse_item_url(spec, it, json_string_value(url),
		    json_string_length(url), ".url");
	else if (url != NULL)
		item_invalid(
		    spec, it, "requests[%u].url: expected a string", it->index);
	else
		item_invalid(spec, it, "requests[%u].url: missing", it->index);
	json_object_foreach((json_t *)obj, key, v)
	{
		if (strcmp(key, "url") == 0 || strcmp(key, "id") == 0 ||
		    strcmp(key, "body") == 0 || strcmp(key, "body_base64") == 0)
			continue;
		if (strcmp(key, "method") == 0) {
			if (!json_is_string(v) ||
			    (m = http_method_parse(json_string_value(v))) < 0)
				item_invalid(spec, it,
				    "requests[%u].method: expected one of GET, "
				    "HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
				    it->index);
			else
				it->method = (enum http_method)m;
		} else if (strcmp(key, "headers") == 0) {
			parse_item_headers(spec, it, v);
		} else if (opts_item_may_set(key)) {
			parse_item_option(spec, it, key, v, cfg);
		} else if (strcmp(key, "retry_unsafe") == 0) {
			if (!json_is_boolean(v))
				item_invalid(spec, it,
				    "requests[%u].retry_unsafe: expected true "
				    "or "
				    "false",
				    it->index);
			else
				it->retry_unsafe = json_is_true(v);
		} else {
			item_invalid(spec, it,
			    "requests[%u].%.60s: unknown key", it->index, key);
		}
	}
	parse_item_body(spec, it, json_object_get(obj, "body"),
	    json_object_get(obj, "body_base64"));
}

/* One item of the requests array (or of a job's leased page). */
static void
parse_item_json(struct batch_spec *spec, struct item_spec *it, uint32_t index,
    const json_t *v, const struct config *cfg)
{
	it->index = index;
	it->method = HM_GET;
	if (json_is_string(v))
		parse_item_url(
		    spec, it, json_string_value(v), json_string_length(v), "");
	else if (json_is_object(v))
		parse_item_object(spec, it, v, cfg);
	else
		item_invalid(spec, it,
		    "requests[%u]: expected a URL string or an object",
		    it->index);
}

/* Too many items for a batch ([server] max_items) or a job ([jobs]). */
static int
parse_count(struct batch_spec *spec, size_t n, const struct config *cfg,
    struct parse_error *err)
{
	uint64_t max = spec->job ? cfg->jobs_max_items : cfg->max_items;

	if (n > max)
		return perr(err, RERR_TOO_LARGE,
		    "requests: %zu items exceed the limit of %llu ([%s] "
		    "max_items)",
		    n, (unsigned long long)max, spec->job ? "jobs" : "server");
	spec->items = arena_alloc(&spec->arena, n * sizeof(*spec->items) + 1);
	memset(spec->items, 0, n * sizeof(*spec->items));
	spec->nitems = (uint32_t)n;
	if (spec->job) {
		spec->item_json =
		    arena_alloc(&spec->arena, n * sizeof(*spec->item_json) + 1);
		spec->item_json_len = arena_alloc(
		    &spec->arena, n * sizeof(*spec->item_json_len) + 1);
	}
	return 0;
}

/* A job keeps each item's text for the store. */
static void
keep_item_json(struct batch_spec *spec, uint32_t i, const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

	spec->item_json_len[i] = s ? strlen(s) : 4;
	spec->item_json[i] =
	    arena_strndup(&spec->arena, s ? s : "null", spec->item_json_len[i]);
	free(s);
}

/* A job keeps a listed URL as a JSON string. */
static void
keep_url_json(struct batch_spec *spec, uint32_t i, const char *s, size_t n)
{
	struct buf b = BUF_INIT;

	emit_json_string(&b, s, n);
	spec->item_json_len[i] = b.len;
	spec->item_json[i] = arena_strndup(&spec->arena, b.data, b.len);
	buf_free(&b);
}

/* A stored item that is a plain URL string ("..." with no escapes):
 * its URL without a JSON parse (most of a big job's items). */
static bool
plain_url(const char *json, size_t len, const char **url, size_t *n)
{
	if (len < 2 || json[0] != '"' || json[len - 1] != '"' ||
	    memchr(json + 1, '\\', len - 2) != NULL ||
	    memchr(json + 1, '"', len - 2) != NULL)
		return false;
	*url = json + 1;
	*n = len - 2;
	return true;
}

static int
parse_items_json(struct batch_spec *spec, const json_t *reqs,
    const struct config *cfg, struct parse_error *err)
{
	size_t n = json_array_size(reqs), i;

	if (parse_count(spec, n, cfg, err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		const json_t *v = json_array_get(reqs, i);

		parse_item_json(spec, &spec->items[i], (uint32_t)i, v, cfg);
		if (spec->job)
			keep_item_json(spec, (uint32_t)i, v);
	}
	return 0;
}

static int
parse_json(struct batch_spec *spec, const char *body, size_t len,
    const struct config *cfg, struct parse_error *err)
{
	json_error_t je;
	/* A key given twice would silently mean its last value: refuse. */
	json_t *root = json_loadb(body, len,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
	const json_t *reqs = NULL, *opts = NULL;
	const char *key, *why;
	json_t *v;
	int rc = -1;

	if (root == NULL)
		return perr(err, RERR_BAD_REQUEST,
		    "body is not valid JSON: %s (line %d, column %d)", je.text,
		    je.line, je.column);
	if (json_is_array(root)) {
		reqs = root;
	} else if (json_is_object(root)) {
		json_object_foreach(root, key, v)
		{
			if (strcmp(key, "requests") == 0)
				reqs = v;
			else if (strcmp(key, "options") == 0)
				opts = v;
			else if (strcmp(key, "job") == 0 && spec->job) {
				char *js = json_dumps(
				    v, JSON_COMPACT | JSON_ENCODE_ANY);

				spec->job_json = arena_strdup(
				    &spec->arena, js ? js : "null");
				free(js);
			} else {
				perr(err, RERR_BAD_REQUEST,
				    "%.100s: unknown key", key);
				goto out;
			}
		}
		if (reqs == NULL) {
			perr(err, RERR_BAD_REQUEST, "requests: missing");
			goto out;
		}
		if (!json_is_array(reqs)) {
			perr(err, RERR_BAD_REQUEST,
			    "requests: expected an array");
			goto out;
		}
	} else {
		perr(err, RERR_BAD_REQUEST,
		    "body: expected an object with \"requests\" or an array "
		    "of requests");
		goto out;
	}
	if (opts != NULL && !json_is_object(opts)) {
		perr(err, RERR_BAD_REQUEST, "options: expected an object");
		goto out;
	}
	if (opts != NULL) {
		json_object_foreach((json_t *)opts, key, v)
		{
			if (opts_set_json(&spec->opts, cfg, key, v, &why) !=
			    0) {
				perr(err, RERR_BAD_REQUEST,
				    "options.%.100s: %s", key, why);
				goto out;
			}
		}
	}
	rc = parse_items_json(spec, reqs, cfg, err);
out:
	json_decref(root);
	return rc;
}

static int
parse_text(struct batch_spec *spec, const char *body, size_t len,
    const struct config *cfg, struct parse_error *err)
{
	const char *p = body, *end = body + len, *s;
	size_t n = 0, sl;
	uint32_t i;

	while (next_text_line(&p, end, &s, &sl)) {
		/* A job stores its items as JSON text, which cannot hold
		 * bytes that are not UTF-8: refuse rather than change one. */
		if (spec->job && !emit_is_utf8((const unsigned char *)s, sl))
			return perr(err, RERR_BAD_REQUEST,
			    "requests[%zu]: not valid UTF-8 (a job keeps its "
			    "items as JSON text)",
			    n);
		n++;
	}
	if (parse_count(spec, n, cfg, err) != 0)
		return -1;
	for (p = body, i = 0; next_text_line(&p, end, &s, &sl); i++) {
		spec->items[i].index = i;
		spec->items[i].method = HM_GET;
		parse_item_url(spec, &spec->items[i], s, sl, "");
		if (spec->job)
			keep_url_json(spec, i, s, sl);
	}
	return 0;
}

int
batch_check_json_items(const struct batch_spec *spec, uint64_t n,
    const struct config *cfg, struct parse_error *err)
{
	if (spec->format == OUT_JSON && n > cfg->max_json_items)
		return perr(err, RERR_TOO_LARGE,
		    "format json is limited to %llu items ([server] "
		    "max_json_items); use NDJSON (the default, or "
		    "?format=ndjson) for larger batches",
		    (unsigned long long)cfg->max_json_items);
	return 0;
}

void
batch_parse_item(struct batch_spec *spec, struct item_spec *it, uint32_t index,
    const json_t *v, const struct config *cfg)
{
	parse_item_json(spec, it, index, v, cfg);
}

int
batch_parse_head(struct batch_spec *spec, bool job, const char **body,
    size_t *len, const char *content_type, const char *query,
    const char *accept, const struct config *cfg, struct parse_error *err,
    bool *json)
{
	enum input_kind kind = INPUT_JSON;
	bool acceptable;

	memset(spec, 0, sizeof(*spec));
	memset(err, 0, sizeof(*err));
	spec->job = job;
	if (*body == NULL)
		*body = "";
	/* An editor's UTF-8 byte-order mark is no part of the batch (RFC
	 * 8259 §8.1 lets a parser skip it). */
	if (*len >= 3 && memcmp(*body, "\xef\xbb\xbf", 3) == 0) {
		*body += 3;
		*len -= 3;
	}
	opts_defaults(&spec->opts, cfg);
	acceptable = accept_format(accept, &spec->format) == 0;
	if (query != NULL && parse_query(spec, query, cfg, err) != 0)
		return -1;
	if (!acceptable && !spec->format_set)
		return perr(err, RERR_NOT_ACCEPTABLE,
		    "Accept: %.60s: fanoutd answers in application/x-ndjson, "
		    "application/json or text/event-stream (or ?format=)",
		    accept);
	if (input_kind(content_type, *body, *len, &kind, err) != 0)
		return -1;
	*json = kind == INPUT_JSON;
	return 0;
}

static int
parse_any(struct batch_spec *spec, bool job, const char *body, size_t len,
    const char *content_type, const char *query, const char *accept,
    const struct config *cfg, struct parse_error *err)
{
	bool json;
	int rc;

	if (batch_parse_head(spec, job, &body, &len, content_type, query,
	        accept, cfg, err, &json) != 0)
		goto fail;
	rc = json ? parse_json(spec, body, len, cfg, err)
	          : parse_text(spec, body, len, cfg, err);
	if (rc != 0)
		goto fail;
	if (batch_check_json_items(spec, spec->nitems, cfg, err) != 0)
		goto fail;
	return 0;
fail:
	arena_free(&spec->arena);
	memset(spec, 0, sizeof(*spec));
	return -1;
}

int
batch_parse(struct batch_spec *spec, const char *body, size_t len,
    const char *content_type, const char *query, const char *accept,
    const struct config *cfg, struct parse_error *err)
{
	return parse_any(
	    spec, false, body, len, content_type, query, accept, cfg, err);
}

int
batch_parse_job(struct batch_spec *spec, const char *body, size_t len,
    const char *content_type, const char *query, const char *accept,
    const struct config *cfg, struct parse_error *err)
{
	return parse_any(
	    spec, true, body, len, content_type, query, accept, cfg, err);
}

void
batch_parse_leased(struct batch_spec *spec, const struct batch_opts *o,
    const char *const *json, const size_t *len, const uint32_t *index,
    uint32_t n, const struct config *cfg)
{
	uint32_t i;

	memset(spec, 0, sizeof(*spec));
	spec->opts = *o;
	spec->items = arena_alloc(&spec->arena, n * sizeof(*spec->items) + 1);
	memset(spec->items, 0, n * sizeof(*spec->items));
	spec->nitems = n;
	for (i = 0; i < n; i++) {
		const char *url;
		size_t ulen;
		json_t *v;

		if (plain_url(json[i], len[i], &url, &ulen)) {
			spec->items[i].index = index[i];
			spec->items[i].method = HM_GET;
			parse_item_url(spec, &spec->items[i], url, ulen, "");
			continue;
		}
		v = json_loadb(
		    json[i], len[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (v == NULL) {
			spec->items[i].index = index[i];
			item_invalid(spec, &spec->items[i],
			    "requests[%u]: the stored item is not JSON",
			    index[i]);
			continue;
		}
		parse_item_json(spec, &spec->items[i], index[i], v, cfg);
		json_decref(v);
	}
}

void
batch_spec_free(struct batch_spec *spec)
{
	arena_free(&spec->arena);
	memset(spec, 0, sizeof(*spec));
}
