/* SPDX-License-Identifier: BSD-3-Clause */
/* Generator/sink traffic source (see gensink.h). */
#include "gensink.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mw_rand.h"
#include "mw_stats.h"

#define MAX_ERRS 32u
#define STAMP_MASK ((1ull << MW_GENSINK_STAMP_SHIFT) - 1)

/* A delivered tensor waiting for its response (respond mode). */
struct pending {
	uint16_t peer;
	uint64_t tag;
};

/* Receive buffers kept for reuse: a stream of same-sized tensors then
 * allocates (and faults in) its buffers once, as a shared-memory
 * application's ring would, instead of once per tensor. */
#define GS_POOL 16u

/*
 * A receive buffer: a 64-byte header (its capacity, how it was allocated)
 * before the bytes handed out. Buffers of GS_MAP_MIN bytes and more are
 * mapped with MAP_POPULATE: the kernel allocates their pages in that one
 * call, instead of one page fault per 4 KiB on first touch inside the
 * decode. Under some hypervisors each fault is a trap: about 15 us a page
 * was measured, 60 ms for a 16 MiB tensor, which made a run's first
 * tensors the slowest by far.
 */
#define GS_HDR 64u
#define GS_MAP_MIN (1u << 20)

struct gs_hdr {
	uint64_t cap;
	uint64_t mapped;
};

static void *gs_buf_new(uint64_t bytes)
{
	struct gs_hdr *h;

	if (bytes > UINT64_MAX / 2)
		return NULL;
	if (bytes >= GS_MAP_MIN) {
		void *m = mmap(NULL, GS_HDR + bytes, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1,
			       0);

		if (m == MAP_FAILED)
			return NULL;
		h = m;
		h->mapped = 1;
	} else {
		h = malloc(GS_HDR + bytes);
		if (!h)
			return NULL;
		h->mapped = 0;
	}
	h->cap = bytes;
	return (uint8_t *)h + GS_HDR;
}

static uint64_t gs_buf_cap(const void *p)
{
	return ((const struct gs_hdr *)(const void *)((const uint8_t *)p -
						      GS_HDR))->cap;
}

static void gs_buf_del(void *p)
{
	struct gs_hdr *h;

	if (!p)
		return;
	h = (struct gs_hdr *)(void *)((uint8_t *)p - GS_HDR);
	if (h->mapped)
		munmap(h, GS_HDR + h->cap);
	else
		free(h);
}

struct mw_gensink {
	struct mw_gensink_cfg cfg;
	void *pool[GS_POOL];       /* each knows its capacity (gs_buf_cap) */
	unsigned pool_n;
	uint64_t n;                /* elements per generated tensor */
	uint64_t bytes;            /* dense bytes per generated tensor */
	void *gbuf;                /* generated content */
	uint64_t gbuf_tag;         /* tag gbuf holds, UINT64_MAX none */
	uint64_t next_ns;          /* rate limiter */
	/* stamp mode: when a peer's window was last found full (0: not
	 * known full); no new stamp is read until one of its tensors
	 * finishes or 1 ms passed, so a full window costs no clock read. */
	uint64_t blocked_ns[MW_SOURCE_MAX_PEERS];
	uint64_t submitted[MW_SOURCE_MAX_PEERS];
	uint64_t gen_total;        /* generator tensors submitted */
	uint64_t submitted_total, done, failed, eagain;
	uint64_t failed_by[MAX_ERRS];
	unsigned npeers;
	/* sink */
	uint64_t delivered, verified, mismatched, out_of_order;
	/* tensors passed over at a session change (the sender failed them) */
	uint64_t skipped;
	uint64_t peer_restarts; /* a restarted peer's stream starts again */
	uint64_t delivered_bytes;
	uint64_t expect_tag[MW_SOURCE_MAX_PEERS];
	/* a session with the peer ended since its last delivery: tensors it
	 * had in flight may have failed at the sender, so the next delivery
	 * may skip ahead (never back) */
	bool gap_ok[MW_SOURCE_MAX_PEERS];
	uint64_t rx_from[MW_SOURCE_MAX_PEERS]; /* delivered, by core peer id */
	/* stamp mode: clock_ns() - stamp of every delivered tensor */
	uint64_t *lat;
	size_t lat_n, lat_cap;
	uint64_t aw_n;             /* tensors delivered after the warm-up */
	uint64_t aw_start_ns;      /* the last warm-up tensor's delivery */
	uint64_t first_lat_ns;     /* latency of the first delivered tensor */
	uint64_t first_sent_ns, last_rx_ns; /* clock_ns() of the first
					       send and the last delivery */
	/* respond mode: FIFO of tensors to answer */
	struct pending *resp;
	size_t resp_head, resp_len, resp_cap;
	uint64_t resp_submitted;
	void *ref, *enc, *scratch, *regen;
	size_t ref_cap, enc_cap, scratch_cap, regen_cap;
	/* one of a group (several I/O lcores): tensors delivered to all of
	 * them, for sink_n; NULL alone */
	uint64_t *group_delivered;
};

uint64_t mw_gensink_elems(const struct mw_tensor_meta *m)
{
	if (m->ndim == 0 || m->ndim > MW_WIRE_MAX_DIMS)
		return 0;
	uint64_t n = 1;
	for (unsigned i = 0; i < m->ndim; i++) {
		if (m->dims[i] && n > UINT64_MAX / m->dims[i])
			return 0;
		n *= m->dims[i];
	}
	return n;
}

void mw_gensink_fill(void *out, uint64_t n, unsigned dtype, unsigned kind,
		     uint64_t seed, uint64_t tag)
{
	uint64_t s = seed * 0xd1342543de82ef95ull ^ (tag + 1) * 0x9e3779b97f4a7c15ull;
	if (dtype != MW_DT_F32) {
		uint8_t *b = out;
		uint64_t bytes = n * mw_dtype_size(dtype);
		for (uint64_t i = 0; i < bytes; i++)
			b[i] = (uint8_t)(mw_rand64(&s) >> 56);
		return;
	}
	float *x = out;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t r = mw_rand64(&s);
		/* 24 random mantissa bits: exact in float32. */
		float u = (float)(r >> 40) * (1.0f / 16777216.0f);
		switch (kind) {
		case MW_KIND_ACTIVATION: /* ReLU output: 40% zeros */
			x[i] = (r & 0xff) < 102 ? 0.0f : u * 6.0f;
			break;
		case MW_KIND_GRADIENT:
			x[i] = (u - 0.5f) * 0.02f;
			break;
		default:
			x[i] = (u - 0.5f) * 8.0f;
			break;
		}
	}
}

static int grow(void **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	void *q = realloc(*p, need);
	if (!q)
		return MW_ENOMEM;
	*p = q;
	*cap = need;
	return 0;
}

int mw_gensink_new(const struct mw_gensink_cfg *cfg, struct mw_gensink **out)
{
	*out = NULL;
	struct mw_gensink *g = calloc(1, sizeof(*g));
	if (!g)
		return MW_ENOMEM;
	g->cfg = *cfg;
	g->gbuf_tag = UINT64_MAX;
	if (cfg->stamp && !cfg->clock_ns) {
		free(g);
		return MW_EINVAL;
	}
	if (cfg->gen_n || cfg->respond) {
		g->n = mw_gensink_elems(&cfg->meta);
		unsigned es = mw_dtype_size(cfg->meta.dtype);
		bool raw = cfg->cp.codec == MW_CODEC_RAW;
		if (g->n == 0 || es == 0 ||
		    (!raw && cfg->meta.dtype != MW_DT_F32) ||
		    mw_codec_params_check(&cfg->cp) ||
		    g->n > UINT64_MAX / es) {
			free(g);
			return MW_EINVAL;
		}
		g->bytes = g->n * es;
		g->gbuf = malloc(g->bytes);
		if (!g->gbuf) {
			free(g);
			return MW_ENOMEM;
		}
	}
	*out = g;
	return 0;
}

void mw_gensink_free(struct mw_gensink *g)
{
	if (!g)
		return;
	free(g->gbuf);
	for (unsigned i = 0; i < g->pool_n; i++)
		gs_buf_del(g->pool[i]);
	free(g->ref);
	free(g->enc);
	free(g->scratch);
	free(g->regen);
	free(g->lat);
	free(g->resp);
	free(g);
}

uint64_t mw_gensink_mismatched(const struct mw_gensink *g)
{
	return g->mismatched;
}

uint64_t mw_gensink_verified(const struct mw_gensink *g)
{
	return g->verified;
}

/* ---- generator ---------------------------------------------------------- */

/* The tensor's index (its position in the sender's sequence). */
static uint64_t tag_index(const struct mw_gensink *g, uint64_t tag)
{
	return g->cfg.stamp ? tag >> MW_GENSINK_STAMP_SHIFT : tag;
}

/* The tag whose content tensor `index` carries. */
static uint64_t content_tag(const struct mw_gensink *g, uint64_t index)
{
	return g->cfg.content_period ? index % g->cfg.content_period : index;
}

/* Fill (once per content) and submit tensor `index` of cfg.meta/cp. tag:
 * the tag to send (a response's), or NULL for a new one (stamped now,
 * after the fill, when stamping). */
static int submit_one(struct mw_gensink *g, struct mw_ep *ep, uint16_t peer,
		      uint64_t index, const uint64_t *tag, uint64_t now)
{
	const struct mw_gensink_cfg *c = &g->cfg;
	uint64_t *blocked = peer < MW_SOURCE_MAX_PEERS ? &g->blocked_ns[peer]
						       : NULL;
	if (c->stamp && blocked && *blocked && now - *blocked < 1000000u)
		return MW_EAGAIN;
	uint64_t ct = content_tag(g, index);
	if (g->gbuf_tag != ct) {
		mw_gensink_fill(g->gbuf, g->n, c->meta.dtype, c->meta.kind,
				c->seed, ct);
		g->gbuf_tag = ct;
	}
	struct mw_tensor_meta m = c->meta;
	if (tag)
		m.tag = *tag;
	else if (c->stamp)
		m.tag = index << MW_GENSINK_STAMP_SHIFT |
			(c->clock_ns() & STAMP_MASK);
	else
		m.tag = index;
	/* One content for every tensor: gbuf never changes, so the encode may
	 * be deferred (it reads gbuf until the tensor is done). */
	unsigned fl = c->content_period == 1 ? MW_SUBMIT_DEFER : 0;
	int rc = mw_ep_submit(ep, peer, &m, &c->cp, g->gbuf, g->bytes, fl, now,
			      NULL);
	if (rc == MW_EAGAIN) {
		g->eagain++;
		if (blocked)
			*blocked = now ? now : 1;
	} else if (rc >= 0) {
		g->submitted_total++;
	}
	return rc;
}

static int push_response(struct mw_gensink *g, uint16_t peer, uint64_t tag)
{
	if (g->resp_head + g->resp_len == g->resp_cap) {
		if (g->resp_head) {
			memmove(g->resp, g->resp + g->resp_head,
				g->resp_len * sizeof(*g->resp));
			g->resp_head = 0;
		} else {
			size_t cap = g->resp_cap ? 2 * g->resp_cap : 64;
			void *q = realloc(g->resp, cap * sizeof(*g->resp));
			if (!q)
				return MW_ENOMEM;
			g->resp = q;
			g->resp_cap = cap;
		}
	}
	g->resp[g->resp_head + g->resp_len++] =
		(struct pending){.peer = peer, .tag = tag};
	return 0;
}

static int gs_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		   unsigned npeers, uint64_t now)
{
	struct mw_gensink *g = ctx;
	const struct mw_gensink_cfg *c = &g->cfg;
	int count = 0;
	g->npeers = npeers;
	while (g->resp_len) {
		struct pending *r = &g->resp[g->resp_head];
		int rc = submit_one(g, ep, r->peer, tag_index(g, r->tag),
				    &r->tag, now);
		if (rc == MW_EAGAIN)
			break;
		if (rc < 0)
			return rc;
		g->resp_head++;
		g->resp_len--;
		g->resp_submitted++;
		count++;
	}
	if (!g->resp_len)
		g->resp_head = 0;
	if (!c->gen_n)
		return count;
	for (unsigned i = 0; i < npeers && i < MW_SOURCE_MAX_PEERS; i++) {
		while (g->submitted[i] < c->gen_n) {
			if (c->rate > 0 && now < g->next_ns)
				return count;
			if (c->lockstep && peers[i] < MW_SOURCE_MAX_PEERS &&
			    g->submitted[i] > g->rx_from[peers[i]])
				break;
			int rc = submit_one(g, ep, peers[i], g->submitted[i],
					    NULL, now);
			if (rc == MW_EAGAIN)
				break;
			if (rc < 0)
				return rc;
			g->submitted[i]++;
			g->gen_total++;
			count++;
			if (c->rate > 0) {
				uint64_t gap = (uint64_t)(1e9 / c->rate);
				/* No bursts after a stall: the next one a
				 * full gap after this one at the earliest. */
				g->next_ns = (g->next_ns > now ? g->next_ns
							       : now) +
					     gap;
			}
		}
	}
	return count;
}

/* ---- sink --------------------------------------------------------------- */

/* Reference for a delivered tensor: decode(encode(regenerated content)).
 * Returns 0 and sets *ok, or a negative mw_err if it cannot be built. */
static int sink_check(struct mw_gensink *g, const struct mw_event *ev,
		      bool *ok)
{
	const struct mw_codec_desc *d = &ev->desc;
	uint64_t n = mw_gensink_elems(&ev->meta);
	unsigned es = mw_codec_elem_size(d->codec);
	unsigned ds = mw_dtype_size(ev->meta.dtype);
	*ok = false;
	if (d->codec == MW_CODEC_RAW) {
		/* Raw codecs carry bytes: n counts bytes. */
		if (ds == 0 || n * ds != d->n || ev->bytes != d->n)
			return 0;
		if (grow(&g->regen, &g->regen_cap, d->n ? d->n : 1))
			return MW_ENOMEM;
		mw_gensink_fill(g->regen, n, ev->meta.dtype, ev->meta.kind,
				g->cfg.seed,
				content_tag(g, tag_index(g, ev->meta.tag)));
		*ok = memcmp(g->regen, ev->buf, d->n) == 0;
		return 0;
	}
	if (n != d->n || ev->meta.dtype != MW_DT_F32 || ev->bytes != n * es)
		return 0;
	struct mw_codec_params p = {
		.codec = (enum mw_codec)d->codec,
		.bits = d->bits,
		.rounding = (enum mw_rounding)d->rounding,
		.k = d->k,
		.ratio = 0,
	};
	int64_t esz = mw_encode_size(&p, n);
	if (esz < 0)
		return (int)esz;
	size_t ssz = mw_encode_scratch_size(&p, n);
	size_t fbytes = n ? (size_t)n * 4u : 1u;
	if (grow(&g->regen, &g->regen_cap, fbytes) ||
	    grow(&g->enc, &g->enc_cap, esz ? (size_t)esz : 1) ||
	    grow(&g->scratch, &g->scratch_cap, ssz ? ssz : 1) ||
	    grow(&g->ref, &g->ref_cap, fbytes))
		return MW_ENOMEM;
	mw_gensink_fill(g->regen, n, MW_DT_F32, ev->meta.kind, g->cfg.seed,
			content_tag(g, tag_index(g, ev->meta.tag)));
	struct mw_codec_desc d2;
	int64_t len = mw_encode(&p, g->regen, n, &d2, g->enc, g->enc_cap,
				g->scratch, g->scratch_cap);
	if (len < 0)
		return (int)len;
	if (d2.codec != d->codec || d2.bits != d->bits || d2.k != d->k ||
	    d2.n != d->n || memcmp(&d2.p0, &d->p0, sizeof d2.p0) != 0 ||
	    memcmp(&d2.p1, &d->p1, sizeof d2.p1) != 0)
		return 0; /* the sender's descriptor differs: a mismatch */
	memset(g->ref, 0, n * 4);
	int64_t rc = mw_seg_decode(&d2, 0, n, g->enc, (size_t)len, g->ref);
	if (rc < 0)
		return (int)rc;
	*ok = memcmp(g->ref, ev->buf, n * 4) == 0;
	return 0;
}

static void log_tensor(struct mw_gensink *g, const struct mw_event *ev,
		       bool ok, uint64_t lat)
{
	FILE *f = g->cfg.tensor_log;
	fprintf(f,
		"{\"peer\": %u, \"tid\": %" PRIu64 ", \"tag\": %" PRIu64
		", \"kind\": \"%s\", \"dtype\": \"%s\", \"shape\": [",
		ev->peer, ev->handle, ev->meta.tag, mw_kind_name(ev->meta.kind),
		mw_dtype_name(ev->meta.dtype));
	for (unsigned i = 0; i < ev->meta.ndim && i < MW_WIRE_MAX_DIMS; i++)
		fprintf(f, "%s%u", i ? ", " : "", ev->meta.dims[i]);
	fprintf(f,
		"], \"codec\": \"%s\", \"bits\": %u, \"k\": %" PRIu64
		", \"bytes\": %" PRIu64 ", \"crc32c\": \"%08x\"",
		mw_codec_name(ev->desc.codec), ev->desc.bits, ev->desc.k,
		ev->bytes, mw_crc32c(0, ev->buf, ev->bytes));
	if (g->cfg.sink && !g->cfg.no_verify)
		fprintf(f, ", \"verified\": %s", ok ? "true" : "false");
	if (g->cfg.stamp)
		fprintf(f, ", \"index\": %" PRIu64 ", \"latency_ns\": %" PRIu64,
			tag_index(g, ev->meta.tag), lat);
	fprintf(f, "}\n");
}

static void lat_record(struct mw_gensink *g, uint64_t lat)
{
	if (g->lat_n == g->lat_cap) {
		size_t cap = g->lat_cap ? 2 * g->lat_cap : 1024;
		void *q = realloc(g->lat, cap * sizeof(*g->lat));

		if (q) {
			g->lat = q;
			g->lat_cap = cap;
		}
	}
	if (g->lat_n < g->lat_cap)
		g->lat[g->lat_n++] = lat;
}

static void gs_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		     uint64_t now)
{
	struct mw_gensink *g = ctx;
	(void)now;
	if (ev->peer < MW_SOURCE_MAX_PEERS)
		g->blocked_ns[ev->peer] = 0;
	switch (ev->type) {
	case MW_EV_TX_DONE:
		g->done++;
		return;
	case MW_EV_TX_FAILED: {
		g->failed++;
		unsigned r = (unsigned)(ev->reason < 0 ? -ev->reason : 0);
		g->failed_by[r < MAX_ERRS ? r : 0]++;
		if (g->failed <= 5)
			fprintf(stderr,
				"maskwire: tensor tag %" PRIu64
				" to peer %u failed: %s\n",
				ev->meta.tag, ev->peer, mw_strerror(ev->reason));
		return;
	}
	case MW_EV_PEER_RESTARTED:
		/* A new incarnation of the peer's generator starts at tag 0;
		 * the core guarantees nothing of the old one is delivered. */
		g->peer_restarts++;
		if (ev->peer < MW_SOURCE_MAX_PEERS)
			g->expect_tag[ev->peer] = 0;
		return;
	case MW_EV_SESSION_CLOSED:
		if (ev->peer < MW_SOURCE_MAX_PEERS)
			g->gap_ok[ev->peer] = true;
		return;
	case MW_EV_RX_TENSOR:
		break;
	default:
		return;
	}
	uint64_t lat = 0;
	if (g->cfg.stamp) {
		/* First, before the (slow) check. */
		uint64_t t = g->cfg.clock_ns();
		lat = (t - ev->meta.tag) & STAMP_MASK;
		if (!g->delivered) {
			g->first_sent_ns = t - lat;
			g->first_lat_ns = lat;
		}
		g->last_rx_ns = t;
		if (tag_index(g, ev->meta.tag) < g->cfg.warmup) {
			g->aw_start_ns = t;
		} else {
			g->aw_n++;
			lat_record(g, lat);
		}
	}
	g->delivered++;
	if (g->group_delivered)
		__atomic_fetch_add(g->group_delivered, 1, __ATOMIC_RELAXED);
	g->delivered_bytes += ev->bytes;
	unsigned p = ev->peer < MW_SOURCE_MAX_PEERS ? ev->peer : 0;
	g->rx_from[p]++;
	if (g->cfg.respond && push_response(g, ev->peer, ev->meta.tag) < 0)
		fprintf(stderr, "maskwire: no memory to answer tensor tag "
				"%" PRIu64 "\n",
			ev->meta.tag);
	bool ok = false;
	if (g->cfg.sink) {
		uint64_t idx = tag_index(g, ev->meta.tag);
		if (idx > g->expect_tag[p] && g->gap_ok[p])
			g->skipped += idx - g->expect_tag[p];
		else if (idx != g->expect_tag[p] && ++g->out_of_order <= 5)
			fprintf(stderr,
				"maskwire: sink: tensor %" PRIu64 " from peer "
				"%u out of order (expected %" PRIu64 ")\n",
				idx, p, g->expect_tag[p]);
		g->gap_ok[p] = false;
		g->expect_tag[p] = idx + 1;
	}
	if (g->cfg.sink && !g->cfg.no_verify) {
		int rc = sink_check(g, ev, &ok);
		if (rc < 0)
			fprintf(stderr, "maskwire: sink cannot rebuild tensor "
					"tag %" PRIu64 ": %s\n",
				ev->meta.tag, mw_strerror(rc));
		if (ok) {
			g->verified++;
		} else {
			g->mismatched++;
			if (g->mismatched <= 5)
				fprintf(stderr,
					"maskwire: sink: tensor tag %" PRIu64
					" from peer %u does not match "
					"decode(encode(generated))\n",
					ev->meta.tag, ev->peer);
		}
	}
	if (g->cfg.tensor_log)
		log_tensor(g, ev, ok, lat);
	struct mw_event e = *ev;
	mw_ep_release(ep, &e);
}

/* Every generated tensor and every response submitted and finished. */
static bool tx_finished(const struct mw_gensink *g)
{
	if (g->cfg.gen_n &&
	    !(g->npeers && g->gen_total == g->cfg.gen_n * g->npeers))
		return false;
	return g->resp_len == 0 && g->done + g->failed == g->submitted_total;
}

static bool gs_done(void *ctx)
{
	const struct mw_gensink *g = ctx;
	bool gen = g->cfg.gen_n != 0, sink = g->cfg.sink && g->cfg.sink_n;
	if (!gen && !sink)
		return false; /* a responder: runs until stopped */
	if (!tx_finished(g))
		return false;
	uint64_t got = g->group_delivered
			       ? __atomic_load_n(g->group_delivered,
						 __ATOMIC_RELAXED)
			       : g->delivered;
	if (sink && got < g->cfg.sink_n)
		return false;
	return true;
}

static bool gs_busy(void *ctx)
{
	const struct mw_gensink *g = ctx;
	return g->submitted_total > g->done + g->failed || g->resp_len;
}

static void gs_status(void *ctx, char *buf, unsigned len)
{
	const struct mw_gensink *g = ctx;
	int n = 0;
	if (g->cfg.gen_n)
		n = snprintf(buf, len,
			     "gen %" PRIu64 "/%" PRIu64 " done %" PRIu64
			     " failed %" PRIu64,
			     g->gen_total, g->cfg.gen_n * g->npeers,
			     g->done, g->failed);
	if (g->cfg.sink && n >= 0 && (unsigned)n < len)
		snprintf(buf + n, len - (unsigned)n,
			 "%ssink %" PRIu64 " ok %" PRIu64 " bad %" PRIu64,
			 n ? " " : "", g->delivered, g->verified,
			 g->mismatched + g->out_of_order);
}

static void latency_json(struct mw_gensink *g, FILE *f)
{
	struct mw_stats_summary s;
	char members[MW_STATS_JSON_MAX];

	if (!g->cfg.stamp || !g->lat_n) {
		fprintf(f, "null");
		return;
	}
	/* Sorted in place: stats are written once, at exit. */
	mw_stats_summarize(g->lat, g->lat_n, &s);
	mw_stats_json(members, sizeof(members), &s);
	fprintf(f,
		"{%s, \"span_ns\": %" PRIu64 ", \"warmup\": %" PRIu64
		", \"warmup_tensors\": %" PRIu64 ", \"first_ns\": %" PRIu64
		", \"after_warmup_tensors\": %" PRIu64
		", \"after_warmup_span_ns\": %" PRIu64 "}",
		members, g->last_rx_ns - g->first_sent_ns, g->cfg.warmup,
		g->delivered - g->aw_n, g->first_lat_ns, g->aw_n,
		g->aw_n && g->aw_start_ns ? g->last_rx_ns - g->aw_start_ns : 0);
}

static void gs_stats_json(void *ctx, FILE *f)
{
	struct mw_gensink *g = ctx;
	const struct mw_gensink_cfg *c = &g->cfg;
	fprintf(f, "\"gen\": {\"enabled\": %s, \"tensors_per_peer\": %" PRIu64
		   ", \"peers\": %u, \"shape\": [",
		c->gen_n ? "true" : "false", c->gen_n, g->npeers);
	for (unsigned i = 0; i < c->meta.ndim && i < MW_WIRE_MAX_DIMS; i++)
		fprintf(f, "%s%u", i ? ", " : "", c->meta.dims[i]);
	fprintf(f,
		"], \"elements\": %" PRIu64 ", \"dense_bytes\": %" PRIu64
		", \"kind\": \"%s\", \"dtype\": \"%s\", \"codec\": \"%s\", "
		"\"bits\": %u, \"ratio\": %g, \"k\": %" PRIu64
		", \"rate\": %g, \"seed\": %" PRIu64 ", \"submitted\": %" PRIu64
		", \"done\": %" PRIu64 ", \"failed\": %" PRIu64
		", \"eagain\": %" PRIu64 ", \"content_period\": %" PRIu64
		", \"stamp\": %s, \"lockstep\": %s, \"respond\": %s"
		", \"responses\": %" PRIu64 ", \"failed_by_reason\": {",
		g->n, g->bytes, mw_kind_name(c->meta.kind),
		mw_dtype_name(c->meta.dtype), mw_codec_name(c->cp.codec),
		c->cp.bits, c->cp.ratio, c->cp.k, c->rate, c->seed,
		g->submitted_total, g->done, g->failed, g->eagain,
		c->content_period, c->stamp ? "true" : "false",
		c->lockstep ? "true" : "false", c->respond ? "true" : "false",
		g->resp_submitted);
	bool first = true;
	for (unsigned r = 0; r < MAX_ERRS; r++)
		if (g->failed_by[r]) {
			fprintf(f, "%s\"%s\": %" PRIu64, first ? "" : ", ",
				mw_strerror(-(int)r), g->failed_by[r]);
			first = false;
		}
	fprintf(f,
		"}},\n \"sink\": {\"enabled\": %s, \"expect\": %" PRIu64
		", \"delivered\": %" PRIu64 ", \"verified\": %" PRIu64
		", \"mismatched\": %" PRIu64 ", \"out_of_order\": %" PRIu64
		", \"skipped\": %" PRIu64 ", \"peer_restarts\": %" PRIu64
		", \"bytes\": %" PRIu64 ", \"verify\": %s, \"latency_ns\": ",
		c->sink ? "true" : "false", c->sink_n, g->delivered,
		g->verified, g->mismatched, g->out_of_order, g->skipped,
		g->peer_restarts,
		g->delivered_bytes, c->no_verify ? "false" : "true");
	latency_json(g, f);
	fputc('}', f);
}

static int gs_verdict(void *ctx, bool interrupted)
{
	const struct mw_gensink *g = ctx;
	if (g->mismatched || g->out_of_order)
		return 1;
	if (interrupted)
		return 0;
	if ((g->cfg.gen_n || g->cfg.respond) &&
	    (g->failed || !tx_finished(g)))
		return 1;
	if (g->cfg.sink && g->cfg.sink_n && g->delivered < g->cfg.sink_n)
		return 1;
	return 0;
}

/* A kept buffer serves a tensor of at least half its size. */
static void *gs_rx_alloc(void *ctx, uint64_t bytes, const struct mw_rx_info *ri)
{
	struct mw_gensink *g = ctx;

	(void)ri;
	for (unsigned i = g->pool_n; i-- > 0;) {
		void *b = g->pool[i];
		uint64_t cap = gs_buf_cap(b);

		if (cap >= bytes && cap / 2 <= bytes) {
			g->pool[i] = g->pool[--g->pool_n];
			return b;
		}
	}
	return gs_buf_new(bytes);
}

static void gs_rx_free(void *ctx, void *buf, uint64_t bytes)
{
	struct mw_gensink *g = ctx;

	(void)bytes;
	if (!buf)
		return;
	if (g->pool_n == GS_POOL) {
		gs_buf_del(g->pool[0]); /* the oldest goes */
		memmove(g->pool, g->pool + 1, sizeof(g->pool[0]) * (GS_POOL - 1));
		g->pool_n--;
	}
	g->pool[g->pool_n++] = buf;
}

void mw_gensink_source(struct mw_gensink *g, struct mw_source *src)
{
	memset(src, 0, sizeof(*src));
	src->name = "gen/sink";
	src->ctx = g;
	src->poll = gs_poll;
	src->event = gs_event;
	src->done = gs_done;
	src->busy = gs_busy;
	src->stats_json = gs_stats_json;
	src->status = gs_status;
	src->verdict = gs_verdict;
	src->rx_alloc.alloc = gs_rx_alloc;
	src->rx_alloc.free = gs_rx_free;
	src->rx_alloc.ctx = g;
}

/* ---- a group: one generator/sink per I/O lcore ------------------------ */

struct mw_gensink_group {
	unsigned n;
	struct mw_gensink *m[MW_GENSINK_GROUP_MAX];
	uint64_t delivered; /* shared by the members (atomic) */
	struct mw_gensink *sum; /* built for stats_json */
};

int mw_gensink_group_new(const struct mw_gensink_cfg *cfg, unsigned npeers,
			 unsigned n, struct mw_gensink_group **out)
{
	*out = NULL;
	if (n < 1 || n > MW_GENSINK_GROUP_MAX)
		return MW_EINVAL;
	/* peer i is member i % n's */
	unsigned peers[MW_GENSINK_GROUP_MAX] = {0}, total = npeers;
	for (unsigned i = 0; i < npeers; i++)
		peers[i % n]++;
	struct mw_gensink_group *gg = calloc(1, sizeof(*gg));
	if (!gg)
		return MW_ENOMEM;
	gg->n = n;
	for (unsigned k = 0; k < n; k++) {
		struct mw_gensink_cfg c = *cfg;
		/* the rate is over all peers: each member its share (a
		 * member with no configured peer generates nothing) */
		c.rate = total ? cfg->rate * peers[k] / total : 0;
		int rc = mw_gensink_new(&c, &gg->m[k]);
		if (rc) {
			mw_gensink_group_free(gg);
			return rc;
		}
		gg->m[k]->group_delivered = &gg->delivered;
	}
	*out = gg;
	return 0;
}

struct mw_gensink *mw_gensink_group_member(struct mw_gensink_group *gg,
					   unsigned k)
{
	return k < gg->n ? gg->m[k] : NULL;
}

/* The members' counters added up, latencies put together (at exit). */
static struct mw_gensink *group_sum(struct mw_gensink_group *gg)
{
	if (gg->sum)
		return gg->sum;
	struct mw_gensink *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->cfg = gg->m[0]->cfg;
	s->n = gg->m[0]->n;
	s->bytes = gg->m[0]->bytes;
	size_t lat = 0;
	for (unsigned k = 0; k < gg->n; k++)
		lat += gg->m[k]->lat_n;
	s->lat = lat ? malloc(lat * sizeof(*s->lat)) : NULL;
	for (unsigned k = 0; k < gg->n; k++) {
		const struct mw_gensink *g = gg->m[k];
		s->cfg.rate += k ? g->cfg.rate : 0;
		s->gen_total += g->gen_total;
		s->submitted_total += g->submitted_total;
		s->done += g->done;
		s->failed += g->failed;
		s->eagain += g->eagain;
		for (unsigned r = 0; r < MAX_ERRS; r++)
			s->failed_by[r] += g->failed_by[r];
		s->npeers += g->npeers;
		s->delivered += g->delivered;
		s->verified += g->verified;
		s->mismatched += g->mismatched;
		s->out_of_order += g->out_of_order;
		s->skipped += g->skipped;
		s->peer_restarts += g->peer_restarts;
		s->delivered_bytes += g->delivered_bytes;
		s->resp_submitted += g->resp_submitted;
		s->resp_len += g->resp_len;
		if (s->lat && g->lat_n) {
			memcpy(s->lat + s->lat_n, g->lat,
			       g->lat_n * sizeof(*g->lat));
			s->lat_n += g->lat_n;
		}
		if (g->aw_start_ns > s->aw_start_ns)
			s->aw_start_ns = g->aw_start_ns;
		s->aw_n += g->aw_n;
		if (g->first_sent_ns &&
		    (!s->first_sent_ns || g->first_sent_ns < s->first_sent_ns)) {
			s->first_sent_ns = g->first_sent_ns;
			s->first_lat_ns = g->first_lat_ns;
		}
		if (g->last_rx_ns > s->last_rx_ns)
			s->last_rx_ns = g->last_rx_ns;
	}
	gg->sum = s;
	return s;
}

static void group_stats_json(void *ctx, FILE *f)
{
	struct mw_gensink *s = group_sum(ctx);
	if (s)
		gs_stats_json(s, f);
	else
		fprintf(f, "\"gen\": null, \"sink\": null");
}

static int group_verdict(void *ctx, bool interrupted)
{
	struct mw_gensink_group *gg = ctx;
	int bad = 0;
	for (unsigned k = 0; k < gg->n; k++) {
		const struct mw_gensink *g = gg->m[k];
		if (g->mismatched || g->out_of_order)
			bad = 1;
		if (!interrupted && (g->cfg.gen_n || g->cfg.respond) &&
		    (g->failed || !tx_finished(g)))
			bad = 1;
	}
	const struct mw_gensink_cfg *c = &gg->m[0]->cfg;
	if (!interrupted && c->sink && c->sink_n &&
	    __atomic_load_n(&gg->delivered, __ATOMIC_RELAXED) < c->sink_n)
		bad = 1;
	return bad;
}

void mw_gensink_group_source(struct mw_gensink_group *gg,
			     struct mw_source *src)
{
	memset(src, 0, sizeof(*src));
	src->name = "gen/sink";
	src->ctx = gg;
	src->stats_json = group_stats_json;
	src->verdict = group_verdict;
}

void mw_gensink_group_free(struct mw_gensink_group *gg)
{
	if (!gg)
		return;
	for (unsigned k = 0; k < gg->n; k++)
		mw_gensink_free(gg->m[k]);
	if (gg->sum) {
		free(gg->sum->lat);
		free(gg->sum);
	}
	free(gg);
}
