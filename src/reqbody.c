/*
 * reqbody.c - a request body's Content-Encoding undone (see reqbody.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "body.h"
#include "reqbody.h"

/* The one coding to undo in ce's list; NULL for none (identity). */
static enum req_err
reqbody_coding(
    const char *ce, char *coding, size_t clen, char *msg, size_t msglen)
{
	const char *p = ce;
	unsigned n = 0;

	coding[0] = '\0';
	while (ce != NULL && *p != '\0') {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == 0)
			continue;
		if (!(len == 8 && strncasecmp(p, "identity", 8) == 0)) {
			if (n++ > 0) {
				snprintf(msg, msglen,
				    "Content-Encoding \"%.60s\": fanoutd "
				    "decodes one content coding, not several",
				    ce);
				return RERR_MEDIA_TYPE;
			}
			snprintf(coding, clen, "%.*s", (int)len, p);
		}
		p += len;
	}
	if (coding[0] != '\0' && strcasecmp(coding, "gzip") != 0 &&
	    strcasecmp(coding, "x-gzip") != 0 &&
	    strcasecmp(coding, "deflate") != 0) {
		snprintf(msg, msglen,
		    "Content-Encoding %.40s is not supported; send the body "
		    "as is, or as " REQBODY_ACCEPT_ENCODING,
		    coding);
		return RERR_MEDIA_TYPE;
	}
	return RERR__COUNT;
}

enum req_err
reqbody_decode(const char *ce, struct evbuffer *body, uint64_t max,
    struct buf *out, bool *decoded, char *msg, size_t msglen)
{
	size_t len = evbuffer_get_length(body);
	enum req_err e = RERR__COUNT;
	enum body_status st;
	char coding[48];
	struct body b;

	*decoded = false;
	if ((e = reqbody_coding(ce, coding, sizeof(coding), msg, msglen)) !=
	        RERR__COUNT ||
	    coding[0] == '\0')
		return e;
	body_init(&b, max, true);
	body_decode(&b, coding);
	st = body_take(&b, body);
	if (st == BODY_FULL) {
		snprintf(msg, msglen,
		    "the request body decodes to more than %llu bytes "
		    "([server] max_request_bytes)",
		    (unsigned long long)max);
		e = RERR_TOO_LARGE;
	} else if (st == BODY_BAD) {
		snprintf(msg, msglen, "the %s request body is corrupt", coding);
		e = RERR_BAD_REQUEST;
	} else if (!b.z_ended) {
		snprintf(
		    msg, msglen, "the %s request body is truncated", coding);
		e = RERR_BAD_REQUEST;
	} else if (((z_stream *)b.z)->total_in < len) {
		/* body_take drops what follows the stream's end: refuse
		 * rather than lose part of the batch silently. */
		snprintf(msg, msglen,
		    "%llu bytes follow the end of the %s request body",
		    (unsigned long long)(len - ((z_stream *)b.z)->total_in),
		    coding);
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
