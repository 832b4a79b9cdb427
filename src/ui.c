/*
 * ui.c - serving the web dashboard (see ui.h): GET/HEAD /ui, /ui/ and
 * /ui/FILE from the table compiled in, with the security headers, to
 * the connections [server] ui allows.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "server_int.h"
#include "ui.h"

/* No script but ours, no inline script or style, no framing, no
 * external origins (the page talks to fanoutd only). */
#define UI_CSP                                                               \
	"default-src 'none'; script-src 'self'; style-src 'self'; "          \
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; " \
	"base-uri 'none'; form-action 'none'"

const struct ui_file *
ui_find(const char *name, size_t len)
{
	const struct ui_file *f;

	if (len == 0) {
		name = "index.html";
		len = strlen(name);
	}
	for (f = ui_files; f->name != NULL; f++)
		if (strlen(f->name) == len && memcmp(f->name, name, len) == 0)
			return f;
	return NULL;
}

const char *
ui_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return "application/octet-stream";
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	return "application/octet-stream";
}

/* Did the connection arrive over loopback or a unix socket? Its local
 * address says, whatever the listener (0.0.0.0 too). */
static bool
ui_loopback(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const struct sockaddr_in6 *s6;
	const unsigned char *a;

	if (evcon == NULL ||
	    getsockname(
	        bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)),
	        (struct sockaddr *)&ss, &sl) != 0)
		return false;
	switch (ss.ss_family) {
	case AF_UNIX:
		return true;
	case AF_INET:
		return (ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr) >>
		           24) == 127;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)&ss;
		a = s6->sin6_addr.s6_addr;
		return IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
		    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) && a[12] == 127);
	default:
		return false;
	}
}

/* Is host (a Host header: a name or an address, then maybe :port) an
 * IP address, localhost or a name under .localhost? Any other DNS name
 * could be one a web page pointed at this machine (DNS rebinding). */
static bool
ui_host_local(const char *host)
{
	char name[256];
	const char *colon;
	size_t n;
	struct in_addr a4;

	if (host[0] == '[')
		return true; /* an IPv6 address */
	colon = strchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if (n > 0 && host[n - 1] == '.')
		n--; /* "localhost." */
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (inet_pton(AF_INET, name, &a4) == 1)
		return true;
	return strcasecmp(name, "localhost") == 0 ||
	    (n > 10 && strcasecmp(name + n - 10, ".localhost") == 0);
}

/* Did a browser send it? Sec-Fetch-Site (only to trustworthy origins:
 * a rebound name is not one), Origin (every POST, and what a page's
 * script sends cross-origin) or a browser's User-Agent ("Mozilla/...",
 * which Chromium does not let a page's script change). */
static bool
ui_from_browser(struct evkeyvalq *h)
{
	const char *ua = evhttp_find_header(h, "User-Agent");

	return evhttp_find_header(h, "Sec-Fetch-Site") != NULL ||
	    evhttp_find_header(h, "Origin") != NULL ||
	    (ua != NULL && strncmp(ua, "Mozilla/", 8) == 0);
}

bool
ui_rebound(const struct server *srv, struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	const char *host = evhttp_find_header(h, "Host");

	if (srv->cfg->ui == CONFIG_UI_ON || host == NULL || !ui_from_browser(h))
		return false;
	return !ui_host_local(host);
}

bool
ui_route(struct server *srv, struct evhttp_request *req, const char *target,
    size_t plen)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq *h;
	const struct ui_file *f = NULL;
	char msg[200];

	if (plen < 3 || memcmp(target, "/ui", 3) != 0 ||
	    (plen > 3 && target[3] != '/'))
		return false;
	if (srv->cfg->ui == CONFIG_UI_OFF ||
	    (srv->cfg->ui == CONFIG_UI_LOOPBACK && !ui_loopback(req))) {
		server_error(srv, req, RERR_NOT_FOUND,
		    srv->cfg->ui == CONFIG_UI_OFF
		        ? "the web dashboard is off ([server] ui = false)"
		        : "the web dashboard is served over loopback only; "
		          "[server] ui = true serves it on every listener",
		    NULL, NULL);
		return true;
	}
	if (plen <= 4)
		f = ui_find("", 0);
	else
		f = ui_find(target + 4, plen - 4);
	if (f == NULL) {
		snprintf(msg, sizeof(msg), "no such file: %.*s",
		    (int)(plen > 100 ? 100 : plen), target);
		server_error(srv, req, RERR_NOT_FOUND, msg, NULL, NULL);
		return true;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		server_error(srv, req, RERR_METHOD,
		    "/ui accepts GET and HEAD only", "Allow", "GET, HEAD");
		return true;
	}
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", UI_CSP);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-cache");
	server_send(srv, req, 200, NULL, ui_type(f->name),
	    (const char *)f->data, f->len, NULL, NULL);
	return true;
}
