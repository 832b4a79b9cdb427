/*
 * log.h - levelled logging to stderr.
 *
 * Under systemd (JOURNAL_STREAM set) each line starts with the sd-daemon
 * priority prefix (<3> error, <4> warning, <6> info, <7> debug) and no
 * timestamp, since the journal stamps lines itself; otherwise each line
 * starts with an ISO 8601 UTC timestamp and the level name.
 */
#ifndef FANOUTD_LOG_H
#define FANOUTD_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Decide the line format from the environment; call once at start-up. */
void log_init(void);
void log_set_level(enum log_level level);
/* Parse "error", "warn", "info", "debug"; -1 when unknown. */
int log_level_parse(const char *s);

void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

extern enum log_level log_level_current;

#define log_enabled(l) ((l) <= log_level_current)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...)                                     \
	do {                                              \
		if (log_enabled(LOG_INFO))                \
			log_write(LOG_INFO, __VA_ARGS__); \
	} while (0)
#define log_debug(...)                                     \
	do {                                               \
		if (log_enabled(LOG_DEBUG))                \
			log_write(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

#endif
