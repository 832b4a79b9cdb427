/*
 * reqbody.h - a request body's Content-Encoding (RFC 9110 §8.4) undone
 * before the batch is parsed, by the list rules of body.h: gzip (or
 * x-gzip, every member) and deflate (zlib, or raw as some clients send
 * it), stacked ones undone in turn, are decoded with body.h's sink,
 * bounded on the decoded size by [server] max_request_bytes, so a
 * compressed bomb stops there with 413; identity is nothing to undo;
 * any other coding is refused with 415 naming it, never passed on as
 * if it were plain (RFC 9110 §15.5.16). Pure: no I/O.
 */
#ifndef FANOUTD_REQBODY_H
#define FANOUTD_REQBODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "buf.h"
#include "err.h"

/* What a 415 for a content coding advertises (RFC 9110 §12.5.3). */
#define REQBODY_ACCEPT_ENCODING "gzip, deflate"

/*
 * Undo the Content-Encoding ce (NULL when absent; all field lines
 * joined with ", ") of body. Returns RERR__COUNT, with the decoded
 * bytes in out and *decoded set, or with *decoded false when there was
 * nothing to undo (body is then the request's bytes as they are);
 * otherwise the error (400, 413, 415) with a message in msg.
 */
enum req_err reqbody_decode(const char *ce, struct evbuffer *body, uint64_t max,
    struct buf *out, bool *decoded, char *msg, size_t msglen);

#endif
