/*
 * cli_http.c - fanout's HTTP exchanges with fanoutd (see cli.h): POST
 * /v1/batch (or /v1/jobs, or a GET or DELETE of a job) through
 * libcurl, over TCP or the daemon's unix socket, with the bearer token
 * (RFC 6750 §2.1) when there is one. A 2xx body
 * is cut into lines as it arrives (cli_lines) and each chunk ends with
 * after_chunk, so results stream; any other status keeps its body for
 * the error in words. Stopping (--fail-fast, a failed write, Ctrl-C)
 * aborts the transfer, which closes the connection: fanoutd cancels a
 * batch whose caller has gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

#define ERRBODY_MAX 65536

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct xfer {
	struct cli_http *h;
	CURL *curl;
	struct cli_lines lines;
	bool stopped;
};

static size_t
on_data(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	struct cli_http *h = x->h;
	size_t n = size * nmemb;

	if (h->status == 0)
		curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &h->status);
	if (h->status < 200 || h->status > 299) {
		if (h->errbody.len < ERRBODY_MAX)
			buf_add(&h->errbody, p,
			    n < ERRBODY_MAX - h->errbody.len
			        ? n
			        : ERRBODY_MAX - h->errbody.len);
		return n;
	}
	if (h->raw_fd > 0) {
		if (cli_write_all(h->raw_fd, p, n) == 0)
			return n;
		snprintf(h->error, sizeof(h->error), "cannot write: %s",
		    strerror(errno));
		x->stopped = true;
		return 0;
	}
	/* the lines before a stop are written all the same */
	if ((cli_lines_feed(&x->lines, p, n, h->on_line, h->ctx) != 0) |
	    (h->after_chunk(h->ctx) != 0)) {
		x->stopped = true;
		return 0; /* CURLE_WRITE_ERROR: the transfer ends here */
	}
	return n;
}

/* Called by libcurl about once a second and on every transfer event:
 * a signal ends the transfer. */
static int
on_xferinfo(
    void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return interrupted ? 1 : 0;
}

/* Why no answer came, into h->error. Over a unix socket libcurl's own
 * words name the TCP host and port of the URL, which it never dialled:
 * say the socket's path and connect(2)'s errno instead. */
static void
transport_error(struct cli_http *h, CURL *curl, CURLcode rc, const char *cerr)
{
	long os_errno = 0;

	if (h->unix_socket != NULL && rc == CURLE_COULDNT_CONNECT &&
	    curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
	    os_errno != 0) {
		snprintf(h->error, sizeof(h->error), "connect: %s",
		    strerror((int)os_errno));
		return;
	}
	snprintf(h->error, sizeof(h->error), "%s",
	    cerr[0] != '\0' ? cerr : curl_easy_strerror(rc));
}

enum cli_http_end
cli_http_run(struct cli_http *h)
{
	struct xfer x = {.h = h};
	struct curl_slist *hdrs = NULL;
	struct buf auth = BUF_INIT, ctype = BUF_INIT;
	char cerr[CURL_ERROR_SIZE] = "";
	struct sigaction sa;
	enum cli_http_end end;
	CURLcode rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	x.curl = curl_easy_init();
	if (x.curl == NULL) {
		snprintf(h->error, sizeof(h->error), "libcurl did not start");
		return CLI_HTTP_TRANSPORT;
	}
	buf_printf(&ctype, "Content-Type: %s", h->content_type);
	hdrs = curl_slist_append(hdrs, ctype.data);
	hdrs = curl_slist_append(hdrs, "Accept: application/x-ndjson");
	if (h->token != NULL) {
		buf_printf(&auth, "Authorization: Bearer %s", h->token);
		hdrs = curl_slist_append(hdrs, auth.data);
	}
	/* fanoutd answers after it has read the whole batch: no
	 * "Expect: 100-continue" round trip for a large one */
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(x.curl, CURLOPT_URL, h->url);
	if (h->unix_socket != NULL)
		curl_easy_setopt(
		    x.curl, CURLOPT_UNIX_SOCKET_PATH, h->unix_socket);
	curl_easy_setopt(x.curl, CURLOPT_HTTPHEADER, hdrs);
	if (h->method == NULL || strcmp(h->method, "POST") == 0) {
		curl_easy_setopt(
		    x.curl, CURLOPT_POSTFIELDS, h->body ? h->body : "");
		curl_easy_setopt(x.curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)h->body_len);
	} else if (strcmp(h->method, "GET") == 0) {
		curl_easy_setopt(x.curl, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(x.curl, CURLOPT_CUSTOMREQUEST, h->method);
	}
	curl_easy_setopt(x.curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(x.curl, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(x.curl, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
	curl_easy_setopt(x.curl, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(x.curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x.curl, CURLOPT_USERAGENT, "fanout/" PACKAGE_VERSION);
	rc = curl_easy_perform(x.curl);
	if (rc == CURLE_OK && h->status == 0) /* no body: a 204 */
		curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &h->status);
	if (rc == CURLE_OK && h->status >= 200 && h->status <= 299 &&
	    h->raw_fd > 0)
		end = CLI_HTTP_DONE;
	else if (rc == CURLE_OK && h->status >= 200 && h->status <= 299 &&
	    (cli_lines_end(&x.lines, h->on_line, h->ctx) == 0) &
	        (h->after_chunk(h->ctx) == 0))
		end = CLI_HTTP_DONE;
	else if (rc == CURLE_OK && h->status >= 200 && h->status <= 299)
		end = CLI_HTTP_STOPPED;
	else if (rc == CURLE_OK) {
		curl_easy_getinfo(x.curl, CURLINFO_RESPONSE_CODE, &h->status);
		end = CLI_HTTP_STATUS;
	} else if (x.stopped)
		end = CLI_HTTP_STOPPED;
	else if (interrupted)
		end = CLI_HTTP_INTERRUPTED;
	else {
		transport_error(h, x.curl, rc, cerr);
		end = CLI_HTTP_TRANSPORT;
	}
	curl_easy_cleanup(x.curl);
	curl_slist_free_all(hdrs);
	buf_free(&auth);
	buf_free(&ctype);
	cli_lines_free(&x.lines);
	return end;
}

bool
cli_http_interrupted(void)
{
	return interrupted != 0;
}

void
cli_http_free(struct cli_http *h)
{
	buf_free(&h->errbody);
}
