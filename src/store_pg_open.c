/*
 * store_pg_open.c - opening the PostgreSQL job store (see store_pg.h):
 * connections, this instance's ID, the versioned schema and its
 * migration, recovery of this instance's leases, the writer's probe and
 * the backend's table of functions.
 *
 * PostgreSQL need not be there when fanoutd starts: store_pg_open then
 * opens the store unready (store->opened false, degraded: "cannot open
 * the job store: PostgreSQL unreachable: ..."), every request fails at
 * once with STORE_EIO, and the writer's probe (store_thread.c) runs
 * setup every retry_ms until the server answers; from then on the store
 * works as if it had opened at once. Only an error retrying cannot cure
 * (a schema newer than this fanoutd knows) fails the open.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store_pg.h"
#include "util.h"

#define MIGRATE_LOCK "7262301901" /* pg_advisory_lock key */

/* Version 1 of the schema. */
static const char schema_v1[] =
    "CREATE TABLE jobs (id bigserial PRIMARY KEY, key text NOT NULL UNIQUE,"
    " idem text UNIQUE, name text, state smallint NOT NULL,"
    " total bigint NOT NULL, pending bigint NOT NULL,"
    " inflight bigint NOT NULL DEFAULT 0, ok bigint NOT NULL DEFAULT 0,"
    " failed bigint NOT NULL DEFAULT 0, last_seq bigint NOT NULL DEFAULT 0,"
    " created_ms bigint NOT NULL, started_ms bigint NOT NULL DEFAULT 0,"
    " finished_ms bigint NOT NULL DEFAULT 0,"
    " expires_ms bigint NOT NULL DEFAULT 0, ttl_s bigint NOT NULL,"
    " options text NOT NULL);"
    "CREATE INDEX jobs_expiry ON jobs (expires_ms) WHERE expires_ms > 0;"
    "CREATE TABLE items (job bigint NOT NULL, idx integer NOT NULL,"
    " state smallint NOT NULL DEFAULT 0, attempt integer NOT NULL DEFAULT 0,"
    " flags smallint NOT NULL, owner text, outcome smallint,"
    " spec text NOT NULL, PRIMARY KEY (job, idx));"
    "CREATE INDEX items_pending ON items (job, idx) WHERE state = 0;"
    "CREATE INDEX items_inflight ON items (owner) WHERE state = 1;"
    "CREATE TABLE results (job bigint NOT NULL, seq bigint NOT NULL,"
    " idx integer NOT NULL, attempt integer NOT NULL,"
    " outcome smallint NOT NULL, line text NOT NULL,"
    " PRIMARY KEY (job, seq));"
    "CREATE INDEX results_item ON results (job, idx, seq);"
    "CREATE TABLE body_meta (job bigint NOT NULL, idx integer NOT NULL,"
    " attempt integer NOT NULL, size bigint NOT NULL,"
    " err smallint NOT NULL, type text, coding text,"
    " PRIMARY KEY (job, idx, attempt));"
    "CREATE TABLE body_parts (job bigint NOT NULL, idx integer NOT NULL,"
    " attempt integer NOT NULL, part integer NOT NULL,"
    " data bytea NOT NULL, PRIMARY KEY (job, idx, attempt, part));"
    "CREATE TABLE trash (job bigint PRIMARY KEY);"
    "CREATE TABLE instances (id text PRIMARY KEY,"
    " seen timestamptz NOT NULL);";

static const char *const migrations[PG_SCHEMA_VERSION] = {schema_v1};

/* The server's notices (e.g. "relation ... already exists, skipping"
 * when instances set up the schema together): the log at debug level,
 * not libpq's bare line on stderr. */
static void
pg_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug(
	    "store: PostgreSQL: %.*s", (int)strcspn(message, "\n"), message);
}

enum store_err
pg_connect(struct pgtx *t)
{
	const char *keys[] = {
	    "connect_timeout", "application_name", "dbname", NULL};
	const char *vals[] = {"3", "fanoutd", t->be->conninfo, NULL};

	if (t->c != NULL && PQstatus(t->c) == CONNECTION_OK)
		return STORE_OK;
	if (t->c != NULL)
		PQfinish(t->c);
	/* dbname is expanded from the URI, whose keys override ours. */
	t->c = PQconnectdbParams(keys, vals, 1);
	if (t->c != NULL && PQstatus(t->c) == CONNECTION_OK) {
		PQsetNoticeProcessor(t->c, pg_notice, NULL);
		return STORE_OK;
	}
	snprintf(t->errmsg, t->errlen, "PostgreSQL unreachable: %.*s",
	    (int)strcspn(PQerrorMessage(t->c), "\n"), PQerrorMessage(t->c));
	return STORE_EIO;
}

enum store_err
pg_ping(struct pgtx *t)
{
	enum store_err err;
	PGresult *res;
	int try;

	for (try = 0; try < 2; try++) {
		if ((err = pg_connect(t)) != STORE_OK)
			return err;
		res = pg_q(t, "SELECT 1", 0, NULL, PGRES_TUPLES_OK, &err);
		PQclear(res);
		if (err == STORE_OK || PQstatus(t->c) == CONNECTION_OK)
			return err;
	}
	return err;
}

/* This instance's ID: DIR/instance, made once. */
static int
instance_id(struct pg_be *be, char *err, size_t errlen)
{
	struct store *st = be->st;
	int fd = openat(st->dirfd, "instance", O_RDONLY | O_CLOEXEC);
	ssize_t n = 0;

	if (fd >= 0) {
		n = read(fd, be->instance, STORE_ID_LEN);
		close(fd);
		be->instance[n > 0 ? n : 0] = '\0';
		if (store_id_valid(be->instance))
			return 0;
	}
	store_new_id(st, be->instance);
	fd = openat(st->dirfd, "instance.tmp",
	    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, be->instance, STORE_ID_LEN) != STORE_ID_LEN ||
	    fsync(fd) < 0 || close(fd) < 0 ||
	    renameat(st->dirfd, "instance.tmp", st->dirfd, "instance") < 0) {
		snprintf(
		    err, errlen, "%s/instance: %s", st->dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* Create or upgrade the schema, one instance at a time. */
static enum store_err
migrate(struct pgtx *t)
{
	enum store_err err;
	PGresult *res;
	int64_t v;

	res = pg_q(t, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")", 0, NULL,
	    PGRES_TUPLES_OK, &err);
	PQclear(res);
	if (err != STORE_OK)
		return err;
	err = pg_exec(t,
	    "CREATE TABLE IF NOT EXISTS schema_version "
	    "(version integer NOT NULL)");
	res = err != STORE_OK
	    ? NULL
	    : pg_q(t, "SELECT max(version) FROM schema_version", 0, NULL,
	          PGRES_TUPLES_OK, &err);
	v = res != NULL ? pg_int(res, 0, 0) : 0;
	PQclear(res);
	if (err == STORE_OK && v > PG_SCHEMA_VERSION) {
		snprintf(t->errmsg, t->errlen,
		    "the database's schema is version %" PRId64
		    ", newer than this fanoutd knows (%d)",
		    v, PG_SCHEMA_VERSION);
		err = STORE_EINTERNAL;
	}
	for (; err == STORE_OK && v < PG_SCHEMA_VERSION; v++) {
		char ins[80];

		snprintf(ins, sizeof(ins),
		    "INSERT INTO schema_version VALUES (%" PRId64 ")", v + 1);
		if ((err = pg_exec(t, "BEGIN")) == STORE_OK &&
		    (err = pg_exec(t, migrations[v])) == STORE_OK &&
		    (err = pg_exec(t, ins)) == STORE_OK)
			err = pg_exec(t, "COMMIT");
		if (err != STORE_OK)
			pg_exec(t, "ROLLBACK");
		else
			log_info(
			    "store: PostgreSQL schema version %" PRId64, v + 1);
	}
	{
		enum store_err e2;

		res = pg_q(t, "SELECT pg_advisory_unlock(" MIGRATE_LOCK ")", 0,
		    NULL, PGRES_TUPLES_OK, &e2);
		PQclear(res);
		return err != STORE_OK ? err : e2;
	}
}

/* Deleted jobs whose rows are not all gone yet: on with them. */
static enum store_err
resume_trash(struct pg_be *be)
{
	enum store_err err;
	PGresult *res = pg_q(
	    &be->tx, "SELECT job FROM trash", 0, NULL, PGRES_TUPLES_OK, &err);
	int i;

	for (i = 0; res != NULL && i < PQntuples(res); i++) {
		struct sreq *r = sreq_new(SR_TRASH_SLICE, 0);

		r->job_row = pg_int(res, i, 0);
		store_spawn(be->st, r);
	}
	PQclear(res);
	return err;
}

/* What opening takes once the server answers: the schema created or
 * migrated, this instance's leases of a previous life taken back, and
 * deleted jobs' slices resumed. Writer's connection; ready once done. */
static enum store_err
setup(struct pg_be *be)
{
	enum store_err e;

	pg_tx_reset(&be->tx);
	if ((e = pg_connect(&be->tx)) != STORE_OK ||
	    (e = migrate(&be->tx)) != STORE_OK ||
	    (e = pg_reclaim(&be->tx, be->instance)) != STORE_OK ||
	    (e = resume_trash(be)) != STORE_OK)
		return e;
	atomic_store(&be->ready, true);
	return STORE_OK;
}

/* The writer's ops->probe: the open finished, or the writer's
 * connection proved (SELECT 1, reconnecting once when it had dropped:
 * a restarted server). */
static enum store_err
pg_probe(void *p, bool degraded)
{
	struct pg_be *be = p;

	(void)degraded; /* a remote server: probed either way */
	if (!atomic_load(&be->ready))
		return setup(be);
	return pg_ping(&be->tx);
}

/* ops->conflict: did the writer's last transaction lose a deadlock or a
 * serialization failure (40P01, 40001)? Asked once per failure. */
static bool
pg_conflict(void *p)
{
	struct pg_be *be = p;
	bool c = be->tx.conflict;

	be->tx.conflict = false;
	return c;
}

static void
pg_close(void *p)
{
	struct pg_be *be = p;

	if (be->beating) {
		pthread_mutex_lock(&be->mu);
		be->stop = true;
		pthread_cond_signal(&be->cv);
		pthread_mutex_unlock(&be->mu);
		pthread_join(be->beat, NULL);
	}
	pthread_mutex_destroy(&be->mu);
	pthread_cond_destroy(&be->cv);
	pg_tx_reset(&be->tx);
	pg_tx_reset(&be->btx);
	free(be->tx.jobs);
	free(be->btx.jobs);
	free(be->recs);
	PQfinish(be->tx.c);
	PQfinish(be->rtx.c);
	PQfinish(be->btx.c);
	free(be->conninfo);
	free(be);
}

void *
store_pg_open(struct store *st, char *err, size_t errlen)
{
	struct pg_be *be = xcalloc(1, sizeof(*be));
	struct pgtx *tx[] = {&be->tx, &be->rtx, &be->btx};
	char *msg[] = {be->werr, be->rerr, be->berr};
	pthread_condattr_t a;
	enum store_err e;
	size_t i;

	be->st = st;
	be->conninfo = xstrdup(st->cfg.pg);
	for (i = 0; i < 3; i++) {
		tx[i]->be = be;
		tx[i]->errmsg = msg[i];
		tx[i]->errlen = sizeof(be->werr);
	}
	pthread_mutex_init(&be->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&be->cv, &a);
	pthread_condattr_destroy(&a);
	if (instance_id(be, err, errlen) < 0)
		goto fail;
	if ((e = setup(be)) == STORE_EINTERNAL) { /* e.g. a newer schema */
		snprintf(err, errlen, "%s", be->werr);
		goto fail;
	}
	if (e != STORE_OK) {
		log_warn("store: %s; trying again in the background", be->werr);
		st->opened = false; /* pg_probe finishes the open */
	}
	if (pthread_create(&be->beat, NULL, pg_beat_main, be) != 0) {
		snprintf(err, errlen, "pthread_create: %s", strerror(errno));
		goto fail;
	}
	be->beating = true;
	log_info("store: PostgreSQL, instance %s", be->instance);
	return be;
fail:
	pg_close(be);
	return NULL;
}

static const char *
pg_limits(void *p)
{
	(void)p;
	return NULL; /* max_store_bytes: the database's own business */
}

static const char *
pg_errmsg(void *p)
{
	return ((struct pg_be *)p)->werr;
}

static void
pg_checkpoint(void *p)
{
	(void)p; /* the server checkpoints itself */
}

const struct store_backend store_pg_backend = {
    pg_begin,
    pg_apply,
    pg_commit,
    pg_rollback,
    pg_limits,
    pg_read,
    pg_errmsg,
    pg_checkpoint,
    pg_probe,
    pg_conflict,
    pg_close,
    true,
};
