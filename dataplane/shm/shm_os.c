/* SPDX-License-Identifier: BSD-3-Clause */
/* Files, mappings and liveness locks of the shared-memory channel. */
#define _GNU_SOURCE /* F_OFD_SETLK, F_OFD_GETLK */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_shm.h"
#include "shm_os.h"

int mw_shm_os_path(const char *name, char *out, size_t cap)
{
	const char *base;
	int n;

	if (!name || !name[0])
		return MW_EINVAL;
	if (strchr(name + 1, '/')) {
		n = snprintf(out, cap, "%s", name);
	} else {
		base = name[0] == '/' ? name + 1 : name;
		if (!base[0] || !strcmp(base, ".") || !strcmp(base, ".."))
			return MW_EINVAL;
		n = snprintf(out, cap, "/dev/shm/%s", base);
	}
	if (n < 0 || (size_t)n >= cap)
		return MW_ENOSPC;
	return 0;
}

static void lock_range(struct flock *fl, short type, int byte)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = type;
	fl->l_whence = SEEK_SET;
	fl->l_start = byte;
	fl->l_len = 1;
}

int mw_shm_os_lock(int fd, int byte)
{
	struct flock fl;

	lock_range(&fl, F_WRLCK, byte);
	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return errno == EAGAIN || errno == EACCES ? MW_EBUSY : MW_EIO;
}

int mw_shm_os_locked(int fd, int byte)
{
	struct flock fl;

	lock_range(&fl, F_WRLCK, byte);
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return MW_EIO;
	return fl.l_type != F_UNLCK;
}

/*
 * Generation of a region left at path, 0 if none; MW_EBUSY if a live data
 * plane holds it; MW_EBADMAGIC if the file is not a region (never replace
 * a file we did not create: the name may be a mistyped path).
 */
static int old_region(const char *path, uint64_t *gen)
{
	struct mw_shm_hdr h;
	int fd, rc = 0;

	*gen = 0;
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : MW_EIO;
	if (mw_shm_os_locked(fd, MW_SHM_LOCK_DP) == 1)
		rc = MW_EBUSY;
	else if (pread(fd, &h.magic, sizeof(h.magic), 0) !=
			 (ssize_t)sizeof(h.magic) ||
		 h.magic != MW_SHM_MAGIC)
		rc = MW_EBADMAGIC;
	else if (pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h))
		*gen = h.dp_generation;
	close(fd);
	return rc;
}

int mw_shm_os_create(const char *path, uint64_t size, char *tmp, size_t cap,
		     int *fd, void **base, uint64_t *old_gen)
{
	void *p;
	int n, rc;

	rc = old_region(path, old_gen);
	if (rc < 0)
		return rc;
	n = snprintf(tmp, cap, "%s.%ld.tmp", path, (long)getpid());
	if (n < 0 || (size_t)n >= cap)
		return MW_ENOSPC;
	unlink(tmp);
	*fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0660);
	if (*fd < 0)
		return MW_EIO;
	if (ftruncate(*fd, (off_t)size) != 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (mw_shm_os_lock(*fd, MW_SHM_LOCK_DP) != 0) {
		munmap(p, size);
		goto fail;
	}
	*base = p;
	return 0;
fail:
	close(*fd);
	unlink(tmp);
	*fd = -1;
	return MW_EIO;
}

int mw_shm_os_publish(const char *tmp, const char *path)
{
	return rename(tmp, path) == 0 ? 0 : MW_EIO;
}

int mw_shm_os_open(const char *path, int *fd, void **base, uint64_t *size)
{
	struct stat st;
	void *p;

	*fd = open(path, O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return errno == ENOENT ? MW_ENOENT : MW_EIO;
	if (fstat(*fd, &st) != 0) {
		close(*fd);
		return MW_EIO;
	}
	if (st.st_size < (off_t)MW_SHM_HDR_SIZE) {
		close(*fd);
		return MW_EFORMAT;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 *fd, 0);
	if (p == MAP_FAILED) {
		close(*fd);
		return MW_EIO;
	}
	*base = p;
	*size = (uint64_t)st.st_size;
	return 0;
}

void mw_shm_os_close(int fd, void *base, uint64_t size)
{
	if (base)
		munmap(base, size);
	if (fd >= 0)
		close(fd);
}
