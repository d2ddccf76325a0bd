/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sec.c - secure mode (PROTOCOL.md 12): every packet carries a sequence
 * number and an AEAD tag in a trailer; HELLOs are keyed from the
 * pre-shared key and the sender's fresh nonce, everything else from the
 * session's two nonces and identities; a sliding window drops replays.
 * The endpoint calls mw_sec_open() right after the common header parsed
 * (before anything can change state) and mw_sec_accept() once the packet
 * was accepted, so that a dropped packet leaves nothing behind (11).
 */
#include <string.h>

#include "ep.h"
#include "mw_bytes.h"
#include "sec.h"

static const char *const mode_names[MW_SEC_COUNT_] = {"plain", "encrypt",
						      "integrity"};

const char *mw_sec_mode_name(unsigned mode)
{
	return mode < MW_SEC_COUNT_ ? mode_names[mode] : "?";
}

size_t mw_sec_overhead(const struct mw_ep *ep)
{
	return ep->cfg.sec_mode ? MW_SEC_TRAILER_LEN : 0;
}

/* ---- key schedule (12.3, 12.4) --------------------------------------- */

static void dir_free(struct mw_ep *ep, struct sec_dir *d)
{
	if (d->a)
		ep->cops->aead_free(d->a);
	memset(d, 0, sizeof(*d));
	d->epoch = UINT64_MAX;
}

static void sess_free(struct mw_ep *ep, struct sec_sess *s)
{
	dir_free(ep, &s->tx);
	dir_free(ep, &s->rx[0]);
	dir_free(ep, &s->rx[1]);
	memset(s, 0, sizeof(*s));
	s->tx.epoch = s->rx[0].epoch = s->rx[1].epoch = UINT64_MAX;
}

/* key | iv of a direction for one epoch, into d (a cache: the result
 * depends on the secret and e only). */
static int dir_epoch(struct mw_ep *ep, struct sec_dir *d, uint64_t e, int enc)
{
	static const char lbl[] = "maskwire 2 epoch";
	uint8_t info[sizeof(lbl) - 1 + 8], km[MW_AEAD_KEY_LEN + MW_AEAD_IV_LEN];
	int rc;

	if (d->a && d->epoch == e)
		return 0;
	memcpy(info, lbl, sizeof(lbl) - 1);
	mw_put64(info + sizeof(lbl) - 1, e);
	rc = ep->cops->hkdf(NULL, 0, d->secret, sizeof(d->secret), info,
			    sizeof(info), km, sizeof(km));
	if (rc < 0)
		return rc;
	if (!d->a) {
		d->a = ep->cops->aead_new(km, enc);
		rc = d->a ? 0 : MW_ENOMEM;
	} else {
		rc = ep->cops->aead_rekey(d->a, km);
	}
	memcpy(d->iv, km + MW_AEAD_KEY_LEN, MW_AEAD_IV_LEN);
	memset(km, 0, sizeof(km));
	d->epoch = rc < 0 ? UINT64_MAX : e;
	return rc;
}

/* The secret of the packets from (s, ns) to (d, nd). */
static int dir_secret(struct mw_ep *ep, const uint8_t *psk,
		      const struct mw_ident *s, const uint8_t *ns,
		      const struct mw_ident *d, const uint8_t *nd,
		      uint8_t out[32])
{
	static const char lbl[] = "maskwire 2 data";
	uint8_t salt[2 * MW_SEC_NONCE_LEN], info[sizeof(lbl) - 1 + 1 + 16];
	size_t o = sizeof(lbl) - 1;

	memcpy(salt, ns, MW_SEC_NONCE_LEN);
	memcpy(salt + MW_SEC_NONCE_LEN, nd, MW_SEC_NONCE_LEN);
	memcpy(info, lbl, o);
	info[o++] = ep->cfg.sec_mode;
	mw_put32(info + o, s->inc);
	mw_put32(info + o + 4, s->gen);
	mw_put32(info + o + 8, d->inc);
	mw_put32(info + o + 12, d->gen);
	return ep->cops->hkdf(salt, sizeof(salt), psk, MW_SEC_PSK_LEN, info,
			      sizeof(info), out, 32);
}

/* The HELLO key of a sender's nonce (one epoch: HELLOs are few). */
static int hello_key(struct mw_ep *ep, const uint8_t *psk,
		     const uint8_t *nonce, struct sec_dir *d, int enc)
{
	static const char lbl[] = "maskwire 2 hello";
	uint8_t info[sizeof(lbl)];
	int rc;

	memcpy(info, lbl, sizeof(lbl) - 1);
	info[sizeof(lbl) - 1] = ep->cfg.sec_mode;
	rc = ep->cops->hkdf(nonce, MW_SEC_NONCE_LEN, psk, MW_SEC_PSK_LEN,
			    info, sizeof(info), d->secret, sizeof(d->secret));
	return rc < 0 ? rc : dir_epoch(ep, d, 0, enc);
}

/* (Re)derive the current session's keys from both identities and
 * nonces; a new session starts its sn and replay window afresh. */
static void sess_derive(struct mw_ep *ep, struct peer *p)
{
	struct sec_peer *sp = p->sec;
	struct sec_sess *s = &sp->cur;

	sess_free(ep, s);
	if (!sp->rknown || !p->sess.remote_known)
		return;
	if (dir_secret(ep, sp->psk, &p->sess.local, sp->lnonce,
		       &p->sess.remote, sp->rnonce, s->tx.secret) < 0 ||
	    dir_secret(ep, sp->psk, &p->sess.remote, sp->rnonce,
		       &p->sess.local, sp->lnonce, s->rx[0].secret) < 0)
		return; /* no keys: nothing is sent or accepted */
	memcpy(s->rx[1].secret, s->rx[0].secret, sizeof(s->rx[0].secret));
	s->valid = 1;
}

static void new_local_nonce(struct mw_ep *ep, struct peer *p)
{
	struct sec_peer *sp = p->sec;

	ep->cfg.rand(ep->cfg.rand_ctx, sp->lnonce, sizeof(sp->lnonce));
	sp->hello_sn = 0;
	dir_free(ep, &sp->hello);
	(void)hello_key(ep, sp->psk, sp->lnonce, &sp->hello, 1);
}

/* ---- set-up ------------------------------------------------------------ */

int mw_sec_ep_init(struct mw_ep *ep)
{
	if (!ep->cfg.sec_mode)
		return 0;
	ep->cops = ep->cfg.crypto ? ep->cfg.crypto : mw_crypto_default();
	ep->sec_buf = mw_mem_alloc_raw(ep, ep->cfg.max_datagram);
	return ep->sec_buf ? 0 : MW_ENOMEM;
}

void mw_sec_ep_free(struct mw_ep *ep)
{
	if (ep->sec_buf)
		mw_mem_free(ep, ep->sec_buf, ep->cfg.max_datagram);
	ep->sec_buf = NULL;
}

int mw_sec_peer_init(struct mw_ep *ep, struct peer *p)
{
	struct sec_peer *sp;
	uint32_t gen = 0;

	if (!ep->cfg.sec_mode)
		return 0;
	sp = mw_mem_alloc(ep, sizeof(*sp));
	if (!sp)
		return MW_ENOMEM;
	p->sec = sp;
	sess_free(ep, &sp->cur);
	sess_free(ep, &sp->old);
	sp->hello.epoch = UINT64_MAX;
	memcpy(sp->psk, ep->cfg.psk, sizeof(sp->psk));
	/* The first generation is drawn, not 1 (12.2). */
	ep->cfg.rand(ep->cfg.rand_ctx, &gen, sizeof(gen));
	p->sess.local.gen = gen ? gen : 1;
	new_local_nonce(ep, p);
	return sp->hello.a ? 0 : MW_ENOMEM;
}

void mw_sec_peer_free(struct mw_ep *ep, struct peer *p)
{
	struct sec_peer *sp = p->sec;

	if (!sp)
		return;
	sess_free(ep, &sp->cur);
	sess_free(ep, &sp->old);
	dir_free(ep, &sp->hello);
	memset(sp->psk, 0, sizeof(sp->psk));
	mw_mem_free(ep, sp, sizeof(*sp));
	p->sec = NULL;
}

int mw_sec_peer_key(struct mw_ep *ep, struct peer *p, const uint8_t *psk)
{
	struct sec_peer *sp = p->sec;

	memcpy(sp->psk, psk, sizeof(sp->psk));
	dir_free(ep, &sp->hello);
	if (hello_key(ep, sp->psk, sp->lnonce, &sp->hello, 1) < 0)
		return MW_ENOMEM;
	sess_derive(ep, p);
	return 0;
}

void mw_sec_local_changed(struct mw_ep *ep, struct peer *p, int closing)
{
	struct sec_peer *sp = p->sec;

	if (!sp)
		return;
	if (closing) {
		sess_free(ep, &sp->old);
		sp->old = sp->cur;
		memset(&sp->cur, 0, sizeof(sp->cur));
	}
	new_local_nonce(ep, p);
	sess_derive(ep, p);
}

/* ---- packets (12.5, 12.6) --------------------------------------------- */

static void iv_of(const struct sec_dir *d, uint64_t sn, uint8_t iv[12])
{
	unsigned i;

	memcpy(iv, d->iv, MW_AEAD_IV_LEN);
	for (i = 0; i < 8; i++)
		iv[4 + i] ^= (uint8_t)(sn >> (56 - 8 * i));
}

int mw_sec_seal(struct mw_ep *ep, struct peer *p, uint8_t *buf, size_t len)
{
	struct sec_peer *sp = p->sec;
	uint8_t type = buf[MW_OFF_TYPE], iv[MW_AEAD_IV_LEN];
	uint16_t flags = mw_get16(buf + MW_OFF_FLAGS);
	struct sec_sess *s;
	uint64_t sn;

	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY)
		flags |= MW_FLAG_CLEAR;
	buf[MW_OFF_VERSION] = MW_WIRE_VERSION_SEC;
	mw_put16(buf + MW_OFF_FLAGS, flags);
	mw_put32(buf + MW_OFF_CRC, 0);
	if (type == MW_PT_HELLO || type == MW_PT_HELLO_ACK) {
		/* integrity only: a HELLO's body is no secret (12.3) */
		if (!sp->hello.a)
			return MW_ESTATE;
		memcpy(buf + len, sp->lnonce, MW_SEC_NONCE_LEN);
		len += MW_SEC_NONCE_LEN;
		sn = sp->hello_sn++;
		mw_put64(buf + len, sn);
		mw_put16(buf + MW_OFF_LEN, (uint16_t)(len + MW_SEC_TRAILER_LEN));
		iv_of(&sp->hello, sn, iv);
		if (ep->cops->seal(sp->hello.a, iv, buf, len + MW_SEC_SN_LEN,
				   NULL, 0, NULL, NULL, 0,
				   buf + len + MW_SEC_SN_LEN) < 0)
			return MW_ESTATE;
		return (int)(len + MW_SEC_TRAILER_LEN);
	}
	/* A CLOSE names the session just left (7.3): its keys. */
	s = type == MW_PT_CLOSE ? &sp->old : &sp->cur;
	if (!s->valid)
		return MW_ESTATE;
	sn = s->tx_sn;
	if (dir_epoch(ep, &s->tx, sn >> SEC_EPOCH_BITS, 1) < 0)
		return MW_ESTATE;
	s->tx_sn++;
	mw_put64(buf + len, sn);
	mw_put16(buf + MW_OFF_LEN, (uint16_t)(len + MW_SEC_TRAILER_LEN));
	iv_of(&s->tx, sn, iv);
	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY) {
		if (ep->cops->seal(s->tx.a, iv, buf, len + MW_SEC_SN_LEN, NULL,
				   0, NULL, NULL, 0,
				   buf + len + MW_SEC_SN_LEN) < 0)
			return MW_ESTATE;
	} else if (ep->cops->seal(s->tx.a, iv, buf, MW_WIRE_HDR_LEN, buf + len,
				  MW_SEC_SN_LEN, buf + MW_WIRE_HDR_LEN,
				  buf + MW_WIRE_HDR_LEN,
				  len - MW_WIRE_HDR_LEN,
				  buf + len + MW_SEC_SN_LEN) < 0) {
		return MW_ESTATE;
	}
	return (int)(len + MW_SEC_TRAILER_LEN);
}

/* Replay window (12.5): 0 if sn may be new, else MW_EDUP. */
static int win_check(const struct sec_sess *s, uint64_t sn)
{
	uint64_t i = sn % SEC_WIN_BITS;

	if (!s->rx_any || sn > s->rx_top)
		return 0;
	if (s->rx_top - sn >= SEC_WIN_BITS ||
	    (s->rx_bm[i / 64] >> (i % 64) & 1))
		return MW_EDUP;
	return 0;
}

static void win_record(struct sec_sess *s, uint64_t sn)
{
	uint64_t i;

	if (!s->rx_any) {
		memset(s->rx_bm, 0, sizeof(s->rx_bm));
		s->rx_top = sn;
		s->rx_any = 1;
	} else if (sn > s->rx_top) {
		if (sn - s->rx_top >= SEC_WIN_BITS)
			memset(s->rx_bm, 0, sizeof(s->rx_bm));
		else
			for (i = s->rx_top + 1; i <= sn; i++)
				s->rx_bm[i % SEC_WIN_BITS / 64] &=
					~(1ull << (i % 64));
		s->rx_top = sn;
	}
	i = sn % SEC_WIN_BITS;
	s->rx_bm[i / 64] |= 1ull << (i % 64);
}

static int open_hello(struct mw_ep *ep, struct peer *p, struct mw_hdr *h,
		      const uint8_t *pkt, size_t len, struct sec_rx *rx)
{
	struct sec_peer *sp = p->sec;
	const uint8_t *nonce = pkt + MW_WIRE_HELLO_LEN;
	size_t alen = MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN + MW_SEC_SN_LEN;
	uint8_t iv[MW_AEAD_IV_LEN];
	struct sec_dir d;
	int same, rc;

	if (len != MW_SEC_HELLO_LEN)
		return mw_ep_drop(ep, MW_DROP_FORMAT, MW_EFORMAT);
	rx->sn = mw_get64(pkt + MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN);
	same = sp->rknown && p->sess.remote_known &&
	       ident_eq(&h->src, &p->sess.remote) &&
	       memcmp(nonce, sp->rnonce, MW_SEC_NONCE_LEN) == 0;
	if (same && rx->sn <= sp->rhello_sn)
		return mw_ep_drop(ep, MW_DROP_REPLAY, MW_EDUP);
	memset(&d, 0, sizeof(d));
	if (hello_key(ep, sp->psk, nonce, &d, 0) < 0) {
		dir_free(ep, &d);
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	}
	iv_of(&d, rx->sn, iv);
	rc = ep->cops->open(d.a, iv, pkt, alen, NULL, 0, NULL, NULL, 0,
			    pkt + alen);
	dir_free(ep, &d);
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	/* An identity is drawn with its nonce: the same identity with
	 * another nonce is not the session we know (12.3). */
	if (!same && sp->rknown && p->sess.remote_known &&
	    ident_eq(&h->src, &p->sess.remote))
		return mw_ep_drop(ep, MW_DROP_STALE, MW_ESTATE);
	memcpy(ep->sec_buf, pkt, MW_WIRE_HELLO_LEN);
	rx->nonce = nonce;
	rx->len = MW_WIRE_HELLO_LEN;
	return 0;
}

int mw_sec_open(struct mw_ep *ep, struct peer *p, struct mw_hdr *h,
		const uint8_t *pkt, size_t len, uint64_t now,
		struct sec_rx *rx)
{
	struct sec_peer *sp = p->sec;
	struct sec_sess *s;
	struct sec_dir *d;
	uint8_t iv[MW_AEAD_IV_LEN];
	size_t body = len - MW_SEC_TRAILER_LEN;
	int clear = (h->flags & MW_FLAG_CLEAR) != 0;
	uint64_t e, top;
	int rc;

	memset(rx, 0, sizeof(*rx));
	/* A plain packet, or one of the other mode, is not authenticated. */
	if (h->version != MW_WIRE_VERSION_SEC ||
	    clear != (ep->cfg.sec_mode == MW_SEC_INTEGRITY))
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	if (h->type == MW_PT_HELLO || h->type == MW_PT_HELLO_ACK) {
		rc = open_hello(ep, p, h, pkt, len, rx);
		goto out;
	}
	/* Keys exist for one session (and the one a CLOSE of ours left):
	 * identities naming another cannot be authenticated. Like
	 * wrong_session (7.1), a newer peer is told our identity. */
	if (mw_session_closes_ours(p, h) && sp->old.valid) {
		s = &sp->old;
	} else if (p->sess.remote_known && !p->sess.remote_closed &&
		   ident_eq(&h->src, &p->sess.remote) &&
		   ident_eq(&h->dst, &p->sess.local) && sp->cur.valid) {
		s = &sp->cur;
	} else {
		int c = p->sess.remote_known
				? mw_ident_cmp(&h->src, &p->sess.remote)
				: 1;

		if (h->type != MW_PT_CLOSE &&
		    !(c < 0 || (c == 0 && p->sess.remote_closed)))
			mw_session_resync(ep, p, now);
		return mw_ep_drop(ep, MW_DROP_AUTH_SESSION, MW_EAUTH);
	}
	rx->s = s;
	rx->sn = mw_get64(pkt + body);
	if (win_check(s, rx->sn) < 0)
		return mw_ep_drop(ep, MW_DROP_REPLAY, MW_EDUP);
	/* Only the epochs next to the newest accepted are derived: a forged
	 * sn cannot make us derive keys at will. */
	e = rx->sn >> SEC_EPOCH_BITS;
	top = s->rx_any ? s->rx_top >> SEC_EPOCH_BITS : 0;
	if (e > top + 1 || e + 1 < top)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	d = &s->rx[e & 1];
	if (dir_epoch(ep, d, e, 0) < 0)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	iv_of(d, rx->sn, iv);
	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY) {
		rc = ep->cops->open(d->a, iv, pkt, body + MW_SEC_SN_LEN, NULL, 0,
				    NULL, NULL, 0, pkt + len - MW_SEC_TAG_LEN);
		memcpy(ep->sec_buf, pkt, body);
	} else {
		memcpy(ep->sec_buf, pkt, MW_WIRE_HDR_LEN);
		rc = ep->cops->open(d->a, iv, pkt, MW_WIRE_HDR_LEN, pkt + body,
				    MW_SEC_SN_LEN, pkt + MW_WIRE_HDR_LEN,
				    ep->sec_buf + MW_WIRE_HDR_LEN,
				    body - MW_WIRE_HDR_LEN,
				    pkt + len - MW_SEC_TAG_LEN);
	}
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	rx->len = body;
out:
	if (rc < 0)
		return rc;
	/* The plain view: the packet as version 1 would carry it. */
	mw_put16(ep->sec_buf + MW_OFF_LEN, (uint16_t)rx->len);
	rx->pkt = ep->sec_buf;
	h->len = (uint16_t)rx->len;
	h->flags &= (uint16_t)~MW_FLAG_CLEAR;
	return 0;
}

void mw_sec_accept(struct mw_ep *ep, struct peer *p, const struct mw_hdr *h,
		   const struct sec_rx *rx)
{
	struct sec_peer *sp = p->sec;

	if (rx->s) {
		win_record(rx->s, rx->sn);
		return;
	}
	/* A HELLO / HELLO_ACK accepted: the session may be new (the peer's
	 * identity and so its nonce changed). */
	if (!sp->rknown || memcmp(sp->rnonce, rx->nonce, MW_SEC_NONCE_LEN) ||
	    !sp->cur.valid) {
		memcpy(sp->rnonce, rx->nonce, MW_SEC_NONCE_LEN);
		sp->rknown = 1;
		sess_derive(ep, p);
	}
	sp->rhello_sn = rx->sn;
	(void)h;
}
