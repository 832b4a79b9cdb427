/*
 * wire.c - the response re-framer (see wire.h): one state machine over
 * the bytes an upstream sends, RFC 9112 §6.3's eight rules for where a
 * body ends, §7.1 for chunks, §9.3 for persistence.
 *
 * A head is read whole (up to max_head), checked line by line, and
 * passed on as it came unless its framing fields need the canonical
 * form; the body then moves through evbuffer_remove_buffer, which hands
 * over whole chains, so the common Content-Length response costs one
 * scan of its head and no copy of its body.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "wire.h"

/* A line of a head, without its CRLF or LF. */
struct line {
	const char *s;
	size_t n;
};

/* The next complete line in [*p, end), or false. */
static bool
next_line(const char **p, const char *end, struct line *l)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));

	if (nl == NULL)
		return false;
	l->s = *p;
	l->n = (size_t)(nl - *p);
	if (l->n > 0 && l->s[l->n - 1] == '\r')
		l->n--;
	*p = nl + 1;
	return true;
}

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 §5.6.2 tchar (field names, codings), as a bit per byte. */
static bool
is_tchar(unsigned char c)
{
	static const uint32_t tchar[8] = {
	    0, 0x03ff6cfa, 0xc7fffffe, 0x57ffffff};

	return (tchar[c >> 5] >> (c & 31)) & 1;
}

/* s[0..n) without OWS on either side. */
static void
trim(const char **s, size_t *n)
{
	while (*n > 0 && is_ows(**s))
		(*s)++, (*n)--;
	while (*n > 0 && is_ows((*s)[*n - 1]))
		(*n)--;
}

static bool
eq_ci(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* A fault: why = what, then the n bytes at arg (quoted, printable,
 * shortened) when arg is not NULL. */
static void
wire_fault(struct wire *w, const char *what, const char *arg, size_t n)
{
	char quoted[40];
	size_t k = n < 24 ? n : 24, i;

	if (arg != NULL) {
		for (i = 0; i < k; i++) /* keep the message printable */
			quoted[i] =
			    arg[i] >= 0x20 && arg[i] < 0x7f ? arg[i] : '?';
		quoted[k] = '\0';
		if (k < n)
			memcpy(quoted + k, "...", 4);
		snprintf(w->why, sizeof(w->why), "%s \"%s\"", what, quoted);
	} else {
		snprintf(w->why, sizeof(w->why), "%s", what);
	}
	w->state = WIRE_FAULT;
}

/* --- the head ------------------------------------------------------------ */

enum field_kind { F_OTHER = 0, F_LENGTH, F_CODING, F_CONNECTION };

static enum field_kind
field_kind(const char *name, size_t n)
{
	switch (n) {
	case 10:
		return eq_ci(name, n, "connection") ? F_CONNECTION : F_OTHER;
	case 14:
		return eq_ci(name, n, "content-length") ? F_LENGTH : F_OTHER;
	case 17:
		return eq_ci(name, n, "transfer-encoding") ? F_CODING : F_OTHER;
	default:
		return F_OTHER;
	}
}

/* What the framing fields of a head say. */
struct framing {
	unsigned length_fields; /* Content-Length lines */
	bool length_seen;       /* a value was read */
	uint64_t length;
	bool length_simple;     /* one line of digits, as evhttp reads it */
	unsigned coding_fields; /* Transfer-Encoding lines */
	unsigned codings;       /* transfer codings listed */
	unsigned chunked;       /* how many of them are "chunked" */
	bool chunked_last;      /* ... and it is the last one */
	bool coding_simple;     /* one line: "chunked" */
	unsigned conn_fields;   /* Connection lines */
	bool conn_close, conn_keep_alive;
	bool conn_first_close; /* the first line reads exactly "close" */
	enum field_kind last;  /* the field an obs-fold line continues */
	unsigned fields;       /* field lines so far */
};

/* One element of a Content-Length value: digits, all equal. */
static bool
framing_length(struct wire *w, struct framing *fr, const char *e, size_t n)
{
	uint64_t v = 0;
	size_t i;

	if (n > 18) {
		wire_fault(w, "invalid Content-Length", e, n);
		return false;
	}
	for (i = 0; i < n; i++) {
		if (e[i] < '0' || e[i] > '9') {
			wire_fault(w, "invalid Content-Length", e, n);
			return false;
		}
		v = v * 10 + (uint64_t)(e[i] - '0');
	}
	if (fr->length_seen && v != fr->length) {
		char both[80];

		snprintf(both, sizeof(both),
		    "conflicting Content-Length values (%llu and %llu)",
		    (unsigned long long)fr->length, (unsigned long long)v);
		wire_fault(w, both, NULL, 0);
		return false;
	}
	fr->length_seen = true;
	fr->length = v;
	return true;
}

/* One element of a Transfer-Encoding value: a coding, its parameters
 * ignored. */
static void
framing_coding(struct framing *fr, const char *e, size_t n)
{
	size_t k = 0;

	while (k < n && is_tchar((unsigned char)e[k]))
		k++;
	fr->codings++;
	fr->chunked_last = eq_ci(e, k, "chunked");
	if (fr->chunked_last)
		fr->chunked++;
}

/* The value v[0..n) the way evhttp stores it: leading spaces (not
 * tabs) and trailing whitespace dropped. The "simple" checks below must
 * agree with what evhttp then reads, never merely with the RFC. */
static void
evhttp_trim(const char **v, size_t *n)
{
	while (*n > 0 && **v == ' ')
		(*v)++, (*n)--;
	while (*n > 0 && is_ows((*v)[*n - 1]))
		(*n)--;
}

static bool
value_is(const char *v, size_t n, const char *lit)
{
	evhttp_trim(&v, &n);
	return eq_ci(v, n, lit);
}

static bool
value_is_digits(const char *v, size_t n)
{
	size_t i;

	evhttp_trim(&v, &n);
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return false;
	return n > 0;
}

/* Read the value v[0..n) of a framing field (or of its folded line). */
static bool
framing_value(struct wire *w, struct framing *fr, enum field_kind k,
    const char *v, size_t n)
{
	const char *p = v, *end = v + n, *e;
	size_t en;

	while (next_list_item(&p, end, &e, &en)) {
		switch (k) {
		case F_LENGTH:
			if (!framing_length(w, fr, e, en))
				return false;
			break;
		case F_CODING:
			framing_coding(fr, e, en);
			break;
		case F_CONNECTION:
			fr->conn_close |= eq_ci(e, en, "close");
			fr->conn_keep_alive |= eq_ci(e, en, "keep-alive");
			break;
		case F_OTHER:
			break;
		}
	}
	return true;
}

/* One field line (or obs-fold line) of a head: its name checked in the
 * same pass that finds the colon, its value read if it frames. */
static bool
framing_line(struct wire *w, struct framing *fr, const struct line *l)
{
	const char *c = l->s, *end = l->s + l->n;
	enum field_kind k;

	if (memchr(c, '\0', l->n) != NULL || memchr(c, '\r', l->n) != NULL) {
		wire_fault(w, "a NUL or bare CR in the response head", NULL, 0);
		return false;
	}
	if (is_ows(*c)) { /* obs-fold (RFC 9112 §5.2) */
		if (fr->fields == 0) {
			wire_fault(w, "a folded line with no field before it",
			    NULL, 0);
			return false;
		}
		/* evhttp joins the lines: the value needs rewriting. */
		switch (k = fr->last) {
		case F_LENGTH:
			fr->length_simple = false;
			break;
		case F_CODING:
			fr->coding_simple = false;
			break;
		case F_CONNECTION:
			if (fr->conn_fields == 1)
				fr->conn_first_close = false;
			break;
		case F_OTHER:
			return true;
		}
		return framing_value(w, fr, k, c, l->n);
	}
	while (c < end && is_tchar((unsigned char)*c))
		c++;
	if (c == l->s || memchr(c, ':', (size_t)(end - c)) == NULL) {
		wire_fault(w, "malformed header line", l->s, l->n);
		return false;
	}
	if (*c != ':') {
		wire_fault(
		    w, "malformed header name", l->s, (size_t)(c - l->s) + 1);
		return false;
	}
	k = field_kind(l->s, (size_t)(c - l->s));
	fr->last = k;
	fr->fields++;
	c++;
	switch (k) {
	case F_LENGTH:
		fr->length_simple = ++fr->length_fields == 1 &&
		    value_is_digits(c, (size_t)(end - c));
		break;
	case F_CODING:
		fr->coding_simple = ++fr->coding_fields == 1 &&
		    value_is(c, (size_t)(end - c), "chunked");
		break;
	case F_CONNECTION:
		if (++fr->conn_fields == 1)
			fr->conn_first_close =
			    value_is(c, (size_t)(end - c), "close");
		break;
	case F_OTHER:
		return true;
	}
	return framing_value(w, fr, k, c, (size_t)(end - c));
}

/* "HTTP/1.x NNN[ reason]": sets the minor version and the status. */
static bool
parse_status(const struct line *l, int *minor, int *status)
{
	const char *s = l->s;

	if (l->n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' ||
	    s[7] > '9' || s[8] != ' ' || (l->n > 12 && s[12] != ' '))
		return false;
	if (s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9')
		return false;
	if (memchr(s, '\0', l->n) != NULL || memchr(s, '\r', l->n) != NULL)
		return false;
	*minor = s[7] - '0';
	*status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	return true;
}

/*
 * RFC 9112 §6.3 for a final head whose framing fields are fr: how the
 * body is delimited, whether the connection persists (§9.3), and
 * whether evhttp must see other framing fields. 0, or -1 on a fault.
 */
static int
wire_decide(struct wire *w, const struct framing *fr, bool *rewrite)
{
	bool no_body = w->head_request || w->status == 204 || w->status == 304;

	*rewrite = false;
	w->persistent =
	    !fr->conn_close && (w->minor >= 1 || fr->conn_keep_alive);
	if (fr->codings > 0 && !no_body) {
		/* Rule 3: Transfer-Encoding overrides Content-Length; the
		 * pair may be an attack, so the connection ends with it.
		 * Rule 4: chunked, last. A coding fanoutd never asked for
		 * (it sends no TE) cannot be undone safely. */
		if (fr->chunked > 1) {
			wire_fault(w,
			    "chunked applied twice in Transfer-Encoding", NULL,
			    0);
			return -1;
		}
		if (!fr->chunked_last || fr->codings > 1) {
			wire_fault(w,
			    "a transfer coding other than chunked (fanoutd "
			    "asks for none)",
			    NULL, 0);
			return -1;
		}
		w->body = WIRE_BODY_CHUNKED;
		*rewrite = !fr->coding_simple || fr->length_fields > 0;
		if (fr->length_fields > 0 || w->minor == 0)
			w->persistent = false; /* §6.1 */
		return 0;
	}
	if (no_body) {
		w->body = WIRE_BODY_NONE; /* rule 1 */
		return 0;
	}
	if (fr->length_fields > 0) { /* rules 5, 6 */
		if (!fr->length_seen) {
			wire_fault(w, "an empty Content-Length", NULL, 0);
			return -1;
		}
		w->body = WIRE_BODY_LENGTH;
		*rewrite = !fr->length_simple;
		return 0;
	}
	/* Rule 8: the body ends with the connection; evhttp reads so only
	 * when no Connection field, or "close", is the first it sees. */
	w->body = WIRE_BODY_CLOSE;
	w->persistent = false;
	*rewrite = fr->conn_fields > 0 && !fr->conn_first_close;
	return 0;
}

/* The head's fields that the rewrite replaces. */
static bool
rewrite_drops(const struct wire *w, enum field_kind k)
{
	if (w->body == WIRE_BODY_CLOSE)
		return k == F_CONNECTION;
	return k == F_LENGTH || k == F_CODING;
}

/* Keep a dropped field's name and value, folded lines joined with a
 * space as evhttp joins them. */
static void
orig_add(struct wire *w, const struct line *l, bool fold)
{
	const char *v = l->s;
	size_t n = l->n;

	if (!fold) {
		const char *colon = memchr(l->s, ':', l->n);

		if (w->orig.len > 0)
			buf_addc(&w->orig, '\0'); /* end the value before */
		buf_add(&w->orig, l->s, (size_t)(colon - l->s));
		buf_addc(&w->orig, '\0');
		v = colon + 1;
		n = (size_t)(l->s + l->n - v);
	}
	trim(&v, &n);
	if (fold && n > 0)
		buf_addc(&w->orig, ' ');
	buf_add(&w->orig, v, n);
}

/* Write the head of len bytes at p with canonical framing fields. */
static void
wire_rewrite(struct wire *w, const char *p, size_t len, struct evbuffer *out)
{
	const char *q = p, *end = p + len;
	struct line l;
	bool dropping = false;
	char field[48];

	buf_reset(&w->orig);
	next_line(&q, end, &l);
	evbuffer_add(out, l.s, l.n);
	evbuffer_add(out, "\r\n", 2);
	while (next_line(&q, end, &l) && l.n > 0) {
		bool fold = is_ows(l.s[0]);

		if (!fold) {
			const char *colon = memchr(l.s, ':', l.n);

			dropping = rewrite_drops(
			    w, field_kind(l.s, (size_t)(colon - l.s)));
		}
		if (dropping) {
			orig_add(w, &l, fold);
			continue;
		}
		evbuffer_add(out, l.s, l.n);
		evbuffer_add(out, "\r\n", 2);
	}
	if (w->orig.len > 0)
		buf_addc(&w->orig, '\0');
	if (w->body == WIRE_BODY_CHUNKED)
		evbuffer_add(out, "Transfer-Encoding: chunked\r\n", 28);
	else if (w->body == WIRE_BODY_LENGTH) {
		int n = snprintf(field, sizeof(field),
		    "Content-Length: %llu\r\n", (unsigned long long)w->left);

		evbuffer_add(out, field, (size_t)n);
	} else {
		evbuffer_add(out, "Connection: close\r\n", 19);
	}
	evbuffer_add(out, "\r\n", 2);
	w->rewrote = true;
}

/* The next state once the final head went out. */
static void
wire_begin_body(struct wire *w)
{
	switch (w->body) {
	case WIRE_BODY_NONE:
		w->state = WIRE_DONE;
		break;
	case WIRE_BODY_LENGTH:
		w->state = w->left > 0 ? WIRE_LENGTH : WIRE_DONE;
		break;
	case WIRE_BODY_CHUNKED:
		w->state = WIRE_CHUNK_SIZE;
		break;
	case WIRE_BODY_CLOSE:
		w->state = WIRE_TO_CLOSE;
		break;
	}
}

/*
 * Pass on a head unchanged, and with it what is there of a
 * Content-Length or close-delimited body: one move of whole chains
 * when that is all `in` holds (the usual response in one read), rather
 * than splitting a chain between head and body, which copies.
 */
static void
wire_pass_head(
    struct wire *w, struct evbuffer *in, struct evbuffer *out, size_t head_len)
{
	size_t more = evbuffer_get_length(in) - head_len;

	if (w->state == WIRE_LENGTH && more > w->left)
		more = (size_t)w->left;
	else if (w->state != WIRE_LENGTH && w->state != WIRE_TO_CLOSE)
		more = 0;
	evbuffer_remove_buffer(in, out, head_len + more);
	if (w->state == WIRE_LENGTH) {
		w->left -= more;
		if (w->left == 0)
			w->state = WIRE_DONE;
	}
}

/*
 * A head, once it is all in `in`: an interim one is dropped, a final one
 * goes on (rewritten if need be). 1 when one was handled, 0 when more
 * bytes are needed, -1 on a fault.
 */
static int
wire_head(struct wire *w, struct evbuffer *in, struct evbuffer *out)
{
	size_t avail = evbuffer_get_length(in), len, head_len = 0;
	const char *p, *q, *end;
	struct framing fr;
	struct line l;
	bool rewrite;
	int status, minor;

	len = avail < w->max_head ? avail : w->max_head;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	q = p + w->scan;
	end = p + len;
	while (next_line(&q, end, &l)) {
		if (l.n == 0 && l.s == p) { /* a blank line before a head */
			evbuffer_drain(in, (size_t)(q - p));
			w->scan = 0;
			return 1;
		}
		if (l.n == 0) {
			head_len = (size_t)(q - p);
			break;
		}
		w->scan = (size_t)(q - p);
	}
	if (head_len == 0) {
		if (avail < w->max_head)
			return 0;
		snprintf(w->why, sizeof(w->why),
		    "a response head over %zu bytes ([upstream] "
		    "max_response_header_bytes)",
		    w->max_head);
		w->state = WIRE_FAULT;
		return -1;
	}
	w->scan = 0;
	q = p;
	next_line(&q, p + head_len, &l);
	if (!parse_status(&l, &minor, &status)) {
		wire_fault(w, "malformed status line", l.s, l.n);
		return -1;
	}
	memset(&fr, 0, sizeof(fr));
	while (next_line(&q, p + head_len, &l) && l.n > 0)
		if (!framing_line(w, &fr, &l))
			return -1;
	if (status < 200) {
		if (status == 101) {
			wire_fault(w,
			    "101 Switching Protocols, but fanoutd asked for no "
			    "upgrade",
			    NULL, 0);
			return -1;
		}
		evbuffer_drain(in, head_len); /* interim: RFC 9110 §15.2 */
		w->interim++;
		return 1;
	}
	w->status = status;
	w->minor = minor;
	if (wire_decide(w, &fr, &rewrite) != 0)
		return -1;
	w->left = w->body == WIRE_BODY_LENGTH ? fr.length : 0;
	w->final_head = true;
	if (rewrite) {
		wire_rewrite(w, p, head_len, out);
		evbuffer_drain(in, head_len);
		wire_begin_body(w);
	} else {
		wire_begin_body(w);
		wire_pass_head(w, in, out, head_len);
	}
	return 1;
}

/* --- chunks ----------------------------------------------------------------
 */

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* A chunk-size line: size, then extensions (ignored, RFC 9112 §7.1.1).
 * 1 when read, 0 when more bytes are needed, -1 on a fault. */
static int
wire_chunk_size(struct wire *w, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in), len, i = 0, digits = 0;
	const char *p, *q;
	struct line l;
	uint64_t v = 0;
	int d;

	len = avail < WIRE_MAX_CHUNK_LINE ? avail : WIRE_MAX_CHUNK_LINE;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	q = p;
	if (!next_line(&q, p + len, &l)) {
		if (avail < WIRE_MAX_CHUNK_LINE)
			return 0;
		wire_fault(w, "a chunk-size line over 4096 bytes", NULL, 0);
		return -1;
	}
	while (i < l.n && (d = hex_digit(l.s[i])) >= 0) {
		if (v != 0 || d != 0)
			digits++;
		v = v << 4 | (uint64_t)d;
		i++;
		if (digits > 15) {
			wire_fault(w, "a chunk size too large", l.s, l.n);
			return -1;
		}
	}
	while (i < l.n && is_ows(l.s[i]))
		i++;
	if (i == 0 || (i < l.n && l.s[i] != ';') ||
	    memchr(l.s, '\0', l.n) != NULL || memchr(l.s, '\r', l.n) != NULL) {
		wire_fault(w, "malformed chunk-size line", l.s, l.n);
		return -1;
	}
	evbuffer_drain(in, (size_t)(q - p));
	w->left = v;
	w->state = v > 0 ? WIRE_CHUNK_DATA : WIRE_TRAILER;
	return 1;
}

/* Pass on n bytes of chunk data as one chunk of their own. */
static void
wire_chunk_out(struct evbuffer *in, struct evbuffer *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char line[24];
	size_t k = sizeof(line) - 2, v = n;

	line[k] = '\r';
	line[k + 1] = '\n';
	do /* n > 0 */
		line[--k] = hex[v & 15];
	while ((v >>= 4) > 0);
	evbuffer_add(out, line + k, sizeof(line) - k);
	evbuffer_remove_buffer(in, out, n);
	evbuffer_add(out, "\r\n", 2);
}

/* The CRLF (or LF) after chunk data. */
static int
wire_chunk_end(struct wire *w, struct evbuffer *in)
{
	size_t avail = evbuffer_get_length(in);
	unsigned char *p = evbuffer_pullup(in, avail < 2 ? 1 : 2);

	if (p[0] == '\n' || (avail >= 2 && p[0] == '\r' && p[1] == '\n')) {
		evbuffer_drain(in, p[0] == '\n' ? 1 : 2);
		w->state = WIRE_CHUNK_SIZE;
		return 1;
	}
	if (p[0] == '\r' && avail < 2)
		return 0;
	wire_fault(w, "chunk data not followed by CRLF", NULL, 0);
	return -1;
}

/* The trailer section: its fields are dropped; the last chunk goes on
 * once it ends. */
static int
wire_trailer(struct wire *w, struct evbuffer *in, struct evbuffer *out)
{
	size_t avail = evbuffer_get_length(in), len;
	const char *p, *q;
	struct line l;

	len = avail < w->max_head ? avail : w->max_head;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	q = p;
	while (next_line(&q, p + len, &l)) {
		if (l.n == 0) {
			evbuffer_drain(in, (size_t)(q - p));
			evbuffer_add(out, "0\r\n\r\n", 5);
			w->state = WIRE_DONE;
			return 1;
		}
		if (!is_ows(l.s[0]) && memchr(l.s, ':', l.n) == NULL) {
			wire_fault(w, "malformed trailer line", l.s, l.n);
			return -1;
		}
	}
	if (avail < w->max_head)
		return 0;
	snprintf(w->why, sizeof(w->why),
	    "a trailer section over %zu bytes ([upstream] "
	    "max_response_header_bytes)",
	    w->max_head);
	w->state = WIRE_FAULT;
	return -1;
}

/* --- the machine -----------------------------------------------------------
 */

void
wire_init(struct wire *w, size_t max_head)
{
	memset(w, 0, sizeof(*w));
	w->max_head = max_head;
}

void
wire_free(struct wire *w)
{
	buf_free(&w->orig);
}

void
wire_expect(struct wire *w, bool head_request)
{
	if (w->state == WIRE_FAULT)
		return;
	w->state = WIRE_HEAD;
	w->body = WIRE_BODY_NONE;
	w->head_request = head_request;
	w->left = 0;
	w->scan = 0;
	w->status = 0;
	w->interim = 0;
	w->persistent = false;
	w->final_head = false;
	w->rewrote = false;
	buf_reset(&w->orig);
}

int
wire_feed(struct wire *w, struct evbuffer *in, struct evbuffer *out)
{
	size_t avail, n;
	int r = 1;

	while (r > 0 && (avail = evbuffer_get_length(in)) > 0) {
		switch (w->state) {
		case WIRE_IDLE:
		case WIRE_DONE:
			/* Nobody's response: evhttp resets an idle
			 * connection that receives bytes. */
			w->extra = true;
			evbuffer_add_buffer(out, in);
			return 0;
		case WIRE_FAULT:
			return -1;
		case WIRE_HEAD:
			r = wire_head(w, in, out);
			break;
		case WIRE_LENGTH:
			n = avail < w->left ? avail : (size_t)w->left;
			evbuffer_remove_buffer(in, out, n);
			w->left -= n;
			if (w->left == 0)
				w->state = WIRE_DONE;
			break;
		case WIRE_TO_CLOSE:
			evbuffer_add_buffer(out, in);
			return 0;
		case WIRE_CHUNK_SIZE:
			r = wire_chunk_size(w, in);
			break;
		case WIRE_CHUNK_DATA:
			n = avail < w->left ? avail : (size_t)w->left;
			wire_chunk_out(in, out, n);
			w->left -= n;
			if (w->left == 0)
				w->state = WIRE_CHUNK_END;
			break;
		case WIRE_CHUNK_END:
			r = wire_chunk_end(w, in);
			break;
		case WIRE_TRAILER:
			r = wire_trailer(w, in, out);
			break;
		}
	}
	return r < 0 ? -1 : 0;
}

bool
wire_reusable(const struct wire *w)
{
	return w->state == WIRE_DONE && w->persistent && !w->extra;
}
