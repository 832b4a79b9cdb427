/*
 * faultvfs.c - see faultvfs.h. Each file opened through the VFS is a
 * struct ffile: our sqlite3_file header followed by the real VFS's own
 * file object, to which every method is forwarded; only xWrite looks at
 * the fault plan first.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include <sqlite3.h>

#include "faultvfs.h"

enum plan { PLAN_OFF, PLAN_FAIL, PLAN_KILL, PLAN_STALL };

static sqlite3_vfs *real;
static sqlite3_vfs vfs;
static atomic_int plan;
static atomic_long countdown; /* writes until the fault */
static atomic_int fault_err;
static atomic_bool sticky;
static atomic_bool tripped;
static atomic_long failed;
static atomic_long syncs;
static atomic_int sync_err;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool stalled, released;

struct ffile {
	sqlite3_file base;
	sqlite3_file *real; /* right after this struct */
};

#define REAL(f) (((struct ffile *)(f))->real)

/* Does this write fail (or kill us)? */
static int
fault_check(void)
{
	int p = atomic_load(&plan);

	if (p == PLAN_OFF)
		return SQLITE_OK;
	if (atomic_load(&tripped) && atomic_load(&sticky)) {
		atomic_fetch_add(&failed, 1);
		return atomic_load(&fault_err);
	}
	if (atomic_fetch_sub(&countdown, 1) != 1)
		return SQLITE_OK;
	if (p == PLAN_KILL)
		raise(SIGKILL);
	if (p == PLAN_STALL) {
		pthread_mutex_lock(&mu);
		stalled = true;
		pthread_cond_broadcast(&cv);
		while (!released)
			pthread_cond_wait(&cv, &mu);
		pthread_mutex_unlock(&mu);
		return SQLITE_OK;
	}
	atomic_store(&tripped, true);
	atomic_fetch_add(&failed, 1);
	return atomic_load(&fault_err);
}

static int
f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
f_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}

static int
f_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
	int rc = fault_check();

	return rc != SQLITE_OK ? rc
	                       : REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}

static int
f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int
f_sync(sqlite3_file *f, int flags)
{
	atomic_fetch_add(&syncs, 1);
	if (atomic_load(&sync_err) != SQLITE_OK)
		return atomic_load(&sync_err);
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int
f_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}

static int
f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}

static int
f_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
f_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int
f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
f_caps(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
f_shm_map(sqlite3_file *f, int pg, int sz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, extend, pp);
}

static int
f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void
f_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
f_shm_unmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static const sqlite3_io_methods methods = {
    2, /* no xFetch / xUnfetch: every page goes through xRead */
    f_close,
    f_read,
    f_write,
    f_truncate,
    f_sync,
    f_size,
    f_lock,
    f_unlock,
    f_reserved,
    f_control,
    f_sector,
    f_caps,
    f_shm_map,
    f_shm_lock,
    f_shm_barrier,
    f_shm_unmap,
    NULL,
    NULL,
};

static int
v_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out)
{
	struct ffile *ff = (struct ffile *)f;
	int rc;

	ff->real = (sqlite3_file *)(ff + 1);
	rc = real->xOpen(real, name, ff->real, flags, out);
	f->pMethods = ff->real->pMethods != NULL ? &methods : NULL;
	return rc;
}

static int
v_delete(sqlite3_vfs *v, const char *name, int sync)
{
	return real->xDelete(real, name, sync);
}

static int
v_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
	return real->xAccess(real, name, flags, out);
}

static int
v_full(sqlite3_vfs *v, const char *name, int n, char *out)
{
	return real->xFullPathname(real, name, n, out);
}

static int
v_random(sqlite3_vfs *v, int n, char *out)
{
	return real->xRandomness(real, n, out);
}

static int
v_sleep(sqlite3_vfs *v, int us)
{
	return real->xSleep(real, us);
}

static int
v_time(sqlite3_vfs *v, double *out)
{
	return real->xCurrentTime(real, out);
}

static int
v_error(sqlite3_vfs *v, int n, char *out)
{
	return real->xGetLastError(real, n, out);
}

static int
v_time64(sqlite3_vfs *v, sqlite3_int64 *out)
{
	return real->xCurrentTimeInt64(real, out);
}

void
faultvfs_register(void)
{
	if (real != NULL)
		return;
	real = sqlite3_vfs_find(NULL);
	memset(&vfs, 0, sizeof(vfs));
	vfs.iVersion = 2;
	vfs.szOsFile = (int)sizeof(struct ffile) + real->szOsFile;
	vfs.mxPathname = real->mxPathname;
	vfs.zName = FAULTVFS_NAME;
	vfs.xOpen = v_open;
	vfs.xDelete = v_delete;
	vfs.xAccess = v_access;
	vfs.xFullPathname = v_full;
	vfs.xRandomness = v_random;
	vfs.xSleep = v_sleep;
	vfs.xCurrentTime = v_time;
	vfs.xGetLastError = v_error;
	vfs.xCurrentTimeInt64 = v_time64;
	sqlite3_vfs_register(&vfs, 0);
}

static void
arm(enum plan p, long nth, int err, bool stick)
{
	atomic_store(&plan, PLAN_OFF);
	atomic_store(&countdown, nth);
	atomic_store(&fault_err, err);
	atomic_store(&sticky, stick);
	atomic_store(&tripped, false);
	atomic_store(&failed, 0);
	atomic_store(&plan, p);
}

void
faultvfs_fail(long nth, int err, bool stick)
{
	arm(PLAN_FAIL, nth, err, stick);
}

void
faultvfs_kill(long nth)
{
	arm(PLAN_KILL, nth, SQLITE_OK, false);
}

void
faultvfs_stall(long nth)
{
	pthread_mutex_lock(&mu);
	stalled = released = false;
	pthread_mutex_unlock(&mu);
	arm(PLAN_STALL, nth, SQLITE_OK, false);
}

void
faultvfs_wait_stalled(void)
{
	pthread_mutex_lock(&mu);
	while (!stalled)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
}

void
faultvfs_release(void)
{
	pthread_mutex_lock(&mu);
	released = true;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

void
faultvfs_disarm(void)
{
	atomic_store(&plan, PLAN_OFF);
}

void
faultvfs_fail_syncs(int err)
{
	atomic_store(&sync_err, err);
}

long
faultvfs_syncs(void)
{
	return atomic_load(&syncs);
}

long
faultvfs_failed(void)
{
	return atomic_load(&failed);
}
