/*
 * store_pg.h - private to the PostgreSQL backend of the job store
 * (store_pg_open.c: connections, schema, open and probe; store_pg.c:
 * queries, the reader, the heartbeat and lease expiry; store_pg_write.c:
 * the writer; store_pg_rows.c: job rows, result batches, bodies and
 * lease expiry, shared by both).
 *
 * libpq is used in blocking mode on the store's own threads, each with
 * its own connection: the writer's (group commit, as with SQLite), the
 * reader's, and a heartbeat thread's. The loop thread never waits on the
 * database; the store-thread design was there already.
 *
 * Several instances share one database. An instance has an ID, kept in
 * [jobs] dir/instance so that a restarted instance recovers its own
 * items at once, as SQLite's crash recovery does. A leased item carries
 * its owner's ID; every instance heartbeats into `instances`, and the
 * items of an instance silent for PG_LEASE_S go back to pending (unsafe
 * ones end `interrupted`), done by whoever leases them next. A job row
 * is locked (SELECT ... FOR UPDATE) by the transaction that changes it,
 * so its counts and last_seq are exact across instances; a group locks
 * its jobs in key order only (struct pgtx), so groups never deadlock.
 */
#ifndef FANOUTD_STORE_PG_H
#define FANOUTD_STORE_PG_H

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>

#include <libpq-fe.h>

#include "buf.h"
#include "store_int.h"

#define PG_SCHEMA_VERSION 1
#define PG_LEASE_S        10        /* an instance silent this long is dead */
#define PG_BEAT_MS        2000      /* heartbeat and lease expiry period */
#define PG_PART_BYTES     (1 << 20) /* a body's rows in body_parts */

/* PG_LEASE_S in SQL: an instance heard from since this is alive. */
#define PG_ALIVE_SINCE "now() - interval '10 seconds'"

/* Decimal text of v in buf (a char array), for a text parameter. */
#define I64(buf, v) (snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)(v)), buf)

/* A job row locked by the running transaction, with its changes. */
struct pjob {
	int64_t row;
	struct store_job job;
	char *name, *options;
	bool dirty;
	bool gone; /* deleted in this transaction */
};

/* A transaction on one connection, and the job rows it has locked. */
struct pgtx {
	struct pg_be *be;
	PGconn *c;
	struct pjob *jobs;
	size_t njobs, cap;
	bool moved;   /* a job changed state (or came or went) */
	char *errmsg; /* this connection's last error */
	size_t errlen;
	/* A group transaction (the writer's) locks job rows in key order
	 * only: a job whose key is below `top` (the highest locked so far)
	 * is not locked but sets `later` (its request goes first in the
	 * next transaction), so two instances' groups never wait on each
	 * other in a cycle. `unordered`: rows SKIP LOCKED locked already. */
	bool ordered, later, unordered;
	char top[STORE_ID_LEN + 1];
	/* The last error was a deadlock or a serialization failure (40P01,
	 * 40001): the same transaction again may well succeed. */
	bool conflict;
};

/* One result line to store (pg_results). */
struct pres {
	uint32_t index, attempt;
	enum store_outcome outcome;
	const char *line;
	size_t len;
	uint64_t seq;         /* out: its seq, 0 when refused */
	const struct sreq *r; /* a record request (for its body), or NULL */
};

struct pg_be {
	struct store *st;
	char *conninfo;
	char instance[STORE_ID_LEN + 1];
	struct pgtx tx, rtx, btx; /* writer, reader, heartbeat */
	struct sreq **recs;       /* records of the running transaction */
	size_t nrecs, rcap;
	/* Set up (schema, recovery): until then every request fails and
	 * the writer's probe tries again (store_pg_open.c). */
	atomic_bool ready;
	pthread_t beat;
	bool beating;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	char werr[256], rerr[256], berr[256];
	/* Heartbeat thread: beating without a miss since (mono_us), 0 when
	 * the last beat failed. */
	uint64_t beat_since_us;
};

/* Connect (or reconnect) t's connection; EIO with a message when the
 * server cannot be reached. */
enum store_err pg_connect(struct pgtx *t);
/* Connect if need be and SELECT 1, on a new connection once should the
 * old one have dropped: is the server there? */
enum store_err pg_ping(struct pgtx *t);
/* store_pg.c: the backend's reads (reader thread). */
void pg_read(void *p, struct sreq *r);
/* The heartbeat thread (store_pg.c). */
void *pg_beat_main(void *arg);
/* Run sql with text parameters; NULL (and *err) unless the result has
 * status want. The caller PQclear()s a non-NULL result. */
PGresult *pg_q(struct pgtx *t, const char *sql, int n,
    const char *const *params, ExecStatusType want, enum store_err *err);
/* Run sql (no parameters, no rows). */
enum store_err pg_exec(struct pgtx *t, const char *sql);
/* Forget the locked jobs (after COMMIT or ROLLBACK). */
void pg_tx_reset(struct pgtx *t);
/* Job id, locked for this transaction: *out NULL when there is none,
 * or when its lock would come out of key order (t->later set). */
enum store_err pjob_get(struct pgtx *t, const char *id, struct pjob **out);
/* Add a job row just inserted to the transaction's jobs. */
struct pjob *pjob_add(struct pgtx *t, int64_t row, const struct store_job *j);
void pjob_move(struct pgtx *t, struct pjob *j, enum store_job_event ev);
void pjob_count(struct pgtx *t, struct pjob *j, int64_t pending,
    int64_t inflight, int64_t ok, int64_t failed);
/* r's answer: j as it will be committed. */
void pjob_answer(struct sreq *r, const struct pjob *j, bool existing);
/* Write back every changed job row. */
enum store_err pg_flush_jobs(struct pgtx *t);
/* n results for job j, items moving from state `from` (owned by owner
 * unless NULL) to done, in one statement; each gets the job's next seq
 * (v[i].seq), or 0 when the item was not in that state. */
enum store_err pg_results(struct pgtx *t, struct pjob *j,
    enum store_item_state from, const char *owner, struct pres *v, size_t n);
/* Items in flight of owner (NULL: of every instance silent for
 * PG_LEASE_S) back to pending, unsafe ones ended `interrupted`; one
 * transaction per job. */
enum store_err pg_reclaim(struct pgtx *t, const char *owner);
/* Refresh the stats' jobs by state and items pending (a query). */
void pg_stats(struct pgtx *t);
/* A line the store writes itself. */
char *pg_synth(struct pg_be *be, const struct store_synth *s);
int64_t pg_int(const PGresult *res, int row, int col);

/* store_pg_write.c: the backend's writer functions. */
enum store_err pg_begin(void *p);
enum store_err pg_apply(void *p, struct sreq *r);
enum store_err pg_commit(void *p);
void pg_rollback(void *p);

#endif
