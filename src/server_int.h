/*
 * server_int.h - the server's inside, shared by the files that answer
 * its endpoints: server.c (routing, batches, health, metrics) and
 * job_api.c / job_results.c (the /v1/jobs endpoints). Nothing else
 * includes it: the daemon sees server.h.
 */
#ifndef FANOUTD_SERVER_INT_H
#define FANOUTD_SERVER_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>

#include "auth.h"
#include "buf.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "job.h"
#include "job_api.h"
#include "listen.h"
#include "stream.h"

#define SERVER_DRAIN_GRACE_MS 3000

struct server {
	struct event_base *base;
	struct evhttp *http;
	struct engine *engine;
	struct jobs *jobs;          /* NULL: the job store is unavailable */
	char jobs_why[256];         /* why it is */
	struct job_readers readers; /* GET /v1/jobs/ID/results replies */
	struct stats *stats;        /* GET /v1/stats */
	const struct config *cfg;
	struct streams streams; /* the batches' responses */
	struct listeners ls;
	SSL_CTX *ssl_ctx;    /* HTTPS listeners when [server] tls_cert is set */
	struct auth auth;    /* bearer tokens; none: no auth */
	struct guard *guard; /* read deadline, connection cap */
	/* Draining (SIGTERM, engine_draining): no new connections, new
	 * batches get 503. */
	struct event *drain_ev; /* the drain timeout, then the last grace */
	bool drain_aborted;     /* the running batches were cancelled */
	struct event *idle_ev;  /* checks whether every stream has ended */
	void (*drained)(void *arg);
	void *drained_arg;
};

/*
 * Send a complete reply (status, Content-Type, body, and one optional
 * extra header). For HEAD only the Content-Length the body would have.
 */
void server_send(struct server *srv, struct evhttp_request *req, int status,
    const char *reason, const char *type, const char *body, size_t len,
    const char *extra_name, const char *extra_value);
/* Reply with a JSON error body {"error":{"type":..,"message":..}}. */
void server_error(struct server *srv, struct evhttp_request *req,
    enum req_err code, const char *message, const char *extra_name,
    const char *extra_value);
/* 200 with body. */
void server_reply(struct server *srv, struct evhttp_request *req,
    const char *type, const char *body, size_t len);
/* Every field line of name, joined with ", " (RFC 9110 §5.3) into out;
 * NULL when there is none. */
const char *header_join(struct evkeyvalq *h, const char *name, struct buf *out);
/* The request body with its Content-Encoding undone (into dec when it
 * had one); NULL after answering an error. */
const char *server_body(struct server *srv, struct evhttp_request *req,
    struct buf *dec, size_t *len);

#endif
