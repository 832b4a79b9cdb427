/*
 * options.c - the one table of batch options (see options.h). Each row
 * names the option, its type, its field in struct batch_opts, and the
 * config fields holding its default and its cap. The JSON and the
 * query-string parsers both go through opts_set(), so an option is
 * spelled, typed and clamped in exactly one place.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "options.h"

enum opt_type { OT_UINT32, OT_UINT64, OT_BODY, OT_BOOL };

#define NO_CAP ((size_t)-1)
#define OPT(f) offsetof(struct batch_opts, f)
#define CFG(f) offsetof(struct config, f)

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t field; /* in struct batch_opts */
	size_t def;   /* uint64_t in struct config, or NO_CAP */
	size_t cap;   /* uint64_t in struct config, or NO_CAP */
};

static const struct opt_def opt_table[] = {
    {"concurrency", OT_UINT32, OPT(concurrency), CFG(batch_concurrency),
        CFG(concurrency)},
    {"per_host_concurrency", OT_UINT32, OPT(per_host_concurrency),
        CFG(per_host_concurrency), CFG(per_host_concurrency)},
    {"connect_timeout_ms", OT_UINT32, OPT(connect_timeout_ms),
        CFG(connect_timeout_ms), CFG(timeout_cap_ms)},
    {"timeout_ms", OT_UINT32, OPT(timeout_ms), CFG(timeout_ms),
        CFG(timeout_cap_ms)},
    {"deadline_ms", OT_UINT32, OPT(deadline_ms), CFG(deadline_ms),
        CFG(deadline_cap_ms)},
    {"max_body_bytes", OT_UINT64, OPT(max_body_bytes), CFG(max_body_bytes),
        CFG(max_body_bytes_cap)},
    {"body", OT_BODY, OPT(body), NO_CAP, NO_CAP},
    {"headers", OT_BOOL, OPT(headers), NO_CAP, NO_CAP},
};

#define NOPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static const char *const why_int = "expected a positive integer";
static const char *const why_body = "expected \"auto\" or \"none\"";
static const char *const why_bool = "expected true or false";

static uint64_t
cfg_u64(const struct config *cfg, size_t off)
{
	return *(const uint64_t *)(const void *)((const char *)cfg + off);
}

static const struct opt_def *
opt_find(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (strcmp(opt_table[i].name, name) == 0)
			return &opt_table[i];
	return NULL;
}

/* Store v (>= 1) into the option's field, clamped to its cap. */
static void
opt_store_uint(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, uint64_t v)
{
	char *field = (char *)o + d->field;

	if (d->cap != NO_CAP && v > cfg_u64(cfg, d->cap))
		v = cfg_u64(cfg, d->cap);
	if (d->type == OT_UINT32) {
		if (v > UINT32_MAX)
			v = UINT32_MAX;
		*(uint32_t *)(void *)field = (uint32_t)v;
	} else {
		*(uint64_t *)(void *)field = v;
	}
}

void
opts_defaults(struct batch_opts *o, const struct config *cfg)
{
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < NOPTS; i++)
		if (opt_table[i].def != NO_CAP)
			opt_store_uint(o, cfg, &opt_table[i],
			    cfg_u64(cfg, opt_table[i].def));
	o->body = BODY_AUTO;
	o->headers = true;
}

bool
opts_is_option(const char *name)
{
	return opt_find(name) != NULL;
}

/* Decimal digits only, >= 1; saturates instead of overflowing. */
static int
parse_positive(const char *s, uint64_t *out)
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
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

int
opts_set_text(struct batch_opts *o, const struct config *cfg, const char *name,
    const char *value, const char **why)
{
	const struct opt_def *d = opt_find(name);
	uint64_t v;

	if (d == NULL) {
		*why = "unknown option";
		return -1;
	}
	switch (d->type) {
	case OT_UINT32:
	case OT_UINT64:
		if (parse_positive(value, &v) != 0) {
			*why = why_int;
			return -1;
		}
		opt_store_uint(o, cfg, d, v);
		return 0;
	case OT_BODY:
		if (strcmp(value, "auto") == 0)
			o->body = BODY_AUTO;
		else if (strcmp(value, "none") == 0)
			o->body = BODY_NONE;
		else {
			*why = why_body;
			return -1;
		}
		return 0;
	case OT_BOOL:
		if (strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
			o->headers = true;
		else if (strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
			o->headers = false;
		else {
			*why = why_bool;
			return -1;
		}
		return 0;
	}
	*why = "unknown option";
	return -1;
}

int
opts_set_json(struct batch_opts *o, const struct config *cfg, const char *name,
    const json_t *value, const char **why)
{
	const struct opt_def *d = opt_find(name);

	if (d == NULL) {
		*why = "unknown option";
		return -1;
	}
	switch (d->type) {
	case OT_UINT32:
	case OT_UINT64:
		if (!json_is_integer(value) || json_integer_value(value) < 1) {
			*why = why_int;
			return -1;
		}
		opt_store_uint(o, cfg, d, (uint64_t)json_integer_value(value));
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
		o->headers = json_is_true(value);
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

void
opts_emit_effective(const struct batch_opts *o, struct buf *out)
{
	size_t i;

	buf_addc(out, '{');
	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		const char *field = (const char *)o + d->field;

		buf_printf(out, "%s\"%s\":", i ? "," : "", d->name);
		switch (d->type) {
		case OT_UINT32:
			buf_printf(
			    out, "%u", *(const uint32_t *)(const void *)field);
			break;
		case OT_UINT64:
			buf_printf(out, "%llu",
			    (unsigned long long)*(
			        const uint64_t *)(const void *)field);
			break;
		case OT_BODY:
			buf_adds(out,
			    o->body == BODY_NONE ? "\"none\"" : "\"auto\"");
			break;
		case OT_BOOL:
			buf_adds(out, o->headers ? "true" : "false");
			break;
		}
	}
	buf_addc(out, '}');
}
