/*
 * files.c - the test upstream's static pages (issue #17): with
 * `--root DIR`, /files/PATH answers the file DIR/PATH, so the extraction
 * tests can serve hand-made pages and the Python documentation corpus
 * over HTTP.
 *
 *   /files/PATH?type=T    Content-Type T (percent-decoded; "none": no
 *                         Content-Type at all); without it, by the
 *                         file's extension: .html text/html, .xhtml
 *                         application/xhtml+xml, .png image/png, .txt
 *                         text/plain, else application/octet-stream.
 *   ...&gzip=1            the body gzip-encoded (Content-Encoding: gzip).
 *   ...&chunked=N         Transfer-Encoding: chunked, N-byte chunks.
 *
 * A path with a ".." segment, or a file that cannot be read, is a 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "upstream.h"

static char *files_root;

void
up_files_root(const char *dir)
{
	free(files_root);
	files_root = strdup(dir);
}

void
up_files_free(void)
{
	free(files_root);
	files_root = NULL;
}

/* %XX sequences of s decoded in place. */
static void
files_pct_decode(char *s)
{
	char *o = s;
	unsigned v;

	for (; *s != '\0'; s++) {
		if (*s == '%' && sscanf(s + 1, "%2x", &v) == 1 && s[1] &&
		    s[2]) {
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s == '+' ? ' ' : *s;
		}
	}
	*o = '\0';
}

static const char *
files_type(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {{".html", "text/html"},
	    {".xhtml", "application/xhtml+xml"}, {".png", "image/png"},
	    {".txt", "text/plain"}};
	size_t n = strlen(path), i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		size_t e = strlen(types[i].ext);

		if (n >= e && strcmp(path + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

/* The whole file, or NULL. */
static unsigned char *
files_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    n > UP_MAX_BODY || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return NULL;
	}
	p = malloc((size_t)n + 1);
	*len = fread(p, 1, (size_t)n, f);
	fclose(f);
	return p;
}

/* p[0..*len) gzip-encoded, replacing p. */
static unsigned char *
files_gzip(unsigned char *p, size_t *len)
{
	uLong cap = compressBound((uLong)*len) + 64;
	unsigned char *out = malloc(cap);
	z_stream z;

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	z.next_in = p;
	z.avail_in = (uInt)*len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*len = cap - z.avail_out;
	deflateEnd(&z);
	free(p);
	return out;
}

static void
files_respond_chunked(struct up_conn *c, const char *type, const char *extra,
    const unsigned char *p, size_t len, size_t step)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	size_t off;

	evbuffer_add_printf(out, "HTTP/1.1 200 OK\r\n");
	if (type != NULL)
		evbuffer_add_printf(out, "Content-Type: %s\r\n", type);
	evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n%s%s\r\n",
	    extra, c->req.keepalive ? "" : "Connection: close\r\n");
	for (off = 0; off < len; off += step) {
		size_t k = len - off < step ? len - off : step;

		evbuffer_add_printf(out, "%zx\r\n", k);
		evbuffer_add(out, p + off, k);
		evbuffer_add(out, "\r\n", 2);
	}
	evbuffer_add(out, "0\r\n\r\n", 5);
	c->after = c->req.keepalive ? AFTER_KEEP : AFTER_CLOSE;
	c->state = UP_WRITE;
}

bool
up_route_files(struct up_conn *c)
{
	const char *t = c->req.target;
	char rel[4096], path[8192], type[256], q[32];
	const char *ct, *extra = "";
	unsigned char *body;
	size_t len = 0, n;

	if (strncmp(t, "/files/", 7) != 0)
		return false;
	/* /files/N/NAME (N digits: N letters under any name, for fanout -d)
	 * is upstream.c's, with or without a root. */
	if (t[7] >= '0' && t[7] <= '9' &&
	    t[7 + strspn(t + 7, "0123456789")] == '/')
		return false;
	n = strcspn(t + 7, "?");
	if (files_root == NULL || n >= sizeof(rel)) {
		up_respond(c, 404, "text/plain", NULL, "not found\n", 10);
		return true;
	}
	memcpy(rel, t + 7, n);
	rel[n] = '\0';
	files_pct_decode(rel);
	snprintf(path, sizeof(path), "/%s/", rel);
	if (strstr(path, "/../") != NULL) {
		up_respond(c, 404, "text/plain", NULL, "not found\n", 10);
		return true;
	}
	snprintf(path, sizeof(path), "%s/%s", files_root, rel);
	if ((body = files_read(path, &len)) == NULL) {
		up_respond(c, 404, "text/plain", NULL, "not found\n", 10);
		return true;
	}
	ct = files_type(rel);
	if (up_query(&c->req, "type", type, sizeof(type)) != NULL) {
		files_pct_decode(type);
		ct = strcmp(type, "none") == 0 ? NULL : type;
	}
	if (up_query(&c->req, "gzip", q, sizeof(q)) != NULL &&
	    strcmp(q, "1") == 0) {
		body = files_gzip(body, &len);
		extra = "Content-Encoding: gzip\r\n";
	}
	if (up_query(&c->req, "chunked", q, sizeof(q)) != NULL && atol(q) > 0)
		files_respond_chunked(c, ct, extra, body, len, (size_t)atol(q));
	else
		up_respond(c, 200, ct, extra, body, len);
	free(body);
	return true;
}
