/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file gensink.h
 * The built-in traffic source of maskwire: a generator that submits N
 * synthetic tensors to every peer, and a sink that checks every delivered
 * tensor bit for bit. Plain C over the transport core (no DPDK), plugged
 * into the poll loop as a struct mw_source.
 *
 * Tensor content is a pure function of (seed, tag, kind, dtype, element
 * count): the tag is the tensor's index 0..N-1. The sink regenerates it
 * from the delivered metadata, encodes it with the codec parameters the
 * delivered descriptor names (codec, bits, rounding, k), decodes that, and
 * compares with what the transport delivered: decode(encode(x)) exactly.
 */
#ifndef MW_GENSINK_H
#define MW_GENSINK_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_codec.h"
#include "mw_source.h"
#include "mw_transport.h"

struct mw_gensink_cfg {
	uint64_t gen_n;              /**< tensors per peer; 0: no generator */
	struct mw_tensor_meta meta;  /**< dtype, kind, shape (tag ignored) */
	struct mw_codec_params cp;   /**< codec for generated tensors */
	double rate;                 /**< tensors/s over all peers; 0: as
					  fast as the window allows */
	uint64_t seed;               /**< content seed (same on both sides) */
	bool sink;                   /**< verify delivered tensors */
	uint64_t sink_n;             /**< done after this many; 0: never */
	FILE *tensor_log;            /**< one JSON line per delivered tensor
					  (digest, verdict), or NULL */
	uint64_t content_period;     /**< tensor i carries the content of
					  i mod P (0: every tensor its own);
					  same on both sides */
	bool no_verify;              /**< sink: count and time only */
	/**
	 * Tags carry the tensor's index and its send time:
	 * tag = index << MW_GENSINK_STAMP_SHIFT | (clock_ns() mod 2^40), read
	 * just before mw_ep_submit(). The sink reports clock_ns() - stamp at
	 * delivery (one-way latency when both processes share the clock), and
	 * span_ns: from the first tensor's send to the last delivery.
	 * Same on both sides; needs clock_ns and fewer than 2^24 tensors.
	 */
	bool stamp;
	uint64_t (*clock_ns)(void);  /**< a clock shared by both sides
					  (CLOCK_MONOTONIC); NULL without
					  stamp */
	/**
	 * Answer every delivered tensor with one generated tensor of meta/cp,
	 * same tag (so a stamped request's response measures the round
	 * trip: a training step's activation up, gradient down).
	 */
	bool respond;
	bool lockstep;               /**< generator: the next tensor to a peer
					  only after the previous one's
					  response arrived */
	/**
	 * Stamp mode, sink: tensors (and responses) of index < warmup are
	 * left out of the latency figures (a run's first tensors find
	 * buffers and mappings not yet touched). The first delivered
	 * tensor's latency is reported apart (first_ns), and the tensors
	 * delivered after the warm-up with the span from the last warm-up
	 * tensor's delivery to the last delivery (after_warmup_tensors,
	 * after_warmup_span_ns: a delivery rate without the warm-up).
	 */
	uint64_t warmup;
};

/** Tag bits below the index in stamp mode (2^40 ns: 18 minutes). */
#define MW_GENSINK_STAMP_SHIFT 40u

struct mw_gensink;

/** Elements of a shape (product of dims; 0 for ndim 0). */
uint64_t mw_gensink_elems(const struct mw_tensor_meta *m);

/**
 * Fill the deterministic content of tensor `tag`.
 * @param out    n elements of the dtype (bytes = n * mw_dtype_size()).
 * @param dtype  enum mw_dtype; MW_DT_F32 gets float values shaped by
 *               kind (activations non-negative with zeros, gradients
 *               small and signed); other dtypes get pseudo-random bytes.
 */
void mw_gensink_fill(void *out, uint64_t n, unsigned dtype, unsigned kind,
		     uint64_t seed, uint64_t tag);

/**
 * Create. @return 0, MW_EINVAL (shape/codec/dtype disagree), MW_ENOMEM.
 */
int mw_gensink_new(const struct mw_gensink_cfg *cfg, struct mw_gensink **out);

/** The mw_source view (valid while g lives). */
void mw_gensink_source(struct mw_gensink *g, struct mw_source *src);

/** Mismatches seen so far (for tests). */
uint64_t mw_gensink_mismatched(const struct mw_gensink *g);
/** Tensors verified bit-exact so far. */
uint64_t mw_gensink_verified(const struct mw_gensink *g);

void mw_gensink_free(struct mw_gensink *g);

/** Members a group may have (the data plane's I/O lcores). */
#define MW_GENSINK_GROUP_MAX 16u

/**
 * One generator/sink per I/O lcore of one data plane, run each on its own
 * lcore: the members count tensors delivered to any of them together
 * (sink_n is for the whole group), and the group speaks for all of them
 * in the stats and the verdict.
 */
struct mw_gensink_group;

/**
 * Create n members from cfg for npeers configured peers: member k serves
 * peers k, k + n, k + 2n, ... (the data plane's I/O lcore k's) and
 * generates their share of cfg->rate.
 * @return 0, MW_EINVAL (n out of 1..MW_GENSINK_GROUP_MAX, or as
 *         mw_gensink_new()), MW_ENOMEM.
 */
int mw_gensink_group_new(const struct mw_gensink_cfg *cfg, unsigned npeers,
			 unsigned n, struct mw_gensink_group **out);

/** Member k (its mw_gensink_source() is lcore k's source), NULL if k is
 *  out of range. */
struct mw_gensink *mw_gensink_group_member(struct mw_gensink_group *gg,
					   unsigned k);

/** The whole group's view: stats_json (counters added up, latencies of
 *  all members) and verdict only (mw_dp_cfg.src with several I/O
 *  lcores); it polls nothing. */
void mw_gensink_group_source(struct mw_gensink_group *gg,
			     struct mw_source *src);

/** Free the group and its members. NULL is a no-op. */
void mw_gensink_group_free(struct mw_gensink_group *gg);

#endif /* MW_GENSINK_H */
