/*
 * emit.c - results and summaries as JSON, written by hand into a struct
 * buf (see emit.h). This is the per-item hot path, so strings are escaped
 * in runs: a run of bytes that need no escape is copied with one
 * buf_add. Invalid UTF-8 in headers becomes U+FFFD so the output is
 * always valid UTF-8; a body that is not valid UTF-8 goes out as base64.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"
#include "emit.h"
#include "util.h"

static const char hexdigits[] = "0123456789abcdef";

/*
 * Length of the valid UTF-8 sequence starting at s[0] (n bytes
 * available): 1-4, or 0 when the bytes there are not valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF included).
 */
static size_t
utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
		return n >= 3 && s[1] >= lo && s[1] <= hi &&
		        (s[2] & 0xc0) == 0x80
		    ? 3
		    : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned char lo = 0x80, hi = 0xbf;

		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
		return n >= 4 && s[1] >= lo && s[1] <= hi &&
		        (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		    ? 4
		    : 0;
	}
	return 0;
}

bool
emit_is_utf8(const unsigned char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		/* Eight ASCII bytes at a time. */
		if (i + 8 <= len) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if ((w & 0x8080808080808080ull) == 0) {
				i += 8;
				continue;
			}
		}
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq_len(s + i, len - i)) == 0)
			return false;
		i += k;
	}
	return true;
}

/* Escape len bytes as the inside of a JSON string; lower-case ASCII
 * letters when lower is set (header names). */
static void
json_escape(struct buf *out, const unsigned char *s, size_t len, bool lower)
{
	size_t i = 0, run = 0, k;

	buf_reserve(out, len + 2);
	while (i < len) {
		unsigned char c = s[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' &&
		    !(lower && c >= 'A' && c <= 'Z')) {
			i++;
			continue;
		}
		if (c >= 0x80 && (k = utf8_seq_len(s + i, len - i)) > 0) {
			i += k;
			continue;
		}
		buf_add(out, s + run, i - run);
		if (lower && c >= 'A' && c <= 'Z') {
			buf_addc(out, (char)(c + 32));
		} else if (c >= 0x80) {
			buf_add(out, "\xef\xbf\xbd", 3);
		} else {
			switch (c) {
			case '"':
				buf_add(out, "\\\"", 2);
				break;
			case '\\':
				buf_add(out, "\\\\", 2);
				break;
			case '\n':
				buf_add(out, "\\n", 2);
				break;
			case '\r':
				buf_add(out, "\\r", 2);
				break;
			case '\t':
				buf_add(out, "\\t", 2);
				break;
			case '\b':
				buf_add(out, "\\b", 2);
				break;
			case '\f':
				buf_add(out, "\\f", 2);
				break;
			default: {
				char u[6] = {'\\', 'u', '0', '0',
				    hexdigits[c >> 4], hexdigits[c & 15]};

				buf_add(out, u, 6);
				break;
			}
			}
		}
		i++;
		run = i;
	}
	buf_add(out, s + run, i - run);
}

void
emit_json_string(struct buf *out, const char *s, size_t len)
{
	buf_addc(out, '"');
	json_escape(out, (const unsigned char *)s, len, false);
	buf_addc(out, '"');
}

static void
emit_key(struct buf *out, const char *key)
{
	buf_addc(out, ',');
	buf_addc(out, '"');
	buf_adds(out, key);
	buf_add(out, "\":", 2);
}

/* A millisecond figure with one decimal, exactly as "%.1f" writes it,
 * without printf's cost per result: by hand unless v sits near a tie,
 * where only printf's exact decimal rounding decides. */
static void
emit_double(struct buf *out, double v)
{
	double t, frac;
	uint64_t tenths;

	if (!isfinite(v) || v < 0)
		v = 0;
	t = v * 10;
	frac = t - floor(t);
	if (v >= 1e12 || fabs(frac - 0.5) < 1e-6) {
		buf_printf(out, "%.1f", v);
		return;
	}
	tenths = (uint64_t)(t + 0.5);
	buf_addu(out, tenths / 10);
	buf_addc(out, '.');
	buf_addc(out, (char)('0' + tenths % 10));
}

static void
emit_bool(struct buf *out, bool v)
{
	if (v)
		buf_add(out, "true", 4);
	else
		buf_add(out, "false", 5);
}

/* "headers":{...}: names lower-cased, repeated names joined in order. */
static void
emit_headers(struct buf *out, const struct emit_header *h, size_t n)
{
	size_t i, j;
	bool first = true;

	buf_addc(out, '{');
	for (i = 0; i < n; i++) {
		const char *sep;
		bool seen = false, more = false;

		for (j = 0; j < i && !seen; j++)
			seen = strcasecmp(h[j].name, h[i].name) == 0;
		if (seen)
			continue;
		if (!first)
			buf_addc(out, ',');
		first = false;
		buf_addc(out, '"');
		json_escape(out, (const unsigned char *)h[i].name,
		    strlen(h[i].name), true);
		buf_add(out, "\":\"", 3);
		sep = strcasecmp(h[i].name, "set-cookie") == 0 ? "\n" : ", ";
		for (j = i; j < n; j++) {
			if (j != i && strcasecmp(h[j].name, h[i].name) != 0)
				continue;
			if (more)
				json_escape(out, (const unsigned char *)sep,
				    strlen(sep), false);
			json_escape(out, (const unsigned char *)h[j].value,
			    strlen(h[j].value), false);
			more = true;
		}
		buf_addc(out, '"');
	}
	buf_addc(out, '}');
}

/* "body_url": where a stored body is read (its prefix, index, /body). */
static void
emit_body_url(struct buf *out, const struct result_view *r)
{
	emit_key(out, "body_url");
	buf_add(out, "\"", 1);
	buf_adds(out, r->body_url_prefix); /* ASCII: a path of ours */
	buf_addu(out, r->index);           /* not printf: once per line */
	buf_add(out, "/body\"", 6);
}

static void
emit_body(struct buf *out, const struct result_view *r)
{
	emit_key(out, "body");
	if (emit_is_utf8(r->body, r->body_len)) {
		emit_json_string(out, (const char *)r->body, r->body_len);
		emit_key(out, "body_encoding");
		buf_add(out, "\"utf8\"", 6);
		return;
	}
	buf_reserve(out, BASE64_ENCODED_LEN(r->body_len) + 2);
	out->data[out->len++] = '"';
	out->len += base64_encode(r->body, r->body_len, out->data + out->len);
	out->data[out->len++] = '"';
	out->data[out->len] = '\0';
	emit_key(out, "body_encoding");
	buf_add(out, "\"base64\"", 8);
}

static void
emit_timings(struct buf *out, const struct result_view *r)
{
	const struct {
		const char *name;
		double v;
	} t[] = {
	    {"queued", r->queued_ms}, {"dns", r->dns_ms}, {"ttfb", r->ttfb_ms}};
	bool first = true;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		if (!(t[i].v >= 0))
			continue;
		if (first) {
			emit_key(out, "timings");
			buf_addc(out, '{');
		} else {
			buf_addc(out, ',');
		}
		first = false;
		buf_addc(out, '"');
		buf_adds(out, t[i].name);
		buf_add(out, "\":", 2);
		emit_double(out, t[i].v);
	}
	if (!first)
		buf_addc(out, '}');
}

void
emit_result(struct buf *out, const struct result_view *r)
{
	bool response = r->error == IERR_NONE;

	buf_add(out, "{\"index\":", 9);
	buf_addu(out, r->index);
	if (r->id_json != NULL) {
		emit_key(out, "id");
		buf_adds(out, r->id_json);
	}
	if (r->url != NULL) {
		emit_key(out, "url");
		emit_json_string(out, r->url, strlen(r->url));
	}
	emit_key(out, "ok");
	emit_bool(out, response && r->status < 400);
	if (response) {
		emit_key(out, "status");
		buf_addu(out, (uint64_t)(r->status > 0 ? r->status : 0));
		if (r->with_headers) {
			emit_key(out, "headers");
			emit_headers(out, r->headers, r->nheaders);
		}
		if (r->with_body)
			emit_body(out, r);
		emit_key(out, "body_bytes");
		buf_addu(out, r->body_len);
		emit_key(out, "truncated");
		emit_bool(out, r->truncated);
		if (r->content_encoding != NULL) {
			emit_key(out, "content_encoding");
			emit_json_string(out, r->content_encoding,
			    strlen(r->content_encoding));
		}
		if (r->body_url_prefix != NULL)
			emit_body_url(out, r);
		if (r->final_url != NULL) {
			emit_key(out, "final_url");
			emit_json_string(
			    out, r->final_url, strlen(r->final_url));
			emit_key(out, "redirects");
			buf_addu(out, r->redirects);
		}
	} else {
		const char *msg = r->message ? r->message : "";

		buf_adds(out, ",\"error\":{\"type\":\"");
		buf_adds(out, item_err_name(r->error));
		buf_add(out, "\",\"message\":", 12);
		emit_json_string(out, msg, strlen(msg));
		buf_addc(out, '}');
	}
	if (r->extract_at != NULL) {
		*r->extract_at = out->len;
	} else if (r->extract != NULL) {
		buf_addc(out, ',');
		buf_add(out, r->extract, r->extract_len);
	}
	emit_key(out, "attempts");
	buf_addu(out, r->attempts);
	emit_key(out, "elapsed_ms");
	emit_double(out, r->elapsed_ms);
	emit_timings(out, r);
	buf_addc(out, '}');
}

void
emit_summary(struct buf *out, const struct summary_view *s)
{
	buf_printf(out,
	    "{\"total\":%u,\"ok\":%u,\"failed\":%u,\"retries\":%llu,"
	    "\"elapsed_ms\":",
	    s->total, s->ok, s->failed, (unsigned long long)s->retries);
	emit_double(out, s->elapsed_ms);
	emit_key(out, "effective");
	buf_adds(out, s->effective_json ? s->effective_json : "{}");
	buf_addc(out, '}');
}

void
emit_frame_result(
    struct buf *out, enum out_format f, const struct result_view *r)
{
	if (f == OUT_SSE)
		buf_add(out, "event: result\ndata: ", 20);
	emit_result(out, r);
	buf_add(out, f == OUT_SSE ? "\n\n" : "\n", f == OUT_SSE ? 2 : 1);
}

void
emit_frame_summary(
    struct buf *out, enum out_format f, const struct summary_view *s)
{
	if (f == OUT_SSE) {
		buf_add(out, "event: summary\ndata: ", 21);
		emit_summary(out, s);
		buf_add(out, "\n\n", 2);
		return;
	}
	buf_adds(out, "{\"summary\":");
	emit_summary(out, s);
	buf_add(out, "}\n", 2);
}

void
emit_frame_progress(
    struct buf *out, enum out_format f, const struct progress_view *p)
{
	char inner[160];

	snprintf(inner, sizeof(inner),
	    "{\"done\":%u,\"total\":%u,\"in_flight\":%u,\"queued\":%llu}",
	    p->done, p->total, p->in_flight, (unsigned long long)p->queued);
	if (f == OUT_SSE)
		buf_printf(out, "event: progress\ndata: %s\n\n", inner);
	else
		buf_printf(out, "{\"progress\":%s}\n", inner);
}

void
emit_json_document(struct buf *out, const char *const *results,
    const size_t *lens, size_t n, const struct summary_view *s)
{
	size_t i;

	buf_adds(out, "{\"results\":[");
	for (i = 0; i < n; i++) {
		if (i > 0)
			buf_addc(out, ',');
		if (results[i] != NULL)
			buf_add(out, results[i], lens[i]);
		else
			buf_add(out, "null", 4);
	}
	buf_adds(out, "],\"summary\":");
	emit_summary(out, s);
	buf_add(out, "}\n", 2);
}

void
emit_error_body(struct buf *out, const char *type, const char *message)
{
	buf_adds(out, "{\"error\":{\"type\":");
	emit_json_string(out, type, strlen(type));
	buf_adds(out, ",\"message\":");
	emit_json_string(out, message, strlen(message));
	buf_add(out, "}}\n", 3);
}
