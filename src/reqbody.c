/*
 * reqbody.c - a request body's Content-Encoding undone (see reqbody.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "body.h"
#include "reqbody.h"

/* The codings of ce that are known (RFC 9110 §8.4): their number (0
 * for none or identity only), or -1 with a 415 message in msg. */
static int
reqbody_codings(const char *ce, char *msg, size_t msglen)
{
	enum body_coding codings[BODY_MAX_CODINGS];
	const char *bad;
	size_t badlen;
	int n;

	if (ce == NULL)
		return 0;
	n = body_coding_list(&ce, 1, codings, BODY_MAX_CODINGS, &bad, &badlen);
	if (n >= 0)
		return n;
	if (bad != NULL)
		snprintf(msg, msglen,
		    "Content-Encoding %.*s is not supported; send the body as "
		    "is, or as " REQBODY_ACCEPT_ENCODING,
		    (int)(badlen > 40 ? 40 : badlen), bad);
	else
		snprintf(msg, msglen,
		    "Content-Encoding \"%.60s\": more than %d codings", ce,
		    BODY_MAX_CODINGS);
	return -1;
}

enum req_err
reqbody_decode(const char *ce, struct evbuffer *body, uint64_t max,
    struct buf *out, bool *decoded, char *msg, size_t msglen)
{
	enum req_err e = RERR__COUNT;
	enum body_status st;
	struct body b;
	int n;

	*decoded = false;
	if ((n = reqbody_codings(ce, msg, msglen)) < 0)
		return RERR_MEDIA_TYPE;
	if (n == 0)
		return RERR__COUNT;
	body_init(&b, max, true);
	body_decode(&b, &ce, 1, true);
	st = body_take(&b, body);
	if (st == BODY_FULL) {
		snprintf(msg, msglen,
		    "the request body decodes to more than %llu bytes "
		    "([server] max_request_bytes)",
		    (unsigned long long)max);
		e = RERR_TOO_LARGE;
	} else if (st == BODY_BAD) {
		/* Bytes after a stream's end are corrupt too: never dropped
		 * silently with part of the batch in them. */
		snprintf(msg, msglen, "the %s request body is corrupt",
		    body_encoding(&b));
		e = RERR_BAD_REQUEST;
	} else if (body_unfinished(&b)) {
		snprintf(msg, msglen, "the %s request body is truncated",
		    body_encoding(&b));
		e = RERR_BAD_REQUEST;
	} else {
		buf_free(out);
		*out = b.data;
		b.data = (struct buf)BUF_INIT;
		*decoded = true;
	}
	body_free(&b);
	return e;
}
