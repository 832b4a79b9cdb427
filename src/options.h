/*
 * options.h - the batch options of DESIGN.md §1, in one table: each
 * row names the option, its type (and so its parser), its field in
 * struct batch_opts, the configuration keys holding its default and its
 * cap, whether an item may set its own value, and one line saying what
 * it does. Everything that knows an option reads that row: the JSON
 * "options" object and an item's own fields, the query string, the
 * summary's "effective" object, the start-up warning about a default
 * above its cap, and the documentation (the man page's BATCH OPTIONS
 * and etc/fanoutd.conf, rendered by opts_doc and held to it by
 * tests/unit/test_options). The INI file gives the default and cap
 * keys, parsed with the same value parsers (util.h, retry_on_parse).
 *
 * A batch may lower a server cap, never raise it: a larger value is
 * clamped to the cap, and "effective" reports what was used. An item's
 * own value is clamped the same way.
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
	char user_agent[CONFIG_ADDR_LEN]; /* "": send none */
	unsigned extract;   /* EXTRACT_* bits (extract.h); 0: none */
	uint32_t max_links; /* links kept per extract */
};

/* The defaults: from cfg where a row names a key, else the row's own. */
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
/* True when an item may set its own value of option name (its "retries",
 * "timeout_ms", ...: set with opts_set_json on the item's copy). */
bool opts_item_may_set(const char *name);

/* Append {"concurrency":50,...}: every option with its effective value. */
void opts_emit_effective(const struct batch_opts *o, struct buf *out);

/*
 * A default the configuration file (or a flag) sets above its cap, e.g.
 * [upstream] timeout_ms above timeout_cap_ms, is not an error: batches
 * get the cap. Calls warn (if not NULL) with one sentence for each such
 * option's default; returns how many there were.
 */
unsigned opts_warnings(const struct config *cfg, void (*warn)(const char *msg));

/* The documentation the table renders (between the generated-block
 * markers of man/fanoutd.8 and etc/fanoutd.conf). */
enum opts_doc_form {
	OPTS_DOC_ROFF, /* .TP entries, one per option */
	OPTS_DOC_CONF, /* "#   name   default [s] key, cap [s] key" */
};
void opts_doc(struct buf *out, enum opts_doc_form form);

/* The rows, for documentation checks. */
struct opts_info {
	const char *name;
	const char *type; /* "integer >= 1", "true or false", ... */
	const char *def_section, *def_key; /* NULL: no configuration key */
	const char *cap_section, *cap_key; /* NULL: no cap */
	const char *builtin;               /* the default without a key */
	bool item;                         /* an item may set its own */
	const char *doc;
};
size_t opts_count(void);
/* Row i, or NULL past the last (valid until the next call). */
const struct opts_info *opts_at(size_t i);

#endif
