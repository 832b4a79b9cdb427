/*
 * fuzz_wire.c - libFuzzer harness for the response re-framer (wire.c).
 * The first input byte chooses HEAD or not and seeds the piece sizes;
 * the rest is what an upstream sends. Fed whole and fed in random
 * pieces, the wire must reach the same verdict (state, fault message,
 * status, framing, persistence) and hand evhttp the same head and the
 * same body; that output must read, the way libevent 2.1.12 reads it,
 * as the framing the wire decided (tests/wire_oracle.h); and re-framing
 * the output must give it back unchanged (it is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../wire_oracle.h"
#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEAD 1024

struct outcome {
	struct wire w;
	int rc;
	struct evbuffer *out;
};

/* Feed p[0..n) to a wire reading heads up to max_head, in pieces from
 * the generator state seed (0: whole). */
static void
feed(struct outcome *o, const uint8_t *p, size_t n, bool head, uint32_t seed,
    size_t max_head)
{
	struct evbuffer *in = evbuffer_new();
	size_t off = 0;

	wire_init(&o->w, max_head);
	wire_expect(&o->w, head);
	o->out = evbuffer_new();
	o->rc = 0;
	while (off < n && o->rc == 0) {
		size_t k = n - off;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 64;
			if (k > n - off)
				k = n - off;
		}
		evbuffer_add(in, p + off, k);
		off += k;
		o->rc = wire_feed(&o->w, in, o->out);
	}
	evbuffer_free(in);
}

static void
same(bool cond)
{
	if (!cond)
		abort();
}

/* The output as evhttp reads it; abort when it is not what the wire
 * decided. */
static void
read_out(struct outcome *o, struct oracle *r)
{
	size_t n = evbuffer_get_length(o->out);
	const char *p = (const char *)evbuffer_pullup(o->out, -1);

	same(oracle_read(&o->w, p ? p : "", n, r));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct oracle ra, rb;
	struct outcome a, b;
	bool head;
	uint32_t seed;

	if (size < 2)
		return 0;
	head = (data[0] & 1) != 0;
	seed = (uint32_t)data[0] << 8 | data[1] | 1;
	data += 2, size -= 2;
	feed(&a, data, size, head, 0, MAX_HEAD);
	feed(&b, data, size, head, seed, MAX_HEAD);
	same(a.rc == b.rc && a.w.state == b.w.state);
	same(strcmp(a.w.why, b.w.why) == 0);
	same(a.w.status == b.w.status && a.w.body == b.w.body &&
	    a.w.persistent == b.w.persistent && a.w.extra == b.w.extra &&
	    a.w.interim == b.w.interim && a.w.rewrote == b.w.rewrote);
	same(a.w.orig.len == b.w.orig.len &&
	    (a.w.orig.len == 0 ||
	        memcmp(a.w.orig.data, b.w.orig.data, a.w.orig.len) == 0));
	if (a.w.state != WIRE_HEAD && a.w.state != WIRE_FAULT && !a.w.extra) {
		read_out(&a, &ra);
		read_out(&b, &rb);
		same(ra.head_len == rb.head_len && ra.complete == rb.complete &&
		    ra.body_len == rb.body_len);
		same(memcmp(evbuffer_pullup(a.out, (ev_ssize_t)ra.head_len),
		         evbuffer_pullup(b.out, (ev_ssize_t)rb.head_len),
		         ra.head_len) == 0);
		same(memcmp(ra.body, rb.body,
		         ra.body_len < sizeof(ra.body) ? ra.body_len
		                                       : sizeof(ra.body)) == 0);
		if (ra.complete) { /* canonical: a second pass changes nothing
			            */
			struct outcome c;
			size_t n = evbuffer_get_length(a.out);

			/* A rewritten head has CRLFs and may be a few bytes
			 * longer (evhttp's own limit counts no line ends). */
			feed(&c, evbuffer_pullup(a.out, -1), n, head, 0,
			    2 * MAX_HEAD);
			same(c.rc == 0 && c.w.state == WIRE_DONE &&
			    !c.w.rewrote && evbuffer_get_length(c.out) == n &&
			    memcmp(evbuffer_pullup(c.out, -1),
			        evbuffer_pullup(a.out, -1), n) == 0);
			wire_free(&c.w);
			evbuffer_free(c.out);
		}
	}
	wire_free(&a.w);
	wire_free(&b.w);
	evbuffer_free(a.out);
	evbuffer_free(b.out);
	return 0;
}
