/* SPDX-License-Identifier: BSD-3-Clause */
/* Port probe and set-up: the same code for every ethdev driver. */
#include "mw_port.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rte_dev.h>
#include <rte_devargs.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

/* ---- net_memif ---------------------------------------------------------- */

#define MEMIF_PROBE_MS 2000 /* longest wait for a live server's HELLO */

/* What maskwire needs to know of a net_memif device's arguments,
 * interpreted as DPDK 22.11's driver does: role client unless the value
 * names server (or the old "master"), socket /run/memif.sock, an abstract
 * socket unless socket-abstract says "no". */
struct memif_args {
	bool server;
	bool abstract;
	char socket[108];  /* sizeof sun_path */
};

static void memif_args_parse(const char *args, struct memif_args *ma)
{
	ma->server = false;
	ma->abstract = true;
	snprintf(ma->socket, sizeof ma->socket, "/run/memif.sock");
	for (const char *kv = args; kv && *kv;) {
		const char *end = strchr(kv, ',');
		size_t len = end ? (size_t)(end - kv) : strlen(kv);
		const char *eq = memchr(kv, '=', len);
		if (eq) {
			size_t klen = (size_t)(eq - kv);
			char val[sizeof ma->socket];
			size_t vlen = len - klen - 1;
			if (vlen >= sizeof val)
				vlen = sizeof val - 1;
			memcpy(val, eq + 1, vlen);
			val[vlen] = 0;
			if (klen == 4 && !memcmp(kv, "role", 4))
				ma->server = strstr(val, "server") ||
					     strstr(val, "master");
			else if (klen == 6 && !memcmp(kv, "socket", 6))
				memcpy(ma->socket, val, vlen + 1);
			else if (klen == 15 && !memcmp(kv, "socket-abstract", 15))
				ma->abstract = strstr(val, "yes") ||
					       !strstr(val, "no");
		}
		kv = end ? end + 1 : NULL;
	}
}

/* A net_memif client connects to its server only in dev_start and never
 * again by itself once the server has gone: it must be restarted. */
static bool memif_is_client(const struct rte_eth_dev_info *info)
{
	const struct rte_devargs *da =
		info->device ? rte_dev_devargs(info->device) : NULL;
	struct memif_args ma;
	memif_args_parse(da ? da->args : NULL, &ma);
	return !ma.server;
}

/* One server socket file: absent, stale (removed) or in use (error). */
static int memif_clear_socket(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0; /* absent, or the driver reports what is wrong */
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen,
			 "memif socket %s: the path exists and is not a socket",
			 path);
		return -EEXIST;
	}
	struct sockaddr_un un;
	memset(&un, 0, sizeof un);
	un.sun_family = AF_UNIX;
	snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	int rc = connect(fd, (struct sockaddr *)&un, sizeof un);
	int e = errno;
	if (rc == 0) {
		/* A live server. Hang up only after its first message: a
		 * DPDK 22.11 memif server whose HELLO to a new connection
		 * fails (EPIPE, the client already gone) closes that fd with
		 * its interrupt callback still registered, and the EAL
		 * interrupt thread panics on the stale fd. */
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		char msg[128];
		if (poll(&pf, 1, MEMIF_PROBE_MS) == 1)
			(void)!recv(fd, msg, sizeof msg, MSG_DONTWAIT);
	}
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "memif socket %s is in use: a running memif server "
			 "(another data plane?) listens on it",
			 path);
		return -EBUSY;
	}
	if (e != ECONNREFUSED)
		return 0; /* not ours to judge (permissions, another type) */
	/* Left behind by a server that was killed: nobody listens. */
	if (unlink(path) != 0 && errno != ENOENT) {
		e = errno;
		snprintf(err, errlen, "stale memif socket %s: cannot remove it: %s",
			 path, strerror(e));
		return -e;
	}
	fprintf(stderr, "maskwire: removed stale memif socket %s (nobody "
			"listened on it)\n",
		path);
	return 0;
}

int mw_port_memif_prepare(int argc, char *const argv[], char *err,
			  size_t errlen)
{
	for (int i = 1; i < argc; i++) {
		const char *dev;
		if (strncmp(argv[i], "--vdev=", 7) == 0)
			dev = argv[i] + 7;
		else if (strcmp(argv[i], "--vdev") == 0 && i + 1 < argc)
			dev = argv[++i];
		else
			continue;
		if (strncmp(dev, "net_memif", 9) != 0)
			continue;
		const char *args = strchr(dev, ',');
		struct memif_args ma;
		memif_args_parse(args ? args + 1 : NULL, &ma);
		if (!ma.server || ma.abstract)
			continue;
		int rc = memif_clear_socket(ma.socket, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- any port ----------------------------------------------------------- */

int mw_port_probe(uint16_t port, struct mw_port_caps *caps)
{
	struct rte_eth_dev_info info;
	memset(caps, 0, sizeof(*caps));
	if (!rte_eth_dev_is_valid_port(port))
		return -ENODEV;
	int rc = rte_eth_dev_info_get(port, &info);
	if (rc)
		return rc;
	rte_eth_dev_get_name_by_port(port, caps->name);
	snprintf(caps->driver, sizeof caps->driver, "%s",
		 info.driver_name ? info.driver_name : "?");
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(port, &mac) == 0)
		memcpy(caps->mac, mac.addr_bytes, 6);
	caps->min_mtu = info.min_mtu;
	caps->max_mtu = info.max_mtu;
	caps->max_rx_pktlen = info.max_rx_pktlen;
	caps->tx_ip_cksum = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	caps->tx_udp_cksum = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	caps->tx_multi_seg = info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	caps->rx_ip_cksum = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	caps->rx_udp_cksum = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	caps->rx_scatter = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	caps->rss = info.flow_type_rss_offloads != 0;
	caps->max_rxq = info.max_rx_queues;
	caps->max_txq = info.max_tx_queues;
	caps->relink = strcmp(caps->driver, "net_memif") == 0 &&
		       memif_is_client(&info);
	return 0;
}

/*
 * Bytes the port writes into RX buffers for one frame at this MTU: the
 * MTU plus its own per-frame overhead, which ethdev derives from the
 * device info as max_rx_pktlen - max_mtu when the driver gives both
 * (net_virtio: Ethernet + VLAN + its 12-byte virtio-net header = 30), and
 * never less than Ethernet + one VLAN tag (18), which is what maskwire
 * itself puts around an IP packet. A driver whose RX buffers are smaller
 * than this needs RX scatter (net_virtio refuses the queue otherwise).
 */
static uint32_t port_rx_need(const struct mw_port_caps *caps, uint16_t mtu)
{
	uint32_t over = 18u;
	if (caps->max_mtu != UINT16_MAX && caps->max_rx_pktlen > caps->max_mtu &&
	    caps->max_rx_pktlen - caps->max_mtu > over)
		over = caps->max_rx_pktlen - caps->max_mtu;
	return (uint32_t)mtu + over;
}

uint32_t mw_port_buf_len(const struct mw_port_caps *caps, uint16_t mtu)
{
	uint32_t need = port_rx_need(caps, mtu);
	return need <= MW_PORT_BUF_MIN ? MW_PORT_BUF_MIN : (need + 63u) & ~63u;
}

struct rte_mempool *mw_port_pool(const char *what, uint16_t port,
				 unsigned n, uint32_t room, char *err,
				 size_t errlen)
{
	char name[RTE_MEMPOOL_NAMESIZE];
	snprintf(name, sizeof name, "%s_p%u", what, port);
	struct rte_mempool *mp = rte_pktmbuf_pool_create(
		name, n, 256, 0, (uint16_t)(room + RTE_PKTMBUF_HEADROOM),
		(int)rte_socket_id());
	if (!mp)
		snprintf(err, errlen,
			 "cannot create %s: %u mbufs of %u bytes (%s); give "
			 "EAL more memory (-m) or fewer --mbufs",
			 name, n, room, rte_strerror(rte_errno));
	return mp;
}

int mw_port_start(uint16_t port, uint16_t mtu, uint16_t nb_rxd,
		  uint16_t nb_txd, uint16_t nq, struct rte_mempool *pool, uint32_t buf_len,
		  bool sw_cksum, struct mw_port_caps *caps, char *err,
		  size_t errlen)
{
	struct rte_eth_dev_info info;
	struct rte_eth_conf conf;
	int rc = rte_eth_dev_info_get(port, &info);
	if (rc) {
		snprintf(err, errlen, "port %u: cannot read device info: %s",
			 port, strerror(-rc));
		return rc;
	}
	/* Largest frame: MTU + Ethernet + one VLAN tag. */
	uint32_t frame = (uint32_t)mtu + 18u;
	if (mtu < caps->min_mtu || mtu > caps->max_mtu) {
		snprintf(err, errlen,
			 "port %u (%s): MTU %u outside the port's range %u..%u",
			 port, caps->driver, mtu, caps->min_mtu,
			 caps->max_mtu);
		return -EINVAL;
	}
	if (caps->max_rx_pktlen && frame > (uint64_t)caps->max_rx_pktlen + 4u) {
		snprintf(err, errlen,
			 "port %u (%s): MTU %u needs %u-byte frames, the port "
			 "receives at most %u (jumbo frames between two "
			 "processes: net_vhost + net_virtio_user)",
			 port, caps->driver, mtu, frame,
			 caps->max_rx_pktlen);
		return -EINVAL;
	}

	/* A port with fewer queues than wanted gets one pair (the caller
	 * then sends and receives through lcore 0). So does net_memif: its
	 * queues beyond the ones its peer opened share that peer's rings, so
	 * two lcores would poll one ring. */
	if (nq < 1)
		nq = 1;
	if (nq > info.max_tx_queues || nq > info.max_rx_queues ||
	    strcmp(caps->driver, "net_memif") == 0)
		nq = 1;
	uint16_t nrxq = nq;
	memset(&conf, 0, sizeof conf);
	conf.rxmode.mtu = mtu;
	caps->use_rss = false;
	uint64_t rss_hf = info.flow_type_rss_offloads &
			  (RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV4);
	if (nrxq > 1 && rss_hf) {
		conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
		conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
		caps->use_rss = true;
	}
	caps->use_scatter = false;
	uint32_t need = port_rx_need(caps, mtu);
	if (need > buf_len) {
		if (!caps->rx_scatter) {
			bool virtio = strstr(caps->driver, "virtio") != NULL;
			snprintf(err, errlen,
				 "port %u (%s): MTU %u needs %u-byte RX "
				 "buffers, the mbufs hold %u and the port "
				 "does not offer RX scatter%s",
				 port, caps->driver, mtu, need, buf_len,
				 virtio ? " (virtio offers it with mergeable "
					  "RX buffers: mrg_rxbuf=1)"
					: "");
			return -EINVAL;
		}
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
		caps->use_scatter = true;
	}
	caps->use_tx_cksum =
		!sw_cksum && caps->tx_ip_cksum && caps->tx_udp_cksum;
	if (caps->use_tx_cksum)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM |
					RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
	/* TX_OFFLOAD_MULTI_SEGS is not asked for: every frame maskwire sends
	 * is one mbuf (the core writes a datagram contiguously), and some
	 * drivers take a slower TX path when it is on. */
	caps->use_rx_cksum =
		!sw_cksum && caps->rx_ip_cksum && caps->rx_udp_cksum;
	if (caps->use_rx_cksum)
		conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
					RTE_ETH_RX_OFFLOAD_UDP_CKSUM;

	rc = rte_eth_dev_configure(port, nrxq, nq, &conf);
	if (rc) {
		snprintf(err, errlen, "port %u: configure failed: %s", port,
			 strerror(-rc));
		return rc;
	}
	rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
	if (rc) {
		snprintf(err, errlen, "port %u: descriptor counts: %s", port,
			 strerror(-rc));
		goto fail;
	}
	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	struct rte_eth_rxconf rxq = info.default_rxconf;
	rxq.offloads = conf.rxmode.offloads;
	for (uint16_t q = 0; q < nrxq; q++) {
		rc = rte_eth_rx_queue_setup(port, q, nb_rxd, (unsigned)socket,
					    &rxq, pool);
		if (rc) {
			snprintf(err, errlen, "port %u: RX queue %u set-up: %s",
				 port, q, strerror(-rc));
			goto fail;
		}
	}
	struct rte_eth_txconf txq = info.default_txconf;
	txq.offloads = conf.txmode.offloads;
	for (uint16_t q = 0; q < nq; q++) {
		rc = rte_eth_tx_queue_setup(port, q, nb_txd, (unsigned)socket,
					    &txq);
		if (rc) {
			snprintf(err, errlen, "port %u: TX queue %u set-up: %s",
				 port, q, strerror(-rc));
			goto fail;
		}
	}
	rc = rte_eth_dev_start(port);
	if (rc) {
		snprintf(err, errlen, "port %u: start failed: %s", port,
			 strerror(-rc));
		goto fail;
	}
	struct rte_ether_addr mac;
	if (rte_eth_macaddr_get(port, &mac) == 0)
		memcpy(caps->mac, mac.addr_bytes, 6);
	caps->mtu = mtu;
	caps->rx_buf_len = buf_len;
	caps->nb_rxd = nb_rxd;
	caps->nb_txd = nb_txd;
	caps->nb_rxq = nrxq;
	caps->nb_txq = nq;
	return 0;
fail:
	rte_eth_dev_close(port);
	return rc ? rc : -EINVAL;
}

void mw_port_close(uint16_t port)
{
	int rc = rte_eth_dev_stop(port);
	if (rc && rc != -ENOTSUP)
		fprintf(stderr, "maskwire: port %u stop: %s\n", port,
			strerror(-rc));
	rte_eth_dev_close(port);
}

int mw_port_restart(uint16_t port, bool started)
{
	if (started) {
		int rc = rte_eth_dev_stop(port);
		if (rc && rc != -ENOTSUP)
			return rc;
	}
	return rte_eth_dev_start(port);
}

void mw_port_caps_json(const struct mw_port_caps *c, FILE *f)
{
	fprintf(f,
		"\"name\": \"%s\", \"driver\": \"%s\", "
		"\"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"mtu\": %u, "
		"\"max_mtu\": %u, \"max_rx_pktlen\": %u, "
		"\"nb_rxd\": %u, \"nb_txd\": %u, \"rx_buf_len\": %u, "
		"\"offers\": {\"tx_ipv4_cksum\": %s, \"tx_udp_cksum\": %s, "
		"\"tx_multi_seg\": %s, \"rx_ipv4_cksum\": %s, "
		"\"rx_udp_cksum\": %s, \"rx_scatter\": %s, \"rss\": %s}, "
		"\"uses\": {\"tx_cksum_offload\": %s, \"rx_cksum_offload\": %s, "
		"\"rx_scatter\": %s, \"rss\": %s}, \"relink\": %s, "
		"\"max_rxq\": %u, \"max_txq\": %u, \"rxq\": %u, \"txq\": %u",
		c->name, c->driver, c->mac[0], c->mac[1], c->mac[2], c->mac[3],
		c->mac[4], c->mac[5], c->mtu, c->max_mtu, c->max_rx_pktlen,
		c->nb_rxd, c->nb_txd, c->rx_buf_len, c->tx_ip_cksum ? "true" : "false",
		c->tx_udp_cksum ? "true" : "false",
		c->tx_multi_seg ? "true" : "false",
		c->rx_ip_cksum ? "true" : "false",
		c->rx_udp_cksum ? "true" : "false",
		c->rx_scatter ? "true" : "false", c->rss ? "true" : "false",
		c->use_tx_cksum ? "true" : "false",
		c->use_rx_cksum ? "true" : "false",
		c->use_scatter ? "true" : "false", c->use_rss ? "true" : "false",
		c->relink ? "true" : "false", c->max_rxq, c->max_txq, c->nb_rxq,
		c->nb_txq);
}
