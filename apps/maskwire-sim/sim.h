/* SPDX-License-Identifier: BSD-3-Clause */
/* sim.h - maskwire-sim's options, parsed by sim_args.c. */
#ifndef MW_SIM_H
#define MW_SIM_H

#include <stdint.h>

#include "mw_transport.h"

/* ---- options ----------------------------------------------------------- */

struct opts {
	unsigned tensors;
	unsigned ndim;
	uint32_t shape[MW_WIRE_MAX_DIMS];
	double loss, burst, reorder, dup, corrupt;
	uint64_t seed;
	double delay_us, reorder_us, bw_gbps;
	uint64_t queue_bytes;
	unsigned mtu;
	int codec, grad_codec;
	double ratio;
	unsigned bits;
	double down_at_ms, down_for_ms, restart_at_ms;
	unsigned pipeline, window, max_retries;
	int both_open;
	double max_time_s;
	double stall_prob, stall_ms; /* endpoint descheduling */
	double rto_min_us;
	int no_undo;
	int cc;                      /* enum mw_cc_algo */
	int tail_copy;               /* enum mw_tail_copy (PROTOCOL.md 8.3) */
	int compact;                 /* compact DATA, plain mode (5.6) */
	unsigned flows;              /* > 0: bulk flows through one
					bottleneck (sim_flows.c) */
	double flow_gap_ms;          /* flow i starts at i * gap */
	unsigned deadline_ms;        /* > 0: float tensors sent with this
					deadline (PROTOCOL.md 9.1) */
	int sec;                     /* enum mw_sec_mode (12); the key and
					the nonces come from the seed */
};

/* Parse the command line into o (defaults for what is not given); prints
 * the usage and exits on --help (0) or a bad argument (2). */
void sim_parse_args(int argc, char **argv, struct opts *o);

/* An endpoint configured from the options (sim.c). */
struct mw_ep *sim_make_ep(const struct opts *o, uint32_t inc);

/* The --flows mode: runs it, prints its JSON, returns the exit status. */
int sim_flows_run(const struct opts *o);

/* ---- deadline delivery checks (sim_deadline.c) ------------------------ */

struct sim_dl;
struct sim_dl_stats {
	uint64_t partial;       /* tensors delivered partial */
	uint64_t lossmap_err;   /* loss map != the elements never received,
				   or a "whole" tensor with elements missing */
	uint64_t deadline_miss; /* delivered after its deadline, no excuse */
	uint64_t late_excused;  /* ... behind its predecessor (in order) */
};

struct sim_dl *sim_dl_new(void);
void sim_dl_free(struct sim_dl *dl);
const struct sim_dl_stats *sim_dl_stats(const struct sim_dl *dl);
/* A datagram node's endpoint took with return code rc at now. */
void sim_dl_on_packet(struct sim_dl *dl, int node, const uint8_t *pkt,
		      size_t len, int rc, uint64_t now);
/* Tensor id tid was delivered at node at now (call after the check). */
void sim_dl_on_delivery(struct sim_dl *dl, int node, uint64_t tid,
			uint64_t now);
/* Check a delivered tensor against ref = decode(encode(x)) and the
 * record of what arrived; 1 if it is right. deadline_ns 0: none. */
int sim_dl_check(struct sim_dl *dl, int node, const struct mw_event *ev,
		 const void *ref, uint64_t deadline_ns, uint64_t now);

#endif /* MW_SIM_H */
