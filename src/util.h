/*
 * util.h - the few helpers every module shares: allocation that never
 * returns NULL, a monotonic clock, and array sizing.
 *
 * Allocation failure is treated as Redis treats it: fanoutd logs and
 * aborts, because a gateway that limps on after an out-of-memory error
 * would break the "one line per item" promise in ways no caller can see.
 * Memory is bounded up front by the caps instead (items, bodies, output
 * high-water), so running out means the caps are wrong for the machine.
 */
#ifndef FANOUTD_UTIL_H
#define FANOUTD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/*
 * The next line of text in [*p, end) that is neither blank nor a comment
 * (starting with #), without surrounding spaces, tabs and CR: sets *s and
 * *n, advances *p past it, returns true; false at the end. URL lists and
 * token files share this format.
 */
bool next_text_line(const char **p, const char *end, const char **s, size_t *n);

/*
 * The next element of an HTTP field value's comma list in [*p, end),
 * without the spaces and tabs around it: sets *s and *n, advances *p
 * past it, returns true; false at the end. Empty elements are skipped,
 * as recipients must (RFC 9110 §5.6.1).
 */
bool next_list_item(const char **p, const char *end, const char **s, size_t *n);

/* v in decimal at out (room for 21 bytes), NUL-terminated; returns the
 * digits written. What "%llu" writes, without printf's cost. */
size_t fmt_uint(char *out, uint64_t v);

/* Microseconds on CLOCK_MONOTONIC: for durations, never for dates. */
uint64_t mono_us(void);

/* Milliseconds between two mono_us() readings, as reported to callers. */
static inline double
us_to_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

#endif
