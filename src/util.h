/*
 * util.h - the few helpers every module shares: allocation that never
 * returns NULL, the line and list readers of the text formats, a
 * monotonic clock and durations as libevent takes them, and array
 * sizing.
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
#include <sys/time.h>

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
 * The next entry of a configuration list in the string *p: entries are
 * separated by commas, spaces and tabs ("connect, timeout 503",
 * "10.0.0.0/8,fe80::/10"). Sets *s and *n, advances *p past it,
 * returns true; false at the end.
 */
bool next_word(const char **p, const char **s, size_t *n);

/*
 * The next element of an HTTP field value's comma list in [*p, end),
 * without the spaces and tabs around it: sets *s and *n, advances *p
 * past it, returns true; false at the end. Empty elements are skipped,
 * as recipients must (RFC 9110 §5.6.1).
 */
bool next_list_item(const char **p, const char *end, const char **s, size_t *n);

/*
 * The text values the configuration file and the query string share;
 * each returns 0, or -1 when s is not one:
 * - parse_uint: decimal digits, and with suffix a K, M or G (binary)
 *   after them; saturates at UINT64_MAX rather than overflow, so a
 *   range check says what is wrong with a huge value;
 * - parse_bool: true, yes, on, 1 / false, no, off, 0;
 * - parse_number: a decimal number (strtod's syntax), the whole string.
 */
int parse_uint(const char *s, bool suffix, uint64_t *out);
int parse_bool(const char *s, bool *out);
int parse_number(const char *s, double *out);

/* v in decimal at out (room for 21 bytes), NUL-terminated; returns the
 * digits written. What "%llu" writes, without printf's cost. */
size_t fmt_uint(char *out, uint64_t v);

/* Microseconds on CLOCK_MONOTONIC: for durations, never for dates. */
uint64_t mono_us(void);

/* A duration as the struct timeval libevent's timers and timeouts take. */
static inline struct timeval
tv_us(uint64_t us)
{
	struct timeval tv = {
	    (time_t)(us / 1000000), (suseconds_t)(us % 1000000)};

	return tv;
}

static inline struct timeval
tv_ms(uint64_t ms)
{
	return tv_us(ms * 1000);
}

/* (Re)arm the timer ev to fire in ms milliseconds (evtimer_add). */
struct event;
void timer_arm_ms(struct event *ev, uint64_t ms);

/* Milliseconds between two mono_us() readings, as reported to callers. */
static inline double
us_to_ms(uint64_t us)
{
	return (double)us / 1000.0;
}

#endif
