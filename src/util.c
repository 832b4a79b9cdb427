/*
 * util.c - allocation wrappers that abort on failure, the line reader
 * of the text formats, the lists of the configuration and of HTTP
 * fields, and the monotonic clock. See util.h for why
 * out-of-memory is fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "util.h"

static void
oom(size_t n)
{
	fprintf(stderr, "fanoutd: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t count, size_t n)
{
	void *p = calloc(count ? count : 1, n ? n : 1);

	if (p == NULL)
		oom(count * n);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool
next_text_line(const char **p, const char *end, const char **s, size_t *n)
{
	while (*p < end) {
		const char *nl = memchr(*p, '\n', (size_t)(end - *p));
		const char *b = *p, *e = nl ? nl : end;

		*p = nl ? nl + 1 : end;
		while (b < e && (*b == ' ' || *b == '\t' || *b == '\r'))
			b++;
		while (
		    e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
			e--;
		if (b == e || *b == '#')
			continue;
		*s = b;
		*n = (size_t)(e - b);
		return true;
	}
	return false;
}

bool
next_word(const char **p, const char **s, size_t *n)
{
	const char *b = *p + strspn(*p, ", \t");
	size_t len = strcspn(b, ", \t");

	*p = b + len;
	if (len == 0)
		return false;
	*s = b;
	*n = len;
	return true;
}

bool
next_list_item(const char **p, const char *end, const char **s, size_t *n)
{
	while (*p < end) {
		const char *c = memchr(*p, ',', (size_t)(end - *p));
		const char *b = *p, *e = c ? c : end;

		*p = c ? c + 1 : end;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (b == e)
			continue;
		*s = b;
		*n = (size_t)(e - b);
		return true;
	}
	return false;
}

int
parse_uint(const char *s, bool suffix, uint64_t *out)
{
	uint64_t v = 0, mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v > (UINT64_MAX - 9) / 10 ? UINT64_MAX
		                              : v * 10 + (uint64_t)(*s - '0');
	if (suffix && *s != '\0' && s[1] == '\0') {
		switch (*s++ | 0x20) {
		case 'k':
			mult = 1ull << 10;
			break;
		case 'm':
			mult = 1ull << 20;
			break;
		case 'g':
			mult = 1ull << 30;
			break;
		default:
			return -1;
		}
	}
	if (*s != '\0')
		return -1;
	*out = v != 0 && mult > UINT64_MAX / v ? UINT64_MAX : v * mult;
	return 0;
}

int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0 || strcmp(s, no[i]) == 0) {
			*out = strcmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

int
parse_number(const char *s, double *out)
{
	char *end;
	double d = strtod(s, &end);

	if (end == s || *end != '\0')
		return -1;
	*out = d;
	return 0;
}

size_t
fmt_uint(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do
		tmp[sizeof(tmp) - ++n] = (char)('0' + v % 10);
	while ((v /= 10) > 0);
	memcpy(out, tmp + sizeof(tmp) - n, n);
	out[n] = '\0';
	return n;
}

uint64_t
mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void
timer_arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = tv_ms(ms);

	evtimer_add(ev, &tv);
}
