/*
 * auth.c - bearer token checks (see auth.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "auth.h"
#include "util.h"

void
auth_free(struct auth *a)
{
	if (a->digests != NULL)
		OPENSSL_cleanse(a->digests, a->n * sizeof(*a->digests));
	free(a->digests);
	a->digests = NULL;
	a->n = 0;
}

void
auth_parse(struct auth *a, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *tok;
	struct auth out = {NULL, 0};
	size_t cap = 0, n;

	while (next_text_line(&p, end, &tok, &n)) {
		if (out.n == cap) {
			cap = cap ? cap * 2 : 8;
			out.digests =
			    xrealloc(out.digests, cap * sizeof(*out.digests));
		}
		SHA256((const unsigned char *)tok, n, out.digests[out.n++]);
	}
	auth_free(a);
	*a = out;
}

int
auth_load(struct auth *a, const char *path, char *why, size_t whylen)
{
	struct auth tmp = {NULL, 0};
	char *text = NULL;
	size_t len = 0, cap = 0;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL) {
		snprintf(why, whylen,
		    "[server] auth_tokens_file: cannot open "
		    "%s: %s",
		    path, strerror(errno));
		return -1;
	}
	do {
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			text = xrealloc(text, cap);
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0 && len < (1u << 24));
	fclose(f);
	auth_parse(&tmp, text ? text : "", len);
	if (text != NULL) {
		OPENSSL_cleanse(text, len);
		free(text);
	}
	if (tmp.n == 0) {
		snprintf(why, whylen,
		    "[server] auth_tokens_file: %s holds no token", path);
		return -1;
	}
	auth_free(a);
	*a = tmp;
	return 0;
}

bool
auth_check(const struct auth *a, const char *authorization)
{
	unsigned char d[32];
	int match = 0;
	size_t i;

	if (a->n == 0)
		return true;
	if (authorization == NULL ||
	    strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	authorization += 7;
	while (*authorization == ' ')
		authorization++;
	SHA256((const unsigned char *)authorization, strlen(authorization), d);
	/* Every digest, no early exit. */
	for (i = 0; i < a->n; i++)
		match |= CRYPTO_memcmp(d, a->digests[i], sizeof(d)) == 0;
	return match != 0;
}
