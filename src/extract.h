/*
 * extract.h - title, links and page metadata from one HTML response, as
 * its body streams in (issue #17). Pure: no I/O, no libevent.
 *
 * One extractor per response: create it with what to extract, the
 * document's URL (the final URL after redirects) and the Content-Type
 * header; feed it the decoded body (after gzip/deflate) chunk by chunk
 * as it arrives; finish it (also when the body was cut at
 * max_body_bytes: what arrived is extracted); append its result to a
 * result line with extract_json. The body is never kept: bytes are
 * decoded to UTF-8 (charset per the HTML standard: BOM, HTTP charset,
 * <meta> prescan of the first 1024 bytes, then UTF-8), pushed through
 * libxml2's HTML push parser in 4 KiB steps, and dropped.
 *
 * Memory: everything an extractor holds, libxml2's parser context
 * included, is counted against opts.mem_cap (libxml2 allocates through
 * counting hooks, extract_mem.c). Past the cap the parse stops and the
 * result says so ("partial"); what was extracted until then is kept. A
 * document of ordinary markup parses in a few tens of KiB whatever its
 * size; what reaches the cap is one construct libxml2 must hold whole: a
 * text run without '<' or '&', a comment, or a tag, longer than the cap.
 *
 * The result's shape (docs/extract.md has the details and the choices):
 *   "extract":{"title":"..."|null,
 *     "links":[{"url":"http://...","text":"...","rel":"..."},...],
 *     "links_skipped":N,"links_truncated":false,
 *     "meta":{"charset":"utf-8","lang":..,"canonical":..,"description":..,
 *             "robots":..,"refresh":..},
 *     "partial":"..."}
 * with only the parts asked for; or, for a response that is not HTML,
 *   "extract":null,"extract_skipped":"why".
 */
#ifndef FANOUTD_EXTRACT_H
#define FANOUTD_EXTRACT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* What to extract: a set of these bits. */
#define EXTRACT_TITLE 1u
#define EXTRACT_LINKS 2u
#define EXTRACT_META  4u
#define EXTRACT_ALL   (EXTRACT_TITLE | EXTRACT_LINKS | EXTRACT_META)

#define EXTRACT_MAX_LINKS_DEFAULT 1000
/* Bytes of anchor text kept per link (UTF-8, cut on a character). */
#define EXTRACT_TEXT_CAP_DEFAULT 256
/* Bytes of title, description and robots kept. */
#define EXTRACT_FIELD_CAP 1024
/* Per extractor, parser included. Typical pages use 20-60 KiB. */
#define EXTRACT_MEM_CAP_DEFAULT (1024 * 1024)
/* The bytes buffered before parsing starts: the <meta> charset prescan
 * window (HTML standard §13.2.3.2) and the MIME sniffing window. */
#define EXTRACT_PRESCAN_BYTES 1024

struct extract_opts {
	unsigned what;    /* EXTRACT_* bits; 0 is taken as EXTRACT_ALL */
	size_t max_links; /* distinct links kept; past it links_truncated */
	size_t text_cap;  /* bytes of anchor text per link */
	size_t mem_cap;   /* bytes for the whole extractor */
};

struct extract;

/*
 * Is a response with this Content-Type (the header's value, NULL when
 * absent) and these first bytes of body (head[0..n), the first
 * EXTRACT_PRESCAN_BYTES or all of a shorter body) HTML? True for
 * text/html and application/xhtml+xml whatever the body; with no (or an
 * empty) Content-Type, true when the body sniffs as HTML: after a BOM
 * and whitespace, one of the HTML patterns of the MIME Sniffing
 * standard §7.1 ("<!DOCTYPE HTML", "<html", "<head", "<body", "<title",
 * "<!--", "<p", ... case-insensitive, followed by a space or '>').
 * False otherwise, with the reason appended to why (when not NULL):
 * "content type image/png is not HTML", "no content type and the body
 * does not look like HTML".
 */
bool extract_is_html(
    const char *content_type, const void *head, size_t n, struct buf *why);

/*
 * A new extractor for one response. base_url is the document's URL (the
 * final one after redirects; links resolve against it unless the page
 * has a <base href>); content_type the Content-Type header's value or
 * NULL. Both are copied. Zero fields of opts take the defaults above.
 * Never NULL (aborts on out-of-memory, as xmalloc does).
 */
struct extract *extract_create(const struct extract_opts *opts,
    const char *base_url, const char *content_type);

/* Feed the next n bytes of decoded body. Cheap once the result is
 * decided (not HTML, or the memory cap reached): the bytes are dropped. */
void extract_feed(struct extract *x, const void *p, size_t n);

/* The body ended (whole, or cut short): parse what is left. Idempotent;
 * no feed may follow. */
void extract_finish(struct extract *x);

/*
 * Append the result's member text to out: "extract":{...} or
 * "extract":null,"extract_skipped":"..." (no leading comma; the caller
 * places it among the result line's members). Finishes x first if
 * needed. Valid JSON and valid UTF-8 whatever the document held.
 */
void extract_json(struct extract *x, struct buf *out);

/* "extract":null,"extract_skipped":"<why>", for a response that never
 * reached an extractor (a HEAD request, a 204 or 304, an error). */
void extract_json_skipped(struct buf *out, const char *why);

/* The most bytes x held at once, parser included: for tests and the
 * benchmark. */
size_t extract_mem_peak(const struct extract *x);

void extract_free(struct extract *x);

#endif
