/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maskwire-sim: two transport endpoints in virtual time over a seeded
 * lossy link, moving split-learning traffic (MS activations and dense
 * labels up, signed-MS gradients down), checking every delivered tensor
 * bit for bit against decode(encode(x)), printing one JSON object.
 * Same arguments, same output. Each endpoint runs the data plane's event
 * loop (mw_loop.h) with its application as the loop's source; the link,
 * the stalls and the restart are the simulator's.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_loop.h"
#include "mw_rand.h"
#include "mw_transport.h"
#include "sim.h"
#include "sim_heap.h"

#define NO_TIME UINT64_MAX
#define MAX_DG 9000

/* ---- link -------------------------------------------------------------- */

struct link_stats {
	uint64_t pkts, data_pkts, lost, data_lost, cut, data_cut, qdrop,
		data_qdrop, dups, corrupted, data_corrupted, reordered,
		corrupt_dropped; /* corrupted packets the receiver dropped */
};

struct link {
	uint64_t rng;           /* mw_rand.h state */
	int bad;                /* Gilbert-Elliott state */
	uint64_t ge_t;          /* when the chain last stepped */
	uint64_t busy_until;
	struct link_stats st;
};

struct sim;
static void link_send(struct sim *s, int from, const uint8_t *buf, size_t len,
		      uint64_t now);

/* ---- split-learning application --------------------------------------- */

/* ST_INIT: with --both-open, one tensor the server sends at t = 0 (its
 * run configuration, int64 like the labels), so both sides open at once. */
enum stream { ST_ACT = 0, ST_LABEL = 1, ST_GRAD = 2, ST_INIT = 3, ST_COUNT };

static int is_raw(int st)
{
	return st == ST_LABEL || st == ST_INIT;
}

struct step {
	uint8_t act_done, label_done, grad_sent, resolved;
	uint8_t act_rx, label_rx; /* delivered at the server */
	uint8_t rx_partial[ST_COUNT], tx_partial[ST_COUNT]; /* 9.1 */
};

struct node {
	struct mw_ep *ep;
	uint16_t peer;
	uint32_t inc;
	struct sim *sim;
	int k;                  /* its index: 0 client, 1 server */
	struct mw_source app;   /* the application, as the loop's source */
	struct mw_loop loop;
	/* Descheduling: from stall_next on, the process neither receives,
	 * sends nor runs timers until stall_until. */
	uint64_t stall_rng;
	uint64_t stall_next, stall_until, stalls;
};

struct sim {
	struct opts o;
	struct node n[2];        /* 0: client, 1: server */
	struct link link[2];     /* link[i]: packets sent by node i */
	struct heap heap;
	uint64_t seq, now;
	uint64_t done_ns;        /* when the last tensor was resolved */
	struct step *steps;
	unsigned next_step, resolved;
	unsigned grad_next; /* lowest step whose gradient may be unsent */
	uint64_t elems;          /* per activation/gradient */
	uint32_t batch;
	int64_t last_tag[2][ST_COUNT];
	uint64_t delivered, failed, verified, verify_err, order_err;
	uint64_t dense_bytes;
	uint64_t restarts_done;
	struct mw_counters old_server; /* counters of a restarted server */
	float *xbuf, *ref;
	uint8_t *pay, *scr;
	size_t pay_cap, scr_cap;
	uint64_t fail_reason[32];
	int closing;             /* sessions closed: events only released */
	struct sim_dl *dl;       /* with --deadline-ms: what arrived */
};

static uint64_t ns_of_ms(double ms)
{
	return (uint64_t)llround(ms * 1e6);
}

/* Tensor content: a pure function of (seed, stream, step). */
static void gen_tensor(const struct sim *s, int st, unsigned step, void *out,
		       uint64_t n)
{
	uint64_t r = s->o.seed * 0x100000001b3ull + (uint64_t)st * 7919 +
		     (uint64_t)step * 104729;
	uint64_t i;

	if (is_raw(st)) {
		int64_t *l = out;

		for (i = 0; i < n; i++)
			l[i] = (int64_t)(mw_rand64(&r) % 10);
		return;
	}
	float *x = out;

	for (i = 0; i < n; i++) {
		double u = mw_rand_unit(&r);

		if (st == ST_ACT) /* post-ReLU: half zeros, a long tail */
			x[i] = u < 0.5 ? 0.0f
				       : (float)(-log(mw_rand_unit(&r) +
						      1e-12));
		else /* gradients: small, signed */
			x[i] = (float)((u - 0.5) * 1e-3 *
				       (1.0 + 4.0 * mw_rand_unit(&r)));
	}
}

static void stream_params(const struct sim *s, int st,
			  struct mw_codec_params *cp,
			  struct mw_tensor_meta *m)
{
	memset(cp, 0, sizeof(*cp));
	memset(m, 0, sizeof(*m));
	if (is_raw(st)) {
		cp->codec = MW_CODEC_RAW;
		m->dtype = MW_DT_I64;
		m->kind = st == ST_LABEL ? MW_KIND_LABELS : MW_KIND_OTHER;
		m->ndim = 1;
		m->dims[0] = s->batch;
		return;
	}
	cp->codec = st == ST_ACT ? s->o.codec : s->o.grad_codec;
	cp->bits = (cp->codec == MW_CODEC_DENSE || cp->codec == MW_CODEC_TOPK ||
		    cp->codec == MW_CODEC_RAW) ? 0 : s->o.bits;
	cp->rounding = MW_ROUND_NEAREST;
	cp->ratio = s->o.ratio;
	m->dtype = MW_DT_F32;
	m->kind = st == ST_ACT ? MW_KIND_ACTIVATION : MW_KIND_GRADIENT;
	m->deadline_ms = (uint16_t)s->o.deadline_ms;
	m->ndim = (uint8_t)s->o.ndim;
	memcpy(m->dims, s->o.shape, sizeof(m->dims));
}

static uint64_t stream_bytes(const struct sim *s, int st)
{
	return is_raw(st) ? 8ull * s->batch : 4 * s->elems;
}

static void submit(struct sim *s, int node, int st, unsigned step)
{
	struct mw_codec_params cp;
	struct mw_tensor_meta m;
	uint64_t bytes = stream_bytes(s, st);
	int rc;

	stream_params(s, st, &cp, &m);
	m.tag = ((uint64_t)st << 32) | step;
	gen_tensor(s, st, step, s->xbuf, is_raw(st) ? s->batch : s->elems);
	rc = mw_ep_submit(s->n[node].ep, s->n[node].peer, &m, &cp, s->xbuf,
			  bytes, 0, s->now, NULL);
	if (rc < 0) {
		fprintf(stderr, "maskwire-sim: submit: %s\n", mw_strerror(rc));
		exit(2);
	}
}

/* The server's gradients, in step order, as far as its window allows
 * (at high loss the client may learn of partial deliveries before the
 * server hears its ACKs, and run ahead of the server's window). */
static int server_submit(struct sim *s)
{
	unsigned i;
	int count = 0;

	while (s->grad_next < s->o.tensors &&
	       (s->steps[s->grad_next].grad_sent ||
		s->steps[s->grad_next].resolved))
		s->grad_next++;
	for (i = s->grad_next; i < s->o.tensors && i < s->next_step; i++) {
		struct step *t = &s->steps[i];
		struct mw_peer_info pi;

		if (t->grad_sent || !t->act_rx || !t->label_rx)
			continue; /* sent, or its inputs not both here */
		mw_ep_peer_info(s->n[1].ep, s->n[1].peer, &pi);
		if (pi.tx_pending + 1 > s->o.window)
			break;
		t->grad_sent = 1;
		submit(s, 1, ST_GRAD, i);
		count++;
	}
	return count;
}

/* decode(encode(x)) computed here, independently of the transport. */
static int verify(struct sim *s, int node, int st, unsigned step,
		  const struct mw_event *ev)
{
	struct mw_codec_params cp;
	struct mw_tensor_meta m;
	struct mw_codec_desc d;
	uint64_t n = is_raw(st) ? 8ull * s->batch : s->elems;
	int64_t sz, rc;

	stream_params(s, st, &cp, &m);
	if (ev->meta.kind != m.kind || ev->meta.dtype != m.dtype ||
	    ev->meta.ndim != m.ndim ||
	    memcmp(ev->meta.dims, m.dims, sizeof(m.dims)) ||
	    ev->bytes != stream_bytes(s, st))
		return 0;
	gen_tensor(s, st, step, s->xbuf, is_raw(st) ? s->batch : s->elems);
	if (is_raw(st))
		return memcmp(ev->buf, s->xbuf, ev->bytes) == 0 && !ev->partial;
	sz = mw_encode_size(&cp, n);
	if (sz < 0 || (size_t)sz > s->pay_cap)
		return 0;
	rc = mw_encode(&cp, s->xbuf, n, &d, s->pay, s->pay_cap, s->scr,
		       s->scr_cap);
	if (rc < 0)
		return 0;
	rc = mw_seg_decode(&d, 0, n, s->pay, (size_t)rc, s->ref);
	if (rc < 0)
		return 0;
	if (s->dl)
		rc = sim_dl_check(s->dl, node, ev, s->ref,
				  (uint64_t)s->o.deadline_ms * 1000000u,
				  s->now);
	else
		rc = memcmp(ev->buf, s->ref, ev->bytes) == 0 && !ev->partial;
	return rc &&
	       ev->desc.codec == d.codec && ev->desc.bits == d.bits &&
	       ev->desc.n == d.n && ev->desc.k == d.k &&
	       memcmp(&ev->desc.p0, &d.p0, 4) == 0 &&
	       memcmp(&ev->desc.p1, &d.p1, 4) == 0;
}

static void resolve(struct sim *s, unsigned step)
{
	if (!s->steps[step].resolved) {
		s->steps[step].resolved = 1;
		s->resolved++;
	}
}

static void on_event(struct sim *s, int node, struct mw_event *ev)
{
	int st;
	unsigned step;

	switch (ev->type) {
	case MW_EV_RX_TENSOR:
		st = (int)(ev->meta.tag >> 32);
		step = (unsigned)ev->meta.tag;
		s->delivered++;
		if (st < 0 || st >= ST_COUNT || step >= s->o.tensors ||
		    (st == ST_GRAD || st == ST_INIT) != (node == 0)) {
			s->verify_err++;
			mw_ep_release(s->n[node].ep, ev);
			return;
		}
		if ((int64_t)step <= s->last_tag[node][st])
			s->order_err++;
		s->last_tag[node][st] = step;
		if (ev->partial)
			s->steps[step].rx_partial[st] = 1;
		if (verify(s, node, st, step, ev))
			s->verified++;
		else
			s->verify_err++;
		if (s->dl)
			sim_dl_on_delivery(s->dl, node, ev->handle, s->now);
		s->dense_bytes += ev->bytes;
		mw_ep_release(s->n[node].ep, ev);
		if (st == ST_GRAD) {
			resolve(s, step);
		} else if (st != ST_INIT) {
			if (st == ST_ACT)
				s->steps[step].act_rx = 1;
			else
				s->steps[step].label_rx = 1;
			server_submit(s);
		}
		break;
	case MW_EV_TX_DONE:
		step = (unsigned)ev->meta.tag;
		st = (int)(ev->meta.tag >> 32);
		if (ev->partial && step < s->o.tensors && st >= 0 &&
		    st < ST_COUNT)
			s->steps[step].tx_partial[st] = 1;
		break;
	case MW_EV_TX_FAILED:
		s->failed++;
		s->fail_reason[(unsigned)-ev->reason % 32]++;
		step = (unsigned)ev->meta.tag;
		if (step < s->o.tensors && (ev->meta.tag >> 32) != ST_INIT)
			resolve(s, step);
		break;
	default:
		break;
	}
}

/* The applications as loop sources. The client runs up to `pipeline`
 * steps ahead of its gradients; the server only answers (on_event(),
 * and here what its window held back). */
static int server_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		       unsigned npeers, uint64_t now)
{
	(void)ep;
	(void)peers;
	(void)npeers;
	(void)now;
	return server_submit(((struct node *)ctx)->sim);
}

static int client_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		       unsigned npeers, uint64_t now)
{
	struct sim *s = ((struct node *)ctx)->sim;
	int count = 0;

	(void)ep;
	(void)peers;
	(void)npeers;
	(void)now;
	while (s->next_step < s->o.tensors &&
	       s->next_step < s->resolved + s->o.pipeline) {
		struct mw_peer_info pi;

		mw_ep_peer_info(s->n[0].ep, s->n[0].peer, &pi);
		if (pi.tx_pending + 2 > s->o.window)
			break;
		submit(s, 0, ST_ACT, s->next_step);
		submit(s, 0, ST_LABEL, s->next_step);
		s->next_step++;
		count += 2;
	}
	return count;
}

static void app_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		      uint64_t now)
{
	struct node *n = ctx;
	struct mw_event e = *ev;

	(void)now;
	if (n->sim->closing) /* both applications have finished */
		mw_ep_release(ep, &e);
	else
		on_event(n->sim, n->k, &e);
}

/* (Re)start node k's loop on its endpoint, at s->now. */
static void node_start(struct sim *s, int k)
{
	struct node *n = &s->n[k];
	struct mw_loop_cfg c;

	memset(&n->app, 0, sizeof(n->app));
	n->app.name = k ? "server" : "client";
	n->app.ctx = n;
	n->app.poll = k ? server_poll : client_poll;
	n->app.event = app_event;
	memset(&c, 0, sizeof(c));
	c.ep = n->ep;
	c.src = &n->app;
	c.peers = &n->peer;
	c.npeers = 1;
	mw_loop_init(&n->loop, &c, s->now);
}

/* ---- endpoint stalls ---------------------------------------------------- */

/* Next descheduling of node k: onsets form a Poisson process of rate
 * stall_prob per millisecond. */
static void stall_draw(struct sim *s, int k, uint64_t from)
{
	struct node *n = &s->n[k];
	double gap_ms = -log(1.0 - mw_rand_unit(&n->stall_rng)) /
			s->o.stall_prob;

	n->stall_next = from + (uint64_t)llround(gap_ms * 1e6);
	if (n->stall_next <= from)
		n->stall_next = from + 1;
}

/* Is node k descheduled at s->now? Stalls that began since the last
 * call are applied (nothing happened between two events). */
static int node_stalled(struct sim *s, int k)
{
	struct node *n = &s->n[k];

	if (s->o.stall_prob <= 0)
		return 0;
	while (n->stall_next <= s->now) {
		uint64_t end = n->stall_next + (uint64_t)llround(s->o.stall_ms * 1e6);

		if (end > s->now && end > n->stall_until) {
			n->stall_until = end;
			n->stalls++;
		}
		stall_draw(s, k, n->stall_next);
	}
	return s->now < n->stall_until;
}

/* ---- link model -------------------------------------------------------- */

static void link_send(struct sim *s, int from, const uint8_t *buf, size_t len,
		      uint64_t now)
{
	struct link *l = &s->link[from];
	const struct opts *o = &s->o;
	int is_data = len > MW_OFF_TYPE && mw_ptype_is_data(buf[MW_OFF_TYPE]);
	uint64_t ser = (uint64_t)((double)len * 8.0 / o->bw_gbps);
	uint64_t dep, t, queued;
	struct pkt p;
	int lost, copies, c;

	l->st.pkts++;
	l->st.data_pkts += is_data;
	/* drop-tail queue in front of the wire */
	queued = l->busy_until > now ?
			 (uint64_t)((double)(l->busy_until - now) * o->bw_gbps / 8) : 0;
	if (queued + len > o->queue_bytes) {
		l->st.qdrop++;
		l->st.data_qdrop += is_data;
		l->st.lost++;
		l->st.data_lost += is_data;
		return;
	}
	dep = (l->busy_until > now ? l->busy_until : now) + ser;
	l->busy_until = dep;
	if (o->down_for_ms > 0 && dep >= ns_of_ms(o->down_at_ms) &&
	    dep < ns_of_ms(o->down_at_ms + o->down_for_ms)) {
		l->st.cut++;
		l->st.data_cut += is_data;
		l->st.lost++;
		l->st.data_lost += is_data;
		return;
	}
	if (o->burst > 1.0) {
		/* Gilbert-Elliott chain stepped once per packet slot (the
		 * wire time of a full-size packet), idle slots included, so
		 * a burst lasts a time, not a number of our packets. */
		double r = 1.0 / o->burst, q = o->loss * r / (1.0 - o->loss);
		double slot = (double)o->mtu * 8.0 / o->bw_gbps;
		double k = (double)(dep - l->ge_t) / slot, pb;

		if (k < 1)
			k = 1;
		pb = o->loss + ((l->bad ? 1.0 : 0.0) - o->loss) *
				       pow(1.0 - q - r, k);
		l->bad = mw_rand_unit(&l->rng) < pb;
		l->ge_t = dep;
		lost = l->bad;
	} else {
		lost = mw_rand_unit(&l->rng) < o->loss;
	}
	if (lost) {
		l->st.lost++;
		l->st.data_lost += is_data;
		return;
	}
	copies = mw_rand_unit(&l->rng) < o->dup ? 2 : 1;
	l->st.dups += copies - 1;
	for (c = 0; c < copies; c++) {
		t = dep + (uint64_t)(o->delay_us * 1000);
		if (c)
			t += (uint64_t)(mw_rand_unit(&l->rng) * o->delay_us *
					1000);
		if (mw_rand_unit(&l->rng) < o->reorder) {
			t += (uint64_t)(mw_rand_unit(&l->rng) * o->reorder_us *
					1000);
			l->st.reordered++;
		}
		p = sim_pkt(t, s->seq++, (uint8_t)!from, buf, len);
		if (mw_rand_unit(&l->rng) < o->corrupt) {
			unsigned flips = 1 + (unsigned)(mw_rand64(&l->rng) % 3);
			unsigned f;
			uint64_t bits[3];

			for (f = 0; f < flips; f++) {
				uint64_t bit = mw_rand64(&l->rng) % (8 * len);
				unsigned g;

				for (g = 0; g < f; g++)
					if (bits[g] == bit)
						break;
				if (g < f) { /* the same bit twice: no error */
					f--;
					continue;
				}
				bits[f] = bit;
				p.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			}
			p.corrupted = (uint8_t)(1 + is_data);
		} else {
			p.corrupted = 0;
		}
		sim_heap_push(&s->heap, p);
	}
}

/* ---- driver ------------------------------------------------------------ */

/* The simulator's random source for secure mode: seeded (a simulation
 * must repeat; a data plane uses getrandom()). */
static void sim_rand(void *ctx, void *buf, size_t len)
{
	uint64_t *s = ctx;
	uint8_t *b = buf;

	for (size_t i = 0; i < len; i++) {
		*s ^= *s << 13;
		*s ^= *s >> 7;
		*s ^= *s << 17;
		b[i] = (uint8_t)(*s >> 24);
	}
}

struct mw_ep *sim_make_ep(const struct opts *o, uint32_t inc)
{
	struct mw_ep_config cfg;
	struct mw_ep *ep;
	int rc;

	mw_ep_config_default(&cfg);
	cfg.incarnation = inc;
	cfg.max_peers = 1;
	cfg.max_datagram = (uint16_t)(o->mtu - 28);
	cfg.window = o->window;
	cfg.max_retries = o->max_retries;
	cfg.rto_initial_ns = 1000000;
	cfg.rto_min_ns = (uint64_t)llround(o->rto_min_us * 1000);
	if (cfg.rto_initial_ns < cfg.rto_min_ns)
		cfg.rto_initial_ns = cfg.rto_min_ns;
	cfg.rto_max_ns = 200000000;
	cfg.undo = (uint8_t)!o->no_undo;
	cfg.cc = (uint8_t)o->cc;
	cfg.tail_copy = (uint8_t)o->tail_copy;
	cfg.compact = (uint8_t)o->compact;
	cfg.ack_delay_ns = 25000;
	cfg.sec_mode = (uint8_t)o->sec;
	if (o->sec) {
		static uint64_t rng; /* one source for the run's endpoints */

		if (!rng)
			rng = o->seed * 0x9e3779b97f4a7c15ull + 1;
		for (unsigned i = 0; i < sizeof(cfg.psk); i++)
			cfg.psk[i] = (uint8_t)(0xa5 ^ i ^ o->seed);
		cfg.rand = sim_rand;
		cfg.rand_ctx = &rng;
	}
	rc = mw_ep_new(&cfg, &ep);
	if (rc < 0) {
		fprintf(stderr, "maskwire-sim: endpoint: %s\n", mw_strerror(rc));
		exit(2);
	}
	return ep;
}

static void restart_server(struct sim *s)
{
	struct mw_counters c;
	unsigned i;

	mw_ep_counters(s->n[1].ep, &c);
	mw_counters_add(&s->old_server, &c);
	mw_ep_free(s->n[1].ep);
	s->n[1].inc++;
	s->n[1].ep = sim_make_ep(&s->o, s->n[1].inc);
	s->n[1].peer = (uint16_t)mw_ep_add_peer(s->n[1].ep);
	node_start(s, 1);
	/* Work the old server held is gone: those steps cannot finish. */
	for (i = 0; i < s->next_step; i++)
		if (!s->steps[i].resolved &&
		    (s->steps[i].act_rx || s->steps[i].label_rx))
			resolve(s, i);
	s->restarts_done++;
}

static int all_done(const struct sim *s)
{
	struct mw_peer_info a, b;

	if (s->resolved < s->o.tensors)
		return 0;
	mw_ep_peer_info(s->n[0].ep, s->n[0].peer, &a);
	mw_ep_peer_info(s->n[1].ep, s->n[1].peer, &b);
	return a.tx_pending == 0 && b.tx_pending == 0;
}

/* Node k pulls every datagram it has onto the link. */
static void send_node(struct sim *s, int k)
{
	uint8_t buf[MAX_DG];
	uint16_t peer;
	int len;

	while ((len = mw_ep_send(s->n[k].ep, s->now, buf, sizeof(buf),
				 &peer)) > 0)
		link_send(s, k, buf, (size_t)len, s->now);
}

/* The next arrival or endpoint loop's deadline (a stalled endpoint's: the
 * end of its stall); NO_TIME if there is none. */
static uint64_t next_event(struct sim *s)
{
	uint64_t t = s->heap.n ? s->heap.v[0].t : NO_TIME, x;
	int k;

	for (k = 0; k < 2; k++) {
		x = mw_loop_next(&s->n[k].loop);
		if (node_stalled(s, k))
			x = s->n[k].stall_until; /* then it catches up */
		if (x < t)
			t = x;
	}
	return t;
}

/* Deliver the packets due at s->now. */
static void deliver(struct sim *s)
{
	while (s->heap.n && s->heap.v[0].t <= s->now) {
		struct pkt p = sim_heap_pop(&s->heap);
		int rc;

		if (node_stalled(s, p.to)) {
			/* held in the receive ring until the stall ends; the
			 * sequence number keeps the arrival order */
			p.t = s->n[p.to].stall_until;
			sim_heap_push(&s->heap, p);
			continue;
		}
		if (p.corrupted) {
			s->link[!p.to].st.corrupted++;
			s->link[!p.to].st.data_corrupted += p.corrupted == 2;
		}
		rc = mw_loop_recv(&s->n[p.to].loop, s->n[p.to].peer, p.data,
				  p.len, s->now);
		/* by its checksum or header (plain), its tag (secure) */
		if (p.corrupted && rc < 0)
			s->link[!p.to].st.corrupt_dropped++;
		if (s->dl)
			sim_dl_on_packet(s->dl, p.to, p.data, p.len, rc,
					 s->now);
		free(p.data);
	}
}

/*
 * One iteration at s->now: the packets due are delivered, then every
 * endpoint that is not stalled runs its loop's step (timers, events to
 * its application, the client's submissions) and puts its datagrams on
 * the link. The server steps first: what its events do (a gradient
 * submitted, a step resolved by a failure) is seen by the client's
 * submissions of the same iteration.
 */
static void step_all(struct sim *s)
{
	int k;

	deliver(s);
	for (k = 1; k >= 0; k--) {
		if (node_stalled(s, k))
			continue;
		mw_loop_step(&s->n[k].loop, s->now, 0);
		send_node(s, k);
	}
}

/* Both applications close the session when done, as the data plane does
 * at exit (the loop's close sequence; events are released from then
 * on); what is still on the link is delivered and answered. */
static void close_and_drain(struct sim *s, uint64_t limit)
{
	uint64_t t;
	int k;

	s->closing = 1;
	for (k = 0; k < 2; k++)
		mw_loop_close(&s->n[k].loop, s->now);
	for (k = 0; k < 2; k++)
		if (!node_stalled(s, k))
			send_node(s, k);
	for (;;) {
		t = next_event(s);
		if (t == NO_TIME || t > limit)
			return;
		if (t > s->now)
			s->now = t;
		step_all(s);
	}
}

static void print_json(struct sim *s, int stalled)
{
	struct mw_counters c[2], t;
	struct link_stats L;
	double secs = (double)s->done_ns / 1e9;
	uint64_t lost, corrupt_dropped, i;
	unsigned r;
	int first = 1;

	mw_ep_counters(s->n[0].ep, &c[0]);
	mw_ep_counters(s->n[1].ep, &c[1]);
	mw_counters_add(&c[1], &s->old_server);
	t = c[0];
	mw_counters_add(&t, &c[1]);
	memset(&L, 0, sizeof(L));
	for (i = 0; i < 2; i++) {
		const uint64_t *src = (const uint64_t *)&s->link[i].st;
		uint64_t *dst = (uint64_t *)&L;
		size_t j;

		for (j = 0; j < sizeof(L) / 8; j++)
			dst[j] += src[j];
	}
	/* Segments the protocol had to recover: dropped by the link, or
	 * corrupted (and so dropped by the receiver's checksum). */
	lost = L.data_lost + L.data_corrupted;
	corrupt_dropped = L.corrupt_dropped;
	printf("{\"seed\":%" PRIu64 ",\"steps\":%u,\"tensors_submitted\":%" PRIu64
	       ",\"tensors_delivered\":%" PRIu64 ",\"tensors_verified\":%" PRIu64
	       ",\"verify_errors\":%" PRIu64 ",\"order_errors\":%" PRIu64
	       ",\"tensors_failed\":%" PRIu64,
	       s->o.seed, s->o.tensors, t.tensors_submitted, s->delivered,
	       s->verified, s->verify_err, s->order_err, s->failed);
	printf(",\"fail_reasons\":{");
	for (r = 0; r < 32; r++)
		if (s->fail_reason[r]) {
			printf("%s\"%s\":%" PRIu64, first ? "" : ",",
			       mw_strerror(-(int)r), s->fail_reason[r]);
			first = 0;
		}
	printf("},\"segments_sent\":%" PRIu64 ",\"segments_new\":%" PRIu64
	       ",\"retransmitted\":%" PRIu64 ",\"spurious_losses\":%" PRIu64
	       ",\"fast_retransmits\":%" PRIu64
	       ",\"timeout_retransmits\":%" PRIu64 ",\"tail_copies\":%" PRIu64
	       ",\"rto_events\":%" PRIu64
	       ",\"spurious_rtos\":%" PRIu64 ",\"cc_undos\":%" PRIu64
	       ",\"stalls\":%" PRIu64
	       ",\"lost_by_link\":%" PRIu64 ",\"data_lost_by_link\":%" PRIu64
	       ",\"data_corrupted_by_link\":%" PRIu64
	       ",\"retransmit_efficiency\":%.4f",
	       t.data_tx, t.data_tx_new, t.retrans, t.spurious_losses,
	       t.retrans_fast,
	       t.retrans_rto, t.tail_copies, t.rto_events, t.spurious_rtos,
	       t.cc_undos,
	       s->n[0].stalls + s->n[1].stalls, L.lost, L.data_lost,
	       L.data_corrupted, lost ? (double)t.retrans / (double)lost : 0.0);
	printf(",\"queue_drops\":%" PRIu64 ",\"cut_drops\":%" PRIu64
	       ",\"link_duplicates\":%" PRIu64 ",\"duplicates\":%" PRIu64
	       ",\"reordered\":%" PRIu64 ",\"corrupted_by_link\":%" PRIu64
	       ",\"corrupt_dropped\":%" PRIu64,
	       L.qdrop, L.cut, L.dups, t.data_rx_dup, L.reordered, L.corrupted,
	       corrupt_dropped);
	printf(",\"drops\":{");
	first = 1;
	for (r = 0; r < MW_DROP_COUNT_; r++)
		if (t.drop[r]) {
			printf("%s\"%s\":%" PRIu64, first ? "" : ",",
			       mw_drop_name(r), t.drop[r]);
			first = 0;
		}
	printf("},\"acks_sent\":%" PRIu64 ",\"packets_sent\":%" PRIu64
	       ",\"wire_bytes\":%" PRIu64 ",\"peer_restarts\":%" PRIu64
	       ",\"session_resets\":%" PRIu64 ",\"sessions_closed\":%" PRIu64
	       ",\"hello_tx\":%" PRIu64 ",\"close_tx\":%" PRIu64
	       ",\"close_rx\":%" PRIu64,
	       t.acks_tx, t.pkts_tx, t.bytes_tx, t.peer_restarts,
	       t.session_resets, t.sessions_closed, t.hello_tx, t.close_tx,
	       t.close_rx);
	if (s->dl) {
		const struct sim_dl_stats *ds = sim_dl_stats(s->dl);
		uint64_t mism = 0;
		unsigned k, q;

		for (k = 0; k < s->o.tensors; k++)
			for (q = 0; q < ST_COUNT; q++)
				mism += s->steps[k].rx_partial[q] !=
					s->steps[k].tx_partial[q];
		printf(",\"deadline\":{\"partial_rx\":%" PRIu64
		       ",\"partial_tx\":%" PRIu64 ",\"elems_lost\":%" PRIu64
		       ",\"partial_checked\":%" PRIu64
		       ",\"lossmap_errors\":%" PRIu64
		       ",\"deadline_misses\":%" PRIu64
		       ",\"late_excused\":%" PRIu64
		       ",\"partial_mismatch\":%" PRIu64 "}",
		       t.partial_rx, t.partial_tx, t.elems_lost, ds->partial,
		       ds->lossmap_err, ds->deadline_miss, ds->late_excused,
		       mism);
	}
	printf(",\"virtual_time_s\":%.6f,\"dense_bytes_delivered\":%" PRIu64
	       ",\"goodput_gbps\":%.3f,\"wire_gbps\":%.3f,\"stalled\":%s"
	       ",\"ok\":%s}\n",
	       secs, s->dense_bytes,
	       secs > 0 ? (double)s->dense_bytes * 8 / secs / 1e9 : 0.0,
	       secs > 0 ? (double)t.bytes_tx * 8 / secs / 1e9 : 0.0,
	       stalled ? "true" : "false",
	       (!stalled && !s->verify_err && !s->order_err &&
		s->delivered == s->verified) ? "true" : "false");
}

int main(int argc, char **argv)
{
	struct sim s;
	uint64_t restart_at, limit;
	int k, stalled = 0;
	size_t maxn;

	memset(&s, 0, sizeof(s));
	sim_parse_args(argc, argv, &s.o);
	if (s.o.flows)
		return sim_flows_run(&s.o);
	s.elems = 1;
	for (k = 0; k < (int)s.o.ndim; k++)
		s.elems *= s.o.shape[k];
	s.batch = s.o.shape[0];
	maxn = (size_t)(s.elems > 2ull * s.batch ? s.elems : 2ull * s.batch);
	s.xbuf = malloc(maxn * 4);
	s.ref = malloc(maxn * 4);
	s.pay_cap = maxn * 8 + 64;
	s.pay = malloc(s.pay_cap);
	s.scr_cap = maxn * 4 + 64;
	s.scr = malloc(s.scr_cap);
	s.steps = calloc(s.o.tensors + 1, sizeof(*s.steps));
	if (s.o.deadline_ms && !(s.dl = sim_dl_new())) {
		perror("malloc");
		return 2;
	}
	if (!s.xbuf || !s.ref || !s.pay || !s.scr || !s.steps) {
		perror("malloc");
		return 2;
	}
	for (k = 0; k < 2; k++) {
		s.link[k].rng = s.o.seed * 31 + (uint64_t)k + 1;
		s.n[k].inc = 1000u + (uint32_t)k * 1000u;
		s.n[k].ep = sim_make_ep(&s.o, s.n[k].inc);
		s.n[k].peer = (uint16_t)mw_ep_add_peer(s.n[k].ep);
		s.n[k].sim = &s;
		s.n[k].k = k;
		node_start(&s, k);
		s.n[k].stall_rng = s.o.seed * 0x2545f4914f6cdd1dull +
				   (uint64_t)k + 7;
		if (s.o.stall_prob > 0)
			stall_draw(&s, k, 0);
		for (int st = 0; st < ST_COUNT; st++)
			s.last_tag[k][st] = -1;
	}
	restart_at = s.o.restart_at_ms >= 0 ? ns_of_ms(s.o.restart_at_ms) :
					      NO_TIME;
	limit = (uint64_t)(s.o.max_time_s * 1e9);

	if (s.o.both_open)
		submit(&s, 1, ST_INIT, 0);
	for (;;) {
		uint64_t t;

		step_all(&s);
		if (all_done(&s))
			break;
		t = next_event(&s);
		if (restart_at < t)
			t = restart_at;
		if (t == NO_TIME || t > limit) {
			stalled = 1;
			break;
		}
		if (t > s.now)
			s.now = t;
		if (s.now >= restart_at) {
			restart_at = NO_TIME;
			restart_server(&s);
		}
	}
	s.done_ns = s.now;
	if (!stalled)
		close_and_drain(&s, limit);
	print_json(&s, stalled);
	while (s.heap.n)
		free(sim_heap_pop(&s.heap).data);
	free(s.heap.v);
	for (k = 0; k < 2; k++)
		mw_ep_free(s.n[k].ep);
	free(s.xbuf);
	free(s.ref);
	free(s.pay);
	free(s.scr);
	free(s.steps);
	sim_dl_free(s.dl);
	return stalled || s.verify_err || s.order_err ? 1 : 0;
}
