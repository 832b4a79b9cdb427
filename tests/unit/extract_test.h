/*
 * extract_test.h - helpers of the extractor's unit tests: run a document
 * through extract.h whole and in pieces (the results must agree), parse
 * the result with jansson, and assert on its fields.
 */
#ifndef FANOUTD_EXTRACT_TEST_H
#define FANOUTD_EXTRACT_TEST_H

#include <jansson.h>

#include "buf.h"
#include "extract.h"

/* The "extract" object for html served as ctype (NULL: "text/html")
 * from base, default options. Fails the test unless it is an object. */
json_t *xt_run(const char *ctype, const char *base, const char *html);
json_t *xt_run_opts(const struct extract_opts *o, const char *ctype,
    const char *base, const char *html);
/* The whole {"extract":...,"extract_skipped":...} for n bytes served as
 * ctype (NULL: no Content-Type). */
json_t *xt_run_raw(
    const char *ctype, const char *base, const void *body, size_t n);
/* The "extract" object in an extract_json output. */
json_t *xt_parse(const struct buf *out);

/* obj[key] is the string want. */
void xt_str(json_t *obj, const char *key, const char *want);
const char *xt_get_str(json_t *obj, const char *key);
/* The links' URLs are exactly the NULL-terminated list. */
void xt_links(json_t *x, ...);
void xt_link_text(json_t *x, size_t i, const char *want);
void xt_link_str(json_t *x, size_t i, const char *key, const char *want);

#endif
