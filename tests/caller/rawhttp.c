/*
 * rawhttp.c - a caller that speaks raw bytes, for the tests that attack
 * fanoutd's own HTTP server: it connects (TCP, a unix socket, or TLS
 * over TCP), sends its standard input exactly as given - whole, or in
 * pieces of N bytes with a pause between them - optionally half-closes
 * its side (shutdown(SHUT_WR), after a TLS close_notify), then copies
 * whatever comes back to standard output until the server closes.
 *
 * Exit status: 0 when the server closed the connection, 3 when it was
 * still open after --wait-ms of silence (so a test can tell "answered
 * and closed" from "answered and kept open"), 1 on an error.
 *
 *   rawhttp [--tls] [--unix PATH | HOST PORT] [--pieces N]
 *           [--pause-ms MS] [--half-close] [--wait-ms MS]
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct peer {
	int fd;
	SSL *ssl; /* NULL: plain */
};

static void
die(const char *what)
{
	fprintf(stderr, "rawhttp: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
die_tls(const char *what)
{
	fprintf(stderr, "rawhttp: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int
dial_tcp(const char *host, const char *port)
{
	struct addrinfo hints, *res, *ai;
	int fd = -1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		fprintf(stderr, "rawhttp: cannot resolve %s\n", host);
		exit(1);
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0)
		die("connect");
	return fd;
}

static int
dial_unix(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "rawhttp: path too long\n");
		exit(1);
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		die("connect");
	return fd;
}

static void
send_all(struct peer *p, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n;

		if (p->ssl != NULL) {
			int r = SSL_write(p->ssl, data, (int)len);

			if (r <= 0)
				die_tls("SSL_write failed");
			n = r;
		} else if ((n = send(p->fd, data, len, MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			die("send");
		}
		data += n;
		len -= (size_t)n;
	}
}

/* Read what arrives until the peer closes (0) or wait_ms pass with
 * nothing to read (3). */
static int
copy_reply(struct peer *p, int wait_ms)
{
	struct pollfd pfd = {p->fd, POLLIN, 0};
	char buf[16384];

	for (;;) {
		ssize_t n;

		if (p->ssl == NULL || SSL_pending(p->ssl) == 0) {
			int r = poll(&pfd, 1, wait_ms);

			if (r < 0 && errno == EINTR)
				continue;
			if (r == 0)
				return 3;
		}
		if (p->ssl != NULL) {
			int r = SSL_read(p->ssl, buf, sizeof(buf));

			if (r <= 0) {
				int e = SSL_get_error(p->ssl, r);

				if (e == SSL_ERROR_WANT_READ)
					continue;
				return 0; /* close_notify, EOF or reset */
			}
			n = r;
		} else if ((n = recv(p->fd, buf, sizeof(buf), 0)) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			return 0; /* EOF, or a reset: closed either way */
		}
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n)
			die("write");
		fflush(stdout);
	}
}

static char *
slurp_stdin(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *data = malloc(cap);
	ssize_t r;

	if (data == NULL)
		die("malloc");
	while ((r = read(0, data + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap && (data = realloc(data, cap *= 2)) == NULL)
			die("realloc");
	}
	if (r < 0)
		die("read");
	*len = n;
	return data;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: rawhttp [--tls] [--unix PATH | HOST PORT] [--pieces N]\n"
	    "               [--pause-ms MS] [--half-close] [--wait-ms MS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *unix_path = NULL, *host = NULL, *port = NULL;
	size_t pieces = 0, len, off = 0;
	int pause_ms = 0, wait_ms = 2000, i, rc;
	bool tls = false, half = false;
	struct peer p = {-1, NULL};
	SSL_CTX *ctx = NULL;
	char *data;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--tls") == 0)
			tls = true;
		else if (strcmp(argv[i], "--half-close") == 0)
			half = true;
		else if (strcmp(argv[i], "--unix") == 0 && i + 1 < argc)
			unix_path = argv[++i];
		else if (strcmp(argv[i], "--pieces") == 0 && i + 1 < argc)
			pieces = (size_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--pause-ms") == 0 && i + 1 < argc)
			pause_ms = atoi(argv[++i]);
		else if (strcmp(argv[i], "--wait-ms") == 0 && i + 1 < argc)
			wait_ms = atoi(argv[++i]);
		else if (argv[i][0] == '-')
			usage();
		else if (host == NULL)
			host = argv[i];
		else if (port == NULL)
			port = argv[i];
		else
			usage();
	}
	if (unix_path == NULL && (host == NULL || port == NULL))
		usage();
	data = slurp_stdin(&len);
	p.fd = unix_path ? dial_unix(unix_path) : dial_tcp(host, port);
	if (tls) {
		/* The tests attack framing, not certificates. */
		if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
		    (p.ssl = SSL_new(ctx)) == NULL ||
		    SSL_set_fd(p.ssl, p.fd) != 1 || SSL_connect(p.ssl) != 1)
			die_tls("TLS handshake failed");
	}
	while (off < len) {
		size_t n = pieces && pieces < len - off ? pieces : len - off;

		send_all(&p, data + off, n);
		off += n;
		if (off < len && pause_ms > 0) {
			struct timespec ts = {pause_ms / 1000,
			    (long)(pause_ms % 1000) * 1000000L};

			nanosleep(&ts, NULL);
		}
	}
	if (half) {
		if (p.ssl != NULL)
			SSL_shutdown(p.ssl); /* our close_notify */
		shutdown(p.fd, SHUT_WR);
	}
	rc = copy_reply(&p, wait_ms);
	if (p.ssl != NULL)
		SSL_free(p.ssl);
	SSL_CTX_free(ctx);
	close(p.fd);
	free(data);
	return rc;
}
