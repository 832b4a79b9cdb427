/*
 * store_sqlite.h - private to the SQLite backend (store_sqlite.c: open,
 * schema, recovery, the reader; store_sqlite_write.c: the writer).
 *
 * Row keys. A job's row id is an AUTOINCREMENT integer (never reused);
 * an item's row id is job << 32 | index and a result's is job << 32 |
 * seq, so a job's items and its lines in seq order are each one range
 * of a table's own b-tree: leasing, reading a cursor and deleting are
 * range scans with no secondary index. The limits this sets: 2^31 jobs
 * over the store's life, 2^32 - 1 lines per job.
 */
#ifndef FANOUTD_STORE_SQLITE_H
#define FANOUTD_STORE_SQLITE_H

#include <sqlite3.h>

#include "htab.h"
#include "store_int.h"

/* The schema's version (PRAGMA user_version), and the same as SQL text
 * (keep the two in step: the writer's probe rewrites user_version). */
#define SCHEMA_VERSION     3
#define SCHEMA_VERSION_SQL "3"

#define ROW_KEY(job, n) (((int64_t)(job) << 32) | (int64_t)(n))
#define ROW_JOB_MAX     ((int64_t)1 << 31)
#define SEQ_MAX         UINT32_MAX

/* Items a job's creation inserts per statement (W_ITEM_INSERT_MANY):
 * one statement per item cost about as much again in SQLite's per-step
 * overhead as the rows themselves. */
#define ITEM_INSERT_ROWS 64

/* Writer statements. */
enum wstmt {
	W_BEGIN,
	W_COMMIT,
	W_ROLLBACK,
	W_JOB_BY_KEY,
	W_JOB_BY_IDEM,
	W_JOB_STRINGS,
	W_JOB_INSERT,
	W_JOB_UPDATE,
	W_JOB_DELETE,
	W_ITEM_INSERT,
	W_ITEM_INSERT_MANY, /* ITEM_INSERT_ROWS rows at once (built) */
	W_PENDING,
	W_LEASE_RANGE,
	W_ITEM_STATE,
	W_ITEM_DONE,
	W_RESULT_INSERT,
	W_RETRY,
	W_EXPIRED,
	W_TRASH_INSERT,
	W_TRASH_ITEMS,
	W_TRASH_RESULTS,
	W_TRASH_FORGET,
	W_INFLIGHT,
	W_PAGE_COUNT,
	W_FREELIST,
	W_PROBE, /* a one-page write: user_version rewritten as it is */
	W__COUNT
};

/* Reader statements. */
enum rstmt {
	R_BEGIN,
	R_END,
	R_JOB,
	R_ROW_OF,
	R_LIST,
	R_LIST_NEWEST,
	R_LINES,
	R_FAILED,
	R_LATEST,
	R_LATEST_FAILED,
	R_ITEM,
	R_BODY,
	R__COUNT
};

/* The writer's copy of a job row: changed in memory during a
 * transaction, written back once before COMMIT. */
struct wjob {
	int64_t row;
	struct store_job job; /* name and options stay in the row */
	uint64_t body_bytes;  /* of its body files */
	/* No item below this index is pending: where a lease starts its
	 * scan of the job's rows (0 when the row is loaded). */
	uint32_t pending_from;
	bool dirty;
	bool gone; /* moved to the trash in this transaction */
	struct wjob *next_dirty;
};

/* Totals over all jobs, as the stats and the limits see them. */
struct totals {
	uint64_t jobs[STORE_JOB__COUNT];
	uint64_t pending;
	uint64_t body_bytes;
};

struct sqlite_be {
	struct store *st;
	sqlite3 *w, *r;
	sqlite3 *c; /* the files thread's: WAL checkpoints (NULL in memory) */
	sqlite3_stmt *ws[W__COUNT], *rs[R__COUNT];
	struct htab jobs;    /* writer: id -> struct wjob */
	struct wjob *dirty;  /* changed in this transaction */
	struct totals live;  /* as of now, in the transaction */
	struct totals saved; /* as of the last commit */
	int64_t page_size;
	bool over;                  /* above max_store_bytes */
	bool sync_wanted;           /* this transaction must be on disk */
	bool sync_failed;           /* the last fsync of the WAL failed */
	atomic_bool ckpt_caught_up; /* the files thread's checkpoint ended */
	char over_why[160];
	char errmsg[256]; /* the writer's last SQLite error */
};

/* SQLite's result code -> the store's error; keeps the message. */
enum store_err sqlite_err(struct sqlite_be *be, sqlite3 *db, int rc);
/* Step a writer statement that returns no row, then reset it. */
int sqlite_exec_step(sqlite3_stmt *s);

/* The columns of a job row that sqlite_job_from_row reads, first in
 * every SELECT of jobs. */
#define JOB_COLS                                                           \
	"id, key, state, total, pending, inflight, ok, failed, last_seq, " \
	"created_ms, started_ms, finished_ms, expires_ms, ttl_s"
void sqlite_job_from_row(sqlite3_stmt *s, struct store_job *j, int64_t *row);

/* The files thread: a passive checkpoint of the WAL (see
 * store_sqlite_open.c). */
void sqlite_checkpoint(void *p);

/* The reader's statements (store_sqlite.c). */
extern const char *const sqlite_rsql[R__COUNT];

/* store_sqlite_txn.c: the writer's statements and transactions. */
int sqlite_prepare_writer(struct sqlite_be *be);
void sqlite_writer_free(struct sqlite_be *be);
enum store_err sqlite_begin(void *p);
enum store_err sqlite_commit(void *p);
void sqlite_rollback(void *p);
const char *sqlite_limits(void *p);
/* ops->probe: while degraded, a small write, synced. */
enum store_err sqlite_probe(void *p, bool degraded);
/* Step writer statement w to its end and reset it. */
enum store_err wrun(struct sqlite_be *be, enum wstmt w);
/* The cached row of job id; *out NULL when there is no such job. */
enum store_err wjob_get(
    struct sqlite_be *be, const char *id, struct wjob **out);
/* j changed: written back before COMMIT. */
void wjob_dirty(struct sqlite_be *be, struct wjob *j);
/* The job state machine: every change of a job's state passes here. */
void wjob_move(struct sqlite_be *be, struct wjob *j, enum store_job_event ev);
/* Adjust j's counts and the totals; a job with nothing pending or in
 * flight is drained (done). */
void wjob_count(struct sqlite_be *be, struct wjob *j, int64_t pending,
    int64_t inflight, int64_t ok, int64_t failed);
/* r's answer: j as it will be committed, with its name and options;
 * existing: an idempotent create found it. */
enum store_err wjob_answer(
    struct sqlite_be *be, struct sreq *r, const struct wjob *j, bool existing);

/* store_sqlite_write.c: the changes, one request at a time. */
enum store_err sqlite_apply(void *p, struct sreq *r);
/* Recovery at open, inside a transaction: see store_open. */
enum store_err sqlite_recover(struct sqlite_be *be);

#endif
