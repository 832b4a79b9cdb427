/*
 * stats.h - GET /v1/stats: a snapshot of what the server is doing now
 * (totals, items per second over the last minute, errors by type, the
 * running batches and active jobs with progress, rate, age and ETA, the
 * busiest upstream hosts), and with ?follow=true a stream of them, one
 * a second, as SSE (event: stats) or NDJSON. The web dashboard (ui/)
 * reads it; README.md, "Live stats", has the schema.
 */
#ifndef FANOUTD_STATS_H
#define FANOUTD_STATS_H

#include <stdbool.h>

#include <event2/http.h>

struct server;
struct stats;

/* Start sampling (a one-second timer on the server's loop). */
struct stats *stats_new(struct server *srv);
/* Answer GET/HEAD /v1/stats[?follow=true&format=sse|ndjson]. */
void stats_request(
    struct stats *st, struct evhttp_request *req, const char *query);
/* Draining: end every follower, answer the waiting snapshots 503, stop
 * the timer; later requests get 503. */
void stats_close(struct stats *st);
/* No stream left to write (after stats_close: every last chunk is
 * out, or its caller gone). The drain waits for it. */
bool stats_idle(const struct stats *st);
/* Free (before evhttp_free); closes first. */
void stats_free(struct stats *st);

#endif
