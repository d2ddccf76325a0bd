/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate_foreign.c - `mutate --foreign`: frames that are not the session's
 * (other hosts, ports, protocols, malformed headers), each checked against
 * the I/O layer's parser for the drop it must hit before it is inserted.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mutate.h"

static const uint8_t other_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
static const uint8_t mcast_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void ip_cksum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4u;

	mw_put16(ip + 10, 0);
	mw_put16(ip + 10, mw_net_cksum_fold(mw_net_cksum_add(0, ip, ihl)));
}

/* A UDP frame from `src_ip:sport` to our address, port dport, VLAN vlan,
 * with a payload of plen bytes (a maskwire-looking header). */
static int udp_frame(const struct mut *m, uint8_t *fr, size_t cap,
		     uint32_t src_ip, uint16_t sport, uint16_t dport,
		     uint16_t vlan, size_t plen)
{
	struct mw_net_flow fl;
	size_t hl;

	memset(&fl, 0, sizeof(fl));
	memcpy(fl.src_mac, m->s.peer_mac, 6);
	memcpy(fl.dst_mac, m->s.net.mac, 6);
	fl.src_ip = src_ip;
	fl.dst_ip = m->s.net.ip;
	fl.src_port = sport;
	fl.dst_port = dport;
	fl.vlan = vlan;
	hl = mw_net_hdr_len(&fl);
	if (hl + plen > cap)
		return MW_ENOSPC;
	for (size_t i = 0; i < plen; i++)
		fr[hl + i] = (uint8_t)(i * 7 + 1);
	if (plen >= 2)
		mw_put16(fr + hl + MW_OFF_MAGIC, MW_WIRE_MAGIC);
	if (plen >= 4) {
		fr[hl + MW_OFF_VERSION] = MW_WIRE_VERSION;
		fr[hl + MW_OFF_TYPE] = MW_PT_DATA;
	}
	return mw_net_build_udp(&fl, fr, cap, plen, 0x4242, 0);
}

static size_t l3(const struct mut *m)
{
	return 14u + (m->s.net.vlan != MW_NET_NO_VLAN ? 4u : 0u);
}

static uint16_t peer_port(const struct mut *m)
{
	return m->s.peer_port ? m->s.peer_port : m->s.net.port;
}

/* Frame kinds: name, expected mw_net class, drop reason (for DROP). */
enum fk {
	FK_ARP_FOR_US, FK_ARP_NOT_FOR_US, FK_ARP_REPLY, FK_ARP_TRUNC,
	FK_ARP_BAD, FK_IPV6, FK_ETHERTYPE, FK_TCP, FK_ICMP, FK_GRE,
	FK_UDP_PORT, FK_UNKNOWN_PEER, FK_VLAN_OTHER, FK_QINQ, FK_VLAN_TRUNC,
	FK_FRAG_FIRST, FK_FRAG_LATER, FK_IP_OPTIONS, FK_IP_CKSUM,
	FK_IP_NOT_US, FK_IP_VERSION, FK_IP_IHL, FK_IP_TOTLEN, FK_IP_TRUNC,
	FK_UDP_TRUNC, FK_UDP_BADLEN, FK_UDP_ZERO, FK_UDP_CKSUM, FK_RUNT,
	FK_NOT_OUR_MAC, FK_MULTICAST, FK_BCAST_IP, FK_JUMBO, FK_OVERSIZE,
	FK_COUNT_
};

static const struct {
	const char *name;
	int cls;
	int drop;
} fk_info[FK_COUNT_] = {
	[FK_ARP_FOR_US] = {"arp_request_for_us", MW_NET_CLASS_ARP_REQ, 0},
	[FK_ARP_NOT_FOR_US] = {"arp_request_other", MW_NET_CLASS_DROP,
			       MW_NET_DROP_ARP_NOT_FOR_US},
	[FK_ARP_REPLY] = {"arp_reply_gratuitous", MW_NET_CLASS_ARP_REPLY, 0},
	[FK_ARP_TRUNC] = {"arp_truncated", MW_NET_CLASS_DROP,
			  MW_NET_DROP_ARP_TRUNC},
	[FK_ARP_BAD] = {"arp_hw_type_6", MW_NET_CLASS_DROP,
			MW_NET_DROP_ARP_BAD},
	[FK_IPV6] = {"ipv6_udp", MW_NET_CLASS_DROP, MW_NET_DROP_IPV6},
	[FK_ETHERTYPE] = {"lldp", MW_NET_CLASS_DROP, MW_NET_DROP_ETHERTYPE},
	[FK_TCP] = {"tcp", MW_NET_CLASS_DROP, MW_NET_DROP_TCP},
	[FK_ICMP] = {"icmp", MW_NET_CLASS_DROP, MW_NET_DROP_ICMP},
	[FK_GRE] = {"gre", MW_NET_CLASS_DROP, MW_NET_DROP_IP_PROTO},
	[FK_UDP_PORT] = {"udp_port_53", MW_NET_CLASS_DROP,
			 MW_NET_DROP_UDP_PORT},
	[FK_UNKNOWN_PEER] = {"udp_unknown_host", MW_NET_CLASS_UDP, 0},
	[FK_VLAN_OTHER] = {"vlan_other", MW_NET_CLASS_DROP,
			   MW_NET_DROP_VLAN_MISMATCH},
	[FK_QINQ] = {"qinq", MW_NET_CLASS_DROP, MW_NET_DROP_VLAN_STACKED},
	[FK_VLAN_TRUNC] = {"vlan_truncated", MW_NET_CLASS_DROP,
			   MW_NET_DROP_VLAN_TRUNC},
	[FK_FRAG_FIRST] = {"ipv4_first_fragment", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_FRAG},
	[FK_FRAG_LATER] = {"ipv4_later_fragment", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_FRAG},
	[FK_IP_OPTIONS] = {"ipv4_options", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_OPTIONS},
	[FK_IP_CKSUM] = {"ipv4_bad_checksum", MW_NET_CLASS_DROP,
			 MW_NET_DROP_IP_CKSUM},
	[FK_IP_NOT_US] = {"ipv4_not_for_us", MW_NET_CLASS_DROP,
			  MW_NET_DROP_IP_NOT_FOR_US},
	[FK_IP_VERSION] = {"ipv4_version_5", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_VERSION},
	[FK_IP_IHL] = {"ipv4_ihl_4", MW_NET_CLASS_DROP,
		       MW_NET_DROP_IP_HDR_LEN},
	[FK_IP_TOTLEN] = {"ipv4_total_length_long", MW_NET_CLASS_DROP,
			  MW_NET_DROP_IP_BAD_LEN},
	[FK_IP_TRUNC] = {"ipv4_truncated", MW_NET_CLASS_DROP,
			 MW_NET_DROP_IP_TRUNC},
	[FK_UDP_TRUNC] = {"udp_truncated", MW_NET_CLASS_DROP,
			  MW_NET_DROP_UDP_TRUNC},
	[FK_UDP_BADLEN] = {"udp_length_long", MW_NET_CLASS_DROP,
			   MW_NET_DROP_UDP_BAD_LEN},
	[FK_UDP_ZERO] = {"udp_zero_checksum", MW_NET_CLASS_DROP,
			 MW_NET_DROP_UDP_ZERO_CKSUM},
	[FK_UDP_CKSUM] = {"udp_bad_checksum", MW_NET_CLASS_DROP,
			  MW_NET_DROP_UDP_CKSUM},
	[FK_RUNT] = {"runt", MW_NET_CLASS_DROP, MW_NET_DROP_RUNT},
	[FK_NOT_OUR_MAC] = {"unicast_other_mac", MW_NET_CLASS_DROP,
			    MW_NET_DROP_NOT_OUR_MAC},
	[FK_MULTICAST] = {"multicast", MW_NET_CLASS_DROP,
			  MW_NET_DROP_MULTICAST},
	[FK_BCAST_IP] = {"broadcast_ipv4", MW_NET_CLASS_DROP,
			 MW_NET_DROP_BCAST_NON_ARP},
	/* a 4000-byte frame spans several mbufs and is linearised; its
	 * maskwire length field says more than it carries */
	[FK_JUMBO] = {"jumbo_4000", MW_NET_CLASS_UDP, 0},
	/* larger than any frame the data plane handles */
	[FK_OVERSIZE] = {"oversize_12000", -1, 0},
};

static int build_foreign(const struct mut *m, enum fk k, uint8_t *fr,
			 size_t cap)
{
	struct mw_net_cfg other = m->s.net;
	uint16_t vlan = m->s.net.vlan;
	uint16_t pp = peer_port(m);
	size_t o = l3(m);
	int n;

	switch (k) {
	case FK_ARP_FOR_US:
	case FK_ARP_NOT_FOR_US:
	case FK_ARP_TRUNC:
	case FK_ARP_BAD:
	case FK_ARP_REPLY:
		memcpy(other.mac, other_mac, 6);
		other.ip = m->s.net.ip ^ 0x4du; /* a third host */
		n = mw_net_build_arp_request(
			&other,
			k == FK_ARP_NOT_FOR_US ? (m->s.net.ip ^ 0xc8u)
					       : m->s.net.ip,
			fr, cap);
		if (n < 0)
			return n;
		if (k == FK_ARP_REPLY) {
			/* gratuitous reply, broadcast */
			mw_put16(fr + o + 6, 2);
		} else if (k == FK_ARP_TRUNC) {
			n = (int)o + 10;
		} else if (k == FK_ARP_BAD) {
			mw_put16(fr + o, 6);
		}
		return n;
	case FK_IPV6:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 64);
		if (n < 0)
			return n;
		mw_put16(fr + o - 2, MW_NET_ETHERTYPE_IPV6);
		fr[o] = 0x60;
		return n;
	case FK_ETHERTYPE:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 32);
		if (n < 0)
			return n;
		mw_put16(fr + o - 2, 0x88cc);
		return n;
	case FK_TCP:
	case FK_ICMP:
	case FK_GRE:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 40);
		if (n < 0)
			return n;
		fr[o + 9] = k == FK_TCP ? 6 : k == FK_ICMP ? 1 : 47;
		ip_cksum(fr + o);
		return n;
	case FK_UDP_PORT:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, 53, vlan, 48);
	case FK_UNKNOWN_PEER:
		return udp_frame(m, fr, cap, m->s.peer_ip ^ 0x63u, pp,
				 m->s.net.port, vlan, 48);
	case FK_VLAN_OTHER:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan == MW_NET_NO_VLAN ? 5 : MW_NET_NO_VLAN,
				 48);
	case FK_QINQ:
		/* an 802.1ad outer tag in front of whatever we accept */
		n = udp_frame(m, fr + 4, cap - 4, m->s.peer_ip, pp,
			      m->s.net.port, vlan, 48);
		if (n < 0)
			return n;
		memmove(fr, fr + 4, 12);
		mw_put16(fr + 12, MW_NET_ETHERTYPE_QINQ);
		mw_put16(fr + 14, 100);
		return n + 4;
	case FK_VLAN_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + 12, MW_NET_ETHERTYPE_VLAN);
		return 16;
	case FK_FRAG_FIRST:
	case FK_FRAG_LATER:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 200);
		if (n < 0)
			return n;
		/* DF off; MF on the first, offset 185 (1480 bytes) later */
		mw_put16(fr + o + 6, k == FK_FRAG_FIRST ? 0x2000 : 185);
		ip_cksum(fr + o);
		return n;
	case FK_IP_OPTIONS:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0 || (size_t)n + 4 > cap)
			return MW_ENOSPC;
		memmove(fr + o + 24, fr + o + 20, (size_t)n - o - 20);
		memset(fr + o + 20, 1, 4); /* four NOP options */
		fr[o] = 0x46;
		mw_put16(fr + o + 2, (uint16_t)(mw_get16(fr + o + 2) + 4));
		ip_cksum(fr + o);
		return n + 4;
	case FK_IP_CKSUM:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o + 10] ^= 0x10;
		return n;
	case FK_IP_NOT_US:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put32(fr + o + 16, m->s.net.ip ^ 0xc8u);
		ip_cksum(fr + o);
		return n;
	case FK_IP_VERSION:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o] = 0x55;
		return n;
	case FK_IP_IHL:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o] = 0x44;
		return n;
	case FK_IP_TOTLEN:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 2, (uint16_t)(mw_get16(fr + o + 2) + 100));
		ip_cksum(fr + o);
		return n;
	case FK_IP_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		return n < 0 ? n : (int)o + 12;
	case FK_UDP_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 2, 24);
		ip_cksum(fr + o);
		return (int)o + 24;
	case FK_UDP_BADLEN:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 20 + 4, 400);
		return n;
	case FK_UDP_ZERO:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			mw_put16(fr + o + 20 + 6, 0);
		return n;
	case FK_UDP_CKSUM:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o + 20 + 8 + 30] ^= 0x04;
		return n;
	case FK_RUNT:
		memcpy(fr, m->s.net.mac, 6);
		memcpy(fr + 6, m->s.peer_mac, 4);
		return 10;
	case FK_NOT_OUR_MAC:
	case FK_MULTICAST:
	case FK_BCAST_IP:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			memcpy(fr, k == FK_NOT_OUR_MAC ? other_mac
				   : k == FK_MULTICAST ? mcast_mac
						       : bcast_mac,
			       6);
		return n;
	case FK_JUMBO:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan, 4000);
	case FK_OVERSIZE:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan, 12000);
	default:
		return MW_EINVAL;
	}
}

void mut_foreign(struct mut *m, unsigned n)
{
	unsigned order[FK_COUNT_];
	uint8_t fr[FBUF];

	for (unsigned i = 0; i < FK_COUNT_; i++)
		order[i] = i;
	for (unsigned i = FK_COUNT_ - 1; i > 0; i--) {
		unsigned j = (unsigned)pt_below(&m->rng, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		enum fk k = (enum fk)order[i % FK_COUNT_];
		struct mw_net_pkt p;
		char note[48];
		int len = build_foreign(m, k, fr, sizeof fr), cls;

		if (len < 0)
			mut_die("cannot build %s", fk_info[k].name);
		if (fk_info[k].cls >= 0) {
			cls = mw_net_parse(&m->s.net, fr, (size_t)len, 0, &p);
			if (cls != fk_info[k].cls ||
			    (cls == MW_NET_CLASS_DROP &&
			     (int)p.drop != fk_info[k].drop))
				mut_die("%s: classified %d/%s", fk_info[k].name,
				    cls, mw_net_drop_name(p.drop));
		}
		snprintf(note, sizeof note, "foreign:%s", fk_info[k].name);
		mut_insert(m, (size_t)pt_below(&m->rng, m->c.n + 1), fr,
		       (size_t)len, note);
	}
}

