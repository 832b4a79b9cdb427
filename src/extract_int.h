/*
 * extract_int.h - the parts of the extractor (extract.h) that its files
 * share and its unit tests reach: character sets (extract_charset.c),
 * link URLs (extract_url.c) and libxml2's counted allocator
 * (extract_mem.c). Not for the rest of fanoutd.
 */
#ifndef FANOUTD_EXTRACT_INT_H
#define FANOUTD_EXTRACT_INT_H

#include <iconv.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* --- character sets (extract_charset.c) ------------------------------ */

/*
 * The encoding for a label (WHATWG Encoding §4.2: ASCII whitespace
 * around it ignored, case-insensitive): its canonical name ("utf-8",
 * "windows-1252", "shift_jis", ...), or NULL for a label we do not know
 * (then the next source of the HTML standard's order is asked).
 */
const char *xcs_lookup(const char *label, size_t n);

/* The charset parameter of a Content-Type value, as a known encoding's
 * name, or NULL. */
const char *xcs_from_content_type(const char *content_type);

/* A BOM at p[0..n): its encoding's name and *len the BOM's bytes, or
 * NULL. */
const char *xcs_bom(const unsigned char *p, size_t n, size_t *len);

/*
 * The HTML standard's prescan (§13.2.3.2 "prescan a byte stream to
 * determine its encoding") of p[0..n), the first 1024 bytes: the
 * encoding a <meta charset> or <meta http-equiv=content-type content=
 * "...charset=..."> names, with utf-16 taken as utf-8 and
 * x-user-defined as windows-1252 as it says; NULL when none does.
 */
const char *xcs_prescan(const unsigned char *p, size_t n);

/* A decoder from one encoding to UTF-8 that never fails: bytes that do
 * not decode become U+FFFD, as does NUL (libxml2 stops at it). */
struct xdec {
	bool utf8;             /* validate only; else iconv */
	iconv_t cd;            /* (iconv_t)-1 with utf8 */
	unsigned char pend[8]; /* an incomplete sequence from the last call */
	size_t npend;
};

/* Open a decoder for a canonical name from xcs_lookup. Falls back to
 * UTF-8 when iconv does not know the encoding. */
void xdec_open(struct xdec *d, const char *name);
/* Decode p[0..n) appending UTF-8 to out; last: the input ends here (an
 * incomplete sequence left becomes U+FFFD). */
void xdec_run(struct xdec *d, const unsigned char *p, size_t n, bool last,
    struct buf *out);
void xdec_close(struct xdec *d);

/* --- link URLs (extract_url.c) --------------------------------------- */

/*
 * The absolute http(s) URL an attribute value (an href: p[0..n), as the
 * HTML parser decoded it) leads to from base, as the HTML standard's URL
 * parsing does it for the cases that matter (see docs/extract.md):
 * surrounding C0 controls and spaces trimmed, tabs and newlines removed,
 * "\" read as "/", "http:x" relative to an http base; resolved per RFC
 * 3986 §5.2 (url_resolve); the fragment dropped; scheme and host
 * lower-cased, an empty path made "/"; bytes that RFC 3986 does not
 * allow in a path or query percent-encoded. Appends it to out and
 * returns 0, or returns -1 when it is not an http(s) URL with a host
 * (mailto:, javascript:, data:, tel:, ...): a skipped link.
 */
int xurl_link(const char *base, const char *p, size_t n, struct buf *out);

/* --- libxml2's allocator (extract_mem.c) ----------------------------- */

/* Install the counting allocator into libxml2 and initialise it; once
 * per process, before any other libxml2 call (extract_create does). */
void xmem_init(void);

/* Count libxml2's allocations on this thread into *counter until
 * xmem_leave: bytes held now, and the most held at once in *peak. */
void xmem_enter(size_t *counter, size_t *peak);
void xmem_leave(void);

/*
 * A new (empty) libxml2 dictionary for a parser context (an xmlDictPtr).
 * Each dictionary hashes with a random seed, and how its table grows,
 * so the memory a parse takes, depends on it; the dictionaries made here
 * all share one seed (a sub-dictionary of one empty parent), so that in
 * one process a document takes the same memory however it is fed, and
 * the memory cap stops it at the same place.
 */
void *xmem_dict(void);

/* --- text collectors (extract.c) ------------------------------------- */

/* Text with ASCII whitespace runs collapsed to one space and trimmed,
 * kept up to cap bytes (cut on a UTF-8 character boundary). */
struct xtext {
	struct buf b;
	size_t cap;
	bool space; /* whitespace seen since the last byte kept */
	bool full;
};

void xtext_add(struct xtext *t, const char *s, size_t n);

#endif
