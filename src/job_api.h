/*
 * job_api.h - the /v1/jobs endpoints (issue #16, DESIGN.md §1 "Jobs"):
 *
 *   POST   /v1/jobs                  create (201, Location), the body and
 *                                    options of /v1/batch, plus "job":
 *                                    {"name", "ttl_s"}; Idempotency-Key
 *   GET    /v1/jobs                  list: ?state=a,b&limit=N&after=ID
 *   GET    /v1/jobs/ID               state, counts, times, options
 *   DELETE /v1/jobs/ID               a done or cancelled job (204)
 *   POST   /v1/jobs/ID/cancel        a queued or running job
 *   POST   /v1/jobs/ID/retry         the failed items again
 *   GET    /v1/jobs/ID/results       lines with `seq`: ?after=SEQ,
 *                                    ?follow=true, ?state=failed; NDJSON,
 *                                    SSE (Last-Event-ID) or JSON
 *   GET    /v1/jobs/ID/items/N/body  item N's stored body, raw
 *
 * Every answer comes from the store's callback on the loop thread; the
 * loop never waits on the disk. A results reply is a job reader
 * (job_results.c): it pages through the committed lines with the
 * caller's backpressure and, when following, waits for new ones.
 */
#ifndef FANOUTD_JOB_API_H
#define FANOUTD_JOB_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/http.h>

struct buf;
struct server;
struct job_reader;
struct store_job;

/* The results replies of a server. */
struct job_readers {
	TAILQ_HEAD(, job_reader) list;
};

void job_readers_init(struct job_readers *rs);
/* End every reply now (drain, shutdown): a follower gets the end of its
 * stream and resumes with ?after= (or Last-Event-ID). */
void job_readers_close(struct job_readers *rs);

/*
 * Answer req when its path (plen bytes of path, before any '?') is
 * /v1/jobs or below it; false when it is not a jobs path. query is the
 * raw query string, or NULL.
 */
bool job_api_route(struct server *srv, struct evhttp_request *req,
    const char *path, size_t plen, const char *query);

/* A job as JSON: {"id":..,"name":..,"state":..,["paused":..,]"counts":
 * {"total","pending","in_flight","ok","failed"},"last_seq":..,
 * "created_at"/"started_at"/"finished_at"/"expires_at": RFC 3339 UTC or
 * null,"ttl_s":..,"options":{...}}. js (NULL: none) says why running
 * jobs are paused, and while this daemon runs the job its in_flight is
 * the attempts on the wire now (the rest of what the runner holds is
 * pending), not every item the store has leased. */
void job_emit(struct buf *out, const struct store_job *j, struct jobs *js);

/* GET /v1/jobs/ID/results (job_results.c). */
void job_results_start(struct server *srv, struct evhttp_request *req,
    const char *id, const char *query);

/* GET /v1/jobs/ID/items/INDEX/body (job_results.c): the item's stored
 * body, raw, with its Content-Type; 404 when it has none. */
void job_body_start(struct server *srv, struct evhttp_request *req,
    const char *id, uint32_t index);

#endif
