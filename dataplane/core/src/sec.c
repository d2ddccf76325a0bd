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

const char *mw_ep_crypto_name(const struct mw_ep *ep)
{
	return ep->cfg.sec_mode && ep->cops ? ep->cops->name : NULL;
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
	sp->proven = 0;
	sp->used = 0;
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

static void chal_free(struct mw_ep *ep, struct sec_chal *ch)
{
	sess_free(ep, &ch->keys);
	dir_free(ep, &ch->hello);
	memset(ch, 0, sizeof(*ch));
	ch->hello.epoch = UINT64_MAX;
	ch->keys.tx.epoch = ch->keys.rx[0].epoch = UINT64_MAX;
	ch->keys.rx[1].epoch = UINT64_MAX;
}

uint32_t mw_sec_draw_gen(struct mw_ep *ep, uint32_t gen)
{
	uint32_t g = 0;

	while (g == 0 || g == gen)
		ep->cfg.rand(ep->cfg.rand_ctx, &g, sizeof(g));
	return g;
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
	ep->cops = ep->cfg.crypto ? ep->cfg.crypto
				  : mw_crypto_default(ep->cfg.max_datagram);
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
	chal_free(ep, &sp->chal);
	sp->hello.epoch = UINT64_MAX;
	sp->hello_tok = SEC_HELLO_BURST;
	memcpy(sp->psk, ep->cfg.psk, sizeof(sp->psk));
	/* The first generation is drawn, not 1 (12.2). */
	p->sess.local.gen = mw_sec_draw_gen(ep, gen);
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
	chal_free(ep, &sp->chal);
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
	chal_free(ep, &sp->chal);
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
	/* a challenge answers for the session just left: void */
	chal_free(ep, &sp->chal);
}

int mw_sec_chal_owed(struct peer *p, struct mw_ident *src,
		     struct mw_ident *dst)
{
	struct sec_chal *ch = &p->sec->chal;

	if (!ch->valid || !ch->ack_owed)
		return 0;
	ch->ack_owed = 0;
	*src = ch->local;
	*dst = ch->remote;
	return 1;
}

void mw_sec_chal_take(struct mw_ep *ep, struct peer *p)
{
	struct sec_peer *sp = p->sec;
	struct sec_chal *ch = &sp->chal;

	sess_free(ep, &sp->cur);
	sp->cur = ch->keys;
	memset(&ch->keys, 0, sizeof(ch->keys));
	dir_free(ep, &sp->hello);
	sp->hello = ch->hello;
	memset(&ch->hello, 0, sizeof(ch->hello));
	sp->hello_sn = ch->hello_sn;
	memcpy(sp->lnonce, ch->lnonce, sizeof(sp->lnonce));
	memcpy(sp->rnonce, ch->rnonce, sizeof(sp->rnonce));
	sp->rknown = 1;
	sp->rhello_sn = ch->rhello_sn;
	sp->proven = 1;
	sp->used = 1;
}

/* ---- packets (12.5, 12.6) --------------------------------------------- */

static void iv_of(const struct sec_dir *d, uint64_t sn, uint8_t iv[12])
{
	unsigned i;

	memcpy(iv, d->iv, MW_AEAD_IV_LEN);
	for (i = 0; i < 8; i++)
		iv[4 + i] ^= (uint8_t)(sn >> (56 - 8 * i));
}

/* The next sn of session s and its epoch's key; MW_ESTATE without keys. */
static int tx_sn_take(struct mw_ep *ep, struct sec_peer *sp,
		      struct sec_sess *s, uint64_t *sn)
{
	if (!s->valid)
		return MW_ESTATE;
	*sn = s->tx_sn;
	if (dir_epoch(ep, &s->tx, *sn >> SEC_EPOCH_BITS, 1) < 0)
		return MW_ESTATE;
	s->tx_sn++;
	if (s == &sp->cur)
		sp->used = 1;
	return 0;
}

/* A compact DATA's additional data before its body (5.6, 12.5): the
 * session's identities (sender's, then receiver's), then its header. */
static void cdata_aad(uint8_t aad[16 + MW_WIRE_CDATA_HDR_LEN],
		      const uint8_t *pkt, const struct mw_ident *src,
		      const struct mw_ident *dst)
{
	mw_put32(aad, src->inc);
	mw_put32(aad + 4, src->gen);
	mw_put32(aad + 8, dst->inc);
	mw_put32(aad + 12, dst->gen);
	memcpy(aad + 16, pkt, MW_WIRE_CDATA_HDR_LEN);
}

/* Seal a compact DATA of the current session (5.6): version 2, crc 0. */
static int seal_cdata(struct mw_ep *ep, struct peer *p, uint8_t *buf,
		      size_t len)
{
	struct sec_peer *sp = p->sec;
	struct sec_sess *s = &sp->cur;
	uint8_t iv[MW_AEAD_IV_LEN], aad[16 + MW_WIRE_CDATA_HDR_LEN];
	uint8_t *tag = buf + len + MW_SEC_SN_LEN;
	uint64_t sn;
	int rc;

	if (tx_sn_take(ep, sp, s, &sn) < 0)
		return MW_ESTATE;
	buf[MW_OFF_VERSION] = MW_WIRE_VERSION_SEC;
	mw_put32(buf + MW_OFF_CDATA_CRC, 0);
	mw_put64(buf + len, sn);
	cdata_aad(aad, buf, &p->sess.local, &p->sess.remote);
	iv_of(&s->tx, sn, iv);
	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY)
		rc = ep->cops->seal(s->tx.a, iv, aad, sizeof(aad),
				    buf + MW_WIRE_CDATA_HDR_LEN,
				    len - MW_WIRE_CDATA_HDR_LEN + MW_SEC_SN_LEN,
				    NULL, NULL, 0, tag);
	else
		rc = ep->cops->seal(s->tx.a, iv, aad, sizeof(aad), buf + len,
				    MW_SEC_SN_LEN, buf + MW_WIRE_CDATA_HDR_LEN,
				    buf + MW_WIRE_CDATA_HDR_LEN,
				    len - MW_WIRE_CDATA_HDR_LEN, tag);
	return rc < 0 ? MW_ESTATE : (int)(len + MW_SEC_TRAILER_LEN);
}

int mw_sec_seal(struct mw_ep *ep, struct peer *p, uint8_t *buf, size_t len)
{
	struct sec_peer *sp = p->sec;
	uint8_t type = buf[MW_OFF_TYPE], iv[MW_AEAD_IV_LEN];
	uint16_t flags = mw_get16(buf + MW_OFF_FLAGS);
	struct sec_sess *s;
	uint64_t sn;

	if (type == MW_PT_CDATA)
		return seal_cdata(ep, p, buf, len);
	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY)
		flags |= MW_FLAG_CLEAR;
	buf[MW_OFF_VERSION] = MW_WIRE_VERSION_SEC;
	mw_put16(buf + MW_OFF_FLAGS, flags);
	mw_put32(buf + MW_OFF_CRC, 0);
	if (type == MW_PT_HELLO || type == MW_PT_HELLO_ACK) {
		/* our current identity's, or a challenge's (12.3) */
		struct sec_chal *ch = &sp->chal;
		int c = ch->valid &&
			mw_get32(buf + MW_OFF_SRC_INC) == ch->local.inc &&
			mw_get32(buf + MW_OFF_SRC_GEN) == ch->local.gen;
		struct sec_dir *hk = c ? &ch->hello : &sp->hello;

		/* integrity only: a HELLO's body is no secret (12.3) */
		if (!hk->a)
			return MW_ESTATE;
		memcpy(buf + len, c ? ch->lnonce : sp->lnonce,
		       MW_SEC_NONCE_LEN);
		len += MW_SEC_NONCE_LEN;
		sn = c ? ch->hello_sn++ : sp->hello_sn++;
		mw_put64(buf + len, sn);
		mw_put16(buf + MW_OFF_LEN, (uint16_t)(len + MW_SEC_TRAILER_LEN));
		iv_of(hk, sn, iv);
		if (ep->cops->seal(hk->a, iv, buf, len + MW_SEC_SN_LEN,
				   NULL, 0, NULL, NULL, 0,
				   buf + len + MW_SEC_SN_LEN) < 0)
			return MW_ESTATE;
		return (int)(len + MW_SEC_TRAILER_LEN);
	}
	/* A CLOSE names the session just left (7.3): its keys. */
	s = type == MW_PT_CLOSE ? &sp->old : &sp->cur;
	if (tx_sn_take(ep, sp, s, &sn) < 0)
		return MW_ESTATE;
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

/* The HELLO token bucket (12.6): SEC_HELLO_BURST tokens, one more per
 * rto_min; 0 when empty (the HELLO is not looked at further). */
static int hello_token(struct mw_ep *ep, struct sec_peer *sp, uint64_t now)
{
	uint64_t r = ep->cfg.rto_min_ns, n = (now - sp->hello_tok_at) / r;

	if (n) {
		if (n >= SEC_HELLO_BURST - sp->hello_tok) {
			sp->hello_tok = SEC_HELLO_BURST;
			sp->hello_tok_at = now;
		} else {
			sp->hello_tok += (uint32_t)n;
			sp->hello_tok_at += n * r;
		}
	}
	if (!sp->hello_tok)
		return 0;
	sp->hello_tok--;
	return 1;
}

/*
 * A verified HELLO of a new identity of a peer whose session is proven
 * (12.3): not a restart yet. A fresh identity and nonce of ours answer
 * it (the challenge's HELLO_ACK); its keys wait for a packet from the
 * peer. One challenge per peer: a HELLO of another identity or nonce
 * replaces it, one of the same is answered again.
 */
static int challenge(struct mw_ep *ep, struct peer *p, const struct mw_hdr *h,
		     const uint8_t *nonce, uint64_t sn)
{
	struct sec_peer *sp = p->sec;
	struct sec_chal *ch = &sp->chal;
	struct mw_hello hb;
	int rc;

	rc = mw_wire_parse_hello(ep->sec_buf, MW_WIRE_HELLO_LEN, &hb);
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_FORMAT, rc);
	ep->ctr.challenges++;
	if (ch->valid && ident_eq(&h->src, &ch->remote) &&
	    memcmp(nonce, ch->rnonce, MW_SEC_NONCE_LEN) == 0) {
		ch->rhello_sn = sn;
		ch->lim = hb;
		ch->ack_owed = 1;
		return 1;
	}
	chal_free(ep, ch);
	ch->remote = h->src;
	memcpy(ch->rnonce, nonce, MW_SEC_NONCE_LEN);
	ch->rhello_sn = sn;
	ch->lim = hb;
	ch->local.inc = p->sess.local.inc;
	ch->local.gen = mw_sec_draw_gen(ep, p->sess.local.gen);
	ep->cfg.rand(ep->cfg.rand_ctx, ch->lnonce, sizeof(ch->lnonce));
	if (hello_key(ep, sp->psk, ch->lnonce, &ch->hello, 1) < 0 ||
	    dir_secret(ep, sp->psk, &ch->local, ch->lnonce, &ch->remote,
		       ch->rnonce, ch->keys.tx.secret) < 0 ||
	    dir_secret(ep, sp->psk, &ch->remote, ch->rnonce, &ch->local,
		       ch->lnonce, ch->keys.rx[0].secret) < 0) {
		chal_free(ep, ch);
		return 1; /* no keys: as if the HELLO_ACK were lost */
	}
	memcpy(ch->keys.rx[1].secret, ch->keys.rx[0].secret,
	       sizeof(ch->keys.rx[0].secret));
	ch->keys.valid = 1;
	ch->valid = 1;
	ch->ack_owed = 1;
	return 1;
}

static int open_hello(struct mw_ep *ep, struct peer *p, struct mw_hdr *h,
		      const uint8_t *pkt, size_t len, uint64_t now,
		      struct sec_rx *rx)
{
	struct sec_peer *sp = p->sec;
	const uint8_t *nonce = pkt + MW_WIRE_HELLO_LEN;
	size_t alen = MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN + MW_SEC_SN_LEN;
	uint8_t iv[MW_AEAD_IV_LEN];
	struct sec_dir d;
	int same, chal, rc;

	if (len != MW_SEC_HELLO_LEN)
		return mw_ep_drop(ep, MW_DROP_FORMAT, MW_EFORMAT);
	rx->sn = mw_get64(pkt + MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN);
	same = sp->rknown && p->sess.remote_known &&
	       ident_eq(&h->src, &p->sess.remote) &&
	       memcmp(nonce, sp->rnonce, MW_SEC_NONCE_LEN) == 0;
	chal = sp->chal.valid && ident_eq(&h->src, &sp->chal.remote) &&
	       memcmp(nonce, sp->chal.rnonce, MW_SEC_NONCE_LEN) == 0;
	if ((same && rx->sn <= sp->rhello_sn) ||
	    (chal && rx->sn <= sp->chal.rhello_sn))
		return mw_ep_drop(ep, MW_DROP_REPLAY, MW_EDUP);
	/* Verifying costs key derivations: a bounded number per peer. */
	if (!hello_token(ep, sp, now))
		return mw_ep_drop(ep, MW_DROP_HELLO_RATE, MW_EAGAIN);
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
	mw_put16(ep->sec_buf + MW_OFF_LEN, MW_WIRE_HELLO_LEN);
	/* Another identity of a peer whose session is proven: a restart,
	 * or a replay of an old HELLO. Only a challenge tells (12.3). A
	 * HELLO_ACK to an identity we do not have is stale (6.3) below. */
	if (p->sess.remote_known && !p->sess.remote_closed && sp->proven &&
	    !ident_eq(&h->src, &p->sess.remote) &&
	    (h->type == MW_PT_HELLO || ident_eq(&h->dst, &p->sess.local)))
		return challenge(ep, p, h, nonce, rx->sn);
	rx->nonce = nonce;
	rx->len = MW_WIRE_HELLO_LEN;
	return 0;
}

/* A DATA/ACK/CLOSE under session s, its sn at snp: the replay window,
 * then the epoch; the key of that epoch and the nonce, or the drop. */
static int rx_key(struct mw_ep *ep, struct sec_sess *s, const uint8_t *snp,
		  struct sec_rx *rx, struct sec_dir **dp,
		  uint8_t iv[MW_AEAD_IV_LEN])
{
	uint64_t e, top;

	rx->s = s;
	rx->sn = mw_get64(snp);
	if (win_check(s, rx->sn) < 0)
		return mw_ep_drop(ep, MW_DROP_REPLAY, MW_EDUP);
	/* Only the epochs next to the newest accepted are derived: a forged
	 * sn cannot make us derive keys at will. */
	e = rx->sn >> SEC_EPOCH_BITS;
	top = s->rx_any ? s->rx_top >> SEC_EPOCH_BITS : 0;
	if (e > top + 1 || e + 1 < top)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	*dp = &s->rx[e & 1];
	if (dir_epoch(ep, *dp, e, 0) < 0)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	iv_of(*dp, rx->sn, iv);
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
	int rc;

	memset(rx, 0, sizeof(*rx));
	/* A plain packet, or one of the other mode, is not authenticated. */
	if (h->version != MW_WIRE_VERSION_SEC ||
	    clear != (ep->cfg.sec_mode == MW_SEC_INTEGRITY))
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	if (h->type == MW_PT_HELLO || h->type == MW_PT_HELLO_ACK) {
		rc = open_hello(ep, p, h, pkt, len, now, rx);
		if (rc != 0)
			return rc;
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
	} else if (sp->chal.valid && ident_eq(&h->src, &sp->chal.remote) &&
		   ident_eq(&h->dst, &sp->chal.local)) {
		s = &sp->chal.keys;
	} else {
		/* Identities have no order in secure mode: only a CLOSE, or
		 * a packet of the session the peer closed, is not answered. */
		if (h->type != MW_PT_CLOSE &&
		    !(p->sess.remote_known && p->sess.remote_closed &&
		      ident_eq(&h->src, &p->sess.remote)))
			mw_session_resync(ep, p, now);
		return mw_ep_drop(ep, MW_DROP_AUTH_SESSION, MW_EAUTH);
	}
	rc = rx_key(ep, s, pkt + body, rx, &d, iv);
	if (rc < 0)
		return rc;
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
	/* Verified under a challenge's keys: the peer's new identity is
	 * live, the challenge becomes the session (7.2, 12.3). */
	if (s == &sp->chal.keys) {
		mw_session_promote(ep, (uint16_t)(p - ep->peers), now);
		rx->s = &sp->cur;
	}
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

int mw_sec_open_cdata(struct mw_ep *ep, struct peer *p, const uint8_t *pkt,
		      size_t len, struct sec_rx *rx)
{
	struct sec_sess *s = &p->sec->cur;
	size_t body = len - MW_SEC_TRAILER_LEN;
	uint8_t iv[MW_AEAD_IV_LEN], aad[16 + MW_WIRE_CDATA_HDR_LEN];
	const uint8_t *tag = pkt + len - MW_SEC_TAG_LEN;
	struct sec_dir *d;
	int rc;

	memset(rx, 0, sizeof(*rx));
	if (!s->valid)
		return mw_ep_drop(ep, MW_DROP_AUTH_SESSION, MW_EAUTH);
	rc = rx_key(ep, s, pkt + body, rx, &d, iv);
	if (rc < 0)
		return rc;
	cdata_aad(aad, pkt, &p->sess.remote, &p->sess.local);
	if (ep->cfg.sec_mode == MW_SEC_INTEGRITY) {
		rc = ep->cops->open(d->a, iv, aad, sizeof(aad),
				    pkt + MW_WIRE_CDATA_HDR_LEN,
				    body - MW_WIRE_CDATA_HDR_LEN + MW_SEC_SN_LEN,
				    NULL, NULL, 0, tag);
		memcpy(ep->sec_buf, pkt, body);
	} else {
		memcpy(ep->sec_buf, pkt, MW_WIRE_CDATA_HDR_LEN);
		rc = ep->cops->open(d->a, iv, aad, sizeof(aad), pkt + body,
				    MW_SEC_SN_LEN, pkt + MW_WIRE_CDATA_HDR_LEN,
				    ep->sec_buf + MW_WIRE_CDATA_HDR_LEN,
				    body - MW_WIRE_CDATA_HDR_LEN, tag);
	}
	if (rc < 0)
		return mw_ep_drop(ep, MW_DROP_AUTH, MW_EAUTH);
	/* the plain view: the packet as version 1 would carry it, its crc
	 * field unused (the tag verified it) */
	ep->sec_buf[MW_OFF_VERSION] = MW_WIRE_VERSION;
	rx->pkt = ep->sec_buf;
	rx->len = body;
	return 0;
}

void mw_sec_accept(struct mw_ep *ep, struct peer *p, const struct mw_hdr *h,
		   const struct sec_rx *rx)
{
	struct sec_peer *sp = p->sec;

	if (rx->s) {
		win_record(rx->s, rx->sn);
		if (rx->s == &sp->cur)
			sp->proven = sp->used = 1;
		return;
	}
	/* A HELLO / HELLO_ACK accepted: the session may be new (the peer's
	 * identity and so its nonce changed). */
	if (!sp->rknown || memcmp(sp->rnonce, rx->nonce, MW_SEC_NONCE_LEN) ||
	    !sp->cur.valid) {
		memcpy(sp->rnonce, rx->nonce, MW_SEC_NONCE_LEN);
		sp->rknown = 1;
		sess_derive(ep, p);
		/* the peer's identity was taken at once: no challenge left */
		chal_free(ep, &sp->chal);
	}
	sp->rhello_sn = rx->sn;
	(void)h;
}
