/* SPDX-License-Identifier: BSD-3-Clause */
/* rtt.c - RTT estimate and retransmission timeout (see rtt.h). */
#include "rtt.h"

void mw_rtt_sample(struct mw_rtt *r, uint64_t rtt, uint64_t ack_delay,
		   uint64_t max_ack_delay, uint64_t now)
{
	uint64_t d, v;

	if (ack_delay > max_ack_delay)
		ack_delay = max_ack_delay;
	if (rtt > ack_delay && rtt - ack_delay >= MW_RTT_GRANULARITY_NS)
		rtt -= ack_delay;
	r->latest_rtt = rtt;
	if (!r->has_rtt || rtt < r->min_rtt)
		r->min_rtt = rtt;
	if (!r->has_rtt) {
		r->srtt = rtt;
		r->rttvar = rtt / 2;
		r->rttvar_stamp = now;
		r->has_rtt = 1;
		return;
	}
	d = r->srtt > rtt ? r->srtt - rtt : rtt - r->srtt;
	v = (3 * r->rttvar + d) / 4;
	/* Samples come with every ACK, not once a round trip as RFC 6298
	 * assumes: rttvar rises at once but falls at most once per srtt,
	 * so a delay seen (a descheduled peer) is remembered for some
	 * round trips instead of some ACKs. */
	if (v >= r->rttvar || now - r->rttvar_stamp >= r->srtt) {
		if (v < r->rttvar)
			r->rttvar_stamp = now;
		r->rttvar = v;
	}
	r->srtt = (7 * r->srtt + rtt) / 8;
}

uint64_t mw_rtt_rto(const struct mw_rtt *r, uint64_t rto_initial,
		    uint64_t rto_min, uint64_t rto_max, uint64_t max_ack_delay)
{
	uint64_t t;

	if (!r->has_rtt)
		t = rto_initial;
	else
		t = r->srtt +
		    (4 * r->rttvar > MW_RTT_GRANULARITY_NS
			     ? 4 * r->rttvar
			     : MW_RTT_GRANULARITY_NS) +
		    max_ack_delay;
	if (t < rto_min)
		t = rto_min;
	if (t > rto_max)
		t = rto_max;
	return t;
}

uint64_t mw_rtt_backoff(uint64_t rto, uint32_t count, uint64_t rto_max)
{
	uint32_t i;

	for (i = 0; i < count && rto < rto_max; i++)
		rto *= 2;
	return rto < rto_max ? rto : rto_max;
}
