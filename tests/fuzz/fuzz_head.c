/*
 * fuzz_head.c - libFuzzer harness for the request head validator
 * (reqhead_parse), which every request passes before evhttp reads it:
 * whatever bytes a caller sends, the head fed whole and fed in pieces
 * (as the guard feeds it, the same buffer growing) gets the same
 * verdict - status, error, message, framing, length, route - and no
 * head needs more than reqhead_max_bytes() to get one. An accepted
 * head's canonical copy must itself be accepted, with the same
 * framing: what evhttp reads is what was judged.
 *
 * The first input byte seeds the sizes of the pieces (each from 1 to
 * 64 bytes, drawn anew) and picks the limits (tight ones reach the
 * 414 / 431 / 413 paths with short inputs).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reqhead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same(const struct reqhead *a, const struct reqhead *b, const char *p)
{
	struct buf ra = BUF_INIT, rb = BUF_INIT;

	if (a->status != b->status)
		abort();
	if (a->status == REQHEAD_BAD &&
	    (a->error != b->error || strcmp(a->message, b->message) != 0))
		abort();
	if (a->status != REQHEAD_OK)
		return;
	if (a->head_len != b->head_len || a->framing != b->framing ||
	    a->length != b->length || a->close != b->close ||
	    a->expect_continue != b->expect_continue || a->minor != b->minor)
		abort();
	reqhead_route(a, p, &ra);
	reqhead_route(b, p, &rb);
	if (ra.len != rb.len || memcmp(ra.data, rb.data, ra.len) != 0)
		abort();
	buf_free(&ra);
	buf_free(&rb);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reqhead_limits tight = {256, 6, 64, 100};
	struct reqhead_limits wide = {32768, 100, 8192, 16777216};
	/* The canonical copy may add a Connection line and respell the
	 * framing ones. */
	struct reqhead_limits loose = {32768 + 256, 104, 8192, UINT64_MAX};
	const struct reqhead_limits *lim;
	struct reqhead whole, split, again;
	uint32_t rng;
	size_t n = 0;
	char *copy;

	if (size < 1)
		return 0;
	rng = data[0] * 2654435761u + 1;
	lim = (data[0] & 0x40) ? &tight : &wide;
	size--;
	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data + 1, size);
	reqhead_init(&whole);
	reqhead_parse(&whole, copy, size, lim);
	reqhead_init(&split);
	while (n < size && split.status == REQHEAD_MORE) {
		size_t step = (rng >> 16) % 64 + 1; /* the next piece */

		rng = rng * 1103515245u + 12345u;
		n = n + step < size ? n + step : size;
		reqhead_parse(&split, copy, n, lim);
	}
	same(&whole, &split, copy);
	if (size >= reqhead_max_bytes(lim) && whole.status == REQHEAD_MORE)
		abort();
	if (whole.status == REQHEAD_OK) {
		struct buf canon = BUF_INIT;

		if (whole.head_len > size)
			abort();
		reqhead_canon(&whole, copy, &canon);
		reqhead_init(&again);
		if (reqhead_parse(&again, canon.data, canon.len, &loose) !=
		        REQHEAD_OK ||
		    again.head_len != canon.len ||
		    again.framing != whole.framing ||
		    again.length != whole.length || again.close != whole.close)
			abort();
		buf_free(&canon);
	}
	free(copy);
	return 0;
}
