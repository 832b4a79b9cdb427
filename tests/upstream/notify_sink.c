/*
 * notify_sink.c - stands in for systemd's notification socket in tests:
 * binds a unix datagram socket at the given path and prints every
 * message it receives on a line of its own (newlines inside a message
 * become spaces), flushing each, until SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_un sun;
	char msg[4096];
	ssize_t n, i;
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "usage: notify-sink PATH\n");
		return 2;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, argv[1]);
	unlink(argv[1]);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		perror("notify-sink");
		return 1;
	}
	signal(SIGTERM, SIG_DFL);
	while ((n = recv(fd, msg, sizeof(msg) - 1, 0)) >= 0) {
		for (i = 0; i < n; i++)
			if (msg[i] == '\n')
				msg[i] = ' ';
		msg[n] = '\0';
		printf("%s\n", msg);
		fflush(stdout);
	}
	return 0;
}
