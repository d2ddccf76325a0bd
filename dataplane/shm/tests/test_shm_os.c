/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of shm_os.c: which files a data plane may replace at start-up
 * (a stale region, whole or truncated: yes; a live one: MW_EBUSY; anything
 * else: never), and the SIGBUS guard that keeps a process alive when a
 * guarded mapping's file shrinks, while other faults still kill it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mw_shm.h"
#include "shm_os.h"
#include "shm_test.h"

#define SIZE (64u * 1024u)

static void write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	if (len)
		CHECK_EQ(write(fd, data, len), (long long)len);
	close(fd);
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* mw_shm_os_create() on whatever is at path; on success the temporary
 * file is removed again (nothing is published). */
static int try_create(const char *path, int self_fd, uint64_t *gen)
{
	char tmp[MW_SHM_PATH_MAX + 32];
	void *base;
	int fd, rc;

	rc = mw_shm_os_create(path, SIZE, tmp, sizeof(tmp), self_fd, NULL, &fd,
			      &base, gen);
	if (rc == 0) {
		unlink(tmp);
		mw_shm_os_close(fd, base, SIZE);
	}
	return rc;
}

static void test_replace_policy(void)
{
	char shm[MW_SHM_PATH_MAX], other[MW_SHM_PATH_MAX];
	char lnk[MW_SHM_PATH_MAX + 8];
	struct mw_shm_hdr h;
	uint64_t gen = 99;
	int fd, fd2;

	mw_shm_os_path(test_name("policy"), shm, sizeof(shm));
	snprintf(other, sizeof(other), "/tmp/%s", test_name("policy"));
	snprintf(lnk, sizeof(lnk), "%s.lnk", shm);

	/* nothing there */
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	CHECK_EQ(gen, 0);

	/* a whole stale region: its generation */
	memset(&h, 0, sizeof(h));
	h.magic = MW_SHM_MAGIC;
	h.dp_generation = 7;
	write_file(shm, &h, sizeof(h));
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	CHECK_EQ(gen, 7);
	/* ... also at a path of the user's */
	write_file(other, &h, sizeof(h));
	CHECK_EQ(try_create(other, -1, &gen), 0);
	CHECK_EQ(gen, 7);

	/* truncated but still starting with the magic: replaced, with its
	 * generation if that is still there */
	write_file(shm, &h, 100);
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	CHECK_EQ(gen, 7);
	write_file(shm, &h, 20);
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	CHECK_EQ(gen, 0);

	/* empty or a prefix of the magic: a truncated region under /dev/shm,
	 * but an unknown file elsewhere */
	write_file(shm, "", 0);
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	write_file(shm, &h, 3);
	CHECK_EQ(try_create(shm, -1, &gen), 0);
	write_file(other, "", 0);
	CHECK_EQ(try_create(other, -1, &gen), MW_EBADMAGIC);
	CHECK_EQ(file_size(other), 0);

	/* someone else's file */
	write_file(shm, "precious", 8);
	CHECK_EQ(try_create(shm, -1, &gen), MW_EBADMAGIC);
	write_file(shm, "pre", 3);
	CHECK_EQ(try_create(shm, -1, &gen), MW_EBADMAGIC);
	CHECK_EQ(file_size(shm), 3);

	/* a symlink (even to a region), a directory, a FIFO (no hang) */
	write_file(shm, &h, sizeof(h));
	CHECK_EQ(symlink(shm, lnk), 0);
	CHECK_EQ(try_create(lnk, -1, &gen), MW_EBADMAGIC);
	unlink(lnk);
	CHECK_EQ(mkdir(lnk, 0700), 0);
	CHECK_EQ(try_create(lnk, -1, &gen), MW_EBADMAGIC);
	rmdir(lnk);
	CHECK_EQ(mkfifo(lnk, 0600), 0);
	CHECK_EQ(try_create(lnk, -1, &gen), MW_EBADMAGIC);
	unlink(lnk);

	/* a live data plane's region (byte 0 locked by another open) */
	fd = open(shm, O_RDWR);
	CHECK(fd >= 0);
	CHECK_EQ(mw_shm_os_lock(fd, MW_SHM_LOCK_DP), 0);
	CHECK_EQ(try_create(shm, -1, &gen), MW_EBUSY);
	/* ... unless it is the caller's own file (re-created when broken),
	 * whatever it holds by now */
	CHECK_EQ(ftruncate(fd, 0), 0);
	CHECK_EQ(try_create(shm, fd, &gen), 0);
	fd2 = open(other, O_RDWR);
	CHECK_EQ(try_create(shm, fd2, &gen), MW_EBUSY); /* not the same file */
	close(fd2);

	/* removal only of the file still behind the descriptor */
	mw_shm_os_unlink_own(other, fd);
	CHECK(file_size(other) == 0);
	mw_shm_os_unlink_own(shm, fd);
	CHECK(file_size(shm) < 0);
	close(fd);
	unlink(other);
}

/* A file mapped shared, guarded, then shrunk: accesses past the new end
 * read zeros instead of raising SIGBUS; the guard reports the hit. */
static void test_guard(void)
{
	char path[MW_SHM_PATH_MAX];
	volatile uint8_t *p;
	int fd, g, g2;

	mw_shm_os_path(test_name("guard"), path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(ftruncate(fd, SIZE), 0);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED);
	p[0] = 1;
	p[SIZE - 1] = 2;
	g = mw_shm_os_guard((void *)p, SIZE);
	CHECK(g >= 0);
	CHECK_EQ(mw_shm_os_guard_hit(g), 0);

	/* half: the first half is still the file's until the fault */
	CHECK_EQ(ftruncate(fd, SIZE / 2), 0);
	CHECK_EQ(p[0], 1);
	CHECK_EQ(mw_shm_os_guard_hit(g), 0);
	CHECK_EQ(p[SIZE - 1], 0); /* would have been SIGBUS */
	CHECK_EQ(mw_shm_os_guard_hit(g), 1);
	CHECK_EQ(p[0], 0);        /* the whole range is private zeros now */
	p[SIZE - 1] = 3;          /* and writable */
	CHECK_EQ(p[SIZE - 1], 3);

	/* reset, map the file again, shrink it to 0: a write faults too */
	mw_shm_os_guard_reset(g);
	CHECK_EQ(ftruncate(fd, SIZE), 0);
	CHECK(mmap((void *)p, SIZE, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_FIXED, fd, 0) == (void *)p);
	CHECK_EQ(ftruncate(fd, 0), 0);
	p[100] = 5;
	CHECK_EQ(mw_shm_os_guard_hit(g), 1);
	CHECK_EQ(p[100], 5);

	/* guards are a bounded table; ids are reused */
	g2 = mw_shm_os_guard((void *)p, SIZE);
	CHECK(g2 >= 0 && g2 != g);
	mw_shm_os_unguard(g2);
	mw_shm_os_unguard(g);
	munmap((void *)p, SIZE);
	close(fd);
	unlink(path);
}

static void on_prev(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	_exit(42);
}

/* A SIGBUS outside every guarded range goes where it went before the
 * guard: the default action (the process dies of SIGBUS) or the handler
 * installed earlier. Run in a child each. */
static void test_guard_passes_on(void)
{
	char path[MW_SHM_PATH_MAX];
	int prev, status;

	mw_shm_os_path(test_name("foreign"), path, sizeof(path));
	for (prev = 0; prev < 2; prev++) {
		pid_t pid = fork();

		CHECK(pid >= 0);
		if (pid == 0) {
			static uint8_t other[4096];
			volatile uint8_t *p;
			int fd;

			if (prev) {
				struct sigaction sa;

				memset(&sa, 0, sizeof(sa));
				sa.sa_sigaction = on_prev;
				sa.sa_flags = SA_SIGINFO;
				sigaction(SIGBUS, &sa, NULL);
			}
			fd = open(path, O_RDWR | O_CREAT, 0600);
			if (fd < 0 || ftruncate(fd, SIZE) != 0)
				_exit(3);
			p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
				 fd, 0);
			if (p == MAP_FAILED ||
			    mw_shm_os_guard(other, sizeof(other)) < 0)
				_exit(4);
			if (ftruncate(fd, 0) != 0)
				_exit(5);
			p[SIZE - 1] = 1; /* not guarded */
			_exit(0);
		}
		CHECK_EQ(waitpid(pid, &status, 0), pid);
		if (prev)
			CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42);
		else /* SIGBUS, or a sanitizer that reported it and exited */
			CHECK(WIFSIGNALED(status)
				      ? WTERMSIG(status) == SIGBUS ||
						WTERMSIG(status) == SIGABRT
				      : WEXITSTATUS(status) != 0 &&
						WEXITSTATUS(status) != 42);
	}
	unlink(path);
}

int main(void)
{
	test_replace_policy();
	test_guard();
	test_guard_passes_on();
	return mw_test_exit("test_shm_os");
}
