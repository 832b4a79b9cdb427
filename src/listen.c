/*
 * listen.c - binding [server] listen addresses (see listen.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "listen.h"
#include "log.h"
#include "util.h"

int
listen_check_unix(const char *path, char *why, size_t whylen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	struct stat st;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(why, whylen, "unix socket path too long: %s", path);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	if (stat(dirname(dir), &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, whylen,
		    "cannot listen on unix:%s: its directory does not exist",
		    path);
		return -1;
	}
	if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
		snprintf(why, whylen,
		    "cannot listen on unix:%s: the path exists and is not a "
		    "socket",
		    path);
		return -1;
	}
	return 0;
}

/*
 * Is a live process listening at path? Returns 1 (it accepts a
 * connection, or its queue is full), 0 (nothing there, or a stale
 * socket: refused), -1 with errno when it cannot be told.
 */
static int
unix_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc;

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS)
		rc = 1;
	else if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
	else
		rc = -1;
	close(fd);
	return rc;
}

/* Bind a unix socket at path, mode unix_mode; a stale socket there is
 * replaced, a live one refused. */
static int
listen_unix(struct listeners *l, struct evhttp *http, const char *path,
    int mode, char *why, size_t whylen)
{
	struct listen_unix *u = &l->unix_socks[l->nunix];
	struct sockaddr_un sun;
	struct stat st;
	evutil_socket_t fd;
	int alive;

	if (listen_check_unix(path, why, whylen) != 0)
		return -1;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, path);
	if (lstat(path, &st) == 0) {
		if ((alive = unix_alive(&sun)) != 0) {
			snprintf(why, whylen,
			    alive > 0 ? "cannot listen on unix:%s: another "
			                "process (is fanoutd running?) listens "
			                "there"
			              : "cannot listen on unix:%s: cannot tell "
			                "whether its socket is in use",
			    path);
			return -1;
		}
		log_info("unix:%s: removing a stale socket", path);
		unlink(path);
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 ||
	    lstat(path, &st) != 0 || chmod(path, (mode_t)mode) != 0 ||
	    listen(fd, 511) != 0 || evutil_make_socket_nonblocking(fd) != 0) {
		close(fd);
		goto fail;
	}
	u->path = xstrdup(path);
	u->dev = st.st_dev;
	u->ino = st.st_ino;
	l->nunix++;
	if ((l->bound[l->nbound] =
	            evhttp_accept_socket_with_handle(http, fd)) == NULL) {
		close(fd);
		goto fail;
	}
	l->nbound++;
	log_info("listening on unix:%s", path);
	return 0;
fail:
	snprintf(
	    why, whylen, "cannot listen on unix:%s: %s", path, strerror(errno));
	return -1;
}

/* Bind "ip:port" or "[ip6]:port"; logs the real port. */
static int
listen_tcp(struct listeners *l, struct evhttp *http, const char *spec,
    bool https, char *why, size_t whylen)
{
	char host[CONFIG_ADDR_LEN], ip[INET6_ADDRSTRLEN];
	const char *colon = strrchr(spec, ':');
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	size_t hlen;
	unsigned port;

	if (colon == NULL || (hlen = (size_t)(colon - spec)) >= sizeof(host)) {
		snprintf(why, whylen, "bad listen address: %s", spec);
		return -1;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']') {
		memmove(host, host + 1, hlen - 2);
		host[hlen - 2] = '\0';
	}
	port = (unsigned)strtoul(colon + 1, NULL, 10);
	if ((bs = evhttp_bind_socket_with_handle(http, host, (uint16_t)port)) ==
	    NULL) {
		snprintf(why, whylen, "cannot listen on %s: %s", spec,
		    strerror(errno));
		return -1;
	}
	l->bound[l->nbound++] = bs;
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	        &sslen) != 0)
		return 0;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		log_info("listening on %s://[%s]:%u", https ? "https" : "http",
		    ip, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		log_info("listening on %s://%s:%u", https ? "https" : "http",
		    ip, ntohs(s4->sin_port));
	}
	return 0;
}

int
listen_open(struct listeners *l, struct evhttp *http, const struct config *cfg,
    bool https, char *why, size_t whylen)
{
	unsigned i;

	for (i = 0; i < cfg->nlisten; i++) {
		const char *a = cfg->listen[i];
		int rc = strncmp(a, "unix:", 5) == 0
		    ? listen_unix(l, http, a + 5, cfg->unix_mode, why, whylen)
		    : listen_tcp(l, http, a, https, why, whylen);

		if (rc != 0)
			return -1;
	}
	return 0;
}

unsigned
listen_addrs(
    const struct listeners *l, struct sockaddr_storage *out, unsigned max)
{
	unsigned i, n = 0;

	for (i = 0; i < l->nbound && n < max; i++) {
		socklen_t len = sizeof(out[n]);

		if (getsockname(evhttp_bound_socket_get_fd(l->bound[i]),
		        (struct sockaddr *)&out[n], &len) == 0 &&
		    (out[n].ss_family == AF_INET ||
		        out[n].ss_family == AF_INET6))
			n++;
	}
	return n;
}

void
listen_stop(struct listeners *l, struct evhttp *http)
{
	unsigned i;

	for (i = 0; i < l->nbound; i++)
		evhttp_del_accept_socket(http, l->bound[i]);
	l->nbound = 0;
}

void
listen_close(struct listeners *l)
{
	struct stat st;
	unsigned i;

	for (i = 0; i < l->nunix; i++) {
		struct listen_unix *u = &l->unix_socks[i];

		if (lstat(u->path, &st) == 0 && st.st_ino == u->ino &&
		    st.st_dev == u->dev)
			unlink(u->path);
		else
			log_info("unix:%s is no longer our socket: left alone",
			    u->path);
		free(u->path);
	}
	l->nunix = 0;
}
