/*
 * pgarr.h - PostgreSQL array literals in text form (the external
 * representation of PostgreSQL's arrays, docs §8.15.6 "Array Input and
 * Output Syntax"), so that one statement can carry a whole batch of rows
 * as unnest($1::int[], $2::text[], ...) parameters. Pure: no libpq.
 */
#ifndef FANOUTD_PGARR_H
#define FANOUTD_PGARR_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Start an array literal in b (emptied first): "{". */
void pgarr_begin(struct buf *b);
/* One text element: double-quoted, with " and \ escaped by a backslash;
 * n bytes of s (no NUL among them: text cannot hold one). */
void pgarr_text(struct buf *b, const char *s, size_t n);
/* One integer element. */
void pgarr_int(struct buf *b, int64_t v);
/* A NULL element. */
void pgarr_null(struct buf *b);
/* Close the literal ("}") and return it NUL-terminated. */
const char *pgarr_end(struct buf *b);

#endif
