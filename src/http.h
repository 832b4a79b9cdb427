/*
 * http.h - the HTTP vocabulary every layer shares (RFC 9110): request
 * methods with their properties, and the rules for request header fields
 * an item may carry. Pure: no I/O, no libevent, no JSON - the parser,
 * the engine, fetch and redirect all speak it without depending on one
 * another.
 */
#ifndef FANOUTD_HTTP_H
#define FANOUTD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* The methods an item may use. */
enum http_method {
	HM_GET = 0,
	HM_HEAD,
	HM_POST,
	HM_PUT,
	HM_PATCH,
	HM_DELETE,
	HM_OPTIONS,
	HM__COUNT
};

/* "GET" -> HM_GET, ... (exact, upper-case, RFC 9110 §9.1: methods are
 * case-sensitive); -1 when unknown. */
int http_method_parse(const char *s);

/*
 * Idempotent (RFC 9110 §9.2.2): sending the request twice has the effect
 * of sending it once - every method here but POST and PATCH. Only these
 * are retried once the request may have reached the upstream, whether by
 * a batch's retry_on or on a stale pooled connection.
 */
bool http_method_idempotent(enum http_method m);

/* Methods whose requests are defined to carry content (POST, PUT,
 * PATCH): they get a Content-Length even when it is 0 (RFC 9110 §8.6). */
bool http_method_has_content(enum http_method m);

/* One request header field, as an item gives it. */
struct http_header {
	const char *name;
	const char *value;
};

/* A field name is a token (RFC 9110 §5.1, §5.6.2): one or more tchars. */
bool http_field_name_valid(const char *name);

/* A field value an item may send: no CR, LF or NUL (RFC 9110 §5.5), so
 * it can never split the request. */
bool http_field_value_valid(const char *value, size_t len);

/* Fields fanoutd writes itself, which an item may not set: framing and
 * connection management (Content-Length, Transfer-Encoding, Connection,
 * Keep-Alive, Upgrade, TE, Trailer, Expect, Proxy-Connection). */
bool http_field_managed(const char *name);

#endif
