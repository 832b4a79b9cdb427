/*
 * options.h - the batch options of DESIGN.md §1: one table of name, type,
 * field, default (from the config) and cap (from the config), used by the
 * JSON parser ("options" object) and the query-string parser alike.
 *
 * A batch may lower a server cap, never raise it: a larger value is
 * clamped to the cap, and the summary's "effective" object reports what
 * was used.
 */
#ifndef FANOUTD_OPTIONS_H
#define FANOUTD_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "retry.h"

enum body_mode { BODY_AUTO = 0, BODY_NONE };

struct batch_opts {
	uint32_t concurrency;          /* in-flight attempts of this batch */
	uint32_t per_host_concurrency; /* ... per origin, within the batch */
	uint32_t connect_timeout_ms;
	uint32_t timeout_ms;     /* per attempt: dispatch to last body byte */
	uint32_t deadline_ms;    /* whole batch */
	uint64_t max_body_bytes; /* after decoding */
	double rate;             /* this batch's attempts/s; 0: unlimited */
	double burst;            /* 0: one second's worth */
	double per_host_rate;    /* per origin, within the batch; 0: none */
	uint32_t retries;        /* attempts after the first */
	uint32_t backoff_ms;
	uint32_t backoff_max_ms;
	struct retry_on retry_on;
	uint32_t follow_redirects; /* 0: return 3xx as they are */
	uint32_t progress_ms;      /* 0: no progress lines */
	enum body_mode body;       /* "auto": utf8 or base64; "none": omit */
	bool headers;              /* include response headers */
	bool decode;               /* gunzip / inflate bodies */
};

/* The server defaults, from cfg. */
void opts_defaults(struct batch_opts *o, const struct config *cfg);

/*
 * Set option `name` from a query-string value / a JSON value, clamped to
 * the server cap. Returns 0; or -1 with *why pointing to a static
 * sentence: "unknown option", "expected a positive integer",
 * "expected \"auto\" or \"none\"", "expected true or false", ...
 */
int opts_set_text(struct batch_opts *o, const struct config *cfg,
    const char *name, const char *value, const char **why);
int opts_set_json(struct batch_opts *o, const struct config *cfg,
    const char *name, const json_t *value, const char **why);

/* True when name is a batch option (for the query-string parser). */
bool opts_is_option(const char *name);

/* A per-item timeout_ms / retries clamped to the server cap. */
uint32_t opts_clamp_timeout(const struct config *cfg, uint64_t ms);
uint32_t opts_clamp_retries(const struct config *cfg, uint64_t n);

/* Append {"concurrency":50,...}: every option with its effective value. */
void opts_emit_effective(const struct batch_opts *o, struct buf *out);

#endif
