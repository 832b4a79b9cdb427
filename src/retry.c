/*
 * retry.c - the retry decision, full-jitter backoff and Retry-After
 * parsing (see retry.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "retry.h"
#include "util.h"

static const struct {
	const char *name;
	uint8_t bit;
	enum item_err err;
} retry_classes[] = {
    {"connect", RETRY_CLASS_CONNECT, IERR_CONNECT},
    {"dns", RETRY_CLASS_DNS, IERR_DNS},
    {"timeout", RETRY_CLASS_TIMEOUT, IERR_TIMEOUT},
    {"reset", RETRY_CLASS_RESET, IERR_RESET},
};

#define NCLASSES ARRAY_SIZE(retry_classes)

void
retry_on_clear(struct retry_on *r)
{
	memset(r, 0, sizeof(*r));
}

static bool
status_in(const struct retry_on *r, int s)
{
	return s >= 100 && s <= 599 &&
	    (r->statuses[(s - 100) / 8] & (1u << ((s - 100) % 8)));
}

int
retry_on_add(struct retry_on *r, const char *word)
{
	size_t i;
	int s;

	for (i = 0; i < NCLASSES; i++)
		if (strcmp(word, retry_classes[i].name) == 0) {
			r->classes |= retry_classes[i].bit;
			return 0;
		}
	if (strlen(word) != 3 || !isdigit((unsigned char)word[0]) ||
	    !isdigit((unsigned char)word[1]) ||
	    !isdigit((unsigned char)word[2]))
		return -1;
	s = atoi(word);
	if (s < 100 || s > 599)
		return -1;
	r->statuses[(s - 100) / 8] |= (uint8_t)(1u << ((s - 100) % 8));
	return 0;
}

int
retry_on_parse(
    const char *text, struct retry_on *r, const char **bad, size_t *badlen)
{
	struct retry_on tmp;
	const char *p = text, *w;
	char word[8];
	size_t n;

	retry_on_clear(&tmp);
	while (next_word(&p, &w, &n)) {
		if (n < sizeof(word)) {
			memcpy(word, w, n);
			word[n] = '\0';
		}
		if (n >= sizeof(word) || retry_on_add(&tmp, word) != 0) {
			*bad = w;
			*badlen = n;
			return -1;
		}
	}
	*r = tmp;
	return 0;
}

void
retry_on_default(struct retry_on *r)
{
	const char *bad;
	size_t n;

	if (retry_on_parse(RETRY_ON_DEFAULT, r, &bad, &n) != 0)
		abort(); /* a default the parser refuses: a bug */
}

void
retry_on_emit(const struct retry_on *r, struct buf *out)
{
	bool first = true;
	size_t i;
	int s;

	buf_addc(out, '[');
	for (i = 0; i < NCLASSES; i++)
		if (r->classes & retry_classes[i].bit) {
			buf_printf(out, "%s\"%s\"", first ? "" : ",",
			    retry_classes[i].name);
			first = false;
		}
	for (s = 100; s <= 599; s++)
		if (status_in(r, s)) {
			buf_printf(out, "%s\"%d\"", first ? "" : ",", s);
			first = false;
		}
	buf_addc(out, ']');
}

bool
retry_wanted(const struct retry_on *r, enum item_err err, int status, bool sent,
    bool safe)
{
	size_t i;

	if (sent && !safe)
		return false; /* it may have been acted on: never twice */
	if (err == IERR_NONE)
		return status_in(r, status);
	for (i = 0; i < NCLASSES; i++)
		if (retry_classes[i].err == err)
			return (r->classes & retry_classes[i].bit) != 0;
	return false;
}

uint64_t
retry_backoff_ms(uint32_t base_ms, uint32_t max_ms, unsigned n, double u)
{
	uint64_t cap = base_ms;
	unsigned i;

	for (i = 0; i < n && cap < max_ms; i++)
		cap *= 2;
	if (cap > max_ms)
		cap = max_ms;
	if (u < 0)
		u = 0;
	if (u >= 1)
		u = 0.9999999999;
	return (uint64_t)(u * (double)cap);
}

/* Month name (3 letters) to 0..11, or -1. */
static int
month_of(const char *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	int i;

	for (i = 0; i < 12; i++)
		if (strncmp(m, months + i * 3, 3) == 0)
			return i;
	return -1;
}

/* The three HTTP-date forms of RFC 9110 §5.6.7, as a Unix time. */
static int
parse_http_date(const char *v, time_t *out)
{
	struct tm tm;
	char mon[4], wday[16];
	int d, y, h, mi, s, n = 0;

	memset(&tm, 0, sizeof(tm));
	/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	if (sscanf(v, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wday, &d, mon, &y,
	        &h, &mi, &s, &n) == 7 &&
	    n > 0 && v[n] == '\0') {
		;
	} else if (sscanf(v, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wday,
	               &d, mon, &y, &h, &mi, &s, &n) == 7 &&
	    n > 0 && v[n] == '\0') {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
		y += y < 70 ? 2000 : 1900;
	} else if (sscanf(v, "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &d, &h,
	               &mi, &s, &y, &n) == 7 &&
	    n > 0 && v[n] == '\0') {
		/* asctime: Sun Nov  6 08:49:37 1994 */
	} else {
		return -1;
	}
	if ((tm.tm_mon = month_of(mon)) < 0 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || s > 60 || y < 1970)
		return -1;
	tm.tm_mday = d;
	tm.tm_year = y - 1900;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	*out = timegm(&tm);
	return 0;
}

int64_t
retry_after_ms(const char *value, time_t now)
{
	const char *p = value;
	int64_t secs = 0;
	time_t when;

	while (*p == ' ' || *p == '\t')
		p++;
	if (isdigit((unsigned char)*p)) {
		for (; isdigit((unsigned char)*p); p++) {
			secs = secs * 10 + (*p - '0');
			if (secs > 365 * 24 * 3600)
				secs = 365 * 24 * 3600; /* saturate */
		}
		while (*p == ' ' || *p == '\t')
			p++;
		return *p == '\0' ? secs * 1000 : -1;
	}
	if (parse_http_date(p, &when) != 0)
		return -1;
	return when <= now ? 0 : (int64_t)(when - now) * 1000;
}
