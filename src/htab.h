/*
 * htab.h - a string-keyed hash table (chained, FNV-1a, doubling). The
 * scheduler's hosts, the pool's origins and the resolver's cache are all
 * small maps from a name to a struct; this is the one implementation.
 * Keys are copied; values are the caller's.
 */
#ifndef FANOUTD_HTAB_H
#define FANOUTD_HTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct htab_entry;

struct htab {
	struct htab_entry **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first put */
	size_t count;
};

#define HTAB_INIT          \
	{                  \
		NULL, 0, 0 \
	}

void *htab_get(const struct htab *h, const char *key);
/* Insert or replace; returns the value replaced, or NULL. */
void *htab_put(struct htab *h, const char *key, void *value);
/* Remove; returns the value removed, or NULL. */
void *htab_del(struct htab *h, const char *key);
/* Call fn on every value; fn may not modify the table. */
void htab_foreach(
    const struct htab *h, void (*fn)(void *value, void *arg), void *arg);
/* Remove (and free_value, may be NULL) every value drop says yes to;
 * drop may not modify the table. */
void htab_drop_if(struct htab *h, bool (*drop)(void *value, void *arg),
    void *arg, void (*free_value)(void *value));
/* Free the table; free_value (may be NULL) is called on each value. */
void htab_free(struct htab *h, void (*free_value)(void *value));

#endif
