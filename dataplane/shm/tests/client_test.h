/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers of the client library's tests (test_maskwire.c,
 * test_maskwire_peers.c): a small data plane in the same process that
 * serves attaches from a thread and loops submits back as deliveries, and
 * patterned tensors to send and check.
 */
#ifndef CLIENT_TEST_H
#define CLIENT_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "maskwire.h"
#include "mw_shm_dp.h"
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

#endif /* CLIENT_TEST_H */
