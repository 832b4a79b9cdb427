/*
 * config.h - the server configuration: built-in defaults, the INI file of
 * DESIGN.md §3 (parsed with libinih), and validation.
 *
 * Every key lives in one table in config.c with its section, type,
 * default, range and a one-line description; the INI parser, the defaults,
 * `fanoutd -t` and the documentation checks all read that table. A struct
 * config is a plain value: load into a scratch copy, validate, then assign,
 * so a bad file never leaves a half-applied configuration behind.
 */
#ifndef FANOUTD_CONFIG_H
#define FANOUTD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpus.h"
#include "retry.h"

/* Read when no -c names a file, if it exists (DESIGN.md §3). */
#ifdef SYSCONFDIR
#define CONFIG_DEFAULT_PATH SYSCONFDIR "/fanoutd/fanoutd.conf"
#else
#define CONFIG_DEFAULT_PATH "/etc/fanoutd/fanoutd.conf"
#endif
/* Where jobs are stored when neither [jobs] dir nor systemd's
 * StateDirectory= ($STATE_DIRECTORY) says. */
#ifdef LOCALSTATEDIR
#define CONFIG_JOBS_DIR LOCALSTATEDIR "/lib/fanoutd"
#else
#define CONFIG_JOBS_DIR "/var/lib/fanoutd"
#endif
#define CONFIG_MAX_LISTEN      8
#define CONFIG_MAX_NAMESERVERS 8
#define CONFIG_ADDR_LEN        128
#define CONFIG_PATH_LEN        512
#define CONFIG_LIST_LEN        4096
#define CONFIG_MAX_KEYS        96         /* rows of the key table, at most */
#define CONFIG_MAX_FILE        (1 << 20)  /* a configuration file's bytes */
#define CONFIG_LINE_FLAG       UINT32_MAX /* set on the command line */

/* [server] ui: the web dashboard at /ui. LOOPBACK (the default) serves
 * it on connections that arrived over loopback (127.0.0.0/8, ::1) or a
 * unix socket, whatever the listener; ON on every connection; OFF on
 * none (404). */
enum config_ui { CONFIG_UI_LOOPBACK = 0, CONFIG_UI_ON, CONFIG_UI_OFF };

struct config {
	/* [server] */
	char listen[CONFIG_MAX_LISTEN][CONFIG_ADDR_LEN]; /* "ip:port" */
	unsigned nlisten;
	uint64_t max_items;          /* items per batch, else 413 */
	uint64_t max_request_bytes;  /* request body, else 413 */
	uint64_t max_json_items;     /* items in the buffered JSON format */
	uint64_t max_hops;           /* loop guard, else 508 */
	uint64_t output_high_water;  /* unsent bytes that pause a batch */
	uint64_t max_active_batches; /* beyond: 429 */
	struct cpus loop_cpus;       /* [server] cpu_list: the event loop's */
	uint64_t drain_timeout_ms;   /* SIGTERM: running batches get this */
	uint64_t request_read_timeout_ms; /* whole request, else 408 + close */
	uint64_t keepalive_timeout_ms;    /* idle caller connections */
	uint64_t max_connections;         /* caller connections at once */
	uint64_t max_header_bytes;        /* request line + headers, else 431 */
	uint64_t max_headers;             /* header count, else 431 */
	uint64_t max_url_bytes;           /* request target, else 414 */
	char auth_tokens_file[CONFIG_PATH_LEN]; /* "": no auth */
	int unix_mode;                          /* unix socket permissions */
	char tls_cert[CONFIG_PATH_LEN];         /* HTTPS listeners when set */
	char tls_key[CONFIG_PATH_LEN];
	int ui; /* enum config_ui: who is served the dashboard (/ui) */

	/* [limits] */
	uint64_t concurrency;          /* global in-flight cap; batch cap */
	uint64_t batch_concurrency;    /* a batch's default concurrency */
	uint64_t per_host_concurrency; /* in-flight cap per origin */
	double rate;                   /* global attempts/s; 0: unlimited */
	double burst;                  /* 0: one second's worth */
	double per_host_rate;          /* per origin; also a batch's default */
	double per_host_burst;
	char shared[CONFIG_PATH_LEN]; /* redis://.. or unix:/..; "": local */
	uint64_t shared_timeout_ms;   /* a Redis command's deadline */
	int shared_concurrency;       /* per_host_concurrency for the fleet */
	uint64_t shared_lease_ms;     /* a shared slot's lease */

	/* [upstream] */
	uint64_t connect_timeout_ms; /* default of the batch option */
	uint64_t timeout_ms;         /* per attempt, default */
	uint64_t timeout_cap_ms;     /* cap of connect_timeout_ms, timeout_ms */
	uint64_t deadline_ms;        /* per batch, default */
	uint64_t deadline_cap_ms;
	uint64_t max_body_bytes; /* default of the batch option */
	uint64_t max_body_bytes_cap;
	uint64_t retries; /* default of the batch option */
	uint64_t retries_cap;
	uint64_t backoff_ms;     /* first backoff bound */
	uint64_t backoff_max_ms; /* largest backoff bound */
	uint64_t backoff_cap_ms; /* cap of both */
	struct retry_on retry_on;
	uint64_t follow_redirects;
	uint64_t redirects_cap;
	int tls_verify;                /* verify upstream certificates */
	char ca_file[CONFIG_PATH_LEN]; /* "": the system trust store */
	char ca_path[CONFIG_PATH_LEN];
	char client_cert[CONFIG_PATH_LEN]; /* mutual TLS, when set */
	char client_key[CONFIG_PATH_LEN];
	char deny[CONFIG_LIST_LEN];  /* CIDRs, beyond the built-in ones */
	char allow[CONFIG_LIST_LEN]; /* CIDRs that win over any deny */
	int deny_private;            /* loopback, RFC 1918, CGNAT, fc00::/7 */
	char user_agent[CONFIG_ADDR_LEN];
	char nameservers[CONFIG_MAX_NAMESERVERS]
	                [CONFIG_ADDR_LEN]; /* ip[:port] */
	unsigned nnameservers;             /* 0: /etc/resolv.conf */
	uint64_t dns_cache_ms;
	uint64_t max_idle_per_host; /* idle keep-alive connections per origin */
	uint64_t max_idle;          /* idle keep-alive connections in all */
	uint64_t idle_timeout_ms;
	uint64_t max_response_header_bytes; /* else protocol error */
	uint64_t max_response_headers;      /* else protocol error */

	/* [extract] (issue #17) */
	uint64_t extract_threads; /* parser threads; 0: online CPUs */
	int extract_on_loop;      /* parse on the loop, no threads */

	/* [jobs] (issue #16) */
	char jobs_store[CONFIG_PATH_LEN]; /* "": SQLite in jobs_dir, else a
	                                   * postgresql:// conninfo */
	char jobs_dir[CONFIG_PATH_LEN];   /* "": $STATE_DIRECTORY, else
	                                   * CONFIG_JOBS_DIR */
	uint64_t jobs_max_active;         /* queued + running jobs, else 429 */
	uint64_t jobs_max_items;          /* items per job, else 413 */
	uint64_t jobs_max_store_bytes;    /* database + bodies (0: no limit) */
	uint64_t jobs_max_body_bytes_cap; /* a job's max_body_bytes, at most */
	uint64_t jobs_ttl_s;              /* a finished job's default life */
	int jobs_durable;                 /* fsync every commit */
	struct cpus store_cpus;           /* the store's threads' CPUs */
	/* [log] */
	int log_level; /* enum log_level */

	/* Where each key was set, by its row in the key table: a line of
	 * the file, CONFIG_LINE_FLAG for the command line, 0 for the
	 * built-in default. */
	uint32_t line[CONFIG_MAX_KEYS];
};

struct config_error {
	char file[256]; /* "" for built-in or command-line values */
	int line;       /* 0 when not tied to one line */
	char section[32];
	char key[64];
	char message[256];
};

/* Fill c with the built-in defaults. */
void config_defaults(struct config *c);

/*
 * Apply the INI file at path (or the text, for tests) on top of c. Stops
 * at the first error: returns -1 and fills err with the file, line,
 * section, key and what is wrong (unknown section or key, bad value, a
 * key set twice). The file must be a regular, readable file of 1 to
 * CONFIG_MAX_FILE bytes: a directory, or a file an editor truncated,
 * would otherwise mean the built-in defaults - auth off. A key may be
 * set once; the lists (listen, deny, allow, nameservers, retry_on) may
 * repeat, each line adding to what the file set before. Returns 0 on
 * success. See config_warnings for relations between keys.
 */
int config_load_file(
    struct config *c, const char *path, struct config_error *err);
int config_load_string(struct config *c, const char *text, const char *name,
    struct config_error *err);

/*
 * Set one key from its text form, as the INI parser and command-line
 * flags do. Returns 0, or -1 with a reason in why ("unknown key",
 * "expected an integer from 1 to 1000000").
 */
int config_set(struct config *c, const char *section, const char *key,
    const char *value, char *why, size_t whylen);

/*
 * Check keys that only make sense together (a certificate without its
 * key). Returns 0, or -1 with err naming the key.
 */
int config_check(const struct config *c, struct config_error *err);

/*
 * Settings that are allowed but worth a word at start-up (tls_verify
 * off). Calls warn (if not NULL) with one sentence each; returns how
 * many. (A default above its cap is opts_warnings', options.h.)
 */
unsigned config_warnings(const struct config *c, void (*warn)(const char *msg));

/*
 * What a reload from old to next loosens: authentication turned off,
 * deny_private off, deny ranges dropped, allow ranges added. Calls
 * warn with one sentence each; returns how many.
 */
unsigned config_loosened(const struct config *old, const struct config *next,
    void (*warn)(const char *msg));

/* Did the file or a flag set [section] key (not its built-in default)? */
bool config_key_set(
    const struct config *c, const char *section, const char *key);

/* "FILE:LINE: [section] key: message" (parts omitted when unknown). */
void config_error_format(
    const struct config_error *err, char *out, size_t outlen);

/* Name section/key in err, with where c got it: the line of the file
 * (err->file is left as it is), or the command line. */
void config_error_at(const struct config *c, struct config_error *err,
    const char *section, const char *key);

/* The key table, for documentation checks: one entry per key. */
struct config_key_info {
	const char *section;
	const char *key;
	const char *def; /* default, as written in the INI file */
	const char *doc; /* one line */
};
size_t config_key_count(void);
/* Row i, or NULL past the last. */
const struct config_key_info *config_key_at(size_t i);
/* The key stored at offset `field` of struct config (offsetof), or NULL
 * when no key is: how the batch options name their default and cap. */
const struct config_key_info *config_key_of_field(size_t field);

#endif
