/*
 * config_rules.c - relations between configuration keys (see config.h):
 * keys that need each other (config_check), settings worth a warning
 * (config_warnings; a default above its cap is the batch options'
 * opts_warnings), what a reload loosens (config_loosened), and the one
 * format of a configuration error.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "util.h"

/* err names key, where c set it: it needs other_key set too. */
static int
needs(const struct config *c, struct config_error *err, const char *section,
    const char *key, const char *other_key)
{
	memset(err, 0, sizeof(*err));
	config_error_at(c, err, section, key);
	snprintf(err->message, sizeof(err->message), "needs %s too", other_key);
	return -1;
}

int
config_check(const struct config *c, struct config_error *err)
{
	if ((c->tls_cert[0] != '\0') != (c->tls_key[0] != '\0'))
		return c->tls_cert[0]
		    ? needs(c, err, "server", "tls_cert", "tls_key")
		    : needs(c, err, "server", "tls_key", "tls_cert");
	if ((c->client_cert[0] != '\0') != (c->client_key[0] != '\0'))
		return c->client_cert[0]
		    ? needs(c, err, "upstream", "client_cert", "client_key")
		    : needs(c, err, "upstream", "client_key", "client_cert");
	if (c->shared_concurrency && c->shared[0] == '\0')
		return needs(c, err, "limits", "shared_concurrency", "shared");
	return 0;
}

unsigned
config_warnings(const struct config *c, void (*warn)(const char *msg))
{
	unsigned n = 0;

	if (!c->tls_verify) {
		if (warn != NULL)
			warn("[upstream] tls_verify is false: upstream "
			     "certificates are not verified");
		n++;
	}
	return n;
}

void
config_error_format(const struct config_error *err, char *out, size_t outlen)
{
	size_t n = 0;

	out[0] = '\0';
	if (err->file[0] != '\0')
		n += (size_t)snprintf(out + n, outlen - n, "%s:", err->file);
	if (err->line > 0 && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, "%d:", err->line);
	if (n > 0 && n < outlen)
		n += (size_t)snprintf(out + n, outlen - n, " ");
	if (err->section[0] != '\0' && n < outlen)
		n += (size_t)snprintf(
		    out + n, outlen - n, "[%s] %s: ", err->section, err->key);
	if (n < outlen)
		snprintf(out + n, outlen - n, "%s", err->message);
}

/* Does the list `in` (CIDRs, separated by commas and blanks) hold the
 * entry e[0..n)? */
static bool
list_has(const char *in, const char *e, size_t n)
{
	const char *p = in, *w;
	size_t len;

	while (next_word(&p, &w, &len))
		if (len == n && memcmp(w, e, n) == 0)
			return true;
	return false;
}

/* Warn "<key> <verb> <entry>: <why>" for each entry of `from` missing
 * from `to`. */
static unsigned
list_missing(const char *from, const char *to, const char *key_verb,
    const char *why, void (*warn)(const char *msg))
{
	const char *p = from, *w;
	char msg[256];
	unsigned n = 0;
	size_t len;

	while (next_word(&p, &w, &len)) {
		if (list_has(to, w, len))
			continue;
		snprintf(msg, sizeof(msg), "%s %.*s: %s", key_verb, (int)len, w,
		    why);
		warn(msg);
		n++;
	}
	return n;
}

unsigned
config_loosened(const struct config *old, const struct config *next,
    void (*warn)(const char *msg))
{
	unsigned n = 0;

	if (old->auth_tokens_file[0] != '\0' &&
	    next->auth_tokens_file[0] == '\0') {
		warn("[server] auth_tokens_file is no longer set: "
		     "authentication is OFF, every endpoint now answers "
		     "without a token");
		n++;
	}
	if (old->deny_private && !next->deny_private) {
		warn("[upstream] deny_private is now false: batches may reach "
		     "loopback, RFC 1918, CGNAT and fc00::/7 addresses");
		n++;
	}
	n += list_missing(old->deny, next->deny,
	    "[upstream] deny no longer lists", "batches may reach it", warn);
	n += list_missing(next->allow, old->allow, "[upstream] allow now lists",
	    "batches may reach it even where a deny range holds it", warn);
	return n;
}
