/* SPDX-License-Identifier: BSD-3-Clause */
/* Files, mappings and liveness locks of the shared-memory channel. */
#define _GNU_SOURCE /* F_OFD_SETLK, F_OFD_GETLK, mremap */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

/* Is path a plain name under /dev/shm (where the data plane keeps its
 * regions by default, as opposed to a path the user chose)? */
static int in_shm_dir(const char *path)
{
	static const char dir[] = "/dev/shm/";

	return strncmp(path, dir, sizeof(dir) - 1) == 0 &&
	       !strchr(path + sizeof(dir) - 1, '/');
}

/*
 * What is at path and may it be replaced (the policy is in shm_os.h and
 * docs/SHM.md): 0 (nothing there, or replaceable; *gen is the old
 * generation or 0), MW_EBUSY, MW_EBADMAGIC, MW_EIO. Never replace a file
 * we cannot recognise as a region: the name may be a mistyped path.
 */
static int old_region(const char *path, int self_fd, uint64_t *gen)
{
	const uint64_t magic = MW_SHM_MAGIC;
	struct stat st, self;
	struct mw_shm_hdr h;
	ssize_t n;
	int fd, rc = 0;

	*gen = 0;
	/* O_NOFOLLOW: a symlink is not ours; O_NONBLOCK: a FIFO at a
	 * mistyped path must not hang the start-up */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : errno == ELOOP ? MW_EBADMAGIC
							  : MW_EIO;
	if (fstat(fd, &st) != 0) {
		rc = MW_EIO;
	} else if (self_fd >= 0 && fstat(self_fd, &self) == 0 &&
		   st.st_dev == self.st_dev && st.st_ino == self.st_ino) {
		rc = 0; /* our own region, broken: re-created */
	} else if (!S_ISREG(st.st_mode)) {
		rc = MW_EBADMAGIC;
	} else if (mw_shm_os_locked(fd, MW_SHM_LOCK_DP) == 1) {
		rc = MW_EBUSY;
	} else {
		memset(&h, 0, sizeof(h));
		n = pread(fd, &h, sizeof(h), 0);
		if (n >= (ssize_t)sizeof(magic) && h.magic == magic)
			*gen = n >= (ssize_t)(offsetof(struct mw_shm_hdr,
						       dp_generation) +
					      sizeof(h.dp_generation))
				       ? h.dp_generation
				       : 0;
		else if (n >= 0 && n < (ssize_t)sizeof(magic) &&
			 memcmp(&h, &magic, (size_t)n) == 0 && in_shm_dir(path))
			*gen = 0; /* a region cut short (empty included) */
		else
			rc = MW_EBADMAGIC;
	}
	close(fd);
	return rc;
}

/*
 * Fault the region's pages in now, writable, without writing to them
 * (MADV_POPULATE_WRITE, Linux 5.14): a page's first touch is otherwise a
 * fault inside a transfer, about 15 us each on some virtual machines (6 ms
 * for a 1.6 MB tensor). Best effort: an older kernel (EINVAL) or a region
 * larger than memory leaves them to fault. (Where the hypervisor keeps its
 * own page tables, a first touch still costs about half as much.)
 */
static void populate(void *p, size_t size)
{
#ifdef MADV_POPULATE_WRITE
	(void)madvise(p, size, MADV_POPULATE_WRITE);
#else
	(void)p;
	(void)size;
#endif
}

int mw_shm_os_create(const char *path, uint64_t size, char *tmp, size_t cap,
		     int self_fd, void *at, int *fd, void **base,
		     uint64_t *old_gen)
{
	void *p;
	int n, rc;

	rc = old_region(path, self_fd, old_gen);
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
	/* Moved, not mapped with MAP_FIXED: a failed mremap() leaves the
	 * old mapping in place, a failed MAP_FIXED mmap() may not. */
	if (at) {
		void *q = mremap(p, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
				 at);

		if (q == MAP_FAILED) {
			munmap(p, size);
			goto fail;
		}
		p = q;
	}
	populate(p, size);
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
	populate(p, (size_t)st.st_size);
	*base = p;
	*size = (uint64_t)st.st_size;
	return 0;
}

void mw_shm_os_unlink_own(const char *path, int fd)
{
	struct stat a, b;

	if (fd >= 0 && lstat(path, &a) == 0 && fstat(fd, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlink(path);
}

int64_t mw_shm_os_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return MW_EIO;
	return (int64_t)st.st_size;
}

/* ---- SIGBUS guards ------------------------------------------------------ */

/*
 * Process-wide by necessity (a signal handler has no context argument):
 * a fixed table read by the handler with atomics only. The handler makes
 * two system calls (mmap, and sigaction when it passes a fault on), both
 * async-signal-safe in practice on Linux (Wayland compositors guard
 * wl_shm buffers the same way).
 */
static struct guard {
	atomic_int used;        /* claimed by mw_shm_os_guard() */
	_Atomic uintptr_t base; /* what the handler matches; 0: none */
	_Atomic uint64_t len;
	atomic_int hit;
} guards[MW_SHM_GUARDS];

static struct sigaction prev_bus;
static pthread_once_t bus_once = PTHREAD_ONCE_INIT;
static int bus_installed;

/*
 * The fault may hit inside a sanitizer's runtime (a ThreadSanitizer atomic
 * store holds its lock while it writes), so the handler must not call back
 * into it: no instrumentation, and mmap as a raw system call (the libc
 * symbol is intercepted).
 */
#if defined(__has_attribute)
#if __has_attribute(disable_sanitizer_instrumentation)
#define NO_SANITIZER __attribute__((disable_sanitizer_instrumentation))
#elif __has_attribute(no_sanitize_thread)
#define NO_SANITIZER __attribute__((no_sanitize_thread))
#endif
#endif
#ifndef NO_SANITIZER
#define NO_SANITIZER
#endif

NO_SANITIZER static void pass_on(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl;

	if (prev_bus.sa_flags & SA_SIGINFO) {
		prev_bus.sa_sigaction(sig, si, uc);
		return;
	}
	if (prev_bus.sa_handler != SIG_DFL && prev_bus.sa_handler != SIG_IGN) {
		prev_bus.sa_handler(sig);
		return;
	}
	/* Default action: uninstall and let the fault happen again (or,
	 * for a SIGBUS sent by a process, send it again). */
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGBUS, &dfl, NULL);
	if (si->si_code <= 0)
		raise(sig);
}

NO_SANITIZER static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	unsigned i;

	for (i = 0; si->si_code > 0 && i < MW_SHM_GUARDS; i++) {
		uintptr_t b = atomic_load(&guards[i].base);
		uint64_t len = atomic_load(&guards[i].len);
		int e = errno;
		long p;

		if (!b || a < b || a - b >= len)
			continue;
		p = syscall(SYS_mmap, b, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		errno = e;
		if (p == -1)
			break; /* cannot repair: the fault is fatal */
		atomic_store(&guards[i].hit, 1);
		return;
	}
	pass_on(sig, si, uc);
}

static void bus_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	bus_installed = sigaction(SIGBUS, &sa, &prev_bus) == 0;
}

int mw_shm_os_guard(void *base, uint64_t len)
{
	unsigned i;

	pthread_once(&bus_once, bus_install);
	if (!bus_installed)
		return MW_EIO;
	for (i = 0; i < MW_SHM_GUARDS; i++) {
		int unused = 0;

		if (!atomic_compare_exchange_strong(&guards[i].used, &unused,
						    1))
			continue;
		/* len and hit first: the handler matches on base */
		atomic_store(&guards[i].len, len);
		atomic_store(&guards[i].hit, 0);
		atomic_store(&guards[i].base, (uintptr_t)base);
		return (int)i;
	}
	return MW_ENOSPC;
}

int mw_shm_os_guard_hit(int id)
{
	return atomic_load(&guards[id].hit);
}

void mw_shm_os_guard_reset(int id)
{
	atomic_store(&guards[id].hit, 0);
}

void mw_shm_os_unguard(int id)
{
	if (id < 0 || id >= (int)MW_SHM_GUARDS)
		return;
	atomic_store(&guards[id].base, 0);
	atomic_store(&guards[id].used, 0);
}

void mw_shm_os_close(int fd, void *base, uint64_t size)
{
	if (base)
		munmap(base, size);
	if (fd >= 0)
		close(fd);
}
