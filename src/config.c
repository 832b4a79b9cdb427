/*
 * config.c - the configuration table, its parsers and validation (see
 * config.h). config_keys[] is the one list of keys: defaults are applied
 * by parsing each row's default text with the same setter that parses
 * the INI file, so a default can never be a value the file would refuse.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <ini.h>

#include "config.h"
#include "egress.h"
#include "log.h"
#include "shared_policy.h"
#include "util.h"

enum cfg_type {
	CT_UINT,        /* decimal integer in [min, max] */
	CT_BYTES,       /* integer with an optional K, M or G suffix */
	CT_STRING,      /* up to CONFIG_ADDR_LEN - 1 bytes */
	CT_PATH,        /* a file name, up to CONFIG_PATH_LEN - 1 bytes */
	CT_BOOL,        /* true/false, yes/no, on/off, 1/0 */
	CT_MODE,        /* octal file mode, e.g. 0660 */
	CT_CIDRS,       /* list of CIDRs (egress policy) */
	CT_LISTEN,      /* list of ip:port, [ip6]:port, unix:/path */
	CT_NAMESERVERS, /* list of ip[:port], [ip6][:port] */
	CT_LOGLEVEL,
	CT_UI,       /* true, false or loopback: enum config_ui */
	CT_RATE,     /* decimal number >= 0, fractions allowed */
	CT_RETRY_ON, /* list of connect, dns, timeout, reset, status codes */
	CT_SHARED,   /* "", redis://HOST:PORT[/DB] or unix:/PATH */
	CT_CPUS,     /* a CPU list, "0-3,6" (cpus.h) */
};

struct cfg_key {
	const char *section;
	const char *key;
	enum cfg_type type;
	size_t off;
	const char *def;
	uint64_t min;
	uint64_t max;
	const char *doc;
};

#ifdef PACKAGE_VERSION
#define PACKAGE_VERSION_STR PACKAGE_VERSION
#else
#define PACKAGE_VERSION_STR "0.1.0"
#endif

#define F(field) offsetof(struct config, field)
#define MS_MAX   86400000ull
#define CONC_MAX 1000000ull

static const struct cfg_key config_keys[] = {
    {"server", "listen", CT_LISTEN, F(listen), "127.0.0.1:7878", 0, 0,
        "Addresses to serve on: ip:port, [ip6]:port or unix:/path, "
        "separated by commas (repeated lines add up)."},
    {"server", "max_items", CT_UINT, F(max_items), "100000", 1, 10000000,
        "Most items one batch may hold (413 beyond)."},
    {"server", "max_request_bytes", CT_BYTES, F(max_request_bytes), "16777216",
        1, 1ull << 40,
        "Largest request body accepted (413 beyond); K, M, G suffixes."},
    {"server", "max_json_items", CT_UINT, F(max_json_items), "1000", 1,
        10000000, "Most items a batch may have in the buffered JSON format."},
    {"server", "max_hops", CT_UINT, F(max_hops), "1", 0, 100,
        "Refuse (508) a batch whose X-Fanoutd-Hops is this or more."},
    {"server", "output_high_water", CT_BYTES, F(output_high_water), "1048576",
        4096, 1ull << 40,
        "A batch stops dispatching while this much of its output is unsent, "
        "and resumes below half of it."},
    {"server", "max_active_batches", CT_UINT, F(max_active_batches), "64", 1,
        100000, "Batches running at once; beyond, 429 with Retry-After."},
    {"server", "cpu_list", CT_CPUS, F(loop_cpus), "", 0, 0,
        "CPUs the event loop thread runs on, like 0 or 0-1 (empty: any)."},
    {"server", "drain_timeout_ms", CT_UINT, F(drain_timeout_ms), "25000", 1,
        MS_MAX,
        "On SIGTERM, running batches get this long before their "
        "remaining items end as cancelled (keep it below TimeoutStopSec)."},
    {"server", "request_read_timeout_ms", CT_UINT, F(request_read_timeout_ms),
        "10000", 1, MS_MAX,
        "Total time a caller has to send a request's headers and body "
        "(408 and close beyond), however slowly it trickles in."},
    {"server", "keepalive_timeout_ms", CT_UINT, F(keepalive_timeout_ms),
        "60000", 1, MS_MAX,
        "An idle caller connection is closed after this long."},
    {"server", "max_connections", CT_UINT, F(max_connections), "1024", 1,
        1000000,
        "Caller connections at once; beyond, the listeners stop accepting "
        "until one closes."},
    {"server", "max_header_bytes", CT_BYTES, F(max_header_bytes), "32768", 1024,
        1048576,
        "Largest request line plus headers (431 beyond, then the "
        "connection closes)."},
    {"server", "max_headers", CT_UINT, F(max_headers), "100", 1, 10000,
        "Most request headers (431 beyond)."},
    {"server", "max_url_bytes", CT_BYTES, F(max_url_bytes), "8192", 256,
        1048576, "Longest request target (414 beyond)."},
    {"server", "auth_tokens_file", CT_PATH, F(auth_tokens_file), "", 0, 0,
        "File of bearer tokens, one per line; when set, every endpoint but "
        "/healthz needs one (re-read on SIGHUP)."},
    {"server", "unix_mode", CT_MODE, F(unix_mode), "0660", 0, 0777,
        "Permissions of unix: listen sockets (octal)."},
    {"server", "tls_cert", CT_PATH, F(tls_cert), "", 0, 0,
        "PEM certificate (chain) that makes the listeners HTTPS (empty: "
        "plain HTTP)."},
    {"server", "tls_key", CT_PATH, F(tls_key), "", 0, 0,
        "PEM private key of tls_cert."},
    {"server", "ui", CT_UI, F(ui), "loopback", 0, 0,
        "The web dashboard at /ui: true (every connection), false (none, "
        "404) or loopback (connections made over loopback or a unix "
        "socket)."},
    {"limits", "concurrency", CT_UINT, F(concurrency), "1024", 1, CONC_MAX,
        "Global cap on in-flight upstream attempts; also the most a "
        "batch may ask for."},
    {"limits", "batch_concurrency", CT_UINT, F(batch_concurrency), "100", 1,
        CONC_MAX, "Concurrency of a batch that names none."},
    {"limits", "per_host_concurrency", CT_UINT, F(per_host_concurrency), "100",
        1, CONC_MAX,
        "Cap on in-flight attempts per origin host, across all batches; "
        "also a batch's default."},
    {"limits", "rate", CT_RATE, F(rate), "0", 0, 1000000,
        "Global cap on upstream attempts per second (0: unlimited)."},
    {"limits", "burst", CT_RATE, F(burst), "0", 0, 1000000,
        "Attempts the global rate lets through at once (0: one second's "
        "worth)."},
    {"limits", "per_host_rate", CT_RATE, F(per_host_rate), "0", 0, 1000000,
        "Cap on attempts per second to one origin host, across all batches "
        "(0: unlimited); also the most a batch may ask for."},
    {"limits", "per_host_burst", CT_RATE, F(per_host_burst), "0", 0, 1000000,
        "Burst of per_host_rate (0: one second's worth)."},
    {"limits", "shared", CT_SHARED, F(shared), "", 0, 0,
        "Redis that shares the global and per-host rates with every "
        "instance pointed at it: redis://HOST:PORT[/DB] or "
        "unix:/PATH[?db=N] (empty: the limits are this instance's)."},
    {"limits", "shared_timeout_ms", CT_UINT, F(shared_timeout_ms), "250", 1,
        60000,
        "A Redis command (or connection) not answered this fast makes the "
        "limits local (the limit divided by the live instances) until "
        "Redis answers again."},
    {"limits", "shared_concurrency", CT_BOOL, F(shared_concurrency), "false", 0,
        0,
        "With shared set: per_host_concurrency holds for every instance on "
        "the same Redis together (leased slots), not for each one."},
    {"limits", "shared_lease_ms", CT_UINT, F(shared_lease_ms), "3000", 2000,
        600000,
        "How long a shared concurrency slot stays taken when its instance "
        "stops renewing it (dies); renewed every third of it."},
    {"upstream", "connect_timeout_ms", CT_UINT, F(connect_timeout_ms), "5000",
        1, MS_MAX, "Default connect timeout of a batch."},
    {"upstream", "timeout_ms", CT_UINT, F(timeout_ms), "30000", 1, MS_MAX,
        "Default per-attempt timeout, dispatch to last body byte."},
    {"upstream", "timeout_cap_ms", CT_UINT, F(timeout_cap_ms), "300000", 1,
        MS_MAX,
        "Most a batch or item may ask for connect_timeout_ms and "
        "timeout_ms."},
    {"upstream", "deadline_ms", CT_UINT, F(deadline_ms), "300000", 1, MS_MAX,
        "Default deadline of a whole batch."},
    {"upstream", "deadline_cap_ms", CT_UINT, F(deadline_cap_ms), "3600000", 1,
        MS_MAX, "Most a batch may ask for deadline_ms."},
    {"upstream", "max_body_bytes", CT_BYTES, F(max_body_bytes), "1048576", 1,
        1ull << 40,
        "Default cap on a response body; the rest is cut (truncated)."},
    {"upstream", "max_body_bytes_cap", CT_BYTES, F(max_body_bytes_cap),
        "16777216", 1, 1ull << 40, "Most a batch may ask for max_body_bytes."},
    {"upstream", "retries", CT_UINT, F(retries), "2", 0, 100,
        "Default retries after a failed attempt (retry_on decides which)."},
    {"upstream", "retries_cap", CT_UINT, F(retries_cap), "10", 0, 100,
        "Most retries a batch or item may ask for."},
    {"upstream", "backoff_ms", CT_UINT, F(backoff_ms), "100", 1, MS_MAX,
        "Backoff bound before the first retry; it doubles for each next."},
    {"upstream", "backoff_max_ms", CT_UINT, F(backoff_max_ms), "10000", 1,
        MS_MAX, "Largest backoff bound; also caps Retry-After."},
    {"upstream", "backoff_cap_ms", CT_UINT, F(backoff_cap_ms), "60000", 1,
        MS_MAX, "Most a batch may ask for backoff_ms and backoff_max_ms."},
    {"upstream", "retry_on", CT_RETRY_ON, F(retry_on), RETRY_ON_DEFAULT, 0, 0,
        "Outcomes retried: connect, dns, timeout, reset, HTTP statuses."},
    {"upstream", "follow_redirects", CT_UINT, F(follow_redirects), "5", 0, 100,
        "Redirects followed by default (0: none)."},
    {"upstream", "redirects_cap", CT_UINT, F(redirects_cap), "20", 0, 100,
        "Most redirects a batch may ask to follow."},
    {"upstream", "tls_verify", CT_BOOL, F(tls_verify), "true", 0, 0,
        "Verify upstream certificates and host names (false: a warning at "
        "start-up; never a batch option)."},
    {"upstream", "ca_file", CT_PATH, F(ca_file), "", 0, 0,
        "PEM file of trusted CAs (empty: the system trust store)."},
    {"upstream", "ca_path", CT_PATH, F(ca_path), "", 0, 0,
        "Directory of hashed CA certificates (empty: none)."},
    {"upstream", "client_cert", CT_PATH, F(client_cert), "", 0, 0,
        "PEM client certificate for mutual TLS upstreams (empty: none)."},
    {"upstream", "client_key", CT_PATH, F(client_key), "", 0, 0,
        "PEM private key of client_cert."},
    {"upstream", "deny", CT_CIDRS, F(deny), "", 0, 0,
        "Address ranges (CIDR) never connected to, beyond the built-in "
        "ones (link-local, metadata, unspecified, multicast, reserved)."},
    {"upstream", "allow", CT_CIDRS, F(allow), "", 0, 0,
        "Address ranges (CIDR) allowed even when a deny range holds them."},
    {"upstream", "deny_private", CT_BOOL, F(deny_private), "false", 0, 0,
        "Also deny loopback, RFC 1918, CGNAT 100.64.0.0/10 and fc00::/7."},
    {"upstream", "user_agent", CT_STRING, F(user_agent),
        "fanoutd/" PACKAGE_VERSION_STR, 0, 0,
        "Default of the user_agent batch option: the User-Agent sent "
        "when neither the item nor the batch sets one (empty: none)."},
    {"upstream", "nameservers", CT_NAMESERVERS, F(nameservers), "", 0, 0,
        "DNS resolvers as ip[:port], separated by commas (empty: "
        "/etc/resolv.conf)."},
    {"upstream", "dns_cache_ms", CT_UINT, F(dns_cache_ms), "10000", 1, MS_MAX,
        "How long a DNS answer is reused."},
    {"upstream", "max_idle_per_host", CT_UINT, F(max_idle_per_host), "100", 0,
        CONC_MAX, "Idle keep-alive connections kept per origin."},
    {"upstream", "max_idle", CT_UINT, F(max_idle), "1024", 0, CONC_MAX,
        "Idle keep-alive connections kept in all."},
    {"upstream", "max_response_header_bytes", CT_BYTES,
        F(max_response_header_bytes), "65536", 1024, 16777216,
        "Largest status line plus headers of an upstream response "
        "(protocol error beyond)."},
    {"upstream", "max_response_headers", CT_UINT, F(max_response_headers),
        "200", 1, 100000,
        "Most headers of an upstream response (protocol error beyond)."},
    {"upstream", "idle_timeout_ms", CT_UINT, F(idle_timeout_ms), "30000", 1,
        MS_MAX, "An idle keep-alive connection is closed after this."},
    {"extract", "threads", CT_UINT, F(extract_threads), "0", 0, 256,
        "Parser threads for HTML extraction (0: one per online CPU)."},
    {"extract", "on_loop", CT_BOOL, F(extract_on_loop), "false", 0, 0,
        "Parse on the event loop thread instead (no threads; every batch "
        "waits while a page parses: for comparison only)."},
    {"jobs", "store_cpu_list", CT_CPUS, F(store_cpus), "", 0, 0,
        "CPUs the job store's threads (writer, reader, files) run on, "
        "like 1 or 2-3 (empty: any)."},
    {"jobs", "dir", CT_PATH, F(jobs_dir), "", 0, 0,
        "Directory of the job store (jobs.db, bodies/); empty: systemd's "
        "StateDirectory, else " CONFIG_JOBS_DIR "."},
    {"jobs", "store", CT_PATH, F(jobs_store), "", 0, 0,
        "Where jobs live: empty for SQLite in dir, or a PostgreSQL "
        "connection URI (postgresql://...) shared by a fleet of fanoutd."},
    {"jobs", "max_active", CT_UINT, F(jobs_max_active), "1000", 1, CONC_MAX,
        "Most jobs queued or running at once (429 beyond)."},
    {"jobs", "max_items", CT_UINT, F(jobs_max_items), "1000000", 1, 100000000,
        "Most items one job may hold (413 beyond)."},
    {"jobs", "max_store_bytes", CT_BYTES, F(jobs_max_store_bytes), "0", 0,
        1ull << 50,
        "Most bytes the store may use, database and bodies (0: no limit; "
        "507 and paused jobs beyond)."},
    {"jobs", "max_body_bytes_cap", CT_BYTES, F(jobs_max_body_bytes_cap),
        "1073741824", 1, 1ull << 40,
        "Most a job may ask for max_body_bytes (bodies past 64 KiB go to "
        "disk as they arrive)."},
    {"jobs", "ttl_s", CT_UINT, F(jobs_ttl_s), "604800", 1, 315360000,
        "How long a finished job is kept, unless it sets its own ttl_s."},
    {"jobs", "durable", CT_BOOL, F(jobs_durable), "true", 0, 0,
        "fsync every commit, so a power loss keeps what was answered "
        "(false: a crash of fanoutd still does)."},
    {"log", "level", CT_LOGLEVEL, F(log_level), "info", 0, 0,
        "error, warn, info or debug."},
};

_Static_assert(ARRAY_SIZE(config_keys) <= CONFIG_MAX_KEYS,
    "CONFIG_MAX_KEYS is too small for the key table");

static const struct cfg_key *
key_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].key, key) == 0)
			return &config_keys[i];
	return NULL;
}

static bool
section_known(const char *section)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (strcmp(config_keys[i].section, section) == 0)
			return true;
	return false;
}

/* "1.2.3.4" or "[::1]" (brackets required for IPv6 with a port). */
static bool
valid_ip(const char *s, size_t n, bool bracketed)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	unsigned char a[16];

	if (n == 0 || n >= sizeof(tmp))
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return bracketed ? inet_pton(AF_INET6, tmp, a) == 1
	                 : inet_pton(AF_INET, tmp, a) == 1;
}

/* host[:port] with a bracketed IPv6 host; port required when need_port. */
static bool
valid_hostport(const char *s, bool need_port)
{
	const char *port = NULL;
	uint64_t v;
	bool ok;

	if (*s == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL)
			return false;
		ok = valid_ip(s + 1, (size_t)(close - s - 1), true);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return false;
	} else {
		const char *colon = strchr(s, ':');

		ok =
		    valid_ip(s, colon ? (size_t)(colon - s) : strlen(s), false);
		if (colon != NULL)
			port = colon + 1;
	}
	if (!ok)
		return false;
	if (port == NULL)
		return !need_port;
	return parse_uint(port, false, &v) == 0 && v <= 65535;
}

/* Split a list on commas and whitespace into the fixed array dst,
 * replacing what it holds (or after it, with append). Nothing is
 * written unless every entry is valid. */
static int
set_list(char (*dst)[CONFIG_ADDR_LEN], unsigned *count, unsigned max,
    const char *value, bool listen, bool append, char *why, size_t whylen)
{
	char tmp[CONFIG_MAX_LISTEN + CONFIG_MAX_NAMESERVERS][CONFIG_ADDR_LEN];
	const char *p = value, *w;
	unsigned n = 0, base = append ? *count : 0;
	size_t len;

	memset(tmp, 0, sizeof(tmp)); /* entries compare whole (reload) */
	while (next_word(&p, &w, &len)) {
		if (len >= CONFIG_ADDR_LEN || base + n == max) {
			snprintf(why, whylen,
			    len >= CONFIG_ADDR_LEN ? "entry too long"
			                           : "at most %u entries",
			    max);
			return -1;
		}
		memcpy(tmp[n], w, len);
		tmp[n][len] = '\0';
		if (listen ? !(strncmp(tmp[n], "unix:/", 6) == 0 ||
		                 valid_hostport(tmp[n], true))
		           : !valid_hostport(tmp[n], false)) {
			snprintf(why, whylen,
			    listen ? "\"%s\" is not ip:port, [ip6]:port or "
			             "unix:/path"
			           : "\"%s\" is not ip[:port] or [ip6][:port]",
			    tmp[n]);
			return -1;
		}
		n++;
	}
	memcpy(dst + base, tmp, n * sizeof(tmp[0]));
	*count = base + n;
	return 0;
}

/* "connect, timeout, 503" (retry_on_parse). */
static int
set_retry_on(struct retry_on *r, const char *value, char *why, size_t whylen)
{
	const char *bad;
	size_t len;

	if (retry_on_parse(value, r, &bad, &len) == 0)
		return 0;
	snprintf(why, whylen,
	    "\"%.*s\" is not connect, dns, timeout, reset or an HTTP status",
	    (int)(len > 20 ? 20 : len), bad);
	return -1;
}

/* A text value of at most max - 1 bytes, copied into field. */
static int
set_text(char *field, size_t max, const char *value, char *why, size_t whylen)
{
	if (strlen(value) >= max) {
		snprintf(why, whylen, "longer than %zu bytes", max - 1);
		return -1;
	}
	strcpy(field, value);
	return 0;
}

/* The keys whose value is a number, a boolean or a word. */
static int
key_set_scalar(struct config *c, const struct cfg_key *k, const char *value,
    char *why, size_t whylen)
{
	char *field = (char *)c + k->off, *end;
	uint64_t v;
	double d;
	long m;
	bool b;
	int lvl;

	switch (k->type) {
	case CT_UINT:
	case CT_BYTES:
		if (parse_uint(value, k->type == CT_BYTES, &v) != 0 ||
		    v < k->min || v > k->max) {
			snprintf(why, whylen,
			    "expected an integer from %llu to %llu%s",
			    (unsigned long long)k->min,
			    (unsigned long long)k->max,
			    k->type == CT_BYTES ? " (K, M, G suffixes allowed)"
			                        : "");
			return -1;
		}
		*(uint64_t *)(void *)field = v;
		return 0;
	case CT_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(why, whylen, "expected true or false");
			return -1;
		}
		*(int *)(void *)field = b;
		return 0;
	case CT_MODE:
		m = strtol(value, &end, 8);
		if (*value == '\0' || *end != '\0' || m < 0 ||
		    (uint64_t)m > k->max) {
			snprintf(
			    why, whylen, "expected an octal mode like 0660");
			return -1;
		}
		*(int *)(void *)field = (int)m;
		return 0;
	case CT_RATE:
		if (parse_number(value, &d) != 0 || !(d >= 0) ||
		    d > (double)k->max) {
			snprintf(why, whylen,
			    "expected a number from 0 to %llu",
			    (unsigned long long)k->max);
			return -1;
		}
		*(double *)(void *)field = d;
		return 0;
	case CT_UI:
		if (strcmp(value, "loopback") == 0) {
			c->ui = CONFIG_UI_LOOPBACK;
		} else if (parse_bool(value, &b) == 0) {
			c->ui = b ? CONFIG_UI_ON : CONFIG_UI_OFF;
		} else {
			snprintf(
			    why, whylen, "expected true, false or loopback");
			return -1;
		}
		return 0;
	case CT_LOGLEVEL:
		if ((lvl = log_level_parse(value)) < 0) {
			snprintf(
			    why, whylen, "expected error, warn, info or debug");
			return -1;
		}
		c->log_level = lvl;
		return 0;
	default:
		return -1;
	}
}

/* Parse value as key k's type into c; -1 with a reason in why. */
static int
key_set(struct config *c, const struct cfg_key *k, const char *value, char *why,
    size_t whylen)
{
	char *field = (char *)c + k->off;
	struct shared_addr addr;
	char bad[64];

	switch (k->type) {
	case CT_PATH:
		return set_text(field, CONFIG_PATH_LEN, value, why, whylen);
	case CT_STRING:
		return set_text(field, CONFIG_ADDR_LEN, value, why, whylen);
	case CT_CIDRS:
		/* Too long: set_text says so. */
		if (strlen(value) < CONFIG_LIST_LEN &&
		    egress_check_list(value, bad, sizeof(bad)) != 0) {
			snprintf(why, whylen,
			    "\"%s\" is not a CIDR like 10.0.0.0/8 or fe80::/10",
			    bad);
			return -1;
		}
		return set_text(field, CONFIG_LIST_LEN, value, why, whylen);
	case CT_LISTEN:
		if (set_list(c->listen, &c->nlisten, CONFIG_MAX_LISTEN, value,
		        true, false, why, whylen) != 0)
			return -1;
		if (c->nlisten == 0) {
			snprintf(why, whylen, "at least one address is needed");
			return -1;
		}
		return 0;
	case CT_NAMESERVERS:
		return set_list(c->nameservers, &c->nnameservers,
		    CONFIG_MAX_NAMESERVERS, value, false, false, why, whylen);
	case CT_RETRY_ON:
		return set_retry_on(
		    (struct retry_on *)(void *)field, value, why, whylen);
	case CT_CPUS:
		return cpus_parse(
		    value, (struct cpus *)(void *)field, why, whylen);
	case CT_SHARED:
		if (value[0] != '\0' &&
		    shared_addr_parse(value, &addr, why, whylen) != 0)
			return -1;
		return set_text(field, CONFIG_PATH_LEN, value, why, whylen);
	default:
		return key_set_scalar(c, k, value, why, whylen);
	}
}

/* The lists, which a file may name more than once. */
static bool
key_is_list(const struct cfg_key *k)
{
	return k->type == CT_LISTEN || k->type == CT_CIDRS ||
	    k->type == CT_NAMESERVERS || k->type == CT_RETRY_ON;
}

/* A list key set again in the same file: its entries add up. */
static int
key_append(struct config *c, const struct cfg_key *k, const char *value,
    char *why, size_t whylen)
{
	char *field = (char *)c + k->off;
	struct retry_on r;
	char bad[64];
	size_t i;

	switch (k->type) {
	case CT_LISTEN:
		return set_list(c->listen, &c->nlisten, CONFIG_MAX_LISTEN,
		    value, true, true, why, whylen);
	case CT_NAMESERVERS:
		return set_list(c->nameservers, &c->nnameservers,
		    CONFIG_MAX_NAMESERVERS, value, false, true, why, whylen);
	case CT_CIDRS:
		if (egress_check_list(value, bad, sizeof(bad)) != 0) {
			snprintf(why, whylen,
			    "\"%s\" is not a CIDR like 10.0.0.0/8 or fe80::/10",
			    bad);
			return -1;
		}
		if (strlen(field) + strlen(value) + 2 >= CONFIG_LIST_LEN) {
			snprintf(why, whylen, "longer than %d bytes in all",
			    CONFIG_LIST_LEN - 1);
			return -1;
		}
		if (field[0] != '\0' && value[0] != '\0')
			strcat(field, ", ");
		strcat(field, value);
		return 0;
	case CT_RETRY_ON:
		if (set_retry_on(&r, value, why, whylen) != 0)
			return -1;
		c->retry_on.classes |= r.classes;
		for (i = 0; i < sizeof(r.statuses); i++)
			c->retry_on.statuses[i] |= r.statuses[i];
		return 0;
	default:
		return -1;
	}
}

int
config_set(struct config *c, const char *section, const char *key,
    const char *value, char *why, size_t whylen)
{
	const struct cfg_key *k = key_find(section, key);

	if (k == NULL) {
		snprintf(why, whylen,
		    section_known(section) ? "unknown key" : "unknown section");
		return -1;
	}
	if (key_set(c, k, value, why, whylen) != 0)
		return -1;
	c->line[k - config_keys] = CONFIG_LINE_FLAG;
	return 0;
}

void
config_defaults(struct config *c)
{
	char why[256];
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (key_set(c, &config_keys[i], config_keys[i].def, why,
		        sizeof(why)) != 0)
			abort(); /* a default the parser refuses: a bug */
}

/* A file being parsed: its text, read line by line for libinih, which
 * does not say which line a key is on. */
struct load_ctx {
	struct config *c;
	struct config_error *err;
	const char *text, *end, *pos;
	uint32_t line; /* the line being read (from 1) */
	bool at_line_start;
};

/* libinih's reader: the next piece of the text, up to a line's end
 * (a line longer than num comes in several pieces). */
static char *
config_reader(char *str, int num, void *stream)
{
	struct load_ctx *ctx = stream;
	const char *nl;
	size_t n;

	if (ctx->pos >= ctx->end || num < 2)
		return NULL;
	nl = memchr(ctx->pos, '\n', (size_t)(ctx->end - ctx->pos));
	n = (size_t)((nl ? nl + 1 : ctx->end) - ctx->pos);
	if (n > (size_t)num - 1)
		n = (size_t)num - 1;
	if (ctx->at_line_start)
		ctx->line++;
	memcpy(str, ctx->pos, n);
	str[n] = '\0';
	ctx->pos += n;
	ctx->at_line_start = str[n - 1] == '\n';
	return str;
}

static int
config_ini_cb(
    void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *ctx = user;
	const struct cfg_key *k = key_find(section, name);
	char *why = ctx->err->message;
	size_t whylen = sizeof(ctx->err->message);
	uint32_t *line;
	int rc;

	snprintf(ctx->err->section, sizeof(ctx->err->section), "%s", section);
	snprintf(ctx->err->key, sizeof(ctx->err->key), "%s", name);
	if (k == NULL) {
		snprintf(why, whylen,
		    section_known(section) ? "unknown key" : "unknown section");
		return 0;
	}
	line = &ctx->c->line[k - config_keys];
	if (*line == 0)
		rc = key_set(ctx->c, k, value, why, whylen);
	else if (key_is_list(k))
		rc = key_append(ctx->c, k, value, why, whylen);
	else {
		snprintf(why, whylen,
		    "set twice, on lines %u and %u: a key is set once (only "
		    "listen, deny, allow, nameservers and retry_on add up)",
		    (unsigned)*line, (unsigned)ctx->line);
		return 0;
	}
	if (rc != 0)
		return 0;
	if (*line == 0)
		*line = ctx->line; /* a list keeps its first line */
	ctx->err->section[0] = ctx->err->key[0] = '\0';
	return 1;
}

static int
config_load(struct config *c, const char *path, const char *text, size_t len,
    struct config_error *err)
{
	struct load_ctx ctx = {c, err, text, text + len, text, 0, true};
	int rc;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	ini_stop_on_first_error = true;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 65536;
	rc = ini_parse_stream(config_reader, &ctx, config_ini_cb, &ctx);
	if (rc == 0)
		return 0;
	if (rc == -2) {
		snprintf(err->message, sizeof(err->message), "out of memory");
	} else {
		err->line = rc;
		if (err->message[0] == '\0')
			snprintf(err->message, sizeof(err->message),
			    "syntax error (expected [section] or key = value)");
	}
	return -1;
}

/* err: path cannot be the configuration (why, as a format for it). */
static int
file_error(struct config_error *err, const char *path, const char *why)
{
	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path);
	snprintf(err->message, sizeof(err->message), "%s", why);
	return -1;
}

int
config_load_file(struct config *c, const char *path, struct config_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
	struct stat st;
	char *text, why[200];
	ssize_t n;

	if (fd < 0) {
		snprintf(why, sizeof(why), "cannot open: %s", strerror(errno));
		return file_error(err, path, why);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0 ||
	    st.st_size > CONFIG_MAX_FILE) {
		snprintf(why, sizeof(why), "%s",
		    S_ISDIR(st.st_mode)        ? "is a directory, not a file"
		        : !S_ISREG(st.st_mode) ? "is not a regular file"
		        : st.st_size == 0
		        ? "is empty (to run on the built-in defaults, give "
		          "no -c)"
		        : "is over 1 MiB: not a configuration file");
		close(fd);
		return file_error(err, path, why);
	}
	text = xmalloc((size_t)st.st_size);
	n = read(fd, text, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		snprintf(why, sizeof(why), "cannot read: %s",
		    n < 0 ? strerror(errno) : "it changed while being read");
		free(text);
		return file_error(err, path, why);
	}
	rc = config_load(c, path, text, (size_t)n, err);
	free(text);
	return rc;
}

int
config_load_string(struct config *c, const char *text, const char *name,
    struct config_error *err)
{
	return config_load(c, name, text, strlen(text), err);
}

void
config_error_at(const struct config *c, struct config_error *err,
    const char *section, const char *key)
{
	const struct cfg_key *k = key_find(section, key);
	uint32_t line = k ? c->line[k - config_keys] : 0;

	snprintf(err->section, sizeof(err->section), "%s", section);
	snprintf(err->key, sizeof(err->key), "%s", key);
	err->line = line == CONFIG_LINE_FLAG ? 0 : (int)line;
	if (line == CONFIG_LINE_FLAG)
		snprintf(err->file, sizeof(err->file), "command line");
	else if (line == 0)
		err->file[0] = '\0'; /* a built-in default */
}

bool
config_key_set(const struct config *c, const char *section, const char *key)
{
	const struct cfg_key *k = key_find(section, key);

	return k != NULL && c->line[k - config_keys] != 0;
}

size_t
config_key_count(void)
{
	return ARRAY_SIZE(config_keys);
}

const struct config_key_info *
config_key_at(size_t i)
{
	static struct config_key_info info[ARRAY_SIZE(config_keys)];

	if (i >= config_key_count())
		return NULL;
	info[i].section = config_keys[i].section;
	info[i].key = config_keys[i].key;
	info[i].def = config_keys[i].def;
	info[i].doc = config_keys[i].doc;
	return &info[i];
}

const struct config_key_info *
config_key_of_field(size_t field)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(config_keys); i++)
		if (config_keys[i].off == field)
			return config_key_at(i);
	return NULL;
}
