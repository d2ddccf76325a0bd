/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for mw_net_parse() (and mw_net_peek(), which must
 * agree with it). Input: one byte that picks the
 * configuration (bit 0 set: tagged, VLAN id = byte >> 1; bit 7 set: zero
 * UDP checksums accepted), then a whole Ethernet frame.
 * Invariants checked on every input:
 * - the result is a known class with a known drop reason, and a drop reason
 *   is set exactly when the frame is dropped;
 * - a UDP payload lies inside the buffer;
 * - rebuilding a UDP frame from the parsed fields and payload parses back to
 *   the same payload (round trip), and an ARP request's reply parses as a
 *   reply from our address.
 */
#include "mw_net.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t frame2[70000];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* First byte picks the configuration so tagged paths are reached.
	 * The address is the receiver's in the pcap-tests captures, so the
	 * seed frames (corpus/frame) reach the UDP class as they are. */
	struct mw_net_cfg cfg = {
		.mac = {0x02, 0, 0, 0, 0, 0x02},
		.ip = 0x0a000002,
		.port = 47000,
		.vlan = MW_NET_NO_VLAN,
	};
	if (size > 0) {
		cfg.vlan = (data[0] & 1) ? (uint16_t)(data[0] >> 1)
					 : MW_NET_NO_VLAN;
		cfg.accept_zero_udp_cksum = data[0] & 0x80;
		data++;
		size--;
	}
	struct mw_net_pkt p;
	int c = mw_net_parse(&cfg, data, size, 0, &p);
	if (c != (int)p.cls || c < 0 || c > MW_NET_CLASS_ARP_REPLY)
		abort();
	if ((c == MW_NET_CLASS_DROP) != (p.drop != MW_NET_DROP_NONE))
		abort();
	if (p.drop >= MW_NET_DROP_COUNT_)
		abort();
	/* mw_net_peek() routes frames between I/O lcores: every frame the
	 * parser accepts must go to the owner of the address it parsed */
	uint32_t pip = 0;
	uint16_t pport = 0;
	int pk = mw_net_peek(data, size, &pip, &pport);
	if (c == MW_NET_CLASS_UDP &&
	    (pk != MW_NET_PEEK_UDP || pip != p.src_ip || pport != p.src_port))
		abort();
	if ((c == MW_NET_CLASS_ARP_REQ || c == MW_NET_CLASS_ARP_REPLY) &&
	    pk != MW_NET_PEEK_ARP)
		abort();

	if (c == MW_NET_CLASS_UDP) {
		if ((size_t)p.payload_off + p.payload_len > size)
			abort();
		struct mw_net_flow f = {
			.src_ip = p.src_ip, .dst_ip = cfg.ip,
			.src_port = p.src_port, .dst_port = cfg.port,
			.vlan = cfg.vlan,
		};
		memcpy(f.src_mac, p.src_mac, 6);
		memcpy(f.dst_mac, cfg.mac, 6);
		size_t hl = mw_net_hdr_len(&f);
		memcpy(frame2 + hl, data + p.payload_off, p.payload_len);
		int n = mw_net_build_udp(&f, frame2, sizeof frame2,
					 p.payload_len, 1, 0);
		if (n < 0)
			abort();
		struct mw_net_pkt q;
		if (mw_net_parse(&cfg, frame2, (size_t)n, 0, &q) !=
			    MW_NET_CLASS_UDP ||
		    q.payload_len != p.payload_len || q.src_ip != p.src_ip ||
		    q.src_port != p.src_port ||
		    memcmp(frame2 + q.payload_off, data + p.payload_off,
			   p.payload_len) != 0)
			abort();
	} else if (c == MW_NET_CLASS_ARP_REQ) {
		uint8_t rep[64];
		struct mw_net_cfg them = cfg;
		memcpy(them.mac, p.arp_sha, 6);
		them.ip = p.src_ip;
		them.vlan = p.vlan;
		if (mw_net_build_arp_reply(&cfg, &p, rep, sizeof rep) != 60)
			abort();
		/* The reply goes to the requester's MAC; it parses there
		 * unless that MAC is a group address. */
		struct mw_net_pkt q;
		int rc = mw_net_parse(&them, rep, 60, 0, &q);
		if (!(p.arp_sha[0] & 1) &&
		    (rc != MW_NET_CLASS_ARP_REPLY || q.src_ip != cfg.ip ||
		     memcmp(q.arp_sha, cfg.mac, 6) != 0))
			abort();
	}
	return 0;
}
