/*
 * extract_sax.h - the extractor's state (struct extract, opaque outside
 * src/extract*.c) and the libxml2 side of it: the parser context and the
 * SAX callbacks that turn elements into the result (extract_sax.c).
 */
#ifndef FANOUTD_EXTRACT_SAX_H
#define FANOUTD_EXTRACT_SAX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "extract.h"
#include "extract_int.h"

enum xstate {
	XS_PRESCAN, /* holding the first bytes: HTML? which charset? */
	XS_PARSE,   /* decoding and parsing as bytes come */
	XS_SKIP,    /* not HTML: bytes dropped, why says so */
	XS_FULL,    /* memory cap reached: bytes dropped, result partial */
	XS_DONE,    /* the body ended and was parsed */
};

/* The title's progress: the first HTML <title> only. */
enum xtitle { XT_NONE, XT_IN, XT_DONE };

struct xlink {
	char *url; /* absolute, normalised (xurl_link) */
	char *rel; /* collapsed, or NULL when absent */
	struct xtext text;
};

struct extract {
	enum xstate state;
	struct extract_opts o;
	char *doc_url;       /* as given: the fallback base */
	char *base;          /* the base in force: doc_url or the <base href> */
	char *ctype;         /* the Content-Type value, or NULL */
	const char *charset; /* the canonical name used (static) */
	uint64_t parsed;     /* UTF-8 bytes handed to the parser */
	struct buf pre;      /* the first EXTRACT_PRESCAN_BYTES */
	struct buf why;      /* SKIP's or FULL's reason */
	struct buf utf8;     /* decoded, staged for the parser */
	struct buf tmp;      /* scratch for a URL */
	struct xdec dec;
	void *ctxt;  /* htmlParserCtxtPtr, NULL once closed */
	size_t step; /* bytes per parse step */
	size_t mem;  /* bytes libxml2 holds for this extractor */
	size_t step_peak, peak;

	unsigned foreign; /* open <svg> and <math> elements */
	bool base_seen;   /* the first <base href> decided the base */
	enum xtitle title_state;
	struct xtext title;

	struct xlink *links;
	size_t nlinks, links_cap;
	size_t links_bytes; /* what links and their strings hold */
	uint32_t *seen;     /* open addressing: link index + 1, or 0 */
	size_t seen_cap;    /* a power of two */
	long open_link;     /* the <a> whose text is being collected */
	uint64_t skipped;   /* links with another scheme, or no host */
	bool truncated;     /* a distinct link past max_links */

	char *lang, *canonical, *refresh;
	bool have_desc, have_robots;
	struct xtext desc, robots;
};

/* A parser context on x, with x's SAX callbacks. */
void xsax_open_parser(struct extract *x);
/* Free x's parser context (its memory counted back). Idempotent. */
void xsax_close_parser(struct extract *x);

#endif
