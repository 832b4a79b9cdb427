/*
 * redirect.h - where a redirect leads (DESIGN.md §2 Redirects): which
 * statuses are followed, the next URL (Location resolved per RFC 3986
 * against the current one), the next method (303, and 301/302 after a
 * POST, become GET without a body), and which request headers a
 * cross-origin hop must drop. Pure: no I/O.
 */
#ifndef FANOUTD_REDIRECT_H
#define FANOUTD_REDIRECT_H

#include <stdbool.h>

#include "arena.h"
#include "http.h"
#include "url.h"

struct redirect_hop {
	const char *url; /* absolute, from the arena */
	struct url u;    /* parsed url */
	enum http_method method;
	bool keep_body;    /* the method is kept, so is the body */
	bool cross_origin; /* scheme, host or port changed */
};

/* True for 301, 302, 303, 307 and 308. */
bool redirect_status(int status);

/*
 * The hop a `status` response with `location` leads to from cur_url
 * (parsed as cur) requested with method m. Strings come from a.
 * Returns 0, or -1 with *why set ("redirect without a Location",
 * "Location \"...\" is not a usable URL: ...").
 */
int redirect_next(const char *cur_url, const struct url *cur,
    enum http_method m, int status, const char *location, struct arena *a,
    struct redirect_hop *hop, const char **why);

/* Headers that must not follow a request to another origin. */
bool redirect_drops_header(const char *name);

#endif
