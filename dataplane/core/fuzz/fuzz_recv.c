/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: an endpoint's receive path. The input is a sequence
 * of records (1 byte: flags, 2 bytes: length, then the datagram); the
 * harness can stamp the endpoint's real session identities and a valid
 * CRC on a record so that packets reach the session logic. After every
 * packet the endpoint's memory must stay within its configured bound; it
 * must never crash, and delivered tensors must have the size their
 * metadata claims. */
#include <stdlib.h>
#include <string.h>

#include "mw_transport.h"
#include "wire_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct mw_ep_config cfg;
	struct mw_ep *ep;
	struct mw_event ev;
	struct mw_peer_info pi;
	uint8_t pkt[2048], out[2048];
	uint64_t now = 1;
	uint16_t peer;
	int id;

	mw_ep_config_default(&cfg);
	cfg.incarnation = 5;
	cfg.max_peers = 2;
	cfg.window = 4;
	cfg.max_segs = 64;
	cfg.max_tensor_bytes = 1 << 16;
	cfg.max_datagram = 1472;
	if (mw_ep_new(&cfg, &ep) < 0)
		abort();
	id = mw_ep_add_peer(ep);
	if (id < 0)
		abort();
	while (len >= 3) {
		uint8_t fl = in[0];
		size_t n = (size_t)in[1] << 8 | in[2];

		in += 3;
		len -= 3;
		if (n > len)
			n = len;
		if (n > sizeof(pkt))
			n = sizeof(pkt);
		memcpy(pkt, in, n);
		in += n;
		len -= n;
		mw_ep_peer_info(ep, (uint16_t)id, &pi);
		if ((fl & 1) && n >= MW_WIRE_HDR_LEN) {
			mw_put16(pkt, MW_WIRE_MAGIC);
			pkt[2] = MW_WIRE_VERSION;
			if (fl & 2) { /* speak as the known peer, to us */
				if (pi.remote.inc) {
					mw_put32(pkt + 8, pi.remote.inc);
					mw_put32(pkt + 12, pi.remote.gen);
				}
				mw_put32(pkt + 16, pi.local.inc);
				mw_put32(pkt + 20, pi.local.gen);
			}
			mw_wire_finish(pkt, n);
		}
		now += (uint64_t)(fl >> 2) * 100000;
		mw_ep_recv(ep, (uint16_t)(fl & 4 ? 1 : id), pkt, n, now);
		if (mw_ep_mem_held(ep) > mw_ep_mem_bound(ep))
			abort();
		if (fl & 0x80)
			mw_ep_handle_expiry(ep, now);
		while (mw_ep_send(ep, now, out, sizeof(out), &peer) > 0)
			;
		while (mw_ep_poll(ep, &ev)) {
			if (ev.type == MW_EV_RX_TENSOR &&
			    ev.bytes != ev.desc.n *
						mw_codec_elem_size(ev.desc.codec))
				abort();
			mw_ep_release(ep, &ev);
		}
	}
	if (mw_ep_mem_held(ep) > mw_ep_mem_bound(ep))
		abort();
	mw_ep_free(ep);
	return 0;
}
