/*
 * options.c - the one table of batch options (see options.h). A row
 * names the option, its type, its field in struct batch_opts, the
 * config fields holding its default and its cap (their section and key
 * names come from config's own table), whether an item may set it, the
 * built-in default of an option no key gives, and its line of
 * documentation. Every parser, "effective", the cap warnings and the
 * documentation walk these rows in table order.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "extract.h"
#include "http.h"
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
	OT_TEXT,     /* a header field value, < CONFIG_ADDR_LEN bytes */
	OT_EXTRACT,  /* a list of title, links, meta; true; false */
};

#define NONE   ((size_t)-1)
#define OPT(f) offsetof(struct batch_opts, f)
#define CFG(f) offsetof(struct config, f)

struct opt_def {
	const char *name;
	enum opt_type type;
	size_t field;        /* in struct batch_opts */
	size_t def;          /* in struct config (same type family), or NONE */
	size_t cap;          /* in struct config, or NONE */
	bool item;           /* an item may set its own value */
	const char *builtin; /* the default when def is NONE, as text */
	const char *doc;
};

#define ITEM  true
#define BATCH false

static const struct opt_def opt_table[] = {
    {"concurrency", OT_COUNT, OPT(concurrency), CFG(batch_concurrency),
        CFG(concurrency), BATCH, NULL, "In-flight attempts of the batch."},
    {"per_host_concurrency", OT_COUNT, OPT(per_host_concurrency),
        CFG(per_host_concurrency), CFG(per_host_concurrency), BATCH, NULL,
        "In-flight attempts of the batch to one origin host."},
    {"connect_timeout_ms", OT_COUNT, OPT(connect_timeout_ms),
        CFG(connect_timeout_ms), CFG(timeout_cap_ms), BATCH, NULL,
        "Time a new connection may take to open (TLS handshake "
        "included)."},
    {"timeout_ms", OT_COUNT, OPT(timeout_ms), CFG(timeout_ms),
        CFG(timeout_cap_ms), ITEM, NULL,
        "Time one attempt may take, dispatch to last body byte."},
    {"deadline_ms", OT_COUNT, OPT(deadline_ms), CFG(deadline_ms),
        CFG(deadline_cap_ms), BATCH, NULL,
        "Time the whole batch may take; unfinished items then end as "
        "deadline."},
    {"max_body_bytes", OT_SIZE, OPT(max_body_bytes), CFG(max_body_bytes),
        CFG(max_body_bytes_cap), BATCH, NULL,
        "Cap on a response body after decoding; the rest is cut "
        "(truncated)."},
    {"rate", OT_RATE, OPT(rate), NONE, CFG(rate), BATCH, "0",
        "Attempts per second of the batch (0: unlimited)."},
    {"burst", OT_RATE, OPT(burst), NONE, NONE, BATCH, "0",
        "Attempts rate lets through at once (0: one second's worth)."},
    {"per_host_rate", OT_RATE, OPT(per_host_rate), CFG(per_host_rate),
        CFG(per_host_rate), BATCH, NULL,
        "Attempts per second of the batch to one origin host (0: "
        "unlimited)."},
    {"retries", OT_COUNT0, OPT(retries), CFG(retries), CFG(retries_cap), ITEM,
        NULL,
        "Retries after a failed attempt, of the outcomes retry_on "
        "names."},
    {"backoff_ms", OT_COUNT, OPT(backoff_ms), CFG(backoff_ms),
        CFG(backoff_cap_ms), BATCH, NULL,
        "Backoff bound before the first retry; it doubles for each next."},
    {"backoff_max_ms", OT_COUNT, OPT(backoff_max_ms), CFG(backoff_max_ms),
        CFG(backoff_cap_ms), BATCH, NULL,
        "Largest backoff bound; also caps Retry-After."},
    {"retry_on", OT_RETRY_ON, OPT(retry_on), CFG(retry_on), NONE, BATCH, NULL,
        "Outcomes retried: connect, dns, timeout, reset, HTTP statuses."},
    {"follow_redirects", OT_COUNT0, OPT(follow_redirects),
        CFG(follow_redirects), CFG(redirects_cap), BATCH, NULL,
        "Redirects followed (0: a 3xx is the result)."},
    {"progress_ms", OT_COUNT0, OPT(progress_ms), NONE, NONE, BATCH, "0",
        "A progress line this often (0: none)."},
    {"body", OT_BODY, OPT(body), NONE, NONE, BATCH, "auto",
        "auto: bodies as UTF-8 text, else base64; none: no bodies."},
    {"headers", OT_BOOL, OPT(headers), NONE, NONE, BATCH, "true",
        "Include the response headers."},
    {"decode", OT_BOOL, OPT(decode), NONE, NONE, BATCH, "true",
        "Decode gzip and deflate bodies (false: bytes as sent)."},
    {"user_agent", OT_TEXT, OPT(user_agent), CFG(user_agent), NONE, ITEM, NULL,
        "User-Agent sent when the item's headers set none (empty: "
        "none)."},
    {"extract", OT_EXTRACT, OPT(extract), NONE, NONE, ITEM, "false",
        "HTML responses: their title, links and meta, as \"extract\" "
        "(true: all three)."},
    {"max_links", OT_COUNT, OPT(max_links), NONE, NONE, BATCH, "1000",
        "Distinct links an extract keeps; past it links_truncated."},
};

#define NOPTS ARRAY_SIZE(opt_table)

static const char *const type_names[] = {
    [OT_COUNT] = "integer >= 1",
    [OT_COUNT0] = "integer >= 0",
    [OT_SIZE] = "bytes >= 1",
    [OT_RATE] = "number >= 0",
    [OT_BODY] = "auto or none",
    [OT_BOOL] = "true or false",
    [OT_RETRY_ON] = "list",
    [OT_TEXT] = "string",
    [OT_EXTRACT] = "list of title, links, meta; or true or false",
};

static const char *const why_int = "expected a positive integer";
static const char *const why_int0 = "expected an integer of 0 or more";
static const char *const why_rate = "expected a number from 0 to 1000000000";
static const char *const why_body = "expected \"auto\" or \"none\"";
static const char *const why_bool = "expected true or false";
static const char *const why_retry =
    "expected a list of connect, dns, timeout, reset or HTTP statuses";
static const char *const why_extract =
    "expected a list of \"title\", \"links\", \"meta\", or true or false";
static const char *const why_text =
    "expected a string of at most 127 bytes without CR, LF or NUL";

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

/* The configuration key a row names by its field. */
static const struct config_key_info *
opt_key(size_t field)
{
	const struct config_key_info *k = config_key_of_field(field);

	if (k == NULL)
		abort(); /* a row naming a field that no key holds: a bug */
	return k;
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

static int
set_rate(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, bool ok, double r, const char **why)
{
	if (!ok || !(r >= 0) || r > 1e9) {
		*why = why_rate;
		return -1;
	}
	opt_store_rate(o, cfg, d, r);
	return 0;
}

/* A header field value (RFC 9110 §5.5) that fits the field. */
static int
set_text(struct batch_opts *o, const struct opt_def *d, const char *value,
    size_t len, const char **why)
{
	char *field = &FIELD(o, d, char);

	if (len >= CONFIG_ADDR_LEN || !http_field_value_valid(value, len)) {
		*why = why_text;
		return -1;
	}
	memcpy(field, value, len);
	field[len] = '\0';
	return 0;
}

/* The extract word w[0..n): its EXTRACT_* bit, or 0. */
static unsigned
extract_word(const char *w, size_t n)
{
	static const struct {
		const char *name;
		unsigned bit;
	} words[] = {{"title", EXTRACT_TITLE}, {"links", EXTRACT_LINKS},
	    {"meta", EXTRACT_META}};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(words); i++)
		if (strlen(words[i].name) == n &&
		    memcmp(words[i].name, w, n) == 0)
			return words[i].bit;
	return 0;
}

/* The query-string form of extract: a boolean, or words joined with
 * commas ("title,links"). */
static int
set_extract_text(unsigned *field, const char *value, const char **why)
{
	unsigned bits = 0, bit;
	const char *p = value, *e;
	bool b;

	if (parse_bool(value, &b) == 0) {
		*field = b ? EXTRACT_ALL : 0;
		return 0;
	}
	for (;;) {
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		if ((bit = extract_word(p, (size_t)(e - p))) == 0) {
			*why = why_extract;
			return -1;
		}
		bits |= bit;
		if (*e == '\0')
			break;
		p = e + 1;
	}
	*field = bits;
	return 0;
}

/* The JSON form: true, false, or an array of the words. An empty array
 * extracts nothing, as false. */
static int
set_extract_json(unsigned *field, const json_t *value, const char **why)
{
	unsigned bits = 0, bit;
	size_t i;
	json_t *w;

	if (json_is_boolean(value)) {
		*field = json_is_true(value) ? EXTRACT_ALL : 0;
		return 0;
	}
	if (!json_is_array(value)) {
		*why = why_extract;
		return -1;
	}
	json_array_foreach(value, i, w)
	{
		if (!json_is_string(w) ||
		    (bit = extract_word(
		         json_string_value(w), json_string_length(w))) == 0) {
			*why = why_extract;
			return -1;
		}
		bits |= bit;
	}
	*field = bits;
	return 0;
}

/* "effective": false, or the list of words in a fixed order. */
static void
emit_extract(unsigned bits, struct buf *out)
{
	bool first = true;

	if (bits == 0) {
		buf_adds(out, "false");
		return;
	}
	buf_addc(out, '[');
	if (bits & EXTRACT_TITLE) {
		buf_adds(out, "\"title\"");
		first = false;
	}
	if (bits & EXTRACT_LINKS) {
		buf_adds(out, first ? "\"links\"" : ",\"links\"");
		first = false;
	}
	if (bits & EXTRACT_META)
		buf_adds(out, first ? "\"meta\"" : ",\"meta\"");
	buf_addc(out, ']');
}

/* The text form of row d's value (the query string, a built-in). */
static int
opt_set_text(struct batch_opts *o, const struct config *cfg,
    const struct opt_def *d, const char *value, const char **why)
{
	const char *bad;
	uint64_t v = 0;
	double r = 0;
	size_t n;
	bool b, ok;

	switch (d->type) {
	case OT_COUNT:
	case OT_COUNT0:
	case OT_SIZE:
		ok = parse_uint(value, false, &v) == 0;
		return set_uint(o, cfg, d, ok, v, why);
	case OT_RATE:
		ok = parse_number(value, &r) == 0;
		return set_rate(o, cfg, d, ok, r, why);
	case OT_BODY:
		if (strcmp(value, "auto") != 0 && strcmp(value, "none") != 0) {
			*why = why_body;
			return -1;
		}
		FIELD(o, d, enum body_mode) =
		    strcmp(value, "none") == 0 ? BODY_NONE : BODY_AUTO;
		return 0;
	case OT_BOOL:
		if (parse_bool(value, &b) != 0) {
			*why = why_bool;
			return -1;
		}
		FIELD(o, d, bool) = b;
		return 0;
	case OT_RETRY_ON:
		if (retry_on_parse(
		        value, &FIELD(o, d, struct retry_on), &bad, &n) != 0) {
			*why = why_retry;
			return -1;
		}
		return 0;
	case OT_TEXT:
		return set_text(o, d, value, strlen(value), why);
	case OT_EXTRACT:
		return set_extract_text(&FIELD(o, d, unsigned), value, why);
	}
	*why = "unknown option";
	return -1;
}

void
opts_defaults(struct batch_opts *o, const struct config *cfg)
{
	const char *why;
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];

		if (d->def == NONE) {
			if (opt_set_text(o, cfg, d, d->builtin, &why) != 0)
				abort(); /* a built-in the parser refuses */
			continue;
		}
		switch (d->type) {
		case OT_RATE:
			opt_store_rate(o, cfg, d, CONF(cfg, d->def, double));
			break;
		case OT_RETRY_ON:
			FIELD(o, d, struct retry_on) =
			    CONF(cfg, d->def, struct retry_on);
			break;
		case OT_TEXT:
			snprintf(&FIELD(o, d, char), CONFIG_ADDR_LEN, "%s",
			    &CONF(cfg, d->def, char));
			break;
		default:
			opt_store_uint(o, cfg, d, CONF(cfg, d->def, uint64_t));
			break;
		}
	}
}

bool
opts_is_option(const char *name)
{
	return opt_find(name) != NULL;
}

bool
opts_item_may_set(const char *name)
{
	const struct opt_def *d = opt_find(name);

	return d != NULL && d->item;
}

int
opts_set_text(struct batch_opts *o, const struct config *cfg, const char *name,
    const char *value, const char **why)
{
	const struct opt_def *d = opt_find(name);

	if (d == NULL) {
		*why = "unknown option";
		return -1;
	}
	return opt_set_text(o, cfg, d, value, why);
}

/* retry_on as a JSON array of words. */
static int
set_retry_on_json(struct retry_on *r, const json_t *value, const char **why)
{
	struct retry_on tmp;
	size_t i;
	json_t *w;

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
	*r = tmp;
	return 0;
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
	case OT_COUNT:
	case OT_COUNT0:
	case OT_SIZE:
		return set_uint(o, cfg, d,
		    json_is_integer(value) && json_integer_value(value) >= 0,
		    json_is_integer(value) ? (uint64_t)json_integer_value(value)
		                           : 0,
		    why);
	case OT_RATE:
		return set_rate(o, cfg, d, json_is_number(value),
		    json_is_number(value) ? json_number_value(value) : 0, why);
	case OT_BODY:
		if (!json_is_string(value)) {
			*why = why_body;
			return -1;
		}
		return opt_set_text(o, cfg, d, json_string_value(value), why);
	case OT_BOOL:
		if (!json_is_boolean(value)) {
			*why = why_bool;
			return -1;
		}
		FIELD(o, d, bool) = json_is_true(value);
		return 0;
	case OT_RETRY_ON:
		return set_retry_on_json(
		    &FIELD(o, d, struct retry_on), value, why);
	case OT_TEXT:
		if (!json_is_string(value)) {
			*why = why_text;
			return -1;
		}
		return set_text(o, d, json_string_value(value),
		    json_string_length(value), why);
	case OT_EXTRACT:
		return set_extract_json(&FIELD(o, d, unsigned), value, why);
	}
	*why = "unknown option";
	return -1;
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
			    FIELD(o, d, enum body_mode) == BODY_NONE
			        ? "\"none\""
			        : "\"auto\"");
			break;
		case OT_BOOL:
			buf_adds(out, FIELD(o, d, bool) ? "true" : "false");
			break;
		case OT_RETRY_ON:
			retry_on_emit(&FIELD(o, d, struct retry_on), out);
			break;
		case OT_TEXT:
			emit_json_string(out, &FIELD(o, d, char),
			    strlen(&FIELD(o, d, char)));
			break;
		case OT_EXTRACT:
			emit_extract(FIELD(o, d, unsigned), out);
			break;
		}
	}
	buf_addc(out, '}');
}

unsigned
opts_warnings(const struct config *cfg, void (*warn)(const char *msg))
{
	const struct config_key_info *def, *cap;
	char msg[256];
	unsigned n = 0;
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];
		uint64_t dv, cv;

		if (d->def == NONE || d->cap == NONE || d->def == d->cap ||
		    (d->type != OT_COUNT && d->type != OT_COUNT0 &&
		        d->type != OT_SIZE))
			continue;
		dv = CONF(cfg, d->def, uint64_t);
		cv = CONF(cfg, d->cap, uint64_t);
		def = opt_key(d->def);
		cap = opt_key(d->cap);
		/* Only a default the file (or a flag) set: lowering a cap
		 * below a built-in default is not the user's mistake. */
		if (dv <= cv || !config_key_set(cfg, def->section, def->key))
			continue;
		snprintf(msg, sizeof(msg),
		    "[%s] %s (%llu) is above [%s] %s (%llu); batches get %llu",
		    def->section, def->key, (unsigned long long)dv,
		    cap->section, cap->key, (unsigned long long)cv,
		    (unsigned long long)cv);
		if (warn != NULL)
			warn(msg);
		n++;
	}
	return n;
}

size_t
opts_count(void)
{
	return NOPTS;
}

const struct opts_info *
opts_at(size_t i)
{
	static struct opts_info info;
	const struct config_key_info *k;
	const struct opt_def *d;

	if (i >= NOPTS)
		return NULL;
	d = &opt_table[i];
	memset(&info, 0, sizeof(info));
	info.name = d->name;
	info.type = type_names[d->type];
	if (d->def != NONE) {
		k = opt_key(d->def);
		info.def_section = k->section;
		info.def_key = k->key;
	}
	if (d->cap != NONE) {
		k = opt_key(d->cap);
		info.cap_section = k->section;
		info.cap_key = k->key;
	}
	info.builtin = d->builtin;
	info.item = d->item;
	info.doc = d->doc;
	return &info;
}

/* "[section] key (default)": a configuration key and its built-in value. */
static void
doc_key(struct buf *out, size_t field, bool with_value)
{
	const struct config_key_info *k = opt_key(field);

	buf_printf(out, "[%s] %s", k->section, k->key);
	if (with_value)
		buf_printf(out, " (%s)", k->def[0] ? k->def : "empty");
}

/* Where row d's value comes from, in up to three parts: "default [s] k
 * (v)" or "default v", "cap [s] k (v)", "an item may set its own". */
static size_t
doc_sources(const struct opt_def *d, bool with_values, struct buf part[3])
{
	size_t n = 0;

	buf_adds(&part[n],
	    d->def != NONE && d->def == d->cap ? "default and cap "
	                                       : "default ");
	if (d->def != NONE)
		doc_key(&part[n], d->def, with_values);
	else
		buf_adds(&part[n], d->builtin);
	n++;
	if (d->cap != NONE && d->cap != d->def) {
		buf_adds(&part[n], "cap ");
		doc_key(&part[n++], d->cap, with_values);
	}
	if (d->item)
		buf_adds(&part[n++], "an item may set its own");
	return n;
}

/* One option as a comment of the example configuration: its name, then
 * the parts, wrapped under the name at 80 columns. */
static void
doc_conf(struct buf *out, const struct opt_def *d)
{
	struct buf part[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	size_t n = doc_sources(d, false, part), col, i;

	buf_printf(out, "#   %-21s", d->name);
	col = 25;
	for (i = 0; i < n; i++) {
		if (i > 0 && col + 2 + part[i].len > 79) {
			buf_printf(out, ";\n#   %-21s", "");
			col = 25;
		} else if (i > 0) {
			buf_adds(out, ";");
			col++;
		}
		buf_printf(out, " %s", buf_cstr(&part[i]));
		col += 1 + part[i].len;
		buf_free(&part[i]);
	}
	buf_adds(out, "\n");
}

void
opts_doc(struct buf *out, enum opts_doc_form form)
{
	struct buf part[3] = {BUF_INIT, BUF_INIT, BUF_INIT};
	size_t i, j, n;

	for (i = 0; i < NOPTS; i++) {
		const struct opt_def *d = &opt_table[i];

		if (form == OPTS_DOC_CONF) {
			doc_conf(out, d);
			continue;
		}
		buf_printf(out, ".TP\n.BR %s \" (%s)\"\n%s\n", d->name,
		    type_names[d->type], d->doc);
		n = doc_sources(d, true, part);
		part[0].data[0] = 'D'; /* a sentence of its own */
		for (j = 0; j < n; j++) {
			buf_printf(
			    out, "%s%s", j ? "; " : "", buf_cstr(&part[j]));
			buf_free(&part[j]);
		}
		buf_adds(out, ".\n");
	}
}
