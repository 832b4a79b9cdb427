/*
 * fuzz_head.c - libFuzzer harness for the request-head reader behind the
 * early JSON 413 (guard_head_body_length): whatever bytes a caller
 * sends, fed whole or in pieces the way the guard feeds it (each search
 * starting 3 bytes before the new piece), it gives the same answer and
 * length, and only -1, 0 or 1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t step, n = 0;
	uint64_t len_whole = 0, len_split = 0;
	const char *p;
	char *copy;
	int rc_whole = -1, rc_split = -1;

	if (size < 1)
		return 0;
	step = (size_t)data[0] % 16 + 1; /* the size of each piece */
	size--;
	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	memcpy(copy, data + 1, size);
	p = copy;
	/* Once a prefix holds the head's end, longer ones answer the same:
	 * the whole input, searched from its start. */
	rc_whole = guard_head_body_length(p, size, 0, &len_whole);
	/* The same in pieces, as conn_head_feed does. */
	while (n < size && rc_split < 0) {
		size_t from = n > 3 ? n - 3 : 0;

		n = n + step < size ? n + step : size;
		rc_split = guard_head_body_length(p, n, from, &len_split);
	}
	if (rc_whole < -1 || rc_whole > 1 || rc_split != rc_whole)
		abort();
	if (rc_whole == 1 && len_split != len_whole)
		abort();
	free(copy);
	return 0;
}
