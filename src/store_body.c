/*
 * store_body.c - response bodies of job items (see store.h, "Body
 * sink"). The loop thread owns each struct store_body: it keeps the
 * first STORE_BODY_INLINE bytes in memory (stored in the database with
 * the result), and past that sends every chunk to the files thread,
 * which appends it to DIR/bodies/ID/INDEX.ATTEMPT. A body is therefore
 * never whole in memory, and the loop never writes a file. When the
 * result is recorded, the record request passes through the files
 * thread first (FIFO, so after the body's last chunk), which closes the
 * file - fdatasync'd, with its directory, when the store is durable -
 * before the writer commits the line that points to it.
 *
 * The files thread also removes the body directory of a deleted job and
 * unlinks bodies whose record was refused.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

struct store_body {
	struct store *st;
	char id[STORE_ID_LEN + 1];
	uint32_t index, attempt;
	struct buf mem;      /* the bytes, until they spill to a file */
	struct sfile *file;  /* NULL until then */
	uint64_t total;      /* bytes taken */
	uint64_t queued;     /* sent to the files thread, not yet written */
	unsigned chunks;     /* chunk requests not yet back */
	bool failed;         /* a write failed: no more bytes taken */
	bool released;       /* recorded or aborted: freed once chunks is 0 */
	char *type, *coding; /* served with it, or NULL */
	void (*drain)(void *arg, uint32_t index);
	void *drain_arg;
};

void
sfile_free(struct sfile *f)
{
	if (f == NULL)
		return;
	if (f->fd >= 0)
		close(f->fd);
	free(f->path);
	free(f);
}

static void
body_free(struct store_body *b)
{
	buf_free(&b->mem);
	free(b->type);
	free(b->coding);
	free(b);
}

struct store_body *
store_body_open(
    struct store *st, const char *id, uint32_t index, uint32_t attempt)
{
	struct store_body *b;

	if (!store_id_valid(id))
		return NULL;
	b = xcalloc(1, sizeof(*b));
	b->st = st;
	memcpy(b->id, id, sizeof(b->id));
	b->index = index;
	b->attempt = attempt;
	return b;
}

void
store_body_set_type(struct store_body *b, const char *type, const char *coding)
{
	free(b->type);
	free(b->coding);
	b->type = type != NULL ? xstrdup(type) : NULL;
	b->coding = coding != NULL ? xstrdup(coding) : NULL;
}

/* Send len bytes at data (malloc'd, taken over) to the files thread. */
static long
send_chunk(struct store_body *b, void *data, size_t len)
{
	struct sreq *r = sreq_new(SR_BODY_CHUNK, 0);

	r->data = data;
	r->chunk = data;
	r->chunk_len = len;
	r->file = b->file;
	r->sink = b;
	if (atomic_load(&b->st->closing) || !squeue_push(&b->st->fq, r)) {
		sreq_free(r);
		b->failed = true;
		return -1;
	}
	b->chunks++;
	b->queued += len;
	return (long)b->queued;
}

long
store_body_add(struct store_body *b, const void *p, size_t n)
{
	char *data;
	size_t len;

	if (b->released || b->failed ||
	    b->total + n > b->st->cfg.max_body_bytes)
		return -1;
	b->total += n;
	if (b->file == NULL && b->mem.len + n <= STORE_BODY_INLINE) {
		buf_add(&b->mem, p, n);
		return 0;
	}
	len = n;
	if (b->file == NULL) { /* spill: what was in memory goes first */
		char path[sizeof("bodies//") + STORE_ID_LEN + 24];

		snprintf(path, sizeof(path), "bodies/%s/%u.%u", b->id, b->index,
		    b->attempt);
		b->file = xcalloc(1, sizeof(*b->file));
		b->file->fd = -1;
		b->file->path = xstrdup(path);
		len += b->mem.len;
	}
	data = xmalloc(len);
	if (b->mem.len > 0)
		memcpy(data, b->mem.data, b->mem.len);
	memcpy(data + (len - n), p, n);
	buf_free(&b->mem);
	return send_chunk(b, data, len);
}

void
store_body_on_drain(
    struct store_body *b, void (*fn)(void *arg, uint32_t index), void *arg)
{
	b->drain = fn;
	b->drain_arg = arg;
}

void
store_body_chunk_done(struct sreq *r)
{
	struct store_body *b = r->sink;

	b->chunks--;
	b->queued -= r->chunk_len;
	if (r->err != STORE_OK)
		b->failed = true;
	if (b->queued == 0 && b->drain != NULL && !b->released) {
		void (*fn)(void *, uint32_t) = b->drain;

		b->drain = NULL;
		fn(b->drain_arg, b->index);
	}
	if (b->released && b->chunks == 0)
		body_free(b);
}

bool
store_body_take(struct store_body *b, struct sreq *r)
{
	if (b->released || strcmp(b->id, r->id) != 0 || b->index != r->index ||
	    b->attempt != r->attempt)
		return false;
	b->released = true;
	r->has_body = true;
	r->body_type = b->type;
	r->body_coding = b->coding;
	b->type = b->coding = NULL;
	if (b->file != NULL) {
		r->file = b->file;
		r->owns_file = true;
		b->file = NULL;
	} else {
		r->blob = b->mem.data;
		r->chunk = r->blob;
		r->chunk_len = b->mem.len;
		b->mem = (struct buf)BUF_INIT;
	}
	if (b->chunks == 0)
		body_free(b);
	return true;
}

void
store_body_abort(struct store_body *b)
{
	struct sreq *r;

	if (b == NULL || b->released)
		return;
	b->released = true;
	buf_free(&b->mem);
	if (b->file != NULL) {
		r = sreq_new(SR_BODY_ABORT, 0);
		r->file = b->file;
		r->owns_file = true;
		b->file = NULL;
		if (!squeue_push(&b->st->fq, r))
			sreq_free(r); /* its file: an orphan, gone at open */
	}
	if (b->chunks == 0)
		body_free(b);
}

/* errno of a failed write -> the store's error. */
static enum store_err
io_err(int e)
{
	return e == ENOSPC || e == EDQUOT ? STORE_EFULL : STORE_EIO;
}

/* fsync a directory of the store (relative path). */
static int
sync_dir(struct store *st, const char *rel)
{
	int fd = openat(st->dirfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/* The file failed with errno e: drop what it holds. */
static void
file_fail(struct store *st, struct sfile *f, int e)
{
	if (f->err == STORE_OK)
		log_warn("store: body %s: %s", f->path, strerror(e));
	f->err = io_err(e);
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	unlinkat(st->dirfd, f->path, 0);
}

static void
file_open(struct store *st, struct sfile *f)
{
	char dir[sizeof("bodies/") + STORE_ID_LEN];

	memcpy(dir, f->path, sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = '\0';
	if (mkdirat(st->dirfd, dir, 0700) == 0) {
		if (st->cfg.durable && sync_dir(st, "bodies") < 0) {
			file_fail(st, f, errno);
			return;
		}
	} else if (errno != EEXIST) {
		file_fail(st, f, errno);
		return;
	}
	f->fd = openat(
	    st->dirfd, f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		file_fail(st, f, errno);
}

static void
file_write(struct store *st, struct sfile *f, const char *p, size_t n)
{
	if (f->err != STORE_OK)
		return;
	if (f->fd < 0 && !f->sealed)
		file_open(st, f);
	while (n > 0 && f->err == STORE_OK) {
		long w = st->cfg.write != NULL ? st->cfg.write(f->fd, p, n)
		                               : (long)write(f->fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			file_fail(st, f, w < 0 ? errno : ENOSPC);
			return;
		}
		p += w;
		n -= (size_t)w;
		f->size += (uint64_t)w;
	}
}

/* Close a finished body file, durably when the store is. */
static void
file_seal(struct store *st, struct sfile *f)
{
	char dir[sizeof("bodies/") + STORE_ID_LEN];

	f->sealed = true;
	if (f->err != STORE_OK || f->fd < 0)
		return;
	if (st->cfg.durable && fdatasync(f->fd) < 0) {
		file_fail(st, f, errno);
		return;
	}
	if (close(f->fd) < 0) {
		f->fd = -1;
		file_fail(st, f, errno);
		return;
	}
	f->fd = -1;
	memcpy(dir, f->path, sizeof(dir) - 1);
	dir[sizeof(dir) - 1] = '\0';
	if (st->cfg.durable && sync_dir(st, dir) < 0)
		file_fail(st, f, errno);
}

/* rm -r DIR/bodies/ID: it holds only files. */
static void
remove_bodies(struct store *st, const char *id)
{
	char dir[sizeof("bodies/") + STORE_ID_LEN];
	struct dirent *e;
	DIR *d;
	int fd;

	snprintf(dir, sizeof(dir), "bodies/%s", id);
	fd = openat(st->dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(fd, e->d_name, 0);
	closedir(d);
	if (unlinkat(st->dirfd, dir, AT_REMOVEDIR) < 0 && errno != ENOENT)
		log_warn("store: cannot remove %s: %s", dir, strerror(errno));
}

/* rmdir DIR/bodies/ID if nothing is left in it. */
static void
rmdir_empty(struct store *st, const char *id)
{
	char dir[sizeof("bodies/") + STORE_ID_LEN];

	snprintf(dir, sizeof(dir), "bodies/%s", id);
	unlinkat(st->dirfd, dir, AT_REMOVEDIR); /* ENOTEMPTY: not yet */
}

void
store_files_run(struct store *st, struct sreq *r)
{
	switch (r->op) {
	case SR_BODY_CHUNK:
		file_write(st, r->file, r->chunk, r->chunk_len);
		r->err = r->file->err;
		break;
	case SR_RECORD:
		if (!r->file->sealed) { /* on its way to the writer */
			file_seal(st, r->file);
			r->body_err = r->file->err;
			r->route = ROUTE_WRITER;
		} else if (r->err != STORE_OK || r->drop_file) {
			/* refused, or stored in the database: drop the file */
			unlinkat(st->dirfd, r->file->path, 0);
			if (r->drop_file)
				rmdir_empty(st, r->id);
		}
		break;
	case SR_BODY_ABORT:
		if (r->file->fd >= 0)
			close(r->file->fd);
		r->file->fd = -1;
		unlinkat(st->dirfd, r->file->path, 0);
		break;
	case SR_RMDIR:
		remove_bodies(st, r->id);
		if (r->job_row != 0) { /* a deleted job: now forget it */
			r->op = SR_TRASH_DONE;
			r->route = ROUTE_WRITER;
		}
		break;
	default:
		break;
	}
}
