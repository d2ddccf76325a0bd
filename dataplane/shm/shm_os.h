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
 * next to path, mapped and locked on MW_SHM_LOCK_DP. If a region already
 * exists at path, a live data plane holding it gives MW_EBUSY, a file that
 * is not a region MW_EBADMAGIC; a dead region's dp_generation is returned
 * in *old_gen (0 if none).
 * @return 0, MW_EBUSY, MW_EBADMAGIC, MW_EIO (open/ftruncate/mmap failed),
 *         MW_ENOSPC.
 */
int mw_shm_os_create(const char *path, uint64_t size, char *tmp, size_t cap,
		     int *fd, void **base, uint64_t *old_gen);

/** Give the prepared file its public name (atomic rename over path). */
int mw_shm_os_publish(const char *tmp, const char *path);

/**
 * App: open and map an existing region read-write.
 * @return 0, MW_ENOENT (no such region), MW_EFORMAT (smaller than a
 *         header), MW_EIO.
 */
int mw_shm_os_open(const char *path, int *fd, void **base, uint64_t *size);

/** Unmap and close (either side). */
void mw_shm_os_close(int fd, void *base, uint64_t size);

#endif /* MW_SHM_OS_H */
