/*
 * test_wire.c - the response re-framer, case by case (issue #13): what
 * evhttp is handed for each odd-but-real response (RFC 9112 §6.3's
 * rules one by one, interim responses, chunk extensions, trailers,
 * framing that cannot be trusted), checked against the oracle of
 * tests/wire_oracle.h, and the same answer whether the bytes arrive
 * whole or one at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../wire_oracle.h"
#include "wire.h"

#define HEAD_MAX 4096

/* The outcome of feeding one response. */
struct run {
	struct wire w;
	char out[200000];
	size_t out_len;
	int rc;
	struct oracle o;
	bool readable; /* the oracle accepted the output */
};

/* Feed n bytes at p to a fresh wire in pieces of `step` (0: whole). */
static void
run(struct run *r, const char *p, size_t n, size_t step, bool head_request)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	size_t off = 0;

	wire_init(&r->w, HEAD_MAX);
	wire_expect(&r->w, head_request);
	r->rc = 0;
	if (step == 0)
		step = n;
	while (off < n && r->rc == 0) {
		size_t k = n - off < step ? n - off : step;

		evbuffer_add(in, p + off, k);
		off += k;
		r->rc = wire_feed(&r->w, in, out);
	}
	r->out_len = evbuffer_get_length(out);
	assert_true(r->out_len < sizeof(r->out));
	evbuffer_remove(out, r->out, r->out_len);
	r->readable = r->w.state != WIRE_HEAD && r->w.state != WIRE_FAULT &&
	    !r->w.extra && oracle_read(&r->w, r->out, r->out_len, &r->o);
	evbuffer_free(in);
	evbuffer_free(out);
}

/* The same for a C string, not a HEAD request. */
static void
run_s(struct run *r, const char *s, size_t step)
{
	run(r, s, strlen(s), step, false);
}

static void
done(struct run *r)
{
	wire_free(&r->w);
}

/* The response s, whole and byte by byte: evhttp gets `body`, the
 * message ends, the connection is reusable or not. */
static void
expect_body(const char *s, bool head_request, const char *body, bool reusable)
{
	static struct run r;
	size_t step;

	for (step = 0; step <= 1; step++) {
		run(&r, s, strlen(s), step, head_request);
		assert_int_equal(r.rc, 0);
		assert_true(r.readable);
		assert_true(r.o.complete);
		assert_int_equal(r.o.body_len, strlen(body));
		assert_memory_equal(r.o.body, body, strlen(body));
		assert_int_equal(wire_reusable(&r.w), reusable);
		done(&r);
	}
}

/* The response s is refused with a message starting with why. */
static void
expect_fault(const char *s, const char *why)
{
	static struct run r;
	size_t step;

	for (step = 0; step <= 1; step++) {
		run(&r, s, strlen(s), step, false);
		assert_int_equal(r.rc, -1);
		assert_int_equal(r.w.state, WIRE_FAULT);
		if (strncmp(r.w.why, why, strlen(why)) != 0)
			fail_msg("why: [%s], expected [%s...]", r.w.why, why);
		assert_false(wire_reusable(&r.w));
		done(&r);
	}
}

#define OK5     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
#define CHUNKED "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"

static void
test_a_plain_response_passes_unchanged(void **state)
{
	static struct run r;

	run(&r, OK5, strlen(OK5), 0, false);
	assert_int_equal(r.out_len, strlen(OK5));
	assert_memory_equal(r.out, OK5, r.out_len);
	assert_false(r.w.rewrote);
	assert_int_equal(r.w.status, 200);
	done(&r);
	expect_body(OK5, false, "hello", true);
	expect_body("HTTP/1.1 200 OK\nContent-Length: 5\n\nhello", false,
	    "hello", true); /* bare LF */
}

static void
test_interim_responses_are_dropped(void **state)
{
	static struct run r;
	const char *s = "HTTP/1.1 102 Processing\r\n\r\n"
	                "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
	                "HTTP/1.1 100 Continue\r\n\r\n" OK5;

	expect_body(s, false, "hello", true);
	run(&r, s, strlen(s), 7, false);
	assert_int_equal(r.w.interim, 3);
	assert_int_equal(r.w.status, 200);
	assert_memory_equal(r.out, OK5, strlen(OK5)); /* no 1xx for evhttp */
	done(&r);
	expect_fault("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
	    "101 Switching Protocols");
}

static void
test_chunk_extensions_are_dropped(void **state)
{
	static struct run r;

	expect_body(
	    CHUNKED "5;name=value\r\nhello\r\n0\r\n\r\n", false, "hello", true);
	expect_body(CHUNKED "2 ; a = \"x;y\" ; b\r\nhe\r\n3;c\r\nllo\r\n"
	                    "0;last\r\n\r\n",
	    false, "hello", true);
	expect_body(
	    CHUNKED "A\r\n0123456789\r\n00\r\n\r\n", false, "0123456789", true);
	run_s(&r, CHUNKED "5;name=value\r\nhello\r\n0\r\n\r\n", 0);
	assert_int_equal(r.out_len, strlen(CHUNKED) + 15);
	assert_memory_equal(
	    r.out + strlen(CHUNKED), "5\r\nhello\r\n0\r\n\r\n", 15);
	done(&r);
}

static void
test_trailer_fields_are_dropped(void **state)
{
	expect_body(CHUNKED
	    "5\r\nhello\r\n0\r\nX-Sum: 5\r\nX-More: a\r\n b\r\n\r\n",
	    false, "hello", true);
	expect_fault(CHUNKED "5\r\nhello\r\n0\r\nnot a field\r\n\r\n",
	    "malformed trailer line");
}

static void
test_malformed_chunks_are_faults(void **state)
{
	expect_fault(
	    CHUNKED "5x\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line");
	expect_fault(
	    CHUNKED ";x\r\nhello\r\n0\r\n\r\n", "malformed chunk-size line");
	expect_fault(CHUNKED "5\r\nhelloXX\r\n0\r\n\r\n",
	    "chunk data not followed by CRLF");
	expect_fault(CHUNKED "fffffffffffffffff\r\n", "a chunk size too large");
	expect_body(CHUNKED "0000000000000000005\r\nhello\r\n0\r\n\r\n", false,
	    "hello", true); /* leading zeros are no size */
}

static void
test_a_long_chunk_line_is_a_fault(void **state)
{
	static char s[8192];
	size_t n = (size_t)snprintf(s, sizeof(s), CHUNKED "5;");

	memset(s + n, 'x', WIRE_MAX_CHUNK_LINE);
	s[n + WIRE_MAX_CHUNK_LINE] = '\0';
	expect_fault(s, "a chunk-size line over 4096 bytes");
}

/* Rule 5/6 and RFC 9110 §8.6. */
static void
test_content_length_lists(void **state)
{
	static struct run r;
	const char *list =
	    "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello";

	expect_body(list, false, "hello", true);
	expect_body(
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
	    "\r\nhello",
	    false, "hello", true);
	run(&r, list, strlen(list), 0, false);
	assert_true(r.w.rewrote);
	assert_int_equal(r.w.orig.len, sizeof("Content-Length\0005, 5"));
	assert_memory_equal(
	    r.w.orig.data, "Content-Length\0005, 5", r.w.orig.len);
	done(&r);
	expect_fault(
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 10\r\n"
	    "\r\nhello12345",
	    "conflicting Content-Length values (5 and 10)");
	expect_fault("HTTP/1.1 200 OK\r\nContent-Length: 5, 10\r\n\r\nhello",
	    "conflicting Content-Length values (5 and 10)");
	expect_fault("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello",
	    "invalid Content-Length \"+5\"");
	expect_fault(
	    "HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
	    "invalid Content-Length");
	expect_fault("HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n",
	    "an empty Content-Length");
	expect_body("HTTP/1.1 200 OK\r\nContent-Length:\t5\r\n\r\nhello", false,
	    "hello", true); /* evhttp keeps the tab: rewritten */
	expect_body(
	    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false, "", true);
}

/* Rule 3: Transfer-Encoding wins, and the connection ends with it;
 * rule 4: nothing but chunked is accepted. */
static void
test_transfer_encoding(void **state)
{
	static struct run r;
	const char *both =
	    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";

	expect_body(both, false, "hello", false);
	run(&r, both, strlen(both), 0, false);
	assert_true(r.w.rewrote);
	assert_null(memmem(r.out, r.o.head_len, "Content-Length", 14));
	done(&r);
	expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked \r\n\r\n"
	            "5\r\nhello\r\n0\r\n\r\n",
	    false, "hello", true);
	expect_body("HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
	            "5\r\nhello\r\n0\r\n\r\n",
	    false, "hello", true); /* folded: rewritten */
	expect_body("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
	            "5\r\nhello\r\n0\r\n\r\n",
	    false, "hello", false); /* §6.1: HTTP/1.0, never again */
	expect_fault("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
	    "a transfer coding other than chunked");
	expect_fault(
	    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    "a transfer coding other than chunked");
	expect_fault("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	             "Transfer-Encoding: chunked\r\n\r\n",
	    "chunked applied twice");
}

/* Rule 8 and §9.3: a body delimited by the close, whatever Connection
 * says, and never a second request on it. */
static void
test_close_delimited_bodies(void **state)
{
	static struct run r;
	const char *ka =
	    "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\nhello";

	run_s(&r, ka, 0);
	assert_true(r.readable);
	assert_int_equal(r.w.body, WIRE_BODY_CLOSE);
	assert_int_equal(r.w.state, WIRE_TO_CLOSE);
	assert_int_equal(r.o.body_len, 5);
	assert_true(r.w.rewrote);
	assert_memory_equal(r.w.orig.data, "Connection\0keep-alive", 22);
	assert_false(wire_reusable(&r.w));
	done(&r);
	run_s(&r,
	    "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n"
	    "Keep-Alive: timeout=2\r\n\r\n<events/>",
	    1);
	assert_true(r.readable);
	assert_int_equal(r.o.body_len, 9);
	assert_false(r.w.persistent);
	done(&r);
	run_s(&r, "HTTP/1.1 200 OK\r\n\r\nhel", 0);
	assert_true(r.readable);
	assert_false(r.w.rewrote); /* evhttp reads it to the close already */
	done(&r);
	run_s(&r, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhel", 0);
	assert_true(r.readable);
	assert_false(r.w.rewrote);
	done(&r);
}

/* §9.3: which connections carry another request. */
static void
test_persistence(void **state)
{
	expect_body("HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello", false,
	    "hello", false);
	expect_body("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	            "Content-Length: 5\r\n\r\nhello",
	    false, "hello", true);
	expect_body("HTTP/1.1 200 OK\r\nConnection: Close, TE\r\n"
	            "Content-Length: 5\r\n\r\nhello",
	    false, "hello", false);
	expect_body("HTTP/1.1 200 OK\r\nConnection: TE\r\nConnection: close\r\n"
	            "Content-Length: 5\r\n\r\nhello",
	    false, "hello", false);
}

/* Rule 1: no body after HEAD, 204, 304, whatever the fields say; bytes
 * after it belong to no response. */
static void
test_no_body_responses(void **state)
{
	static struct run r;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";

	expect_body(head, true, "", true);
	expect_body("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
	    false, "", true);
	expect_body(
	    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n",
	    false, "", true);
	run(&r, OK5, strlen(OK5), 0, true); /* a body after a HEAD */
	assert_int_equal(r.w.state, WIRE_DONE);
	assert_true(r.w.extra);
	assert_false(wire_reusable(&r.w));
	done(&r);
}

/* One huge chunk goes on as it arrives: nothing waits in `in`. */
static void
test_a_huge_chunk_streams(void **state)
{
	static char piece[16384];
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct wire w;
	int i;

	memset(piece, 'z', sizeof(piece));
	wire_init(&w, HEAD_MAX);
	wire_expect(&w, false);
	evbuffer_add(in, CHUNKED "40000000\r\n", strlen(CHUNKED) + 10);
	assert_int_equal(wire_feed(&w, in, out), 0);
	evbuffer_drain(out, evbuffer_get_length(out));
	for (i = 0; i < 64; i++) {
		evbuffer_add(in, piece, sizeof(piece));
		assert_int_equal(wire_feed(&w, in, out), 0);
		assert_int_equal(evbuffer_get_length(in), 0);
		assert_int_equal(
		    evbuffer_get_length(out), 6 + sizeof(piece) + 2);
		evbuffer_drain(out, evbuffer_get_length(out));
	}
	assert_int_equal(w.state, WIRE_CHUNK_DATA);
	assert_true(w.left == 0x40000000ULL - 64 * sizeof(piece));
	wire_free(&w);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_malformed_heads_are_faults(void **state)
{
	static char big[HEAD_MAX + 64];
	size_t n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");

	expect_fault("HTTP/1.1 2x0 OK\r\n\r\n", "malformed status line");
	expect_fault("HTTP/2.0 200 OK\r\n\r\n", "malformed status line");
	expect_fault("THIS IS NOT HTTP\r\n\r\n", "malformed status line");
	expect_fault("HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
	    "malformed header line");
	expect_fault("HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello",
	    "malformed header name");
	expect_fault("HTTP/1.1 200 OK\r\n folded first\r\n\r\n",
	    "a folded line with no field before it");
	expect_fault("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
	    "a NUL or bare CR in the response head");
	memset(big + n, 'x', sizeof(big) - n - 1);
	big[sizeof(big) - 1] = '\0';
	expect_fault(big, "a response head over 4096 bytes");
	expect_body(
	    "\r\n\r\n" OK5, false, "hello", true); /* blank lines first */
	expect_body("HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello", false,
	    "hello", true); /* no reason phrase */
}

/* The state machine waits for the rest of a head or a chunk line, and
 * passes bytes that belong to no response through. */
static void
test_partial_input_and_idle_bytes(void **state)
{
	struct evbuffer *in = evbuffer_new(), *out = evbuffer_new();
	struct wire w;

	wire_init(&w, HEAD_MAX);
	evbuffer_add(in, "junk", 4);
	assert_int_equal(wire_feed(&w, in, out), 0); /* idle */
	assert_true(w.extra);
	assert_int_equal(evbuffer_get_length(out), 4);
	wire_free(&w);
	wire_init(&w, HEAD_MAX);
	wire_expect(&w, false);
	evbuffer_drain(out, 4);
	evbuffer_add(in, "HTTP/1.1 200 OK\r\nContent-Le", 27);
	assert_int_equal(wire_feed(&w, in, out), 0);
	assert_int_equal(evbuffer_get_length(in), 27);
	assert_int_equal(evbuffer_get_length(out), 0);
	assert_int_equal(w.state, WIRE_HEAD);
	wire_free(&w);
	evbuffer_free(in);
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_a_plain_response_passes_unchanged),
	    cmocka_unit_test(test_interim_responses_are_dropped),
	    cmocka_unit_test(test_chunk_extensions_are_dropped),
	    cmocka_unit_test(test_trailer_fields_are_dropped),
	    cmocka_unit_test(test_malformed_chunks_are_faults),
	    cmocka_unit_test(test_a_long_chunk_line_is_a_fault),
	    cmocka_unit_test(test_content_length_lists),
	    cmocka_unit_test(test_transfer_encoding),
	    cmocka_unit_test(test_close_delimited_bodies),
	    cmocka_unit_test(test_persistence),
	    cmocka_unit_test(test_no_body_responses),
	    cmocka_unit_test(test_a_huge_chunk_streams),
	    cmocka_unit_test(test_malformed_heads_are_faults),
	    cmocka_unit_test(test_partial_input_and_idle_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
