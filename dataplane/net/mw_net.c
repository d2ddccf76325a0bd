/* SPDX-License-Identifier: BSD-3-Clause */
/* Ethernet/802.1Q/IPv4/UDP/ARP parsing and header building (sans-I/O). */
#include "mw_bytes.h"
#include "mw_net.h"

#include <stdio.h>
#include <string.h>

static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

const char *mw_net_drop_name(unsigned reason)
{
	static const char *const names[] = {
#define MW_NET_DROP_NAME_(name, text) text,
		MW_NET_DROP_LIST(MW_NET_DROP_NAME_)
#undef MW_NET_DROP_NAME_
	};
	return reason < MW_NET_DROP_COUNT_ ? names[reason] : "?";
}

uint32_t mw_net_cksum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t acc = sum;

	/* Big-endian 16-bit words; 4 bytes at a time into a 64-bit sum. */
	while (len >= 4) {
		acc += mw_get32(p);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		acc += mw_get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		acc += (uint32_t)p[0] << 8;
	/* Fold 64 -> 32 keeping the one's complement carries. */
	while (acc >> 32)
		acc = (acc & 0xffffffffu) + (acc >> 32);
	return (uint32_t)acc;
}

uint16_t mw_net_cksum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffffu) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint16_t udp_len)
{
	uint64_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) +
		     (dst & 0xffffu) + 17u + udp_len;
	while (s >> 32)
		s = (s & 0xffffffffu) + (s >> 32);
	return (uint32_t)s;
}

static int drop(struct mw_net_pkt *out, enum mw_net_drop why)
{
	out->cls = MW_NET_CLASS_DROP;
	out->drop = why;
	return MW_NET_CLASS_DROP;
}

static int parse_arp(const struct mw_net_cfg *cfg, const uint8_t *a,
		     size_t len, struct mw_net_pkt *out)
{
	if (len < MW_NET_ARP_LEN)
		return drop(out, MW_NET_DROP_ARP_TRUNC);
	uint16_t op = mw_get16(a + 6);
	if (mw_get16(a) != 1 || mw_get16(a + 2) != MW_NET_ETHERTYPE_IPV4 ||
	    a[4] != 6 || a[5] != 4 || (op != 1 && op != 2))
		return drop(out, MW_NET_DROP_ARP_BAD);
	memcpy(out->arp_sha, a + 8, 6);
	out->src_ip = mw_get32(a + 14);
	uint32_t tpa = mw_get32(a + 24);
	if (op == 1) {
		if (tpa != cfg->ip)
			return drop(out, MW_NET_DROP_ARP_NOT_FOR_US);
		out->cls = MW_NET_CLASS_ARP_REQ;
		return out->cls;
	}
	/* A reply: unicast to us, or broadcast (gratuitous). */
	out->cls = MW_NET_CLASS_ARP_REPLY;
	return out->cls;
}

static int parse_udp(const struct mw_net_cfg *cfg, const uint8_t *ip,
		     size_t ihl, size_t ip_len, unsigned flags,
		     struct mw_net_pkt *out, size_t l3_off)
{
	const uint8_t *u = ip + ihl;
	size_t avail = ip_len - ihl;

	if (avail < MW_NET_UDP_HLEN)
		return drop(out, MW_NET_DROP_UDP_TRUNC);
	uint16_t ulen = mw_get16(u + 4);
	/* The UDP datagram fills the IPv4 payload exactly (PROTOCOL.md 2). */
	if (ulen < MW_NET_UDP_HLEN || ulen != avail)
		return drop(out, MW_NET_DROP_UDP_BAD_LEN);
	if (mw_get16(u + 2) != cfg->port)
		return drop(out, MW_NET_DROP_UDP_PORT);
	uint16_t ck = mw_get16(u + 6);
	if (ck == 0) {
		if (!cfg->accept_zero_udp_cksum)
			return drop(out, MW_NET_DROP_UDP_ZERO_CKSUM);
	} else if (!(flags & MW_NET_RX_UDP_CKSUM_GOOD)) {
		uint32_t s = pseudo_sum(mw_get32(ip + 12), mw_get32(ip + 16), ulen);
		s = mw_net_cksum_add(s, u, ulen);
		/* Summing a correct datagram, checksum included, gives ~0. */
		if (mw_net_cksum_fold(s) != 0)
			return drop(out, MW_NET_DROP_UDP_CKSUM);
	}
	out->src_ip = mw_get32(ip + 12);
	out->src_port = mw_get16(u);
	out->payload_off = (uint32_t)(l3_off + ihl + MW_NET_UDP_HLEN);
	out->payload_len = (uint32_t)(ulen - MW_NET_UDP_HLEN);
	out->cls = MW_NET_CLASS_UDP;
	return out->cls;
}

static int parse_ip4(const struct mw_net_cfg *cfg, const uint8_t *ip,
		     size_t len, unsigned flags, struct mw_net_pkt *out,
		     size_t l3_off)
{
	if (len < MW_NET_IP4_HLEN)
		return drop(out, MW_NET_DROP_IP_TRUNC);
	if ((ip[0] >> 4) != 4)
		return drop(out, MW_NET_DROP_IP_VERSION);
	size_t ihl = (size_t)(ip[0] & 0xf) * 4u;
	if (ihl < MW_NET_IP4_HLEN)
		return drop(out, MW_NET_DROP_IP_HDR_LEN);
	size_t tot = mw_get16(ip + 2);
	if (ihl > len)
		return drop(out, MW_NET_DROP_IP_TRUNC);
	if (tot < ihl || tot > len)
		return drop(out, MW_NET_DROP_IP_BAD_LEN);
	if (!(flags & MW_NET_RX_IP_CKSUM_GOOD) &&
	    mw_net_cksum_fold(mw_net_cksum_add(0, ip, ihl)) != 0)
		return drop(out, MW_NET_DROP_IP_CKSUM);
	if (ihl != MW_NET_IP4_HLEN)
		return drop(out, MW_NET_DROP_IP_OPTIONS);
	uint16_t frag = mw_get16(ip + 6);
	if (frag & 0x3fffu) /* MF flag or a fragment offset */
		return drop(out, MW_NET_DROP_IP_FRAG);
	if (mw_get32(ip + 16) != cfg->ip)
		return drop(out, MW_NET_DROP_IP_NOT_FOR_US);
	switch (ip[9]) {
	case 17:
		return parse_udp(cfg, ip, ihl, tot, flags, out, l3_off);
	case 6:
		return drop(out, MW_NET_DROP_TCP);
	case 1:
		return drop(out, MW_NET_DROP_ICMP);
	default:
		return drop(out, MW_NET_DROP_IP_PROTO);
	}
}

int mw_net_parse(const struct mw_net_cfg *cfg, const uint8_t *frame,
		 size_t len, unsigned flags, struct mw_net_pkt *out)
{
	memset(out, 0, sizeof(*out));
	out->vlan = MW_NET_NO_VLAN;
	if (len < MW_NET_ETH_HLEN)
		return drop(out, MW_NET_DROP_RUNT);

	bool to_bcast = memcmp(frame, bcast_mac, 6) == 0;
	if (!to_bcast && memcmp(frame, cfg->mac, 6) != 0)
		return drop(out, (frame[0] & 1) ? MW_NET_DROP_MULTICAST
						: MW_NET_DROP_NOT_OUR_MAC);
	memcpy(out->src_mac, frame + 6, 6);

	size_t off = 12;
	uint16_t et = mw_get16(frame + off);
	if (et == MW_NET_ETHERTYPE_VLAN || et == MW_NET_ETHERTYPE_QINQ) {
		if (len < MW_NET_ETH_HLEN + MW_NET_VLAN_HLEN)
			return drop(out, MW_NET_DROP_VLAN_TRUNC);
		uint16_t inner = mw_get16(frame + off + 4);
		if (et == MW_NET_ETHERTYPE_QINQ ||
		    inner == MW_NET_ETHERTYPE_VLAN ||
		    inner == MW_NET_ETHERTYPE_QINQ)
			return drop(out, MW_NET_DROP_VLAN_STACKED);
		out->vlan = mw_get16(frame + off + 2) & 0x0fffu;
		et = inner;
		off += MW_NET_VLAN_HLEN;
	}
	if (out->vlan != cfg->vlan)
		return drop(out, MW_NET_DROP_VLAN_MISMATCH);
	off += 2;

	if (et == MW_NET_ETHERTYPE_ARP)
		return parse_arp(cfg, frame + off, len - off, out);
	if (to_bcast)
		return drop(out, MW_NET_DROP_BCAST_NON_ARP);
	if (et == MW_NET_ETHERTYPE_IPV4)
		return parse_ip4(cfg, frame + off, len - off, flags, out, off);
	if (et == MW_NET_ETHERTYPE_IPV6)
		return drop(out, MW_NET_DROP_IPV6);
	return drop(out, MW_NET_DROP_ETHERTYPE);
}

int mw_net_peek(const uint8_t *frame, size_t len, uint32_t *ip,
		uint16_t *port)
{
	if (len < MW_NET_ETH_HLEN)
		return MW_NET_PEEK_OTHER;
	size_t off = 12;
	uint16_t et = mw_get16(frame + off);
	if (et == MW_NET_ETHERTYPE_VLAN) {
		if (len < MW_NET_ETH_HLEN + MW_NET_VLAN_HLEN)
			return MW_NET_PEEK_OTHER;
		off += MW_NET_VLAN_HLEN;
		et = mw_get16(frame + off);
	}
	off += 2;
	if (et == MW_NET_ETHERTYPE_ARP)
		return MW_NET_PEEK_ARP;
	if (et != MW_NET_ETHERTYPE_IPV4 || len < off + MW_NET_IP4_HLEN)
		return MW_NET_PEEK_OTHER;
	const uint8_t *h = frame + off;
	size_t ihl = (size_t)(h[0] & 15u) * 4u;
	/* protocol UDP, fragment offset 0 */
	if (ihl < MW_NET_IP4_HLEN || h[9] != 17 ||
	    (mw_get16(h + 6) & 0x1fffu) != 0 ||
	    len < off + ihl + MW_NET_UDP_HLEN)
		return MW_NET_PEEK_OTHER;
	*ip = mw_get32(h + 12);
	*port = mw_get16(h + ihl);
	return MW_NET_PEEK_UDP;
}

size_t mw_net_hdr_len(const struct mw_net_flow *f)
{
	return MW_NET_HDR_LEN(f->vlan != MW_NET_NO_VLAN);
}

/* Ethernet (+ tag) header; returns its length. */
static size_t put_eth(uint8_t *p, const uint8_t dst[6], const uint8_t src[6],
		      uint16_t vlan, uint16_t ethertype)
{
	size_t off = 12;
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	if (vlan != MW_NET_NO_VLAN) {
		mw_put16(p + 12, MW_NET_ETHERTYPE_VLAN);
		mw_put16(p + 14, vlan);
		off += 4;
	}
	mw_put16(p + off, ethertype);
	return off + 2;
}

int mw_net_build_udp(const struct mw_net_flow *f, uint8_t *frame, size_t cap,
		     size_t payload_len, uint16_t ip_id, unsigned flags)
{
	if (f->vlan != MW_NET_NO_VLAN && f->vlan > 4094)
		return MW_EINVAL;
	size_t hl = mw_net_hdr_len(f);
	if (payload_len > 0xffffu - MW_NET_IP4_HLEN - MW_NET_UDP_HLEN)
		return MW_ERANGE;
	if (cap < hl || cap - hl < payload_len)
		return MW_ENOSPC;

	size_t l3 = put_eth(frame, f->dst_mac, f->src_mac, f->vlan,
			    MW_NET_ETHERTYPE_IPV4);
	uint8_t *ip = frame + l3;
	uint16_t ulen = (uint16_t)(payload_len + MW_NET_UDP_HLEN);
	ip[0] = 0x45;
	ip[1] = 0;
	mw_put16(ip + 2, (uint16_t)(ulen + MW_NET_IP4_HLEN));
	mw_put16(ip + 4, ip_id);
	mw_put16(ip + 6, 0x4000); /* DF */
	ip[8] = f->ttl ? f->ttl : 64;
	ip[9] = 17;
	mw_put16(ip + 10, 0);
	mw_put32(ip + 12, f->src_ip);
	mw_put32(ip + 16, f->dst_ip);
	if (!(flags & MW_NET_TX_IP_CKSUM_HW))
		mw_put16(ip + 10, mw_net_cksum_fold(
				      mw_net_cksum_add(0, ip, MW_NET_IP4_HLEN)));

	uint8_t *u = ip + MW_NET_IP4_HLEN;
	mw_put16(u, f->src_port);
	mw_put16(u + 2, f->dst_port);
	mw_put16(u + 4, ulen);
	mw_put16(u + 6, 0);
	uint32_t s = pseudo_sum(f->src_ip, f->dst_ip, ulen);
	if (flags & MW_NET_TX_UDP_CKSUM_ZERO) {
		/* no checksum: the field stays 0 */
	} else if (flags & MW_NET_TX_UDP_CKSUM_HW) {
		/* Hardware expects the folded, non-complemented pseudo sum. */
		mw_put16(u + 6, (uint16_t)~mw_net_cksum_fold(s));
	} else {
		uint16_t ck = mw_net_cksum_fold(mw_net_cksum_add(s, u, ulen));
		mw_put16(u + 6, ck ? ck : 0xffffu);
	}
	return (int)(hl + payload_len);
}

static int build_arp(const struct mw_net_cfg *cfg, uint16_t vlan,
		     uint16_t op, const uint8_t eth_dst[6],
		     const uint8_t tha[6], uint32_t tpa, uint8_t *frame,
		     size_t cap)
{
	if (cap < MW_NET_ETH_MIN)
		return MW_ENOSPC;
	memset(frame, 0, MW_NET_ETH_MIN);
	size_t off = put_eth(frame, eth_dst, cfg->mac, vlan,
			     MW_NET_ETHERTYPE_ARP);
	uint8_t *a = frame + off;
	mw_put16(a, 1);
	mw_put16(a + 2, MW_NET_ETHERTYPE_IPV4);
	a[4] = 6;
	a[5] = 4;
	mw_put16(a + 6, op);
	memcpy(a + 8, cfg->mac, 6);
	mw_put32(a + 14, cfg->ip);
	memcpy(a + 18, tha, 6);
	mw_put32(a + 24, tpa);
	return (int)MW_NET_ETH_MIN;
}

int mw_net_build_arp_request(const struct mw_net_cfg *cfg, uint32_t target_ip,
			     uint8_t *frame, size_t cap)
{
	static const uint8_t zero[6];
	return build_arp(cfg, cfg->vlan, 1, bcast_mac, zero, target_ip, frame,
			 cap);
}

int mw_net_build_arp_reply(const struct mw_net_cfg *cfg,
			   const struct mw_net_pkt *req, uint8_t *frame,
			   size_t cap)
{
	if (req->cls != MW_NET_CLASS_ARP_REQ)
		return MW_EINVAL;
	return build_arp(cfg, req->vlan, 2, req->arp_sha, req->arp_sha,
			 req->src_ip, frame, cap);
}

int mw_net_parse_ip4(const char *s, uint32_t *ip)
{
	unsigned a[4];
	char tail;
	if (!s || sscanf(s, "%3u.%3u.%3u.%3u%c", &a[0], &a[1], &a[2], &a[3],
			 &tail) != 4)
		return MW_EINVAL;
	for (int i = 0; i < 4; i++)
		if (a[i] > 255)
			return MW_EINVAL;
	/* sscanf accepts leading blanks and signs; insist on digits. */
	for (const char *c = s; *c; c++)
		if (!((*c >= '0' && *c <= '9') || *c == '.'))
			return MW_EINVAL;
	*ip = (a[0] << 24) | (a[1] << 16) | (a[2] << 8) | a[3];
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mw_net_parse_mac(const char *s, uint8_t mac[6])
{
	if (!s)
		return MW_EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[0]), lo = hi < 0 ? -1 : hexval(s[1]);
		if (hi < 0 || lo < 0)
			return MW_EINVAL;
		mac[i] = (uint8_t)(hi * 16 + lo);
		s += 2;
		if (i < 5) {
			if (*s != ':' && *s != '-')
				return MW_EINVAL;
			s++;
		}
	}
	return *s ? MW_EINVAL : 0;
}
