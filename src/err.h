/*
 * err.h - the two closed sets of errors fanoutd reports.
 *
 * enum item_err is an item's `error.type` (DESIGN.md §1): what stopped an
 * item from getting a response. emit, metrics and the tests all use this
 * one table of names.
 *
 * enum req_err is a whole-request error: the batch as a whole was refused
 * before any streaming, with an HTTP status and a JSON body.
 */
#ifndef FANOUTD_ERR_H
#define FANOUTD_ERR_H

enum item_err {
	IERR_NONE = 0,        /* a response arrived (any status) */
	IERR_INVALID_REQUEST, /* the item itself is malformed */
	IERR_DENIED,          /* the egress policy refused the address */
	IERR_DNS,             /* the name did not resolve */
	IERR_CONNECT,         /* TCP connection refused or unreachable */
	IERR_TLS,             /* TLS handshake or verification failed */
	IERR_TIMEOUT,         /* connect or attempt timeout */
	IERR_RESET,           /* closed before a complete response */
	IERR_PROTOCOL,        /* malformed upstream response */
	IERR_TOO_MANY_REDIRECTS,
	IERR_DEADLINE,    /* the batch deadline passed first */
	IERR_CANCELLED,   /* shutdown or cancel */
	IERR_INTERRUPTED, /* a job's unsafe item may have been sent when
	                     fanoutd stopped: not sent again (issue #16) */
	IERR__COUNT
};

/* "timeout", "dns", ...: the wire name of an item error. */
const char *item_err_name(enum item_err e);

enum req_err {
	RERR_BAD_REQUEST = 0, /* 400: not JSON, wrong shape */
	RERR_UNAUTHORIZED,    /* 401 */
	RERR_NOT_FOUND,       /* 404 */
	RERR_METHOD,          /* 405, with Allow */
	RERR_NOT_ACCEPTABLE,  /* 406: no format the caller accepts */
	RERR_TIMEOUT,         /* 408: request not read in time */
	RERR_TOO_LARGE,       /* 413: body or item count over the cap */
	RERR_URI_TOO_LONG,    /* 414 */
	RERR_MEDIA_TYPE,      /* 415 */
	RERR_EXPECTATION,     /* 417: an Expect other than 100-continue */
	RERR_HEADERS,         /* 431: too many or too large headers */
	RERR_BUSY,            /* 429, with Retry-After */
	RERR_INTERNAL,        /* 500 */
	RERR_NOT_IMPLEMENTED, /* 501: a method or transfer coding */
	RERR_DRAINING,        /* 503, with Retry-After */
	RERR_VERSION,         /* 505: not HTTP/1.x */
	RERR_LOOP,            /* 508: hop limit exceeded */
	RERR_CONFLICT,        /* 409: not in the job's state */
	RERR_TOO_MANY_JOBS,   /* 429: [jobs] max_active, with Retry-After */
	RERR_STORAGE,         /* 507: the job store is full or failing */
	RERR_UNAVAILABLE,     /* 503: the job store could not be opened */
	RERR_FORBIDDEN,       /* 403: another site's page sent it */
	RERR__COUNT
};

const char *req_err_name(enum req_err e);
int req_err_status(enum req_err e);
/* "Bad Request", ...: the status line's reason phrase. */
const char *req_err_reason(enum req_err e);

#endif
