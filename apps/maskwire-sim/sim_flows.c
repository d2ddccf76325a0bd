/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sim_flows.c - maskwire-sim --flows N: N bulk transfers, each a sender
 * and a receiver endpoint, through one bottleneck in virtual time. The
 * bottleneck is a drop-tail queue of --queue-kb served at --bw-gbps;
 * random loss (--loss) is drawn after it, independently of the queue, on
 * both directions; ACKs come back over an uncongested path. Flow i starts
 * at i * --flow-gap-ms and sends --tensors RAW tensors of --shape. One
 * JSON object: goodput per flow and in all, Jain's fairness index while
 * every flow is active, the bottleneck's queueing delay, retransmissions
 * against losses (docs/CC.md).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_rand.h"
#include "mw_transport.h"
#include "sim.h"
#include "sim_heap.h"

#define NO_TIME UINT64_MAX
#define MAX_DG 9000
#define MAX_FLOWS 64
#define QD_BUCKETS 65536 /* queueing delay histogram, 1 us buckets */
#define SPIN_MAX 1000000 /* iterations at one instant: a bug, not a run */

struct flow {
	struct mw_ep *ep[2];  /* 0: sender, 1: receiver */
	uint16_t peer[2];
	uint64_t start_ns, done_ns;
	unsigned submitted, acked;
	uint64_t bytes;       /* delivered to the receiving application */
	uint64_t bytes_a;     /* ... when the fairness window opened */
	uint64_t bytes_b;     /* ... when it closed */
	uint64_t bad;         /* tensors delivered with wrong contents */
};

struct fsim {
	const struct opts *o;
	struct flow f[MAX_FLOWS];
	unsigned n;
	struct heap heap;
	uint64_t now, seq, rng;
	uint64_t busy_until;          /* the bottleneck's queue drains */
	uint64_t win_a, win_b;        /* the fairness window */
	uint64_t qd_hist[QD_BUCKETS]; /* after the warm-up */
	uint64_t qd_max, qd_sum, qd_cnt;
	uint64_t qdrop, rlost, data_lost;
	uint8_t *data;                /* every tensor's contents */
	uint64_t tensor_bytes;
	unsigned done;
};

static uint64_t base_rtt_ns(const struct opts *o)
{
	return (uint64_t)(2 * o->delay_us * 1000 + o->mtu * 8.0 / o->bw_gbps);
}

/* Queueing delay seen by a data packet entering the bottleneck. */
static void qd_record(struct fsim *s, uint64_t qd)
{
	uint64_t us = qd / 1000;

	if (s->now < s->win_a)
		return;
	s->qd_hist[us < QD_BUCKETS ? us : QD_BUCKETS - 1]++;
	s->qd_sum += qd;
	s->qd_cnt++;
	if (qd > s->qd_max)
		s->qd_max = qd;
}

static void put(struct fsim *s, uint16_t to, uint64_t t, const uint8_t *buf,
		size_t len)
{
	sim_heap_push(&s->heap, sim_pkt(t, s->seq++, to, buf, len));
}

/* Flow k's sender (dir 0) or receiver (dir 1) sends a datagram. */
static void link_send(struct fsim *s, unsigned k, int dir, const uint8_t *buf,
		      size_t len)
{
	const struct opts *o = s->o;
	uint64_t delay = (uint64_t)(o->delay_us * 1000), t = s->now;
	int is_data = mw_ptype_is_data(buf[MW_OFF_TYPE]);

	if (dir == 0) {
		uint64_t ser = (uint64_t)((double)len * 8.0 / o->bw_gbps);
		uint64_t qd = s->busy_until > s->now ? s->busy_until - s->now : 0;
		uint64_t queued = (uint64_t)((double)qd * o->bw_gbps / 8);

		if (queued + len > o->queue_bytes) {
			s->qdrop++;
			s->data_lost += is_data;
			return;
		}
		if (is_data)
			qd_record(s, qd);
		s->busy_until = s->now + qd + ser;
		t = s->busy_until;
	}
	if (mw_rand_unit(&s->rng) < o->loss) {
		s->rlost++;
		s->data_lost += is_data;
		return;
	}
	put(s, (uint16_t)(2 * k + !dir), t + delay, buf, len);
}

static void submit_more(struct fsim *s, struct flow *f)
{
	struct mw_codec_params cp;
	struct mw_tensor_meta m;
	int rc;

	if (s->now < f->start_ns)
		return;
	memset(&cp, 0, sizeof(cp));
	memset(&m, 0, sizeof(m));
	cp.codec = MW_CODEC_RAW;
	m.dtype = MW_DT_U8;
	m.kind = MW_KIND_OTHER;
	m.ndim = 1;
	m.dims[0] = (uint32_t)s->tensor_bytes;
	while (f->submitted < s->o->tensors) {
		m.tag = f->submitted;
		rc = mw_ep_submit(f->ep[0], f->peer[0], &m, &cp, s->data,
				  s->tensor_bytes, MW_SUBMIT_BORROW, s->now,
				  NULL);
		if (rc == MW_EAGAIN)
			return;
		if (rc < 0) {
			fprintf(stderr, "maskwire-sim: submit: %s\n",
				mw_strerror(rc));
			exit(2);
		}
		f->submitted++;
	}
}

static void events(struct fsim *s, struct flow *f, int dir)
{
	struct mw_event ev;

	while (mw_ep_poll(f->ep[dir], &ev) > 0) {
		if (ev.type == MW_EV_RX_TENSOR) {
			if (ev.bytes != s->tensor_bytes ||
			    memcmp(ev.buf, s->data, ev.bytes))
				f->bad++;
			f->bytes += ev.bytes;
			mw_ep_release(f->ep[dir], &ev);
		} else if (ev.type == MW_EV_TX_DONE ||
			   ev.type == MW_EV_TX_FAILED) {
			f->bad += ev.type == MW_EV_TX_FAILED;
			if (++f->acked == s->o->tensors) {
				f->done_ns = s->now;
				s->done++;
			}
		}
	}
}

/* Every endpoint of flow k: timers, events, submissions, datagrams. */
static void step_flow(struct fsim *s, unsigned k)
{
	struct flow *f = &s->f[k];
	uint8_t buf[MAX_DG];
	uint16_t peer;
	int dir, len;

	for (dir = 0; dir < 2; dir++) {
		if (s->now >= mw_ep_expiry(f->ep[dir]))
			mw_ep_handle_expiry(f->ep[dir], s->now);
		events(s, f, dir);
		if (dir == 0)
			submit_more(s, f);
		while ((len = mw_ep_send(f->ep[dir], s->now, buf, sizeof(buf),
					 &peer)) > 0)
			link_send(s, k, dir, buf, (size_t)len);
	}
}

/* The fairness window: from the last flow's start plus a warm-up of 20
 * base RTTs to the first flow's end. Snapshots are taken as time passes
 * each edge. */
static void fairness_edges(struct fsim *s)
{
	unsigned k;

	if (s->win_a != NO_TIME && s->now >= s->win_a && !s->f[0].bytes_a &&
	    s->win_b == NO_TIME) {
		for (k = 0; k < s->n; k++)
			s->f[k].bytes_a = s->f[k].bytes + 1; /* +1: taken */
	}
	if (s->done && s->win_b == NO_TIME) {
		s->win_b = s->now;
		for (k = 0; k < s->n; k++)
			s->f[k].bytes_b = s->f[k].bytes;
	}
}

static void deliver(struct fsim *s)
{
	while (s->heap.n && s->heap.v[0].t <= s->now) {
		struct pkt p = sim_heap_pop(&s->heap);
		struct flow *f = &s->f[p.to / 2];
		int dir = p.to % 2;

		mw_ep_recv(f->ep[dir], f->peer[dir], p.data, p.len, s->now);
		free(p.data);
	}
}

static uint64_t next_time(struct fsim *s)
{
	uint64_t t = s->heap.n ? s->heap.v[0].t : NO_TIME, x;
	unsigned k;
	int dir;

	for (k = 0; k < s->n; k++) {
		if (s->f[k].start_ns > s->now && s->f[k].start_ns < t)
			t = s->f[k].start_ns;
		for (dir = 0; dir < 2; dir++) {
			x = mw_ep_expiry(s->f[k].ep[dir]);
			if (x < t)
				t = x;
		}
	}
	if (s->win_a > s->now && s->win_a < t)
		t = s->win_a;
	return t;
}

static void setup(struct fsim *s, const struct opts *o)
{
	unsigned k, d;

	memset(s, 0, sizeof(*s));
	s->o = o;
	s->n = o->flows;
	s->rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
	s->tensor_bytes = 4;
	for (d = 0; d < o->ndim; d++)
		s->tensor_bytes *= o->shape[d];
	s->data = malloc(s->tensor_bytes);
	if (!s->data) {
		perror("malloc");
		exit(2);
	}
	for (d = 0; d < s->tensor_bytes; d++)
		s->data[d] = (uint8_t)(d * 131 + o->seed);
	for (k = 0; k < s->n; k++) {
		struct flow *f = &s->f[k];

		f->start_ns = (uint64_t)llround(k * o->flow_gap_ms * 1e6);
		f->ep[0] = sim_make_ep(o, 1000u + 2 * k);
		f->ep[1] = sim_make_ep(o, 1001u + 2 * k);
		f->peer[0] = (uint16_t)mw_ep_add_peer(f->ep[0]);
		f->peer[1] = (uint16_t)mw_ep_add_peer(f->ep[1]);
	}
	s->win_a = s->f[s->n - 1].start_ns + 20 * base_rtt_ns(o);
	s->win_b = NO_TIME;
}

static double jain(const struct fsim *s)
{
	double sum = 0, sq = 0, x;
	unsigned k;

	if (s->win_b == NO_TIME || s->win_b <= s->win_a || !s->f[0].bytes_a)
		return -1;
	for (k = 0; k < s->n; k++) {
		x = (double)(s->f[k].bytes_b - (s->f[k].bytes_a - 1));
		sum += x;
		sq += x * x;
	}
	return sq > 0 ? sum * sum / (s->n * sq) : -1;
}

static double qd_p99_us(const struct fsim *s)
{
	uint64_t want = s->qd_cnt - s->qd_cnt / 100, acc = 0;
	unsigned i;

	for (i = 0; i < QD_BUCKETS && s->qd_cnt; i++) {
		acc += s->qd_hist[i];
		if (acc >= want)
			return i + 1;
	}
	return 0;
}

static uint64_t bad_total(const struct fsim *s)
{
	uint64_t bad = 0;
	unsigned k;

	for (k = 0; k < s->n; k++)
		bad += s->f[k].bad;
	return bad;
}

static void print_json(struct fsim *s, int stalled)
{
	struct mw_counters c, t;
	uint64_t bytes = 0, end = 0, bad = 0;
	unsigned k;

	memset(&t, 0, sizeof(t));
	printf("{\"seed\":%" PRIu64 ",\"flows\":%u,\"cc\":\"%s\",\"loss\":%g"
	       ",\"flow_goodput_gbps\":[",
	       s->o->seed, s->n, mw_cc_name((unsigned)s->o->cc), s->o->loss);
	for (k = 0; k < s->n; k++) {
		struct flow *f = &s->f[k];
		uint64_t el = f->done_ns > f->start_ns ? f->done_ns - f->start_ns : 0;

		mw_ep_counters(f->ep[0], &c);
		mw_counters_add(&t, &c);
		bytes += f->bytes;
		bad += f->bad;
		end = f->done_ns > end ? f->done_ns : end;
		printf("%s%.4f", k ? "," : "",
		       el ? (double)f->bytes * 8 / (double)el : 0.0);
	}
	printf("],\"goodput_gbps\":%.4f,\"virtual_time_s\":%.6f"
	       ",\"base_rtt_us\":%.1f,\"jain\":%.4f"
	       ",\"queue_delay_mean_us\":%.1f,\"queue_delay_p99_us\":%.1f"
	       ",\"queue_delay_max_us\":%.1f",
	       end ? (double)bytes * 8 / (double)end : 0.0, (double)end / 1e9,
	       base_rtt_ns(s->o) / 1e3, jain(s),
	       s->qd_cnt ? (double)s->qd_sum / (double)s->qd_cnt / 1e3 : 0.0,
	       qd_p99_us(s), (double)s->qd_max / 1e3);
	printf(",\"queue_drops\":%" PRIu64 ",\"random_drops\":%" PRIu64
	       ",\"data_lost_by_link\":%" PRIu64 ",\"retransmitted\":%" PRIu64
	       ",\"retransmit_efficiency\":%.4f,\"rto_events\":%" PRIu64
	       ",\"bad\":%" PRIu64 ",\"stalled\":%s,\"ok\":%s}\n",
	       s->qdrop, s->rlost, s->data_lost, t.retrans,
	       s->data_lost ? (double)t.retrans / (double)s->data_lost : 0.0,
	       t.rto_events, bad, stalled ? "true" : "false",
	       !stalled && !bad ? "true" : "false");
}

int sim_flows_run(const struct opts *o)
{
	static struct fsim s; /* the histogram is large for a stack */
	uint64_t limit = (uint64_t)(o->max_time_s * 1e9), t, spins = 0;
	unsigned k;
	int stalled = 0;

	setup(&s, o);
	for (;;) {
		deliver(&s);
		for (k = 0; k < s.n; k++)
			step_flow(&s, k);
		fairness_edges(&s);
		if (s.done == s.n)
			break;
		t = next_time(&s);
		if (t == NO_TIME || t > limit || spins > SPIN_MAX) {
			stalled = 1;
			break;
		}
		spins = t <= s.now ? spins + 1 : 0;
		if (t > s.now)
			s.now = t;
	}
	print_json(&s, stalled);
	while (s.heap.n)
		free(sim_heap_pop(&s.heap).data);
	free(s.heap.v);
	for (k = 0; k < s.n; k++) {
		mw_ep_free(s.f[k].ep[0]);
		mw_ep_free(s.f[k].ep[1]);
	}
	free(s.data);
	return stalled || bad_total(&s) ? 1 : 0;
}
