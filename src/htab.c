/*
 * htab.c - chained string hash table (see htab.h).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "htab.h"
#include "util.h"

struct htab_entry {
	struct htab_entry *next;
	uint64_t hash;
	void *value;
	char key[];
};

static uint64_t
htab_hash(const char *key)
{
	uint64_t h = 1469598103934665603ull;

	while (*key != '\0') {
		h ^= (unsigned char)*key++;
		h *= 1099511628211ull;
	}
	return h;
}

static struct htab_entry **
htab_slot(const struct htab *h, const char *key, uint64_t hash)
{
	struct htab_entry **pp = &h->buckets[hash & (h->nbuckets - 1)];

	while (*pp != NULL &&
	    ((*pp)->hash != hash || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void
htab_grow(struct htab *h)
{
	size_t n = h->nbuckets ? h->nbuckets * 2 : 16;
	struct htab_entry **b = xcalloc(n, sizeof(*b));
	size_t i;

	for (i = 0; i < h->nbuckets; i++) {
		struct htab_entry *e, *next;

		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	free(h->buckets);
	h->buckets = b;
	h->nbuckets = n;
}

void *
htab_get(const struct htab *h, const char *key)
{
	struct htab_entry *e;

	if (h->nbuckets == 0)
		return NULL;
	e = *htab_slot(h, key, htab_hash(key));
	return e ? e->value : NULL;
}

void *
htab_put(struct htab *h, const char *key, void *value)
{
	uint64_t hash = htab_hash(key);
	struct htab_entry **pp, *e;
	size_t klen;
	void *old;

	if (h->count >= h->nbuckets)
		htab_grow(h);
	pp = htab_slot(h, key, hash);
	if (*pp != NULL) {
		old = (*pp)->value;
		(*pp)->value = value;
		return old;
	}
	klen = strlen(key);
	e = xmalloc(sizeof(*e) + klen + 1);
	memcpy(e->key, key, klen + 1);
	e->hash = hash;
	e->value = value;
	e->next = NULL;
	*pp = e;
	h->count++;
	return NULL;
}

void *
htab_del(struct htab *h, const char *key)
{
	struct htab_entry **pp, *e;
	void *value;

	if (h->nbuckets == 0)
		return NULL;
	pp = htab_slot(h, key, htab_hash(key));
	if ((e = *pp) == NULL)
		return NULL;
	*pp = e->next;
	value = e->value;
	free(e);
	h->count--;
	return value;
}

void
htab_foreach(
    const struct htab *h, void (*fn)(void *value, void *arg), void *arg)
{
	size_t i;

	for (i = 0; i < h->nbuckets; i++) {
		struct htab_entry *e, *next;

		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			fn(e->value, arg);
		}
	}
}

void
htab_drop_if(struct htab *h, bool (*drop)(void *value, void *arg), void *arg,
    void (*free_value)(void *value))
{
	size_t i;

	for (i = 0; i < h->nbuckets; i++) {
		struct htab_entry **pp = &h->buckets[i], *e;

		while ((e = *pp) != NULL) {
			if (!drop(e->value, arg)) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			if (free_value != NULL)
				free_value(e->value);
			free(e);
			h->count--;
		}
	}
}

void
htab_free(struct htab *h, void (*free_value)(void *value))
{
	size_t i;

	for (i = 0; i < h->nbuckets; i++) {
		struct htab_entry *e, *next;

		for (e = h->buckets[i]; e != NULL; e = next) {
			next = e->next;
			if (free_value != NULL)
				free_value(e->value);
			free(e);
		}
	}
	free(h->buckets);
	h->buckets = NULL;
	h->nbuckets = h->count = 0;
}
