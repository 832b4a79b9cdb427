/*
 * bucket.h - token buckets for the rate limits of DESIGN.md §2: `rate`
 * tokens per second, holding at most `burst`; rate 0 means unlimited.
 * Pure: the caller passes the time (microseconds on a monotonic clock),
 * so tests drive the arithmetic exactly.
 */
#ifndef FANOUTD_BUCKET_H
#define FANOUTD_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

struct bucket {
	double rate;      /* tokens per second; 0: unlimited */
	double burst;     /* capacity, at least 1 */
	double tokens;    /* level at last_us */
	uint64_t last_us; /* when tokens was last brought up to date */
};

/* A full bucket. burst 0 means one second's worth (at least 1). */
void bucket_init(struct bucket *b, double rate, double burst, uint64_t now_us);

/* New rate and burst, keeping the current level (within the new burst). */
void bucket_set(struct bucket *b, double rate, double burst, uint64_t now_us);

static inline bool
bucket_unlimited(const struct bucket *b)
{
	return b->rate <= 0;
}

/* Microseconds until a token is available: 0 when one is there now. */
uint64_t bucket_wait_us(struct bucket *b, uint64_t now_us);

/* Take a token; only after bucket_wait_us() returned 0 for now_us. */
void bucket_take(struct bucket *b, uint64_t now_us);

#endif
