/*
 * bucket.c - token bucket arithmetic (see bucket.h). The level is
 * brought up to date lazily, on each question, from the time elapsed
 * since the last one; nothing ticks.
 */
#include <math.h>

#include "bucket.h"

/* Levels this close to a whole token count as one: a timer armed for
 * the exact refill instant must find the token there. */
#define BUCKET_EPSILON 1e-9

static double
burst_or_default(double rate, double burst)
{
	if (burst >= 1)
		return burst;
	return rate >= 1 ? rate : 1;
}

void
bucket_init(struct bucket *b, double rate, double burst, uint64_t now_us)
{
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst_or_default(rate, burst);
	b->tokens = b->burst;
	b->last_us = now_us;
}

static void
bucket_refill(struct bucket *b, uint64_t now_us)
{
	if (now_us > b->last_us) {
		b->tokens += (double)(now_us - b->last_us) * b->rate / 1e6;
		if (b->tokens > b->burst)
			b->tokens = b->burst;
	}
	b->last_us = now_us;
}

void
bucket_set(struct bucket *b, double rate, double burst, uint64_t now_us)
{
	bucket_refill(b, now_us);
	b->rate = rate > 0 ? rate : 0;
	b->burst = burst_or_default(rate, burst);
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

uint64_t
bucket_wait_us(struct bucket *b, uint64_t now_us)
{
	if (bucket_unlimited(b))
		return 0;
	bucket_refill(b, now_us);
	if (b->tokens >= 1 - BUCKET_EPSILON)
		return 0;
	return (uint64_t)ceil((1 - b->tokens) * 1e6 / b->rate);
}

void
bucket_take(struct bucket *b, uint64_t now_us)
{
	if (bucket_unlimited(b))
		return;
	bucket_refill(b, now_us);
	b->tokens -= 1;
	if (b->tokens < 0)
		b->tokens = 0; /* within BUCKET_EPSILON of a token */
}
