/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * expect_secure.c - `expect` for a version-2 capture (PROTOCOL.md 12).
 *
 * A replay can never open the recorded session again (the receiver's
 * nonce and identity are new), so what can be said is of two kinds:
 *
 *  - the capture itself, both directions, under the test key: every
 *    header well formed with crc 0 and a trailer, every HELLO's tag
 *    verifies under its nonce, every DATA/ACK/CLOSE's tag under the
 *    session keys of its identities (from their HELLOs' nonces), no
 *    sequence number twice in one direction of one session or identity;
 *  - what a fresh secure receiver with that key counts for the peer's
 *    datagrams, by the order of 12.6: its HELLOs accepted (the first at
 *    once: no session), exact repeats `replay`, altered ones `auth`,
 *    past the token bucket `hello_rate`, a HELLO_ACK `stale_incarnation`
 *    (it names an identity the receiver never had), every DATA/ACK/CLOSE
 *    `auth_session` (it names the recorded receiver's identity).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "expect_secure.h"
#include "secure.h"

#define HELLO_BURST 16u /* PROTOCOL.md 12.6 */

struct seen {
	uint32_t id[4];
	uint64_t sn;
	bool hello;
};

struct sec_scan {
	uint64_t datagrams, from_peer, to_peer, bad_header, hello,
		hello_verified, session, session_verified, no_keys, tag_failed,
		sn_repeated;
	struct seen *seen;
	size_t nseen;
};

/* One fresh receiver's view of the peer's datagrams (12.6). */
struct fresh {
	bool known;
	struct mw_ident peer;
	uint8_t nonce[MW_SEC_NONCE_LEN];
	uint64_t last_sn;
	unsigned tokens_used;
	uint64_t hello_rx, auth, auth_session, replay, hello_rate, stale,
		malformed;
};

static bool repeated(struct sec_scan *sc, const uint8_t *dg, bool hello)
{
	struct seen x;
	size_t len = mw_get16(dg + MW_OFF_LEN);

	memset(&x, 0, sizeof(x));
	for (unsigned i = 0; i < 4; i++)
		x.id[i] = mw_get32(dg + MW_OFF_SRC_INC + 4 * i);
	if (hello) /* a HELLO's sn counts per identity, whatever its dst */
		x.id[2] = x.id[3] = 0;
	x.sn = mw_get64(dg + len - MW_SEC_TRAILER_LEN);
	x.hello = hello;
	for (size_t i = 0; i < sc->nseen; i++)
		if (!memcmp(sc->seen[i].id, x.id, sizeof(x.id)) &&
		    sc->seen[i].sn == x.sn && sc->seen[i].hello == x.hello)
			return true;
	sc->seen[sc->nseen++] = x;
	return false;
}

static void fresh_on(struct fresh *fr, const struct pt_sec *k,
		     const uint8_t *dg, size_t len)
{
	struct mw_ident src = { mw_get32(dg + MW_OFF_SRC_INC),
				mw_get32(dg + MW_OFF_SRC_GEN) };
	uint8_t type = dg[MW_OFF_TYPE];
	uint64_t sn;
	bool same;

	struct mw_hdr h;

	if (mw_wire_parse_hdr(dg, len, &h) != 0) {
		fr->malformed++; /* (no capture made by maskwire has one) */
		return;
	}
	if (dg[MW_OFF_VERSION] != MW_WIRE_VERSION_SEC ||
	    (mw_get16(dg + MW_OFF_FLAGS) & MW_FLAG_CLEAR)) {
		fr->auth++; /* the replay runs in encrypt mode */
		return;
	}
	if (type != MW_PT_HELLO && type != MW_PT_HELLO_ACK) {
		fr->auth_session++;
		return;
	}
	if (len != MW_SEC_HELLO_LEN) {
		fr->malformed++;
		return;
	}
	sn = mw_get64(dg + MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN);
	same = fr->known && src.inc == fr->peer.inc &&
	       src.gen == fr->peer.gen &&
	       !memcmp(dg + MW_WIRE_HELLO_LEN, fr->nonce, MW_SEC_NONCE_LEN);
	if (same && sn <= fr->last_sn) {
		fr->replay++;
		return;
	}
	if (fr->tokens_used == HELLO_BURST) {
		fr->hello_rate++;
		return;
	}
	fr->tokens_used++;
	if (pt_sec_hello(k, dg, len) != 0) {
		fr->auth++;
		return;
	}
	if (!same && fr->known && src.inc == fr->peer.inc &&
	    src.gen == fr->peer.gen) {
		fr->stale++; /* the recorded identity, another nonce */
		return;
	}
	if (type == MW_PT_HELLO_ACK) {
		fr->stale++; /* to an identity a new receiver never has */
		return;
	}
	fr->known = true;
	fr->peer = src;
	memcpy(fr->nonce, dg + MW_WIRE_HELLO_LEN, MW_SEC_NONCE_LEN);
	fr->last_sn = sn;
	fr->hello_rx++;
}

/* The maskwire datagram of frame f, either way; 0 if it is none. */
static int datagram(const struct pt_sess *s, const struct pt_sess *rev,
		    const struct pt_frame *f, const uint8_t **pl, size_t *len,
		    bool *from_peer)
{
	struct mw_net_pkt p;
	bool fp;

	if (pt_classify(s, f, &p, &fp, pl, len) == MW_NET_CLASS_UDP && fp) {
		*from_peer = true;
		return 1;
	}
	if (pt_classify(rev, f, &p, &fp, pl, len) == MW_NET_CLASS_UDP && fp) {
		*from_peer = false;
		return 1;
	}
	return 0;
}

bool pt_capture_is_secure(const struct pt_sess *s, const struct pt_cap *c)
{
	struct pt_sess rev = *s;
	const uint8_t *pl;
	size_t len;
	bool fp;

	pt_sess_reverse(s, &rev);
	for (size_t i = 0; i < c->n; i++)
		if (datagram(s, &rev, &c->f[i], &pl, &len, &fp) &&
		    len >= MW_WIRE_HDR_LEN &&
		    mw_get16(pl + MW_OFF_MAGIC) == MW_WIRE_MAGIC &&
		    pl[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC)
			return true;
	return false;
}

int pt_expect_secure(const struct pt_sess *s, const struct pt_cap *c,
		     const char *keyfile, FILE *o)
{
	static struct pt_sec k;
	struct pt_sess rev;
	struct sec_scan sc;
	struct fresh fr;
	const uint8_t *pl;
	size_t len;
	bool fp;
	char err[256];
	int pass;

	if (pt_sec_init(&k, keyfile, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	pt_sess_reverse(s, &rev);
	memset(&sc, 0, sizeof(sc));
	memset(&fr, 0, sizeof(fr));
	sc.seen = calloc(c->n ? c->n : 1, sizeof(*sc.seen));
	if (!sc.seen)
		return 3;
	/* pass 0: the HELLOs and their nonces; pass 1: everything */
	for (pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->n; i++) {
			struct mw_hdr h;
			bool hello;

			if (!datagram(s, &rev, &c->f[i], &pl, &len, &fp))
				continue;
			if (pass == 1 && fp)
				fresh_on(&fr, &k, pl, len);
			if (mw_wire_parse_hdr(pl, len, &h) != 0 ||
			    h.version != MW_WIRE_VERSION_SEC ||
			    mw_get32(pl + MW_OFF_CRC) != 0 ||
			    len < MW_WIRE_HDR_LEN + MW_SEC_TRAILER_LEN) {
				sc.bad_header += pass;
				continue;
			}
			hello = h.type == MW_PT_HELLO ||
				h.type == MW_PT_HELLO_ACK;
			if (pass == 0) {
				if (hello && pt_sec_hello(&k, pl, len) == 0)
					pt_sec_learn(&k, pl);
				continue;
			}
			sc.datagrams++;
			if (fp)
				sc.from_peer++;
			else
				sc.to_peer++;
			if (hello) {
				sc.hello++;
				if (pt_sec_hello(&k, pl, len) == 0)
					sc.hello_verified++;
				else
					sc.tag_failed++;
			} else {
				int rc = pt_sec_session(&k, pl, len);

				sc.session++;
				if (rc == 0)
					sc.session_verified++;
				else if (rc == MW_ENOENT)
					sc.no_keys++;
				else
					sc.tag_failed++;
			}
			sc.sn_repeated += repeated(&sc, pl, hello);
		}
	fprintf(o,
		"{\"frames\": %zu,\n \"secure\": {\"datagrams\": %" PRIu64
		", \"from_peer\": %" PRIu64 ", \"to_peer\": %" PRIu64
		", \"bad_header\": %" PRIu64 ", \"hello\": %" PRIu64
		", \"hello_verified\": %" PRIu64 ", \"session\": %" PRIu64
		", \"session_verified\": %" PRIu64 ", \"no_keys\": %" PRIu64
		", \"tag_failed\": %" PRIu64 ", \"sn_repeated\": %" PRIu64
		"},\n",
		c->n, sc.datagrams, sc.from_peer, sc.to_peer, sc.bad_header,
		sc.hello, sc.hello_verified, sc.session, sc.session_verified,
		sc.no_keys, sc.tag_failed, sc.sn_repeated);
	fprintf(o,
		" \"fresh\": {\"hello_rx\": %" PRIu64 ", \"data_rx\": 0, "
		"\"tensors_delivered\": 0, \"peer_restarts\": 0, \"drop\": "
		"{\"auth\": %" PRIu64 ", \"auth_session\": %" PRIu64
		", \"replay\": %" PRIu64 ", \"hello_rate\": %" PRIu64
		", \"stale_incarnation\": %" PRIu64 ", \"malformed\": %" PRIu64
		"}}}\n",
		fr.hello_rx, fr.auth, fr.auth_session, fr.replay, fr.hello_rate,
		fr.stale, fr.malformed);
	free(sc.seen);
	return 0;
}
