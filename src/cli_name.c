/*
 * cli_name.c - where `fanout -d DIR` puts a body (see cli.h). The name
 * comes from the URL's last path segment (RFC 3986 §3.3), decoded and
 * then made safe: no separator, no control character, no leading dot,
 * so a file can only land in DIR itself. A body is written to
 * NAME.part (opened O_EXCL, so nothing else is clobbered), then linked
 * to NAME, which fails rather than replace a file that appeared
 * meanwhile; --overwrite renames over it instead. Names this run wrote
 * are remembered, so two URLs ending alike get two files either way.
 *
 * For a job's results the saver keeps a manifest, DIR/.fanout-job-ID
 * (its leading dot keeps it clear of every name above): one line
 * "INDEX<TAB>BYTES<TAB>NAME" per body saved, appended and flushed as
 * each lands. `fanout results ID -d DIR` run again reads it and skips
 * the items whose file is still there with that size.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "url.h"

void
cli_name_from_url(const char *url, char *out)
{
	const char *p = url, *end, *seg, *s = strstr(url, "://");
	size_t n, i, len = 0;
	char *dec;

	/* past "scheme://authority" (RFC 3986 §3) */
	if (s != NULL) {
		p = s + 3;
		p += strcspn(p, "/?#");
	}
	end = p + strcspn(p, "?#");
	seg = end;
	while (seg > p && seg[-1] != '/')
		seg--;
	dec = malloc((size_t)(end - seg) + 1);
	if (dec == NULL)
		abort();
	n = url_pct_decode(seg, (size_t)(end - seg), dec);
	for (i = 0; i < n && len < CLI_NAME_MAX; i++) {
		unsigned char c = (unsigned char)dec[i];

		if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
			c = '_';
		if (len == 0 && c == '.')
			c = '_';
		out[len++] = (char)c;
	}
	free(dec);
	out[len] = '\0';
	if (len == 0)
		strcpy(out, "index.html");
}

void
cli_name_candidate(const char *name, unsigned k, char *out)
{
	const char *dot;
	size_t stem;

	if (k == 0) {
		snprintf(out, CLI_NAME_MAX + 16, "%s", name);
		return;
	}
	dot = name[0] != '\0' ? strchr(name + 1, '.') : NULL;
	stem = dot != NULL ? (size_t)(dot - name) : strlen(name);
	snprintf(out, CLI_NAME_MAX + 16, "%.*s-%u%s", (int)stem, name, k,
	    dot != NULL ? dot : "");
}

int
cli_saver_open(
    struct cli_saver *s, const char *dir, bool overwrite, struct buf *err)
{
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->overwrite = overwrite;
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		buf_printf(err, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	s->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		buf_printf(err, "cannot open %s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

void
cli_saver_close(struct cli_saver *s)
{
	if (s->dirfd > 0)
		close(s->dirfd);
	s->dirfd = -1;
	if (s->manifest != NULL)
		fclose(s->manifest);
	s->manifest = NULL;
	htab_free(&s->taken, NULL);
	htab_free(&s->saved, free);
}

int
cli_saver_job(struct cli_saver *s, const char *job_id, struct buf *err)
{
	char mname[96], line[CLI_NAME_MAX + 64];
	FILE *f;
	int fd;

	snprintf(mname, sizeof(mname), ".fanout-job-%s", job_id);
	fd = openat(s->dirfd, mname,
	    O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0 || (f = fdopen(fd, "a+")) == NULL) {
		buf_printf(err, "cannot open %s/%s: %s", s->dir, mname,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewind(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		char *tab1 = strchr(line, '\t'), *tab2, *dup;

		if (tab1 == NULL || (tab2 = strchr(tab1 + 1, '\t')) == NULL)
			continue; /* a line cut by a crash */
		line[strcspn(line, "\n")] = '\0';
		*tab1 = '\0';
		if ((dup = strdup(tab1 + 1)) != NULL)
			free(htab_put(&s->saved, line, dup)); /* the newest */
	}
	s->manifest = f;
	return 0;
}

bool
cli_saver_saved(
    struct cli_saver *s, uint64_t index, uint64_t bytes, struct buf *path)
{
	char key[24], *rec, *end;
	struct stat sb;

	snprintf(key, sizeof(key), "%llu", (unsigned long long)index);
	if ((rec = htab_get(&s->saved, key)) == NULL ||
	    strtoull(rec, &end, 10) != bytes || *end != '\t' ||
	    fstatat(s->dirfd, end + 1, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != bytes)
		return false;
	htab_put(&s->taken, end + 1, s);
	buf_reset(path);
	buf_printf(path, "%s%s%s", s->dir,
	    s->dir[strlen(s->dir) - 1] == '/' ? "" : "/", end + 1);
	return true;
}

void
cli_saver_record(
    struct cli_saver *s, uint64_t index, uint64_t bytes, const char *path)
{
	const char *name = strrchr(path, '/');

	if (s->manifest == NULL)
		return;
	fprintf(s->manifest, "%llu\t%llu\t%s\n", (unsigned long long)index,
	    (unsigned long long)bytes, name != NULL ? name + 1 : path);
	fflush(s->manifest);
}

/* A fresh NAME.part of the first candidate whose .part is free, filled
 * by fill; part gets that file's name. 0, or -1 with err. */
static int
write_part(struct cli_saver *s, const char *name, cli_fill_fn fill, void *ctx,
    char *part, struct buf *err)
{
	unsigned k;

	for (k = 0; k < 10000; k++) {
		char cand[CLI_NAME_MAX + 16];
		int fd;

		cli_name_candidate(name, k, cand);
		snprintf(part, CLI_NAME_MAX + 32, "%s.part", cand);
		fd = openat(s->dirfd, part,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0666);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0) {
			buf_printf(err, "cannot create %s/%s: %s", s->dir, part,
			    strerror(errno));
			return -1;
		}
		if (fill(ctx, fd, err) != 0) {
			close(fd);
			unlinkat(s->dirfd, part, 0);
			return -1;
		}
		if (close(fd) != 0) {
			buf_printf(err, "cannot write %s/%s: %s", s->dir, part,
			    strerror(errno));
			unlinkat(s->dirfd, part, 0);
			return -1;
		}
		return 0;
	}
	buf_printf(err, "no free name for %s in %s", name, s->dir);
	return -1;
}

struct mem_body {
	const void *p;
	size_t n;
	const char *dir;
};

static int
fill_mem(void *ctx, int fd, struct buf *err)
{
	struct mem_body *m = ctx;

	if (cli_write_all(fd, m->p, m->n) != 0) {
		buf_printf(
		    err, "cannot write in %s: %s", m->dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
cli_save(struct cli_saver *s, const char *url, const void *body, size_t n,
    struct buf *path, struct buf *err)
{
	struct mem_body m = {body, n, s->dir};

	return cli_save_fill(s, url, fill_mem, &m, path, err);
}

int
cli_save_fill(struct cli_saver *s, const char *url, cli_fill_fn fill, void *ctx,
    struct buf *path, struct buf *err)
{
	char name[CLI_NAME_MAX + 1], part[CLI_NAME_MAX + 32];
	unsigned k;

	cli_name_from_url(url, name);
	if (write_part(s, name, fill, ctx, part, err) != 0)
		return -1;
	for (k = 0; k < 10000; k++) {
		char cand[CLI_NAME_MAX + 16];
		int rc;

		cli_name_candidate(name, k, cand);
		if (htab_get(&s->taken, cand) != NULL)
			continue;
		if (s->overwrite)
			rc = renameat(s->dirfd, part, s->dirfd, cand);
		else
			rc = linkat(s->dirfd, part, s->dirfd, cand, 0);
		if (rc != 0 && errno == EEXIST)
			continue;
		if (rc != 0) {
			buf_printf(err, "cannot name %s/%s: %s", s->dir, cand,
			    strerror(errno));
			unlinkat(s->dirfd, part, 0);
			return -1;
		}
		if (!s->overwrite)
			unlinkat(s->dirfd, part, 0);
		htab_put(&s->taken, cand, s);
		buf_reset(path);
		buf_printf(path, "%s%s%s", s->dir,
		    s->dir[strlen(s->dir) - 1] == '/' ? "" : "/", cand);
		return 0;
	}
	unlinkat(s->dirfd, part, 0);
	buf_printf(err, "no free name for %s in %s", name, s->dir);
	return -1;
}
