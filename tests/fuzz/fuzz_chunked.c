/*
 * fuzz_chunked.c - libFuzzer harness for the chunked body decoder
 * (chunked_step): whatever bytes a caller sends as a chunked body, fed
 * whole or in random pieces (sizes drawn from a generator the first
 * input byte seeds), the decoder yields the same data,
 * stops at the same byte with the same verdict and message, never
 * yields more than its cap, and never reads past what it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "chunked.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Decode p[0..n) in pieces whose sizes a generator seeded with seed
 * draws (0: all at once); the data into out. Returns the final status;
 * *end is where decoding stopped. */
static enum chunked_status
decode(const char *p, size_t n, uint32_t seed, struct chunked *c,
    struct buf *out, size_t *end)
{
	size_t off = 0, avail = 0;
	enum chunked_status st = CHUNKED_MORE;
	uint32_t rng = seed * 2654435761u + 1;

	chunked_init(c, 300, 200);
	while (st != CHUNKED_DONE && st != CHUNKED_BAD) {
		size_t used, doff, dlen;

		if (off == avail) {
			size_t step = seed ? (rng >> 16) % 32 + 1 : n;

			if (avail == n)
				break;
			rng = rng * 1103515245u + 12345u;
			avail = avail + step < n ? avail + step : n;
		}
		st = chunked_step(c, p + off, avail - off, &used, &doff, &dlen);
		if (used > avail - off || doff + dlen > used)
			abort();
		if (st == CHUNKED_DATA)
			buf_add(out, p + off + doff, dlen);
		off += used;
	}
	*end = off;
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf a = BUF_INIT, b = BUF_INIT;
	struct chunked ca, cb;
	enum chunked_status sa, sb;
	size_t ea, eb;
	char *copy;

	if (size < 1)
		return 0;
	size--;
	copy = malloc(size ? size : 1);
	memcpy(copy, data + 1, size);
	sa = decode(copy, size, 0, &ca, &a, &ea);
	sb = decode(copy, size, (uint32_t)data[0] + 1, &cb, &b, &eb);
	if (sa != sb || ea != eb || a.len != b.len ||
	    (a.len && memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (sa == CHUNKED_BAD &&
	    (ca.error != cb.error || strcmp(ca.message, cb.message) != 0))
		abort();
	if (a.len > 300 || ca.total != a.len)
		abort();
	buf_free(&a);
	buf_free(&b);
	free(copy);
	return 0;
}
