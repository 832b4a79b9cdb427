/*
 * stream.h - the streamed response of each accepted batch (DESIGN.md
 * §1): the batch's caller (batch.h). It hands the parsed items to the
 * engine and frames what comes back - NDJSON lines, SSE events or the
 * buffered JSON document, progress lines, the summary with the
 * effective options - as the batch produces it, with backpressure
 * (output_high_water), cancellation when the caller goes away, and a
 * half-closed caller still served.
 */
#ifndef FANOUTD_STREAM_H
#define FANOUTD_STREAM_H

#include <stdbool.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>

#include "batch_parse.h"
#include "config.h"
#include "emit.h"
#include "engine.h"

struct guard;
struct stream;

/* Every running stream of a server. */
struct streams {
	struct event_base *base;
	const struct config *cfg;
	struct guard *guard; /* told when a reply is done */
	struct engine *engine;
	TAILQ_HEAD(, stream) list;
	uint64_t last_id;           /* the last stream's id */
	void (*emptied)(void *arg); /* the last stream ended */
	void *emptied_arg;
};

void streams_init(struct streams *ss, struct event_base *base,
    const struct config *cfg, struct guard *guard, struct engine *engine);

/* Accept a parsed batch on req (taking *spec over; the caller's copy is
 * cleared): start the reply, then the batch (its hop count is hops). */
void stream_start(struct streams *ss, struct evhttp_request *req,
    struct batch_spec *spec, unsigned hops);

bool streams_empty(const struct streams *ss);
/* A running batch, for GET /v1/stats: its id (1, 2, ... in order of
 * arrival), caller, start (mono_us) and progress. */
struct stream_view {
	uint64_t id;
	const char *peer;
	uint64_t started_us;
	struct progress_view pv;
};
void streams_foreach(const struct streams *ss,
    void (*fn)(const struct stream_view *v, void *arg), void *arg);

/* The drain timeout: end every running batch with cancelled lines. */
void streams_abort(struct streams *ss, const char *why);

/* Cancel every batch and free every stream (before evhttp_free). */
void streams_free(struct streams *ss);

#endif
