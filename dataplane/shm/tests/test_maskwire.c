/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of maskwire.c (libmaskwire) against the data-plane side in the
 * same process or in forked processes: round trips of shapes and dtypes,
 * back-pressure on full rings and pools, failures, a client killed while
 * holding buffers, a data plane that dies or restarts, corrupt regions.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client_test.h"
#include "shm_os.h"

/* ---- tests ------------------------------------------------------------- */

static void test_round_trip(void)
{
	static const uint32_t shapes[][9] = {
		/* ndim, dims... */
		{0},
		{1, 1},
		{1, 300},
		{2, 3, 5},
		{4, 2, 3, 4, 5},
		{8, 2, 1, 2, 1, 2, 1, 2, 3},
		{3, 4, 0, 2}, /* empty */
	};
	const char *name = test_name("rt");
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_client_info info;
	unsigned dt, s, i;
	int status;

	cfg_small(&cfg, 8, 16, 16);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	CHECK_EQ(mw_client_check(c), 0);
	mw_client_info(c, &info);
	CHECK_EQ(info.slot_size, 256);
	CHECK_EQ(info.tx_slots, 16);
	CHECK_EQ(info.ring_size, 8);
	CHECK(info.dp_generation != 0);
	CHECK_EQ(info.wire_seq, 0); /* nothing published yet */
	{
		struct mw_shm_wire_counts w = {.tx_frames = 11, .tx_bytes = 12,
					       .rx_frames = 13, .rx_bytes = 14,
					       .tensors_tx = 15,
					       .tensors_rx = 16,
					       .tensors_failed = 17,
					       .retransmits = 18,
					       .dense_tx_bytes = 19,
					       .dense_rx_bytes = 20};
		mw_shm_dp_publish_wire(dp, &w);
		mw_client_info(c, &info);
		CHECK_EQ(info.wire_seq, 1);
		CHECK_EQ(info.wire_tx_frames, 11);
		CHECK_EQ(info.wire_tx_bytes, 12);
		CHECK_EQ(info.wire_rx_frames, 13);
		CHECK_EQ(info.wire_rx_bytes, 14);
		CHECK_EQ(info.tensors_tx, 15);
		CHECK_EQ(info.tensors_rx, 16);
		CHECK_EQ(info.tensors_failed, 17);
		CHECK_EQ(info.retransmits, 18);
		CHECK_EQ(info.dense_tx_bytes, 19);
		CHECK_EQ(info.dense_rx_bytes, 20);
	}

	for (dt = 0; dt < MW_DT_COUNT_; dt++) {
		for (s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
			struct mw_client_meta m;
			struct mw_client_rx rx;
			int64_t ck;
			uint8_t seed = (uint8_t)(dt * 16 + s);

			memset(&m, 0, sizeof(m));
			m.ndim = (uint8_t)shapes[s][0];
			for (i = 0; i < m.ndim; i++)
				m.dims[i] = shapes[s][1 + i];
			m.dtype = (uint8_t)dt;
			m.kind = (uint8_t)(s % MW_SHM_KIND_COUNT_);
			m.tag = UINT64_C(0xfeed000000000000) | (dt << 8) | s;
			if (dt == MW_DT_F32) {
				m.codec = 1; /* MS: metadata travels as is */
				m.bits = 2;
				m.ratio = 0.99;
			} else {
				m.codec = MW_SHM_CODEC_RAW;
			}
			ck = send_pattern(c, &m, seed);
			CHECK(ck > 0);
			CHECK_EQ(mw_client_recv(c, &rx, 0), MW_EAGAIN);
			CHECK_EQ(dp_step(dp, 0), 1);
			CHECK_EQ(mw_client_recv(c, &rx, 0), 0);
			CHECK_EQ(rx.meta.tag, m.tag);
			CHECK_EQ(rx.meta.dtype, dt);
			CHECK_EQ(rx.meta.kind, m.kind);
			CHECK_EQ(rx.meta.ndim, m.ndim);
			CHECK(memcmp(rx.meta.dims, m.dims, sizeof(m.dims)) == 0);
			CHECK_EQ(rx.meta.codec, m.codec);
			CHECK_EQ(rx.meta.bits, m.bits);
			CHECK(rx.meta.ratio == m.ratio);
			CHECK_EQ(rx.buf.len, mw_shm_tensor_bytes(dt, m.ndim,
								 m.dims));
			CHECK(check_pattern(&rx, seed));
			CHECK_EQ(mw_client_wait(c, ck, 0, &status), 0);
			CHECK_EQ(status, 0);
			CHECK_EQ(mw_client_release(c, &rx.buf), 0);
			CHECK_EQ(mw_client_release(c, &rx.buf),
				 rx.buf.len ? MW_ENOENT : 0);
		}
	}
	dp_step(dp, 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.rx_free_slots, 16);
	CHECK_EQ(st.bad_releases, 0);
	mw_client_info(c, &info);
	CHECK_EQ(info.tx_free_slots, 16);
	CHECK_EQ(info.inflight, 0);
	CHECK_EQ(info.held, 0);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

static void test_bad_calls(void)
{
	const char *name = test_name("bad");
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c, *c2;
	struct mw_client_buf b, fake;
	struct mw_client_meta m;
	int status;

	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	/* one client at a time */
	CHECK_EQ(attach_served(dp, name, NULL, &c2), MW_EBUSY);

	CHECK_EQ(mw_client_alloc(c, 4u * 256 + 1, 0, &b), MW_ELIMIT);
	CHECK_EQ(mw_client_alloc(c, 100, 0, &b), 0);
	meta_1d(&m, MW_DT_F32, 26, 1); /* 104 > 100 bytes */
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EINVAL);
	meta_1d(&m, MW_DT_I32, 25, 1);
	m.codec = 1; /* MS on int32 */
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EUNSUPP);
	meta_1d(&m, MW_DT_F32, 25, 1);
	m.ratio = 1.5;
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EINVAL);
	m.ratio = 0;
	m.ndim = 9;
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EINVAL);
	fake = b;
	fake.off += 256; /* not allocated */
	fake.data = (uint8_t *)fake.data + 256;
	meta_1d(&m, MW_DT_F32, 25, 1);
	CHECK_EQ(mw_client_send(c, &fake, &m, 0), MW_EINVAL);
	CHECK_EQ(mw_client_free(c, &fake), MW_EINVAL);
	/* not a received buffer */
	CHECK_EQ(mw_client_release(c, &b), MW_ENOENT);
	CHECK_EQ(mw_client_free(c, &b), 0);
	CHECK_EQ(mw_client_free(c, &b), MW_EINVAL);
	CHECK_EQ(mw_client_wait(c, 12345, 0, &status), MW_ENOENT);
	CHECK_EQ(mw_client_wait(c, -1, 0, &status), MW_ENOENT);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

/* Back-pressure: a full ring or pool is MW_EAGAIN/ETIMEDOUT, never loss. */
static void test_back_pressure(void)
{
	const char *name = test_name("bp");
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_client_buf b[6];
	struct mw_client_meta m;
	struct mw_client_rx rx[6];
	int64_t ck[6];
	int i, status;

	cfg_small(&cfg, 4, 5, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	meta_1d(&m, MW_DT_F32, 64, 0); /* one slot */

	/* SUBMIT ring (4) full while the data plane does not poll */
	for (i = 0; i < 4; i++) {
		m.tag = (uint64_t)i;
		ck[i] = send_pattern(c, &m, (uint8_t)i);
		CHECK(ck[i] > 0);
	}
	CHECK_EQ(mw_client_alloc(c, 256, 0, &b[4]), 0);
	m.tag = 4;
	CHECK_EQ(mw_client_send(c, &b[4], &m, 0), MW_EAGAIN);
	CHECK_EQ(mw_client_send(c, &b[4], &m, 20), MW_ETIMEDOUT);
	/* TX pool (5 slots) full too */
	CHECK_EQ(mw_client_alloc(c, 1, 0, &b[5]), MW_EAGAIN);
	CHECK_EQ(mw_client_alloc(c, 1, 20, &b[5]), MW_ETIMEDOUT);

	/* the data plane moves them; the RX pool (4) takes all 4 */
	CHECK_EQ(dp_step(dp, 0), 4);
	ck[4] = mw_client_send(c, &b[4], &m, 0);
	CHECK(ck[4] > 0);
	/* the 5th waits for RX room: not delivered, not completed */
	CHECK_EQ(dp_step(dp, 0), 0);
	CHECK_EQ(mw_client_wait(c, ck[4], 0, &status), MW_EAGAIN);
	/* completions freed TX */
	CHECK_EQ(mw_client_alloc(c, 256, 0, &b[5]), 0);
	CHECK_EQ(mw_client_free(c, &b[5]), 0);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(mw_client_recv(c, &rx[i], 0), 0);
		CHECK_EQ(rx[i].meta.tag, i);
		CHECK(check_pattern(&rx[i], (uint8_t)i));
	}
	CHECK_EQ(mw_client_recv(c, &rx[4], 0), MW_EAGAIN);
	CHECK_EQ(mw_client_recv(c, &rx[4], 10), MW_ETIMEDOUT);
	CHECK_EQ(mw_client_release(c, &rx[2].buf), 0);
	CHECK_EQ(dp_step(dp, 0), 1);
	CHECK_EQ(mw_client_wait(c, ck[4], 0, &status), 0);
	CHECK_EQ(status, 0);
	CHECK_EQ(mw_client_recv(c, &rx[4], 0), 0);
	CHECK_EQ(rx[4].meta.tag, 4);
	for (i = 0; i < 5; i++)
		if (i != 2)
			CHECK_EQ(mw_client_release(c, &rx[i].buf), 0);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

static void test_failures(void)
{
	const char *name = test_name("fail");
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_client_failure f;
	struct mw_client_meta m;
	struct mw_client_info info;
	int64_t ck[3];
	int i, status;

	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	for (i = 0; i < 3; i++) {
		meta_1d(&m, MW_DT_U8, 10, 100u + (unsigned)i);
		m.peer = (uint16_t)(i == 2 ? 5 : 0); /* a failure names it */
		ck[i] = send_pattern(c, &m, 0);
		CHECK(ck[i] > 0);
	}
	CHECK_EQ(mw_client_poll_failure(c, &f), 0);
	dp_step(dp, MW_ECANCELED);
	CHECK_EQ(mw_client_wait(c, ck[1], 1000, &status), 0);
	CHECK_EQ(status, MW_ECANCELED);
	CHECK_EQ(mw_client_poll_failure(c, &f), 1);
	CHECK_EQ(f.cookie, ck[0]);
	CHECK_EQ(f.tag, 100);
	CHECK_EQ(f.status, MW_ECANCELED);
	CHECK_EQ(f.peer, 0);
	CHECK_EQ(mw_client_poll_failure(c, &f), 1);
	CHECK_EQ(f.cookie, ck[2]);
	CHECK_EQ(f.peer, 5);
	CHECK_EQ(mw_client_poll_failure(c, &f), 0);
	mw_client_info(c, &info);
	CHECK_EQ(info.tx_free_slots, 4); /* failed sends free their buffer */
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

/* Serve dp until the child exits; returns its wait status. */
static int serve_until_exit(struct mw_shm_dp *dp, pid_t pid)
{
	struct timespec ts = {0, 100000};
	int st;

	for (;;) {
		dp_step(dp, 0);
		if (waitpid(pid, &st, WNOHANG) == pid)
			return st;
		nanosleep(&ts, NULL);
	}
}

/* Child: attach, send two tensors, receive them, hold them and a send
 * buffer, then get killed. */
static void child_dies_holding(const char *name)
{
	struct mw_client *c;
	struct mw_client_rx rx;
	struct mw_client_meta m;
	struct mw_client_buf b;
	int i;

	if (mw_client_attach(name, NULL, &c) != 0)
		_exit(10);
	meta_1d(&m, MW_DT_F32, 128, 7); /* 2 slots */
	for (i = 0; i < 2; i++) {
		if (send_pattern(c, &m, 1) <= 0)
			_exit(11);
		if (mw_client_recv(c, &rx, 5000) != 0)
			_exit(12);
	}
	if (mw_client_alloc(c, 256, 5000, &b) != 0)
		_exit(13);
	raise(SIGKILL);
	_exit(14);
}

static void test_killed_client(void)
{
	const char *name = test_name("kill");
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_client_meta m;
	struct mw_client_rx rx;
	struct timespec ts = {0, 100000};
	int64_t ck;
	pid_t pid;
	int wst, status, i;

	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		child_dies_holding(name);
	wst = serve_until_exit(dp, pid);
	CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL);
	if (WIFEXITED(wst))
		fprintf(stderr, "child exited with %d\n", WEXITSTATUS(wst));
	/* the data plane notices (within a liveness period) and reclaims;
	 * serve_until_exit() may already have seen it */
	mw_shm_dp_stats(dp, &st);
	for (i = 0; i < 20000 && st.app_gone == 0; i++) {
		mw_shm_dp_service(dp, now_ns());
		mw_shm_dp_stats(dp, &st);
		nanosleep(&ts, NULL);
	}
	CHECK_EQ(st.app_gone, 1);
	CHECK_EQ(st.reclaimed, 2);
	CHECK_EQ(st.rx_free_slots, 4);
	CHECK_EQ(st.app_attached, 0);

	/* a new client gets the whole RX pool */
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	meta_1d(&m, MW_DT_F32, 256, 8); /* 4 slots: the whole pool */
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	CHECK_EQ(dp_step(dp, 0), 1);
	CHECK_EQ(mw_client_recv(c, &rx, 0), 0);
	CHECK(check_pattern(&rx, 3));
	CHECK_EQ(mw_client_wait(c, ck, 0, &status), 0);
	CHECK_EQ(mw_client_release(c, &rx.buf), 0);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

/* Child: a data plane that serves name until it is killed. */
static void child_dp(const char *name, int fd)
{
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct timespec ts = {0, 100000};

	cfg_small(&cfg, 4, 4, 4);
	if (mw_shm_dp_create(name, &cfg, &dp) != 0)
		_exit(20);
	if (write(fd, "r", 1) != 1)
		_exit(21);
	for (;;) {
		dp_step(dp, 0);
		nanosleep(&ts, NULL);
	}
}

static void test_dp_restart(void)
{
	const char *name = test_name("restart");
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c, *c2;
	struct mw_client_info i1, i2;
	struct mw_client_rx rx;
	struct mw_client_buf b;
	int pfd[2], wst;
	char ch;
	pid_t pid;

	CHECK_EQ(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		child_dp(name, pfd[1]);
	}
	close(pfd[1]);
	CHECK_EQ(read(pfd[0], &ch, 1), 1);
	close(pfd[0]);
	CHECK_EQ(mw_client_attach(name, NULL, &c), 0);
	CHECK_EQ(mw_client_recv(c, &rx, 0), MW_EAGAIN);
	mw_client_info(c, &i1);

	/* the data plane dies: the client says so instead of waiting out
	 * its timeout or hanging */
	kill(pid, SIGKILL);
	waitpid(pid, &wst, 0);
	CHECK_EQ(mw_client_recv(c, &rx, 60000), MW_ERESET);
	CHECK_EQ(mw_client_check(c), MW_ERESET);
	CHECK_EQ(mw_client_alloc(c, 1, 0, &b), MW_ERESET);

	/* a leftover region nobody serves is refused */
	CHECK_EQ(mw_client_attach(name, NULL, &c2), MW_ERESET);

	/* a new data plane re-creates it: the old client still sees a
	 * reset, a new one attaches to the new generation */
	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(mw_client_recv(c, &rx, 0), MW_ERESET);
	CHECK_EQ(attach_served(dp, name, NULL, &c2), 0);
	mw_client_info(c2, &i2);
	CHECK(i2.dp_generation != i1.dp_generation);
	mw_client_detach(c);

	/* the generation of the mapped region changes in place */
	((struct mw_shm_hdr *)mw_shm_dp_base(dp))->dp_generation += 100;
	CHECK_EQ(mw_client_recv(c2, &rx, 0), MW_ERESET);
	((struct mw_shm_hdr *)mw_shm_dp_base(dp))->dp_generation -= 100;
	mw_client_detach(c2);

	/* a clean shutdown */
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	mw_shm_dp_destroy(dp, 1);
	CHECK_EQ(mw_client_recv(c, &rx, 1000), MW_ESHUTDOWN);
	CHECK_EQ(mw_client_send(c, &b, NULL, 0), MW_ESHUTDOWN);
	mw_client_detach(c);
}

/* A data plane that is alive but not polling. */
static void test_not_served(void)
{
	const char *name = test_name("idle");
	struct mw_client_opts o;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_client_rx rx;

	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	mw_client_opts_default(&o);
	o.timeout_ms = 30;
	CHECK_EQ(mw_client_attach(name, &o, &c), MW_ETIMEDOUT);
	/* attached, then the heartbeat stops: stale_ms turns it into a
	 * reset instead of a wait for the full timeout. (1 s: the serving
	 * thread must not look stale while it attaches on a loaded host.) */
	o.timeout_ms = 5000;
	o.stale_ms = 1000;
	int rc = attach_served(dp, name, &o, &c);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		CHECK_EQ(mw_client_recv(c, &rx, 60000), MW_ERESET);
		mw_client_detach(c);
	}
	mw_shm_dp_destroy(dp, 1);
}

static void write_file(const char *path, const void *p, size_t n,
		       uint64_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	CHECK_EQ(write(fd, p, n), (long long)n);
	CHECK_EQ(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void test_corrupt_region(void)
{
	const char *name = test_name("corrupt");
	struct mw_shm_geom g = {4, 256, 4, 4};
	char path[MW_SHM_PATH_MAX];
	struct mw_shm_hdr h, b;
	struct mw_client *c;
	int64_t size;
	int lockfd;

	mw_shm_os_path(name, path, sizeof(path));
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_ENOENT);
	CHECK_EQ(mw_client_attach("", NULL, &c), MW_EINVAL);
	memset(&h, 0, sizeof(h));
	size = mw_shm_layout(&g, 5, &h);
	atomic_store(&h.dp_state, MW_SHM_DP_READY);

	write_file(path, "junk", 4, 4096);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EBADMAGIC);
	write_file(path, "junk", 4, 100);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EFORMAT);
	b = h;
	b.abi_version = 99;
	write_file(path, &b, sizeof(b), (uint64_t)size);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EVERSION);
	write_file(path, &h, sizeof(h), (uint64_t)size - 4096); /* truncated */
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EFORMAT);
	b = h;
	b.rx_off = b.tx_off; /* pools overlap */
	write_file(path, &b, sizeof(b), (uint64_t)size);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EFORMAT);
	b = h;
	atomic_store(&b.dp_state, 0);
	write_file(path, &b, sizeof(b), (uint64_t)size);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_EFORMAT);
	atomic_store(&b.dp_state, MW_SHM_DP_CLOSED);
	write_file(path, &b, sizeof(b), (uint64_t)size);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_ESHUTDOWN);
	/* valid, but no data plane holds it */
	write_file(path, &h, sizeof(h), (uint64_t)size);
	CHECK_EQ(mw_client_attach(name, NULL, &c), MW_ERESET);
	/* valid and locked, but nobody answers */
	lockfd = open(path, O_RDWR);
	CHECK_EQ(mw_shm_os_lock(lockfd, MW_SHM_LOCK_DP), 0);
	{
		struct mw_client_opts o = {.timeout_ms = 20, .stale_ms = 0};

		CHECK_EQ(mw_client_attach(name, &o, &c), MW_ETIMEDOUT);
	}
	close(lockfd);
	unlink(path);
}

/* A data plane thread loops tensors back while the client sends and
 * receives without waiting: real concurrency on every ring (seeded). */
struct loop_thread {
	struct mw_shm_dp *dp;
	atomic_int stop;
};

static void *loop_run(void *arg)
{
	struct loop_thread *l = arg;

	while (!atomic_load(&l->stop))
		if (dp_step(l->dp, 0) == 0)
			sched_yield();
	return NULL;
}

static void test_concurrent(void)
{
	const char *name = test_name("conc");
	const unsigned total = 3000;
	struct loop_thread l;
	struct mw_shm_cfg cfg;
	struct mw_client *c;
	unsigned sent = 0, got = 0, seed = (unsigned)time(NULL);
	unsigned fails_before = (unsigned)mw_test_failures();
	pthread_t t;

	srand(seed);
	cfg_small(&cfg, 8, 8, 6);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &l.dp), 0);
	CHECK_EQ(attach_served(l.dp, name, NULL, &c), 0);
	atomic_init(&l.stop, 0);
	pthread_create(&t, NULL, loop_run, &l);
	while (got < total) {
		struct mw_client_meta m;
		struct mw_client_rx rx;
		struct mw_client_buf b;
		int rc, progress = 0;

		if (sent < total) {
			meta_1d(&m, MW_DT_U8, (uint32_t)rand() % 700, sent);
			if (mw_client_alloc(c, m.dims[0], 0, &b) == 0) {
				uint32_t i;

				for (i = 0; i < m.dims[0]; i++)
					((uint8_t *)b.data)[i] =
						(uint8_t)(sent + i * 7);
				rc = (int)mw_client_send(c, &b, &m, 0);
				if (rc > 0) {
					sent++;
					progress = 1;
				} else
					CHECK_EQ(mw_client_free(c, &b), 0);
			}
		}
		/* block only when sending is stuck: the pipeline stays full */
		rc = mw_client_recv(c, &rx, progress || sent == got ? 0 : 5000);
		if (rc == MW_EAGAIN)
			continue;
		CHECK_EQ(rc, 0);
		if (rc)
			break;
		CHECK_EQ(rx.meta.tag, got);
		CHECK(check_pattern(&rx, (uint8_t)got));
		CHECK_EQ(mw_client_release(c, &rx.buf), 0);
		got++;
		if ((unsigned)mw_test_failures() != fails_before) {
			fprintf(stderr, "concurrent: seed %u tensor %u\n", seed,
				got);
			break;
		}
	}
	atomic_store(&l.stop, 1);
	pthread_join(t, NULL);
	mw_client_detach(c);
	mw_shm_dp_destroy(l.dp, 1);
}

int main(void)
{
	test_round_trip();
	test_bad_calls();
	test_back_pressure();
	test_failures();
	test_concurrent();
	test_killed_client();
	test_dp_restart();
	test_not_served();
	test_corrupt_region();
	return mw_test_exit("test_maskwire");
}
