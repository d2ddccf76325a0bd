/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests of shm_dp.c's peer table (docs/SHM.md "Peers") against an app
 * emulated at the byte level (rawapp.h): what the data plane publishes,
 * how it routes by the descriptors' peer index whatever the app writes
 * into the region's table, and the source it names in DELIVER.
 */
#include <string.h>

#include "rawapp.h"

static struct mw_shm_peer *raw_peer(struct rawapp *a, uint32_t i)
{
	return (struct mw_shm_peer *)(a->base + a->h->peer_off +
				      MW_SHM_PEER_CTL_SIZE +
				      (uint64_t)i * MW_SHM_PEER_SIZE);
}

/* The peer table and the descriptors' peer index: the data plane
 * publishes its peers, routes by the index the app writes (checked
 * against its private table, whatever the app scribbles on the region's),
 * echoes it in COMPLETE and names the source in DELIVER. */
static void test_peers(void)
{
	const char *name = test_name("peers");
	struct mw_shm_desc d[4], out[4];
	struct mw_shm_peer_info p;
	struct mw_shm_sub subs[4];
	struct mw_shm_dp_stats st;
	struct mw_shm_peer e;
	struct mw_shm_peers *ctl;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	void *buf;

	cfg_small(&cfg);
	cfg.geom.peer_cap = 4;
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	raw_attach(&a, dp, name);
	CHECK_EQ(a.h->abi_minor, MW_SHM_ABI_MINOR);
	CHECK_EQ(a.h->peer_cap, 4);
	CHECK(a.h->peer_off >= a.h->ring[MW_SHM_RING_RELEASE].off +
				       MW_SHM_RING_BYTES(
					       a.h->ring[MW_SHM_RING_RELEASE].cap));
	CHECK(a.h->peer_off + MW_SHM_PEER_CTL_SIZE + 4u * MW_SHM_PEER_SIZE <=
	      a.h->tx_off);
	CHECK_EQ(mw_shm_peer_count(a.base, a.h), 0);

	memset(&p, 0, sizeof(p));
	p.ip[0] = 10;
	p.ip[3] = 2;
	p.port = 7000;
	p.state = MW_SHM_PEER_UP;
	p.tensors_rx = 5;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 0, &p), MW_EINVAL); /* no gen */
	p.gen = 1;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 0, &p), 0);
	p.ip[3] = 3;
	p.state = MW_SHM_PEER_DOWN;
	p.gen = 2;
	p.restarts = 2;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), 0);
	CHECK_EQ(mw_shm_dp_peer_set(dp, 3, &p), 0); /* 2 stays NONE */
	CHECK_EQ(mw_shm_dp_peer_set(dp, 4, &p), MW_EINVAL);
	p.state = MW_SHM_PEER_STATE_COUNT_;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), MW_EINVAL);
	p.state = MW_SHM_PEER_DOWN;
	p.flags = 0x80; /* unknown flag */
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), MW_EINVAL);
	p.flags = 0;
	CHECK_EQ(mw_shm_peer_count(a.base, a.h), 4);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 0, &e), 0);
	CHECK_EQ(e.ip[0], 10);
	CHECK_EQ(e.ip[3], 2);
	CHECK_EQ(e.port, 7000);
	CHECK_EQ(e.state, MW_SHM_PEER_UP);
	CHECK_EQ(e.tensors_rx, 5);
	CHECK_EQ(e.gen, 1);
	CHECK_EQ(e.flags, 0);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 1, &e), 0);
	CHECK_EQ(e.restarts, 2);
	CHECK_EQ(e.state, MW_SHM_PEER_DOWN);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 2, &e), 0);
	CHECK_EQ(e.state, MW_SHM_PEER_NONE);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 4, &e), MW_ENOENT);

	/* the app scribbles on the table: its reads see it, the data
	 * plane's routing does not */
	ctl = (struct mw_shm_peers *)(a.base + a.h->peer_off);
	atomic_store(&ctl->count, 0xffffffffu);
	CHECK_EQ(mw_shm_peer_count(a.base, a.h), 4); /* clamped */
	raw_peer(&a, 2)->state = MW_SHM_PEER_UP;
	raw_peer(&a, 3)->state = 200;
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 3, &e), MW_EFORMAT);
	raw_peer(&a, 2)->gen = 0; /* minor 2: a peer without a generation */
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 2, &e), MW_EFORMAT);
	raw_peer(&a, 2)->gen = 9;
	atomic_store(&raw_peer(&a, 1)->seq, 7u); /* "being written" forever */
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 1, &e), MW_EAGAIN);

	/* SUBMIT: a good index is routed and echoed; no peer: MW_ENOENT */
	f32_desc(&d[0], a.h, 0, 4, 1);
	d[0].peer = 1;
	f32_desc(&d[1], a.h, 1, 4, 2);
	d[1].peer = 2;                  /* NONE, though the region says UP */
	f32_desc(&d[2], a.h, 2, 4, 3);
	d[2].peer = 4;                  /* beyond the table */
	f32_desc(&d[3], a.h, 3, 4, 4);
	d[3].peer = 0xffffffffu;
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 4), 4);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 4), 1);
	CHECK_EQ(subs[0].d.peer, 1);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 3);
	CHECK_EQ(out[0].cookie, 2);
	CHECK_EQ(out[0].status, MW_ENOENT);
	CHECK_EQ(out[0].peer, 2);
	CHECK_EQ(out[1].status, MW_ENOENT);
	CHECK_EQ(out[2].status, MW_ENOENT);
	CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 1);
	CHECK_EQ(out[0].cookie, 1);
	CHECK_EQ(out[0].peer, 1);
	CHECK_EQ(out[0].status, 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.bad_peers, 3);
	CHECK_EQ(st.bad_submits, 3);

	/* DELIVER names the source; an index beyond the table is refused */
	memset(&out[0], 0, sizeof(out[0]));
	out[0].dtype = MW_DT_U8;
	out[0].codec = MW_SHM_CODEC_RAW;
	out[0].ndim = 1;
	out[0].dims[0] = 10;
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 10, &buf), 0);
	out[0].peer = 4;
	CHECK_EQ(mw_shm_dp_deliver(dp, buf, 10, &out[0]), MW_EINVAL);
	out[0].peer = 3;
	CHECK_EQ(mw_shm_dp_deliver(dp, buf, 10, &out[0]), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, d, 4), 1);
	CHECK_EQ(d[0].peer, 3);

	/* a re-created region carries the table (as the data plane knows
	 * it, not as the app left it) */
	raw_die(&a);
	{
		char path[MW_SHM_PATH_MAX];
		mw_shm_os_path(name, path, sizeof(path));
		CHECK_EQ(truncate(path, 0), 0);
	}
	CHECK(mw_shm_dp_service(dp, t_ns++) & MW_SHM_EV_REGION_NEW);
	raw_open(&a, name);
	CHECK_EQ(mw_shm_peer_count(a.base, a.h), 4);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 1, &e), 0);
	CHECK_EQ(e.restarts, 2);
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 2, &e), 0);
	CHECK_EQ(e.state, MW_SHM_PEER_NONE);
	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

/* An accepted peer's index changes hands: every new peer there gets the
 * next gen, and a SUBMIT names the gen it means. A gen that is not the
 * entry's (the peer before, or a forged one), or none for an accepted
 * index, is answered MW_ESTALE whatever the region's table says; gen 0
 * still reaches a configured peer (apps of minor 1). DELIVER carries the
 * gen it is given. */
static void test_generations(void)
{
	const char *name = test_name("peer-gen");
	struct mw_shm_desc d[4], out[4];
	struct mw_shm_peer_info p;
	struct mw_shm_sub subs[4];
	struct mw_shm_dp_stats st;
	struct mw_shm_peer e;
	struct mw_shm_cfg cfg;
	struct mw_shm_dp *dp;
	struct rawapp a;
	void *buf;

	cfg_small(&cfg);
	cfg.geom.peer_cap = 4;
	CHECK_EQ(mw_shm_dp_create(name, &cfg, &dp), 0);
	raw_attach(&a, dp, name);
	memset(&p, 0, sizeof(p));
	p.ip[0] = 10;
	p.port = 7000;
	p.state = MW_SHM_PEER_UP;
	p.gen = 1;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 0, &p), 0); /* configured */
	p.ip[3] = 9;
	p.flags = MW_SHM_PEER_ACCEPTED;
	p.gen = 4;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), 0); /* accepted */
	CHECK_EQ(mw_shm_peer_load(a.base, a.h, 1, &e), 0);
	CHECK_EQ(e.flags, MW_SHM_PEER_ACCEPTED);
	CHECK_EQ(e.gen, 4);
	CHECK_EQ(e.ip[3], 9);

	/* to the configured peer: gen 0 (not checked) and its gen pass, a
	 * wrong one does not; to the accepted one only its gen */
	f32_desc(&d[0], a.h, 0, 4, 1);
	f32_desc(&d[1], a.h, 1, 4, 2);
	d[1].peer_gen = 1;
	f32_desc(&d[2], a.h, 2, 4, 3);
	d[2].peer = 1;
	d[2].peer_gen = 4;
	f32_desc(&d[3], a.h, 3, 4, 4);
	d[3].peer_gen = 2;
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 4), 4);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 4), 3);
	CHECK_EQ(subs[2].d.peer, 1);
	CHECK_EQ(subs[2].d.peer_gen, 4);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 1);
	CHECK_EQ(out[0].cookie, 4);
	CHECK_EQ(out[0].status, MW_ESTALE);
	CHECK_EQ(out[0].peer_gen, 2); /* echoed */
	for (int i = 0; i < 3; i++)
		CHECK_EQ(mw_shm_dp_complete(dp, &subs[i], 0), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 3);

	/* the accepted peer is reclaimed, its index taken by another with
	 * the next gen; the app also forges the region's entry back to gen
	 * 4: only the data plane's own copy counts */
	p.state = MW_SHM_PEER_NONE;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), 0);
	f32_desc(&d[0], a.h, 0, 4, 5);
	d[0].peer = 1;
	d[0].peer_gen = 4;
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 1), 1);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 4), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 1);
	CHECK_EQ(out[0].status, MW_ENOENT); /* nobody there now */
	p.state = MW_SHM_PEER_CONNECTING;
	p.ip[3] = 10;
	p.gen = 5;
	CHECK_EQ(mw_shm_dp_peer_set(dp, 1, &p), 0);
	raw_peer(&a, 1)->gen = 4;
	f32_desc(&d[0], a.h, 0, 4, 6);
	d[0].peer = 1;
	d[0].peer_gen = 4; /* meant for the peer before */
	f32_desc(&d[1], a.h, 1, 4, 7);
	d[1].peer = 1;     /* no gen: refused for an accepted index */
	f32_desc(&d[2], a.h, 2, 4, 8);
	d[2].peer = 1;
	d[2].peer_gen = 5;
	CHECK_EQ(mw_shm_ring_enqueue(&a.sub, d, 3), 3);
	CHECK_EQ(mw_shm_dp_poll_submits(dp, subs, 4), 1);
	CHECK_EQ(subs[0].d.cookie, 8);
	CHECK_EQ(mw_shm_ring_dequeue(&a.comp, out, 4), 2);
	CHECK_EQ(out[0].cookie, 6);
	CHECK_EQ(out[0].status, MW_ESTALE);
	CHECK_EQ(out[1].cookie, 7);
	CHECK_EQ(out[1].status, MW_ESTALE);
	CHECK_EQ(mw_shm_dp_complete(dp, &subs[0], 0), 0);
	mw_shm_dp_stats(dp, &st);
	CHECK_EQ(st.stale_peers, 3);
	CHECK_EQ(st.bad_peers, 1);
	CHECK_EQ(st.bad_submits, 4);

	/* DELIVER carries the source's gen as given */
	memset(&out[0], 0, sizeof(out[0]));
	out[0].dtype = MW_DT_U8;
	out[0].codec = MW_SHM_CODEC_RAW;
	out[0].ndim = 1;
	out[0].dims[0] = 10;
	out[0].peer = 1;
	out[0].peer_gen = 5;
	CHECK_EQ(mw_shm_dp_rx_alloc(dp, 10, &buf), 0);
	CHECK_EQ(mw_shm_dp_deliver(dp, buf, 10, &out[0]), 0);
	CHECK_EQ(mw_shm_ring_dequeue(&a.deliv, d, 4), 1);
	CHECK_EQ(d[0].peer, 1);
	CHECK_EQ(d[0].peer_gen, 5);
	raw_die(&a);
	mw_shm_dp_destroy(dp, 1);
}

int main(void)
{
	test_peers();
	test_generations();
	return mw_test_exit("test_shm_dp_peers");
}
