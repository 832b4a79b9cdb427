/*
 * preflight.c - the checks of a configuration's files (see preflight.h).
 * Each named file is first opened as itself - so the message names its
 * key and says "no such file" or "is a directory" - then loaded by the
 * very function start-up uses (auth_load, tls_server_ctx,
 * tls_client_ctx), so a file -t accepts is one start-up accepts.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "auth.h"
#include "listen.h"
#include "options.h"
#include "preflight.h"
#include "tls.h"
#include "util.h"

/* err: [section] key (where c set it) and why. Always -1. */
static int
fail(const struct config *c, const char *path, struct config_error *err,
    const char *section, const char *key, const char *why)
{
	const char *tail = why;

	memset(err, 0, sizeof(*err));
	snprintf(err->file, sizeof(err->file), "%s", path ? path : "");
	config_error_at(c, err, section, key);
	/* The loaders name their keys ("[server] tls_cert / tls_key: ..."):
	 * err names the key already. */
	if (why[0] == '[' && (tail = strstr(why, ": ")) != NULL)
		tail += 2;
	else
		tail = why;
	snprintf(err->message, sizeof(err->message), "%s", tail);
	return -1;
}

/* Can the file (or, with dir, the directory) at p be opened and read?
 * Returns 0, or -1 with why. */
static int
readable(const char *p, bool dir, char *why, size_t whylen)
{
	struct stat st;
	int fd;

	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot open %s: %s", p, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 ||
	    (dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		snprintf(why, whylen, "%s is %s", p,
		    dir                       ? "not a directory"
		        : S_ISDIR(st.st_mode) ? "a directory, not a file"
		                              : "not a regular file");
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int
preflight_check(
    const struct config *c, const char *path, struct config_error *err)
{
	static const struct {
		const char *section, *key;
		size_t off;
		bool dir;
	} files[] = {
	    {"server", "auth_tokens_file",
	        offsetof(struct config, auth_tokens_file), false},
	    {"server", "tls_cert", offsetof(struct config, tls_cert), false},
	    {"server", "tls_key", offsetof(struct config, tls_key), false},
	    {"upstream", "ca_file", offsetof(struct config, ca_file), false},
	    {"upstream", "ca_path", offsetof(struct config, ca_path), true},
	    {"upstream", "client_cert", offsetof(struct config, client_cert),
	        false},
	    {"upstream", "client_key", offsetof(struct config, client_key),
	        false},
	};
	struct auth a = {NULL, 0};
	char why[300];
	SSL_CTX *ctx;
	unsigned i;

	for (i = 0; i < ARRAY_SIZE(files); i++) {
		const char *f = (const char *)c + files[i].off;

		if (f[0] != '\0' &&
		    readable(f, files[i].dir, why, sizeof(why)) != 0)
			return fail(
			    c, path, err, files[i].section, files[i].key, why);
	}
	if (c->auth_tokens_file[0] != '\0') {
		if (auth_load(&a, c->auth_tokens_file, why, sizeof(why)) != 0)
			return fail(
			    c, path, err, "server", "auth_tokens_file", why);
		auth_free(&a);
	}
	if (c->tls_cert[0] != '\0') {
		if ((ctx = tls_server_ctx(c, why, sizeof(why))) == NULL)
			return fail(c, path, err, "server", "tls_cert", why);
		SSL_CTX_free(ctx);
	}
	if ((ctx = tls_client_ctx(c, why, sizeof(why))) == NULL)
		return fail(c, path, err, "upstream",
		    c->client_cert[0] && strstr(why, "client_cert")
		        ? "client_cert"
		        : c->ca_file[0] ? "ca_file"
		                        : "ca_path",
		    why);
	SSL_CTX_free(ctx);
	for (i = 0; i < c->nlisten; i++)
		if (strncmp(c->listen[i], "unix:", 5) == 0 &&
		    listen_check_unix(c->listen[i] + 5, why, sizeof(why)) != 0)
			return fail(c, path, err, "server", "listen", why);
	return 0;
}

unsigned
preflight_warnings(const struct config *c, void (*warn)(const char *msg))
{
	return config_warnings(c, warn) + opts_warnings(c, warn);
}
