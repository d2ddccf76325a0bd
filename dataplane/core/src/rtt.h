/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rtt.h - the round-trip time estimate and the retransmission timeout
 * (PROTOCOL.md 8.3). Plain functions on a caller-owned struct: no clock,
 * time comes in nanoseconds.
 */
#ifndef MW_RTT_H
#define MW_RTT_H

#include <stdint.h>

/** Timer granularity: the least rttvar term and RTT sample kept. */
#define MW_RTT_GRANULARITY_NS 1000u

/** One peer's estimate; zero-filled means "no sample yet". */
struct mw_rtt {
	uint64_t srtt, rttvar, latest_rtt, min_rtt;
	uint64_t rttvar_stamp;      /**< last decrease of rttvar */
	uint8_t has_rtt;            /**< at least one sample taken */
};

/**
 * Take an RTT sample (8.3).
 * @param rtt        now - send time of the packet that raised largest_pn
 * @param ack_delay  the delay the ACK reports; capped at max_ack_delay,
 *                   subtracted when at least the granularity remains
 * @param now        current time, for the once-per-srtt rttvar decrease
 */
void mw_rtt_sample(struct mw_rtt *r, uint64_t rtt, uint64_t ack_delay,
		   uint64_t max_ack_delay, uint64_t now);

/**
 * The base retransmission timeout: rto_initial before the first sample,
 * else srtt + max(4 rttvar, granularity) + max_ack_delay; then clamped to
 * [rto_min, rto_max].
 */
uint64_t mw_rtt_rto(const struct mw_rtt *r, uint64_t rto_initial,
		    uint64_t rto_min, uint64_t rto_max, uint64_t max_ack_delay);

/** rto x 2^count, capped at rto_max (consecutive timeouts, 8.3). */
uint64_t mw_rtt_backoff(uint64_t rto, uint32_t count, uint64_t rto_max);

#endif /* MW_RTT_H */
