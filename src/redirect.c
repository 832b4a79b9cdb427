/*
 * redirect.c - the next hop of a redirect (see redirect.h).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "redirect.h"

bool
redirect_status(int status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

bool
redirect_drops_header(const char *name)
{
	return strcasecmp(name, "Authorization") == 0 ||
	    strcasecmp(name, "Cookie") == 0 ||
	    strcasecmp(name, "Proxy-Authorization") == 0;
}

int
redirect_next(const char *cur_url, const struct url *cur, enum http_method m,
    int status, const char *location, struct arena *a, struct redirect_hop *hop,
    const char **why)
{
	struct buf abs = BUF_INIT;
	const char *perr;

	memset(hop, 0, sizeof(*hop));
	if (location == NULL || *location == '\0') {
		*why = "redirect without a Location";
		return -1;
	}
	if (url_resolve(cur_url, location, &abs) != 0 ||
	    url_parse(abs.data, abs.len, a, &hop->u, &perr) != 0) {
		buf_free(&abs);
		*why = "redirect to a Location that is not an http(s) URL";
		return -1;
	}
	hop->url = arena_strndup(a, abs.data, abs.len);
	buf_free(&abs);
	hop->method = m;
	if ((status == 303 && m != HM_HEAD) ||
	    ((status == 301 || status == 302) && m == HM_POST))
		hop->method = HM_GET;
	/* The body goes along only with the method (307, 308, and 301/302
	 * for methods other than POST). */
	hop->keep_body = hop->method == m;
	hop->cross_origin = strcmp(hop->u.origin, cur->origin) != 0;
	return 0;
}
