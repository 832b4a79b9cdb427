/*
 * batch_parse.h - a POST /v1/batch request body into a struct batch_spec,
 * or a whole-request error (DESIGN.md §1). Pure: no I/O.
 *
 * Accepts the JSON object {"requests":[...],"options":{...}}, the bare
 * array shorthand, and text/plain URL lists (one per line, blank lines
 * and # comments ignored) with options in the query string. A body with
 * no Content-Type or curl's application/x-www-form-urlencoded is sniffed:
 * JSON when its first non-blank byte is { or [, else a URL list.
 *
 * A problem with the batch as a whole (not JSON, wrong shape, a bad
 * option, too many items) fails the parse with a status and a message
 * naming the path ("options.timeout_ms: expected a positive integer"). A
 * problem with one item never does: the item is kept with `invalid` set
 * to its message and becomes an invalid_request line.
 */
#ifndef FANOUTD_BATCH_PARSE_H
#define FANOUTD_BATCH_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "emit.h"
#include "err.h"
#include "http.h"
#include "options.h"
#include "url.h"

struct item_spec {
	uint32_t index;      /* position in the input */
	const char *url;     /* as given; NULL when the item had none */
	const char *id_json; /* "id" (a string or an integer) as JSON text */
	const char *invalid; /* NULL, or why the item is an invalid_request */
	enum http_method method;
	struct url u; /* parsed url; valid when invalid is NULL */
	const struct http_header *headers;
	uint32_t nheaders;
	const unsigned char *body; /* "body" or decoded "body_base64" */
	size_t body_len;
	bool has_body;
	/* The item's options: NULL, the batch's; else the batch's with the
	 * item's own values of the options it may set (timeout_ms,
	 * retries, ...: opts_item_may_set), from the arena. */
	const struct batch_opts *opts;
	bool retry_unsafe; /* retry POST/PATCH even when it may be sent */
};

struct batch_spec {
	struct item_spec *items; /* from arena */
	uint32_t nitems;
	struct batch_opts opts;
	enum out_format format;
	bool format_set;    /* by ?format=, which wins over Accept */
	struct arena arena; /* owns items and every string they point to */
	/* A job's request (batch_parse_job): the "job" object as JSON text
	 * (NULL: none), and each item as given, as JSON text (a URL string
	 * or an object), for the store. NULL for a batch. */
	bool job;
	const char *job_json;
	const char **item_json;
	size_t *item_json_len;
};

struct parse_error {
	/* RERR_BAD_REQUEST, RERR_TOO_LARGE, RERR_MEDIA_TYPE,
	 * RERR_NOT_ACCEPTABLE */
	enum req_err code;
	char message[256];
};

/*
 * Parse a batch. content_type, query and accept may be NULL. query is the
 * raw (still percent-encoded) query string: batch options plus `format`
 * (ndjson, json, sse), which wins over Accept. Accept (every field line
 * joined) is negotiated per RFC 9110 §12.5.1 among
 * application/x-ndjson, application/json and text/event-stream - the
 * highest weight wins, NDJSON on a tie or without Accept - and none of
 * them acceptable is a 406. A leading UTF-8 byte-order mark is
 * skipped. Returns 0 with *spec filled (free it with batch_spec_free),
 * or -1 with *err filled and nothing to free.
 */
int batch_parse(struct batch_spec *spec, const char *body, size_t len,
    const char *content_type, const char *query, const char *accept,
    const struct config *cfg, struct parse_error *err);

/*
 * The same for POST /v1/jobs: [jobs] max_items is the item limit, the
 * JSON object may hold a "job" object (returned as text, not checked
 * here), and each item's text is kept for the store (spec->item_json).
 */
int batch_parse_job(struct batch_spec *spec, const char *body, size_t len,
    const char *content_type, const char *query, const char *accept,
    const struct config *cfg, struct parse_error *err);

/*
 * A page of a job's items as leased from the store: item i is the JSON
 * text json[i] (as batch_parse_job kept it) with index index[i], under
 * the job's options o. Fills *spec (free it with batch_spec_free); a
 * text that is not a valid item becomes an invalid item, as in a batch.
 */
void batch_parse_leased(struct batch_spec *spec, const struct batch_opts *o,
    const char *const *json, const size_t *len, const uint32_t *index,
    uint32_t n, const struct config *cfg);

void batch_spec_free(struct batch_spec *spec);

/*
 * A job's items read from its request body one at a time, never all
 * parsed at once (batch_parse_job.c): for POST /v1/jobs, whose body may
 * hold a million items. The body must outlive it.
 */
struct job_items {
	const char *body; /* past a byte-order mark */
	size_t len;
	bool json;  /* else a URL list */
	uint32_t n; /* items */
	/* The walk's state. */
	const struct config *cfg;
	struct batch_opts opts; /* the job's */
	size_t start, pos;      /* JSON: the first item, the next one */
	const char *line;       /* a URL list: the next line */
	uint32_t next;          /* the next item's index */
	struct buf text;        /* the last item's text */
	bool has_requests, requests_bad, options_bad;
	struct parse_error key_err, options_err;
};

/* One item as the store keeps it: its JSON text (a URL string or the
 * object, compact), and its flags. */
struct job_item {
	const char *text;
	size_t len;
	bool unsafe;       /* a valid item whose method is not idempotent */
	bool retry_unsafe; /* it says retry_unsafe */
};

/*
 * POST /v1/jobs: the whole request checked as batch_parse_job checks
 * it - query, Accept, options, "job", every item, [jobs] max_items -
 * without keeping its items: *spec gets the options, format, job_json
 * and nitems (no items), *ji the means to read them. -1 with *err (the
 * same errors, in the same words for a body up to 1 MiB) and nothing to
 * free; else free both with batch_job_close and batch_spec_free.
 */
int batch_job_open(struct job_items *ji, struct batch_spec *spec,
    const char *body, size_t len, const char *content_type, const char *query,
    const struct config *cfg, struct parse_error *err);
/* The next item (index 0, 1, ... in turn); out->text is valid until
 * the next call. Pure: may run on another thread than batch_job_open's
 * while nothing else touches ji. */
void batch_job_next(struct job_items *ji, struct job_item *out);
void batch_job_close(struct job_items *ji);

#endif
