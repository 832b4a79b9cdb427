/*
 * listen.h - the listening sockets of [server] listen: TCP "ip:port",
 * "[ip6]:port" and "unix:/path", bound on an evhttp.
 *
 * A unix socket path is never taken from a live process: a path that
 * accepts a connection belongs to another instance, and start-up is
 * refused; only a stale socket (connection refused) is replaced, and a
 * path that is not a socket is never touched. At exit a path is
 * removed only while it is still the socket this process bound (same
 * device and inode), so a successor's socket survives us.
 */
#ifndef FANOUTD_LISTEN_H
#define FANOUTD_LISTEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <event2/http.h>

#include "config.h"

struct listen_unix {
	char *path;
	dev_t dev;
	ino_t ino;
};

struct listeners {
	struct evhttp_bound_socket *bound[CONFIG_MAX_LISTEN];
	unsigned nbound;
	struct listen_unix unix_socks[CONFIG_MAX_LISTEN];
	unsigned nunix;
};

/*
 * Bind every cfg->listen address on http (unix sockets with mode
 * [server] unix_mode). Logs each, with the real port when the
 * configured one was 0 (https: the scheme to log). Returns 0, or -1
 * with why; what was bound stays in l for listen_close.
 */
int listen_open(struct listeners *l, struct evhttp *http,
    const struct config *cfg, bool https, char *why, size_t whylen);

/*
 * Can a unix socket be created at path? Its directory must exist, and
 * a socket file there must be stale. What -t checks without binding:
 * 0, or -1 with why.
 */
int listen_check_unix(const char *path, char *why, size_t whylen);

/* The TCP addresses bound (real ports): up to max; returns how many. */
unsigned listen_addrs(
    const struct listeners *l, struct sockaddr_storage *out, unsigned max);

/* Stop accepting (drain): the sockets close, unix paths stay ours. */
void listen_stop(struct listeners *l, struct evhttp *http);

/* At exit: remove the unix paths that are still our sockets. */
void listen_close(struct listeners *l);

#endif
