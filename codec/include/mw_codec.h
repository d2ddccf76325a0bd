/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_codec.h
 * maskwire tensor codecs: Mask-Encoded Sparsification (MS), its signed
 * variant for gradients, and the baselines it is measured against.
 *
 * Sans-I/O: no clock, no allocation on the encode/decode paths, no global
 * mutable state (the SIMD kernel choice is made once per call from CPUID and
 * is read-only). Callers own every buffer and pass its capacity.
 * Errors follow mw_err.h: negative enum mw_err on failure.
 *
 * ## Encoded form ("payload")
 * All multi-byte values in a payload are little-endian.
 * - MW_CODEC_MS, MW_CODEC_MS_SIGNED: the mask, ceil(n*b/8) bytes, then the k
 *   selected values as float32, in increasing element order.
 * - MW_CODEC_TOPK: k pairs (uint32 element index, float32 value), in
 *   increasing index order; 8 bytes a pair.
 * - MW_CODEC_QUANT: the mask of b-bit codes only, ceil(n*b/8) bytes.
 * - MW_CODEC_DENSE: n float32 values.
 * - MW_CODEC_RAW: n opaque bytes (element size 1; labels, int tensors).
 *
 * ## Mask bit order
 * Element i's b-bit code occupies bits [i*b, i*b + b) of the mask read as
 * one little-endian bit stream: bit j of the stream is bit (j % 8) of byte
 * j / 8, and a code's least significant bit comes first. A code may straddle
 * two bytes when b does not divide 8. Unused high bits of the last byte are 0.
 *
 * ## Segments
 * A payload can be cut into segments, each covering a contiguous element
 * range [elem_off, elem_off + elem_cnt) and decodable on its own given the
 * struct mw_codec_desc. elem_off is a multiple of 8 (so the segment's mask
 * starts on a byte boundary for every b). A segment's payload has the same
 * layout as a whole payload restricted to its range: for MS the range's mask
 * bytes, then the values of the range's sentinels; for TOPK the pairs whose
 * index lies in the range; for QUANT/DENSE/RAW the range's slice.
 * The whole payload is the single segment [0, n).
 *
 * ## Input that changes during encode
 * mw_encode() may read its input from memory another process rewrites
 * meanwhile (a client's shared-memory buffer). Whatever the input holds or
 * does during the call, the encoder writes nothing past
 * mw_encode_size() bytes of out, and a success is always a valid payload
 * (it decodes and plans) of the values it read, which may mix old and new
 * ones. When a pass finds the input inconsistent with an earlier pass it
 * returns MW_ECHANGED; see mw_encode().
 */
#ifndef MW_CODEC_H
#define MW_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "mw_dtype.h"
#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Codec identifiers; these numbers appear on the wire and in .mwt files. */
enum mw_codec {
	MW_CODEC_DENSE = 0,     /**< float32 as is */
	MW_CODEC_MS = 1,        /**< Mask-Encoded Sparsification (non-negative) */
	MW_CODEC_MS_SIGNED = 2, /**< MS for signed data (gradients) */
	MW_CODEC_TOPK = 3,      /**< top-k as (uint32 index, float32) pairs */
	MW_CODEC_QUANT = 4,     /**< b-bit uniform quantisation on [min, max] */
	MW_CODEC_RAW = 5,       /**< opaque bytes, element size 1 */
	MW_CODEC_COUNT_
};

/**
 * Rounding of non-selected elements (MW_CODEC_MS, MW_CODEC_MS_SIGNED).
 * The decoder does not depend on it: the descriptor records it.
 */
enum mw_rounding {
	MW_ROUND_NEAREST = 0, /**< round half to even (the released code) */
	MW_ROUND_FLOOR = 1,   /**< floor (Figure 1's printed codes); MS only,
				   MS_SIGNED takes it as NEAREST */
	/**
	 * Up with probability equal to the fraction (unbiased within the
	 * levels), from a hash of the element index seeded by t: the same
	 * input encodes to the same bytes (docs/CODEC.md).
	 */
	MW_ROUND_STOCHASTIC = 2,
	MW_ROUND_COUNT_
};

#define MW_BITS_MIN 1
#define MW_BITS_MAX 8
/** Element offsets of segments are multiples of this. */
#define MW_SEG_ALIGN 8u

/** What the caller asks for. */
struct mw_codec_params {
	enum mw_codec codec;
	unsigned bits;             /**< mask width b, 1..8 (MS, MS_SIGNED, QUANT) */
	enum mw_rounding rounding; /**< MS, MS_SIGNED */
	uint64_t k;     /**< values kept (MS, MS_SIGNED, TOPK); 0: use ratio */
	double ratio;   /**< sparsification r in [0,1) when k == 0 */
};

/**
 * Everything a decoder needs besides the payload. Filled by mw_encode();
 * carried in .mwt headers and in every data packet.
 */
struct mw_codec_desc {
	uint8_t codec;    /**< enum mw_codec */
	uint8_t bits;     /**< b (0 for DENSE, TOPK, RAW) */
	uint8_t rounding; /**< enum mw_rounding (informational for decode) */
	float p0;         /**< MS*: threshold t; QUANT: min; else 0 */
	float p1;         /**< QUANT: step (max-min)/(2^b-1); else 0 */
	uint64_t n;       /**< elements (bytes for RAW) */
	uint64_t k;       /**< values carried (MS*, TOPK); 0 otherwise */
};

/** One segment of a payload. */
struct mw_seg {
	uint64_t elem_off; /**< first element covered (multiple of 8 unless 0) */
	uint64_t elem_cnt; /**< elements covered */
	uint64_t val_off;  /**< MS*: first value index; TOPK: first pair index */
	uint64_t val_cnt;  /**< MS*: values carried; TOPK: pairs carried */
};

/* ---- sizes ---------------------------------------------------------- */

/** Mask bytes for n elements of b bits (compile-time twin of mw_mask_bytes). */
#define MW_MASK_BYTES(n, b) (((uint64_t)(n) * (uint64_t)(b) + 7u) / 8u)

/** Upper bound of an MS/MS_SIGNED payload with k values. */
#define MW_MS_BOUND(n, b, k) (MW_MASK_BYTES(n, b) + 4u * (uint64_t)(k))

/**
 * Bytes of mask for n elements at b bits.
 * @return ceil(n*b/8).
 */
uint64_t mw_mask_bytes(uint64_t n, unsigned b);

/**
 * Number of values MS / TOPK keep for n elements.
 * @param p  parameters; p->k if non-zero (clamped to n), else
 *           floor(n * (1 - p->ratio)), at least 1 (0 when n == 0).
 * @return k.
 */
uint64_t mw_codec_k(const struct mw_codec_params *p, uint64_t n);

/**
 * Exact payload size mw_encode() will produce for n elements (for every
 * codec the size depends only on n, b and k).
 * @return size in bytes, or a negative mw_err for invalid parameters
 *         (MW_EINVAL bad codec/bits/ratio; MW_ERANGE n too large for TOPK).
 */
int64_t mw_encode_size(const struct mw_codec_params *p, uint64_t n);

/**
 * Scratch bytes mw_encode() needs for n elements: 4*n + 4 for MS,
 * MS_SIGNED and TOPK (one key per element for the selection), 0 for the
 * others, for n == 0 and for invalid parameters.
 */
size_t mw_encode_scratch_size(const struct mw_codec_params *p, uint64_t n);

/**
 * Size of a segment's payload: MS* mask bytes of the range plus 4 per
 * value; TOPK 8 per pair; QUANT mask bytes; DENSE 4 and RAW 1 per element.
 * @param d  a checked descriptor.  @param s  the segment.
 * @return bytes.
 */
uint64_t mw_seg_payload_size(const struct mw_codec_desc *d,
			     const struct mw_seg *s);

/* ---- encode / decode ------------------------------------------------- */

/**
 * Check parameters without encoding.
 * @return 0, or MW_EINVAL (unknown codec, bits outside 1..8 where used,
 *         ratio outside [0,1), unknown rounding).
 */
int mw_codec_params_check(const struct mw_codec_params *p);

/**
 * Encode n elements.
 * For MS: k largest values (ties at the threshold: lower index first);
 * negative inputs are never quantised below code 0 (they decode to 0 unless
 * selected, in which case they travel exactly). For MS_SIGNED: k largest
 * magnitudes, see docs/CODEC.md for the symmetric mapping.
 * For RAW, x is read as n bytes.
 *
 * @param p        codec parameters.
 * @param x        input, n elements (float32, or bytes for RAW).
 * @param n        element count (0 allowed).
 * @param desc     out: decoder descriptor.
 * @param out      payload buffer.
 * @param cap      its capacity; mw_encode_size() bytes are needed.
 * @param scratch  mw_encode_scratch_size() bytes, any alignment; may be NULL
 *                 when that size is 0.
 * @param scratch_len its size.
 * @return payload bytes written (mw_encode_size()), or MW_EINVAL
 *         (parameters, NULL x/desc/out/scratch), MW_ERANGE (n too large, or
 *         QUANT max - min, or its top level min + (2^b-1)*step, overflows
 *         float32), MW_ENOSPC (cap or scratch too small), MW_ENONFINITE (x
 *         holds NaN or Inf, for every float codec; nothing useful is
 *         written, reject the tensor), MW_ECHANGED (MS, MS_SIGNED, TOPK,
 *         QUANT: the input changed while being encoded, e.g. the emit pass
 *         selected another number of values than the selection pass, or
 *         read a NaN/Inf the first pass did not see: output is not valid,
 *         nothing beyond mw_encode_size() bytes, so nothing beyond cap,
 *         was written; fail the tensor). DENSE and RAW read x once: a NaN
 *         written during the call gives MW_ENONFINITE or a payload that
 *         carries only finite values. The descriptor's
 *         MS threshold is max(t, 0): when t <= 0 (all zeros, negatives) or
 *         L/t overflows (subnormal t) every non-selected code is 0 (signed:
 *         the zero code m). Deterministic: the same input gives the same
 *         bytes with every kernel set (scalar, AVX2).
 */
int64_t mw_encode(const struct mw_codec_params *p, const void *x, uint64_t n,
		  struct mw_codec_desc *desc, uint8_t *out, size_t cap,
		  void *scratch, size_t scratch_len);

/**
 * A resumable encode: mw_encode()'s work in bounded steps, for a poll loop
 * that must keep serving packets while a large tensor is encoded. The same
 * input gives the same bytes and descriptor as mw_encode(). Caller-owned
 * and opaque; x, out and scratch must stay valid (and x unchanged, or the
 * encode fails with MW_ECHANGED as mw_encode() would) until it is done.
 */
struct mw_enc {
	uint64_t opaque[40];
};

/**
 * Start an encode; nothing is read or written yet. Arguments as for
 * mw_encode().
 * @return 0, or the error mw_encode() would give for them (MW_EINVAL,
 *         MW_ERANGE, MW_ENOSPC); the encode then fails with it.
 */
int mw_enc_begin(struct mw_enc *enc, const struct mw_codec_params *p,
		 const void *x, uint64_t n, uint8_t *out, size_t cap,
		 void *scratch, size_t scratch_len);

/**
 * Do about budget elements' worth of the encode: MS and MS_SIGNED visit
 * the input twice (selection, emit) in slices of at most budget elements
 * (emit slices whole groups of 8, at least 8); DENSE and RAW copy budget
 * elements; TOPK and QUANT are encoded whole in one step.
 * @return 1: more to do; 0: done (mw_enc_result()); or the encode's error
 *         (as mw_encode(): MW_ENONFINITE, MW_ECHANGED, ...), returned
 *         again by every later call.
 */
int mw_enc_step(struct mw_enc *enc, uint64_t budget);

/**
 * The outcome of a finished encode.
 * @param desc  out: the decoder descriptor (may be NULL).
 * @return payload bytes (mw_encode_size()), the encode's error, or
 *         MW_EAGAIN while it is not finished.
 */
int64_t mw_enc_result(const struct mw_enc *enc, struct mw_codec_desc *desc);

/**
 * How far an MS/MS_SIGNED encode has written its payload, for a sender
 * that sends segments while the encode runs (mw_seg_stream_feed()).
 * @param desc   out: once the emit has begun, the descriptor the encode
 *               gives if it succeeds (the threshold is known by then).
 * @param elems  out: the mask is written for elements [0, *elems).
 * @param vals   out: values [0, *vals) are written.
 * @return 1 once the emit has begun (also when done), 0 before; MW_EINVAL
 *         for the other codecs; or the encode's error.
 */
int mw_enc_progress(const struct mw_enc *enc, struct mw_codec_desc *desc,
		    uint64_t *elems, uint64_t *vals);

/**
 * Check a descriptor received from a file or the wire.
 * @return 0, or MW_EUNSUPP (unknown codec), MW_EINVAL (bits outside 1..8
 *         for MS/MS_SIGNED/QUANT or non-zero for the others, k > n, k != 0
 *         for QUANT/DENSE/RAW, non-finite or negative threshold for MS*,
 *         non-finite QUANT min/step or negative step, min + (2^b-1)*step
 *         not finite, p0/p1 non-zero where unused, n > 2^58 (2^32 for
 *         TOPK)). Drop the tensor on error.
 */
int mw_codec_desc_check(const struct mw_codec_desc *d);

/**
 * Size of the whole payload a descriptor implies (MS*: mask + 4k; TOPK: 8k;
 * QUANT: mask; DENSE: 4n; RAW: n).
 * @param d  descriptor.
 * @return bytes, or the mw_codec_desc_check() error.
 */
int64_t mw_payload_size(const struct mw_codec_desc *d);

/**
 * Decode one segment (or, with [0, n), a whole payload) into its slice of
 * the output tensor. Writes only out[elem_off .. elem_off + elem_cnt).
 *
 * @param d         descriptor (checked with mw_codec_desc_check()).
 * @param elem_off  first element; a multiple of MW_SEG_ALIGN.
 * @param elem_cnt  elements covered; elem_off + elem_cnt <= d->n.
 * @param payload   the segment's payload.
 * @param len       its length.
 * @param out       the whole output tensor (d->n elements: float32, or bytes
 *                  for RAW).
 * @return the number of values/pairs consumed (0 for dense codecs), or
 *         MW_EINVAL (descriptor or range), MW_ETRUNC / MW_EFORMAT (len does
 *         not match the layout), MW_ECOUNT (sentinels != values carried),
 *         MW_ERANGE (TOPK index outside the range or not increasing),
 *         MW_ENONFINITE (a carried value is NaN/Inf). On error the slice may
 *         be partly written; treat the segment as lost.
 */
int64_t mw_seg_decode(const struct mw_codec_desc *d, uint64_t elem_off,
		      uint64_t elem_cnt, const uint8_t *payload, size_t len,
		      void *out);

/**
 * Plan segments whose payloads each fit in budget bytes.
 * @param d        descriptor from mw_encode().
 * @param payload  the whole payload.
 * @param len      its length.
 * @param budget   maximum bytes per segment payload; must hold every
 *                 aligned group of 8 elements with its values (MS: b bytes
 *                 plus 4 per sentinel in the group; TOPK: the group's pairs,
 *                 at most 64 bytes; QUANT: b; DENSE: 32; RAW: 8).
 * @param segs     output array, or NULL to count only.
 * @param max_segs its capacity.
 * @return number of segments (at least 1; n == 0 gives one empty segment),
 *         or MW_EINVAL (budget too small for some group, len not the size
 *         the descriptor implies, MS sentinels != k, TOPK indices not
 *         increasing or >= n), MW_EUNSUPP (unknown codec), MW_ENOSPC (more
 *         than max_segs needed; call with NULL to size).
 *         Segments cover [0, n) in order; each but the last ends on a
 *         multiple of 8 elements.
 */
int64_t mw_seg_plan(const struct mw_codec_desc *d, const uint8_t *payload,
		    size_t len, size_t budget, struct mw_seg *segs,
		    size_t max_segs);

/**
 * mw_seg_plan() with smaller leading segments: segments 0 .. heads-1 hold
 * at most budget - head bytes, the others budget (for a packet format
 * whose first segments carry a longer header). head 0 or heads 0 is
 * mw_seg_plan(). mw_seg_plan_bound(d, budget - head) bounds the count.
 * @return as mw_seg_plan(); MW_EINVAL also when head >= budget or a
 *         group does not fit the budget of its segment.
 */
int64_t mw_seg_plan_head(const struct mw_codec_desc *d,
			 const uint8_t *payload, size_t len, size_t budget,
			 size_t head, uint64_t heads, struct mw_seg *segs,
			 size_t max_segs);

/**
 * An upper bound of the number of segments mw_seg_plan() gives for a
 * budget, from the descriptor alone (no pass over the payload): exact for
 * QUANT, DENSE and RAW; for MS, MS_SIGNED and TOPK at most
 * payload / (budget - largest group) + 1, and never more than the
 * number of 8-element groups + 1.
 * @return the bound (>= 1), or MW_EINVAL (descriptor, or a budget too
 *         small for one group of a fixed codec).
 */
int64_t mw_seg_plan_bound(const struct mw_codec_desc *d, size_t budget);

/**
 * Planning segments while an MS/MS_SIGNED payload is being written
 * (cut-through: a segment can be sent as soon as the encode has written
 * it). The segment count is fixed before anything is written
 * (mw_seg_stream_bound()); segments are closed by mw_seg_plan_head()'s
 * greedy rule as the mask and values come (mw_seg_stream_feed()); at the
 * end, segments not yet sent are cut finer until there are exactly that
 * many (mw_seg_stream_end()). With an input that did not change during the
 * encode, the segments before the last ones are those of
 * mw_seg_plan_head(). Caller-owned, opaque.
 */
struct mw_seg_stream {
	uint64_t opaque[24];
};

/**
 * The count to fix: at least the number of segments mw_seg_plan_head()
 * gives for any payload of this descriptor (every closed segment holds
 * more than its budget less the costliest group, b + 32 bytes), at most
 * the number of 8-element groups.
 * @return the count (>= 1), or MW_EINVAL (not MS/MS_SIGNED, a bad
 *         descriptor, or a budget not above head + b + 32).
 */
int64_t mw_seg_stream_bound(const struct mw_codec_desc *d, size_t budget,
			    size_t head, uint64_t heads);

/**
 * Start planning.
 * @param d        the descriptor (codec, bits, n, k; the threshold is not
 *                 needed).
 * @param payload  the payload being written (mw_encode_size() bytes; the
 *                 mask first, then the values), read as it is written.
 * @param budget, head, heads  as mw_seg_plan_head().
 * @param count    the segment count, >= mw_seg_stream_bound().
 * @param segs     room for count segments, written as they are planned.
 * @return 0, or MW_EINVAL.
 */
int mw_seg_stream_begin(struct mw_seg_stream *ss,
			const struct mw_codec_desc *d, const uint8_t *payload,
			size_t budget, size_t head, uint64_t heads,
			uint64_t count, struct mw_seg *segs);

/**
 * The payload's mask is written for elements [0, elems) and its values
 * [0, vals): plan what that allows.
 * @return r: segments [0, r) are final (segs[0..r) will not change) and
 *         their values are present and finite; or MW_ECHANGED: the
 *         payload does not match the descriptor (the input changed under
 *         the encode: more values than k, a value missing or not finite),
 *         returned again by every later call.
 */
int64_t mw_seg_stream_feed(struct mw_seg_stream *ss, uint64_t elems,
			   uint64_t vals);

/**
 * The whole payload is written: plan the rest and cut segments
 * [sent, ...) finer until there are exactly count.
 * @param sent  segments already sent (at most the last feed's r): kept.
 * @return count, or MW_ECHANGED (as mw_seg_stream_feed(), or not exactly
 *         k values), MW_EINVAL (sent beyond what was final).
 */
int64_t mw_seg_stream_end(struct mw_seg_stream *ss, uint64_t sent);

/**
 * Copy one planned segment's payload out of the whole payload.
 * Mask bits of elements past the segment's range are cleared, so any
 * range [elem_off, elem_off + elem_cnt) with elem_off a multiple of 8 and
 * the matching val_off/val_cnt gives a segment mw_seg_decode() accepts.
 * @param d        descriptor from mw_encode().
 * @param payload  the whole payload; len its length (mw_payload_size()).
 * @param s        the segment (from mw_seg_plan() or built by the caller).
 * @param out      where the segment's payload goes; cap its capacity.
 * @return bytes written (mw_seg_payload_size()), or MW_ENOSPC (cap too
 *         small), MW_EINVAL (descriptor, len, or a range outside the
 *         tensor / values).
 */
int64_t mw_seg_write(const struct mw_codec_desc *d, const uint8_t *payload,
		     size_t len, const struct mw_seg *s, uint8_t *out,
		     size_t cap);

/**
 * Name of a codec ("dense", "ms", "ms-signed", "topk", "quant", "raw").
 * @return static string, "?" when unknown.
 */
const char *mw_codec_name(unsigned codec);

/**
 * Parse a codec name.
 * @return enum mw_codec value, or MW_EINVAL.
 */
int mw_codec_from_name(const char *name);

/**
 * Name of a rounding mode ("nearest", "floor", "stochastic").
 * @return static string, "?" when unknown.
 */
const char *mw_rounding_name(unsigned rounding);

/**
 * Parse a rounding mode's name.
 * @return enum mw_rounding value, or MW_EINVAL.
 */
int mw_rounding_from_name(const char *name);

/** Element size in bytes of a codec's tensor (4, or 1 for RAW). */
unsigned mw_codec_elem_size(unsigned codec);

/** Name of the SIMD kernel set in use ("avx2", "scalar", ...). */
const char *mw_codec_simd_name(void);

/* ---- tensor files: .npy and .mwt (sans-I/O, from byte buffers) ------- */

/** Most dimensions a shape may have. */
#define MW_NDIM_MAX 8

/*
 * Element types are enum mw_dtype (mw_dtype.h), the numbers the wire and
 * the shared-memory ABI use. The files hold codes of their own (.npy a
 * descr string, .mwt its header byte 11); the parsers and writers convert
 * them. Tensor files support MW_DT_F32 and MW_DT_U8 (the RAW codec's
 * elements).
 */

/**
 * A tensor file's shape, row-major (C order): 64-bit dims, as .npy and .mwt
 * store them. ndim 0 is a scalar (1 element). The wire and the
 * shared-memory descriptor carry 32-bit dims instead; mw_wire.h's
 * mw_wire_meta_to_shape() and mw_wire_meta_set_shape() convert.
 */
struct mw_shape {
	unsigned ndim;
	uint64_t dim[MW_NDIM_MAX];
};

/**
 * Elements of a shape.
 * @return the product of the dimensions (1 for ndim 0), or MW_EINVAL
 *         (ndim > MW_NDIM_MAX), MW_ERANGE (product above 2^58).
 */
int64_t mw_shape_elems(const struct mw_shape *s);

/** A parsed .npy file; pointers point into the parsed buffer. */
struct mw_npy {
	unsigned dtype;        /**< enum mw_dtype: MW_DT_F32 or MW_DT_U8 */
	struct mw_shape shape;
	uint64_t n;            /**< elements */
	const uint8_t *data;   /**< n * element size bytes */
	uint64_t data_len;
	char descr[16];        /**< the header's dtype string (truncated) */
};

/**
 * Parse a NumPy .npy file (format versions 1.0, 2.0, 3.0) held in memory.
 * Accepted: descr '<f4' (MW_DT_F32) and '|u1' or '<u1' (MW_DT_U8),
 * fortran_order False, up to MW_NDIM_MAX dimensions, data exactly
 * n * element size bytes after the header.
 * @param buf   the whole file.
 * @param len   its length.
 * @param npy   out: the tensor.
 * @param why   out (may be NULL): on error, a static string naming the
 *              problem, e.g. "dtype '<i8' is not supported (need '<f4')".
 * @return 0, or MW_EBADMAGIC (not a .npy file), MW_EVERSION (unknown format
 *         version), MW_ETRUNC (header or data cut short), MW_EFORMAT
 *         (malformed header, trailing bytes), MW_EUNSUPP (other dtype,
 *         fortran_order True, more than MW_NDIM_MAX dimensions), MW_ERANGE
 *         (shape too large). Reject the file.
 */
int mw_npy_parse(const uint8_t *buf, size_t len, struct mw_npy *npy,
		 const char **why);

/**
 * Bytes of the .npy header mw_npy_write_header() writes (version 1.0,
 * padded so that the data starts on a multiple of 64).
 * @return size, or MW_EINVAL (a dtype .npy files do not support here,
 *         ndim).
 */
int64_t mw_npy_header_size(unsigned dtype, const struct mw_shape *s);

/**
 * Write a .npy header; the caller appends the data (little-endian).
 * @param dtype  enum mw_dtype: MW_DT_F32 or MW_DT_U8.
 * @param s      shape.
 * @param out    buffer; cap its capacity.
 * @return header bytes written, or MW_EINVAL (dtype, ndim), MW_ENOSPC.
 */
int64_t mw_npy_write_header(unsigned dtype, const struct mw_shape *s,
			    uint8_t *out, size_t cap);

/**
 * .mwt container: a fixed header, the shape, then the payload exactly as
 * the wire carries it. All integers little-endian. See docs/CODEC.md.
 *
 *     0  4  magic "MWTF"
 *     4  2  version (1)
 *     6  2  header length H = 48 + 8 * ndim
 *     8  1  codec            9  1  bits          10  1  rounding
 *    11  1  dtype code (1 float32, 2 uint8; not enum mw_dtype)
 *    12  1  ndim            13  3  reserved, 0
 *    16  4  p0 (float32)    20  4  p1 (float32)
 *    24  8  n               32  8  k             40  8  payload length
 *    48  8*ndim  dimensions (uint64)
 *     H  payload
 */
#define MW_MWT_MAGIC "MWTF"
#define MW_MWT_VERSION 1u
#define MW_MWT_HEADER_SIZE(ndim) (48u + 8u * (unsigned)(ndim))

/** A parsed .mwt file; payload points into the parsed buffer. */
struct mw_mwt {
	struct mw_codec_desc desc;
	unsigned dtype; /**< enum mw_dtype: MW_DT_U8 for RAW, else MW_DT_F32 */
	struct mw_shape shape;
	const uint8_t *payload;
	uint64_t payload_len;
};

/**
 * Write a .mwt header for a payload of mw_payload_size(d) bytes; the
 * caller appends the payload.
 * @param d      descriptor from mw_encode().
 * @param s      shape; its element count must equal d->n.
 * @param out    buffer; cap its capacity (MW_MWT_HEADER_SIZE(ndim)).
 * @return header bytes written, or MW_EINVAL (descriptor, ndim, shape not
 *         matching n), MW_ENOSPC.
 */
int64_t mw_mwt_write_header(const struct mw_codec_desc *d,
			    const struct mw_shape *s, uint8_t *out,
			    size_t cap);

/**
 * Parse and validate a whole .mwt file held in memory: the header, the
 * descriptor (mw_codec_desc_check()), shape against n, and a payload of
 * exactly mw_payload_size() bytes ending the file. The payload itself is
 * checked by decoding it (mw_seg_decode() over [0, n)).
 * @param buf  the whole file; len its length.
 * @param m    out: the parsed file.
 * @param why  out (may be NULL): on error, a static string naming the
 *             problem.
 * @return 0, or MW_EBADMAGIC, MW_EVERSION, MW_ETRUNC (cut short),
 *         MW_EFORMAT (header fields, reserved bytes, lengths, trailing
 *         bytes), MW_EUNSUPP (unknown codec or dtype), MW_EINVAL (bad
 *         descriptor), MW_ERANGE (shape too large).
 */
int mw_mwt_parse(const uint8_t *buf, size_t len, struct mw_mwt *m,
		 const char **why);

#ifdef __cplusplus
}
#endif
#endif /* MW_CODEC_H */
