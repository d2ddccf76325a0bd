/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_net.c: parsing, every drop reason, header building. */
#include "mw_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_test.h"

#define CHECK_DROP(frame, len, reason)                                        \
	do {                                                                  \
		struct mw_net_pkt p_;                                         \
		int c_ = mw_net_parse(&me, (frame), (len), 0, &p_);           \
		if (c_ != MW_NET_CLASS_DROP || p_.drop != (reason))           \
			mw_test_fail(__FILE__, __LINE__,                      \
				     "want drop %s, got class %d drop %s",    \
				     mw_net_drop_name(reason), c_,            \
				     mw_net_drop_name(p_.drop));              \
	} while (0)

static const struct mw_net_cfg me = {
	.mac = {0x02, 0, 0, 0, 0, 0x01},
	.ip = 0x0a000001, /* 10.0.0.1 */
	.port = 7000,
	.vlan = MW_NET_NO_VLAN,
};

static const struct mw_net_cfg peer = {
	.mac = {0x02, 0, 0, 0, 0, 0x02},
	.ip = 0x0a000002,
	.port = 7001,
	.vlan = MW_NET_NO_VLAN,
};

static struct mw_net_flow flow_to_me(uint16_t vlan)
{
	struct mw_net_flow f = {
		.src_ip = peer.ip, .dst_ip = me.ip,
		.src_port = peer.port, .dst_port = me.port, .vlan = vlan,
	};
	memcpy(f.src_mac, peer.mac, 6);
	memcpy(f.dst_mac, me.mac, 6);
	return f;
}

/* A valid UDP frame to `me` with a patterned payload; returns its length. */
static size_t make_udp(uint8_t *buf, size_t cap, size_t plen, uint16_t vlan)
{
	struct mw_net_flow f = flow_to_me(vlan);
	size_t hl = mw_net_hdr_len(&f);
	for (size_t i = 0; i < plen; i++)
		buf[hl + i] = (uint8_t)(i * 7 + 3);
	int n = mw_net_build_udp(&f, buf, cap, plen, 0x1234, 0);
	CHECK(n == (int)(hl + plen));
	return n > 0 ? (size_t)n : 0;
}

/* Recompute the IPv4 header checksum after a test edits the header. */
static void fix_ip(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4;
	ip[10] = ip[11] = 0;
	uint16_t c = mw_net_cksum_fold(mw_net_cksum_add(0, ip, ihl));
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
}

static void test_cksum_rfc1071(void)
{
	const uint8_t v[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
	CHECK(mw_net_cksum_fold(mw_net_cksum_add(0, v, sizeof v)) ==
	      (uint16_t)~0xddf2);
	/* Odd length: the last byte is the high half of a word. */
	const uint8_t w[] = {0x12, 0x34, 0x56};
	CHECK(mw_net_cksum_fold(mw_net_cksum_add(0, w, 3)) ==
	      (uint16_t)~(0x1234 + 0x5600));
	/* Split sums on even boundaries equal the whole sum. */
	uint8_t big[1001];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31);
	uint32_t s = mw_net_cksum_add(mw_net_cksum_add(0, big, 500), big + 500,
				      501);
	CHECK(mw_net_cksum_fold(s) ==
	      mw_net_cksum_fold(mw_net_cksum_add(0, big, sizeof big)));
}

static void test_udp_roundtrip(void)
{
	uint8_t buf[2048];
	for (size_t plen = 0; plen <= 1472; plen += 97) {
		size_t n = make_udp(buf, sizeof buf, plen, MW_NET_NO_VLAN);
		struct mw_net_pkt p;
		CHECK(mw_net_parse(&me, buf, n, 0, &p) == MW_NET_CLASS_UDP);
		CHECK(p.payload_off == MW_NET_HDR_LEN(0));
		CHECK(p.payload_len == plen);
		CHECK(p.src_ip == peer.ip && p.src_port == peer.port);
		CHECK(memcmp(p.src_mac, peer.mac, 6) == 0);
		CHECK(p.vlan == MW_NET_NO_VLAN);
		/* Ethernet padding after the datagram is ignored. */
		memset(buf + n, 0xee, 64);
		CHECK(mw_net_parse(&me, buf, n + 64, 0, &p) ==
		      MW_NET_CLASS_UDP);
		CHECK(p.payload_len == plen);
	}
	/* Too small a buffer, too large a payload. */
	struct mw_net_flow f = flow_to_me(MW_NET_NO_VLAN);
	CHECK(mw_net_build_udp(&f, buf, 41, 0, 0, 0) == MW_ENOSPC);
	CHECK(mw_net_build_udp(&f, buf, 100, 59, 0, 0) == MW_ENOSPC);
	CHECK(mw_net_build_udp(&f, buf, sizeof buf, 70000, 0, 0) == MW_ERANGE);
	f.vlan = 4095;
	CHECK(mw_net_build_udp(&f, buf, sizeof buf, 10, 0, 0) == MW_EINVAL);
}

static void test_vlan(void)
{
	uint8_t buf[256];
	struct mw_net_cfg v = me;
	v.vlan = 42;
	size_t n = make_udp(buf, sizeof buf, 100, 42);
	struct mw_net_pkt p;
	CHECK(mw_net_parse(&v, buf, n, 0, &p) == MW_NET_CLASS_UDP);
	CHECK(p.vlan == 42 && p.payload_off == MW_NET_HDR_LEN(1));
	CHECK(p.payload_len == 100);
	/* Tagged frame, untagged config, and the other way round. */
	CHECK_DROP(buf, n, MW_NET_DROP_VLAN_MISMATCH);
	n = make_udp(buf, sizeof buf, 100, MW_NET_NO_VLAN);
	CHECK(mw_net_parse(&v, buf, n, 0, &p) == MW_NET_CLASS_DROP &&
	      p.drop == MW_NET_DROP_VLAN_MISMATCH);
	/* Priority bits do not change the VLAN id. */
	n = make_udp(buf, sizeof buf, 10, 42);
	buf[14] |= 0xe0;
	CHECK(mw_net_parse(&v, buf, n, 0, &p) == MW_NET_CLASS_UDP);
	/* Stacked tags and a truncated tag. */
	buf[16] = 0x81;
	buf[17] = 0x00;
	CHECK(mw_net_parse(&v, buf, n, 0, &p) == MW_NET_CLASS_DROP &&
	      p.drop == MW_NET_DROP_VLAN_STACKED);
	n = make_udp(buf, sizeof buf, 10, 42);
	buf[12] = 0x88;
	buf[13] = 0xa8;
	CHECK_DROP(buf, n, MW_NET_DROP_VLAN_STACKED);
	n = make_udp(buf, sizeof buf, 10, 42);
	CHECK_DROP(buf, 16, MW_NET_DROP_VLAN_TRUNC);
}

static void test_l2_drops(void)
{
	uint8_t buf[256];
	size_t n = make_udp(buf, sizeof buf, 20, MW_NET_NO_VLAN);
	CHECK_DROP(buf, 0, MW_NET_DROP_RUNT);
	CHECK_DROP(buf, 13, MW_NET_DROP_RUNT);

	uint8_t f[256];
	memcpy(f, buf, n);
	f[5] ^= 0x10;
	CHECK_DROP(f, n, MW_NET_DROP_NOT_OUR_MAC);
	memcpy(f, buf, n);
	f[0] = 0x01; /* 01:00:5e:... IPv4 multicast */
	f[1] = 0x00;
	f[2] = 0x5e;
	CHECK_DROP(f, n, MW_NET_DROP_MULTICAST);
	memcpy(f, buf, n);
	memset(f, 0xff, 6);
	CHECK_DROP(f, n, MW_NET_DROP_BCAST_NON_ARP);
	memcpy(f, buf, n);
	f[12] = 0x86;
	f[13] = 0xdd;
	CHECK_DROP(f, n, MW_NET_DROP_IPV6);
	memcpy(f, buf, n);
	f[12] = 0x88;
	f[13] = 0xcc; /* LLDP */
	CHECK_DROP(f, n, MW_NET_DROP_ETHERTYPE);
}

static void test_ip_drops(void)
{
	uint8_t buf[256], f[256];
	size_t n = make_udp(buf, sizeof buf, 40, MW_NET_NO_VLAN);
	uint8_t *ip = f + 14;

	CHECK_DROP(buf, 14 + 19, MW_NET_DROP_IP_TRUNC);
	memcpy(f, buf, n);
	ip[0] = 0x65;
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_VERSION);
	memcpy(f, buf, n);
	ip[0] = 0x44;
	CHECK_DROP(f, n, MW_NET_DROP_IP_HDR_LEN);
	memcpy(f, buf, n);
	ip[0] = 0x4f; /* 60-byte header in a 48-byte datagram area */
	CHECK_DROP(f, 14 + 40, MW_NET_DROP_IP_TRUNC);
	memcpy(f, buf, n);
	ip[2] = 0x01; /* total length beyond the frame */
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_BAD_LEN);
	memcpy(f, buf, n);
	ip[2] = 0;
	ip[3] = 19; /* shorter than the header */
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_BAD_LEN);
	memcpy(f, buf, n);
	ip[8]--; /* TTL changed, checksum not */
	CHECK_DROP(f, n, MW_NET_DROP_IP_CKSUM);
	memcpy(f, buf, n);
	ip[0] = 0x46; /* 4 bytes of options: the old UDP header start */
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_OPTIONS);
	memcpy(f, buf, n);
	ip[6] = 0x20; /* MF */
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_FRAG);
	memcpy(f, buf, n);
	ip[6] = 0x40; /* DF with offset 8 */
	ip[7] = 0x01;
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_FRAG);
	memcpy(f, buf, n);
	ip[19] = 9;
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_NOT_FOR_US);
	memcpy(f, buf, n);
	memset(ip + 16, 0xff, 4);
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_IP_NOT_FOR_US);
	const struct { uint8_t proto; enum mw_net_drop why; } protos[] = {
		{6, MW_NET_DROP_TCP}, {1, MW_NET_DROP_ICMP},
		{47, MW_NET_DROP_IP_PROTO}, {58, MW_NET_DROP_IP_PROTO},
	};
	for (size_t i = 0; i < sizeof protos / sizeof protos[0]; i++) {
		memcpy(f, buf, n);
		ip[9] = protos[i].proto;
		fix_ip(ip);
		CHECK_DROP(f, n, protos[i].why);
	}
}

static void test_udp_drops(void)
{
	uint8_t buf[256], f[256];
	size_t n = make_udp(buf, sizeof buf, 40, MW_NET_NO_VLAN);
	uint8_t *ip = f + 14, *u = f + 34;

	memcpy(f, buf, n); /* IPv4 total length leaves 4 bytes of UDP */
	ip[2] = 0;
	ip[3] = 24;
	fix_ip(ip);
	CHECK_DROP(f, n, MW_NET_DROP_UDP_TRUNC);
	memcpy(f, buf, n);
	u[4] = 0;
	u[5] = 7;
	CHECK_DROP(f, n, MW_NET_DROP_UDP_BAD_LEN);
	memcpy(f, buf, n);
	u[5] += 1; /* one byte beyond the IPv4 datagram */
	CHECK_DROP(f, n, MW_NET_DROP_UDP_BAD_LEN);
	memcpy(f, buf, n);
	u[5] -= 1; /* one byte short of it: trailing bytes inside IPv4 */
	CHECK_DROP(f, n, MW_NET_DROP_UDP_BAD_LEN);
	memcpy(f, buf, n);
	u[3] ^= 1;
	CHECK_DROP(f, n, MW_NET_DROP_UDP_PORT);
	memcpy(f, buf, n);
	f[n - 1] ^= 0x80;
	CHECK_DROP(f, n, MW_NET_DROP_UDP_CKSUM);
	/* Zero checksum: policy decides. */
	memcpy(f, buf, n);
	u[6] = u[7] = 0;
	CHECK_DROP(f, n, MW_NET_DROP_UDP_ZERO_CKSUM);
	struct mw_net_cfg z = me;
	z.accept_zero_udp_cksum = true;
	struct mw_net_pkt p;
	CHECK(mw_net_parse(&z, f, n, 0, &p) == MW_NET_CLASS_UDP);
	CHECK(p.payload_len == 40);
	/* A UDP length shorter than the IPv4 payload is not maskwire's. */
	memcpy(f, buf, n);
	u[5] -= 4;
	u[6] = u[7] = 0;
	CHECK_DROP(f, n, MW_NET_DROP_UDP_BAD_LEN);
}

/* Any single bit error past the MAC addresses is caught by some check. */
static void test_single_bit_errors(void)
{
	uint8_t buf[256];
	size_t n = make_udp(buf, sizeof buf, 64, MW_NET_NO_VLAN);
	for (size_t bit = 12 * 8; bit < n * 8; bit++) {
		uint8_t f[256];
		memcpy(f, buf, n);
		f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct mw_net_pkt p;
		int c = mw_net_parse(&me, f, n, 0, &p);
		if (c == MW_NET_CLASS_UDP)
			mw_test_fail(__FILE__, __LINE__,
				     "bit %zu flip not detected", bit);
	}
}

static void test_offload_flags(void)
{
	uint8_t buf[256];
	struct mw_net_flow f = flow_to_me(MW_NET_NO_VLAN);
	memset(buf + 42, 0x5a, 30);
	int n = mw_net_build_udp(&f, buf, sizeof buf, 30, 1,
				 MW_NET_TX_IP_CKSUM_HW |
					 MW_NET_TX_UDP_CKSUM_HW);
	CHECK(n == 72);
	CHECK(buf[24] == 0 && buf[25] == 0);
	struct mw_net_pkt p;
	CHECK_DROP(buf, (size_t)n, MW_NET_DROP_IP_CKSUM);
	CHECK(mw_net_parse(&me, buf, (size_t)n, MW_NET_RX_IP_CKSUM_GOOD, &p) ==
	      MW_NET_CLASS_DROP);
	CHECK(p.drop == MW_NET_DROP_UDP_CKSUM);
	CHECK(mw_net_parse(&me, buf, (size_t)n,
			   MW_NET_RX_IP_CKSUM_GOOD | MW_NET_RX_UDP_CKSUM_GOOD,
			   &p) == MW_NET_CLASS_UDP);
	/* What the hardware would do: fill both checksums. */
	uint8_t *ip = buf + 14, *u = buf + 34;
	fix_ip(ip);
	/* The field holds the pseudo-header sum; summing over it adds it. */
	uint16_t c = mw_net_cksum_fold(mw_net_cksum_add(0, u, 38));
	u[6] = (uint8_t)(c >> 8);
	u[7] = (uint8_t)c;
	CHECK(mw_net_parse(&me, buf, (size_t)n, 0, &p) == MW_NET_CLASS_UDP);
}

static void test_arp(void)
{
	uint8_t req[64], rep[64];
	struct mw_net_pkt p, q;

	/* Peer asks for us; we answer; peer learns our MAC. */
	CHECK(mw_net_build_arp_request(&peer, me.ip, req, 59) == MW_ENOSPC);
	CHECK(mw_net_build_arp_request(&peer, me.ip, req, sizeof req) == 60);
	CHECK(mw_net_parse(&me, req, 60, 0, &p) == MW_NET_CLASS_ARP_REQ);
	CHECK(p.src_ip == peer.ip && memcmp(p.arp_sha, peer.mac, 6) == 0);
	CHECK(mw_net_build_arp_reply(&me, &p, rep, sizeof rep) == 60);
	CHECK(memcmp(rep, peer.mac, 6) == 0);
	CHECK(mw_net_parse(&peer, rep, 60, 0, &q) == MW_NET_CLASS_ARP_REPLY);
	CHECK(q.src_ip == me.ip && memcmp(q.arp_sha, me.mac, 6) == 0);
	/* Only requests can be answered. */
	CHECK(mw_net_build_arp_reply(&me, &q, rep, sizeof rep) == MW_EINVAL);
	/* A request for someone else. */
	struct mw_net_cfg other = me;
	other.ip = 0x0a000063;
	CHECK(mw_net_parse(&other, req, 60, 0, &p) == MW_NET_CLASS_DROP &&
	      p.drop == MW_NET_DROP_ARP_NOT_FOR_US);
	/* Truncated and malformed. */
	CHECK_DROP(req, 14 + 27, MW_NET_DROP_ARP_TRUNC);
	uint8_t bad[64];
	memcpy(bad, req, 60);
	bad[14 + 5] = 16; /* IPv6-sized protocol address */
	CHECK_DROP(bad, 60, MW_NET_DROP_ARP_BAD);
	memcpy(bad, req, 60);
	bad[14 + 7] = 3; /* RARP */
	CHECK_DROP(bad, 60, MW_NET_DROP_ARP_BAD);
	/* In a VLAN the reply carries the request's tag. */
	struct mw_net_cfg pv = peer, mv = me;
	pv.vlan = mv.vlan = 7;
	CHECK(mw_net_build_arp_request(&pv, mv.ip, req, sizeof req) == 60);
	CHECK(req[12] == 0x81 && req[15] == 7);
	CHECK(mw_net_parse(&mv, req, 60, 0, &p) == MW_NET_CLASS_ARP_REQ);
	CHECK(mw_net_build_arp_reply(&mv, &p, rep, sizeof rep) == 60);
	CHECK(mw_net_parse(&pv, rep, 60, 0, &q) == MW_NET_CLASS_ARP_REPLY);
}

static void test_names_and_addrs(void)
{
	for (unsigned i = 0; i < MW_NET_DROP_COUNT_; i++) {
		CHECK(strcmp(mw_net_drop_name(i), "?") != 0);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(mw_net_drop_name(i),
				     mw_net_drop_name(j)) != 0);
	}
	CHECK(strcmp(mw_net_drop_name(MW_NET_DROP_COUNT_), "?") == 0);

	uint32_t ip = 0;
	CHECK(mw_net_parse_ip4("192.168.1.20", &ip) == 0 && ip == 0xc0a80114);
	CHECK(mw_net_parse_ip4("256.1.1.1", &ip) == MW_EINVAL);
	CHECK(mw_net_parse_ip4("1.2.3", &ip) == MW_EINVAL);
	CHECK(mw_net_parse_ip4("1.2.3.4x", &ip) == MW_EINVAL);
	CHECK(mw_net_parse_ip4(" 1.2.3.4", &ip) == MW_EINVAL);
	CHECK(mw_net_parse_ip4("1.-2.3.4", &ip) == MW_EINVAL);
	uint8_t mac[6];
	CHECK(mw_net_parse_mac("02:aB:00:11:22:ff", mac) == 0 &&
	      mac[1] == 0xab && mac[5] == 0xff);
	CHECK(mw_net_parse_mac("02-ab-00-11-22-ff", mac) == 0);
	CHECK(mw_net_parse_mac("02:ab:00:11:22", mac) == MW_EINVAL);
	CHECK(mw_net_parse_mac("02:ab:00:11:22:ff:", mac) == MW_EINVAL);
	CHECK(mw_net_parse_mac("0g:ab:00:11:22:ff", mac) == MW_EINVAL);
}

/* mw_net_peek(): the source of UDP frames, tagged or not, truncated
 * frames refused at every length. */
static void test_peek(void)
{
	uint8_t buf[2048];
	uint32_t ip = 0;
	uint16_t port = 0;
	for (int tagged = 0; tagged < 2; tagged++) {
		uint16_t vl = tagged ? 7 : MW_NET_NO_VLAN;
		size_t n = make_udp(buf, sizeof buf, 10, vl);
		CHECK(mw_net_peek(buf, n, &ip, &port) == MW_NET_PEEK_UDP);
		CHECK(ip == peer.ip && port == peer.port);
		size_t hl = MW_NET_HDR_LEN(tagged);
		for (size_t l = 0; l < hl; l++)
			CHECK(mw_net_peek(buf, l, &ip, &port) ==
			      MW_NET_PEEK_OTHER);
		/* a later fragment has no UDP header */
		size_t ipo = hl - MW_NET_UDP_HLEN - MW_NET_IP4_HLEN;
		buf[ipo + 7] = 1;
		CHECK(mw_net_peek(buf, n, &ip, &port) == MW_NET_PEEK_OTHER);
		buf[ipo + 7] = 0;
		buf[ipo + 9] = 6; /* TCP */
		CHECK(mw_net_peek(buf, n, &ip, &port) == MW_NET_PEEK_OTHER);
	}
	struct mw_net_pkt req;
	memset(&req, 0, sizeof req);
	int n = mw_net_build_arp_request(&me, peer.ip, buf, sizeof buf);
	CHECK(n > 0);
	CHECK(mw_net_peek(buf, (size_t)n, &ip, &port) == MW_NET_PEEK_ARP);
	CHECK(mw_net_peek(NULL, 0, &ip, &port) == MW_NET_PEEK_OTHER);
}

int main(void)
{
	test_cksum_rfc1071();
	test_udp_roundtrip();
	test_vlan();
	test_l2_drops();
	test_ip_drops();
	test_udp_drops();
	test_single_bit_errors();
	test_offload_flags();
	test_arp();
	test_names_and_addrs();
	test_peek();
	return mw_test_exit("test_net");
}
