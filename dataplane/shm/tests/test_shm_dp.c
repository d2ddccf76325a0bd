/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of shm_dp.c (with shm_os.c): the data-plane side driven against
 * an app emulated at the byte level, the way a third-party client would
 * speak docs/SHM.md. Covers attach, submits and credits, deliveries and
 * releases, app death and replacement, protocol errors, an app that
 * rewrites descriptors while they are read, a file shrunk or grown under
 * the data plane, stale regions replaced at start-up. The peer table:
 * test_shm_dp_peers.c.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rawapp.h"

static void test_create(void)
{
	const char *name = test_name("create");
	struct mw_shm_dp *dp, *dp2;
	struct mw_shm_cfg cfg;
	struct mw_shm_hdr *h;
	char path[MW_SHM_PATH_MAX];
	struct stat st;
	uint64_t gen, hb;
	int fd;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	mw_shm_os_path(name, path, sizeof(path));
	CHECK_EQ(stat(path, &st), 0);
	h = mw_shm_dp_base(dp);
	CHECK_EQ(mw_shm_hdr_check(h, (uint64_t)st.st_size), 0);
	CHECK_EQ(atomic_load(&h->dp_state), MW_SHM_DP_READY);
	CHECK_EQ(h->dp_pid, getpid());
	gen = h->dp_generation;
	hb = atomic_load(&h->dp_heartbeat);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), 0); /* no app */
	CHECK_EQ(atomic_load(&h->dp_heartbeat), hb + 1);

	/* one data plane per name */
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp2), MW_EBUSY);
	CHECK_EQ(mw_shm_dp_create("", &cfg, &dp2), MW_EINVAL);
	cfg.geom.ring_size = 3;
	CHECK_EQ(mw_shm_dp_create(test_name("bad"), &cfg, &dp2), MW_EINVAL);
	cfg_small(&cfg);

	/* a dead region (not unlinked) is replaced with a new generation */
	mw_shm_dp_destroy(dp, 0);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	h = mw_shm_dp_base(dp);
	CHECK_EQ(h->dp_generation, gen + 1);
	mw_shm_dp_destroy(dp, 1);
	CHECK(stat(path, &st) != 0);

	/* a file that is not a region is never replaced */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	CHECK_EQ(write(fd, "precious", 8), 8);
	close(fd);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), MW_EBADMAGIC);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_size, 8);
	unlink(path);
}

static void test_submits(void)
{
	const char *name = test_name("sub");
	struct mw_shm_desc d[8], out[8];
	struct mw_shm_sub subs[8];
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	unsigned i;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 8), 0); /* no app */
	raw_attach(&a, dp, name);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), 0);

	/* valid: data points at the app's buffer */
	f32_desc(&d[0], a.h, 2, 40, 1);
	memcpy(a.base + d[0].buf_off, "abcd", 4);
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 1), 1);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 8), 1);
	CHECK_EQ(subs[0].d.cookie, 1);
	CHECK(memcmp(subs[0].data, "abcd", 4) == 0);
	CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), 0);
	CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), MW_ESTATE);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 8), 1);
	CHECK_EQ(out[0].cookie, 1);
	CHECK_EQ(out[0].status, 0);

	/* invalid ones are answered with failures, never returned */
	f32_desc(&d[0], a.h, 7, 64, 2);  /* runs past the TX pool */
	f32_desc(&d[1], a.h, 0, 4, 3);
	d[1].dtype = 42;                 /* unknown dtype */
	f32_desc(&d[2], a.h, 0, 4, 4);
	d[2].buf_len = 15;               /* length disagrees with shape */
	f32_desc(&d[3], a.h, 0, 4, 5);
	d[3].buf_off = a.h->rx_off;      /* not in the TX pool */
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 4), 4);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 8), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 8), 4);
	CHECK_EQ(out[0].status, MW_ERANGE);
	CHECK_EQ(out[1].status, MW_EINVAL);
	CHECK_EQ(out[2].status, MW_EINVAL);
	CHECK_EQ(out[3].status, MW_ERANGE);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.bad_submits, 4);
	CHECK_EQ(st.failures, 4);
	CHECK_EQ(st.completions, 1);

	/* credits: a submit is taken only with a completion slot for it */
	for (i = 0; i < 4; i++)
		f32_desc(&d[i], a.h, i, 8, 10 + i);
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 4), 4);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 8), 4);
	for (i = 0; i < 4; i++)
		f32_desc(&d[i], a.h, 4 + i, 8, 20 + i);
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 4), 4);
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 1), 0); /* submit ring full */
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs + 4, 4), 0); /* no credit */
	for (i = 0; i < 4; i++)
		CHECK_EQ(mw_shm_dp_complete(dp, &subs[i], i ? 0 : MW_EIO), 0);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs + 4, 4), 0); /* unread */
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 2), 2);
	CHECK_EQ(out[0].status, MW_EIO);
	CHECK_EQ(out[1].cookie, 11);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs + 4, 4), 2);
	CHECK_EQ(subs[4].d.cookie, 20);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.inflight, 2);

	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

static void test_deliveries(void)
{
	const char *name = test_name("rx");
	struct mw_shm_desc meta, out[8], rel[8];
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	void *buf[8];
	int i;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 100, &buf[0]), MW_EAGAIN); /* no app */
	raw_attach(&a, dp, name);

	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 10u * 128 + 1, &buf[0]), MW_ELIMIT);
	memset(&meta, 0, sizeof(meta));
	meta.dtype = MW_DT_U8;
	meta.codec = MW_SHM_CODEC_RAW;
	meta.kind = MW_SHM_KIND_LABELS;
	meta.ndim = 1;
	meta.dims[0] = 200; /* 2 slots */
	meta.tag = 99;
	/* the DELIVER ring (4) limits buffers in flight to the app */
	for (i = 0; i < 4; i++) {
		CHECK_EQ(mw_shm_dp_rx_alloc(dp, 200, &buf[i]), 0);
		memset(buf[i], 'a' + i, 200);
	}
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 1, &buf[4]), MW_EAGAIN);
	meta.dims[0] = 199;
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[0], 200, &meta), MW_EINVAL);
	meta.dims[0] = 200;
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[0], 201, &meta), MW_EINVAL);
	for (i = 0; i < 4; i++)
		CHECK_EQ(mw_shm_dp_deliver(dp, buf[i], 200, &meta), 0);
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[0], 200, &meta), MW_EINVAL);
	CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, out, 8), 4);
	for (i = 0; i < 4; i++) {
		CHECK_EQ(out[i].tag, 99);
		CHECK_EQ(out[i].buf_len, 200);
		CHECK_EQ(a.base[out[i].buf_off + 199], 'a' + i);
	}
	/* ring drained: now the pool (10 slots, 8 held) limits */
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 200, &buf[4]), 0);
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 1, &buf[5]), MW_EAGAIN);
	CHECK_EQ(mw_shm_dp_rx_free(dp, buf[4], 199), MW_EINVAL);
	CHECK_EQ(mw_shm_dp_rx_free(dp, buf[4], 200), 0);
	CHECK_EQ(mw_shm_dp_rx_free(dp, buf[4], 200), MW_EINVAL);

	/* releases: good ones free slots; forged/duplicate ones are counted */
	memset(rel, 0, sizeof(rel));
	rel[0].buf_off = out[0].buf_off;
	rel[0].buf_len = 200;
	rel[1] = rel[0];                 /* twice */
	rel[2].buf_off = out[1].buf_off + 128; /* not a buffer start */
	rel[2].buf_len = 200;
	rel[3].buf_off = out[2].buf_off;
	rel[3].buf_len = 100;            /* wrong length */
	rel[4].buf_off = 12;             /* the header */
	rel[4].buf_len = 200;
	CHECK_EQ(mw_shm_ring_enqueue(&a.rel, rel, 5), 5);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.releases, 1);
	CHECK_EQ(st.bad_releases, 4);
	CHECK_EQ(st.rx_free_slots, 4);

	/* 0-byte tensors take a ring slot, no pool slot */
	meta.dims[0] = 0;
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 0, &buf[6]), 0);
	CHECK(buf[6] != NULL);
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[6], 0, &meta), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, out, 8), 1);
	CHECK_EQ(out[0].buf_len, 0);
	CHECK_EQ(out[0].buf_off, 0);

	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

/* An app that dies holding buffers does not wedge the data plane. */
static void test_app_death(void)
{
	const char *name = test_name("death");
	struct mw_shm_desc meta, d[2], out[4];
	struct mw_shm_sub subs[2];
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a, b;
	void *buf[4];
	int i;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	raw_attach(&a, dp, name);
	memset(&meta, 0, sizeof(meta));
	meta.dtype = MW_DT_F32;
	meta.ndim = 1;
	meta.dims[0] = 64; /* 2 slots */
	for (i = 0; i < 3; i++) {
		CHECK_EQ(mw_shm_dp_rx_alloc(dp, 256, &buf[i]), 0);
		if (i < 2)
			CHECK_EQ(mw_shm_dp_deliver(dp, buf[i], 256, &meta), 0);
	}
	CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, out, 1), 1); /* held by app */
	f32_desc(&d[0], a.h, 0, 8, 1);
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 1), 1);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 2), 1);

	raw_die(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), MW_SHM_EV_APP_GONE);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.reclaimed, 1); /* held; the untaken one is kept */
	CHECK_EQ(st.rx_free_slots, 10 - 4); /* untaken + being filled stay */
	CHECK_EQ(st.app_attached, 0);
	CHECK_EQ(st.inflight, 0);
	CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), MW_ERESET);
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[2], 256, &meta), MW_EAGAIN);
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 1, &buf[3]), MW_EAGAIN);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), 0); /* nothing new */

	/* a new app starts on fresh rings holding what the dead one never
	 * took, then gets the pending tensor, in order */
	raw_attach(&b, dp, name);
	CHECK(b.gen != a.gen);
	CHECK_EQ(mw_shm_ring_count(&b.deliv), 1);
	CHECK_EQ(mw_shm_dp_deliver(dp, buf[2], 256, &meta), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&b.deliv, out, 4), 2);
	CHECK_EQ(out[0].buf_off, (uint64_t)((uint8_t *)buf[1] -
					    (uint8_t *)mw_shm_dp_base(dp)));
	CHECK_EQ(out[1].buf_off, (uint64_t)((uint8_t *)buf[2] -
					    (uint8_t *)mw_shm_dp_base(dp)));
	CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), 0); /* b is alive */
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.attaches, 2);
	CHECK_EQ(st.app_gone, 1);
	CHECK_EQ(st.redelivered, 1);

	/* replaced before its death was probed: GONE first, NEW next call */
	raw_die(&b);
	raw_open(&a, name);
	raw_announce(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns), MW_SHM_EV_APP_GONE);
	CHECK_EQ(atomic_load(&a.h->app_ack), 0);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns), MW_SHM_EV_APP_NEW);
	raw_bind(&a);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.rx_free_slots, 10);

	/* a clean detach (close) is noticed at the next probe */
	raw_die(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), MW_SHM_EV_APP_GONE);
	mw_shm_dp_destroy(dp, 1);
}

/* Impossible ring indices from the app drop it instead of being used. */
static void test_proto_error(void)
{
	const char *name = test_name("proto");
	struct mw_shm_sub subs[4];
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	void *buf;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	raw_attach(&a, dp, name);
	atomic_store(&a.sub.ctl->head, 1000);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 4), 0);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), MW_SHM_EV_APP_GONE);
	CHECK_EQ(atomic_load(&a.h->app_ack), 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.proto_errors, 1);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), 0); /* not re-accepted */

	/* the app re-announces itself: served again on clean rings */
	raw_announce(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), MW_SHM_EV_APP_NEW);
	raw_bind(&a);
	CHECK_EQ(atomic_load(&a.sub.ctl->head), 0);

	/* a consumer index ahead of the producer, on the DELIVER ring */
	atomic_store(&a.deliv.ctl->tail, 3);
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 8, &buf), MW_EAGAIN);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), MW_SHM_EV_APP_GONE);
	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

/* Link counters are published in the header, seq last. */
static void test_publish_wire(void)
{
	const char *name = test_name("wire");
	struct mw_shm_wire_counts w = {
		.tx_frames = 1, .tx_bytes = 2, .rx_frames = 3, .rx_bytes = 4,
		.tensors_tx = 5, .tensors_rx = 6, .tensors_failed = 7,
		.retransmits = 8, .dense_tx_bytes = 9, .dense_rx_bytes = 10,
	};
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct mw_shm_hdr *h;
	unsigned i;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	h = mw_shm_dp_base(dp);
	CHECK_EQ(atomic_load(&h->wire.seq), 0);
	CHECK_EQ(atomic_load(&h->wire.tx_bytes), 0);
	mw_shm_dp_publish_wire(dp, &w);
	CHECK_EQ(atomic_load(&h->wire.seq), 1);
	CHECK_EQ(atomic_load(&h->wire.tx_frames), 1);
	CHECK_EQ(atomic_load(&h->wire.tx_bytes), 2);
	CHECK_EQ(atomic_load(&h->wire.rx_frames), 3);
	CHECK_EQ(atomic_load(&h->wire.rx_bytes), 4);
	CHECK_EQ(atomic_load(&h->wire.tensors_tx), 5);
	CHECK_EQ(atomic_load(&h->wire.tensors_rx), 6);
	CHECK_EQ(atomic_load(&h->wire.tensors_failed), 7);
	CHECK_EQ(atomic_load(&h->wire.retransmits), 8);
	CHECK_EQ(atomic_load(&h->wire.dense_tx_bytes), 9);
	CHECK_EQ(atomic_load(&h->wire.dense_rx_bytes), 10);
	w.tx_bytes = 20;
	mw_shm_dp_publish_wire(dp, &w);
	CHECK_EQ(atomic_load(&h->wire.seq), 2);
	CHECK_EQ(atomic_load(&h->wire.tx_bytes), 20);
	/* the rest of the header stays as it was (zero) */
	for (i = 0; i < sizeof(h->wire.reserved) / 8; i++)
		CHECK_EQ(h->wire.reserved[i], 0);
	for (i = 0; i < sizeof(h->tail_pad); i++)
		CHECK_EQ(h->tail_pad[i], 0);
	mw_shm_dp_destroy(dp, 1);
}

/* The region's file shrunk (to 0, to half) or grown under a served app:
 * the data plane survives, drops the app, gives up what the region held,
 * publishes a new file under the same name and serves the next app. */
static void test_resized(void)
{
	static const char *what[] = {"zero", "half", "grown"};
	unsigned mode;

	for (mode = 0; mode < 3; mode++) {
		const char *name = test_name(what[mode]);
		struct mw_shm_desc meta, d[2], out[4];
		struct mw_shm_sub subs[2];
		struct mw_shm_dp_stats st;
		struct mw_shm_cfg cfg;
		struct mw_shm_dp *dp;
		struct mw_shm_hdr *h;
		struct rawapp a, b;
		char path[MW_SHM_PATH_MAX];
		uint64_t gen0, size;
		unsigned ev = 0;
		void *buf[4];
		struct stat sb;
		int i;

		cfg_small(&cfg);
		CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
		mw_shm_os_path(name, path, sizeof(path));
		h = mw_shm_dp_base(dp);
		gen0 = h->dp_generation;
		size = h->region_size;
		raw_attach(&a, dp, name);
		memset(&meta, 0, sizeof(meta));
		meta.dtype = MW_DT_F32;
		meta.ndim = 1;
		meta.dims[0] = 64; /* 2 slots */
		for (i = 0; i < 3; i++) {
			CHECK_EQ(mw_shm_dp_rx_alloc(dp, 256, &buf[i]), 0);
			if (i < 2)
				CHECK_EQ(mw_shm_dp_deliver(dp, buf[i], 256,
							   &meta),
					 0);
		}
		CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, out, 1), 1); /* held */
		f32_desc(&d[0], a.h, 6, 64, 1); /* the TX pool's last slots */
		CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 1), 1);
		CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 2), 1);

		CHECK_EQ(ftruncate(a.fd, mode == 0   ? 0
					 : mode == 1 ? (off_t)size / 2
						     : (off_t)size * 2),
			 0);
		if (mode == 1) {
			/* the encoder reads the submit: past the end now */
			const volatile uint8_t *p = subs[0].data;

			CHECK_EQ(p[255], 0); /* no SIGBUS */
		}
		for (i = 0; i < 4 && !(ev & MW_SHM_EV_REGION_NEW); i++)
			ev |= mw_shm_dp_service(dp, t_ns += 5000);
		CHECK_EQ(ev, MW_SHM_EV_APP_GONE | MW_SHM_EV_REGION_BROKEN |
				     MW_SHM_EV_REGION_NEW);
		mw_shm_dp_stats(dp, &st);
		CHECK_EQ(st.broken, 1);
		CHECK_EQ(st.faults, mode < 2 ? 1 : 0);
		CHECK_EQ(st.recreated, 1);
		CHECK_EQ(st.app_attached, 0);
		CHECK_EQ(st.dp_generation, gen0 + 1);
		CHECK_EQ(st.rx_lost, 0); /* the untaken one was reclaimed */

		/* a new file under the name; the old one's lock is gone */
		CHECK_EQ(stat(path, &sb), 0);
		CHECK_EQ((uint64_t)sb.st_size, size);
		CHECK(mw_shm_dp_base(dp) == h); /* same address */
		CHECK_EQ(mw_shm_hdr_check(h, size), 0);
		CHECK_EQ(h->dp_generation, gen0 + 1);
		CHECK_EQ(mw_shm_os_locked(a.fd, MW_SHM_LOCK_DP), 0);

		/* what was in flight for the old app */
		CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], MW_ECHANGED),
			 MW_ERESET);
		CHECK_EQ(mw_shm_dp_deliver(dp, buf[2], 256, &meta), MW_ERESET);
		CHECK_EQ(mw_shm_dp_rx_free(dp, buf[2], 256), 0);
		mw_shm_dp_stats(dp, &st);
		CHECK_EQ(st.rx_lost, 1);
		CHECK_EQ(st.rx_free_slots, 10);
		raw_die(&a);

		/* the next app is served as usual */
		raw_attach(&b, dp, name);
		CHECK_EQ(b.gen, 1);
		f32_desc(&d[0], b.h, 6, 64, 2);
		memcpy(b.base + d[0].buf_off, "wxyz", 4);
		CHECK_EQ(mw_shm_ring_enqueue(&b.sub, d, 1), 1);
		CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 2), 1);
		CHECK(memcmp(subs[0].data, "wxyz", 4) == 0);
		CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), 0);
		CHECK_EQ(mw_shm_ring_dequeue(&b.comp, out, 4), 1);
		CHECK_EQ(out[0].cookie, 2);
		CHECK_EQ(mw_shm_dp_rx_alloc(dp, 256, &buf[0]), 0);
		memset(buf[0], 7, 256);
		CHECK_EQ(mw_shm_dp_deliver(dp, buf[0], 256, &meta), 0);
		CHECK_EQ(mw_shm_ring_dequeue(&b.deliv, out, 4), 1);
		CHECK_EQ(b.base[out[0].buf_off + 255], 7);
		CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), 0);
		raw_die(&b);
		mw_shm_dp_destroy(dp, 1);
		CHECK(stat(path, &sb) != 0);
	}
}

/* Nobody attached: a shrunk file is noticed by the first access (the
 * heartbeat) or by the size check when an app announces itself. */
static void test_resized_idle(void)
{
	const char *name = test_name("idle");
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	char path[MW_SHM_PATH_MAX];
	struct rawapp a;
	uint64_t size;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	mw_shm_os_path(name, path, sizeof(path));
	size = ((struct mw_shm_hdr *)mw_shm_dp_base(dp))->region_size;
	CHECK_EQ(truncate(path, 0), 0);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++),
		 MW_SHM_EV_REGION_BROKEN | MW_SHM_EV_REGION_NEW);

	/* the header survives a half file: the announcement finds it */
	raw_open(&a, name);
	CHECK_EQ(ftruncate(a.fd, (off_t)size / 2), 0);
	raw_announce(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++),
		 MW_SHM_EV_REGION_BROKEN | MW_SHM_EV_REGION_NEW);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.attaches, 0);
	CHECK_EQ(st.broken, 2);
	CHECK_EQ(st.faults, 1);
	CHECK_EQ(st.dp_generation, 3);
	raw_die(&a);
	raw_attach(&a, dp, name);
	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

/* A region left behind (its data plane died) is replaced at start-up,
 * also when its file was truncated; a live one is not. */
static void test_stale(void)
{
	const char *name = test_name("stale");
	struct mw_shm_dp *dp, *dp2;
	struct mw_shm_cfg cfg;
	char path[MW_SHM_PATH_MAX];

	cfg_small(&cfg);
	mw_shm_os_path(name, path, sizeof(path));
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp2), MW_EBUSY);
	mw_shm_dp_destroy(dp, 0);
	CHECK_EQ(truncate(path, 0), 0);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(((struct mw_shm_hdr *)mw_shm_dp_base(dp))->dp_generation, 1);
	mw_shm_dp_destroy(dp, 0);
	CHECK_EQ(truncate(path, 100), 0); /* the magic is still there */
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	CHECK_EQ(((struct mw_shm_hdr *)mw_shm_dp_base(dp))->dp_generation, 2);
	mw_shm_dp_destroy(dp, 1);
}

static void forge(struct mw_shm_desc *d, const struct mw_shm_hdr *h,
		  unsigned k)
{
	memset(d, 0, sizeof(*d));
	d->dtype = MW_DT_F32;
	d->ndim = 1;
	switch (k % 4) {
	case 0: /* huge, pointing at the RX pool */
		d->dims[0] = 1u << 30;
		d->buf_len = 4ull << 30;
		d->buf_off = h->rx_off;
		break;
	case 1: /* shape and length of the whole TX pool, shifted */
		d->dims[0] = h->tx_slots * h->slot_size / 4;
		d->buf_len = (uint64_t)h->tx_slots * h->slot_size;
		d->buf_off = h->tx_off + h->slot_size;
		break;
	case 2: /* rank and dtype out of range */
		d->ndim = 200;
		d->dtype = 77;
		d->buf_off = h->tx_off;
		break;
	default: /* another RX buffer's place, not slot aligned */
		d->dims[0] = 16;
		d->buf_len = 64;
		d->buf_off = h->rx_off + 64;
		break;
	}
}

/*
 * Torn descriptors: what a copy taken while the app rewrites a slot can
 * hold. Every mix of field groups of a valid submit and a forged one goes
 * through the SUBMIT ring; the data plane takes exactly those the check
 * accepts on the copy, each as copied and pointing at its own buffer, and
 * answers every other one with a failure.
 */
static void test_torn_submits(void)
{
	static const struct {
		unsigned off, len;
	} grp[] = {{0, 16}, {16, 8}, {24, 8}, {32, 32}, {64, 2}, {66, 6},
		   {80, 16}};
	const unsigned ngrp = sizeof(grp) / sizeof(grp[0]);
	const char *name = test_name("torn");
	struct mw_shm_desc v, f, d, out;
	struct mw_shm_sub sub;
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	unsigned k, mask, g, n, taken = 0, refused = 0, mismatch = 0;
	uint64_t pool_len;
	uint8_t *base;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	base = mw_shm_dp_base(dp);
	raw_attach(&a, dp, name);
	pool_len = (uint64_t)a.h->tx_slots * a.h->slot_size;
	for (k = 0; k < 4; k++) {
		for (mask = 0; mask < (1u << ngrp); mask++) {
			int want;

			f32_desc(&v, a.h, 3, 32, 1 + mask);
			forge(&f, a.h, k);
			d = v;
			for (g = 0; g < ngrp; g++)
				if (mask & (1u << g))
					memcpy((uint8_t *)&d + grp[g].off,
					       (uint8_t *)&f + grp[g].off,
					       grp[g].len);
			want = mw_shm_desc_check(&d, a.h->tx_off, pool_len) == 0;
			CHECK_EQ(mw_shm_ring_enqueue(&a.sub, &d, 1), 1);
			n = mw_shm_dp_poll_submits(dp, &sub, 1);
			if (n == 1) {
				taken++;
				sub.d.status = d.status;
				if (!want || memcmp(&sub.d, &d, sizeof(d)) ||
				    (d.buf_len && sub.data != base + d.buf_off))
					mismatch++;
				CHECK_EQ(mw_shm_dp_complete(dp, &sub, 0), 0);
			} else {
				refused++;
				if (want)
					mismatch++;
			}
			CHECK_EQ(mw_shm_ring_dequeue(&a.comp, &out, 1), 1);
			CHECK_EQ(out.status == 0, n == 1);
		}
	}
	CHECK_EQ(mismatch, 0);
	CHECK(taken > 0 && refused > 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.bad_submits, refused);
	CHECK_EQ(st.proto_errors, 0);
	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

/*
 * An app that rewrites its descriptors while the data plane reads them: a
 * thread produces valid submits and, all the time, overwrites every SUBMIT
 * and DELIVER slot with valid and forged descriptors in turn (and the TX
 * buffers). Each descriptor is copied once and checked on the copy: every
 * submit the data plane returns is valid as returned, with data pointing
 * at its own buffer offset; every delivery kept for the next app names a
 * buffer that was delivered, once.
 */
struct racer {
	struct rawapp *a;
	atomic_int stop;
	atomic_ulong rounds;
};

static void *race_run(void *arg)
{
	struct racer *r = arg;
	struct rawapp *a = r->a;
	const struct mw_shm_hdr *h = a->h;
	struct mw_shm_desc v, f, c[4];
	uint32_t sub_cap = h->ring[MW_SHM_RING_SUBMIT].cap;
	uint32_t del_cap = h->ring[MW_SHM_RING_DELIVER].cap;
	unsigned k = 0, i;

	while (!atomic_load(&r->stop)) {
		f32_desc(&v, h, k % h->tx_slots, 32, 1 + k);
		mw_shm_ring_enqueue(&a->sub, &v, 1);
		while (mw_shm_ring_dequeue(&a->comp, c, 4) > 0)
			continue;
		for (i = 0; i < 2 * sub_cap; i++) {
			struct mw_shm_desc *s = &a->sub.slot[i % sub_cap];

			forge(&f, h, k + i);
			memcpy(s, i & 1 ? &v : &f, sizeof(*s));
			memset(a->base + h->tx_off + (i % h->tx_slots) *
						     h->slot_size,
			       (int)i, h->slot_size);
		}
		for (i = 0; i < del_cap; i++) {
			forge(&f, h, k + i + 3);
			if (k & 1)
				memcpy(&a->deliv.slot[i], &f, sizeof(f));
			else
				a->deliv.slot[i].buf_off += h->slot_size;
		}
		k++;
		atomic_fetch_add(&r->rounds, 1);
	}
	return NULL;
}

static void test_racing_app(void)
{
	const char *name = test_name("race");
	struct mw_shm_desc meta, out[8];
	struct mw_shm_sub subs[8];
	struct mw_shm_dp_stats st;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct racer r;
	struct rawapp a, b;
	uint64_t delivered[4], taken = 0, bad = 0;
	unsigned n, i, j, ndel = 0;
	pthread_t t;
	void *buf;
	uint8_t *base;
	long it;

	cfg_small(&cfg);
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	base = mw_shm_dp_base(dp);
	raw_attach(&a, dp, name);
	memset(&st, 0, sizeof(st));
	memset(&meta, 0, sizeof(meta));
	meta.dtype = MW_DT_U8;
	meta.codec = MW_SHM_CODEC_RAW;
	meta.ndim = 1;
	meta.dims[0] = 128;
	/* deliveries the app never takes; the racer rewrites their slots */
	while (mw_shm_dp_rx_alloc(dp, 128, &buf) == 0 && ndel < 4) {
		CHECK_EQ(mw_shm_dp_deliver(dp, buf, 128, &meta), 0);
		delivered[ndel++] = (uint64_t)((uint8_t *)buf - base);
	}
	r.a = &a;
	atomic_init(&r.stop, 0);
	atomic_init(&r.rounds, 0);
	CHECK_EQ(pthread_create(&t, NULL, race_run, &r), 0);
	while (atomic_load(&r.rounds) == 0)
		sched_yield();
	/* until 1000 descriptors were read (or a bound on a loaded host) */
	for (it = 0; it < 20000000 && st.submits + st.bad_submits < 1000;
	     it++) {
		n = mw_shm_dp_poll_submits(dp, subs, 8);
		for (i = 0; i < n; i++) {
			const struct mw_shm_desc *d = &subs[i].d;

			taken++;
			if (mw_shm_desc_check(d, a.h->tx_off,
					      (uint64_t)a.h->tx_slots *
						      a.h->slot_size) != 0 ||
			    (d->buf_len && subs[i].data != base + d->buf_off) ||
			    d->buf_off + d->buf_len >
				    a.h->tx_off + (uint64_t)a.h->tx_slots *
							  a.h->slot_size)
				bad++;
			mw_shm_dp_complete(dp, &subs[i], 0);
		}
		mw_shm_dp_service(dp, t_ns++);
		mw_shm_dp_stats(dp, &st);
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	CHECK_EQ(bad, 0);
	CHECK(taken > 0);
	CHECK(st.bad_submits > 0); /* torn and forged copies were refused */
	CHECK_EQ(st.proto_errors, 0);

	/* the app goes: what it left untaken is kept only where the
	 * (rewritten) slot still names a buffer delivered to it */
	raw_die(&a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns += 5000), MW_SHM_EV_APP_GONE);
	raw_attach(&b, dp, name);
	n = (unsigned)mw_shm_ring_dequeue(&b.deliv, out, 8);
	CHECK(n <= ndel);
	for (i = 0; i < n; i++) {
		int known = 0;

		for (j = 0; j < ndel; j++)
			known += out[i].buf_off == delivered[j];
		CHECK_EQ(known, 1);
		for (j = 0; j < i; j++)
			CHECK(out[j].buf_off != out[i].buf_off);
		CHECK_EQ(out[i].buf_len, 128);
	}
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.redelivered, n);
	CHECK_EQ(st.reclaimed, ndel - n);
	CHECK_EQ(st.rx_free_slots, 10 - n);
	raw_die(&b);
	mw_shm_dp_destroy(dp, 1);
}

int main(void)
{
	test_create();
	test_submits();
	test_deliveries();
	test_app_death();
	test_proto_error();
	test_publish_wire();
	test_resized();
	test_resized_idle();
	test_stale();
	test_torn_submits();
	test_racing_app();
	return mw_test_exit("test_shm_dp");
}
