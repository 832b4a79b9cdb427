/*
 * log.c - levelled stderr logging with journald priority prefixes (see
 * log.h). One write(2) per line so lines from a crash or from libevent's
 * own log callback never interleave mid-line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/time.h>

#include "log.h"
#include "util.h"

enum log_level log_level_current = LOG_INFO;
static int log_journal;

static const struct {
	const char *name;
	const char *prefix; /* sd-daemon priority */
} log_levels[] = {
    [LOG_ERROR] = {"error", "<3>"},
    [LOG_WARN] = {"warn", "<4>"},
    [LOG_INFO] = {"info", "<6>"},
    [LOG_DEBUG] = {"debug", "<7>"},
};

void
log_init(void)
{
	const char *js = getenv("JOURNAL_STREAM");

	log_journal = js != NULL && *js != '\0';
}

void
log_set_level(enum log_level level)
{
	log_level_current = level;
}

int
log_level_parse(const char *s)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(log_levels); i++)
		if (strcmp(s, log_levels[i].name) == 0)
			return (int)i;
	if (strcmp(s, "warning") == 0)
		return LOG_WARN;
	return -1;
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	size_t n = 0;
	va_list ap;
	int r;

	if (!log_enabled(level))
		return;
	if (log_journal) {
		n = (size_t)snprintf(
		    line, sizeof(line), "%s", log_levels[level].prefix);
	} else {
		struct timeval tv;
		struct tm tm;

		gettimeofday(&tv, NULL);
		gmtime_r(&tv.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, sizeof(line) - n,
		    ".%03ldZ %-5s ", (long)(tv.tv_usec / 1000),
		    log_levels[level].name);
	}
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0) {
		/* Nowhere left to report it. */
	}
}
