/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_port.h
 * One ethdev port, any driver (memif, af_packet, af_xdp, pcap, tap, NICs):
 * capability probe and set-up with one RX and one TX queue. Offloads are
 * used where the port has them; the caller falls back to software where it
 * does not (see struct mw_port_caps).
 */
#ifndef MW_PORT_H
#define MW_PORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <rte_mempool.h>

struct mw_port_caps {
	char name[64];     /**< device name (e.g. net_memif0) */
	char driver[32];
	uint8_t mac[6];
	uint16_t min_mtu, max_mtu;
	uint32_t max_rx_pktlen;
	/* what the port offers */
	bool tx_ip_cksum, tx_udp_cksum, tx_multi_seg;
	bool rx_ip_cksum, rx_udp_cksum, rx_scatter;
	bool rss;          /**< receive-side scaling offered */
	/* what is in use */
	bool use_tx_cksum; /**< IPv4+UDP checksums by hardware on TX */
	bool use_rx_cksum; /**< RX checksum flags trusted */
	bool use_scatter;  /**< RX frames may arrive in chained mbufs */
	uint16_t mtu;
	uint16_t nb_rxd, nb_txd;
};

/**
 * Read a port's capabilities (no configuration).
 * @return 0 or a negative errno from ethdev.
 */
int mw_port_probe(uint16_t port, struct mw_port_caps *caps);

/**
 * Configure and start a port with one queue pair.
 * @param port      port id.
 * @param mtu       IP MTU wanted (checked against the port's range).
 * @param nb_rxd    RX descriptors wanted (adjusted to the port's limits).
 * @param nb_txd    TX descriptors wanted.
 * @param pool      mbuf pool for RX.
 * @param buf_len   usable bytes of data in one mbuf of the pool.
 * @param sw_cksum  do not use checksum offloads even if offered.
 * @param caps      in: from mw_port_probe(); out: what is in use.
 * @param err       a message on failure.
 * @return 0, or a negative value (the port is left stopped).
 */
int mw_port_start(uint16_t port, uint16_t mtu, uint16_t nb_rxd,
		  uint16_t nb_txd, struct rte_mempool *pool, uint32_t buf_len,
		  bool sw_cksum, struct mw_port_caps *caps, char *err,
		  size_t errlen);

/** Stop and close a port. */
void mw_port_close(uint16_t port);

/** Write caps as JSON object members (no braces). */
void mw_port_caps_json(const struct mw_port_caps *caps, FILE *f);

#endif /* MW_PORT_H */
