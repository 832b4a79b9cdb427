/*
 * extract_mem.c - libxml2 allocates through these hooks (xmlMemSetup),
 * so that what one extractor's parser holds is counted against that
 * extractor's memory cap (extract.h). Each block carries its size in a
 * header; the bytes are added to the counter of the extractor that is
 * running on this thread (xmem_enter), or to none for libxml2's own
 * global set-up. A block freed by another extractor than the one that
 * allocated it cannot happen: every parser context is private to its
 * extractor, and both feed and free enter that extractor first.
 *
 * This makes extract.c the one user of libxml2 in the process: the
 * hooks must be in place before libxml2 allocates anything, which
 * xmem_init makes sure of by running before the first parser exists.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/xmlmemory.h>

#include "extract_int.h"

/* The header in front of each block: its size, keeping the block as
 * aligned as malloc's. */
union xmem_head {
	size_t size;
	max_align_t align;
};

static _Thread_local size_t *xmem_counter;
static _Thread_local size_t *xmem_peak;

static void
count_add(size_t n)
{
	if (xmem_counter == NULL)
		return;
	*xmem_counter += n;
	if (*xmem_counter > *xmem_peak)
		*xmem_peak = *xmem_counter;
}

static void
count_sub(size_t n)
{
	if (xmem_counter == NULL)
		return;
	*xmem_counter = *xmem_counter > n ? *xmem_counter - n : 0;
}

static void *
xmem_malloc(size_t n)
{
	union xmem_head *h = malloc(sizeof(*h) + n);

	if (h == NULL)
		return NULL;
	h->size = n;
	count_add(n);
	return h + 1;
}

static void
xmem_free(void *p)
{
	union xmem_head *h;

	if (p == NULL)
		return;
	h = (union xmem_head *)p - 1;
	count_sub(h->size);
	free(h);
}

static void *
xmem_realloc(void *p, size_t n)
{
	union xmem_head *h, *nh;
	size_t old;

	if (p == NULL)
		return xmem_malloc(n);
	h = (union xmem_head *)p - 1;
	old = h->size;
	nh = realloc(h, sizeof(*nh) + n);
	if (nh == NULL)
		return NULL;
	nh->size = n;
	count_sub(old);
	count_add(n);
	return nh + 1;
}

static char *
xmem_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmem_malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

static pthread_once_t xmem_once = PTHREAD_ONCE_INIT;
static xmlDictPtr xmem_parent;

static void
xmem_setup(void)
{
	xmlMemSetup(xmem_free, xmem_malloc, xmem_realloc, xmem_strdup);
	xmlInitParser();
	xmem_parent = xmlDictCreate();
}

void *
xmem_dict(void)
{
	return xmlDictCreateSub(xmem_parent);
}

void
xmem_init(void)
{
	pthread_once(&xmem_once, xmem_setup);
}

void
xmem_enter(size_t *counter, size_t *peak)
{
	xmem_counter = counter;
	xmem_peak = peak;
}

void
xmem_leave(void)
{
	xmem_counter = NULL;
	xmem_peak = NULL;
}
