/*
 * server.h - the caller's side: the evhttp server, routing and
 * whole-request errors (DESIGN.md §1). Requests arrive framed by the
 * guard (guard.h), batches' responses are streams (stream.h), the
 * listening sockets are listen.h's.
 *
 * Endpoints: POST /v1/batch, GET /healthz, GET /metrics. Every error is
 * JSON {"error":{"type":..,"message":..}} with its status.
 */
#ifndef FANOUTD_SERVER_H
#define FANOUTD_SERVER_H

#include <stddef.h>

#include <event2/event.h>

#include <sys/socket.h>

#include "config.h"
#include "engine.h"
#include "job.h"

struct server;

/*
 * Bind every [server] listen address (TCP "ip:port", "[ip6]:port" or
 * "unix:/path") and start serving. Logs each bound address, with the real
 * port when the configured one was 0. Returns NULL with a reason in why.
 */
struct server *server_new(struct event_base *base, struct engine *engine,
    struct jobs *jobs, const char *jobs_why, const struct config *cfg,
    char *why, size_t whylen);

/* End every job results reply (followers resume with ?after=): before
 * jobs_close, which frees the readers still waiting on the store. */
void server_close_readers(struct server *s);

/*
 * Drain (SIGTERM): stop accepting connections, tell the engine (new
 * batches get 503), give running batches [server] drain_timeout_ms,
 * then end what remains with cancelled lines; call drained(arg) once
 * every stream has ended.
 */
void server_drain(struct server *s, void (*drained)(void *arg), void *arg);

/* Apply a reloaded configuration (the struct s points to has changed):
 * body size limit, auth tokens. Returns -1 with why when the tokens file
 * is unusable (the old tokens are kept). */
int server_reload(struct server *s, char *why, size_t whylen);

/* The TCP addresses the listeners are bound to (real ports), for the
 * egress policy: up to max into out; returns how many. */
unsigned server_bound_addrs(
    const struct server *s, struct sockaddr_storage *out, unsigned max);

/* Cancel every running batch, close every connection, free. */
void server_free(struct server *s);

#endif
