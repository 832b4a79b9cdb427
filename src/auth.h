/*
 * auth.h - bearer tokens for the caller's side ([server]
 * auth_tokens_file). Tokens are kept only as SHA-256 digests, and a
 * presented token is compared with every digest in constant time, so
 * neither the tokens nor their lengths leak through memory or timing.
 * They are never logged.
 */
#ifndef FANOUTD_AUTH_H
#define FANOUTD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct auth {
	unsigned char (*digests)[32];
	size_t n; /* 0: authentication is off */
};

/* Tokens from text: one per line, surrounding blanks trimmed, blank
 * lines and lines starting with # skipped. Replaces what a held. */
void auth_parse(struct auth *a, const char *text, size_t len);

/* auth_parse() on the file at path. Returns 0, or -1 with why (a is
 * then unchanged). A file without a token is an error: it would lock
 * every caller out. */
int auth_load(struct auth *a, const char *path, char *why, size_t whylen);

/* Does the Authorization header value carry a known bearer token?
 * Always true when authentication is off. */
bool auth_check(const struct auth *a, const char *authorization);

void auth_free(struct auth *a);

#endif
