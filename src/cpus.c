/*
 * cpus.c - CPU lists and thread pinning (see cpus.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpus.h"

/* A CPU number at *p (digits only); -1 when there is none or it is
 * beyond max. */
static long
cpu_number(const char **p, long max)
{
	long v = 0;

	if (!isdigit((unsigned char)**p))
		return -1;
	while (isdigit((unsigned char)**p)) {
		v = v * 10 + (**p - '0');
		if (v > max)
			return -1;
		(*p)++;
	}
	return v;
}

static void
skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t')
		(*p)++;
}

int
cpus_parse(const char *s, struct cpus *out, char *why, size_t whylen)
{
	long conf = sysconf(_SC_NPROCESSORS_CONF);
	long max = (conf > 0 && conf < CPU_SETSIZE ? conf : CPU_SETSIZE) - 1;
	const char *p = s;

	memset(out, 0, sizeof(*out));
	CPU_ZERO(&out->set);
	skip_spaces(&p);
	if (*p == '\0')
		return 0;
	for (;;) {
		const char *entry = p;
		long lo, hi, i;

		skip_spaces(&p);
		lo = hi = cpu_number(&p, max);
		if (lo >= 0 && *p == '-') {
			p++;
			hi = cpu_number(&p, max);
		}
		skip_spaces(&p);
		if (lo < 0 || hi < lo || (*p != ',' && *p != '\0')) {
			int n = (int)strcspn(entry, ",");

			snprintf(why, whylen,
			    "\"%.*s\" is not a CPU or a range of CPUs from 0 "
			    "to %ld (this machine's), like 0-3,6",
			    n, entry, max);
			return -1;
		}
		for (i = lo; i <= hi; i++)
			CPU_SET((size_t)i, &out->set);
		if (*p == '\0')
			break;
		p++;
	}
	out->on = true;
	return 0;
}

void
cpus_format(const struct cpus *c, char *out, size_t outlen)
{
	size_t len = 0;
	int i = 0;

	out[0] = '\0';
	while (i < CPU_SETSIZE && len < outlen) {
		int j;

		if (!CPU_ISSET((size_t)i, &c->set)) {
			i++;
			continue;
		}
		for (j = i;
		     j + 1 < CPU_SETSIZE && CPU_ISSET((size_t)j + 1, &c->set);)
			j++;
		if (j > i)
			len += (size_t)snprintf(out + len, outlen - len,
			    "%s%d-%d", len ? "," : "", i, j);
		else
			len += (size_t)snprintf(
			    out + len, outlen - len, "%s%d", len ? "," : "", i);
		i = j + 1;
	}
}

int
cpus_apply(pthread_t t, const struct cpus *c)
{
	if (!c->on)
		return 0;
	return pthread_setaffinity_np(t, sizeof(c->set), &c->set);
}
