/*
 * policy.c - the test upstream's endpoints for fanoutd's traffic policy
 * (issue #3): upstreams that fail a few times then succeed, redirect
 * chains, compressed bodies (including a bomb and a corrupt one), and
 * the arrival times of a tag's requests, from which the tests measure
 * rates.
 *
 *   /flaky/KEY?fail=K&status=S&retry_after=R&close=1
 *       the first K requests for KEY get status S (default 503, with
 *       Retry-After: R when given) or, with close=1, a closed connection;
 *       later ones get 200 "ok after K".
 *   /redirect/N?abs=1&status=S   302 (or S) to /redirect/N-1 (relative,
 *       or absolute with abs=1); /redirect/0 answers 200 "redirected".
 *   /redirect-to?url=U&status=S  S (default 302) to the decoded URL U.
 *   /gzip/N, /deflate/N, /deflate-raw/N   N bytes of text, compressed.
 *   /gzip-bomb/M   M MiB of zeros, gzip-compressed (about M KiB).
 *   /gzip-bad      Content-Encoding: gzip over bytes that are not gzip.
 *   /stats/times?tag=T   arrival times (ms) of tag T's requests.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "upstream.h"

struct up_flaky {
	char *key;
	long seen;
	struct up_flaky *next;
};

static struct up_flaky *flaky;

static long
up_flaky_count(const char *key)
{
	struct up_flaky *f;

	for (f = flaky; f != NULL; f = f->next)
		if (strcmp(f->key, key) == 0)
			return ++f->seen;
	f = calloc(1, sizeof(*f));
	f->key = strdup(key);
	f->seen = 1;
	f->next = flaky;
	flaky = f;
	return 1;
}

void
up_policy_free(void)
{
	struct up_flaky *f;

	while ((f = flaky) != NULL) {
		flaky = f->next;
		free(f->key);
		free(f);
	}
}

static long
up_query_long(const struct up_req *r, const char *key, long dflt)
{
	char q[32];

	return up_query(r, key, q, sizeof(q)) ? strtol(q, NULL, 10) : dflt;
}

static void
up_flaky(struct up_conn *c)
{
	const char *key = c->req.target + strlen("/flaky/");
	size_t klen = strcspn(key, "?");
	char name[128], extra[64], body[48];
	long fail = up_query_long(&c->req, "fail", 2);
	long status = up_query_long(&c->req, "status", 503);
	long ra = up_query_long(&c->req, "retry_after", -1);
	long n;

	snprintf(name, sizeof(name), "%.*s", (int)klen, key);
	n = up_flaky_count(name);
	if (n <= fail) {
		if (up_query_long(&c->req, "close", 0)) {
			up_close(c); /* a reset: no response at all */
			return;
		}
		extra[0] = '\0';
		if (ra >= 0)
			snprintf(
			    extra, sizeof(extra), "Retry-After: %ld\r\n", ra);
		snprintf(body, sizeof(body), "failure %ld\n", n);
		up_respond(
		    c, (int)status, "text/plain", extra, body, strlen(body));
		return;
	}
	snprintf(body, sizeof(body), "ok after %ld\n", fail);
	up_respond(c, 200, "text/plain", NULL, body, strlen(body));
}

/* Percent-decode s into out (room for strlen(s) + 1). */
static void
up_pct_decode(const char *s, char *out)
{
	while (*s != '\0') {
		if (s[0] == '%' && isxdigit((unsigned char)s[1]) &&
		    isxdigit((unsigned char)s[2])) {
			char hex[3] = {s[1], s[2], '\0'};

			*out++ = (char)strtol(hex, NULL, 16);
			s += 3;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

static void
up_redirect(struct up_conn *c, long n)
{
	long status = up_query_long(&c->req, "status", 302);
	const char *q = strchr(c->req.target, '?');
	const char *host = up_header(&c->req, "Host");
	char extra[1024];

	if (n <= 0) {
		up_respond(c, 200, "text/plain", NULL, "redirected\n", 11);
		return;
	}
	if (up_query_long(&c->req, "abs", 0) && host != NULL)
		snprintf(extra, sizeof(extra),
		    "Location: http://%s/redirect/%ld%s\r\n", host, n - 1,
		    q ? q : "");
	else
		snprintf(extra, sizeof(extra), "Location: %ld%s\r\n", n - 1,
		    q ? q : "");
	up_respond(c, (int)status, "text/plain", extra, "moved\n", 6);
}

static void
up_redirect_to(struct up_conn *c)
{
	char raw[900], url[900], extra[1024];
	long status = up_query_long(&c->req, "status", 302);

	if (up_query(&c->req, "url", raw, sizeof(raw)) == NULL) {
		up_respond(c, 400, "text/plain", NULL, "no url\n", 7);
		return;
	}
	up_pct_decode(raw, url);
	snprintf(extra, sizeof(extra), "Location: %s\r\n", url);
	up_respond(c, (int)status, "text/plain", extra, "moved\n", 6);
}

/*
 * Compress n bytes (text, or zeros) with windowBits wbits (31: gzip,
 * 15: zlib, -15: raw deflate) and respond with Content-Encoding ce.
 */
static void
up_compressed(struct up_conn *c, long n, bool zeros, int wbits, const char *ce)
{
	unsigned char in[65536], *out;
	size_t outcap = (size_t)n / 8 + 65536, i;
	char extra[64];
	z_stream z;
	long left = n;

	memset(&z, 0, sizeof(z));
	deflateInit2(
	    &z, zeros ? 1 : 6, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
	out = malloc(outcap);
	z.next_out = out;
	z.avail_out = (uInt)outcap;
	for (i = 0; i < sizeof(in); i++)
		in[i] = zeros ? 0 : (unsigned char)('a' + i % 26);
	while (left > 0) {
		size_t k = left < (long)sizeof(in) ? (size_t)left : sizeof(in);

		z.next_in = in;
		z.avail_in = (uInt)k;
		deflate(&z, Z_NO_FLUSH);
		left -= (long)k;
	}
	deflate(&z, Z_FINISH);
	snprintf(extra, sizeof(extra), "Content-Encoding: %s\r\n", ce);
	up_respond(c, 200, "text/plain", extra, out, outcap - z.avail_out);
	deflateEnd(&z);
	free(out);
}

static void
up_times(struct up_conn *c)
{
	char name[128];
	struct up_tag *t;
	json_t *a = json_array();
	char *s;
	size_t i;

	if (up_query(&c->req, "tag", name, sizeof(name)) != NULL &&
	    (t = up_tag_find(name)) != NULL)
		for (i = 0; i < t->ntimes; i++)
			json_array_append_new(a, json_real(t->times[i]));
	s = json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(10));
	up_respond(c, 200, "application/json", NULL, s, strlen(s));
	free(s);
	json_decref(a);
}

bool
up_route_policy(struct up_conn *c)
{
	struct up_req *r = &c->req;
	long n;

	if (strncmp(r->target, "/flaky/", 7) == 0)
		up_flaky(c);
	else if (up_path_is(r, "/redirect/", &n))
		up_redirect(c, n);
	else if (up_path_is(r, "/redirect-to", NULL))
		up_redirect_to(c);
	else if (up_path_is(r, "/gzip/", &n))
		up_compressed(c, n, false, 31, "gzip");
	else if (up_path_is(r, "/deflate/", &n))
		up_compressed(c, n, false, 15, "deflate");
	else if (up_path_is(r, "/deflate-raw/", &n))
		up_compressed(c, n, false, -15, "deflate");
	else if (up_path_is(r, "/gzip-bomb/", &n))
		up_compressed(c, n * 1024 * 1024, true, 31, "gzip");
	else if (up_path_is(r, "/gzip-bad", NULL))
		up_respond(c, 200, "text/plain", "Content-Encoding: gzip\r\n",
		    "this is not gzip at all", 23);
	else if (up_path_is(r, "/stats/times", NULL))
		up_times(c);
	else
		return false;
	return true;
}
