/* SPDX-License-Identifier: BSD-3-Clause */
/* mw_dp_stats.c - the data plane's JSON stats (mw_dp_stats_json). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "dp_int.h"

static void fault_json(FILE *f, const char *name, const struct mw_fault *x)
{
	const struct mw_fault_cfg *c = &x->cfg;
	fprintf(f,
		"\"%s\": {\"enabled\": %s, \"drop\": %g, \"burst\": %g, "
		"\"burst_len\": %g, \"dup\": %g, \"reorder\": %g, "
		"\"corrupt\": %g, \"seed\": %" PRIu64 ", "
		"\"passed\": %" PRIu64 ", \"dropped\": %" PRIu64
		", \"burst_dropped\": %" PRIu64 ", \"held\": %" PRIu64
		", \"released\": %" PRIu64 ", \"duplicated\": %" PRIu64
		", \"corrupted\": %" PRIu64 "}",
		name, x->enabled ? "true" : "false", c->drop, c->burst,
		c->burst_len, c->dup, c->reorder, c->corrupt, c->seed,
		x->st.passed, x->st.dropped, x->st.burst_dropped, x->st.held,
		x->st.released, x->st.duplicated, x->st.corrupted);
}

static const char *end_name(int end)
{
	static const char *const n[] = {"done", "signal", "duration", "idle",
					"error"};
	return end >= 0 && end <= MW_DP_END_ERROR ? n[end] : "?";
}

static const char *peer_state_name(unsigned s)
{
	static const char *const n[] = {"free", "idle", "hello", "open"};
	return s < 4 ? n[s] : "?";
}

/* --profile: per stage, TSC cycles and calls; per frame and per tensor
 * figures divide by the frames and tensors of the whole run. */
static void prof_json(const struct mw_dp *dp, const struct mw_dp_counters *c,
		      FILE *f)
{
	static const char *const names[] = {
#define MW_DP_STAGE_NAME_(n) #n,
		MW_DP_STAGE_LIST(MW_DP_STAGE_NAME_)
#undef MW_DP_STAGE_NAME_
	};
	struct mw_dp_prof sum = dp->prof, *p = &sum;
	for (unsigned s = 1; s < dp->grp->n; s++)
		for (unsigned i = 0; i < MW_DP_ST_COUNT_; i++) {
			sum.cycles[i] += dp->grp->shard[s]->prof.cycles[i];
			sum.calls[i] += dp->grp->shard[s]->prof.calls[i];
		}
	uint64_t tensors = c->tensors_tx_done + c->tensors_rx;
	uint64_t total = 0;

	for (unsigned i = 0; i < MW_DP_ST_COUNT_; i++)
		if (i != MW_DP_ST_idle) /* idle iterations hold other stages */
			total += p->cycles[i];
	fprintf(f,
		",\n \"profile\": {\"tsc_hz\": %" PRIu64
		", \"run_cycles\": %.0f, \"staged_cycles\": %" PRIu64
		", \"frames\": %" PRIu64 ", \"tensors\": %" PRIu64
		", \"stages\": {",
		rte_get_tsc_hz(),
		(double)(dp->end_ns - dp->start_ns) * 1e-9 *
			(double)rte_get_tsc_hz() * dp->grp->n,
		total, c->rx_frames + c->tx_frames, tensors);
	for (unsigned i = 0; i < MW_DP_ST_COUNT_; i++) {
		uint64_t fr = c->rx_frames + c->tx_frames;
		fprintf(f,
			"%s\"%s\": {\"calls\": %" PRIu64
			", \"cycles\": %" PRIu64
			", \"per_call\": %.1f, \"per_frame\": %.1f"
			", \"per_tensor\": %.0f}",
			i ? ", " : "", names[i], p->calls[i], p->cycles[i],
			p->calls[i] ? (double)p->cycles[i] / p->calls[i] : 0.0,
			fr ? (double)p->cycles[i] / fr : 0.0,
			tensors ? (double)p->cycles[i] / tensors : 0.0);
	}
	fprintf(f, "}}");
}

/* One direction's faults, summed over the I/O lcores. */
static void fault_sum_json(FILE *f, const struct mw_dp *dp, bool rx)
{
	struct mw_fault x = rx ? dp->frx : dp->ftx;
	for (unsigned s = 1; s < dp->grp->n; s++) {
		const struct mw_fault *o = rx ? &dp->grp->shard[s]->frx
					      : &dp->grp->shard[s]->ftx;
		x.st.passed += o->st.passed;
		x.st.dropped += o->st.dropped;
		x.st.burst_dropped += o->st.burst_dropped;
		x.st.held += o->st.held;
		x.st.released += o->st.released;
		x.st.duplicated += o->st.duplicated;
		x.st.corrupted += o->st.corrupted;
	}
	fault_json(f, rx ? "rx" : "tx", &x);
}

void mw_dp_stats_json(struct mw_dp *dp, FILE *f)
{
	const struct mw_dp_group *g = dp->grp;
	struct mw_dp_counters c;
	struct mw_counters k;
	mw_dp_group_counters(dp, &c, &k);
	double secs = (double)(dp->end_ns - dp->start_ns) / 1e9;
	fprintf(f, "{\"maskwire\": {\"end\": \"%s\", \"elapsed_s\": %.6f, "
		   "\"source\": \"%s\"},\n",
		end_name(g->end), secs, dp->src->name);

	/* port */
	struct rte_eth_stats ps;
	memset(&ps, 0, sizeof ps);
	rte_eth_stats_get(dp->port, &ps);
	fprintf(f, " \"port\": {\"id\": %u, ", dp->port);
	mw_port_caps_json(&dp->caps, f);
	fprintf(f,
		", \"ipackets\": %" PRIu64 ", \"opackets\": %" PRIu64
		", \"ibytes\": %" PRIu64 ", \"obytes\": %" PRIu64
		", \"imissed\": %" PRIu64 ", \"ierrors\": %" PRIu64
		", \"oerrors\": %" PRIu64 ", \"rx_nombuf\": %" PRIu64 "},\n",
		ps.ipackets, ps.opackets, ps.ibytes, ps.obytes, ps.imissed,
		ps.ierrors, ps.oerrors, ps.rx_nombuf);

	/* net */
	fprintf(f, " \"net\": {\"ip\": \"%u.%u.%u.%u\", \"udp_port\": %u, "
		   "\"peers\": [",
		dp->net.ip >> 24, (dp->net.ip >> 16) & 255,
		(dp->net.ip >> 8) & 255, dp->net.ip & 255, dp->net.port);
	bool first = true;
	for (unsigned s = 0; s < g->n; s++)
	for (unsigned i = 0; i < g->shard[s]->nslots; i++) {
		const struct mw_dp_peer *p = &g->shard[s]->peer[i];
		const uint8_t *m = p->flow.dst_mac;
		if (!p->used)
			continue;
		fprintf(f,
			"%s{\"ip\": \"%u.%u.%u.%u\", \"port\": %u, "
			"\"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", "
			"\"resolved\": %s, \"static_mac\": %s, "
			"\"mac_confirmed\": %s, "
			"\"arp_requests\": %" PRIu64 "}",
			first ? "" : ", ", p->cfg.ip >> 24,
			(p->cfg.ip >> 16) & 255,
			(p->cfg.ip >> 8) & 255, p->cfg.ip & 255, p->cfg.port,
			m[0], m[1], m[2], m[3], m[4], m[5],
			mw_neigh_resolved(&p->nb) ? "true" : "false",
			p->cfg.has_mac ? "true" : "false",
			p->nb.confirmed ? "true" : "false", p->nb.requests);
		first = false;
	}
	fprintf(f,
		"], \"mtu\": %u, \"max_datagram\": %u, \"link_up\": %s, "
		"\"accept_zero_udp_cksum\": %s",
		dp->cfg.mtu, dp->cfg.mtu - 28u, dp->link_up ? "true" : "false",
		dp->cfg.accept_zero_udp_cksum ? "true" : "false");
#define MW_DP_CNT_JSON_(n) fprintf(f, ", \"" #n "\": %" PRIu64, c.n);
	MW_DP_COUNTER_LIST(MW_DP_CNT_JSON_)
#undef MW_DP_CNT_JSON_
	fprintf(f, ", \"capture_frames\": %" PRIu64,
		dp->cap ? mw_capture_count(dp->cap) : 0);
	uint64_t total = 0;
	fprintf(f, ", \"drops\": {");
	for (unsigned i = 1; i < MW_NET_DROP_COUNT_; i++) {
		fprintf(f, "%s\"%s\": %" PRIu64, i > 1 ? ", " : "",
			mw_net_drop_name(i), c.net_drop[i]);
		total += c.net_drop[i];
	}
	fprintf(f, "}, \"drops_total\": %" PRIu64 "},\n", total);

	mw_dp_peers_json(dp, f);
	mw_dp_group_json(dp, f);

	/* faults */
	fprintf(f, " \"fault\": {");
	fault_sum_json(f, dp, true);
	fprintf(f, ", ");
	fault_sum_json(f, dp, false);
	/* the TX delay line, summed over the I/O lcores */
	struct mw_delay_stats ds = {0};
	for (unsigned s = 0; s < g->n; s++) {
		const struct mw_delay_stats *o = &g->shard[s]->dtx.st;
		ds.delayed += o->delayed;
		ds.released += o->released;
		ds.overflow += o->overflow;
		if (o->max_held > ds.max_held)
			ds.max_held = o->max_held;
	}
	fprintf(f,
		", \"delay\": {\"ms\": %g, \"frames\": %u, \"delayed\": "
		"%" PRIu64 ", \"released\": %" PRIu64 ", \"overflow\": "
		"%" PRIu64 ", \"max_held\": %u}},\n",
		(double)dp->cfg.tx_delay_ns / 1e6, dp->dtx.cap, ds.delayed,
		ds.released, ds.overflow, ds.max_held);

	/* transport core (the endpoints of every I/O lcore) */
	uint64_t held = 0, bound = 0;
	for (unsigned s = 0; s < g->n; s++) {
		held += mw_ep_mem_held(g->shard[s]->ep);
		bound += mw_ep_mem_bound(g->shard[s]->ep);
	}
	fprintf(f,
		" \"transport\": {\"incarnation\": %u, \"window\": %u, "
		"\"max_tensor_bytes\": %" PRIu64 ", \"max_segs\": %u, "
		"\"max_retries\": %u, \"max_peers\": %u, \"mem_held\": %" PRIu64
		", \"mem_bound\": %" PRIu64,
		mw_ep_incarnation(dp->ep), dp->cfg.ep.window,
		dp->cfg.ep.max_tensor_bytes, dp->cfg.ep.max_segs,
		dp->cfg.ep.max_retries, g->cfg.npeers + g->cfg.accept_max,
		held, bound);
	fprintf(f, ", \"cc\": \"%s\"", mw_cc_name(dp->cfg.ep.cc));
	fprintf(f, ", \"compact\": %s",
		mw_ep_compact(dp->ep) ? "true" : "false");
	fprintf(f, ", \"cut_through\": %s",
		dp->cfg.ep.cut_through ? "true" : "false");
	/* Plain mode is said loudly: nothing it carries is authenticated. */
	fprintf(f, ", \"security\": \"%s\"",
		mw_sec_mode_name(dp->cfg.ep.sec_mode));
	if (!dp->cfg.ep.sec_mode)
		fprintf(f, ", \"security_warning\": \"PLAIN: packets are "
			   "neither authenticated nor encrypted\"");
	else
		fprintf(f, ", \"crypto\": \"%s\"",
			mw_ep_crypto_name(dp->ep));
	for (unsigned i = 0; i < MW_CTR_COUNT_; i++)
		fprintf(f, ", \"%s\": %" PRIu64, mw_counter_name(i),
			mw_counter_get(&k, i));
	fprintf(f, ", \"drops\": %" PRIu64, k.drops);
	fprintf(f, ", \"drop\": {");
	for (unsigned i = 0; i < MW_DROP_COUNT_; i++)
		fprintf(f, "%s\"%s\": %" PRIu64, i ? ", " : "",
			mw_drop_name(i), k.drop[i]);
	fprintf(f, "}, \"peers\": [");
	first = true;
	for (unsigned s = 0; s < g->n; s++)
	for (unsigned i = 0; i < g->shard[s]->nslots; i++) {
		const struct mw_dp *d = g->shard[s];
		struct mw_peer_info pi;
		if (!d->peer[i].used)
			continue;
		memset(&pi, 0, sizeof pi);
		mw_ep_peer_info(d->ep, d->peer[i].ep_peer, &pi);
		fprintf(f,
			"%s{\"state\": \"%s\", \"srtt_us\": %.1f, "
			"\"rto_us\": %.1f, \"cwnd\": %u, \"tx_pending\": %u, "
			"\"rx_pending\": %u}",
			first ? "" : ", ", peer_state_name(pi.state),
			(double)pi.srtt_ns / 1e3, (double)pi.rto_ns / 1e3,
			pi.cwnd, pi.tx_pending, pi.rx_pending);
		first = false;
	}
	fprintf(f, "]}");

	/* throughput over the run */
	if (secs > 0) {
		fprintf(f,
			",\n \"rates\": {\"tensors_tx_per_s\": %.1f, "
			"\"tensors_rx_per_s\": %.1f, \"wire_gbit_s\": %.4f, "
			"\"dense_equiv_gbit_s\": %.4f}",
			(double)c.tensors_tx_done / secs,
			(double)c.tensors_rx / secs,
			(double)(c.rx_bytes + c.tx_bytes) * 8 / secs / 1e9,
			(double)(c.dense_bytes_rx + c.dense_bytes_tx) *
				8 / secs / 1e9);
	}
	fprintf(f, ",\n ");
	mw_dp_enc_json(dp->enc, f);
	if (dp->prof.on)
		prof_json(dp, &c, f);
	/* with several I/O lcores, cfg.src speaks for all of them */
	const struct mw_source *src = g->n > 1 ? g->cfg.src : dp->src;
	if (src->stats_json) {
		fprintf(f, ",\n ");
		src->stats_json(src->ctx, f);
	}
	fprintf(f, "}\n");
	fflush(f);
}
