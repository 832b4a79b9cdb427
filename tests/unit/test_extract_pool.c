/*
 * test_extract_pool.c - the extraction threads (src/extract_pool.h): a
 * document parsed by the pool, fed in any pieces, gives the bytes the
 * extractor gives it whole on this thread; jobs are parsed in parallel
 * and each one's chunks in order; the done callback comes from the loop,
 * never inside an xjob_* call; a job freed while a worker parses it is
 * freed safely (ASan and valgrind runs of this test see any
 * use-after-free); a feed past the high-water mark says "pause" and the
 * flow callback says "go on".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "buf.h"
#include "extract.h"
#include "extract_pool.h"

struct waiter {
	struct event_base *base;
	int done;
	int flows;
	int expect;   /* done callbacks to wait for */
	bool in_call; /* inside an xjob_* call: done must not come now */
};

static void
on_done(void *arg)
{
	struct waiter *w = arg;

	assert_false(w->in_call);
	if (++w->done == w->expect)
		event_base_loopbreak(w->base);
}

static void
on_flow(void *arg)
{
	struct waiter *w = arg;

	w->flows++;
}

/* A page of n links, each with some text, and a title: about 60 bytes a
 * link. */
static void
make_page(struct buf *b, unsigned n, unsigned seed)
{
	unsigned i;

	buf_printf(b,
	    "<!DOCTYPE html><html><head><title>page %u</title>"
	    "</head><body>",
	    seed);
	for (i = 0; i < n; i++)
		buf_printf(b,
		    "<p>para %u <a href=\"/p/%u/%u\">link %u</a></p>\n", i,
		    seed, i, i);
	buf_adds(b, "</body></html>");
}

static void
direct(const struct extract_opts *o, const struct buf *page, struct buf *out)
{
	struct extract *x = extract_create(o, "http://a.test/", "text/html");

	extract_feed(x, page->data, page->len);
	extract_json(x, out);
	extract_free(x);
}

/* Feed page to j in pieces of random sizes (1 byte to 20 KiB). */
static void
feed_pieces(
    struct waiter *w, struct xjob *j, const struct buf *page, unsigned *rng)
{
	size_t off = 0;

	w->in_call = true;
	while (off < page->len) {
		size_t n = 1 + (*rng = *rng * 1103515245u + 12345u) % 20480;

		if (n > page->len - off)
			n = page->len - off;
		xjob_feed(j, page->data + off, n);
		off += n;
	}
	xjob_finish(j);
	w->in_call = false;
}

/* Eight pages of different sizes through the pool at once, each in
 * random pieces: each result is the direct one, byte for byte. */
static void
run_agree(unsigned nthreads)
{
	enum { N = 8 };
	struct event_base *base = event_base_new();
	struct waiter w = {base, 0, 0, N, false};
	struct xjob_cbs cbs = {on_done, on_flow, &w};
	struct extract_opts o = {0};
	struct xpool *p;
	struct xjob *j[N];
	struct buf page[N], want, got;
	unsigned i, rng = 7;
	char why[200];

	o.max_links = 100000;
	p = xpool_new(base, nthreads, why, sizeof(why));
	assert_non_null(p);
	assert_int_equal(xpool_threads(p), nthreads);
	for (i = 0; i < N; i++) {
		memset(&page[i], 0, sizeof(page[i]));
		make_page(&page[i], 10 + i * 700, i);
		j[i] = xjob_new(p, &o, "http://a.test/", "text/html", &cbs);
	}
	for (i = 0; i < N; i++)
		feed_pieces(&w, j[i], &page[i], &rng);
	if (w.done < N)
		event_base_dispatch(base);
	assert_int_equal(w.done, N);
	for (i = 0; i < N; i++) {
		memset(&want, 0, sizeof(want));
		memset(&got, 0, sizeof(got));
		direct(&o, &page[i], &want);
		assert_true(xjob_done(j[i]));
		xjob_json(j[i], &got);
		assert_string_equal(buf_cstr(&got), buf_cstr(&want));
		xjob_free(j[i]);
		buf_free(&want);
		buf_free(&got);
		buf_free(&page[i]);
	}
	xpool_free(p);
	event_base_free(base);
}

static void
test_pool_agrees_with_the_extractor_whole(void **state)
{
	run_agree(2);
	run_agree(1);
}

/* No threads: parsed inside the calls, the done callback still from the
 * loop. */
static void
test_no_threads_parses_inline_and_tells_from_the_loop(void **state)
{
	run_agree(0);
}

/*
 * Jobs freed at every point of their life - queued, mid-parse on a
 * worker, parsed with the done callback pending - while the workers
 * run: no callback follows, nothing leaks, nothing is used after free
 * (the sanitizer and valgrind runs of this test would say).
 */
static void
test_free_mid_parse_is_safe(void **state)
{
	enum { N = 40 };
	struct event_base *base = event_base_new();
	struct waiter w = {base, 0, 0, N, false};
	struct xjob_cbs cbs = {on_done, on_flow, &w};
	struct xpool *p;
	struct xjob *j[N];
	struct buf page;
	unsigned i, rng = 11;
	char why[200];

	p = xpool_new(base, 2, why, sizeof(why));
	assert_non_null(p);
	memset(&page, 0, sizeof(page));
	make_page(&page, 20000, 1); /* ~1 MB: parses for ~20 ms */
	for (i = 0; i < N; i++) {
		j[i] = xjob_new(p, NULL, "http://a.test/", "text/html", &cbs);
		if (i % 4 == 3)
			continue; /* never fed */
		feed_pieces(&w, j[i], &page, &rng);
	}
	/* Some now, while the workers are in them or they wait. */
	for (i = 0; i < N; i += 2)
		xjob_free(j[i]);
	/* Let one job finish (its news is pending), then free the rest. */
	w.expect = 1;
	event_base_dispatch(base);
	for (i = 1; i < N; i += 2)
		xjob_free(j[i]);
	xpool_free(p); /* joins: workers freed what they held */
	buf_free(&page);
	event_base_free(base);
}

/* A feed past the high-water mark says "pause"; the worker's progress
 * says "go on" through the flow callback, from the loop. */
static void
test_high_water_pauses_and_flow_resumes(void **state)
{
	struct event_base *base = event_base_new();
	struct waiter w = {base, 0, 0, 1, false};
	struct xjob_cbs cbs = {on_done, on_flow, &w};
	struct xpool *p;
	struct xjob *j;
	struct buf page;
	size_t off = 0;
	bool paused = false;
	char why[200];

	p = xpool_new(base, 1, why, sizeof(why));
	assert_non_null(p);
	memset(&page, 0, sizeof(page));
	make_page(&page, 10000, 2);
	j = xjob_new(p, NULL, "http://a.test/", "text/html", &cbs);
	while (!paused && off < page.len) {
		size_t n = page.len - off < 8192 ? page.len - off : 8192;

		paused = xjob_feed(j, page.data + off, n);
		off += n;
	}
	assert_true(paused);
	assert_true(off > XPOOL_HIGH_WATER);
	while (w.flows == 0)
		event_base_loop(base, EVLOOP_ONCE);
	assert_int_equal(w.flows, 1);
	xjob_feed(j, page.data + off, page.len - off);
	xjob_finish(j);
	event_base_dispatch(base);
	assert_int_equal(w.done, 1);
	xjob_free(j);
	xpool_free(p);
	buf_free(&page);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_pool_agrees_with_the_extractor_whole),
	    cmocka_unit_test(
	        test_no_threads_parses_inline_and_tells_from_the_loop),
	    cmocka_unit_test(test_free_mid_parse_is_safe),
	    cmocka_unit_test(test_high_water_pauses_and_flow_resumes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
