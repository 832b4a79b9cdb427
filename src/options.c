/*
 * options.c - the one table of batch options (see options.h). Each row
 * names the option, its type, its field in struct batch_opts, and the
 * config fields holding its default and its cap. The JSON and the
 * query-string parsers both go through this table, so an option is
 * spelled, typed and clamped in exactly one place, and "effective" lists
 * the rows in table order.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "util.h"

enum opt_type {
	OT_COUNT,    /* uint32_t >= 1 */
	OT_COUNT0,   /* uint32_t >= 0 */
	OT_SIZE,     /* uint64_t >= 1 */
	OT_RATE,     /* double >= 0; 0 means unlimited */
	OT_BODY,     /* "auto" or "none" */
	OT_BOOL,     /* bool */
	OT_RETRY_ON, /* list of classes and statuses */
};

#define NONE   ((size_t)-1)
#define OPT(f) offsetof(struct batch_opts, f)
#define CFG(f) offsetof(struct config, f)

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t field; /* in struct batch_opts */
	size_t def;   /* in struct config (same type family), or NONE */
	size_t cap;   /* in struct config, or NONE */
};

static const struct opt_def opt_table[] = {
    {"concurrency", OT_COUNT, OPT(concurrency), CFG(batch_concurrency),
        CFG(concurrency)},
    {"per_host_concurrency", OT_COUNT, OPT(per_host_concurrency),
        CFG(per_host_concurrency), CFG(per_host_concurrency)},
    {"connect_timeout_ms", OT_COUNT, OPT(connect_timeout_ms),
        CFG(connect_timeout_ms), CFG(timeout_cap_ms)},
    {"timeout_ms", OT_COUNT, OPT(timeout_ms), CFG(timeout_ms),
        CFG(timeout_cap_ms)},
    {"deadline_ms", OT_COUNT, OPT(deadline_ms), CFG(deadline_ms),
        CFG(deadline_cap_ms)},
    {"max_body_bytes", OT_SIZE, OPT(max_body_bytes), CFG(max_body_bytes),
        CFG(max_body_bytes_cap)},
    {"rate", OT_RATE, OPT(rate), NONE, CFG(rate)},
    {"burst", OT_RATE, OPT(burst), NONE, NONE},
    {"per_host_rate", OT_RATE, OPT(per_host_rate), CFG(per_host_rate),
        CFG(per_host_rate)},
    {"retries", OT_COUNT0, OPT(retries), CFG(retries), CFG(retries_cap)},
    {"backoff_ms", OT_COUNT, OPT(backoff_ms), CFG(backoff_ms),
        CFG(backoff_cap_ms)},
    {"backoff_max_ms", OT_COUNT, OPT(backoff_max_ms), CFG(backoff_max_ms),
        CFG(backoff_cap_ms)},
    {"retry_on", OT_RETRY_ON, OPT(retry_on), CFG(retry_on), NONE},
    {"follow_redirects", OT_COUNT0, OPT(follow_redirects),
        CFG(follow_redirects), CFG(redirects_cap)},
    {"progress_ms", OT_COUNT0, OPT(progress_ms), NONE, NONE},
    {"body", OT_BODY, OPT(body), NONE, NONE},
    {"headers", OT_BOOL, OPT(headers), NONE, NONE},
    {"decode", OT_BOOL, OPT(decode), NONE, NONE},
};

#define NOPTS (ARRAY_SIZE(opt_table))

static const char *const why_int = "expected a positive integer";
static const char *const why_int0 = "expected an integer of 0 or more";
static const char *const why_rate = "expected a number from 0 to 1000000000";
static const char *const why_body = "expected \"auto\" or \"none\"";
static const char *const why_bool = "expected true or false";
static const char *const why_retry =
    "expected a list of connect, dns, timeout, reset or HTTP statuses";

#define FIELD(o, d, type) (*(type *)(void *)((char *)(o) + (d)->field))
#define CONF(c, off, type) \
	(*(const type *)(const void *)((const char *)(c) + (off)))

static const struct opt_def *
opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (strcmp(opt_table[i].name, name) == 0)
			return &opt_table[i];
	return NULL;
}

/* Store an integer option, clamped to its cap. */
static void
opt_store_uint(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, uint64_t v)
{
	if (d->cap != NONE && v > CONF(cfg, d->cap, uint64_t))
		v = CONF(cfg, d->cap, uint64_t);
	if (d->type == OT_SIZE)
		FIELD(o, d, uint64_t) = v;
	else
		FIELD(o, d, uint32_t) =
		    v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Store a rate: a server rate caps it, and "unlimited" becomes the cap. */
static void
opt_store_rate(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, double v)
{
	if (d->cap != NONE) {
		double cap = CONF(cfg, d->cap, double);

		if (cap > 0 && (v <= 0 || v > cap))
			v = cap;
	}
	FIELD(o, d, double) = v;
}

void
opts_defaults(struct batch_opts *o, const struct config *cfg)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	o->body = BODY_AUTO;
	o->headers = true;
	o->decode = true;
	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];

		switch (d->type) {
		case OT_COUNT:
		case OT_COUNT0:
		case OT_SIZE:
			if (d->def != NONE)
				opt_store_uint(
				    o, cfg, d, CONF(cfg, d->def, uint64_t));
			break;
		case OT_RATE:
			opt_store_rate(o, cfg, d,
			    d->def != NONE ? CONF(cfg, d->def, double) : 0);
			break;
		case OT_RETRY_ON:
			FIELD(o, d, struct retry_on) =
			    CONF(cfg, d->def, struct retry_on);
			break;
		default:
			break;
		}
	}
}

bool
opts_is_option(const char *name)
{
	return opt_find(name) != NULL;
}

/* Decimal digits only; saturates instead of overflowing. */
static int
parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX
		                              : v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static int
set_uint(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, bool ok, uint64_t v, const char **why)
{
	if (!ok || (v == 0 && d->type != OT_COUNT0)) {
		*why = d->type == OT_COUNT0 ? why_int0 : why_int;
		return -1;
	}
	opt_store_uint(o, cfg, d, v);
	return 0;
}

int
opts_set_text(struct batch_opts *o, const struct config *cfg, const char *name,
    const char *value, const char **why)
{
	const struct opt_def *d = opt_find(name);
	uint64_t v = 0;
	char *end;
	double r;

	if (d == NULL) {
		*why = "unknown option";
		return -1;
	}
	switch (d->type) {
	case OT_COUNT:
	case OT_COUNT0:
	case OT_SIZE: {
		bool ok = parse_uint(value, &v) == 0;

		return set_uint(o, cfg, d, ok, v, why);
	}
	case OT_RATE:
		r = strtod(value, &end);
		if (end == value || *end != '\0' || !(r >= 0) || r > 1e9) {
			*why = why_rate;
			return -1;
		}
		opt_store_rate(o, cfg, d, r);
		return 0;
	case OT_BODY:
		if (strcmp(value, "auto") != 0 && strcmp(value, "none") != 0) {
			*why = why_body;
			return -1;
		}
		o->body = strcmp(value, "none") == 0 ? BODY_NONE : BODY_AUTO;
		return 0;
	case OT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			FIELD(o, d, bool) = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			FIELD(o, d, bool) = false;
		else {
			*why = why_bool;
			return -1;
		}
		return 0;
	case OT_RETRY_ON: {
		const char *bad;
		size_t badlen;

		if (retry_on_parse(value, &FIELD(o, d, struct retry_on), &bad,
		        &badlen) != 0) {
			*why = why_retry;
			return -1;
		}
		return 0;
	}
	}
	*why = "unknown option";
	return -1;
}

int
opts_set_json(struct batch_opts *o, const struct config *cfg, const char *name,
    const json_t *value, const char **why)
{
	const struct opt_def *d = opt_find(name);
	struct retry_on tmp;
	size_t i;
	json_t *w;

	if (d == NULL) {
		*why = "unknown option";
		return -1;
	}
	switch (d->type) {
	case OT_COUNT:
	case OT_COUNT0:
	case OT_SIZE:
		return set_uint(o, cfg, d,
		    json_is_integer(value) && json_integer_value(value) >= 0,
		    json_is_integer(value) ? (uint64_t)json_integer_value(value)
		                           : 0,
		    why);
	case OT_RATE:
		if (!json_is_number(value) ||
		    !(json_number_value(value) >= 0) ||
		    json_number_value(value) > 1e9) {
			*why = why_rate;
			return -1;
		}
		opt_store_rate(o, cfg, d, json_number_value(value));
		return 0;
	case OT_BODY:
		if (!json_is_string(value)) {
			*why = why_body;
			return -1;
		}
		return opts_set_text(
		    o, cfg, name, json_string_value(value), why);
	case OT_BOOL:
		if (!json_is_boolean(value)) {
			*why = why_bool;
			return -1;
		}
		FIELD(o, d, bool) = json_is_true(value);
		return 0;
	case OT_RETRY_ON:
		retry_on_clear(&tmp);
		if (!json_is_array(value)) {
			*why = why_retry;
			return -1;
		}
		json_array_foreach(value, i, w)
		{
			if (!json_is_string(w) ||
			    retry_on_add(&tmp, json_string_value(w)) != 0) {
				*why = why_retry;
				return -1;
			}
		}
		FIELD(o, d, struct retry_on) = tmp;
		return 0;
	}
	*why = "unknown option";
	return -1;
}

uint32_t
opts_clamp_timeout(const struct config *cfg, uint64_t ms)
{
	if (ms > cfg->timeout_cap_ms)
		ms = cfg->timeout_cap_ms;
	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

uint32_t
opts_clamp_retries(const struct config *cfg, uint64_t n)
{
	return n > cfg->retries_cap ? (uint32_t)cfg->retries_cap : (uint32_t)n;
}

void
opts_emit_effective(const struct batch_opts *o, struct buf *out)
{
	size_t i;

	buf_addc(out, '{');
	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];

		buf_printf(out, "%s\"%s\":", i ? "," : "", d->name);
		switch (d->type) {
		case OT_COUNT:
		case OT_COUNT0:
			buf_printf(out, "%u", FIELD(o, d, uint32_t));
			break;
		case OT_SIZE:
			buf_printf(out, "%llu",
			    (unsigned long long)FIELD(o, d, uint64_t));
			break;
		case OT_RATE:
			buf_printf(out, "%g", FIELD(o, d, double));
			break;
		case OT_BODY:
			buf_adds(out,
			    o->body == BODY_NONE ? "\"none\"" : "\"auto\"");
			break;
		case OT_BOOL:
			buf_adds(out, FIELD(o, d, bool) ? "true" : "false");
			break;
		case OT_RETRY_ON:
			retry_on_emit(&FIELD(o, d, struct retry_on), out);
			break;
		}
	}
	buf_addc(out, '}');
}
