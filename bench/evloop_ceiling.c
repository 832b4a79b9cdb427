/*
 * evloop_ceiling.c - the ceiling for fanoutd's choice of library: a bare
 * libevent evhttp client loop that fetches one URL N times over C
 * keep-alive connections (one request in flight on each, as evhttp
 * allows), drains every body and does nothing else. No parsing of a
 * batch, no scheduling, no output. Prints "fetches N seconds S rate R".
 *
 *   evloop_ceiling HOST PORT PATH N C
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

struct loop {
	struct event_base *base;
	const char *host;
	const char *path;
	long left;  /* requests not yet started */
	long total; /* requests to make */
	long done;  /* responses complete */
	long failed;
	size_t bytes;
};

struct conn {
	struct loop *l;
	struct evhttp_connection *evcon;
};

static void conn_next(struct conn *c);

static void
done_cb(struct evhttp_request *req, void *arg)
{
	struct conn *c = arg;
	struct loop *l = c->l;

	if (req == NULL || evhttp_request_get_response_code(req) != 200) {
		l->failed++;
	} else {
		struct evbuffer *in = evhttp_request_get_input_buffer(req);

		l->bytes += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
	}
	l->done++;
	if (l->done == l->total)
		event_base_loopbreak(l->base); /* idle keep-alives stay open */
	else
		conn_next(c);
}

/* Start the connection's next request, if any are left. */
static void
conn_next(struct conn *c)
{
	struct loop *l = c->l;
	struct evhttp_request *req;

	if (l->left == 0)
		return;
	l->left--;
	req = evhttp_request_new(done_cb, c);
	evhttp_add_header(
	    evhttp_request_get_output_headers(req), "Host", l->host);
	if (evhttp_make_request(c->evcon, req, EVHTTP_REQ_GET, l->path) != 0) {
		l->failed++;
		l->done++;
	}
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct loop l;
	struct conn *conns;
	long n, c, i;
	double t0, t;

	if (argc != 6) {
		fprintf(stderr, "usage: evloop_ceiling HOST PORT PATH N C\n");
		return 2;
	}
	n = atol(argv[4]);
	c = atol(argv[5]);
	memset(&l, 0, sizeof(l));
	l.base = event_base_new();
	l.host = argv[1];
	l.path = argv[3];
	l.left = n;
	l.total = n;
	conns = calloc((size_t)c, sizeof(*conns));
	t0 = now_s();
	for (i = 0; i < c; i++) {
		conns[i].l = &l;
		conns[i].evcon = evhttp_connection_base_new(
		    l.base, NULL, argv[1], (unsigned short)atoi(argv[2]));
		conn_next(&conns[i]);
	}
	event_base_dispatch(l.base);
	t = now_s() - t0;
	printf("fetches %ld failed %ld seconds %.3f rate %.0f\n", l.done,
	    l.failed, t, (double)l.done / t);
	for (i = 0; i < c; i++)
		evhttp_connection_free(conns[i].evcon);
	free(conns);
	event_base_free(l.base);
	return l.failed ? 1 : 0;
}
