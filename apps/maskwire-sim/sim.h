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
	unsigned flows;              /* > 0: bulk flows through one
					bottleneck (sim_flows.c) */
	double flow_gap_ms;          /* flow i starts at i * gap */
};

/* Parse the command line into o (defaults for what is not given); prints
 * the usage and exits on --help (0) or a bad argument (2). */
void sim_parse_args(int argc, char **argv, struct opts *o);

/* An endpoint configured from the options (sim.c). */
struct mw_ep *sim_make_ep(const struct opts *o, uint32_t inc);

/* The --flows mode: runs it, prints its JSON, returns the exit status. */
int sim_flows_run(const struct opts *o);

#endif /* MW_SIM_H */
