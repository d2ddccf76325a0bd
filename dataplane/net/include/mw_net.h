/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_net.h
 * Frame parsing and header building for the data plane: Ethernet II with an
 * optional 802.1Q tag, IPv4, UDP and ARP.
 *
 * Sans-I/O: works on byte buffers the caller owns; no DPDK, no clock, no
 * allocation, no global state. The DPDK adapter hands it the bytes of each
 * received frame and gets back what the frame is (a UDP datagram for us, an
 * ARP request for our address, an ARP reply) or why it was dropped; it also
 * writes the headers of every frame the adapter sends.
 *
 * Conventions: IPv4 addresses and ports are in host byte order in this API
 * (the wire is big-endian); MAC addresses are 6-byte arrays in wire order.
 * Functions that can fail return a negative enum mw_err (mw_err.h).
 */
#ifndef MW_NET_H
#define MW_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_NET_ETH_HLEN 14u  /**< Ethernet II header */
#define MW_NET_VLAN_HLEN 4u  /**< one 802.1Q tag */
#define MW_NET_IP4_HLEN 20u  /**< IPv4 header without options */
#define MW_NET_UDP_HLEN 8u   /**< UDP header */
#define MW_NET_ARP_LEN 28u   /**< ARP body for Ethernet/IPv4 */
#define MW_NET_ETH_MIN 60u   /**< minimum Ethernet frame without FCS */

#define MW_NET_ETHERTYPE_IPV4 0x0800u
#define MW_NET_ETHERTYPE_ARP 0x0806u
#define MW_NET_ETHERTYPE_VLAN 0x8100u
#define MW_NET_ETHERTYPE_QINQ 0x88a8u
#define MW_NET_ETHERTYPE_IPV6 0x86ddu

/** "No VLAN": frames are sent untagged and only untagged frames accepted. */
#define MW_NET_NO_VLAN 0xffffu

/**
 * Bytes of Ethernet(+802.1Q)/IPv4/UDP headers in front of a UDP payload
 * (compile-time twin of mw_net_hdr_len()).
 */
#define MW_NET_HDR_LEN(vlan)                                                  \
	(MW_NET_ETH_HLEN + ((vlan) ? MW_NET_VLAN_HLEN : 0u) +                 \
	 MW_NET_IP4_HLEN + MW_NET_UDP_HLEN)

/**
 * Why a frame was dropped. X(name, text); the text is the counter's name in
 * stats output. Every reason is counted separately by the adapter.
 */
#define MW_NET_DROP_LIST(X)                                                   \
	X(MW_NET_DROP_NONE, "none")                                           \
	X(MW_NET_DROP_RUNT, "runt")                   /* < Ethernet header */ \
	X(MW_NET_DROP_NOT_OUR_MAC, "not_our_mac")     /* unicast to another */\
	X(MW_NET_DROP_MULTICAST, "multicast")         /* non-broadcast group */\
	X(MW_NET_DROP_BCAST_NON_ARP, "broadcast_non_arp")                     \
	X(MW_NET_DROP_VLAN_TRUNC, "vlan_truncated")                           \
	X(MW_NET_DROP_VLAN_STACKED, "vlan_stacked")   /* QinQ, double tag */  \
	X(MW_NET_DROP_VLAN_MISMATCH, "vlan_mismatch") /* not our VLAN */      \
	X(MW_NET_DROP_IPV6, "ipv6")                                           \
	X(MW_NET_DROP_ETHERTYPE, "other_ethertype")                           \
	X(MW_NET_DROP_ARP_TRUNC, "arp_truncated")                             \
	X(MW_NET_DROP_ARP_BAD, "arp_malformed")       /* not Eth/IPv4 ARP */  \
	X(MW_NET_DROP_ARP_NOT_FOR_US, "arp_not_for_us")                       \
	X(MW_NET_DROP_IP_TRUNC, "ipv4_truncated")                             \
	X(MW_NET_DROP_IP_VERSION, "ipv4_bad_version")                         \
	X(MW_NET_DROP_IP_HDR_LEN, "ipv4_bad_ihl")     /* IHL < 5 */           \
	X(MW_NET_DROP_IP_BAD_LEN, "ipv4_bad_total_length")                    \
	X(MW_NET_DROP_IP_CKSUM, "ipv4_bad_checksum")                          \
	X(MW_NET_DROP_IP_OPTIONS, "ipv4_options")                             \
	X(MW_NET_DROP_IP_FRAG, "ipv4_fragment")                               \
	X(MW_NET_DROP_IP_NOT_FOR_US, "ipv4_not_for_us")                       \
	X(MW_NET_DROP_TCP, "tcp")                                             \
	X(MW_NET_DROP_ICMP, "icmp")                                           \
	X(MW_NET_DROP_IP_PROTO, "other_ip_protocol")                          \
	X(MW_NET_DROP_UDP_TRUNC, "udp_truncated")                             \
	X(MW_NET_DROP_UDP_BAD_LEN, "udp_bad_length")                          \
	X(MW_NET_DROP_UDP_PORT, "udp_other_port")                             \
	X(MW_NET_DROP_UDP_ZERO_CKSUM, "udp_zero_checksum")                    \
	X(MW_NET_DROP_UDP_CKSUM, "udp_bad_checksum")

enum mw_net_drop {
#define MW_NET_DROP_ENUM_(name, text) name,
	MW_NET_DROP_LIST(MW_NET_DROP_ENUM_)
#undef MW_NET_DROP_ENUM_
	MW_NET_DROP_COUNT_
};

/** What a frame is. */
enum mw_net_class {
	MW_NET_CLASS_DROP = 0,    /**< dropped; see mw_net_pkt.drop */
	MW_NET_CLASS_UDP = 1,     /**< a UDP datagram to our address and port */
	MW_NET_CLASS_ARP_REQ = 2, /**< an ARP request for our address */
	MW_NET_CLASS_ARP_REPLY = 3, /**< an ARP reply (any sender) */
};

/** Our side of the link. */
struct mw_net_cfg {
	uint8_t mac[6];     /**< our MAC address */
	uint32_t ip;        /**< our IPv4 address */
	uint16_t port;      /**< our UDP port */
	uint16_t vlan;      /**< 802.1Q VLAN id 0..4094, or MW_NET_NO_VLAN */
	bool accept_zero_udp_cksum; /**< accept UDP checksum 0 ("none", which
				     IPv4 allows); otherwise such datagrams
				     are dropped as MW_NET_DROP_UDP_ZERO_CKSUM */
};

/** Receive hints from hardware checksum offload (mw_net_parse() flags). */
#define MW_NET_RX_IP_CKSUM_GOOD 0x1u  /**< IPv4 checksum already verified */
#define MW_NET_RX_UDP_CKSUM_GOOD 0x2u /**< UDP checksum already verified */

/** Result of mw_net_parse(). Offsets index the parsed buffer. */
struct mw_net_pkt {
	enum mw_net_class cls;
	enum mw_net_drop drop;  /**< MW_NET_DROP_NONE unless cls is DROP */
	uint16_t vlan;          /**< VLAN id of the frame or MW_NET_NO_VLAN */
	uint8_t src_mac[6];     /**< Ethernet source */
	uint32_t src_ip;        /**< UDP: IPv4 source; ARP: sender address */
	uint16_t src_port;      /**< UDP: source port */
	uint8_t arp_sha[6];     /**< ARP: sender hardware address */
	uint32_t payload_off;   /**< UDP: offset of the UDP payload */
	uint32_t payload_len;   /**< UDP: payload bytes (from the UDP header) */
};

/** How a UDP frame's headers are filled (mw_net_build_udp()). */
struct mw_net_flow {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t src_ip;
	uint32_t dst_ip;
	uint16_t src_port;
	uint16_t dst_port;
	uint16_t vlan; /**< VLAN id, or MW_NET_NO_VLAN for untagged */
	uint8_t ttl;   /**< 0 means 64 */
};

/** mw_net_build_udp() flags for hardware checksum offload. */
#define MW_NET_TX_IP_CKSUM_HW 0x1u  /**< leave the IPv4 checksum 0 */
#define MW_NET_TX_UDP_CKSUM_HW 0x2u /**< store only the pseudo-header sum */
/** UDP checksum 0 (none; RFC 768), for a peer that accepts it. */
#define MW_NET_TX_UDP_CKSUM_ZERO 0x4u

/**
 * Name of a drop reason (the counter name in stats output).
 * @return static string; "?" for an unknown value.
 */
const char *mw_net_drop_name(unsigned reason);

/**
 * Classify one received frame.
 * Checks, in order: Ethernet header length, destination MAC (ours, or
 * broadcast only for ARP), 802.1Q tag (one tag, matching cfg->vlan),
 * ethertype, then ARP or IPv4 (version, IHL, total length, header checksum,
 * options, fragments, destination address, protocol) and UDP (length, port,
 * checksum). Bytes after the IPv4 total length are Ethernet padding and are
 * ignored.
 *
 * @param cfg    our addresses; not NULL.
 * @param frame  the frame bytes, starting at the Ethernet destination
 *               (no FCS); may be NULL only if len is 0.
 * @param len    bytes in frame.
 * @param flags  MW_NET_RX_* hints, 0 to verify everything in software.
 * @param out    result; not NULL. Fully written on every call.
 * @return out->cls (a non-negative enum mw_net_class). A dropped frame is
 *         not an error: count out->drop and free the frame.
 */
int mw_net_parse(const struct mw_net_cfg *cfg, const uint8_t *frame,
		 size_t len, unsigned flags, struct mw_net_pkt *out);

/** What mw_net_peek() found. */
enum mw_net_peek_class {
	MW_NET_PEEK_OTHER = 0, /**< anything else, or too short to tell */
	MW_NET_PEEK_UDP = 1,   /**< IPv4 UDP, first fragment: ip and port set */
	MW_NET_PEEK_ARP = 2,   /**< an ARP frame */
};

/**
 * Read a frame's IPv4 source address and UDP source port, checking only
 * that the bytes read are there (no address, checksum or length check):
 * enough to hand the frame to the lcore that owns its peer, which then
 * parses it with mw_net_parse(). One 802.1Q tag is looked through.
 * @param frame  the frame bytes; may be NULL only if len is 0.
 * @param len    bytes in frame.
 * @param ip     out: IPv4 source (host order) for MW_NET_PEEK_UDP.
 * @param port   out: UDP source port for MW_NET_PEEK_UDP.
 * @return enum mw_net_peek_class.
 */
int mw_net_peek(const uint8_t *frame, size_t len, uint32_t *ip,
		uint16_t *port);

/**
 * Bytes of headers mw_net_build_udp() writes in front of the payload.
 * @return MW_NET_HDR_LEN(f->vlan != MW_NET_NO_VLAN).
 */
size_t mw_net_hdr_len(const struct mw_net_flow *f);

/**
 * Write Ethernet(+802.1Q)/IPv4/UDP headers in front of a payload that the
 * caller has already placed at frame + mw_net_hdr_len(f). The IPv4 header
 * has DF set, no options, TTL f->ttl; the UDP checksum covers the payload
 * (a computed 0 is sent as 0xffff) unless flags hand it to hardware or
 * ask for none (MW_NET_TX_UDP_CKSUM_ZERO).
 *
 * @param f            addresses and ports.
 * @param frame        frame buffer (header + payload).
 * @param cap          its capacity.
 * @param payload_len  payload bytes already in place.
 * @param ip_id        IPv4 identification field.
 * @param flags        MW_NET_TX_* offload flags, 0 for software checksums.
 * @return frame length (headers + payload; not padded), or MW_ENOSPC
 *         (cap too small), MW_ERANGE (payload too large for one IPv4
 *         datagram), MW_EINVAL (VLAN id above 4094).
 */
int mw_net_build_udp(const struct mw_net_flow *f, uint8_t *frame, size_t cap,
		     size_t payload_len, uint16_t ip_id, unsigned flags);

/**
 * Write a broadcast ARP request asking for target_ip, from cfg's address.
 * @return frame length (MW_NET_ETH_MIN, padded with zeros), or MW_ENOSPC.
 */
int mw_net_build_arp_request(const struct mw_net_cfg *cfg, uint32_t target_ip,
			     uint8_t *frame, size_t cap);

/**
 * Write the ARP reply to a request that mw_net_parse() classified as
 * MW_NET_CLASS_ARP_REQ (sent to the requester, in the request's VLAN).
 * @param req  the parsed request.
 * @return frame length (MW_NET_ETH_MIN), or MW_ENOSPC, MW_EINVAL (req is
 *         not an ARP request).
 */
int mw_net_build_arp_reply(const struct mw_net_cfg *cfg,
			   const struct mw_net_pkt *req, uint8_t *frame,
			   size_t cap);

/**
 * Internet checksum arithmetic: add len bytes to a running 32-bit partial
 * sum (start with 0), then fold with mw_net_cksum_fold().
 */
uint32_t mw_net_cksum_add(uint32_t sum, const void *buf, size_t len);

/** Fold a partial sum to 16 bits and complement it (the checksum field). */
uint16_t mw_net_cksum_fold(uint32_t sum);

/**
 * Parse "a.b.c.d" into a host-order address.
 * @return 0, or MW_EINVAL.
 */
int mw_net_parse_ip4(const char *s, uint32_t *ip);

/**
 * Parse "aa:bb:cc:dd:ee:ff" (hex, ':' or '-' separated).
 * @return 0, or MW_EINVAL.
 */
int mw_net_parse_mac(const char *s, uint8_t mac[6]);

#ifdef __cplusplus
}
#endif
#endif /* MW_NET_H */
