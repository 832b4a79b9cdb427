/*
 * err.c - names and statuses of the closed error sets (see err.h).
 */
#include "err.h"
#include "util.h"

static const char *const item_err_names[IERR__COUNT] = {
    [IERR_NONE] = "none",
    [IERR_INVALID_REQUEST] = "invalid_request",
    [IERR_DENIED] = "denied",
    [IERR_DNS] = "dns",
    [IERR_CONNECT] = "connect",
    [IERR_TLS] = "tls",
    [IERR_TIMEOUT] = "timeout",
    [IERR_RESET] = "reset",
    [IERR_PROTOCOL] = "protocol",
    [IERR_TOO_MANY_REDIRECTS] = "too_many_redirects",
    [IERR_DEADLINE] = "deadline",
    [IERR_CANCELLED] = "cancelled",
    [IERR_INTERRUPTED] = "interrupted",
};

const char *
item_err_name(enum item_err e)
{
	if ((unsigned)e >= IERR__COUNT)
		return "unknown";
	return item_err_names[e];
}

/* Names, statuses and RFC 9110 §15 reason phrases. */
static const struct {
	const char *name;
	int status;
	const char *reason;
} req_errs[RERR__COUNT] = {
    [RERR_BAD_REQUEST] = {"bad_request", 400, "Bad Request"},
    [RERR_UNAUTHORIZED] = {"unauthorized", 401, "Unauthorized"},
    [RERR_NOT_FOUND] = {"not_found", 404, "Not Found"},
    [RERR_METHOD] = {"method_not_allowed", 405, "Method Not Allowed"},
    [RERR_NOT_ACCEPTABLE] = {"not_acceptable", 406, "Not Acceptable"},
    [RERR_TIMEOUT] = {"request_timeout", 408, "Request Timeout"},
    [RERR_TOO_LARGE] = {"too_large", 413, "Content Too Large"},
    [RERR_URI_TOO_LONG] = {"uri_too_long", 414, "URI Too Long"},
    [RERR_MEDIA_TYPE] = {"unsupported_media_type", 415,
        "Unsupported Media Type"},
    [RERR_EXPECTATION] = {"expectation_failed", 417, "Expectation Failed"},
    [RERR_HEADERS] = {"headers_too_large", 431,
        "Request Header Fields Too Large"},
    [RERR_BUSY] = {"too_many_batches", 429, "Too Many Requests"},
    [RERR_INTERNAL] = {"internal", 500, "Internal Server Error"},
    [RERR_NOT_IMPLEMENTED] = {"not_implemented", 501, "Not Implemented"},
    [RERR_DRAINING] = {"draining", 503, "Service Unavailable"},
    [RERR_VERSION] = {"http_version_not_supported", 505,
        "HTTP Version Not Supported"},
    [RERR_LOOP] = {"loop_detected", 508, "Loop Detected"},
    [RERR_CONFLICT] = {"conflict", 409, "Conflict"},
    [RERR_TOO_MANY_JOBS] = {"too_many_jobs", 429, "Too Many Requests"},
    [RERR_STORAGE] = {"insufficient_storage", 507, "Insufficient Storage"},
    [RERR_UNAVAILABLE] = {"unavailable", 503, "Service Unavailable"},
    [RERR_FORBIDDEN] = {"forbidden", 403, "Forbidden"},
};

const char *
req_err_name(enum req_err e)
{
	if ((unsigned)e >= RERR__COUNT)
		return "internal";
	return req_errs[e].name;
}

int
req_err_status(enum req_err e)
{
	if ((unsigned)e >= RERR__COUNT)
		return 500;
	return req_errs[e].status;
}

const char *
req_err_reason(enum req_err e)
{
	if ((unsigned)e >= RERR__COUNT)
		return "Internal Server Error";
	return req_errs[e].reason;
}
