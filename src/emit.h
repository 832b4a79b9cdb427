/*
 * emit.h - results and summaries as JSON text, and the three framings of
 * the response stream (DESIGN.md §1): NDJSON (one object per line), SSE
 * (`event: result` / `event: summary` with a `data:` line) and the
 * buffered JSON document {"results":[...],"summary":{...}}.
 *
 * Pure: callers pass views over data they own (valid for the call), emit
 * appends text to a struct buf. Whatever bytes a body or header holds, the
 * output is valid JSON and valid UTF-8.
 */
#ifndef FANOUTD_EMIT_H
#define FANOUTD_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

enum out_format { OUT_NDJSON = 0, OUT_JSON, OUT_SSE };

struct emit_header {
	const char *name; /* as received; emitted lower-cased */
	const char *value;
};

/* Everything one result line says. Negative times are omitted. */
struct result_view {
	uint32_t index;
	const char *id_json; /* the item's "id", already JSON; NULL: omitted */
	const char *url;     /* as given; NULL: omitted */
	enum item_err error; /* IERR_NONE when a response arrived */
	const char *message; /* the error's sentence, when error is set */
	int status;          /* HTTP status, when error is IERR_NONE */
	bool with_headers;   /* "headers" option */
	const struct emit_header *headers; /* response headers, in order */
	size_t nheaders;
	bool with_body; /* "body": "auto" (true) or "none" (false) */
	const unsigned char *body;
	size_t body_len; /* bytes kept (at most max_body_bytes) */
	bool truncated;
	const char *content_encoding; /* codings left on the body, or NULL */
	/* NULL, or the body is stored (a job's): "body_url" is this,
	 * the index, then "/body". */
	const char *body_url_prefix;
	const char *final_url; /* NULL: omitted (no redirect followed) */
	/* The "extract" member(s) as JSON text, from extract_json (an
	 * "extract" option asked for them), placed before "attempts" on a
	 * response's line and an error's alike; NULL: omitted. */
	const char *extract;
	size_t extract_len;
	/* Not NULL: the "extract" is not known yet; the line is rendered
	 * without it and *extract_at says where ",<extract>" goes. */
	size_t *extract_at;
	unsigned redirects;
	unsigned attempts;
	double elapsed_ms;
	double queued_ms; /* timings: batch accepted -> first dispatch */
	double dns_ms;
	double ttfb_ms;
};

struct summary_view {
	uint32_t total;
	uint32_t ok;
	uint32_t failed;
	uint64_t retries;
	double elapsed_ms;
	const char *effective_json; /* an object, from opts_emit_effective */
};

/* A progress line: {"progress":{"done":..,"total":..,"in_flight":..,
 * "queued":..}} (queued counts items waiting for a retry, too). */
struct progress_view {
	uint32_t done;
	uint32_t total;
	uint32_t in_flight;
	uint64_t queued;
	uint32_t ok, failed; /* of done (not in the progress line) */
};

/*
 * One result as a JSON object (no framing, no newline):
 * {"index":0,"id":..,"url":..,"ok":true,"status":200,"headers":{..},
 *  "body":..,"body_encoding":"utf8"|"base64","body_bytes":N,
 *  "truncated":false,"attempts":1,"elapsed_ms":41.7,"timings":{..}}
 * ("content_encoding":"gzip, br" after "truncated" when the body was
 * kept with content codings on: one unknown, or decoding off; then
 * "body_url":"/v1/jobs/ID/items/N/body" when the body is stored),
 * or, on error, {"index":..,"url":..,"ok":false,"error":{"type":..,
 * "message":..},"attempts":..,"elapsed_ms":..}.
 * "ok" is true when a response arrived with status < 400. Repeated
 * headers are joined with ", " (Set-Cookie with "\n").
 */
void emit_result(struct buf *out, const struct result_view *r);

/* The summary's inner object: {"total":..,"ok":..,...,"effective":{..}}. */
void emit_summary(struct buf *out, const struct summary_view *s);

/* Framed for the stream: NDJSON line / SSE event. Not for OUT_JSON. */
void emit_frame_result(
    struct buf *out, enum out_format f, const struct result_view *r);
void emit_frame_summary(
    struct buf *out, enum out_format f, const struct summary_view *s);
/* NDJSON: {"progress":{...}}\n; SSE: event: progress, data {...}. */
void emit_frame_progress(
    struct buf *out, enum out_format f, const struct progress_view *p);

/*
 * The buffered JSON document from results already rendered with
 * emit_result, in input order: {"results":[r0,r1,...],"summary":{...}}\n
 */
void emit_json_document(struct buf *out, const char *const *results,
    const size_t *lens, size_t n, const struct summary_view *s);

/* A whole-request error body: {"error":{"type":..,"message":..}}\n */
void emit_error_body(struct buf *out, const char *type, const char *message);

/* A JSON string literal of the len bytes at s, quotes included; bytes
 * that are not valid UTF-8 become U+FFFD. */
void emit_json_string(struct buf *out, const char *s, size_t len);

/* True when the len bytes at s are valid UTF-8 (no overlongs, no
 * surrogates, nothing above U+10FFFF). */
bool emit_is_utf8(const unsigned char *s, size_t len);

#endif
