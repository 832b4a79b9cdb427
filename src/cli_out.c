/*
 * cli_out.c - what fanout prints (see cli.h). Results go to stdout (or
 * -o FILE) as NDJSON, passed through as the daemon wrote them, or as a
 * short table; either way a line is buffered whole and written with one
 * write(2) when the chunk it came in is done, so the output streams and
 * is never cut inside a line. The progress bar goes to stderr, redrawn
 * in place with a carriage return and "erase to end of line" (ECMA-48
 * EL, CSI K), at most ten times a second, and erased at the end;
 * fanout.c only turns it on for a terminal (or --progress always).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
cli_out_init(
    struct cli_out *o, int fd, enum cli_format format, bool bar, uint64_t total)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->format = format;
	o->bar = bar;
	o->total = total;
	o->t0 = now_s();
}

void
cli_out_free(struct cli_out *o)
{
	buf_free(&o->buf);
}

/* A table row: index, status (or error type), bytes, ms, url. */
static void
table_row(
    struct cli_out *o, const char *line, size_t n, const struct cli_line *l)
{
	json_t *j = json_loadb(line, n, 0, NULL);
	json_t *err, *status, *sum;
	char what[40];

	if (!o->table_head) {
		buf_printf(&o->buf, "%6s  %-10s %10s %9s  %s\n", "INDEX",
		    "STATUS", "BYTES", "MS", "URL");
		o->table_head = true;
	}
	if (j == NULL)
		return;
	if (l->kind == CLI_LINE_SUMMARY) {
		sum = json_object_get(j, "summary");
		buf_printf(&o->buf,
		    "%llu item%s: %llu ok, %llu failed in %.1f s\n",
		    (unsigned long long)l->total, l->total == 1 ? "" : "s",
		    (unsigned long long)l->okn, (unsigned long long)l->failed,
		    json_number_value(json_object_get(sum, "elapsed_ms")) /
		        1000);
		json_decref(j);
		return;
	}
	err = json_object_get(j, "error");
	status = json_object_get(j, "status");
	if (json_is_integer(status))
		snprintf(what, sizeof(what), "%lld%s",
		    (long long)json_integer_value(status), l->ok ? "" : "!");
	else
		snprintf(what, sizeof(what), "%s",
		    json_string_value(json_object_get(err, "type")) != NULL
		        ? json_string_value(json_object_get(err, "type"))
		        : "?");
	buf_printf(&o->buf, "%6llu  %-10s %10llu %9.1f  %s",
	    (unsigned long long)l->index, what,
	    (unsigned long long)l->body_bytes,
	    json_number_value(json_object_get(j, "elapsed_ms")),
	    json_string_value(json_object_get(j, "url")) != NULL
	        ? json_string_value(json_object_get(j, "url"))
	        : "");
	if (json_is_object(err))
		buf_printf(&o->buf, "  (%s)",
		    json_string_value(json_object_get(err, "message")) != NULL
		        ? json_string_value(json_object_get(err, "message"))
		        : "");
	if (json_is_string(json_object_get(j, "saved_path")))
		buf_printf(&o->buf, "  -> %s",
		    json_string_value(json_object_get(j, "saved_path")));
	buf_addc(&o->buf, '\n');
	json_decref(j);
}

void
cli_out_line(
    struct cli_out *o, const char *line, size_t n, const struct cli_line *l)
{
	if (o->format == CLI_FORMAT_TABLE) {
		table_row(o, line, n, l);
		return;
	}
	buf_add(&o->buf, line, n);
	buf_addc(&o->buf, '\n');
}

int
cli_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

int
cli_out_flush(struct cli_out *o)
{
	int rc = cli_write_all(o->fd, o->buf.data, o->buf.len);

	buf_reset(&o->buf);
	return rc;
}

void
cli_shell_quote(struct buf *out, const char *s)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyz"
	                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789_-+=.,/:@%";
	const char *p;

	if (s[0] != '\0' && s[strspn(s, safe)] == '\0') {
		buf_adds(out, s);
		return;
	}
	buf_addc(out, '\'');
	for (p = s; *p != '\0'; p++)
		if (*p == '\'')
			buf_adds(out, "'\\''");
		else
			buf_addc(out, *p);
	buf_addc(out, '\'');
}

/* bytes as "512 B", "1.5 kB", "12.3 MB", "1.0 GB" */
static void
human_bytes(struct buf *out, uint64_t b)
{
	static const char *const unit[] = {"kB", "MB", "GB", "TB"};
	double v = (double)b;
	int u = -1;

	if (b < 1000) {
		buf_printf(out, "%llu B", (unsigned long long)b);
		return;
	}
	while (v >= 1000 && u < 3) {
		v /= 1000;
		u++;
	}
	buf_printf(out, "%.1f %s", v, unit[u]);
}

/* The bar's fields after the count, in the order they are given up
 * when the width is short: bytes, rate, ETA, then ok/failed. */
enum bar_field { BAR_OKFAIL, BAR_RATE, BAR_BYTES, BAR_ETA, BAR__COUNT };
static const enum bar_field bar_drop_order[BAR__COUNT] = {
    BAR_BYTES, BAR_RATE, BAR_ETA, BAR_OKFAIL};

#define BAR_MIN 8 /* columns of '#' and '-' worth drawing */

void
cli_bar_text(struct buf *out, unsigned width, uint64_t done, uint64_t total,
    uint64_t ok, uint64_t failed, uint64_t bytes, double elapsed_s)
{
	struct buf f[BAR__COUNT] = {BUF_INIT, BUF_INIT, BUF_INIT, BUF_INIT};
	struct buf tail = BUF_INIT;
	double rate = elapsed_s > 0 ? (double)done / elapsed_s : 0;
	bool shown[BAR__COUNT] = {true, true, true, true};
	unsigned bar = 0, fill, i, k, dropped = 0;

	buf_printf(&f[BAR_OKFAIL], " ok %llu failed %llu",
	    (unsigned long long)ok, (unsigned long long)failed);
	buf_printf(&f[BAR_RATE], " %.0f/s", rate);
	buf_addc(&f[BAR_BYTES], ' ');
	human_bytes(&f[BAR_BYTES], bytes);
	if (rate > 0 && total > done) {
		unsigned long eta =
		    (unsigned long)((double)(total - done) / rate + 0.5);

		buf_printf(&f[BAR_ETA], " ETA %lu:%02lu", eta / 60, eta % 60);
	}
	/* the most fields that leave the bar BAR_MIN columns */
	for (;;) {
		buf_reset(&tail);
		buf_printf(&tail, " %llu/%llu", (unsigned long long)done,
		    (unsigned long long)total);
		for (k = 0; k < BAR__COUNT; k++)
			if (shown[k])
				buf_add(&tail, f[k].data, f[k].len);
		if (width >= tail.len + 2 + BAR_MIN) {
			bar = width - (unsigned)tail.len - 2;
			break;
		}
		if (dropped == BAR__COUNT) {
			/* the count alone: a short bar, or none */
			if (width >= tail.len + 2 + 3)
				bar = width - (unsigned)tail.len - 2;
			break;
		}
		shown[bar_drop_order[dropped++]] = false;
	}
	if (bar > 0) {
		fill = total > 0
		    ? (unsigned)((double)bar * (double)done / (double)total)
		    : 0;
		if (fill > bar)
			fill = bar;
		buf_addc(out, '[');
		for (i = 0; i < bar; i++)
			buf_addc(out, i < fill ? '#' : '-');
		buf_addc(out, ']');
		buf_add(out, tail.data, tail.len);
	} else /* never wider than the terminal: cut */
		buf_add(out, tail.data + 1,
		    tail.len - 1 < width ? tail.len - 1 : width);
	for (k = 0; k < BAR__COUNT; k++)
		buf_free(&f[k]);
	buf_free(&tail);
}

/* Columns of the terminal on stderr, read at every draw so a resized
 * window is followed, with one left free so the cursor never wraps (a
 * wrapped bar leaves a stale line at every redraw); 79 when stderr is
 * not a terminal (--progress always into a file). */
static unsigned
term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return (unsigned)ws.ws_col - 1;
	return 79;
}

void
cli_out_count(struct cli_out *o, const struct cli_line *l, bool force)
{
	struct buf b = BUF_INIT;
	double t;

	if (l != NULL && l->kind == CLI_LINE_RESULT) {
		if (l->ok)
			o->ok++;
		else
			o->failed++;
		o->bytes += l->body_bytes;
		if (o->ok + o->failed > o->done)
			o->done = o->ok + o->failed;
	} else if (l != NULL && l->kind == CLI_LINE_PROGRESS) {
		if (l->done > o->done)
			o->done = l->done;
		o->total = l->total;
	}
	if (!o->bar)
		return;
	t = now_s();
	if (!force && t - o->last_draw < 0.1)
		return;
	o->last_draw = t;
	buf_addc(&b, '\r');
	cli_bar_text(&b, term_width(), o->done, o->total, o->ok, o->failed,
	    o->bytes, t - o->t0);
	buf_adds(&b, "\033[K");
	(void)cli_write_all(STDERR_FILENO, b.data, b.len);
	o->drawn = true;
	buf_free(&b);
}

void
cli_out_clear(struct cli_out *o)
{
	if (o->drawn)
		(void)cli_write_all(STDERR_FILENO, "\r\033[K", 4);
	o->drawn = false;
}
