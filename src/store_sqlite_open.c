/*
 * store_sqlite_open.c - opening the SQLite job store: the connections
 * and their settings, the schema, the totals the stats start from, and
 * recovery after a crash (items left in flight, cancellations and
 * deletions that were under way, body directories of jobs that no
 * longer exist). Runs once, in store_open, before the store's threads.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_sqlite.h"
#include "util.h"

/* WAL frames (pages) past which it is checkpointed: SQLite's own
 * autocheckpoint point; past CKPT_BACKSTOP the writer does it itself. */
#define CKPT_FRAMES   1000
#define CKPT_BACKSTOP (16 * CKPT_FRAMES)

/* See store_sqlite.h for the row keys; item states and outcomes are
 * the enums of store.h (0 pending, 1 in flight, 2 done; 0 ok). */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS jobs ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " key TEXT NOT NULL UNIQUE,"
    " idem TEXT UNIQUE,"
    " name TEXT,"
    " state INTEGER NOT NULL,"
    " total INTEGER NOT NULL, pending INTEGER NOT NULL,"
    " inflight INTEGER NOT NULL, ok INTEGER NOT NULL,"
    " failed INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
    " body_bytes INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, started_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL,"
    " ttl_s INTEGER NOT NULL, options TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS jobs_expiry ON jobs (expires_ms)"
    " WHERE expires_ms > 0;"
    "CREATE TABLE IF NOT EXISTS items ("
    " id INTEGER PRIMARY KEY, job INTEGER NOT NULL,"
    " state INTEGER NOT NULL, flags INTEGER NOT NULL,"
    " attempt INTEGER NOT NULL, outcome INTEGER, seq INTEGER,"
    " spec TEXT NOT NULL);"
    "DROP INDEX IF EXISTS items_pending;"  /* a lease scans from a cursor */
    "DROP INDEX IF EXISTS items_inflight;" /* recovery scans in-flight jobs */
    "CREATE TABLE IF NOT EXISTS results ("
    " id INTEGER PRIMARY KEY, job INTEGER NOT NULL,"
    " idx INTEGER NOT NULL, attempt INTEGER NOT NULL,"
    " outcome INTEGER NOT NULL, line TEXT NOT NULL,"
    " body_bytes INTEGER, body_file TEXT,"
    " body_err INTEGER NOT NULL, body BLOB,"
    " body_type TEXT, body_coding TEXT);"
    "CREATE INDEX IF NOT EXISTS results_failed ON results (job)"
    " WHERE outcome <> 0;"
    "CREATE TABLE IF NOT EXISTS trash ("
    " job INTEGER PRIMARY KEY, key TEXT NOT NULL,"
    " body_bytes INTEGER NOT NULL);";

/* Open one connection to path with the store's VFS and settings. */
static int
open_conn(struct sqlite_be *be, const char *path, sqlite3 **db)
{
	const struct store_config *c = &be->st->cfg;
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI;
	int rc = sqlite3_open_v2(path, db, flags, c->memory ? NULL : c->vfs);

	if (rc != SQLITE_OK)
		return rc;
	sqlite3_extended_result_codes(*db, 1);
	sqlite3_busy_timeout(*db, 5000);
	return sqlite3_exec(
	    *db, "PRAGMA cache_size = -16384", NULL, NULL, NULL);
}

/* A PRAGMA or statement whose one text answer must be `want`. */
static int
exec_expect(sqlite3 *db, const char *sql, const char *want)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		rc = strcmp((const char *)sqlite3_column_text(s, 0), want) == 0
		    ? SQLITE_OK
		    : SQLITE_CANTOPEN;
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_CANTOPEN : rc;
}

/* One integer from a query (0 when it has no row). */
static int64_t
query_int(sqlite3 *db, const char *sql, int *rc)
{
	sqlite3_stmt *s;
	int64_t v = 0;

	*rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (*rc != SQLITE_OK)
		return 0;
	*rc = sqlite3_step(s);
	if (*rc == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	*rc = *rc == SQLITE_ROW || *rc == SQLITE_DONE ? SQLITE_OK : *rc;
	sqlite3_finalize(s);
	return v;
}

/* The writer's connection: WAL, sync level, schema (versioned). */
static int
setup_writer(struct sqlite_be *be, char *err, size_t errlen)
{
	const struct store_config *c = &be->st->cfg;
	int64_t version;
	int rc;

	if (!c->memory &&
	    (rc = exec_expect(be->w, "PRAGMA journal_mode = WAL", "wal")) !=
	        SQLITE_OK) {
		snprintf(
		    err, errlen, "cannot use WAL mode: %s", sqlite3_errstr(rc));
		return rc;
	}
	rc = sqlite3_exec(be->w,
	    c->durable ? "PRAGMA synchronous = FULL; PRAGMA secure_delete = "
	                 "FAST; PRAGMA temp_store = MEMORY"
	               : "PRAGMA synchronous = NORMAL; PRAGMA secure_delete "
	                 "= FAST; PRAGMA temp_store = MEMORY",
	    NULL, NULL, NULL);
	version =
	    rc == SQLITE_OK ? query_int(be->w, "PRAGMA user_version", &rc) : 0;
	if (rc == SQLITE_OK && version > SCHEMA_VERSION) {
		snprintf(err, errlen,
		    "the job store has schema version %lld: this fanoutd "
		    "knows up to %d",
		    (long long)version, SCHEMA_VERSION);
		return SQLITE_CANTOPEN;
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(be->w, schema, NULL, NULL, NULL);
	if (rc == SQLITE_OK && version == 1) /* 2: a stored body's type */
		rc = sqlite3_exec(be->w,
		    "ALTER TABLE results ADD COLUMN body_type TEXT;"
		    "ALTER TABLE results ADD COLUMN body_coding TEXT",
		    NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(be->w,
		    "PRAGMA user_version = " SCHEMA_VERSION_SQL, NULL, NULL,
		    NULL);
	if (rc == SQLITE_OK)
		be->page_size = query_int(be->w, "PRAGMA page_size", &rc);
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "cannot set up the job store: %s",
		    sqlite3_errmsg(be->w));
	return rc;
}

/* The totals the stats and the limits start from. */
static int
load_totals(struct sqlite_be *be)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(be->w,
	    "SELECT state, count(*), total(pending) FROM jobs GROUP BY state",
	    -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int state = sqlite3_column_int(s, 0);

		if (state >= 0 && state < STORE_JOB__COUNT)
			be->live.jobs[state] =
			    (uint64_t)sqlite3_column_int64(s, 1);
		be->live.pending += (uint64_t)sqlite3_column_int64(s, 2);
	}
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return rc;
	be->live.body_bytes = (uint64_t)query_int(be->w,
	    "SELECT (SELECT total(body_bytes) FROM jobs) + "
	    "(SELECT total(body_bytes) FROM trash)",
	    &rc);
	return rc;
}

/* Follow-up work a crash interrupted: the rest of a cancellation (its
 * pending items) and of a deletion (its rows, then its bodies). */
static int
resume(struct sqlite_be *be)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(be->w,
	    "SELECT key, 0, 0 FROM jobs WHERE state = 3 AND pending > 0 "
	    "UNION ALL SELECT key, job, body_bytes FROM trash",
	    -1, &s, NULL);

	_Static_assert(STORE_JOB_CANCELLED == 3, "spelt 3 above");
	if (rc != SQLITE_OK)
		return rc;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t row = sqlite3_column_int64(s, 1);
		struct sreq *r =
		    sreq_new(row ? SR_TRASH_SLICE : SR_CANCEL_SLICE, 0);

		memcpy(r->id, sqlite3_column_text(s, 0), STORE_ID_LEN);
		r->job_row = row;
		r->body_bytes = (uint64_t)sqlite3_column_int64(s, 2);
		store_spawn(be->st, r);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Body directories whose job is neither stored nor in the trash (the
 * crash came between a deletion's last row and its files): removed. */
static void
orphans(struct sqlite_be *be)
{
	char path[4096];
	struct dirent *e;
	sqlite3_stmt *s;
	DIR *d;

	snprintf(path, sizeof(path), "%s/bodies", be->st->dir);
	if ((d = opendir(path)) == NULL)
		return;
	if (sqlite3_prepare_v2(be->w,
	        "SELECT 1 FROM jobs WHERE key = ?1 UNION ALL "
	        "SELECT 1 FROM trash WHERE key = ?1",
	        -1, &s, NULL) != SQLITE_OK) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		if (!store_id_valid(e->d_name))
			continue;
		sqlite3_bind_text(s, 1, e->d_name, -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_DONE) {
			struct sreq *r = sreq_new(SR_RMDIR, 0);

			memcpy(r->id, e->d_name, STORE_ID_LEN);
			store_spawn(be->st, r);
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	closedir(d);
}

/* In-flight items back to pending or ended, in one transaction. */
static int
recover(struct sqlite_be *be, char *err, size_t errlen)
{
	enum store_err e = sqlite_begin(be);

	if (e == STORE_OK)
		e = sqlite_recover(be);
	if (e == STORE_OK)
		e = sqlite_commit(be);
	if (e != STORE_OK) {
		sqlite_rollback(be);
		snprintf(err, errlen, "cannot recover the job store: %s",
		    be->errmsg);
		return SQLITE_ERROR;
	}
	return SQLITE_OK;
}

/*
 * Checkpoints. SQLite's autocheckpoint copies the WAL into the database
 * inside the commit that grows it past 1,000 pages: 4 MB written and
 * fsync'd while the writer - and every lease waiting for it - stands
 * still (20-90 ms on a busy disk). Instead the files thread checkpoints
 * (PASSIVE: alongside the writer, never blocking it), and the writer
 * only finishes the job: right after a commit that follows the files
 * thread's round (this hook runs after the write lock is released), it
 * copies the few pages committed meanwhile, so that its next transaction
 * finds the log all copied and starts it over from the top (SQLite
 * restarts a WAL only from a writer that began with nothing left to
 * copy). Should the files thread fall behind, the writer checkpoints
 * itself past CKPT_BACKSTOP, as SQLite would have.
 */
static int
wal_grown(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_be *be = arg;

	(void)name;
	if (atomic_exchange(&be->ckpt_caught_up, false) ||
	    frames >= CKPT_BACKSTOP)
		sqlite3_wal_checkpoint_v2(
		    db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	else if (frames >= CKPT_FRAMES)
		store_checkpoint_soon(be->st);
	return SQLITE_OK;
}

void
sqlite_checkpoint(void *p)
{
	struct sqlite_be *be = p;
	int rc;

	if (be->c == NULL)
		return;
	rc = sqlite3_wal_checkpoint_v2(
	    be->c, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		log_warn("store: checkpoint: %s", sqlite3_errmsg(be->c));
	atomic_store(&be->ckpt_caught_up, true);
}

static int
setup_reader(struct sqlite_be *be, const char *path)
{
	int rc = open_conn(be, path, &be->r), i;

	if (rc == SQLITE_OK)
		rc = sqlite3_exec(
		    be->r, "PRAGMA query_only = 1", NULL, NULL, NULL);
	for (i = 0; i < R__COUNT && rc == SQLITE_OK; i++)
		rc = sqlite3_prepare_v3(be->r, sqlite_rsql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &be->rs[i], NULL);
	return rc;
}

void *
store_sqlite_open(struct store *st, char *err, size_t errlen)
{
	struct sqlite_be *be = xcalloc(1, sizeof(*be));
	struct store *s = st;
	char *path, id[STORE_ID_LEN + 1];
	const char *why = NULL;
	int rc;

	be->st = st;
	if (st->cfg.memory) {
		store_new_id(st, id);
		path = xmalloc(64);
		snprintf(path, 64, "file:/fanoutd-%s?vfs=memdb", id);
	} else {
		path = xmalloc(strlen(st->dir) + sizeof("/jobs.db"));
		sprintf(path, "%s/jobs.db", st->dir);
	}
	rc = open_conn(be, path, &be->w);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open %s: %s", path,
		    be->w ? sqlite3_errmsg(be->w) : sqlite3_errstr(rc));
		goto fail;
	}
	if (setup_writer(be, err, errlen) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite_prepare_writer(be)) != SQLITE_OK ||
	    (rc = load_totals(be)) != SQLITE_OK) {
		snprintf(err, errlen, "cannot read the job store: %s",
		    sqlite3_errmsg(be->w));
		goto fail;
	}
	if (recover(be, err, errlen) != SQLITE_OK)
		goto fail;
	if (resume(be) != SQLITE_OK || setup_reader(be, path) != SQLITE_OK) {
		snprintf(err, errlen, "cannot open the job store: %s",
		    sqlite3_errmsg(be->r ? be->r : be->w));
		goto fail;
	}
	if (!st->cfg.memory) {
		if (open_conn(be, path, &be->c) != SQLITE_OK) {
			snprintf(err, errlen, "cannot open the job store: %s",
			    sqlite3_errmsg(be->c));
			goto fail;
		}
		sqlite3_wal_hook(be->w, wal_grown, be);
	}
	orphans(be);
	free(path);
	why = sqlite_limits(be);
	if (why != NULL) {
		s->degraded = true;
		snprintf(s->why, sizeof(s->why), "%s", why);
		atomic_store(&s->is_degraded, true);
		log_warn("store: %s", why);
	}
	return be;
fail:
	free(path);
	store_sqlite_backend.close(be);
	return NULL;
}
