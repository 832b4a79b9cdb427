/*
 * arena.h - a bump allocator for data that lives exactly as long as one
 * batch: item URLs, ids, headers and bodies. One batch of 100,000 items
 * would otherwise cost several hundred thousand mallocs; with the arena it
 * costs a few dozen, and freeing the batch is one walk over its chunks.
 */
#ifndef FANOUTD_ARENA_H
#define FANOUTD_ARENA_H

#include <stddef.h>

struct arena_chunk;

struct arena {
	struct arena_chunk *head; /* newest chunk first */
	size_t total;             /* bytes handed out, for accounting */
};

#define ARENA_INIT      \
	{               \
		NULL, 0 \
	}

/* Memory aligned for any type; never NULL (aborts on out-of-memory). */
void *arena_alloc(struct arena *a, size_t n);
void *arena_memdup(struct arena *a, const void *p, size_t n);
/* A NUL-terminated copy of the n bytes at s. */
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void arena_free(struct arena *a);

#endif
