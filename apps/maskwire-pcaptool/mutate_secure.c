/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate_secure.c - replayed and altered HELLOs in a version-2 capture
 * (PROTOCOL.md 12), made with its test key.
 *
 * A replaying receiver is a new process: it can never hold the recorded
 * session's keys, so the peer's DATA, ACK and CLOSE are `auth_session`
 * whatever is done to them. What it does verify is the peer's HELLO:
 * altered copies placed before it must be dropped `auth` (each takes a
 * token of the HELLO bucket: at most 15 of them, so that the counts do
 * not depend on the replay's timing), exact copies after it `replay`.
 * Each copy is checked under the key before it is inserted.
 */
#include <string.h>

#include "mutate.h"
#include "secure.h"

#define HELLO_BURST 16u /* PROTOCOL.md 12.6 */

static const char *const alter_names[] = { "body", "nonce", "sn",
					   "tag",  "src",   "dst" };

/* Copy k of the HELLO dg, altered by kind k % 6. */
static void alter(uint8_t *dg, unsigned k)
{
	unsigned j = k / 6;
	uint32_t g;

	switch (k % 6) {
	case 0: /* a limit of the body */
		dg[MW_WIRE_HDR_LEN + 4 + j % 8] ^= 0x01;
		break;
	case 1:
		dg[MW_WIRE_HELLO_LEN + j % MW_SEC_NONCE_LEN] ^= 0x80;
		break;
	case 2: /* a later sn: past the replay check, then the tag */
		mw_put64(dg + MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN,
			 mw_get64(dg + MW_WIRE_HELLO_LEN + MW_SEC_NONCE_LEN) +
				 1 + j);
		break;
	case 3:
		dg[MW_SEC_HELLO_LEN - 1 - j % MW_SEC_TAG_LEN] ^= 0x04;
		break;
	case 4: /* another identity of the peer */
		g = mw_get32(dg + MW_OFF_SRC_GEN) ^ (1u << (j % 31));
		mw_put32(dg + MW_OFF_SRC_GEN, g ? g : 1);
		break;
	default: /* addressed to someone */
		mw_put32(dg + MW_OFF_DST_INC, 0x1234 + j);
		mw_put32(dg + MW_OFF_DST_GEN, 0x5678);
		break;
	}
}

void mut_secure(struct mut *m, const char *keyfile, unsigned n_replay,
		unsigned n_alter)
{
	static struct pt_sec k;
	static uint8_t frame[FBUF];
	uint8_t hello[MW_SEC_HELLO_LEN], dg[MW_SEC_HELLO_LEN];
	char err[256], note[48];
	size_t at = m->c.n, i;

	if (!n_replay && !n_alter)
		return;
	if (!keyfile)
		mut_die("--replay-hello/--alter-hello need --key");
	if (1 + n_alter + n_replay > HELLO_BURST)
		mut_die("at most %u HELLOs in all (the token bucket)",
			HELLO_BURST);
	if (pt_sec_init(&k, keyfile, err, sizeof err))
		mut_die("%s", err);
	for (i = 0; i < m->c.n && at == m->c.n; i++) {
		struct mw_net_pkt p;
		const uint8_t *pl;
		size_t len;
		bool fp;

		if (pt_classify(&m->s, &m->c.f[i], &p, &fp, &pl, &len) ==
			    MW_NET_CLASS_UDP &&
		    fp && len == MW_SEC_HELLO_LEN &&
		    pl[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC &&
		    pl[MW_OFF_TYPE] == MW_PT_HELLO) {
			memcpy(hello, pl, len);
			at = i;
		}
	}
	if (at == m->c.n)
		mut_die("no version-2 HELLO from the peer in the capture");
	if (pt_sec_hello(&k, hello, sizeof(hello)) != 0)
		mut_die("the peer's HELLO does not verify under the key");
	/* exact copies, after it: replay */
	for (i = 0; i < n_replay; i++) {
		struct pt_frame *f = &m->c.f[at];

		if (pt_insert(&m->c, at + 1 + i, f->d, f->caplen, f->len,
			      f->ts_us, "secure: the HELLO again (replay)"))
			mut_die("out of memory");
	}
	/* altered copies, before it: auth */
	for (i = n_alter; i-- > 0;) {
		struct mw_hdr h;
		int fl;

		memcpy(dg, hello, sizeof(dg));
		alter(dg, (unsigned)i);
		if (mw_wire_parse_hdr(dg, sizeof(dg), &h) != 0 ||
		    pt_sec_hello(&k, dg, sizeof(dg)) != MW_EAUTH)
			mut_die("altered HELLO (%s) not an auth failure",
				alter_names[i % 6]);
		fl = pt_build_peer_frame(&m->s, dg, sizeof(dg), m->ip_id++,
					 frame, sizeof(frame));
		if (fl < 0)
			mut_die("cannot frame an altered HELLO");
		snprintf(note, sizeof(note), "secure: HELLO altered (%s, auth)",
			 alter_names[i % 6]);
		mut_insert(m, at, frame, (size_t)fl, note);
	}
}
