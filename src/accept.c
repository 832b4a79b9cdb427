/*
 * accept.c - which response format an Accept field asks for (see
 * accept.h): media ranges and their weights (RFC 9110 §12.4.2, §12.5.1)
 * matched against fanoutd's three formats.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "accept.h"
#include "util.h"

/* The response formats, in fanoutd's order of preference on a tie. */
static const struct {
	const char *type, *subtype;
	enum out_format format;
} formats[] = {
    {"application", "x-ndjson", OUT_NDJSON},
    {"application", "json", OUT_JSON},
    {"text", "event-stream", OUT_SSE},
};

/* One media range of an Accept list (RFC 9110 §12.5.1). */
struct media_range {
	const char *type, *sub;
	size_t tlen, slen;
	int q; /* in thousandths */
};

/* A qvalue (RFC 9110 §12.4.2): "0", "0.5", "1.000"; -1 if malformed. */
static int
qvalue(const char *s, size_t n)
{
	int q, scale = 100;
	size_t i;

	if (n == 0 || (s[0] != '0' && s[0] != '1') ||
	    (n > 1 && (s[1] != '.' || n > 5)))
		return -1;
	q = (s[0] - '0') * 1000;
	for (i = 2; i < n; i++, scale /= 10) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		q += (s[i] - '0') * scale;
	}
	return q > 1000 ? -1 : q;
}

/* The next range of the list at *p; false at its end. A malformed
 * element is returned with r->type NULL, to be skipped. */
static bool
accept_next(const char **p, struct media_range *r)
{
	const char *e = *p, *slash, *semi;
	size_t len;

	while (*e == ' ' || *e == '\t' || *e == ',')
		e++;
	if (*e == '\0')
		return false;
	len = strcspn(e, ",");
	*p = e + len;
	memset(r, 0, sizeof(*r));
	r->q = 1000;
	semi = memchr(e, ';', len);
	slash = memchr(e, '/', semi ? (size_t)(semi - e) : len);
	if (slash == NULL)
		return true;
	r->tlen = (size_t)(slash - e);
	r->sub = slash + 1;
	r->slen = strcspn(r->sub, " \t;,");
	if (r->tlen == 0 || r->slen == 0)
		return true;
	r->type = e;
	/* Parameters; only the weight matters here. */
	while (semi != NULL && semi < e + len) {
		const char *v = semi + 1, *next;

		while (*v == ' ' || *v == '\t')
			v++;
		next = memchr(v, ';', (size_t)(e + len - v));
		if ((v[0] == 'q' || v[0] == 'Q') && v[1] == '=') {
			size_t n = (size_t)((next ? next : e + len) - v - 2);

			while (n > 0 &&
			    (v[2 + n - 1] == ' ' || v[2 + n - 1] == '\t'))
				n--;
			if ((r->q = qvalue(v + 2, n)) < 0)
				r->type = NULL;
		}
		semi = next;
	}
	return true;
}

/* How much the Accept list wants format i: the weight of the most
 * specific range matching it (type/subtype, then type, then any), 0
 * when none does. */
static int
accept_quality(const char *accept, size_t i)
{
	const char *p = accept;
	struct media_range r;
	int best = 0, level = 0;

	while (accept_next(&p, &r)) {
		int l;

		if (r.type == NULL)
			continue;
		if (r.tlen == 1 && r.type[0] == '*')
			l = r.slen == 1 && r.sub[0] == '*' ? 1 : 0;
		else if (r.tlen != strlen(formats[i].type) ||
		    strncasecmp(r.type, formats[i].type, r.tlen) != 0)
			l = 0;
		else if (r.slen == 1 && r.sub[0] == '*')
			l = 2;
		else
			l = r.slen == strlen(formats[i].subtype) &&
			        strncasecmp(
			            r.sub, formats[i].subtype, r.slen) == 0
			    ? 3
			    : 0;
		if (l > level) {
			level = l;
			best = r.q;
		} else if (l == level && l > 0 && r.q > best) {
			best = r.q;
		}
	}
	return best;
}

/*
 * The format an Accept list asks for (RFC 9110 §12.5.1): the one of
 * highest weight, NDJSON first on a tie. No Accept, or one with no
 * well-formed range, is NDJSON. -1 when every format weighs 0 (406).
 */
int
accept_format(const char *accept, enum out_format *f)
{
	const char *p = accept;
	struct media_range r;
	int best = 0, q;
	bool any = false;
	size_t i;

	*f = OUT_NDJSON;
	while (accept != NULL && accept_next(&p, &r))
		any = any || r.type != NULL;
	if (!any)
		return 0;
	for (i = 0; i < ARRAY_SIZE(formats); i++)
		if ((q = accept_quality(accept, i)) > best) {
			best = q;
			*f = formats[i].format;
		}
	return best > 0 ? 0 : -1;
}

int
accept_format_name(const char *name, enum out_format *f)
{
	if (strcmp(name, "ndjson") == 0)
		*f = OUT_NDJSON;
	else if (strcmp(name, "json") == 0)
		*f = OUT_JSON;
	else if (strcmp(name, "sse") == 0)
		*f = OUT_SSE;
	else
		return -1;
	return 0;
}
