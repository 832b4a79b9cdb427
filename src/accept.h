/*
 * accept.h - content negotiation of a response format (RFC 9110
 * §12.5.1) among NDJSON, JSON and SSE, for batches and job results.
 * Pure.
 */
#ifndef FANOUTD_ACCEPT_H
#define FANOUTD_ACCEPT_H

#include "emit.h"

/*
 * The format an Accept field value (every field line joined) asks for:
 * the one of highest weight, NDJSON first on a tie; NDJSON when accept
 * is NULL or has no well-formed range. 0, or -1 when every format
 * weighs 0 (a 406).
 */
int accept_format(const char *accept, enum out_format *f);

/* A `format` query parameter's value: "ndjson", "json" or "sse" -> *f;
 * -1 (and *f unchanged) for anything else. */
int accept_format_name(const char *name, enum out_format *f);

#endif
