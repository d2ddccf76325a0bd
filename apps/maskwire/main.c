/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maskwire: the DPDK data plane application.
 *   maskwire [EAL options] -- [app options]
 * App options are parsed and checked before rte_eal_init(), so a bad
 * command line never touches a port or leaves EAL files behind.
 */
#include <dirent.h>
#include <errno.h>
#include <unistd.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_ethdev.h>

#include "gensink.h"
#include "mw_crypto.h"
#include "keyfile.h"
#include "usage.h"
#include "mw_dp.h"
#include "mw_port.h"
#include "peers.h"
#include "shmsource.h"

enum { EXIT_VERIFY = 1, EXIT_CONFIG = 2, EXIT_RUNTIME = 3 };

static volatile sig_atomic_t quit;

/* The clock both ends of a one-machine benchmark share (--stamp). */
static uint64_t monotonic_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	if (quit < 2)
		quit++;
}

/* EAL leaves its runtime files (config, memory maps, sockets) in a
 * per-prefix directory; a primary process that is done removes them so a
 * run leaves nothing behind. */
static void remove_runtime_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[PATH_MAX];
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    snprintf(path, sizeof path, "%s/%s", dir, e->d_name) <
			    (int)sizeof path)
			unlink(path);
	closedir(d);
	rmdir(dir);
}

enum {
	O_IP = 256, O_UDP_PORT, O_VLAN, O_ETH_PORT, O_MTU,
	O_GEN, O_SHAPE, O_KIND, O_CODEC, O_RATIO, O_K, O_BITS, O_ROUNDING,
	O_RATE, O_SEED, O_SINK, O_TLOG, O_WINDOW, O_MAXT, O_MAXSEGS,
	O_RETRIES, O_CC, O_TAIL, O_COMPACT, O_CUT, O_RX_DROP, O_TX_DROP, O_BURST, O_RX_BURST, O_BURST_LEN,
	O_DUP, O_RX_DUP, O_REORDER, O_RX_REORDER, O_CORRUPT, O_RX_CORRUPT,
	O_REORDER_GAP, O_FSEED, O_DELAY, O_DELAY_FRAMES, O_CAPTURE, O_STATUS, O_STATS, O_DURATION,
	O_IDLE, O_DRAIN, O_LINGER, O_LINKWAIT, O_MBUFS, O_RXD, O_TXD,
	O_RX_SEG, O_SWCK, O_ZEROCK, O_YIELD, O_PROFILE, O_ENCSTEP, O_ENCW, O_IOLC, O_MAC,
	O_INC, O_NOVERIFY, O_PERIOD,
	O_STAMP, O_RESPOND, O_LOCKSTEP, O_SHM, O_SHM_SLOT, O_DEADLINE, O_SHM_TX,
	O_SHM_RX,
	O_SHM_RING, O_KEY, O_INTEGRITY, O_PLAIN, O_CRYPTO, O_WARMUP, O_HELP,
};

static const struct option opts[] = {
	{"ip", 1, 0, O_IP}, {"udp-port", 1, 0, O_UDP_PORT},
	MW_PEERS_OPTIONS,
	{"vlan", 1, 0, O_VLAN}, {"eth-port", 1, 0, O_ETH_PORT},
	{"mtu", 1, 0, O_MTU}, {"gen", 1, 0, O_GEN}, {"shape", 1, 0, O_SHAPE},
	{"kind", 1, 0, O_KIND}, {"codec", 1, 0, O_CODEC},
	{"ratio", 1, 0, O_RATIO}, {"k", 1, 0, O_K}, {"bits", 1, 0, O_BITS},
	{"rounding", 1, 0, O_ROUNDING}, {"rate", 1, 0, O_RATE},
	{"seed", 1, 0, O_SEED}, {"sink", 2, 0, O_SINK},
	{"tensor-log", 1, 0, O_TLOG}, {"window", 1, 0, O_WINDOW},
	{"max-tensor", 1, 0, O_MAXT}, {"max-segs", 1, 0, O_MAXSEGS},
	{"retries", 1, 0, O_RETRIES}, {"cc", 1, 0, O_CC}, {"rx-drop", 1, 0, O_RX_DROP},
	{"tail-copy", 1, 0, O_TAIL},
	{"compact", 1, 0, O_COMPACT}, {"cut-through", 1, 0, O_CUT},
	{"tx-drop", 1, 0, O_TX_DROP}, {"burst-drop", 1, 0, O_BURST},
	{"tx-burst-drop", 1, 0, O_BURST}, {"rx-burst-drop", 1, 0, O_RX_BURST},
	{"burst-len", 1, 0, O_BURST_LEN}, {"dup", 1, 0, O_DUP},
	{"tx-dup", 1, 0, O_DUP}, {"rx-dup", 1, 0, O_RX_DUP},
	{"reorder", 1, 0, O_REORDER}, {"tx-reorder", 1, 0, O_REORDER},
	{"rx-reorder", 1, 0, O_RX_REORDER}, {"corrupt", 1, 0, O_CORRUPT},
	{"tx-corrupt", 1, 0, O_CORRUPT}, {"rx-corrupt", 1, 0, O_RX_CORRUPT},
	{"reorder-gap", 1, 0, O_REORDER_GAP}, {"fault-seed", 1, 0, O_FSEED},
	{"delay-ms", 1, 0, O_DELAY}, {"delay-frames", 1, 0, O_DELAY_FRAMES},
	{"capture", 1, 0, O_CAPTURE}, {"status-ms", 1, 0, O_STATUS},
	{"stats", 1, 0, O_STATS}, {"duration", 1, 0, O_DURATION},
	{"idle-exit-ms", 1, 0, O_IDLE}, {"drain-ms", 1, 0, O_DRAIN},
	{"linger-ms", 1, 0, O_LINGER}, {"link-wait-ms", 1, 0, O_LINKWAIT},
	{"mbufs", 1, 0, O_MBUFS}, {"rxd", 1, 0, O_RXD}, {"txd", 1, 0, O_TXD},
	{"rx-seg", 1, 0, O_RX_SEG},
	{"sw-cksum", 0, 0, O_SWCK}, {"accept-zero-cksum", 0, 0, O_ZEROCK},
	{"idle-yield", 0, 0, O_YIELD}, {"profile", 0, 0, O_PROFILE},
	{"encode-step", 1, 0, O_ENCSTEP}, {"encode-workers", 0, 0, O_ENCW},
	{"io-lcores", 1, 0, O_IOLC},
	{"mac", 1, 0, O_MAC},
	{"incarnation", 1, 0, O_INC},
	{"no-verify", 0, 0, O_NOVERIFY}, {"content-period", 1, 0, O_PERIOD},
	{"stamp", 0, 0, O_STAMP}, {"respond", 0, 0, O_RESPOND},
	{"lockstep", 0, 0, O_LOCKSTEP}, {"warmup", 1, 0, O_WARMUP},
	{"shm", 1, 0, O_SHM}, {"shm-slot-size", 1, 0, O_SHM_SLOT},
	{"deadline-ms", 1, 0, O_DEADLINE},
	{"shm-tx-slots", 1, 0, O_SHM_TX}, {"shm-rx-slots", 1, 0, O_SHM_RX},
	{"shm-ring", 1, 0, O_SHM_RING},
	{"key", 1, 0, O_KEY},
	{"integrity", 0, 0, O_INTEGRITY},
	{"crypto", 1, 0, O_CRYPTO},
	{"plain", 0, 0, O_PLAIN},
	{"help", 0, 0, O_HELP},
	{0, 0, 0, 0},
};

struct app {
	struct mw_dp_cfg dp;
	struct mw_peer_list pl;
	struct mw_gensink_cfg gs;
	struct mw_shmsrc_cfg shm;
	bool max_tensor_given;
	const char *stats_path;
	const char *tlog_path;
	int codec;  /* -1: by kind */
	bool have_k;
	const char *key_path;
	bool integrity, plain;
};

static char errbuf[512];

#define FAIL(...)                                                             \
	do {                                                                  \
		snprintf(errbuf, sizeof errbuf, __VA_ARGS__);                 \
		return -1;                                                    \
	} while (0)

static int num_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int num_f(const char *s, double lo, double hi, double *out)
{
	char *end;
	if (!s || !*s)
		return -1;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

static int parse_shape(const char *s, struct mw_tensor_meta *m)
{
	char *dup = strdup(s), *save = NULL;
	if (!dup)
		return -1;
	m->ndim = 0;
	memset(m->dims, 0, sizeof m->dims);
	for (char *t = strtok_r(dup, ",x", &save); t;
	     t = strtok_r(NULL, ",x", &save)) {
		uint64_t v;
		if (m->ndim == MW_WIRE_MAX_DIMS ||
		    num_u64(t, UINT32_MAX, &v) || v == 0) {
			free(dup);
			return -1;
		}
		m->dims[m->ndim++] = (uint32_t)v;
	}
	free(dup);
	return m->ndim ? 0 : -1;
}

static int parse_kind(const char *s)
{
	for (unsigned k = 0; k < MW_KIND_COUNT_; k++)
		if (strcmp(s, mw_kind_name(k)) == 0)
			return (int)k;
	return -1;
}

static int parse_args(int argc, char **argv, struct app *a)
{
	struct mw_dp_cfg *d = &a->dp;
	struct mw_gensink_cfg *g = &a->gs;
	uint64_t v;
	double x;
	int c;

	optind = 1;
	opterr = 0;
	int li = 0;
	char o[40];
	while ((c = getopt_long(argc, argv, ":h", opts, &li)) != -1) {
		snprintf(o, sizeof o, "--%s", c >= O_IP ? opts[li].name : "?");
		switch (c) {
		case O_HELP:
		case 'h':
			mw_app_usage(stdout);
			exit(0);
		case O_IP:
			if (mw_net_parse_ip4(optarg, &d->ip) || d->ip == 0)
				FAIL("--ip: '%s' is not a usable IPv4 address",
				     optarg);
			break;
		case O_UDP_PORT:
			if (num_u64(optarg, 65535, &v) || v == 0)
				FAIL("--udp-port: '%s' is not a port 1..65535",
				     optarg);
			d->udp_port = (uint16_t)v;
			break;
		case O_VLAN:
			if (num_u64(optarg, 4094, &v))
				FAIL("--vlan: '%s' is not 0..4094", optarg);
			d->vlan = (uint16_t)v;
			break;
		case O_ETH_PORT:
			if (num_u64(optarg, RTE_MAX_ETHPORTS - 1, &v))
				FAIL("--eth-port: '%s' is not a port id",
				     optarg);
			d->port_id = (uint16_t)v;
			break;
		case O_MTU:
			if (num_u64(optarg, MW_DP_MAX_MTU, &v) || v < 576)
				FAIL("--mtu: '%s' is not 576..%u", optarg,
				     MW_DP_MAX_MTU);
			d->mtu = (uint16_t)v;
			break;
		case O_GEN:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--gen: '%s' is not a tensor count >= 1",
				     optarg);
			g->gen_n = v;
			break;
		case O_SHAPE:
			if (parse_shape(optarg, &g->meta))
				FAIL("--shape: '%s' is not A,B,... (1..8 "
				     "positive dims)",
				     optarg);
			break;
		case O_KIND: {
			int k = parse_kind(optarg);
			if (k < 0)
				FAIL("--kind: unknown kind '%s'", optarg);
			g->meta.kind = (uint8_t)k;
			break;
		}
		case O_CODEC:
			a->codec = mw_codec_from_name(optarg);
			if (a->codec < 0)
				FAIL("--codec: unknown codec '%s' (dense, ms, "
				     "ms-signed, topk, quant, raw)",
				     optarg);
			break;
		case O_RATIO:
			if (num_f(optarg, 0, 0.999999999, &x))
				FAIL("--ratio: '%s' is not in [0,1)", optarg);
			g->cp.ratio = x;
			break;
		case O_K:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--k: '%s' is not a count >= 1", optarg);
			g->cp.k = v;
			a->have_k = true;
			break;
		case O_BITS:
			if (num_u64(optarg, MW_BITS_MAX, &v) || v < MW_BITS_MIN)
				FAIL("--bits: '%s' is not %u..%u", optarg,
				     MW_BITS_MIN, MW_BITS_MAX);
			g->cp.bits = (unsigned)v;
			break;
		case O_ROUNDING: {
			const int r = mw_rounding_from_name(optarg);

			if (r < 0)
				FAIL("--rounding: 'nearest', 'floor' or "
				     "'stochastic'");
			g->cp.rounding = (enum mw_rounding)r;
			break;
		}
		case O_RATE:
			if (num_f(optarg, 0, 1e9, &x))
				FAIL("--rate: '%s' is not a rate >= 0", optarg);
			g->rate = x;
			break;
		case O_SEED:
			if (num_u64(optarg, UINT64_MAX, &v))
				FAIL("--seed: '%s' is not a number", optarg);
			g->seed = v;
			break;
		case O_SINK:
			g->sink = true;
			/* optional_argument: accept "--sink N" as well. */
			if (!optarg && optind < argc && argv[optind][0] != '-')
				optarg = argv[optind++];
			if (optarg) {
				if (num_u64(optarg, UINT64_MAX, &v))
					FAIL("--sink: '%s' is not a count",
					     optarg);
				g->sink_n = v;
			}
			break;
		case O_TLOG:
			a->tlog_path = optarg;
			break;
		case O_NOVERIFY:
			g->no_verify = true;
			break;
		case O_PERIOD:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--content-period: '%s' is not a count "
				     ">= 1",
				     optarg);
			g->content_period = v;
			break;
		case O_STAMP:
			g->stamp = true;
			g->clock_ns = monotonic_ns;
			break;
		case O_RESPOND:
			g->respond = true;
			break;
		case O_LOCKSTEP:
			g->lockstep = true;
			break;
		case O_WARMUP:
			if (num_u64(optarg, 1u << 24, &v))
				FAIL("--warmup: '%s' is not a count 0..%u",
				     optarg, 1u << 24);
			g->warmup = v;
			break;
		case O_WINDOW:
			if (num_u64(optarg, 1u << 20, &v) || v == 0)
				FAIL("--window: '%s' is not 1..%u", optarg,
				     1u << 20);
			d->ep.window = (uint32_t)v;
			break;
		case O_MAXT:
			if (num_u64(optarg, UINT64_MAX, &v) || v == 0)
				FAIL("--max-tensor: '%s' is not a byte count",
				     optarg);
			d->ep.max_tensor_bytes = v;
			a->max_tensor_given = true;
			break;
		case O_MAXSEGS:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--max-segs: '%s' is not a count", optarg);
			d->ep.max_segs = (uint32_t)v;
			break;
		case O_RETRIES:
			if (num_u64(optarg, 1000, &v) || v == 0)
				FAIL("--retries: '%s' is not 1..1000", optarg);
			d->ep.max_retries = (uint32_t)v;
			break;
		case O_CC: {
			int cc = mw_cc_from_name(optarg);
			if (cc < 0)
				FAIL("--cc: unknown congestion controller '%s'",
				     optarg);
			d->ep.cc = (uint8_t)cc;
			break;
		}
		case O_TAIL: {
			int t = mw_tail_copy_from_name(optarg);
			if (t < 0)
				FAIL("--tail-copy: '%s' is not off, on-loss or "
				     "always", optarg);
			d->ep.tail_copy = (uint8_t)t;
			break;
		}
		case O_COMPACT:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				FAIL("--compact: '%s' is not on or off", optarg);
			d->ep.compact = !strcmp(optarg, "on");
			break;
		case O_CUT:
			if (strcmp(optarg, "on") && strcmp(optarg, "off"))
				FAIL("--cut-through: '%s' is not on or off",
				     optarg);
			d->ep.cut_through = !strcmp(optarg, "on");
			break;
		case O_RX_DROP: case O_TX_DROP: case O_BURST: case O_RX_BURST:
		case O_DUP: case O_RX_DUP: case O_REORDER: case O_RX_REORDER:
		case O_CORRUPT: case O_RX_CORRUPT: {
			if (num_f(optarg, 0, 1, &x))
				FAIL("%s: '%s' is not a probability in [0,1]",
				     o, optarg);
			struct mw_fault_cfg *rx = &d->fault_rx,
					    *tx = &d->fault_tx;
			double *slot[] = {
				[O_RX_DROP - O_RX_DROP] = &rx->drop,
				[O_TX_DROP - O_RX_DROP] = &tx->drop,
				[O_BURST - O_RX_DROP] = &tx->burst,
				[O_RX_BURST - O_RX_DROP] = &rx->burst,
				[O_BURST_LEN - O_RX_DROP] = NULL,
				[O_DUP - O_RX_DROP] = &tx->dup,
				[O_RX_DUP - O_RX_DROP] = &rx->dup,
				[O_REORDER - O_RX_DROP] = &tx->reorder,
				[O_RX_REORDER - O_RX_DROP] = &rx->reorder,
				[O_CORRUPT - O_RX_DROP] = &tx->corrupt,
				[O_RX_CORRUPT - O_RX_DROP] = &rx->corrupt,
			};
			*slot[c - O_RX_DROP] = x;
			break;
		}
		case O_BURST_LEN:
			if (num_f(optarg, 1, 1e9, &x))
				FAIL("--burst-len: '%s' is not >= 1", optarg);
			d->fault_rx.burst_len = d->fault_tx.burst_len = x;
			break;
		case O_REORDER_GAP:
			if (num_u64(optarg, MW_FAULT_HOLD_MAX, &v) || v == 0)
				FAIL("--reorder-gap: '%s' is not 1..%u", optarg,
				     MW_FAULT_HOLD_MAX);
			d->fault_rx.reorder_gap = d->fault_tx.reorder_gap =
				(unsigned)v;
			break;
		case O_DELAY:
			if (num_f(optarg, 0, 10000, &x))
				FAIL("--delay-ms: '%s' is not 0..10000", optarg);
			d->tx_delay_ns = (uint64_t)(x * 1e6 + 0.5);
			break;
		case O_DELAY_FRAMES:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--delay-frames: '%s' is not a positive "
				     "number", optarg);
			d->tx_delay_frames = (unsigned)v;
			break;
		case O_FSEED:
			if (num_u64(optarg, UINT64_MAX, &v))
				FAIL("--fault-seed: '%s' is not a number",
				     optarg);
			d->fault_tx.seed = v;
			d->fault_rx.seed = v ^ 0x5555555555555555ull;
			break;
		case O_CAPTURE:
			d->capture_path = optarg;
			break;
		case O_STATUS:
			if (num_u64(optarg, 3600000, &v))
				FAIL("--status-ms: '%s' is not 0..3600000",
				     optarg);
			d->status_ns = v * 1000000u;
			break;
		case O_STATS:
			a->stats_path = optarg;
			break;
		case O_DURATION:
			if (num_f(optarg, 0.001, 1e6, &x))
				FAIL("--duration: '%s' is not seconds > 0",
				     optarg);
			d->duration_ns = (uint64_t)(x * 1e9);
			break;
		case O_IDLE: case O_DRAIN: case O_LINGER: case O_LINKWAIT: {
			if (num_u64(optarg, 3600000, &v))
				FAIL("%s: '%s' is not milliseconds 0..3600000",
				     o, optarg);
			uint64_t ns = v * 1000000u;
			if (c == O_IDLE)
				d->idle_exit_ns = ns;
			else if (c == O_DRAIN)
				d->drain_ns = ns;
			else if (c == O_LINGER)
				d->linger_ns = ns;
			else
				d->link_wait_ns = ns;
			break;
		}
		case O_MBUFS: case O_RXD: case O_TXD:
			if (num_u64(optarg, 1u << 22, &v) || v < 64)
				FAIL("%s: '%s' is not 64..%u", o, optarg,
				     1u << 22);
			if (c == O_MBUFS)
				d->nb_mbufs = (unsigned)v;
			else if (c == O_RXD)
				d->nb_rxd = (unsigned)v;
			else
				d->nb_txd = (unsigned)v;
			if (c != O_MBUFS && v > 32768)
				FAIL("%s: at most 32768 descriptors", o);
			break;
		case O_RX_SEG:
			if (num_u64(optarg, MW_DP_RX_SEG_MAX, &v) ||
			    v < MW_DP_RX_SEG_MIN)
				FAIL("--rx-seg: '%s' is not %u..%u bytes",
				     optarg, MW_DP_RX_SEG_MIN, MW_DP_RX_SEG_MAX);
			d->rx_seg = (unsigned)v;
			break;
		case O_SWCK:
			d->sw_cksum = true;
			break;
		case O_ZEROCK:
			d->accept_zero_udp_cksum = true;
			break;
		case O_INC:
			if (num_u64(optarg, UINT32_MAX, &v) || v == 0)
				FAIL("--incarnation: '%s' is not 1..%u", optarg,
				     UINT32_MAX);
			d->ep.incarnation = (uint32_t)v;
			d->fixed_incarnation = true;
			break;
		case O_MAC:
			if (mw_net_parse_mac(optarg, d->mac) || (d->mac[0] & 1))
				FAIL("--mac: '%s' is not a unicast MAC", optarg);
			d->has_mac = true;
			break;
		case O_YIELD:
			d->idle_yield = true;
			break;
		case O_ENCSTEP:
			if (num_u64(optarg, 1ull << 40, &v))
				FAIL("--encode-step: '%s' is not a count of "
				     "elements", optarg);
			d->ep.encode_step = v;
			break;
		case O_ENCW:
			d->encode_workers = true;
			break;
		case O_IOLC:
			if (num_u64(optarg, MW_DP_MAX_IO_LCORES, &v) || !v)
				FAIL("--io-lcores: give 1..%u",
				     MW_DP_MAX_IO_LCORES);
			d->io_lcores = (unsigned)v;
			break;
		case O_PROFILE:
			d->profile = true;
			break;
		case O_SHM:
			if (!*optarg || strlen(optarg) >= 100)
				FAIL("--shm: give a region name (1..99 chars)");
			a->shm.name = optarg;
			break;
		case O_DEADLINE:
			if (num_u64(optarg, 65535, &v))
				FAIL("--deadline-ms: '%s' is not in 0..65535",
				     optarg);
			a->shm.deadline_ms = (uint16_t)v;
			break;
		case O_SHM_SLOT:
			if (num_u64(optarg, MW_SHM_SLOT_MAX, &v) ||
			    v < MW_SHM_SLOT_MIN || (v & (v - 1)))
				FAIL("--shm-slot-size: '%s' is not a power of "
				     "two in %u..%u",
				     optarg, MW_SHM_SLOT_MIN, MW_SHM_SLOT_MAX);
			a->shm.shm.geom.slot_size = (uint32_t)v;
			break;
		case O_SHM_TX: case O_SHM_RX:
			if (num_u64(optarg, MW_SHM_SLOTS_MAX, &v) || v == 0)
				FAIL("%s: '%s' is not 1..%u", o, optarg,
				     MW_SHM_SLOTS_MAX);
			if (c == O_SHM_TX)
				a->shm.shm.geom.tx_slots = (uint32_t)v;
			else
				a->shm.shm.geom.rx_slots = (uint32_t)v;
			break;
		case O_SHM_RING:
			if (num_u64(optarg, MW_SHM_RING_MAX, &v) ||
			    v < MW_SHM_RING_MIN || (v & (v - 1)))
				FAIL("--shm-ring: '%s' is not a power of two "
				     "in %u..%u",
				     optarg, MW_SHM_RING_MIN, MW_SHM_RING_MAX);
			a->shm.shm.geom.ring_size = (uint32_t)v;
			break;
		case O_KEY:
			a->key_path = optarg;
			break;
		case O_INTEGRITY:
			a->integrity = true;
			break;
		case O_PLAIN:
			a->plain = true;
			break;
		case O_CRYPTO:
			a->dp.ep.crypto = mw_crypto_by_name(optarg);
			if (!a->dp.ep.crypto)
				FAIL("--crypto: '%s' is not a backend of this "
				     "build that runs here (openssl, ipsec-mb, "
				     "gcrypt)", optarg);
			break;
		case ':':
			FAIL("%s needs a value", argv[optind - 1]);
		default:
			if (c >= MW_PEERS_O_PEER && c < MW_PEERS_O_END_) {
				if (mw_peers_option(c, optarg, &a->pl, d,
						    errbuf, sizeof errbuf))
					return -1;
				break;
			}
			FAIL("unknown option '%s' (see --help)", argv[optind - 1]);
		}
	}
	if (optind < argc)
		FAIL("unexpected argument '%s' (see --help)", argv[optind]);
	/* Peers without a port use ours. */
	return mw_peers_finish(&a->pl, d, false, errbuf, sizeof errbuf);
}

/* --key / --integrity / --plain (PROTOCOL.md 12): a key, or plain said
 * explicitly. */
static int security_config(struct app *a)
{
	char err[512];
	if (a->plain && (a->key_path || a->integrity || a->pl.any_key ||
			 a->dp.ep.crypto))
		FAIL("--plain excludes --key, --peer-key, --integrity and "
		     "--crypto");
	if (a->plain) {
		a->dp.ep.sec_mode = MW_SEC_PLAIN;
		fprintf(stderr, "maskwire: WARNING: --plain: packets are "
				"neither authenticated nor encrypted\n");
		return 0;
	}
	bool all_own = a->dp.npeers > 0;
	for (unsigned i = 0; i < a->dp.npeers; i++)
		all_own &= a->dp.peers[i].has_key;
	if (!a->key_path && !all_own)
		FAIL("no key: give --key FILE (umask 077; head -c 32 "
		     "/dev/urandom | base64 > FILE), or --peer-key FILE after "
		     "every --peer, or --plain for an unauthenticated, "
		     "unencrypted run");
	if (a->key_path &&
	    mw_keyfile_load(a->key_path, a->dp.ep.psk, err, sizeof err))
		FAIL("%s", err);
	/* Every peer has its own: the default key is one nobody has. */
	if (!a->key_path &&
	    getrandom(a->dp.ep.psk, sizeof a->dp.ep.psk, 0) !=
		    (ssize_t)sizeof a->dp.ep.psk)
		FAIL("getrandom: %s", strerror(errno));
	a->dp.ep.sec_mode = a->integrity ? MW_SEC_INTEGRITY : MW_SEC_ENCRYPT;
	return mw_peers_finish(&a->pl, &a->dp, a->key_path != NULL, errbuf,
			       sizeof errbuf);
}

/* Defaults that depend on other options, and cross-checks. */
static int finish_config(struct app *a)
{
	if (security_config(a))
		return -1;
	struct mw_gensink_cfg *g = &a->gs;
	if (a->codec < 0) {
		static const enum mw_codec by_kind[MW_KIND_COUNT_] = {
			[MW_KIND_ACTIVATION] = MW_CODEC_MS,
			[MW_KIND_GRADIENT] = MW_CODEC_MS_SIGNED,
			[MW_KIND_LOGITS] = MW_CODEC_DENSE,
			[MW_KIND_LABELS] = MW_CODEC_RAW,
			[MW_KIND_OTHER] = MW_CODEC_DENSE,
		};
		a->codec = (int)by_kind[g->meta.kind];
	}
	g->cp.codec = (enum mw_codec)a->codec;
	g->meta.dtype = g->cp.codec == MW_CODEC_RAW ? MW_DT_U8 : MW_DT_F32;
	if (g->cp.codec == MW_CODEC_DENSE || g->cp.codec == MW_CODEC_RAW ||
	    g->cp.codec == MW_CODEC_TOPK)
		g->cp.bits = 0;
	if (mw_codec_params_check(&g->cp))
		FAIL("codec parameters rejected: --codec %s --bits %u "
		     "--ratio %g",
		     mw_codec_name(g->cp.codec), g->cp.bits, g->cp.ratio);
	if (g->stamp && g->gen_n >= 1ull << (64 - MW_GENSINK_STAMP_SHIFT))
		FAIL("--stamp: at most %llu tensors (--gen)",
		     (1ull << (64 - MW_GENSINK_STAMP_SHIFT)) - 1);
	if (g->lockstep && !g->gen_n)
		FAIL("--lockstep needs --gen");
	if (g->gen_n || g->respond) {
		uint64_t n = mw_gensink_elems(&g->meta);
		uint64_t bytes = n * mw_dtype_size(g->meta.dtype);
		if (n == 0 || bytes / mw_dtype_size(g->meta.dtype) != n)
			FAIL("--shape: too many elements");
		if (bytes > a->dp.ep.max_tensor_bytes)
			FAIL("--shape: a %" PRIu64 "-byte tensor exceeds "
			     "--max-tensor %" PRIu64,
			     bytes, a->dp.ep.max_tensor_bytes);
		if (a->have_k && g->cp.k > n)
			FAIL("--k %" PRIu64 " exceeds the %" PRIu64
			     " elements of --shape",
			     g->cp.k, n);
	}
	if (a->dp.io_lcores > 1 && g->gen_n && a->dp.npeers < a->dp.io_lcores)
		FAIL("--io-lcores %u with --gen: give at least as many peers "
		     "(each I/O lcore generates for its own)",
		     a->dp.io_lcores);
	if (a->shm.name) {
		if (g->gen_n || g->sink)
			FAIL("--shm replaces --gen/--sink: give one or the other");
		uint64_t cap = mw_shmsrc_max_tensor(&a->shm);
		if (a->max_tensor_given && a->dp.ep.max_tensor_bytes > cap)
			FAIL("--max-tensor %" PRIu64 " exceeds the shared-memory "
			     "pools (%" PRIu64 " bytes): raise --shm-*-slots",
			     a->dp.ep.max_tensor_bytes, cap);
		/* a received tensor must always fit the RX pool, or it would
		 * wait for room forever */
		if (a->dp.ep.max_tensor_bytes > cap)
			a->dp.ep.max_tensor_bytes = cap;
		struct mw_shm_hdr h;
		if (mw_shm_layout(&a->shm.shm.geom, 1, &h) < 0)
			FAIL("--shm-*: geometry rejected (pools too large?)");
	}
	if (mw_dp_cfg_check(&a->dp, errbuf, sizeof errbuf))
		return -1;
	/* Files: fail now, not after the port is up. */
	if (a->dp.capture_path) {
		FILE *f = fopen(a->dp.capture_path, "wb");
		if (!f)
			FAIL("--capture: cannot create %s: %s",
			     a->dp.capture_path, strerror(errno));
		fclose(f);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct app a;
	int sep = -1;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	/* "maskwire --help" without EAL options */
	for (int i = 1; i < (sep < 0 ? argc : sep); i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			mw_app_usage(stdout);
			return 0;
		}

	mw_dp_cfg_default(&a.dp);
	a.codec = -1;
	a.gs.seed = 1;
	a.gs.cp.bits = 2;
	a.gs.cp.ratio = 0.9;
	a.gs.meta.kind = MW_KIND_ACTIVATION;
	parse_shape("16,64,8,8", &a.gs.meta);
	a.dp.fault_tx.seed = 1;
	a.dp.fault_rx.seed = 1 ^ 0x5555555555555555ull;
	mw_shm_cfg_default(&a.shm.shm);
	a.shm.shm.geom.tx_slots = 512;
	a.shm.shm.geom.rx_slots = 512;

	int app_argc = sep < 0 ? 1 : argc - sep;
	char **app_argv = sep < 0 ? argv : argv + sep;
	if (sep < 0)
		snprintf(errbuf, sizeof errbuf,
			 "missing '--' between EAL and app options");
	if (sep < 0 || parse_args(app_argc, app_argv, &a) ||
	    finish_config(&a)) {
		fprintf(stderr, "maskwire: error: %s\n", errbuf);
		return EXIT_CONFIG;
	}
	/* A memif server killed earlier left its socket file behind: EAL
	 * would fail to bind it. */
	if (mw_port_memif_prepare(sep, argv, errbuf, sizeof errbuf)) {
		fprintf(stderr, "maskwire: error: %s\n", errbuf);
		return EXIT_CONFIG;
	}

	FILE *tlog = NULL, *stats = stdout;
	if (a.tlog_path && !(tlog = fopen(a.tlog_path, "w"))) {
		fprintf(stderr, "maskwire: error: --tensor-log %s: %s\n",
			a.tlog_path, strerror(errno));
		return EXIT_CONFIG;
	}
	if (a.stats_path && !(stats = fopen(a.stats_path, "w"))) {
		fprintf(stderr, "maskwire: error: --stats %s: %s\n",
			a.stats_path, strerror(errno));
		return EXIT_CONFIG;
	}
	a.gs.tensor_log = tlog;
	struct mw_gensink *gs = NULL;
	struct mw_gensink_group *gsg = NULL;
	struct mw_shmsrc *shm = NULL;
	struct mw_source src, lsrc[MW_DP_MAX_IO_LCORES];
	int rc;
	if (a.shm.name) {
		/* Created before EAL: a name in use fails without touching a
		 * port. */
		struct mw_shmsrc_peer sp[MW_DP_MAX_PEERS];
		for (unsigned i = 0; i < a.dp.npeers; i++)
			sp[i] = (struct mw_shmsrc_peer){a.dp.peers[i].ip,
							a.dp.peers[i].port};
		a.shm.peers = sp;
		a.shm.npeers = a.dp.npeers;
		a.shm.accept_slots = a.dp.accept_max;
		a.shm.lcores = a.dp.io_lcores;
		rc = mw_shmsrc_new(&a.shm, &shm);
		if (rc) {
			fprintf(stderr, "maskwire: error: --shm %s: %s%s\n",
				a.shm.name, mw_strerror(rc),
				mw_shmsrc_new_hint(rc));
			return EXIT_CONFIG;
		}
		mw_shmsrc_source(shm, &src);
		/* several I/O lcores: one region, a source each */
		for (unsigned k = 0; a.dp.io_lcores > 1 && k < a.dp.io_lcores;
		     k++)
			mw_shmsrc_lcore_source(shm, k, a.dp.srcs[k] = &lsrc[k]);
	} else if (a.dp.io_lcores > 1) {
		/* one generator/sink per I/O lcore, for its share of peers */
		rc = mw_gensink_group_new(&a.gs, a.dp.npeers, a.dp.io_lcores,
					  &gsg);
		if (rc) {
			fprintf(stderr, "maskwire: error: generator: %s\n",
				mw_strerror(rc));
			return EXIT_CONFIG;
		}
		for (unsigned k = 0; k < a.dp.io_lcores; k++) {
			mw_gensink_source(mw_gensink_group_member(gsg, k),
					  &lsrc[k]);
			a.dp.srcs[k] = &lsrc[k];
		}
		mw_gensink_group_source(gsg, &src);
	} else {
		rc = mw_gensink_new(&a.gs, &gs);
		if (rc) {
			fprintf(stderr, "maskwire: error: generator: %s\n",
				mw_strerror(rc));
			return EXIT_CONFIG;
		}
		mw_gensink_source(gs, &src);
	}
	a.dp.src = &src;

	/* EAL sees argv[0] and what precedes "--". */
	argv[sep] = argv[0];
	int eal_argc = sep;
	rc = rte_eal_init(eal_argc, argv);
	if (rc < 0) {
		fprintf(stderr, "maskwire: error: EAL initialisation failed: "
				"%s\n",
			rte_strerror(rte_errno));
		mw_gensink_free(gs);
		mw_gensink_group_free(gsg);
		mw_shmsrc_free(shm);
		return EXIT_CONFIG;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	int code = 0;
	struct mw_dp *dp = NULL;
	if (rte_eth_dev_count_avail() == 0) {
		fprintf(stderr, "maskwire: error: no ethdev port (add --vdev=... "
				"or bind a NIC)\n");
		code = EXIT_CONFIG;
	} else if ((rc = mw_dp_create(&a.dp, &dp, errbuf, sizeof errbuf))) {
		fprintf(stderr, "maskwire: error: %s\n", errbuf);
		code = rc == MW_EINVAL || rc == MW_ENOENT ? EXIT_CONFIG
							   : EXIT_RUNTIME;
	} else {
		int end = mw_dp_run(dp, &quit);
		mw_dp_stats_json(dp, stats);
		bool interrupted = end != MW_DP_END_DONE;
		if (end == MW_DP_END_ERROR)
			code = EXIT_RUNTIME;
		else if (src.verdict && src.verdict(src.ctx, interrupted))
			code = EXIT_VERIFY;
		mw_dp_destroy(dp);
	}
	/* after the endpoint: it gives its receive buffers back to the pool */
	mw_shmsrc_free(shm);
	mw_gensink_free(gs);
	mw_gensink_group_free(gsg);
	if (tlog)
		fclose(tlog);
	if (stats != stdout)
		fclose(stats);
	char rundir[PATH_MAX];
	bool primary = rte_eal_process_type() == RTE_PROC_PRIMARY;
	snprintf(rundir, sizeof rundir, "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (primary && rundir[0])
		remove_runtime_dir(rundir);
	return code;
}
