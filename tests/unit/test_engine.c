/*
 * test_engine.c - the engine's front as its callers see it (engine.h,
 * batch.h), on a real event loop against an evhttp upstream on
 * 127.0.0.1 in the same process: a caller gets exactly one result line
 * per item and one end, is told every state change of every item (each
 * a step of the item machine, from pending to done), may hand items over
 * in pages (as a job will), and gets nothing more after a cancel; an
 * abort ends what runs with cancelled lines; admission refuses while
 * draining. Every run is bounded by a timer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "batch.h"
#include "engine.h"

#define MAXI  8
#define MAXST 64

/* A run: the loop, the upstream, the engine, one batch and what its
 * caller saw. */
struct seen {
	struct event_base *base;
	struct evhttp *upstream;
	struct engine *e;
	struct batch_spec spec;
	struct batch *batch;
	int results[MAXI]; /* per index */
	bool ok[MAXI];
	enum item_err error[MAXI];
	enum item_state states[MAXI][MAXST]; /* per index: states entered */
	int nstates[MAXI];
	int ends;
	struct batch_stats st;
	/* Pages: what to add once the first page is done. */
	struct batch_spec *page2;
	bool page2_added;
	/* Cancel (or abort) once an item is in its attempt. */
	bool cancel_in_attempt;
	struct event *later;
};

static struct config cfg;
static uint16_t port;

/* /ok: 200; /r: 302 to /ok; /hang: never answered (until freed). */
static void
upstream_cb(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b;

	if (strcmp(uri, "/hang") == 0)
		return;
	b = evbuffer_new();
	if (strcmp(uri, "/r") == 0) {
		evhttp_add_header(
		    evhttp_request_get_output_headers(req), "Location", "/ok");
		evhttp_send_reply(req, 302, "Found", b);
	} else {
		evbuffer_add(b, "ok", 2);
		evhttp_send_reply(req, 200, "OK", b);
	}
	evbuffer_free(b);
}

static void on_result(void *arg, const struct batch_result *r);
static void on_end(void *arg, const struct batch_stats *st);
static void on_state(
    void *arg, uint32_t index, enum item_state from, enum item_state to);

/* A loop with the upstream and an engine; `later` runs later_cb. */
static void
world_new(struct seen *s, event_callback_fn later_cb)
{
	struct evhttp_bound_socket *bs;
	struct sockaddr_storage ss;
	ev_socklen_t len = sizeof(ss);
	char why[200];

	memset(s, 0, sizeof(*s));
	config_defaults(&cfg);
	s->base = event_base_new();
	s->upstream = evhttp_new(s->base);
	evhttp_set_gencb(s->upstream, upstream_cb, NULL);
	bs = evhttp_bind_socket_with_handle(s->upstream, "127.0.0.1", 0);
	assert_non_null(bs);
	getsockname(
	    evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len);
	port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	s->e = engine_new(s->base, &cfg, why, sizeof(why));
	assert_non_null(s->e);
	if (later_cb != NULL)
		s->later = event_new(s->base, -1, 0, later_cb, s);
}

static void
world_free(struct seen *s)
{
	if (s->later != NULL)
		event_free(s->later);
	batch_spec_free(&s->spec);
	engine_free(s->e);
	evhttp_free(s->upstream);
	event_base_free(s->base);
}

/* Items from a JSON array with PORT in place of the upstream's port. */
static void
parse(struct batch_spec *spec, const char *json)
{
	char body[1024];
	struct parse_error err;
	size_t n = 0;

	for (; *json != '\0'; json++) {
		if (strncmp(json, "PORT", 4) == 0) {
			n += (size_t)snprintf(
			    body + n, sizeof(body) - n, "%u", port);
			json += 3;
		} else {
			body[n++] = *json;
		}
	}
	body[n] = '\0';
	if (batch_parse(spec, body, n, NULL, NULL, NULL, &cfg, &err) != 0)
		fail_msg("batch refused: %s", err.message);
}

/* Start a batch on the items of json, as a caller does. */
static void
world_start(struct seen *s, const char *json, uint32_t concurrency)
{
	struct batch_caller caller = {
	    on_result, on_end, on_state, s, NULL, false};
	char why[200];

	parse(&s->spec, json);
	if (concurrency > 0)
		s->spec.opts.concurrency = concurrency;
	assert_int_equal(engine_admit(s->e, why, sizeof(why)), RERR__COUNT);
	s->batch = batch_start(s->e, &s->spec.opts, 1, &caller);
	batch_add(s->batch, s->spec.items, s->spec.nitems);
}

static void
on_result(void *arg, const struct batch_result *r)
{
	struct seen *s = arg;

	assert_true(r->index < MAXI);
	s->results[r->index]++;
	s->ok[r->index] = r->ok;
	s->error[r->index] = r->error;
	assert_true(
	    r->len > 0 && r->line[0] == '{' && r->line[r->len - 1] == '}');
}

static void
on_end(void *arg, const struct batch_stats *st)
{
	struct seen *s = arg;

	s->ends++;
	s->st = *st;
	s->batch = NULL;
	event_base_loopexit(s->base, NULL);
}

static void
cancel_cb(evutil_socket_t fd, short what, void *arg)
{
	struct seen *s = arg;

	batch_cancel(s->batch);
	s->batch = NULL;
	event_base_loopexit(s->base, NULL);
}

static void
add_page2_cb(evutil_socket_t fd, short what, void *arg)
{
	struct seen *s = arg;

	batch_add(s->batch, s->page2->items, s->page2->nitems);
	batch_close(s->batch);
}

static void
on_state(void *arg, uint32_t index, enum item_state from, enum item_state to)
{
	struct seen *s = arg;
	int n;

	assert_true(index < MAXI);
	n = s->nstates[index];
	assert_true(n < MAXST);
	/* The state left is the one last entered (pending at first). */
	assert_int_equal(from, n ? s->states[index][n - 1] : ITEM_PENDING);
	assert_true(item_step_ok(from, to));
	s->states[index][n] = to;
	s->nstates[index]++;
	if (s->cancel_in_attempt && item_in_attempt(to) && to != ITEM_ADMITTED)
		event_active(s->later, EV_TIMEOUT, 1);
	/* A job leases its next page once the first is done. */
	if (s->page2 != NULL && !s->page2_added && to == ITEM_DONE &&
	    s->results[0] && s->results[1]) {
		s->page2_added = true;
		event_active(s->later, EV_TIMEOUT, 1);
	}
}

/* Run the loop until the caller's end (or a cancel), at most 10 s. */
static void
run(struct seen *s)
{
	struct timeval guard = {10, 0};

	event_base_loopexit(s->base, &guard);
	event_base_dispatch(s->base);
}

static void
test_one_result_per_item_and_every_state(void **state)
{
	struct seen s;
	struct metrics_gauges g;
	int i, last;

	world_new(&s, NULL);
	world_start(&s,
	    "[\"http://127.0.0.1:PORT/ok\", \"http://127.0.0.1:PORT/r\", "
	    "\"ftp://x/\"]",
	    0);
	/* The invalid item's line comes at once; the end never does. */
	assert_int_equal(s.results[2], 1);
	assert_int_equal(s.error[2], IERR_INVALID_REQUEST);
	batch_close(s.batch);
	assert_int_equal(s.ends, 0);
	run(&s);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.st.items, 3);
	assert_int_equal(s.st.ok, 2);
	assert_int_equal(s.st.failed, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(s.results[i], 1);
		last = s.nstates[i] - 1;
		assert_int_equal(s.states[i][last], ITEM_DONE);
		assert_int_equal(item_store_state(s.states[i][0]),
		    i == 2 ? STORE_ITEM_DONE : STORE_ITEM_INFLIGHT);
	}
	assert_true(s.ok[0] && s.ok[1]);
	/* The redirect queued item 1 again after its first outcome. */
	for (i = 1; i < s.nstates[1]; i++)
		if (s.states[1][i - 1] == ITEM_OUTCOME &&
		    s.states[1][i] == ITEM_QUEUED)
			break;
	assert_true(i < s.nstates[1]);
	engine_gauges(s.e, &g);
	assert_int_equal(g.batches_active, 0);
	assert_int_equal(g.inflight, 0);
	world_free(&s);
}

/* Items handed over in pages, the next once the first is done. */
static void
test_items_in_pages(void **state)
{
	struct batch_spec p2;
	struct seen s;
	int i;

	world_new(&s, add_page2_cb);
	parse(
	    &p2, "[\"http://127.0.0.1:PORT/ok\", \"http://127.0.0.1:PORT/r\"]");
	p2.items[0].index = 2;
	p2.items[1].index = 3;
	s.page2 = &p2;
	world_start(&s,
	    "[\"http://127.0.0.1:PORT/ok\", \"http://127.0.0.1:PORT/ok\"]", 0);
	run(&s);
	assert_true(s.page2_added);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.st.items, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(s.results[i], 1);
	batch_spec_free(&p2);
	world_free(&s);
}

/* Cancelled in flight: no result, no end, every slot given back. */
static void
test_cancel_delivers_nothing_more(void **state)
{
	struct metrics_gauges g;
	struct seen s;

	world_new(&s, cancel_cb);
	s.cancel_in_attempt = true;
	world_start(&s, "[\"http://127.0.0.1:PORT/hang\"]", 0);
	batch_close(s.batch);
	run(&s);
	assert_null(s.batch); /* cancelled */
	assert_int_equal(s.results[0], 0);
	assert_int_equal(s.ends, 0);
	engine_gauges(s.e, &g);
	assert_int_equal(g.batches_active, 0);
	assert_int_equal(g.inflight, 0);
	assert_int_equal(g.queued, 0);
	world_free(&s);
}

static void
abort_cb(evutil_socket_t fd, short what, void *arg)
{
	struct seen *s = arg;

	batch_abort(s->batch, "shutting down");
}

/* Aborted (the drain timeout): what runs ends cancelled; the end comes;
 * while draining, no batch is admitted. */
static void
test_abort_and_drain(void **state)
{
	struct seen s;
	char why[200];

	world_new(&s, abort_cb);
	s.cancel_in_attempt = true;
	/* At concurrency 1 the second item waits in the queue. */
	world_start(&s,
	    "[\"http://127.0.0.1:PORT/hang\", \"http://127.0.0.1:PORT/ok\"]",
	    1);
	batch_close(s.batch);
	engine_drain(s.e);
	assert_true(engine_draining(s.e));
	assert_int_equal(engine_admit(s.e, why, sizeof(why)), RERR_DRAINING);
	run(&s);
	assert_int_equal(s.ends, 1);
	assert_int_equal(s.results[0], 1);
	assert_int_equal(s.results[1], 1);
	assert_int_equal(s.error[0], IERR_CANCELLED);
	assert_int_equal(s.error[1], IERR_CANCELLED);
	world_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_result_per_item_and_every_state),
	    cmocka_unit_test(test_items_in_pages),
	    cmocka_unit_test(test_cancel_delivers_nothing_more),
	    cmocka_unit_test(test_abort_and_drain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
