/*
 * store.h - the job store of issue #16: durable jobs, their items and
 * their result lines, behind one backend-neutral interface (SQLite now,
 * PostgreSQL later). No SQL and no file layout leaks through here.
 *
 * Threads. Every function here is called on the loop thread: the one
 * running the event_base given to store_open. None of them waits on the
 * disk: each request is queued to the store's own threads and its
 * callback runs later on the loop thread, exactly once, after the work
 * is done (for a write: committed). A request function returns STORE_OK
 * when the request was queued; any other value says why the store
 * refused it at once (STORE_EINVAL: a bad argument such as an invalid
 * id; STORE_ECLOSED: closing), and then the callback is never called.
 * Callbacks may issue new requests. What a callback receives (jobs, pages,
 * lines) is the store's and is valid only during the callback: copy what you
 * keep. The pure helpers (names, state steps, store_id_valid) may be called
 * from any thread.
 *
 * Durability. A callback reporting STORE_OK for a write means the write
 * is committed: it survives kill -9 of the process at any later instant,
 * and with `durable` (the default) a power loss too. Results get their
 * `seq` at commit, strictly increasing per job with no gaps; a reader
 * only ever sees committed lines, so a line once read never changes or
 * disappears (until the job is deleted).
 *
 * Failures. Disk full and I/O errors never crash the store and never
 * lose what is committed. A create, lease, cancel, retry, release or
 * delete that could not be committed fails with STORE_EFULL / STORE_EIO
 * at once. A result record is never dropped: it stays queued and is
 * retried every `retry_ms` until it commits (or the store closes), and
 * meanwhile the store reports itself degraded through `on_health`.
 * Health follows reachability: while degraded, or idle, the store
 * probes its database every `retry_ms` and turns healthy again once it
 * takes writes, with no other write needed.
 *
 * Items. The engine hands over each item's request spec as JSON text and
 * gets it back when it leases the item; the store never interprets a
 * spec, except to name the item (`id`, `url`) in the lines it writes
 * itself through `line` (interrupted, cancelled).
 */
#ifndef FANOUTD_STORE_H
#define FANOUTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpus.h"

struct event_base;
struct store;
struct store_body;

/* A job ID: 128 random bits as 32 lower-case hex digits. */
#define STORE_ID_LEN 32
/* Bodies up to this size are kept in the database with their result;
 * larger ones stream to a file as they arrive. */
#define STORE_BODY_INLINE (64 * 1024)
/* The most lines one store_read page returns. */
#define STORE_PAGE_MAX 10000

enum store_err {
	STORE_OK = 0,
	STORE_EINVAL,    /* a bad argument (id, key, name, item count) */
	STORE_ENOENT,    /* no such job, item or body */
	STORE_ESTATE,    /* not allowed in the job's or item's state */
	STORE_ELIMIT,    /* max_active or max_items reached */
	STORE_EFULL,     /* disk full, or max_store_bytes reached */
	STORE_EIO,       /* the store could not write or read its files */
	STORE_ECLOSED,   /* the store closed before the request ran */
	STORE_EINTERNAL, /* a corrupt database or a bug: logged */
	STORE_ERR__COUNT
};

/* "not_found", ...: a stable name for logs, metrics and JSON errors. */
const char *store_err_name(enum store_err e);
/* One human sentence. */
const char *store_err_message(enum store_err e);

/*
 * Job states. queued: created, nothing leased yet; running: leased from;
 * done: every item has its result; cancelled: cancelled by the caller
 * (its pending items end with `cancelled` lines). A retry of failed
 * items makes a done or cancelled job queued again.
 */
enum store_job_state {
	STORE_JOB_QUEUED = 0,
	STORE_JOB_RUNNING,
	STORE_JOB_DONE,
	STORE_JOB_CANCELLED,
	STORE_JOB__COUNT
};

enum store_job_event {
	STORE_JOB_EV_LEASE,   /* items were leased */
	STORE_JOB_EV_DRAINED, /* no item is pending or in flight */
	STORE_JOB_EV_CANCEL,
	STORE_JOB_EV_RETRY, /* failed items were queued again */
};

/* The one transition function of a job: the next state, or -1 when ev
 * is not allowed in s. */
int store_job_step(enum store_job_state s, enum store_job_event ev);
const char *store_job_state_name(enum store_job_state s);
/* "queued" -> STORE_JOB_QUEUED, ...; -1 when unknown. */
int store_job_state_parse(const char *name);

/* Item states. An item is leased (in flight) from the moment the store
 * hands it to the engine until its result commits or it is released. */
enum store_item_state {
	STORE_ITEM_PENDING = 0,
	STORE_ITEM_INFLIGHT,
	STORE_ITEM_DONE,
	STORE_ITEM__COUNT
};

enum store_item_event {
	STORE_ITEM_EV_LEASE,     /* pending -> in flight */
	STORE_ITEM_EV_RESULT,    /* in flight -> done */
	STORE_ITEM_EV_RELEASE,   /* in flight -> pending (drain, crash) */
	STORE_ITEM_EV_INTERRUPT, /* in flight -> done, `interrupted` */
	STORE_ITEM_EV_CANCEL,    /* pending -> done, `cancelled` */
	STORE_ITEM_EV_RETRY,     /* done (not ok) -> pending, attempt + 1 */
};

/* The one transition function of an item: the next state, or -1. */
int store_item_step(enum store_item_state s, enum store_item_event ev);
const char *store_item_state_name(enum store_item_state s);

/* How an item's result ended; every outcome but OK counts as failed. */
enum store_outcome {
	STORE_OUT_OK = 0,      /* the line's "ok" is true */
	STORE_OUT_FAILED,      /* an error or an HTTP status >= 400 */
	STORE_OUT_INTERRUPTED, /* unsafe, in flight at a crash: not resent */
	STORE_OUT_CANCELLED,   /* the job was cancelled first */
	STORE_OUT__COUNT
};

const char *store_outcome_name(enum store_outcome o);

/* Item flags, given at creation. */
#define STORE_ITEM_UNSAFE       0x1u /* not idempotent (POST, PATCH) */
#define STORE_ITEM_RETRY_UNSAFE 0x2u /* the item says retry_unsafe */

/* An item the store ends by itself, for the line it must write. */
struct store_synth {
	uint32_t index;
	uint32_t attempt;
	enum store_outcome outcome; /* INTERRUPTED or CANCELLED */
	const char *spec;           /* the item's spec, as created */
	size_t spec_len;
};

/*
 * Renders the result line for an item the store ends itself. Runs on a
 * store thread (or inside store_open): it may touch nothing but its
 * argument. Returns a malloc'd JSON object text without `seq` and
 * without a newline, or NULL to fall back to store_line_default.
 */
typedef char *(*store_line_fn)(const struct store_synth *s);
/* {"index":N[,"id":...][,"url":...],"ok":false,"error":{"type":
 * "interrupted"|"cancelled","message":"..."}}, with id and url taken
 * from the spec (an object, or a string URL). Never NULL. */
char *store_line_default(const struct store_synth *s);

/* Called on the loop thread when the store turns degraded (ok false;
 * why says what failed, e.g. "disk full") or healthy again. */
typedef void (*store_health_cb)(bool ok, const char *why, void *arg);

struct store_config {
	const char *dir; /* holds jobs.db and bodies/; made if missing */
	/* NULL: SQLite in dir. Else a libpq conninfo (postgresql://...):
	 * the store is in PostgreSQL, shared by every instance pointed at
	 * it (dir still holds this instance's ID and bodies in transit). */
	const char *pg;
	bool memory;         /* tests: the database in memory (bodies in dir) */
	bool durable;        /* fsync each commit and body (default true) */
	uint32_t max_active; /* queued + running jobs (0: no limit) */
	uint32_t max_items;  /* items per job (0: no limit) */
	uint64_t max_store_bytes; /* database + bodies (0: no limit) */
	uint64_t max_body_bytes;  /* one stored body (0: 1 GiB) */
	uint32_t ttl_s;           /* a job's default ttl (0: 7 days) */
	uint32_t commit_max;      /* records per transaction (0: 8192) */
	uint32_t commit_ms;       /* longest open transaction (0: 10) */
	/* A transaction holding only results (nothing a caller waits on)
	 * waits this long for more before it commits (0: 5). */
	uint32_t linger_ms;
	uint32_t retry_ms;  /* after a failed write (0: 1000) */
	struct cpus cpus;   /* the threads' CPUs (off: any) */
	store_line_fn line; /* NULL: store_line_default */
	store_health_cb on_health;
	void *health_arg;
	/* Tests: the SQLite VFS to use (NULL: the default one). */
	const char *vfs;
	/* Tests: wall-clock milliseconds since the epoch, and 128 random
	 * bits. Called on store threads: must be thread-safe. NULL:
	 * CLOCK_REALTIME and getrandom(2). */
	int64_t (*now_ms)(void);
	void (*random)(void *p, size_t n);
	/* Tests: write(2) of body files, on the files thread. */
	long (*write)(int fd, const void *p, size_t n);
};

/* Zeroes cfg, then sets `durable`; every 0 means the default named
 * above. */
void store_config_defaults(struct store_config *cfg);

/*
 * Opens (creating if need be) the store in cfg->dir, recovers from a
 * crash, and starts the store's threads; completions are delivered on
 * base. Recovery: items left in flight go back to pending, except
 * unsafe ones (STORE_ITEM_UNSAFE without STORE_ITEM_RETRY_UNSAFE) that
 * may have been sent: those end `interrupted`, with a line from
 * cfg->line. Runs on the calling thread and touches the disk: call it
 * before the loop serves. NULL on failure, with a message in err. A
 * PostgreSQL store whose server cannot be reached opens degraded
 * ("cannot open the job store: ...": every request fails with EIO) and
 * finishes opening in the background once it can.
 */
struct store *store_open(const struct store_config *cfg,
    struct event_base *base, char *err, size_t errlen);
/*
 * Refuses new requests, finishes every queued one (committing queued
 * results; ones that still cannot be written fail with their error),
 * delivers their callbacks, stops the threads and frees the store. Items
 * still in flight stay so in the database: the next store_open treats
 * them as a crash would. Every body sink must be recorded or aborted
 * first. Not from inside a store callback.
 */
void store_close(struct store *st);
/* Stops the threads without finishing anything and closes the database
 * without a checkpoint: what a crash leaves. Tests only. */
void store_abandon(struct store *st);

/* 32 lower-case hex digits? */
bool store_id_valid(const char *id);

struct store_counts {
	uint64_t total, pending, inflight, ok, failed;
};

/* A job as committed. Times are wall-clock ms since the epoch, 0 when
 * not yet; expires is set once the job is done or cancelled. */
struct store_job {
	char id[STORE_ID_LEN + 1];
	enum store_job_state state;
	struct store_counts n;
	uint64_t last_seq; /* the seq of its newest result, 0 for none */
	int64_t created_ms, started_ms, finished_ms, expires_ms;
	uint32_t ttl_s;
	const char *name;    /* NULL when none */
	const char *options; /* the effective options, a JSON object */
	bool existing;       /* store_create: the idempotency key was known */
};

typedef void (*store_job_cb)(
    enum store_err err, const struct store_job *job, void *arg);

struct store_item_spec {
	uint32_t index;   /* the item's position in the request */
	const char *spec; /* its request, JSON text */
	size_t spec_len;
	unsigned flags; /* STORE_ITEM_UNSAFE | STORE_ITEM_RETRY_UNSAFE */
};

struct store_job_spec {
	const char *options; /* JSON object text (NULL: "{}") */
	const char *name;    /* NULL, or up to 200 bytes */
	const char *idem;    /* NULL, or an idempotency key, 1-255 bytes */
	uint32_t ttl_s;      /* 0: the store's default */
	/* An early start (a store of its own only, not shared; no idem):
	 * the job's ID, chosen by the caller (store_new_id), and the number
	 * of its first items created in flight (leased, attempt 0), so that
	 * a runner may send them while the rest are stored. NULL and 0:
	 * the store picks the ID and every item is pending. */
	const char *id;
	uint32_t leased;
};

/* A new job ID (also for store_job_spec.id): 128 random bits from
 * cfg.random or getrandom(2). Any thread (cfg.random must allow it). */
void store_new_id(const struct store *st, char id[STORE_ID_LEN + 1]);

/*
 * Creates a job of n items (indexes 0..n-1, each once) and answers once
 * it is durably stored. With an idempotency key already known, answers
 * the existing job with job->existing set instead (the spec is not
 * compared). The specs are copied: the caller may free them on return.
 * Refused at once: EINVAL (an index missing or twice, a name or key too
 * long; an ID that is not one, leased > n, or either with a key or a
 * shared store), ELIMIT (n > max_items). Answered: ELIMIT (max_active jobs are
 * queued or running), EFULL, EIO.
 */
enum store_err store_create(struct store *st, const struct store_job_spec *spec,
    const struct store_item_spec *items, size_t n, store_job_cb cb, void *arg);
/*
 * Item i of a store_create_from, made on demand: called on the writer
 * thread for i = 0, 1, ..., n-1 in order, at most once each, while the
 * job is being stored; fills *out (out->index is i; out->spec must stay
 * valid until the next call). It may touch nothing the loop thread
 * changes meanwhile.
 */
typedef void (*store_item_fn)(
    void *arg, uint32_t i, struct store_item_spec *out);
/*
 * store_create with the items made by fn (fn_arg must live until cb)
 * instead of copied up front: the memory a job's creation takes does not
 * grow with its number of items. Answers as store_create does.
 */
enum store_err store_create_from(struct store *st,
    const struct store_job_spec *spec, size_t n, store_item_fn fn, void *fn_arg,
    store_job_cb cb, void *arg);
/* The job as last committed. ENOENT when unknown. */
enum store_err store_get(
    struct store *st, const char *id, store_job_cb cb, void *arg);

struct store_list_query {
	unsigned states;   /* 1u << state for each wanted state; 0: all */
	uint32_t limit;    /* 1..1000 (0: 100) */
	const char *after; /* NULL, or the id the last page ended with */
	bool newest_first; /* the newest job first (else the oldest) */
};

/* jobs in creation order (or its reverse); more: further jobs match. */
typedef void (*store_list_cb)(enum store_err err, const struct store_job *jobs,
    size_t n, bool more, void *arg);
/* ENOENT when `after` names no job. */
enum store_err store_list(struct store *st, const struct store_list_query *q,
    store_list_cb cb, void *arg);

struct store_leased {
	uint32_t index;
	uint32_t attempt; /* 0, then + 1 for each retry of the job */
	unsigned flags;
	const char *spec;
	size_t spec_len;
};

typedef void (*store_lease_cb)(
    enum store_err err, const struct store_leased *items, size_t n, void *arg);
/*
 * Leases up to max (1..10000) pending items of a queued or running job,
 * lowest index first, and marks them in flight. A lease holding an
 * unsafe item is committed before the callback (such an item counts as
 * sent if the daemon dies: lease only what you will dispatch at once);
 * one of safe items only is answered as soon as it is applied, without
 * waiting for its commit: lost in a crash, its items are pending again,
 * as recovery makes any safe item in flight, and a commit that fails is
 * redone before the results that follow it. n may be 0: nothing pending
 * now. ESTATE for a done or cancelled job; EFULL while the store is over
 * max_store_bytes or the disk is full (running jobs pause).
 */
enum store_err store_lease(struct store *st, const char *id, uint32_t max,
    store_lease_cb cb, void *arg);

struct store_result {
	const char *job;
	uint32_t index;
	uint32_t attempt; /* as leased */
	enum store_outcome outcome;
	const char *line; /* one JSON object, no `seq`, no newline */
	size_t line_len;
	/* NULL, or this item's body sink: the store takes it over. */
	struct store_body *body;
};

struct store_line; /* below, with the reads */
/* line: the committed line (its seq, index, attempt, outcome and text),
 * valid during the call only; NULL when err is not STORE_OK. */
typedef void (*store_record_cb)(
    enum store_err err, const struct store_line *line, void *arg);
/*
 * Records the result of a leased item: the item is done and the line
 * gets the job's next seq. The line is copied. Answers once committed,
 * handing the line back as a reader would get it (so that a follower
 * that is caught up needs no read);
 * on a full disk or an I/O error the record waits and is retried (see
 * above). ENOENT: no such job (deleted) or item; ESTATE: the item is not
 * in flight under that attempt (a duplicate or stale result, not
 * stored). A body that could not be written does not fail the record:
 * the line is stored and reading the body says why it is missing.
 */
enum store_err store_record(struct store *st, const struct store_result *r,
    store_record_cb cb, void *arg);

typedef void (*store_done_cb)(enum store_err err, void *arg);
/* Puts a leased item back to pending (a drain that did not finish it):
 * nothing is recorded for it. ESTATE when not in flight. */
enum store_err store_release(struct store *st, const char *id, uint32_t index,
    uint32_t attempt, store_done_cb cb, void *arg);

/* Cancels a queued or running job: no more leases; its pending items
 * end with `cancelled` lines (written in slices after the answer);
 * results of items in flight are still recorded. ESTATE otherwise. */
enum store_err store_cancel(
    struct store *st, const char *id, store_job_cb cb, void *arg);
/* Queues every item whose result is not ok again, with attempt + 1; the
 * old lines stay with their seq. The job becomes queued if it was done
 * or cancelled. n.failed == 0 afterwards. */
enum store_err store_retry(
    struct store *st, const char *id, store_job_cb cb, void *arg);
/* Removes a done or cancelled job, its lines and bodies (rows and files
 * go in slices after the answer; the job is gone from then on). */
enum store_err store_delete(
    struct store *st, const char *id, store_done_cb cb, void *arg);

typedef void (*store_sweep_cb)(enum store_err err, uint64_t removed, void *arg);
/* Deletes every job whose expiry (finished + ttl) has passed. */
enum store_err store_sweep(struct store *st, store_sweep_cb cb, void *arg);

struct store_cursor {
	uint64_t after;   /* lines with seq > after */
	uint32_t limit;   /* 1..STORE_PAGE_MAX (0: 1000) */
	bool failed_only; /* only lines whose outcome is not ok */
	/* Only each item's current line: the newest line of an item that
	 * is done. Left out: a line a retry superseded, and the old line of
	 * an item queued again by a retry (until its new line). */
	bool latest;
};

struct store_line {
	uint64_t seq;
	uint32_t index;
	uint32_t attempt;
	enum store_outcome outcome;
	const char *line;
	size_t len;
};

struct store_page {
	const struct store_line *lines; /* in seq order */
	size_t n;
	bool more; /* more matching lines are committed already */
	enum store_job_state state;
	uint64_t last_seq; /* the job's newest committed seq */
};

typedef void (*store_read_cb)(
    enum store_err err, const struct store_page *page, void *arg);
/* A page of committed lines after c->after; a page holds at most
 * c->limit lines and about 4 MiB. */
enum store_err store_read(struct store *st, const char *id,
    const struct store_cursor *c, store_read_cb cb, void *arg);

/*
 * Body sink. Opened for one attempt of one leased item; bytes are
 * appended as they arrive: the first STORE_BODY_INLINE are kept in
 * memory, past that everything streams to a file on the store's files
 * thread. Hand it to store_record (r->body) to store it with the result,
 * or store_body_abort to drop it. store_body_add returns the bytes
 * queued for the disk and not yet written (for backpressure: stop
 * reading above a high-water mark; on_drain fires once that is 0), or -1
 * past max_body_bytes or after a write error (the bytes are not taken).
 */
struct store_body *store_body_open(
    struct store *st, const char *id, uint32_t index, uint32_t attempt);
/* The response's Content-Type and the content codings still on the
 * bytes (RFC 9110 §8.3, §8.4), each NULL when none: served with the
 * body. Copied. */
void store_body_set_type(
    struct store_body *b, const char *type, const char *coding);
long store_body_add(struct store_body *b, const void *p, size_t n);
void store_body_on_drain(
    struct store_body *b, void (*fn)(void *arg, uint32_t index), void *arg);
void store_body_abort(struct store_body *b);

/* A piece of a stored body, valid during the callback. */
struct store_body_page {
	uint64_t size;      /* the whole body's length, bytes */
	const char *type;   /* its Content-Type, or NULL */
	const char *coding; /* content codings still on it, or NULL */
	const void *data;   /* the piece: len bytes from the offset asked */
	size_t len;
};

/* A piece of an item's stored body (its newest result's), from offset
 * (at most max bytes; pg is NULL unless err is STORE_OK). ENOENT: no
 * body stored; EFULL/EIO: it could not be written (disk full, I/O
 * error) or its file is gone or shorter than recorded. */
typedef void (*store_body_read_cb)(
    enum store_err err, const struct store_body_page *pg, void *arg);
enum store_err store_body_read(struct store *st, const char *id, uint32_t index,
    uint64_t offset, size_t max, store_body_read_cb cb, void *arg);

/* Commit latency histogram: upper bounds, microseconds. */
#define STORE_HIST_BUCKETS 12
extern const uint64_t store_hist_bounds_us[STORE_HIST_BUCKETS];

struct store_stats {
	uint64_t jobs[STORE_JOB__COUNT]; /* by state */
	uint64_t items_pending;          /* over all jobs */
	uint64_t queue_depth;            /* requests waiting for the writer */
	uint64_t records;                /* results committed */
	uint64_t commits;                /* transactions committed */
	uint64_t commit_errors;
	uint64_t commit_hist[STORE_HIST_BUCKETS + 1]; /* last: +Inf */
	uint64_t commit_us_sum;
	uint64_t used_bytes; /* database pages in use + body files */
	bool degraded;
};

/* Is the store shared with other instances (PostgreSQL)? Then jobs and
 * lines change without this process knowing: its callers poll. */
bool store_shared(const struct store *st);

/* Live instances sharing the store, this one included: those heard from
 * within the lease expiry (PostgreSQL's heartbeats); 1 for a store of
 * its own, or before the first heartbeat. Never 0. */
unsigned store_instances(struct store *st);

/* A snapshot for /metrics and /healthz; cheap, never waits on disk. */
void store_stats(struct store *st, struct store_stats *out);

#endif
