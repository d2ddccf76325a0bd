/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_port.h
 * One ethdev port, any driver (memif, af_packet, af_xdp, pcap, tap, NICs):
 * capability probe and set-up with one or more RX/TX queue pairs. Offloads are
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
	uint16_t max_rxq, max_txq; /**< queues the port offers */
	/* what is in use */
	bool use_tx_cksum; /**< IPv4+UDP checksums by hardware on TX */
	bool use_rx_cksum; /**< RX checksum flags trusted */
	bool use_scatter;  /**< RX frames may arrive in chained mbufs */
	bool use_rss;      /**< RX spread over nb_rxq queues by the port */
	uint16_t nb_rxq, nb_txq; /**< queues configured */
	/* how the port comes back after its link went down */
	bool relink;       /**< it does not reconnect by itself: the caller
			        restarts it (mw_port_restart()) while its
			        link stays down (net_memif, client role) */
	uint16_t mtu;
	uint16_t nb_rxd, nb_txd;
	uint32_t rx_buf_len; /**< data room of the RX mbufs */
};

/**
 * Read a port's capabilities (no configuration).
 * @return 0 or a negative errno from ethdev.
 */
int mw_port_probe(uint16_t port, struct mw_port_caps *caps);

/** Smallest mbuf data room mw_port_buf_len() returns (DPDK's default). */
#define MW_PORT_BUF_MIN 2048u

/**
 * Data room for mbufs that hold any whole frame this port can deliver or
 * send at this MTU in one segment: the MTU plus the port's per-frame
 * overhead (Ethernet and a VLAN tag, and whatever the driver adds in its
 * RX buffers: net_virtio's virtio-net header), rounded up to 64 bytes,
 * at least MW_PORT_BUF_MIN. A pool with this room needs no RX scatter and
 * sends every frame as one mbuf.
 * @param caps  from mw_port_probe().
 * @param mtu   IP MTU.
 * @return bytes of data room (without RTE_PKTMBUF_HEADROOM).
 */
uint32_t mw_port_buf_len(const struct mw_port_caps *caps, uint16_t mtu);

/**
 * Create an mbuf pool for a port (on the caller's NUMA socket).
 * @param what  name prefix; the pool is named WHAT_pPORT.
 * @param port  port id (for the name).
 * @param n     mbufs.
 * @param room  data room per mbuf, without RTE_PKTMBUF_HEADROOM
 *              (mw_port_buf_len()); at most 65535 - the headroom.
 * @param err   a message on failure (not enough EAL memory, most often).
 * @return the pool, or NULL: the caller should exit with an out-of-memory
 *         error.
 */
struct rte_mempool *mw_port_pool(const char *what, uint16_t port,
				 unsigned n, uint32_t room, char *err,
				 size_t errlen);

/**
 * Configure and start a port with nq queue pairs, or one pair where the
 * port offers fewer than nq or is a net_memif (whose extra queues would
 * share its peer's rings): the caller then passes frames between its
 * lcores itself; caps->nb_rxq and nb_txq say what was configured. With
 * several RX queues and RSS offered, RSS spreads IPv4/UDP flows over
 * them; without RSS the driver's own spreading (net_af_packet's kernel
 * fanout) applies. RX scatter is turned on * applies. RX scatter is turned on
 * when the port's frames at this MTU need more than buf_len bytes (frames
 * then arrive chained); a port that cannot scatter is refused. TX never
 * chains mbufs, so TX multi-segment offload is not requested.
 * @param port      port id.
 * @param mtu       IP MTU wanted (checked against the port's range).
 * @param nb_rxd    RX descriptors wanted (adjusted to the port's limits).
 * @param nb_txd    TX descriptors wanted.
 * @param nq        queue pairs wanted (one per I/O lcore).
 * @param pool      mbuf pool for RX.
 * @param buf_len   usable bytes of data in one mbuf of the pool.
 * @param sw_cksum  do not use checksum offloads even if offered.
 * @param caps      in: from mw_port_probe(); out: what is in use.
 * @param err       a message on failure.
 * @return 0, -EINVAL when the port cannot carry this configuration (MTU
 *         out of its range, frames longer than it receives, buffers too
 *         small and no scatter; err says which: a configuration error),
 *         or another negative value from ethdev (the port is left
 *         stopped).
 */
int mw_port_start(uint16_t port, uint16_t mtu, uint16_t nb_rxd,
		  uint16_t nb_txd, uint16_t nq, struct rte_mempool *pool, uint32_t buf_len,
		  bool sw_cksum, struct mw_port_caps *caps, char *err,
		  size_t errlen);

/** Stop and close a port. */
void mw_port_close(uint16_t port);

/**
 * Start a port again with the same configuration (stopping it first if
 * it runs), to reconnect a port whose caps.relink is set: a net_memif
 * client connects to its server's socket only when started. Called from
 * the lcore that polls the port, never while a burst is in progress. On
 * failure the port is left stopped: the caller must not poll it, and
 * tries again later.
 * @param port     port id.
 * @param started  the port is started now (the last start succeeded).
 * @return 0, or the negative value of rte_eth_dev_stop() or
 *         rte_eth_dev_start() (net_memif returns -1 when its server does
 *         not accept the connection).
 */
int mw_port_restart(uint16_t port, bool started);

/**
 * Before rte_eal_init(): make the socket files of net_memif servers named
 * in the EAL arguments bindable. A memif server binds its socket file
 * while EAL probes it and fails with EADDRINUSE when a process that was
 * killed left the file behind. For every --vdev net_memif* with
 * role=server and socket-abstract=no: a socket nobody listens on
 * (connect() is refused) is removed, with a note on stderr; one that
 * accepts connections belongs to a running server and is an error; a
 * path that exists but is not a socket is an error. Abstract sockets
 * (memif's default) vanish with their process and are left alone.
 * @param argc  EAL argument count (argv[0] included, "--" excluded).
 * @param argv  EAL arguments.
 * @param err   a message on failure.
 * @return 0, -EBUSY (a server listens on the socket), -EEXIST (the path
 *         is not a socket), or another negative errno (cannot remove it).
 *         The caller should exit with a configuration error.
 */
int mw_port_memif_prepare(int argc, char *const argv[], char *err,
			  size_t errlen);

/** Write caps as JSON object members (no braces). */
void mw_port_caps_json(const struct mw_port_caps *caps, FILE *f);

#endif /* MW_PORT_H */
