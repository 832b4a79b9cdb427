/*
 * arena.c - bump allocation in chunks that grow geometrically (see
 * arena.h). Allocations larger than half a chunk get a chunk of their own
 * so a big request body does not waste the rest of a shared chunk.
 */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "util.h"

#define ARENA_MIN_CHUNK (16 * 1024)
#define ARENA_MAX_CHUNK (1024 * 1024)

struct arena_chunk {
	struct arena_chunk *next;
	size_t used;
	size_t size;
	alignas(max_align_t) unsigned char data[];
};

static struct arena_chunk *
chunk_new(size_t size)
{
	struct arena_chunk *c = xmalloc(sizeof(*c) + size);

	c->next = NULL;
	c->used = 0;
	c->size = size;
	return c;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	const size_t align = alignof(max_align_t);
	struct arena_chunk *c = a->head;
	size_t size;

	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	if (c == NULL || c->size - c->used < n) {
		size = c ? c->size * 2 : ARENA_MIN_CHUNK;
		if (size > ARENA_MAX_CHUNK)
			size = ARENA_MAX_CHUNK;
		if (n > size / 2) {
			/* Oversized: own chunk, kept behind the current one. */
			struct arena_chunk *big = chunk_new(n);

			big->used = n;
			if (c != NULL) {
				big->next = c->next;
				c->next = big;
			} else {
				a->head = big;
			}
			a->total += n;
			return big->data;
		}
		c = chunk_new(size);
		c->next = a->head;
		a->head = c;
	}
	c->used += n;
	a->total += n;
	return c->data + c->used - n;
}

void *
arena_memdup(struct arena *a, const void *p, size_t n)
{
	void *q = arena_alloc(a, n);

	if (n > 0)
		memcpy(q, p, n);
	return q;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void
arena_free(struct arena *a)
{
	struct arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
	a->total = 0;
}
