/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of maskwire.c (libmaskwire): what a send and a delivery name
 * besides the tensor - the peer table as the client reads it, a send's
 * destination and its generation, a delivery's source, the SUBMIT flags -
 * against data planes of the current ABI minor and older ones.
 */
#include "client_test.h"

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
	test_peers();
	test_peer_generations();
	test_send_flags();
	return mw_test_exit("test_maskwire_peers");
}
