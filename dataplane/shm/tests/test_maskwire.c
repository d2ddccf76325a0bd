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

#include "maskwire.h"
#include "mw_shm_dp.h"
#include "shm_os.h"
#include "shm_test.h"

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static struct mw_shm_sub held_sub; /* dp_step()'s submit waiting for room */
static int have_held;

static void cfg_small(struct mw_shm_cfg *cfg, uint32_t ring, uint32_t tx,
		      uint32_t rx)
{
	have_held = 0; /* a new data plane is about to be created */
	mw_shm_cfg_default(cfg);
	cfg->geom.ring_size = ring;
	cfg->geom.slot_size = 256;
	cfg->geom.tx_slots = tx;
	cfg->geom.rx_slots = rx;
	cfg->liveness_ns = 1000000;
}

/* ---- a data plane serving in a thread, only while attaching ------------- */

struct svc {
	struct mw_shm_dp *dp;
	atomic_int stop;
};

static void *svc_run(void *arg)
{
	struct svc *s = arg;
	struct timespec ts = {0, 50000};

	while (!atomic_load(&s->stop)) {
		mw_shm_dp_service(s->dp, now_ns());
		nanosleep(&ts, NULL);
	}
	return NULL;
}

static int attach_served(struct mw_shm_dp *dp, const char *name,
			 const struct mw_client_opts *o, struct mw_client **c)
{
	struct svc s = {.dp = dp};
	pthread_t t;
	int rc;

	atomic_init(&s.stop, 0);
	pthread_create(&t, NULL, svc_run, &s);
	rc = mw_client_attach(name, o, c);
	atomic_store(&s.stop, 1);
	pthread_join(t, NULL);
	return rc;
}

/*
 * One loopback data-plane step: every submit is delivered back to the app
 * while the RX pool has room (the rest stay queued), then completed with
 * status fail (0: success). Returns the number delivered.
 */
static unsigned dp_step(struct mw_shm_dp *dp, int fail)
{
	unsigned n = 0;
	void *buf;
	int rc;

	if (mw_shm_dp_service(dp, now_ns()) & MW_SHM_EV_APP_GONE)
		have_held = 0;
	for (;;) {
		if (!have_held &&
		    mw_shm_dp_poll_submits(dp, &held_sub, 1) == 0)
			return n;
		have_held = 1;
		if (fail) {
			CHECK_EQ(mw_shm_dp_complete(dp, &held_sub, fail), 0);
			have_held = 0;
			continue;
		}
		rc = mw_shm_dp_rx_alloc(dp, held_sub.d.buf_len, &buf);
		if (rc == MW_EAGAIN)
			return n;
		CHECK_EQ(rc, 0);
		if (held_sub.d.buf_len)
			memcpy(buf, held_sub.data, held_sub.d.buf_len);
		CHECK_EQ(mw_shm_dp_deliver(dp, buf, held_sub.d.buf_len,
					   &held_sub.d),
			 0);
		CHECK_EQ(mw_shm_dp_complete(dp, &held_sub, 0), 0);
		have_held = 0;
		n++;
	}
}

static void meta_1d(struct mw_client_meta *m, uint8_t dtype, uint32_t n,
		    uint64_t tag)
{
	memset(m, 0, sizeof(*m));
	m->tag = tag;
	m->ndim = 1;
	m->dims[0] = n;
	m->dtype = dtype;
	m->kind = MW_SHM_KIND_OTHER;
	m->codec = dtype == MW_DT_F32 ? 0 : MW_SHM_CODEC_RAW;
}

/* alloc + fill with a pattern + send; returns the cookie */
static int64_t send_pattern(struct mw_client *c, const struct mw_client_meta *m,
			    uint8_t seed)
{
	uint64_t bytes = (uint64_t)mw_shm_tensor_bytes(m->dtype, m->ndim,
						       m->dims);
	struct mw_client_buf b;
	uint64_t i;
	int rc;

	rc = mw_client_alloc(c, bytes, 0, &b);
	CHECK_EQ(rc, 0);
	if (rc)
		return rc;
	for (i = 0; i < bytes; i++)
		((uint8_t *)b.data)[i] = (uint8_t)(seed + i * 7);
	return mw_client_send(c, &b, m, 0);
}

static int check_pattern(const struct mw_client_rx *rx, uint8_t seed)
{
	uint64_t i;

	for (i = 0; i < rx->buf.len; i++)
		if (((uint8_t *)rx->buf.data)[i] != (uint8_t)(seed + i * 7))
			return 0;
	return 1;
}

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

/* Peers: the table as the client reads it, sends addressed to a peer
 * (routed, or refused by the data plane), the source of a delivery, and
 * what a corrupt or older data plane gets. */
static void test_peers(void)
{
	const char *name = test_name("peers");
	struct mw_client_peer p[4];
	struct mw_shm_peer_info pi;
	struct mw_client_info info;
	struct mw_shm_ring_end e;
	struct mw_shm_desc d;
	struct mw_client_meta m;
	struct mw_client_rx rx;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_shm_hdr *h;
	struct mw_client *c;
	int64_t ck;
	int status;

	cfg_small(&cfg, 4, 4, 4);
	cfg.geom.peer_cap = 3;
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	memset(&pi, 0, sizeof(pi));
	pi.ip[0] = 10;
	pi.ip[1] = 1;
	pi.ip[2] = 2;
	pi.ip[3] = 3;
	pi.port = 7001;
	pi.state = MW_SHM_PEER_UP;
	pi.gen = 1;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 0, &pi), 0);
	pi.ip[3] = 4;
	pi.port = 7002;
	pi.state = MW_SHM_PEER_DOWN;
	pi.restarts = 1;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &pi), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);

	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].index, 0);
	CHECK_EQ(p[0].ip[3], 3);
	CHECK_EQ(p[0].port, 7001);
	CHECK_EQ(p[0].state, MW_CLIENT_PEER_UP);
	CHECK_EQ(p[1].index, 1);
	CHECK_EQ(p[1].port, 7002);
	CHECK_EQ(p[1].state, MW_CLIENT_PEER_DOWN);
	CHECK_EQ(p[1].restarts, 1);
	CHECK_EQ(p[1].gen, 1);
	CHECK_EQ(p[1].flags, 0);
	memset(p, 0, sizeof(p));
	CHECK_EQ(mw_client_peers(c, p, 1), 2); /* only one filled */
	CHECK_EQ(p[1].port, 0);

	/* to peer 1: delivered back with its source */
	meta_1d(&m, MW_DT_U8, 10, 5);
	m.peer = 1;
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	dp_step(dp, 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, 0);
	CHECK_EQ(mw_client_recv(c, &rx, 1000), 0);
	CHECK_EQ(rx.meta.peer, 1);
	CHECK(check_pattern(&rx, 3));
	CHECK_EQ(mw_client_release(c, &rx.buf), 0);
	/* to an index with no peer: the data plane refuses it */
	m.peer = 2;
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	dp_step(dp, 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, MW_ENOENT);

	/* a delivery naming a peer beyond the table is skipped, counted */
	mw_shm_ring_bind(&e, mw_shm_dp_base(dp), mw_shm_dp_base(dp),
			 MW_SHM_RING_DELIVER, 1);
	memset(&d, 0, sizeof(d));
	d.ndim = 1;
	d.dtype = MW_DT_U8;
	d.codec = MW_SHM_CODEC_RAW;
	d.peer = 3;
	CHECK_EQ(mw_shm_ring_enqueue(&e, &d, 1), 1);
	d.peer = 2;
	d.tag = 77;
	CHECK_EQ(mw_shm_ring_enqueue(&e, &d, 1), 1);
	CHECK_EQ(mw_client_recv(c, &rx, 1000), 0);
	CHECK_EQ(rx.meta.tag, 77);
	CHECK_EQ(rx.meta.peer, 2);
	mw_client_info(c, &info);
	CHECK_EQ(info.bad_deliveries, 1);
	/* a corrupt entry is reported, not passed on */
	h = mw_shm_dp_base(dp);
	((uint8_t *)h)[h->peer_off + MW_SHM_PEER_CTL_SIZE + 4] = 77;
	CHECK_EQ(mw_client_peers(c, p, 4), MW_EFORMAT);
	mw_client_detach(c);

	/* an older data plane (minor 1): no generations, none passed on */
	h->abi_minor = 1;
	((uint8_t *)h)[h->peer_off + MW_SHM_PEER_CTL_SIZE + 4] =
		MW_SHM_PEER_UP;
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].gen, 0);
	meta_1d(&m, MW_DT_U8, 10, 6);
	m.peer = 1;
	m.peer_gen = 12345;
	ck = send_pattern(c, &m, 4);
	CHECK(ck > 0);
	dp_step(dp, 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, 0); /* would be MW_ESTALE had the gen gone out */
	CHECK_EQ(mw_client_recv(c, &rx, 1000), 0);
	CHECK_EQ(rx.meta.peer_gen, 0);
	CHECK_EQ(mw_client_release(c, &rx.buf), 0);
	mw_client_detach(c);

	/* an older data plane (no table): peer 0 only */
	h->abi_minor = 0;
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	CHECK_EQ(mw_client_peers(c, p, 4), 0);
	meta_1d(&m, MW_DT_U8, 10, 6);
	m.peer = 1;
	{
		struct mw_client_buf b;
		CHECK_EQ(mw_client_alloc(c, 10, 0, &b), 0);
		CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EUNSUPP);
		CHECK_EQ(mw_client_free(c, &b), 0);
	}
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

/* SUBMIT flags: RELIABLE reaches the data plane in the descriptor (offset
 * 70); an unknown bit is refused by the client (MW_EINVAL) and, written
 * into the ring by a buggy app, by the data plane (COMPLETE MW_EINVAL, no
 * flags echoed); a data plane of ABI minor < 3 gets no RELIABLE send
 * (MW_EUNSUPP), it would send the tensor with its deadline. */
static void test_send_flags(void)
{
	const char *name = test_name("send-flags");
	struct mw_client_meta m;
	struct mw_client_buf b;
	struct mw_shm_ring_end sub, comp;
	struct mw_shm_desc d;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	struct mw_shm_hdr *h;
	int64_t ck;
	int status;

	cfg_small(&cfg, 4, 4, 4);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	h = mw_shm_dp_base(dp);
	CHECK_EQ(h->abi_minor, 3);

	meta_1d(&m, MW_DT_F32, 16, 9);
	m.flags = MW_CLIENT_SEND_RELIABLE;
	ck = send_pattern(c, &m, 1);
	CHECK(ck > 0);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, &held_sub, 1), 1);
	CHECK_EQ(held_sub.d.reserved, MW_SHM_SUB_RELIABLE);
	CHECK_EQ(mw_shm_dp_complete(dp, &held_sub, 0), 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, 0);
	/* without the flag: 0 */
	m.flags = 0;
	ck = send_pattern(c, &m, 2);
	CHECK(ck > 0);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, &held_sub, 1), 1);
	CHECK_EQ(held_sub.d.reserved, 0);
	CHECK_EQ(mw_shm_dp_complete(dp, &held_sub, 0), 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	/* an unknown bit: refused before anything is queued */
	m.flags = 2;
	CHECK_EQ(mw_client_alloc(c, 64, 0, &b), 0);
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EINVAL);
	CHECK_EQ(mw_client_free(c, &b), 0);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, &held_sub, 1), 0);

	/* the same bit written straight into the SUBMIT ring: the data
	 * plane answers MW_EINVAL, with no flags in the COMPLETE */
	mw_shm_ring_bind(&sub, h, h, MW_SHM_RING_SUBMIT, 1);
	mw_shm_ring_bind(&comp, h, h, MW_SHM_RING_COMPLETE, 0);
	memset(&d, 0, sizeof(d));
	d.cookie = 77;
	d.ndim = 1;
	d.dims[0] = 0;
	d.dtype = MW_DT_U8;
	d.codec = MW_SHM_CODEC_RAW;
	d.kind = MW_SHM_KIND_OTHER;
	d.reserved = 0x3;
	CHECK_EQ(mw_shm_ring_enqueue(&sub, &d, 1), 1);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, &held_sub, 1), 0);
	memset(&d, 0xff, sizeof(d));
	CHECK_EQ(mw_shm_ring_dequeue(&comp, &d, 1), 1);
	CHECK_EQ(d.cookie, 77);
	CHECK_EQ(d.status, MW_EINVAL);
	CHECK_EQ(d.reserved, 0);
	mw_client_detach(c);

	/* an older data plane (minor 2): no RELIABLE sends */
	h->abi_minor = 2;
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	m.flags = MW_CLIENT_SEND_RELIABLE;
	CHECK_EQ(mw_client_alloc(c, 64, 0, &b), 0);
	CHECK_EQ(mw_client_send(c, &b, &m, 0), MW_EUNSUPP);
	CHECK_EQ(mw_client_free(c, &b), 0);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
}

/* Accepted peers: the client reads an entry's flags and gen, sends
 * naming the gen (routed), the gen of a peer that left or none
 * (MW_ESTALE, nothing sent), and gets the source's gen with a delivery. */
static void test_peer_generations(void)
{
	const char *name = test_name("peer-gen");
	struct mw_client_peer p[4];
	struct mw_shm_peer_info pi;
	struct mw_client_failure f;
	struct mw_client_meta m;
	struct mw_client_rx rx;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_client *c;
	int64_t ck;
	int status;

	cfg_small(&cfg, 4, 4, 4);
	cfg.geom.peer_cap = 3;
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	memset(&pi, 0, sizeof(pi));
	pi.ip[0] = 10;
	pi.port = 7001;
	pi.state = MW_SHM_PEER_UP;
	pi.gen = 1;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 0, &pi), 0);
	pi.ip[3] = 7;
	pi.state = MW_SHM_PEER_CONNECTING;
	pi.flags = MW_SHM_PEER_ACCEPTED;
	pi.gen = 3;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &pi), 0);
	CHECK_EQ(attach_served(dp, name, NULL, &c), 0);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[0].flags, 0);
	CHECK_EQ(p[0].gen, 1);
	CHECK_EQ(p[1].flags, MW_CLIENT_PEER_ACCEPTED);
	CHECK_EQ(p[1].gen, 3);
	CHECK_EQ(p[1].ip[3], 7);

	/* its gen: routed, and the delivery names the source's gen */
	meta_1d(&m, MW_DT_U8, 10, 5);
	m.peer = 1;
	m.peer_gen = p[1].gen;
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	dp_step(dp, 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, 0);
	CHECK_EQ(mw_client_recv(c, &rx, 1000), 0);
	CHECK_EQ(rx.meta.peer, 1);
	CHECK_EQ(rx.meta.peer_gen, 3);
	CHECK_EQ(mw_client_release(c, &rx.buf), 0);
	/* no gen to an accepted index */
	m.peer_gen = 0;
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	CHECK_EQ(dp_step(dp, 0), 0);
	CHECK_EQ(mw_client_wait(c, ck, 1000, &status), 0);
	CHECK_EQ(status, MW_ESTALE);
	/* the device leaves, another takes index 1: the old gen fails,
	 * through mw_client_poll_failure() too, naming the index */
	pi.ip[3] = 8;
	pi.gen = 4;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &pi), 0);
	m.peer_gen = 3;
	ck = send_pattern(c, &m, 3);
	CHECK(ck > 0);
	CHECK_EQ(dp_step(dp, 0), 0);
	for (int i = 0; i < 100 && mw_client_poll_failure(c, &f) == 0; i++)
		usleep(1000);
	CHECK_EQ(f.cookie, ck);
	CHECK_EQ(f.status, MW_ESTALE);
	CHECK_EQ(f.peer, 1);
	CHECK_EQ(mw_client_peers(c, p, 4), 2);
	CHECK_EQ(p[1].gen, 4);
	CHECK_EQ(p[1].ip[3], 8);
	mw_client_detach(c);
	mw_shm_dp_destroy(dp, 1);
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
	test_peers();
	test_peer_generations();
	test_send_flags();
	return mw_test_exit("test_maskwire");
}
