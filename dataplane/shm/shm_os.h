/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Operating-system side of the shared-memory channel (private to
 * dataplane/shm): naming, files, mappings and liveness locks. Everything
 * else in the channel is pure memory logic.
 */
#ifndef MW_SHM_OS_H
#define MW_SHM_OS_H

#include <stddef.h>
#include <stdint.h>

/** Longest path a region name resolves to (with room for a temp suffix). */
#define MW_SHM_PATH_MAX 256

/**
 * Resolve a region name: "name" or "/name" is /dev/shm/name; a name with
 * another '/' after its first character is used as a file path.
 * @return 0, MW_EINVAL (empty, "." or ".." component), MW_ENOSPC (too long).
 */
int mw_shm_os_path(const char *name, char *out, size_t cap);

/**
 * Take the lock on one byte of the file for this open file description.
 * @return 0, MW_EBUSY (another open file description holds it), MW_EIO.
 */
int mw_shm_os_lock(int fd, int byte);

/**
 * Is the byte locked by another open file description (a live process)?
 * @return 1 yes, 0 no, MW_EIO.
 */
int mw_shm_os_locked(int fd, int byte);

/**
 * Data plane: prepare a region file of size bytes under a temporary name
 * next to path, mapped and locked on MW_SHM_LOCK_DP (nothing is written
 * into it). What is at path decides (docs/SHM.md, Creation):
 * - nothing: *old_gen = 0;
 * - the same file as self_fd (this data plane's own region, being
 *   re-created): replaced, *old_gen = 0;
 * - a file whose byte MW_SHM_LOCK_DP another process holds: MW_EBUSY;
 * - a file that starts with the magic (a region left by a dead data
 *   plane, whole or truncated): replaced, *old_gen = its dp_generation
 *   (0 if the file is too short to hold it);
 * - under /dev/shm only, a file shorter than the magic whose bytes are a
 *   prefix of it, an empty one included (a region truncated and left):
 *   replaced, *old_gen = 0;
 * - anything else (another program's file, a symlink, not a regular
 *   file): MW_EBADMAGIC; never replaced.
 * @param self_fd  the caller's current region file, or -1.
 * @param at       NULL: map anywhere; else the mapping is moved over
 *                 [at, at + size), replacing what is mapped there (the
 *                 caller's old mapping of the same size).
 * @return 0, MW_EBUSY, MW_EBADMAGIC, MW_EIO (open/ftruncate/mmap failed),
 *         MW_ENOSPC.
 */
int mw_shm_os_create(const char *path, uint64_t size, char *tmp, size_t cap,
		     int self_fd, void *at, int *fd, void **base,
		     uint64_t *old_gen);

/** Give the prepared file its public name (atomic rename over path). */
int mw_shm_os_publish(const char *tmp, const char *path);

/**
 * App: open and map an existing region read-write.
 * @return 0, MW_ENOENT (no such region), MW_EFORMAT (smaller than a
 *         header), MW_EIO.
 */
int mw_shm_os_open(const char *path, int *fd, void **base, uint64_t *size);

/** Remove path if it is still the file behind fd (nothing else). */
void mw_shm_os_unlink_own(const char *path, int fd);

/** Bytes of the file behind fd (fstat), or MW_EIO. */
int64_t mw_shm_os_size(int fd);

/*
 * Guards against the file shrinking under a shared mapping. Any process
 * that can open the region can ftruncate() it; a later access to a page
 * past the new end raises SIGBUS. The first mw_shm_os_guard() installs a
 * process-wide SIGBUS handler; when a fault hits a guarded range it maps
 * private zero pages over the whole range (MAP_FIXED, so every pointer
 * into it stays valid), marks the guard hit and returns: the access is
 * retried and reads zeros. Faults elsewhere go to the handler that was
 * installed before (or the default action: the process dies as it would
 * have). Process-wide state: at most MW_SHM_GUARDS ranges at once.
 */
#define MW_SHM_GUARDS 16

/** Guard [base, base + len). @return a guard id >= 0, MW_ENOSPC (all
 *  guards in use), MW_EIO (the handler could not be installed). */
int mw_shm_os_guard(void *base, uint64_t len);

/** 1 if a SIGBUS hit the guarded range since the last reset (its pages
 *  are private zeros now), else 0. */
int mw_shm_os_guard_hit(int id);

/** Forget a hit (call before the range is mapped to a file again). */
void mw_shm_os_guard_reset(int id);

/** Stop guarding (before the range is unmapped). */
void mw_shm_os_unguard(int id);

/** Unmap and close (either side). */
void mw_shm_os_close(int fd, void *base, uint64_t size);

#endif /* MW_SHM_OS_H */
