/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for secure mode (sec.c; PROTOCOL.md 12), under each AEAD
 * library in turn (test_crypto.c tests the libraries themselves): tensors
 * cross encrypted and integrity-protected; each attack of the threat
 * model (12.1) is made from forged, altered or replayed packets and must
 * leave the session as it was, deliver nothing and be counted.
 */
#include "ep.h"
#include "mw_bytes.h"
#include "pair.h"

#include "test_rand.h"

static uint8_t cur_mode = MW_SEC_ENCRYPT;
static uint8_t cur_key = 0x42;
static const struct mw_crypto_ops *cur_ops; /* NULL: the default */

static void sec_tweak(struct mw_ep_config *c)
{
	c->sec_mode = cur_mode;
	memset(c->psk, cur_key, sizeof(c->psk));
	c->rand = test_rand;
	c->crypto = cur_ops;
}

static void sec_pair(struct pair *p, uint8_t mode)
{
	memset(p, 0, sizeof(*p));
	cur_mode = mode;
	cur_key = 0x42;
	p->ep[0] = mk_with(100, NULL, sec_tweak);
	p->ep[1] = mk_with(200, NULL, sec_tweak);
	CHECK_EQ(mw_ep_add_peer(p->ep[0]), 0);
	CHECK_EQ(mw_ep_add_peer(p->ep[1]), 0);
	p->peer[0] = p->peer[1] = 0;
	p->now = 1000;
}

/* Move packets and time until no timer is left (retransmissions and
 * timeouts included), or for at most 400 timer expiries. */
static void settle(struct pair *p)
{
	uint64_t t, u;
	int i;

	for (i = 0; i < 400; i++) {
		pump(p, 50);
		t = mw_ep_expiry(p->ep[0]);
		u = mw_ep_expiry(p->ep[1]);
		if (u < t)
			t = u;
		if (t == UINT64_MAX)
			break;
		if (t > p->now)
			p->now = t;
	}
}

/* One tensor A -> B; returns its tag as B got it, or -1. */
static int64_t xfer(struct pair *p, uint64_t tag)
{
	struct mw_event ev;
	int64_t got = -1;

	CHECK(submit(p, 0, tag, NULL) == 0);
	settle(p);
	if (poll_type(p->ep[1], MW_EV_RX_TENSOR, &ev) == 1) {
		got = (int64_t)ev.meta.tag;
		mw_ep_release(p->ep[1], &ev);
	}
	poll_type(p->ep[0], MW_EV_TX_DONE, NULL);
	return got;
}

static uint64_t drops(struct mw_ep *ep, enum mw_drop why)
{
	struct mw_counters c;

	mw_ep_counters(ep, &c);
	return c.drop[why];
}

static uint64_t auth_fails(struct mw_ep *ep)
{
	return drops(ep, MW_DROP_AUTH) + drops(ep, MW_DROP_AUTH_SESSION) +
	       drops(ep, MW_DROP_REPLAY);
}

static int has_bytes(const uint8_t *b, size_t n, const uint8_t *pat, size_t m)
{
	size_t i;

	for (i = 0; i + m <= n; i++)
		if (memcmp(b + i, pat, m) == 0)
			return 1;
	return 0;
}

/* The session B holds with A, to compare before and after an attack. */
struct snap {
	struct mw_peer_info pi;
	struct mw_counters c;
};

static void snap(struct pair *p, struct snap *s)
{
	CHECK(mw_ep_peer_info(p->ep[1], p->peer[1], &s->pi) == 0);
	mw_ep_counters(p->ep[1], &s->c);
}

/* Nothing changed at B but drop counters; the session still carries. */
static void unharmed(struct pair *p, const struct snap *s, uint64_t tag)
{
	struct snap t;
	struct mw_event ev;

	snap(p, &t);
	CHECK(t.pi.state == s->pi.state);
	CHECK(t.pi.remote.inc == s->pi.remote.inc &&
	      t.pi.remote.gen == s->pi.remote.gen);
	CHECK(t.pi.local.inc == s->pi.local.inc &&
	      t.pi.local.gen == s->pi.local.gen);
	CHECK_EQ(t.c.peer_restarts, s->c.peer_restarts);
	CHECK_EQ(t.c.session_resets, s->c.session_resets);
	CHECK_EQ(t.c.tensors_delivered, s->c.tensors_delivered);
	CHECK(mw_ep_poll(p->ep[1], &ev) == 0);
	CHECK_EQ(xfer(p, tag), (int64_t)tag);
}

static void test_roundtrip(uint8_t mode)
{
	struct pair p;
	uint8_t tagb[8];
	struct mw_peer_info pi;

	sec_pair(&p, mode);
	/* the library in use, as the endpoint reports it */
	CHECK(mw_ep_crypto_name(p.ep[0]) &&
	      strcmp(mw_ep_crypto_name(p.ep[0]), cur_ops->name) == 0);
	CHECK_EQ(xfer(&p, 0x1122334455667788ull), 0x1122334455667788);
	/* the tensor's tag is readable on the wire in integrity mode only */
	mw_put64(tagb, 0x1122334455667788ull);
	CHECK(p.last_len[0] > 0);
	CHECK(p.last[0][MW_OFF_VERSION] == MW_WIRE_VERSION_SEC);
	CHECK(has_bytes(p.last[0], p.last_len[0], tagb, 8) ==
	      (mode == MW_SEC_INTEGRITY));
	CHECK(mw_ep_peer_info(p.ep[1], p.peer[1], &pi) == 0);
	CHECK(pi.state == MW_PEER_OPEN);
	/* the first generation is drawn, not 1 */
	CHECK(pi.local.gen != 1 || pi.remote.gen != 1);
	CHECK_EQ(auth_fails(p.ep[1]), 0);
	CHECK_EQ(auth_fails(p.ep[0]), 0);
	free_pair(&p);
}

/* An endpoint of the wrong key (or plain) that wants to talk to B. */
static struct mw_ep *attacker(uint32_t inc, uint8_t mode, uint8_t key,
			      uint16_t *peer)
{
	struct mw_ep *x;

	cur_mode = mode;
	cur_key = key;
	x = mk_with(inc, NULL, mode ? sec_tweak : NULL);
	cur_key = 0x42;
	*peer = (uint16_t)mw_ep_add_peer(x);
	return x;
}

/* Blind hijack: a HELLO from a high identity, made without the key (a
 * wrong key, or plain), and a flood of them. */
static void test_forged_hello(void)
{
	struct pair p;
	struct snap s;
	struct mw_ep *x;
	uint16_t xp, pe;
	uint8_t b[2048];
	uint64_t a0;
	int len, k, i;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	for (k = 0; k < 3; k++) {
		snap(&p, &s);
		a0 = auth_fails(p.ep[1]);
		x = attacker(0x7fffff00u, k == 2 ? MW_SEC_PLAIN : MW_SEC_ENCRYPT,
			     k == 0 ? 0x43 : 0x42 ^ 0xff, &xp);
		CHECK(submit(&(struct pair){.ep = {x}, .peer = {xp},
					    .now = p.now},
			     0, 9, NULL) == 0);
		len = mw_ep_send(x, p.now, b, sizeof(b), &pe);
		CHECK(len > 0 && b[MW_OFF_TYPE] == MW_PT_HELLO);
		mw_ep_recv(p.ep[1], p.peer[1], b, (size_t)len, p.now);
		CHECK_EQ(auth_fails(p.ep[1]), a0 + 1);
		unharmed(&p, &s, 10 + (uint64_t)k);
		mw_ep_free(x);
	}
	/* 20,000 HELLOs from random identities at one instant: no restart
	 * at all; past the token bucket's burst they are not even verified
	 * (hello_rate, 12.6) */
	p.now += SEC_HELLO_BURST * 1000000ull; /* the bucket is full */
	snap(&p, &s);
	x = attacker(5, MW_SEC_ENCRYPT, 0x99, &xp);
	CHECK(submit(&(struct pair){.ep = {x}, .peer = {xp}, .now = p.now}, 0,
		     9, NULL) == 0);
	len = mw_ep_send(x, p.now, b, sizeof(b), &pe);
	a0 = auth_fails(p.ep[1]);
	for (i = 0; i < 20000; i++) {
		uint32_t r[2];

		test_rand(NULL, r, sizeof(r));
		mw_put32(b + MW_OFF_SRC_INC, r[0] | 1);
		mw_put32(b + MW_OFF_SRC_GEN, r[1] | 1);
		mw_ep_recv(p.ep[1], p.peer[1], b, (size_t)len, p.now);
	}
	CHECK_EQ(auth_fails(p.ep[1]), a0 + SEC_HELLO_BURST);
	CHECK_EQ(drops(p.ep[1], MW_DROP_HELLO_RATE),
		 20000 - SEC_HELLO_BURST);
	unharmed(&p, &s, 20);
	mw_ep_free(x);
	free_pair(&p);
}

static int flip_hook(struct pair *p, uint8_t *buf, size_t len)
{
	(void)len;
	if (p->hooked == 1)
		buf[MW_OFF_DATA_TID + 3] ^= 1; /* another tensor id */
	return 1;
}

/* Blind injection and on-path substitution: DATA altered in flight or
 * made up under the session's identities never reaches the receiver's
 * application; in either mode. */
static void test_forged_data(uint8_t mode)
{
	struct pair p;
	struct snap s;
	uint8_t b[2048];
	size_t n;
	uint64_t a0;
	int i, off;

	sec_pair(&p, mode);
	CHECK_EQ(xfer(&p, 1), 1);
	n = p.last_len[0];
	/* one byte changed anywhere: header, body, sn, tag */
	for (off = 0; off < (int)n; off += 7) {
		snap(&p, &s);
		memcpy(b, p.last[0], n);
		b[off] ^= 0x20;
		i = feed_b(&p, b, n);
		CHECK(i >= 0);
		CHECK(mw_ep_poll(p.ep[1], &(struct mw_event){0}) == 0);
	}
	snap(&p, &s);
	unharmed(&p, &s, 2);
	/* a complete tensor for a future id, its plaintext known to the
	 * attacker (integrity mode shows it): every packet altered on the
	 * way is dropped as an auth failure, nothing delivered */
	snap(&p, &s);
	a0 = auth_fails(p.ep[1]);
	p.hooked = 1;
	p.a_data = flip_hook;
	CHECK(submit(&p, 0, 3, NULL) == 0);
	pump(&p, 3);
	CHECK(auth_fails(p.ep[1]) > a0);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 0);
	p.a_data = NULL;
	settle(&p);
	/* the real tensor arrives once the path is honest again */
	{
		struct mw_event ev;

		CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1 &&
		      ev.meta.tag == 3);
		mw_ep_release(p.ep[1], &ev);
	}
	/* made-up DATA under the right identities (read off the wire) and
	 * guessed sn: 1202 of them, as in the report */
	a0 = auth_fails(p.ep[1]);
	snap(&p, &s);
	for (i = 0; i < 1202; i++) {
		memcpy(b, p.last[0], n);
		mw_put32(b + MW_OFF_DATA_TID, (uint32_t)i);
		mw_put64(b + n - MW_SEC_TRAILER_LEN, (uint64_t)i * 3);
		test_rand(NULL, b + n - MW_SEC_TAG_LEN, MW_SEC_TAG_LEN);
		mw_ep_recv(p.ep[1], p.peer[1], b, n, p.now);
	}
	CHECK_EQ(auth_fails(p.ep[1]), a0 + 1202);
	unharmed(&p, &s, 4);
	free_pair(&p);
}

/* Compact DATA in secure mode (PROTOCOL.md 5.6, 12.5): sealed under the
 * session's keys with its identities in the additional data. A tensor of
 * 12 segments goes as 4 full DATA and 8 compact ones, bit-exact; one of
 * them replayed is `replay`; any byte changed (header, body, sn, tag) is
 * `auth` (the crc field, which must be 0, `malformed`); the version-1
 * form is `auth`; nothing is delivered twice. */
static uint8_t sec_cd[2048];
static size_t sec_cd_len;

static int keep_cdata(struct pair *p, uint8_t *buf, size_t len)
{
	(void)p;
	if (buf[MW_OFF_TYPE] == MW_PT_CDATA && !sec_cd_len) {
		memcpy(sec_cd, buf, len);
		sec_cd_len = len;
	}
	return 1;
}

static void test_compact(uint8_t mode)
{
	struct pair p;
	struct mw_event ev;
	struct mw_counters c0, c1;
	uint8_t b[2048];
	int bad = 0, why;

	sec_pair(&p, mode);
	sec_cd_len = 0;
	p.a_data = keep_cdata;
	for (unsigned i = 0; i < 4096; i++)
		xs[i] = (float)i * 0.25f;
	CHECK(submit_vec(&p, 0, xs, MW_CODEC_DENSE, 9, 0, 0) == 0);
	settle(&p);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, &ev) == 1);
	for (unsigned i = 0; i < 4096 && ev.buf; i++)
		bad += ((const float *)ev.buf)[i] != (float)i * 0.25f;
	CHECK(ev.buf && bad == 0);
	mw_ep_release(p.ep[1], &ev);
	mw_ep_counters(p.ep[0], &c0);
	mw_ep_counters(p.ep[1], &c1);
	CHECK(c0.data_tx_compact >= 8 && c1.data_rx_compact == 8);
	CHECK_EQ(auth_fails(p.ep[1]), 0);
	CHECK(sec_cd_len > MW_WIRE_CDATA_HDR_LEN + MW_SEC_TRAILER_LEN);
	CHECK(sec_cd[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC);
	CHECK(mw_get32(sec_cd + MW_OFF_CDATA_CRC) == 0);
	CHECK_EQ(feed_b(&p, sec_cd, sec_cd_len), MW_DROP_REPLAY);
	/* under an sn not seen yet (else it is a replay, checked first) */
	for (size_t off = 0; off < sec_cd_len; off += 5) {
		size_t sn_at = sec_cd_len - MW_SEC_TRAILER_LEN;

		memcpy(b, sec_cd, sec_cd_len);
		mw_put64(b + sn_at, mw_get64(sec_cd + sn_at) + 500);
		if (off < sn_at || off >= sn_at + MW_SEC_SN_LEN)
			b[off] ^= 0x40;
		why = feed_b(&p, b, sec_cd_len);
		if (off == MW_OFF_TYPE || off < 2)
			CHECK(why >= 0); /* no longer compact DATA */
		else if (off == MW_OFF_VERSION)
			CHECK_EQ(why, MW_DROP_VERSION);
		else if (off >= MW_OFF_CDATA_CRC && off < MW_OFF_CDATA_CRC + 4)
			CHECK_EQ(why, MW_DROP_FORMAT);
		else
			CHECK_EQ(why, MW_DROP_AUTH);
	}
	memcpy(b, sec_cd, sec_cd_len);
	b[MW_OFF_VERSION] = MW_WIRE_VERSION;
	CHECK_EQ(feed_b(&p, b, sec_cd_len), MW_DROP_AUTH);
	CHECK(mw_ep_poll(p.ep[1], &ev) == 0);
	p.a_data = NULL;
	CHECK_EQ(xfer(&p, 10), 10);
	free_pair(&p);
}

/* A forged ACK (one packet number) used to reset the session (bad_ack). */
static void test_forged_ack(void)
{
	struct pair p;
	struct dgq q;
	struct snap s;
	struct mw_counters c0, c1;
	int i, acks = 0;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	CHECK(submit(&p, 1, 7, NULL) == 0); /* B sends: A will ACK */
	pump(&p, 200);
	poll_type(p.ep[0], MW_EV_RX_TENSOR, NULL);
	CHECK(submit(&p, 0, 2, NULL) == 0);
	take_all(p.ep[0], p.now, &q);
	give_all(p.ep[1], p.peer[1], &q, 0, q.n, p.now);
	take_all(p.ep[1], p.now, &q); /* B's ACK */
	snap(&p, &s);
	mw_ep_counters(p.ep[0], &c0);
	for (i = 0; i < q.n; i++) {
		if (q.b[i][MW_OFF_TYPE] != MW_PT_ACK)
			continue;
		acks++;
		/* in the body (encrypted): largest_pn; the tag; the sn */
		q.b[i][MW_OFF_ACK_LARGEST_PN] ^= 0x80;
		mw_ep_recv(p.ep[0], p.peer[0], q.b[i], q.len[i], p.now);
		q.b[i][MW_OFF_ACK_LARGEST_PN] ^= 0x80;
		q.b[i][q.len[i] - 1] ^= 1;
		mw_ep_recv(p.ep[0], p.peer[0], q.b[i], q.len[i], p.now);
		q.b[i][q.len[i] - 1] ^= 1;
	}
	CHECK(acks > 0);
	mw_ep_counters(p.ep[0], &c1);
	CHECK_EQ(c1.drop[MW_DROP_AUTH], c0.drop[MW_DROP_AUTH] + 2 * acks);
	CHECK_EQ(c1.drop[MW_DROP_ACK], c0.drop[MW_DROP_ACK]);
	CHECK_EQ(c1.session_resets, c0.session_resets);
	/* the genuine ACKs still count */
	for (i = 0; i < q.n; i++)
		mw_ep_recv(p.ep[0], p.peer[0], q.b[i], q.len[i], p.now);
	pump(&p, 200);
	CHECK(poll_type(p.ep[0], MW_EV_TX_DONE, NULL) == 1);
	poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL);
	snap(&p, &s);
	unharmed(&p, &s, 3);
	free_pair(&p);
}

/* Replayed captures: every packet of a transfer, again, later. */
static void test_replay(void)
{
	static struct dgq cap[8];
	struct pair p;
	struct snap s;
	uint64_t r0;
	int n = 0, i, tot = 0;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK(submit(&p, 0, 1, NULL) == 0);
	/* capture A's packets while they are delivered */
	while (n < 8) {
		take_all(p.ep[0], p.now, &cap[n]);
		give_all(p.ep[1], p.peer[1], &cap[n], 0, cap[n].n, p.now);
		tot += cap[n].n;
		pump(&p, 1);
		if (cap[n++].n == 0 && mw_ep_expiry(p.ep[0]) == UINT64_MAX)
			break;
	}
	pump(&p, 200);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	poll_type(p.ep[0], MW_EV_TX_DONE, NULL);
	snap(&p, &s);
	r0 = drops(p.ep[1], MW_DROP_REPLAY);
	for (i = 0; i < n; i++)
		give_all(p.ep[1], p.peer[1], &cap[i], 0, cap[i].n, p.now);
	CHECK(tot > 2);
	CHECK_EQ(drops(p.ep[1], MW_DROP_REPLAY), r0 + (uint64_t)tot);
	unharmed(&p, &s, 2);
	free_pair(&p);
}

/* A restart gets fresh keys: the old session's packets never verify. */
static void test_restart_new_keys(void)
{
	struct pair p;
	struct snap s;
	uint8_t old[2048];
	size_t n;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	n = p.last_len[0];
	memcpy(old, p.last[0], n);
	/* A restarts (a newer incarnation), with the same key */
	mw_ep_free(p.ep[0]);
	cur_mode = MW_SEC_ENCRYPT;
	p.ep[0] = mk_with(101, NULL, sec_tweak);
	p.peer[0] = (uint16_t)mw_ep_add_peer(p.ep[0]);
	CHECK_EQ(xfer(&p, 2), 2);
	snap(&p, &s);
	CHECK(feed_b(&p, old, n) == MW_DROP_AUTH_SESSION);
	/* the same bytes under the new session's identities, with an sn the
	 * new session has not seen, still fail */
	memcpy(old + MW_OFF_SRC_INC, p.last[0] + MW_OFF_SRC_INC, 16);
	mw_put64(old + n - MW_SEC_TRAILER_LEN, 1000);
	CHECK(feed_b(&p, old, n) == MW_DROP_AUTH);
	unharmed(&p, &s, 3);
	free_pair(&p);
}

/* Side k restarts: a new endpoint (its identity drawn), the same key. */
static void restart(struct pair *p, int k)
{
	mw_ep_free(p->ep[k]);
	cur_mode = MW_SEC_ENCRYPT;
	p->ep[k] = mk_with(k ? 200 : 100, NULL, sec_tweak);
	p->peer[k] = (uint16_t)mw_ep_add_peer(p->ep[k]);
}

/* Start a session A -> B; *hello gets A's first HELLO, as recorded on
 * the wire. */
static void open_recording(struct pair *p, uint8_t *hello, size_t *n)
{
	struct dgq q;

	CHECK(submit(p, 0, 1, NULL) == 0);
	take_all(p->ep[0], p->now, &q);
	CHECK(q.n == 1 && q.b[0][MW_OFF_TYPE] == MW_PT_HELLO);
	memcpy(hello, q.b[0], q.len[0]);
	*n = q.len[0];
	give_all(p->ep[1], p->peer[1], &q, 0, q.n, p->now);
	settle(p);
	CHECK(poll_type(p->ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	poll_type(p->ep[0], MW_EV_TX_DONE, NULL);
}

/*
 * An identity is drawn, and a restart is taken only on proof (12.3): A
 * restarts (a new endpoint with a random incarnation); B sees a HELLO of
 * a new identity while its session with A is proven, challenges it, and
 * restarts the session when A's packet under the challenge's keys comes.
 * Then A's HELLO of the old incarnation, replayed (recorded earlier),
 * is answered by a challenge that leads nowhere: nothing changes, the
 * session keeps delivering.
 */
static void test_restart_and_replayed_hello(void)
{
	struct pair p;
	struct snap s;
	struct mw_peer_info a0, a1, b;
	struct mw_counters c;
	uint8_t old[2048], cur[2048];
	size_t n, m;
	int i;

	sec_pair(&p, MW_SEC_ENCRYPT);
	open_recording(&p, old, &n);
	CHECK(mw_ep_peer_info(p.ep[0], p.peer[0], &a0) == 0);
	CHECK(a0.local.inc != 100); /* drawn, not the configured value */
	restart(&p, 0);
	open_recording(&p, cur, &m);
	CHECK(mw_ep_peer_info(p.ep[0], p.peer[0], &a1) == 0);
	CHECK(a1.local.inc != a0.local.inc);
	CHECK(mw_ep_peer_info(p.ep[1], p.peer[1], &b) == 0);
	CHECK(b.state == MW_PEER_OPEN);
	CHECK(b.remote.inc == a1.local.inc && b.remote.gen == a1.local.gen);
	mw_ep_counters(p.ep[1], &c);
	CHECK_EQ(c.peer_restarts, 1);
	CHECK(c.challenges >= 1);
	CHECK_EQ(xfer(&p, 2), 2);
	/* the old incarnation's HELLO, replayed: verified, challenged */
	p.now += SEC_HELLO_BURST * 1000000ull;
	snap(&p, &s);
	CHECK(feed_b(&p, old, n) == -1);
	mw_ep_counters(p.ep[1], &c);
	CHECK_EQ(c.challenges, s.c.challenges + 1);
	/* again: the challenge remembers its sn (replay); so does the
	 * session for the new incarnation's own HELLO */
	for (i = 0; i < 3; i++) {
		CHECK(feed_b(&p, old, n) == MW_DROP_REPLAY);
		CHECK(feed_b(&p, cur, m) == MW_DROP_REPLAY);
	}
	unharmed(&p, &s, 3);
	/* the challenge went to A, which has no such identity */
	CHECK_EQ(drops(p.ep[0], MW_DROP_STALE), 1);
	CHECK_EQ(xfer(&p, 4), 4);
	free_pair(&p);
}

/*
 * An old identity of the peer comes back after its session was closed
 * (a closed session is taken over at once, 12.3): its HELLO, recorded
 * and replayed, is accepted, but B's identity was renewed when it left
 * the keys it had used with that identity, so the old session's DATA,
 * replayed after it, names an identity B no longer has: nothing is
 * delivered twice, no key is derived twice.
 */
static void test_replay_after_close(void)
{
	struct pair p;
	uint8_t old[2048], data[2048];
	size_t n, dn;
	int k;

	sec_pair(&p, MW_SEC_ENCRYPT);
	open_recording(&p, old, &n);
	dn = p.last_len[0];
	memcpy(data, p.last[0], dn);
	for (k = 0; k < 2; k++) {
		CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
		settle(&p);
		poll_type(p.ep[1], MW_EV_SESSION_CLOSED, NULL);
		if (k == 0)
			CHECK_EQ(xfer(&p, 2), 2);
	}
	p.now += SEC_HELLO_BURST * 1000000ull;
	CHECK_EQ(feed_b(&p, old, n), -1);
	CHECK_EQ(feed_b(&p, data, dn), MW_DROP_AUTH_SESSION);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 0);
	free_pair(&p);
}

/* The restarted side has nothing to send: it confirms the challenge's
 * HELLO_ACK with an ACK (12.3), and the session that restarts at A then
 * carries A's tensors. */
static void test_restart_idle_peer(void)
{
	struct pair p;
	struct mw_counters c;
	struct mw_event ev;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	restart(&p, 1);
	CHECK(submit(&p, 0, 2, NULL) == 0);
	settle(&p);
	mw_ep_counters(p.ep[0], &c);
	CHECK_EQ(c.peer_restarts, 1);
	/* the tensor in flight when B restarted failed (7.2), or went */
	CHECK(poll_type(p.ep[0], MW_EV_TX_FAILED, &ev) +
		      poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) ==
	      1);
	poll_type(p.ep[0], MW_EV_TX_DONE, NULL);
	CHECK_EQ(xfer(&p, 3), 3);
	free_pair(&p);
}

/*
 * Both sides restart at once (two new endpoints, identities drawn),
 * with packets of the old session still arriving at each; and a restart
 * of one side while the other tears its session down (a new identity of
 * its own): each time the two converge on one session that carries
 * tensors both ways.
 */
static void both_ways(struct pair *p, uint64_t tag)
{
	struct mw_event ev;
	int k;

	for (k = 0; k < 2; k++)
		CHECK(submit(p, k, tag + (uint64_t)k, NULL) == 0);
	settle(p);
	for (k = 0; k < 2; k++) {
		CHECK(poll_type(p->ep[k], MW_EV_RX_TENSOR, &ev) == 1);
		CHECK_EQ(ev.meta.tag, tag + (uint64_t)!k);
		mw_ep_release(p->ep[k], &ev);
		poll_type(p->ep[k], MW_EV_TX_DONE, NULL);
	}
}

static void test_both_restart(void)
{
	struct pair p;
	struct dgq q[2];
	struct mw_peer_info pi[2];
	int k;

	sec_pair(&p, MW_SEC_ENCRYPT);
	both_ways(&p, 10);
	/* each side's packets of the old session, in flight */
	for (k = 0; k < 2; k++)
		CHECK(submit(&p, k, 20, NULL) == 0);
	for (k = 0; k < 2; k++)
		take_all(p.ep[k], p.now, &q[k]);
	CHECK(q[0].n > 0 && q[1].n > 0);
	restart(&p, 0);
	restart(&p, 1);
	for (k = 0; k < 2; k++)
		give_all(p.ep[!k], p.peer[!k], &q[k], 0, q[k].n, p.now);
	both_ways(&p, 30);
	for (k = 0; k < 2; k++)
		give_all(p.ep[!k], p.peer[!k], &q[k], 0, q[k].n, p.now);
	both_ways(&p, 40);
	/* A restarts while B gives its session up at the same moment */
	restart(&p, 0);
	CHECK(mw_ep_close_peer(p.ep[1], p.peer[1], p.now) == 0);
	poll_type(p.ep[1], MW_EV_SESSION_CLOSED, NULL);
	both_ways(&p, 50);
	/* and B restarts while A times out (a new generation) */
	restart(&p, 1);
	CHECK(mw_ep_close_peer(p.ep[0], p.peer[0], p.now) == 0);
	both_ways(&p, 60);
	for (k = 0; k < 2; k++)
		CHECK(mw_ep_peer_info(p.ep[k], p.peer[k], &pi[k]) == 0);
	CHECK(pi[0].state == MW_PEER_OPEN && pi[1].state == MW_PEER_OPEN);
	CHECK(pi[0].remote.inc == pi[1].local.inc &&
	      pi[0].remote.gen == pi[1].local.gen);
	CHECK(pi[1].remote.inc == pi[0].local.inc &&
	      pi[1].remote.gen == pi[0].local.gen);
	free_pair(&p);
}

/*
 * 10,000 HELLOs at B over one virtual second: replays of two old
 * incarnations' HELLOs (they verify: each that passes the bucket makes
 * or replaces the one challenge), of the current peer's (replay) and
 * forged ones (auth). B's state stays bounded (memory as before, one
 * challenge at most), the verifications are bounded by the token bucket,
 * nothing restarts, the session carries on.
 */
static void test_hello_flood(void)
{
	struct pair p;
	struct snap s;
	struct mw_counters c;
	uint8_t old[2][2048], cur[2048], b[2048];
	size_t n[2], m;
	uint64_t mem, t0, verified;
	int i;

	sec_pair(&p, MW_SEC_ENCRYPT);
	open_recording(&p, old[0], &n[0]);
	restart(&p, 0);
	open_recording(&p, old[1], &n[1]);
	restart(&p, 0);
	open_recording(&p, cur, &m);
	CHECK_EQ(xfer(&p, 2), 2);
	p.now += SEC_HELLO_BURST * 1000000ull;
	CHECK_EQ(feed_b(&p, old[0], n[0]), -1); /* a challenge exists */
	snap(&p, &s);
	mem = mw_ep_mem_held(p.ep[1]);
	t0 = p.now;
	for (i = 0; i < 10000; i++) {
		switch (i % 4) {
		case 0:
		case 1:
			mw_ep_recv(p.ep[1], p.peer[1], old[i % 2], n[i % 2],
				   p.now);
			break;
		case 2:
			mw_ep_recv(p.ep[1], p.peer[1], cur, m, p.now);
			break;
		default:
			memcpy(b, old[0], n[0]);
			test_rand(NULL, b + MW_WIRE_HELLO_LEN, 8);
			mw_ep_recv(p.ep[1], p.peer[1], b, n[0], p.now);
		}
		p.now += 100000; /* 100 us: ten HELLOs per rto_min */
		CHECK(mw_ep_mem_held(p.ep[1]) == mem);
	}
	mw_ep_counters(p.ep[1], &c);
	verified = (c.challenges - s.c.challenges) +
		   (c.drop[MW_DROP_AUTH] - s.c.drop[MW_DROP_AUTH]);
	CHECK_EQ(verified + (c.drop[MW_DROP_HELLO_RATE] -
			     s.c.drop[MW_DROP_HELLO_RATE]) +
			 (c.drop[MW_DROP_REPLAY] - s.c.drop[MW_DROP_REPLAY]),
		 10000);
	CHECK(c.drop[MW_DROP_REPLAY] - s.c.drop[MW_DROP_REPLAY] >= 2500);
	/* at most the burst and one per rto_min (1 ms) */
	CHECK(verified <= SEC_HELLO_BURST + (p.now - t0) / 1000000);
	CHECK(verified >= (p.now - t0) / 1000000);
	CHECK(p.ep[1]->peers[p.peer[1]].sec->chal.valid);
	unharmed(&p, &s, 7);
	free_pair(&p);
}

/* The sn crosses an epoch: the keys change on both sides, nothing
 * stalls; an sn far ahead is refused. */
static void test_epochs(void)
{
	struct pair p;
	struct peer *a, *b;
	uint8_t x[2048];
	size_t n;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	a = &p.ep[0]->peers[p.peer[0]];
	b = &p.ep[1]->peers[p.peer[1]];
	a->sec->cur.tx_sn = (1ull << SEC_EPOCH_BITS) - 1;
	CHECK_EQ(xfer(&p, 2), 2);
	CHECK_EQ(xfer(&p, 3), 3);
	CHECK(a->sec->cur.tx.epoch == 1);
	CHECK(b->sec->cur.rx_top >> SEC_EPOCH_BITS == 1);
	/* three epochs ahead: refused before any key is derived */
	n = p.last_len[0];
	memcpy(x, p.last[0], n);
	mw_put64(x + n - MW_SEC_TRAILER_LEN, 4ull << SEC_EPOCH_BITS);
	CHECK(feed_b(&p, x, n) == MW_DROP_AUTH);
	CHECK(b->sec->cur.rx[0].epoch != 4 && b->sec->cur.rx[1].epoch != 4);
	free_pair(&p);
}

/* The replay window on its own: reordering inside it is fine; older
 * than the window or twice is not. */
static void test_window(void)
{
	struct pair p;
	struct dgq q;
	int i, dat = 0;

	sec_pair(&p, MW_SEC_ENCRYPT);
	CHECK_EQ(xfer(&p, 1), 1);
	CHECK(submit(&p, 0, 2, NULL) == 0);
	take_all(p.ep[0], p.now, &q);
	/* deliver in reverse order: all accepted, none replayed */
	for (i = q.n - 1; i >= 0; i--)
		if (q.b[i][MW_OFF_TYPE] == MW_PT_DATA) {
			CHECK(feed_b(&p, q.b[i], q.len[i]) == -1);
			dat++;
		}
	CHECK(dat > 1);
	for (i = 0; i < q.n; i++)
		if (q.b[i][MW_OFF_TYPE] == MW_PT_DATA)
			CHECK(feed_b(&p, q.b[i], q.len[i]) == MW_DROP_REPLAY);
	pump(&p, 200);
	CHECK(poll_type(p.ep[1], MW_EV_RX_TENSOR, NULL) == 1);
	free_pair(&p);
}

/* Simultaneous open and close (PROTOCOL.md 6, 7.3) in secure mode: each
 * CLOSE crosses the other's and is opened with the keys of the session
 * its receiver just left; the next session opens with fresh keys. Two
 * rounds, nothing dropped, no reset. */
static void test_simultaneous(void)
{
	struct pair p;

	sec_pair(&p, MW_SEC_ENCRYPT);
	simultaneous_rounds(&p, 2);
	free_pair(&p);
}

/* Configuration: a key and a random source are required. */
static void test_config(void)
{
	struct mw_ep_config c;
	struct mw_ep *ep = NULL;

	mw_ep_config_default(&c);
	CHECK(c.sec_mode == MW_SEC_PLAIN);
	c.sec_mode = MW_SEC_ENCRYPT;
	c.rand = test_rand;
	CHECK(mw_ep_new(&c, &ep) == MW_EINVAL); /* all-zero key */
	memset(c.psk, 1, sizeof(c.psk));
	c.rand = NULL;
	CHECK(mw_ep_new(&c, &ep) == MW_EINVAL);
	c.rand = test_rand;
	c.sec_mode = 3;
	CHECK(mw_ep_new(&c, &ep) == MW_EINVAL);
	c.sec_mode = MW_SEC_INTEGRITY;
	CHECK(mw_ep_new(&c, &ep) == 0);
	CHECK(mw_ep_peer_set_key(ep, 0, c.psk) == MW_ENOENT);
	mw_ep_free(ep);
	CHECK(strcmp(mw_sec_mode_name(MW_SEC_ENCRYPT), "encrypt") == 0);
}

/* Integrity mode and encrypt mode do not talk to each other. */
static void test_mode_mismatch(void)
{
	struct pair p;
	uint64_t a0;

	sec_pair(&p, MW_SEC_ENCRYPT);
	mw_ep_free(p.ep[0]);
	cur_mode = MW_SEC_INTEGRITY;
	p.ep[0] = mk_with(100, NULL, sec_tweak);
	p.peer[0] = (uint16_t)mw_ep_add_peer(p.ep[0]);
	a0 = auth_fails(p.ep[1]);
	CHECK_EQ(xfer(&p, 1), -1);
	CHECK(auth_fails(p.ep[1]) > a0);
	free_pair(&p);
}

int main(void)
{
	const struct mw_crypto_ops *all[3];
	unsigned b, nb = mw_crypto_backends(all, 3);

	for (b = 0; b < nb; b++) {
		cur_ops = all[b];
		printf("test_sec: %s\n", cur_ops->name);
		test_config();
		test_roundtrip(MW_SEC_ENCRYPT);
		test_roundtrip(MW_SEC_INTEGRITY);
		test_compact(MW_SEC_ENCRYPT);
		test_compact(MW_SEC_INTEGRITY);
		test_forged_hello();
		test_forged_data(MW_SEC_ENCRYPT);
		test_forged_data(MW_SEC_INTEGRITY);
		test_forged_ack();
		test_replay();
		test_restart_new_keys();
		test_epochs();
		test_window();
		test_mode_mismatch();
		test_simultaneous();
		test_restart_and_replayed_hello();
		test_restart_idle_peer();
		test_replay_after_close();
		test_both_restart();
		test_hello_flood();
	}
	return mw_test_exit("test_sec");
}
