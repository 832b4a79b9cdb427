/*
 * retry.h - when to try an item again, and how long to wait first
 * (DESIGN.md §2 Retries). Pure: randomness and the current time are
 * parameters.
 *
 * An outcome is retryable when its class is in the item's retry_on set:
 * the failure classes connect, dns, timeout and reset, or the HTTP
 * status of a response. POST and PATCH are retried only when the
 * request was provably never sent (a dns or connect failure), unless the
 * item says retry_unsafe.
 */
#ifndef FANOUTD_RETRY_H
#define FANOUTD_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "err.h"

/* The retry_on set: failure classes and HTTP statuses 100-599. */
struct retry_on {
	uint8_t classes;      /* RETRY_CLASS_* bits */
	uint8_t statuses[63]; /* bit s-100 for status s */
};

#define RETRY_CLASS_CONNECT 0x01
#define RETRY_CLASS_DNS     0x02
#define RETRY_CLASS_TIMEOUT 0x04
#define RETRY_CLASS_RESET   0x08

/* The default set, in the text form retry_on_parse reads; the
 * configuration's built-in [upstream] retry_on. */
#define RETRY_ON_DEFAULT "connect, timeout, reset, 429, 502, 503, 504"

/* RETRY_ON_DEFAULT. */
void retry_on_default(struct retry_on *r);
void retry_on_clear(struct retry_on *r);
/* Add "connect", "dns", "timeout", "reset" or a status "100".."599";
 * -1 when the word is none of those. */
int retry_on_add(struct retry_on *r, const char *word);
/*
 * The text form, as the configuration file and the query string give
 * it: words separated by commas, spaces or tabs ("connect,timeout 503").
 * Returns 0 with *r set to exactly those, or -1 with *bad and *badlen
 * naming the first word that is none of them (*r unchanged).
 */
int retry_on_parse(
    const char *text, struct retry_on *r, const char **bad, size_t *badlen);
/* ["connect","timeout",...,"503"] as JSON, classes first. */
void retry_on_emit(const struct retry_on *r, struct buf *out);

/*
 * Is this outcome worth another attempt? err/status describe it (status
 * only when err is IERR_NONE); sent says whether the request may have
 * reached the upstream; safe is true for idempotent methods or when the
 * item allows unsafe retries.
 */
bool retry_wanted(const struct retry_on *r, enum item_err err, int status,
    bool sent, bool safe);

/*
 * Full-jitter exponential backoff before retry number n (0 for the first
 * retry): uniform(0, min(max_ms, base_ms * 2^n)), with u uniform in
 * [0, 1) supplied by the caller.
 */
uint64_t retry_backoff_ms(
    uint32_t base_ms, uint32_t max_ms, unsigned n, double u);

/*
 * A Retry-After value (delta-seconds, or an HTTP-date in IMF-fixdate,
 * RFC 850 or asctime form) as milliseconds from now (a Unix time). A date
 * in the past gives 0. -1 when the value is neither.
 */
int64_t retry_after_ms(const char *value, time_t now);

#endif
