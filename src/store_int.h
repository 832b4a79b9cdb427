/*
 * store_int.h - the store's insides, shared by its files and by no one
 * else: the request that carries every operation from the loop thread to
 * a store thread and back, the queues between the threads, and the
 * backend table a database implements (store_sqlite.c now, PostgreSQL
 * later).
 *
 * Who owns what. The loop thread builds a request (store_req.c), pushes
 * it to one worker queue; from then on exactly one thread holds it at a
 * time: the writer (every change, in group-commit transactions), the
 * reader (get, list, results and body pages) or the files thread (body
 * files), each of which may pass it on to another queue; finally it
 * comes back on the completion queue, and the loop thread runs its
 * callback and frees it. The backend's connections belong to the thread
 * that uses them.
 */
#ifndef FANOUTD_STORE_INT_H
#define FANOUTD_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

struct event;

/* A FIFO of requests between threads. */
struct squeue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sreq *head, **tail;
	size_t depth;
	bool stop;     /* finish what is queued, then exit */
	size_t linger; /* > 0: the taker lingers; wake it for an urgent
	                * request or once this many are queued */
};

void squeue_init(struct squeue *q);
void squeue_destroy(struct squeue *q);
/* Appends r; false when the queue is stopped (r is not taken). */
bool squeue_push(struct squeue *q, struct sreq *r);
/* Everything queued, in order; waits for some unless !wait, or until
 * deadline_us (mono_us; 0: no deadline). *stop: the queue was stopped. */
struct sreq *squeue_take(
    struct squeue *q, bool wait, uint64_t deadline_us, bool *stop);
/* Waits until deadline_us, an urgent request (sreq_urgent), `enough`
 * requests queued or a stop, then takes everything queued. */
struct sreq *squeue_linger(
    struct squeue *q, size_t enough, uint64_t deadline_us, bool *stop);
/* Does r want the writer at once? Everything but a result record. */
bool sreq_urgent(const struct sreq *r);
void squeue_stop(struct squeue *q);
size_t squeue_depth(struct squeue *q);

enum sreq_op {
	/* writer */
	SR_CREATE,
	SR_LEASE,
	SR_RECORD,
	SR_RELEASE,
	SR_CANCEL,
	SR_RETRY,
	SR_DELETE,
	SR_SWEEP,
	SR_CANCEL_SLICE, /* internal: end pending items of a cancelled job */
	SR_TRASH_SLICE,  /* internal: remove rows of a deleted job */
	SR_TRASH_DONE,   /* internal: forget a deleted job */
	SR_LEASE_REDO,   /* internal: an early answered lease, again */
	/* reader */
	SR_GET,
	SR_LIST,
	SR_READ,
	SR_BODY_READ,
	/* files */
	SR_BODY_CHUNK,
	SR_BODY_ABORT,
	SR_RMDIR,  /* a deleted job's bodies */
	SR_UNLINK, /* a body whose record was refused */
	SR_ORPHANS,
	SR_CHECKPOINT, /* the WAL into the database, off the writer */
	/* loop */
	SR_HEALTH,
};

/* Where a request goes once its current thread is done with it. */
enum sreq_route { ROUTE_LOOP, ROUTE_WRITER, ROUTE_FILES };

/* A body file being written: the files thread's. */
struct sfile {
	int fd;        /* -1 until opened, or after an error */
	char *path;    /* relative to the store dir */
	uint64_t size; /* bytes written */
	enum store_err err;
	bool sealed; /* written whole and closed */
};

struct sreq {
	struct sreq *next;
	enum sreq_op op;
	enum sreq_route route; /* set by the thread that finished its part */
	bool again;            /* writer: run me again (a slice) */
	/* writer: not in this transaction (a backend's lock order): commit
	 * what is applied, then apply me first in the next */
	bool later;
	enum store_err err;
	char id[STORE_ID_LEN + 1];
	union {
		store_job_cb job;
		store_list_cb list;
		store_lease_cb lease;
		store_record_cb record;
		store_done_cb done;
		store_sweep_cb sweep;
		store_read_cb read;
		store_body_read_cb body;
	} cb;
	void *arg;
	struct store_body *sink; /* SR_BODY_CHUNK: its loop-side owner */

	/* Arguments. */
	uint32_t index, attempt, max;
	enum store_outcome outcome;
	struct store_job_spec spec;    /* SR_CREATE; strings in `data` */
	struct store_item_spec *items; /* SR_CREATE, in `data` */
	size_t nitems;
	store_item_fn item_fn; /* SR_CREATE from store_create_from */
	void *item_arg;
	struct store_list_query q; /* SR_LIST */
	struct store_cursor cur;   /* SR_READ */
	uint64_t offset;           /* SR_BODY_READ */
	int64_t job_row;           /* internal ops: the job's row */
	uint64_t lo, hi;           /* internal slices: progress, limit */
	uint64_t body_bytes;       /* SR_TRASH_DONE */
	const char *line;          /* SR_RECORD, in `data` */
	size_t line_len;
	const void *chunk; /* SR_BODY_CHUNK, SR_RECORD inline body */
	size_t chunk_len;
	struct sfile *file; /* SR_BODY_*, SR_RECORD with a file body */
	bool owns_file;     /* frees `file` with the request */
	bool has_body;      /* SR_RECORD: a body goes with the result */
	char *body_type;    /* SR_RECORD: its Content-Type (owned), or NULL; */
	char *body_coding; /* its codings (owned); both SR_BODY_READ's answer */
	enum store_err body_err; /* SR_RECORD: the body file failed */
	/* SR_RECORD: its body is in the database now (PostgreSQL): the
	 * files thread removes the file, and the job's directory once it is
	 * empty (that thread alone makes them: no race). */
	bool drop_file;

	/* Answers, filled by the worker. */
	struct store_job job;
	struct store_job *jobs; /* SR_LIST, in `out` */
	size_t njobs;
	bool more;
	uint64_t seq, count;
	struct store_leased *leased; /* in `out` */
	struct store_page page;
	const char *why; /* SR_HEALTH */
	bool healthy;

	void *data; /* the arguments' copied bytes */
	void *blob; /* an inline body (SR_RECORD) or a page (SR_BODY_READ) */
	void *out;  /* the answer's bytes */
};

struct sreq *sreq_new(enum sreq_op op, size_t extra);
void sreq_free(struct sreq *r);
/* Sets job.name / job.options to copies living in r->out. */
void sreq_set_job_strings(struct sreq *r, const char *name, size_t name_len,
    const char *options, size_t options_len);

/*
 * A backend: the database side of every operation, run on store
 * threads. The writer calls begin, then apply for each request of a
 * group, then commit; a non-zero answer from any of them (EFULL, EIO,
 * EINTERNAL) means the transaction failed, and the writer calls rollback.
 * apply puts a logical error (ENOENT, ESTATE, ...) in r->err and returns
 * 0: such a request changed nothing.
 */
struct store_backend {
	enum store_err (*begin)(void *be);
	enum store_err (*apply)(void *be, struct sreq *r);
	enum store_err (*commit)(void *be);
	void (*rollback)(void *be);
	/* After a commit: NULL when within the limits, else why not. */
	const char *(*limits)(void *be);
	/* The reader's side: get, list, read, body read. */
	void (*read)(void *be, struct sreq *r);
	/* Text of the last error, for the health message. */
	const char *(*errmsg)(void *be);
	/* The files thread: copy the log into the database (SQLite's WAL
	 * checkpoint), so that the writer never waits for it. */
	void (*checkpoint)(void *be);
	/*
	 * The writer, between transactions, every cfg.retry_ms while the
	 * store is degraded or idle: does the database take writes? It
	 * finishes an open left undone (store->opened false: connect,
	 * schema, recovery), else proves the database is back (PostgreSQL:
	 * reconnect if need be and SELECT 1; SQLite, when `degraded`: a
	 * small synced write, so that space is known to be back; when
	 * healthy nothing, its files being local). STORE_OK clears the
	 * degraded state (limits permitting); else the error, errmsg set.
	 */
	enum store_err (*probe)(void *be, bool degraded);
	/* After a failed transaction: did it lose to another writer (a
	 * deadlock, a serialization failure), so that the same requests
	 * applied again at once may pass? Only for a backend that answers
	 * nothing before its commit (lease_after_commit). NULL: never. */
	bool (*conflict)(void *be);
	void (*close)(void *be);
	/* Leases are answered only once committed (no early answer): a
	 * backend whose leases are not ranges a twin could redo. */
	bool lease_after_commit;
};

struct store {
	struct store_config cfg;
	char *dir;
	int dirfd;  /* dir, for the files thread's *at() calls */
	int lockfd; /* DIR/lock, flock'd while open */
	struct event_base *base;
	const struct store_backend *ops;
	void *be;

	struct squeue wq, rq, fq, done;
	int efd;          /* eventfd: done is not empty */
	struct event *ev; /* on efd */
	pthread_t writer, reader, files;
	int threads; /* how many started */
	atomic_bool closing;
	atomic_bool abandon;
	atomic_bool ckpt_queued; /* an SR_CHECKPOINT is on its way */

	/* Requests the writer made during a transaction: queued at commit. */
	struct sreq *spawned;

	/* Health, the writer's. */
	bool degraded;
	char why[256];
	/* The backend is set up. False when PostgreSQL was unreachable at
	 * store_open: the store runs degraded and the writer's probe
	 * finishes the open once it can. The writer's once threads run. */
	bool opened;

	/* Stats: written by store threads, read by store_stats. */
	atomic_uint_least64_t jobs[STORE_JOB__COUNT];
	atomic_uint_least64_t items_pending;
	atomic_uint_least64_t records, commits, commit_errors, commit_us_sum;
	atomic_uint_least64_t commit_hist[STORE_HIST_BUCKETS + 1];
	atomic_uint_least64_t used_bytes;
	atomic_bool is_degraded;
	/* Live instances sharing the store (store_instances). */
	atomic_uint instances;
};

/* The SQLite backend: opens the database, recovers from a crash,
 * queues the follow-up work recovery found (store_spawn). */
void *store_sqlite_open(struct store *st, char *err, size_t errlen);
extern const struct store_backend store_sqlite_backend;
/* The PostgreSQL backend (store_pg*.c), when cfg.pg is set: connects,
 * creates or migrates the schema, recovers this instance's leases. */
void *store_pg_open(struct store *st, char *err, size_t errlen);
extern const struct store_backend store_pg_backend;

/* The health the loop sees (on_health): writer thread, or store_open
 * before the threads start. Logged and delivered on a change only. */
void store_set_health(struct store *st, bool ok, const char *why);
/* Writer thread: queue r once the running transaction commits. */
void store_spawn(struct store *st, struct sreq *r);
/* Writer thread: the log has grown; checkpoint it on the files thread
 * (once: no-op while one is queued). */
void store_checkpoint_soon(struct store *st);
/* Any store thread: send r on to its route. */
void store_route(struct store *st, struct sreq *r);
/* store_thread.c: the three workers and the completion queue. */
int store_threads_start(struct store *st, char *err, size_t errlen);
void store_threads_stop(struct store *st);
void store_deliver(struct store *st, struct sreq *r);
/* store_body.c: the files thread's part of a request; the loop's part
 * of a chunk's completion; freeing a file. */
void store_files_run(struct store *st, struct sreq *r);
void store_body_chunk_done(struct sreq *r);
void sfile_free(struct sfile *f);
/* store_body.c: hand a sink over to its record request (loop thread);
 * false when the sink is not for r's job, index and attempt. */
bool store_body_take(struct store_body *b, struct sreq *r);
/* Every backend's one change of a job's state, with the times it sets:
 * started on the first run, finished and expires (finished + ttl_s) once
 * done or cancelled, both cleared when queued again. */
void store_job_set_state(
    struct store_job *j, enum store_job_state to, int64_t now_ms);
/* The wall clock, from cfg or CLOCK_REALTIME. */
int64_t store_now_ms(const struct store *st);

#endif
