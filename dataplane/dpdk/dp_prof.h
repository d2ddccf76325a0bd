/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_prof.h - where the poll loop's cycles go (--profile): TSC cycles
 * spent in each stage of the loop and how often it ran, for the cycles
 * per frame and per tensor budget of docs/PERF.md. Off by default; when
 * off, a stage costs one predictable branch. Not installed.
 */
#ifndef MW_DP_PROF_H
#define MW_DP_PROF_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_cycles.h>

/*
 * The stages, in loop order: name, what one "call" is.
 *  rx_burst   rte_eth_rx_burst() calls that returned frames
 *  rx_net     Ethernet/IPv4/UDP parse and checks of one frame
 *  rx_data    the core's handling of one DATA (checks, CRC, decode)
 *  rx_ctrl    the core's handling of one ACK, HELLO or CLOSE
 *  loop       one mw_loop_step(): timers, events, the source (which
 *             submits, so a tensor's encode is here)
 *  tx_core    one datagram built by the core (pick, header, payload, CRC)
 *  tx_none    a core call that had nothing to send
 *  tx_net     Ethernet/IPv4/UDP headers and checksum of one frame
 *  tx_burst   rte_eth_tx_burst() calls
 *  idle       loop iterations that moved no frame (whole iteration)
 */
#define MW_DP_STAGE_LIST(X)                                                 \
	X(rx_burst) X(rx_net) X(rx_data) X(rx_ctrl) X(loop) X(tx_core)      \
	X(tx_none) X(tx_net) X(tx_burst) X(idle)

enum mw_dp_stage {
#define MW_DP_STAGE_ENUM_(n) MW_DP_ST_##n,
	MW_DP_STAGE_LIST(MW_DP_STAGE_ENUM_)
#undef MW_DP_STAGE_ENUM_
	MW_DP_ST_COUNT_
};

struct mw_dp_prof {
	bool on;
	uint64_t calls[MW_DP_ST_COUNT_];
	uint64_t cycles[MW_DP_ST_COUNT_];
	uint64_t t0; /* start of the stage being timed */
};

static inline void mw_dp_prof_begin(struct mw_dp_prof *p)
{
	if (p->on)
		p->t0 = rte_rdtsc();
}

static inline void mw_dp_prof_end(struct mw_dp_prof *p, enum mw_dp_stage s)
{
	if (p->on) {
		p->cycles[s] += rte_rdtsc() - p->t0;
		p->calls[s]++;
	}
}

/* A stage timed from an earlier reading t (nested timings). */
static inline void mw_dp_prof_add(struct mw_dp_prof *p, enum mw_dp_stage s,
				  uint64_t t)
{
	if (p->on) {
		p->cycles[s] += rte_rdtsc() - t;
		p->calls[s]++;
	}
}

static inline uint64_t mw_dp_prof_now(const struct mw_dp_prof *p)
{
	return p->on ? rte_rdtsc() : 0;
}

#endif /* MW_DP_PROF_H */
