/*
 * ui.h - the web dashboard (issue #20): GET /ui serves the page whose
 * files live in ui/ of the source tree and are compiled into the
 * binary (ui/embed.sh writes them into the generated src/ui_files.c),
 * so it works on a machine with no network and no files installed.
 * Every response carries a strict Content-Security-Policy (scripts and
 * styles from fanoutd only, no inline script, no framing) and nosniff.
 * [server] ui says who is served it (config.h, enum config_ui).
 *
 * The page reads the API like any caller: /v1/stats?follow=true for
 * live data, /v1/jobs for jobs, with the bearer token the user gives.
 */
#ifndef FANOUTD_UI_H
#define FANOUTD_UI_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>

struct ui_file {
	const char *name; /* "index.html", "app.js", ... */
	const unsigned char *data;
	size_t len;
};

/* The generated table, ended by a NULL name. */
extern const struct ui_file ui_files[];

/* The file named name ("" is index.html), or NULL. */
const struct ui_file *ui_find(const char *name, size_t len);

/* The Content-Type of a file by its extension. */
const char *ui_type(const char *name);

struct server;
/* Answer target (plen bytes of path) when it is /ui or under it: true
 * when answered (a file, 404 or 405). Before auth: the page itself holds
 * no data; the API calls it makes need the token. */
bool ui_route(struct server *srv, struct evhttp_request *req,
    const char *target, size_t plen);

/* A browser's request (it sent Sec-Fetch-Site) under a DNS name other
 * than localhost, unless [server] ui = true: a page on another site
 * can point its own name at 127.0.0.1 (DNS rebinding) and then read
 * and drive the API as the same origin. Answered 403 by the server. */
bool ui_rebound(const struct server *srv, struct evhttp_request *req);

#endif
