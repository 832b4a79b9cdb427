/*
 * faultvfs.h - an SQLite VFS for tests, in the manner of SQLite's own
 * test_devsym / ioerr tests: "faultvfs" wraps the default (unix) VFS
 * and passes everything through, counting writes, until it is armed:
 * then the Nth write from that moment fails (SQLITE_FULL, an
 * SQLITE_IOERR, ...), once or from then on, or kills the process with
 * SIGKILL just before the write, as a crash part-way through a commit,
 * or waits until the test lets it go (to hold the writer still).
 * Thread-safe: the store's writer thread does the writing.
 */
#ifndef FANOUTD_FAULTVFS_H
#define FANOUTD_FAULTVFS_H

#include <stdbool.h>

#define FAULTVFS_NAME "faultvfs"

/* Register (once; not as the default VFS). */
void faultvfs_register(void);
/* The nth write from now (1: the next) fails with err (an SQLite error
 * code); with sticky, every write after it too. */
void faultvfs_fail(long nth, int err, bool sticky);
/* The nth write from now kills the process instead. */
void faultvfs_kill(long nth);
/* The nth write from now waits until faultvfs_release; wait_stalled
 * returns once a write is waiting. */
void faultvfs_stall(long nth);
void faultvfs_wait_stalled(void);
void faultvfs_release(void);
/* Writes go through again. */
void faultvfs_disarm(void);
/* Writes failed since the last arming. */
long faultvfs_failed(void);
/* xSync calls (fsync) so far. */
long faultvfs_syncs(void);
/* Every xSync fails with err from now (0: they succeed again). */
void faultvfs_fail_syncs(int err);

#endif
