/*
 * test_reqhead.c - the request head validator: every framing fault of
 * issue #14 and its neighbours (RFC 9112 §6.3's rules, §5's field
 * syntax, §3's request line) with the status and message it gets; the
 * limits (414, 431, 413); the canonical head evhttp reads and the
 * route; and that a head split at every byte gets the verdict it gets
 * whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "reqhead.h"

#define H "POST /v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: a/b\r\n"

static const struct reqhead_limits lim = {4096, 20, 1024, 5000};

/* The verdict on s, whole; checks it is the same fed a byte at a time
 * (the same buffer growing, as the guard feeds it). */
static enum reqhead_status
judge(const char *s, struct reqhead *h)
{
	struct reqhead split;
	size_t n, len = strlen(s);

	reqhead_init(h);
	reqhead_parse(h, s, len, &lim);
	reqhead_init(&split);
	for (n = 1; n <= len && split.status == REQHEAD_MORE; n++)
		reqhead_parse(&split, s, n, &lim);
	assert_int_equal(split.status, h->status);
	assert_int_equal(split.error, h->error);
	assert_string_equal(split.message, h->message);
	assert_int_equal(split.head_len, h->head_len);
	assert_int_equal(split.framing, h->framing);
	assert_int_equal(split.length, h->length);
	return h->status;
}

/* s is refused with status e and a message containing what. */
static void
refused(const char *s, enum req_err e, const char *what)
{
	struct reqhead h;

	if (judge(s, &h) != REQHEAD_BAD)
		fail_msg("accepted: %s", s);
	if (h.error != e || strstr(h.message, what) == NULL)
		fail_msg("%s: got %d \"%s\", expected %d \"%s\"", s, h.error,
		    h.message, e, what);
}

static void
accepted(const char *s, enum reqhead_framing f, uint64_t len)
{
	struct reqhead h;

	if (judge(s, &h) != REQHEAD_OK)
		fail_msg("%s: refused: %s", s, h.message);
	assert_int_equal(h.framing, f);
	assert_int_equal(h.length, len);
}

/* Issue #14 points 1-5: the framing each case gets. */
static void
test_issue_14_framing_cases(void **state)
{
	refused(H "Content-Length: 0\r\nContent-Length: 35\r\n\r\n",
	    RERR_BAD_REQUEST, "two different Content-Length values (0 and 35)");
	refused(H "Transfer-Encoding: identity\r\n\r\n", RERR_BAD_REQUEST,
	    "the last transfer coding is identity, not chunked");
	refused(H "Transfer-Encoding: gzip, chunked\r\n\r\n",
	    RERR_NOT_IMPLEMENTED,
	    "the transfer coding gzip is not implemented");
	refused(H "Content-Length : 35\r\n\r\n", RERR_BAD_REQUEST,
	    "whitespace between the header name \"Content-Length\" and its "
	    "colon");
	refused(
	    "HEAD /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\n\r\n",
	    RERR_BAD_REQUEST, "a HEAD request with a body");
	refused("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n"
	        "Transfer-Encoding: chunked\r\n\r\n",
	    RERR_BAD_REQUEST, "Transfer-Encoding in an HTTP/1.0 request");
}

/* RFC 9112 §6.3, rule by rule, for requests. */
static void
test_message_body_length_rules(void **state)
{
	/* Rule 3: Transfer-Encoding with Content-Length. */
	refused(H "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	    RERR_BAD_REQUEST, "both Content-Length and Transfer-Encoding");
	refused(H "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
	    RERR_BAD_REQUEST, "both Content-Length and Transfer-Encoding");
	/* Rule 4: the final coding must be chunked. */
	refused(H "Transfer-Encoding: chunked, gzip\r\n\r\n", RERR_BAD_REQUEST,
	    "the last transfer coding is gzip");
	refused(H "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
	    RERR_BAD_REQUEST, "the last transfer coding is x");
	refused(H "Transfer-Encoding: chunked, chunked\r\n\r\n",
	    RERR_BAD_REQUEST, "applied twice");
	refused(H "Transfer-Encoding:\r\n\r\n", RERR_BAD_REQUEST,
	    "an empty Transfer-Encoding");
	refused(H "Transfer-Encoding: chunked;x=1\r\n\r\n", RERR_BAD_REQUEST,
	    "takes no parameters");
	refused(H "Transfer-Encoding: \"chunked\"\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid Transfer-Encoding");
	accepted(
	    H "Transfer-Encoding: chunked\r\n\r\n", REQHEAD_BODY_CHUNKED, 0);
	accepted(
	    H "Transfer-Encoding: CHUNKED\r\n\r\n", REQHEAD_BODY_CHUNKED, 0);
	accepted(H "Transfer-Encoding: , chunked ,\r\n\r\n",
	    REQHEAD_BODY_CHUNKED, 0);
	refused(H "Transfer-Encoding: gzip;q=1, chunked\r\n\r\n",
	    RERR_NOT_IMPLEMENTED, "gzip");
	/* Rule 6: Content-Length, one value. */
	accepted(H "Content-Length: 31\r\n\r\n", REQHEAD_BODY_LENGTH, 31);
	accepted(H "Content-Length: 31, 31\r\n\r\n", REQHEAD_BODY_LENGTH, 31);
	accepted(H "Content-Length: 31\r\nContent-Length: 31\r\n\r\n",
	    REQHEAD_BODY_LENGTH, 31);
	accepted(H "Content-Length: 0\r\n\r\n", REQHEAD_BODY_NONE, 0);
	refused(H "Content-Length: 31, 32\r\n\r\n", RERR_BAD_REQUEST,
	    "two different Content-Length values (31 and 32)");
	refused(H "Content-Length: +5\r\n\r\n", RERR_BAD_REQUEST,
	    "is not a number");
	refused(H "Content-Length: -1\r\n\r\n", RERR_BAD_REQUEST,
	    "is not a number");
	refused(H "Content-Length: 0x10\r\n\r\n", RERR_BAD_REQUEST,
	    "is not a number");
	refused(H "Content-Length: 5 5\r\n\r\n", RERR_BAD_REQUEST,
	    "is not a number");
	refused(
	    H "Content-Length:\r\n\r\n", RERR_BAD_REQUEST, "is not a number");
	refused(H "Content-Length: 5,\r\n\r\n", RERR_BAD_REQUEST,
	    "is not a number");
	/* Rule 7: neither - no body, whatever the method. */
	accepted(H "\r\n", REQHEAD_BODY_NONE, 0);
	accepted("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n",
	    REQHEAD_BODY_LENGTH, 3);
	/* Bodies of HEAD and TRACE are refused, not ignored. */
	refused("TRACE / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
	        "chunked\r\n\r\n",
	    RERR_BAD_REQUEST, "a TRACE request with a body");
	accepted("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
	    REQHEAD_BODY_NONE, 0);
}

/* RFC 9112 §5 and RFC 9110 §5.5: the field line syntax. */
static void
test_field_syntax(void **state)
{
	refused(H "Content-Length\t: 5\r\n\r\n", RERR_BAD_REQUEST,
	    "whitespace between the header name");
	refused(H "X-A: 1\r\n folded\r\n\r\n", RERR_BAD_REQUEST,
	    "obsolete line folding");
	refused(H "X-A: 1\r\n\tfolded\r\n\r\n", RERR_BAD_REQUEST,
	    "obsolete line folding");
	refused(H "no colon here\r\n\r\n", RERR_BAD_REQUEST, "without a colon");
	refused(H ": empty name\r\n\r\n", RERR_BAD_REQUEST, "an empty name");
	refused(H "X(A): 1\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid character in a header name");
	refused(H "X-A: a\rContent-Length: 5\r\n\r\n", RERR_BAD_REQUEST,
	    "a bare CR in a header");
	refused(H "X-A: a\001b\r\n\r\n", RERR_BAD_REQUEST,
	    "a control character in a header");
	refused(H "X-A: a\177\r\n\r\n", RERR_BAD_REQUEST,
	    "a control character in a header");
	/* Obs-text and tabs are fine in a value; OWS is trimmed. */
	accepted(H "X-A: \t caf\xc3\xa9 \t\r\n\r\n", REQHEAD_BODY_NONE, 0);
	/* A bare LF ends a line (RFC 9112 §2.2). */
	accepted("POST / HTTP/1.1\nHost: x\nContent-Length: 2\n\n",
	    REQHEAD_BODY_LENGTH, 2);
	/* Fields read once, where two readers could pick another one. */
	refused(H "Host: y\r\n\r\n", RERR_BAD_REQUEST, "more than one Host");
	refused(H "Content-Type: c/d\r\n\r\n", RERR_BAD_REQUEST,
	    "more than one Content-Type");
	refused(H "Authorization: a\r\nauthorization: b\r\n\r\n",
	    RERR_BAD_REQUEST, "more than one authorization");
	refused(H "X-Fanoutd-Hops: 0\r\nX-Fanoutd-Hops: 0\r\n\r\n",
	    RERR_BAD_REQUEST, "more than one X-Fanoutd-Hops");
	refused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid Host header");
	refused("GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid Host header");
	refused("GET / HTTP/1.1\r\n\r\n", RERR_BAD_REQUEST,
	    "without a Host header");
	accepted("GET / HTTP/1.0\r\n\r\n", REQHEAD_BODY_NONE, 0);
	accepted(
	    "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", REQHEAD_BODY_NONE, 0);
	accepted("GET / HTTP/1.1\r\nHost:\r\n\r\n", REQHEAD_BODY_NONE, 0);
	/* Expect. */
	refused(
	    H "Expect: 200-ok\r\n\r\n", RERR_EXPECTATION, "only 100-continue");
	accepted(H "Expect: 100-Continue\r\nContent-Length: 9\r\n\r\n",
	    REQHEAD_BODY_LENGTH, 9);
}

/* RFC 9112 §3: the request line and its target. */
static void
test_request_line(void **state)
{
	refused("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed request line");
	refused("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed request line");
	refused("GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed request line");
	refused("GET /\tHTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "a control character in the request line");
	refused("GET /\r HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "a bare CR in the request line");
	refused("GET /\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed request line");
	refused("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid character in the request method");
	refused("GET / http/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed HTTP version");
	refused("GET / HTTP/1.10\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "malformed HTTP version");
	refused("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", RERR_VERSION,
	    "HTTP/2.0 is not supported");
	refused("FOO / HTTP/1.1\r\nHost: x\r\n\r\n", RERR_NOT_IMPLEMENTED,
	    "method FOO is not implemented");
	refused("get / HTTP/1.1\r\nHost: x\r\n\r\n", RERR_NOT_IMPLEMENTED,
	    "method get");
	refused("CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n",
	    RERR_NOT_IMPLEMENTED, "fanoutd is not a proxy");
	/* Targets. */
	refused("GET * HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "for OPTIONS only");
	accepted("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", REQHEAD_BODY_NONE, 0);
	refused("GET x/y HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "must be /path");
	refused("GET ftp://h/ HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "must be /path");
	refused("GET http:///x HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "no valid host");
	refused("GET http://u@h/x HTTP/1.1\r\nHost: x\r\n\r\n",
	    RERR_BAD_REQUEST, "no valid host");
	refused("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid character '#' (byte 3)");
	refused("GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "'%' without two hex digits");
	refused("GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "'%' without two hex digits");
	refused("GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid byte 0xc3");
	refused("GET /a\\b HTTP/1.1\r\nHost: x\r\n\r\n", RERR_BAD_REQUEST,
	    "invalid character '\\'");
	accepted("GET /a%2Fb?x=1&y=/?z:@!$'()*+,;= HTTP/1.1\r\nHost: x\r\n\r\n",
	    REQHEAD_BODY_NONE, 0);
	/* Leading empty lines are skipped, up to a few. */
	accepted(
	    "\r\n\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", REQHEAD_BODY_NONE, 0);
	refused("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	    RERR_BAD_REQUEST, "more than 8 empty lines");
}

/* The limits of [server], decided as soon as a line passes them. */
static void
test_limits(void **state)
{
	char s[8192];
	struct reqhead h;

	/* A target over max_url_bytes (1024). */
	snprintf(s, sizeof(s), "GET /%01050d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
	refused(s, RERR_URI_TOO_LONG,
	    "the request target is 1051 bytes, over 1024 ([server] "
	    "max_url_bytes)");
	/* ... refused before its line ends. */
	snprintf(s, sizeof(s), "GET /%01200d", 0);
	refused(s, RERR_URI_TOO_LONG, "the request line is over 1088 bytes");
	/* Headers over max_header_bytes (4096), even without a line end. */
	snprintf(s, sizeof(s), H "X-Big: %05000d", 0);
	refused(s, RERR_HEADERS,
	    "the request line and headers are over 4096 bytes ([server] "
	    "max_header_bytes)");
	/* More than max_headers (20). */
	strcpy(s, "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < 20; i++)
		strcat(s, "X: y\r\n");
	strcat(s, "\r\n");
	refused(s, RERR_HEADERS, "more than 20 request headers");
	/* A body over max_request_bytes (5000), from the head. */
	refused(H "Content-Length: 5001\r\n\r\n", RERR_TOO_LARGE,
	    "the request body is 5001 bytes, over 5000 ([server] "
	    "max_request_bytes)");
	refused(H "Content-Length: 99999999999999999999999\r\n\r\n",
	    RERR_TOO_LARGE, "over 5000");
	accepted(H "Content-Length: 5000\r\n\r\n", REQHEAD_BODY_LENGTH, 5000);
	/* Nothing is undecided past reqhead_max_bytes. */
	memset(s, '\n', sizeof(s));
	reqhead_init(&h);
	assert_int_equal(reqhead_parse(&h, s, sizeof(s), &lim), REQHEAD_BAD);
	assert_true(reqhead_max_bytes(&lim) < sizeof(s));
}

static void
test_incomplete_head_waits(void **state)
{
	struct reqhead h;

	assert_int_equal(judge("", &h), REQHEAD_MORE);
	assert_int_equal(
	    judge("POST / HTTP/1.1\r\nHost: x\r\n", &h), REQHEAD_MORE);
	assert_int_equal(
	    judge("POST / HTTP/1.1\r\nHost: x\r\n\r", &h), REQHEAD_MORE);
	/* The body is not the head's business. */
	assert_int_equal(
	    judge(H "Content-Length: 4\r\n\r\nGET / HTTP/1.1\r\n", &h),
	    REQHEAD_OK);
	assert_int_equal(h.head_len, strlen(H "Content-Length: 4\r\n\r\n"));
}

/* The canonical head evhttp reads: framing fanoutd decided, nothing
 * evhttp could read another way. */
static void
test_canonical_head(void **state)
{
	const char *s = "\r\nPOST http://h:1/v1/batch?x=1 HTTP/1.1\n"
	                "host: h:1\nContent-Length: 7, 7\nConnection: "
	                "keep-alive, close\nExpect: 100-continue\n"
	                "X-A:  b  \n\nbody...";
	struct buf b = BUF_INIT;
	struct reqhead h;

	assert_int_equal(judge(s, &h), REQHEAD_OK);
	reqhead_canon(&h, s, &b);
	assert_string_equal(buf_cstr(&b),
	    "POST /v1/batch?x=1 HTTP/1.1\r\nhost: h:1\r\nX-A: b\r\n"
	    "Content-Length: 7\r\nConnection: close\r\n"
	    "Expect: 100-continue\r\n\r\n");
	buf_reset(&b);
	reqhead_route(&h, s, &b);
	assert_string_equal(buf_cstr(&b), "/v1/batch?x=1");

	/* Point 6: "//x/metrics" is a path; evhttp gets "/" and fanoutd
	 * routes on the path as sent. */
	s = "GET //x/metrics HTTP/1.0\r\n\r\n";
	assert_int_equal(judge(s, &h), REQHEAD_OK);
	buf_reset(&b);
	reqhead_canon(&h, s, &b);
	assert_string_equal(
	    buf_cstr(&b), "GET / HTTP/1.0\r\nConnection: close\r\n\r\n");
	buf_reset(&b);
	reqhead_route(&h, s, &b);
	assert_string_equal(buf_cstr(&b), "//x/metrics");
	assert_true(h.close);

	/* HTTP/1.0 keep-alive stays so; chunked is spelled one way; a
	 * 1.0 caller gets no 100. */
	s = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n"
	    "Expect: 100-continue\r\n\r\n";
	assert_int_equal(judge(s, &h), REQHEAD_OK);
	buf_reset(&b);
	reqhead_canon(&h, s, &b);
	assert_string_equal(buf_cstr(&b),
	    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	    "Expect: 100-continue\r\n\r\n");
	s = "POST / HTTP/1.0\r\nConnection: Keep-Alive\r\nExpect: "
	    "100-continue\r\nContent-Length: 1\r\n\r\n";
	assert_int_equal(judge(s, &h), REQHEAD_OK);
	buf_reset(&b);
	reqhead_canon(&h, s, &b);
	assert_string_equal(buf_cstr(&b),
	    "POST / HTTP/1.0\r\nContent-Length: 1\r\n"
	    "Connection: keep-alive\r\n\r\n");
	assert_false(h.close);
	/* HTTP/1.2 is read as 1.1. */
	s = "GET http://h HTTP/1.2\r\nHost: h\r\n\r\n";
	assert_int_equal(judge(s, &h), REQHEAD_OK);
	buf_reset(&b);
	reqhead_canon(&h, s, &b);
	assert_string_equal(buf_cstr(&b), "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_issue_14_framing_cases),
	    cmocka_unit_test(test_message_body_length_rules),
	    cmocka_unit_test(test_field_syntax),
	    cmocka_unit_test(test_request_line),
	    cmocka_unit_test(test_limits),
	    cmocka_unit_test(test_incomplete_head_waits),
	    cmocka_unit_test(test_canonical_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
