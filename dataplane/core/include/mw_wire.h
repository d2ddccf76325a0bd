/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_wire.h
 * maskwire wire format: parse and build the maskwire header that sits in a
 * UDP payload. docs/PROTOCOL.md is the normative description; this header
 * is its C form. Sans-I/O: no allocation, no clock, caller-owned buffers.
 *
 * Every multi-byte header field is big-endian (network byte order); the
 * codec payload that follows a DATA header is little-endian (mw_codec.h).
 * Parsers validate every length and field they return; anything they accept
 * is safe to index with. Errors follow mw_err.h.
 */
#ifndef MW_WIRE_H
#define MW_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mw_codec.h"
#include "mw_dtype.h"
#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_WIRE_MAGIC 0x4D57u  /**< "MW" */
#define MW_WIRE_VERSION 1u     /**< plain: CRC32C, no authentication */
#define MW_WIRE_VERSION_SEC 2u /**< secure (PROTOCOL.md 12): AEAD trailer */
/** Secure packets (version 2): the trailer after the body, sn (u64) and
 *  the AEAD tag; the HELLO nonce after the HELLO body. */
#define MW_SEC_SN_LEN 8u
#define MW_SEC_TAG_LEN 16u
#define MW_SEC_TRAILER_LEN 24u
#define MW_SEC_NONCE_LEN 32u
#define MW_SEC_PSK_LEN 32u
/** Length of a version-2 HELLO / HELLO_ACK: body, nonce, trailer. */
#define MW_SEC_HELLO_LEN (52u + MW_SEC_NONCE_LEN + MW_SEC_TRAILER_LEN)
#define MW_WIRE_MAX_DIMS 8u

/** Sizes of the fixed parts (bytes). */
#define MW_WIRE_HDR_LEN 28u        /**< common header */
#define MW_WIRE_HELLO_LEN 52u      /**< common header + HELLO body */
#define MW_WIRE_DATA_HDR_LEN 140u  /**< common header + DATA header */
#define MW_WIRE_ACK_FIXED_LEN 48u  /**< common header + ACK fixed part */
#define MW_WIRE_ACK_BLOCK_LEN 12u  /**< one ACK block without its bitmap */
#define MW_WIRE_CLOSE_LEN 32u      /**< common header + CLOSE body */
/** Compact DATA (PROTOCOL.md 5.6): its whole header. */
#define MW_WIRE_CDATA_HDR_LEN 24u
/** Offset of the tensor block inside a DATA packet, and its length. */
#define MW_WIRE_TBLOCK_OFF 64u
#define MW_WIRE_TBLOCK_LEN 76u

/**
 * Field offsets from the first byte of the maskwire packet (PROTOCOL.md
 * 4 and 5); every parser and builder in the tree uses these names.
 * @{
 */
/* common header (4) */
#define MW_OFF_MAGIC 0u     /**< u16 */
#define MW_OFF_VERSION 2u   /**< u8 */
#define MW_OFF_TYPE 3u      /**< u8 */
#define MW_OFF_LEN 4u       /**< u16 */
#define MW_OFF_FLAGS 6u     /**< u16 */
#define MW_OFF_SRC_INC 8u   /**< u32 */
#define MW_OFF_SRC_GEN 12u  /**< u32 */
#define MW_OFF_DST_INC 16u  /**< u32 */
#define MW_OFF_DST_GEN 20u  /**< u32 */
#define MW_OFF_CRC 24u      /**< u32, CRC32C with this field taken as 0 */
/* HELLO / HELLO_ACK (5.1) */
#define MW_OFF_HELLO_MAX_DATAGRAM 28u /**< u16 */
#define MW_OFF_HELLO_CAPS 30u         /**< u16, MW_HELLO_CAP_* */
#define MW_OFF_HELLO_RX_WINDOW 32u    /**< u32 */
#define MW_OFF_HELLO_MAX_SEGS 36u     /**< u32 */
#define MW_OFF_HELLO_RSV2 40u         /**< u32, 0 */
#define MW_OFF_HELLO_MAX_TENSOR 44u   /**< u64 */
/* DATA (5.2): per segment */
#define MW_OFF_DATA_PN 28u       /**< u32 */
#define MW_OFF_DATA_TID 32u      /**< u32 */
#define MW_OFF_DATA_SEG_IDX 36u  /**< u32 */
#define MW_OFF_DATA_ELEM_CNT 40u /**< u32 */
#define MW_OFF_DATA_VAL_CNT 44u  /**< u32 */
#define MW_OFF_DATA_ELEM_OFF 48u /**< u64 */
#define MW_OFF_DATA_VAL_OFF 56u  /**< u64 */
/* DATA (5.2): the tensor block, identical in every segment */
#define MW_OFF_DATA_N 64u        /**< u64 */
#define MW_OFF_DATA_K 72u        /**< u64 */
#define MW_OFF_DATA_TAG 80u      /**< u64 */
#define MW_OFF_DATA_SEG_CNT 88u  /**< u32 */
#define MW_OFF_DATA_CODEC 92u    /**< u8 */
#define MW_OFF_DATA_BITS 93u     /**< u8 */
#define MW_OFF_DATA_ROUNDING 94u /**< u8 */
#define MW_OFF_DATA_DTYPE 95u    /**< u8 */
#define MW_OFF_DATA_KIND 96u     /**< u8 */
#define MW_OFF_DATA_NDIM 97u     /**< u8 */
#define MW_OFF_DATA_DEADLINE 98u /**< u16, deadline in ms (0: none) */
#define MW_OFF_DATA_P0 100u      /**< f32 bits, u32 */
#define MW_OFF_DATA_P1 104u      /**< f32 bits, u32 */
#define MW_OFF_DATA_DIMS 108u    /**< 8 x u32 */
#define MW_OFF_DATA_PAYLOAD MW_WIRE_DATA_HDR_LEN
/* compact DATA (5.6): its own header, from byte 0 (magic, version and
 * type where the common header has them) */
#define MW_OFF_CDATA_PN 4u       /**< u32 */
#define MW_OFF_CDATA_TID 8u      /**< u16, the tensor id's low 16 bits */
#define MW_OFF_CDATA_VAL_CNT 10u /**< u16 */
#define MW_OFF_CDATA_SEG_IDX 12u /**< u32 */
#define MW_OFF_CDATA_ELEM_OFF 16u /**< u32 */
#define MW_OFF_CDATA_CRC 20u     /**< u32, CRC32C under the identities */
#define MW_OFF_CDATA_PAYLOAD MW_WIRE_CDATA_HDR_LEN
/* ACK (5.4) */
#define MW_OFF_ACK_LARGEST_PN 28u  /**< u32 */
#define MW_OFF_ACK_DELAY_US 32u    /**< u32 */
#define MW_OFF_ACK_CUM_TID 36u     /**< u32 */
#define MW_OFF_ACK_RX_LIMIT 40u    /**< u32 */
#define MW_OFF_ACK_NBLOCKS 44u     /**< u16 */
#define MW_OFF_ACK_HAS_LARGEST 46u /**< u8 */
#define MW_OFF_ACK_RSV 47u         /**< u8, 0 */
#define MW_OFF_ACK_BLOCKS MW_WIRE_ACK_FIXED_LEN
/* ACK block, from the block's first byte */
#define MW_OFF_BLK_TID 0u        /**< u32 */
#define MW_OFF_BLK_SEG_CUM 4u    /**< u32 */
#define MW_OFF_BLK_FLAGS 8u      /**< u8 */
#define MW_OFF_BLK_RSV 9u        /**< u8, 0 */
#define MW_OFF_BLK_BITMAP_LEN 10u /**< u16 */
#define MW_OFF_BLK_BITMAP MW_WIRE_ACK_BLOCK_LEN
/* CLOSE (5.5) */
#define MW_OFF_CLOSE_REASON 28u  /**< i32 */
/** @} */
/** Largest datagram the format can describe (16-bit length field). */
#define MW_WIRE_MAX_DATAGRAM 65535u
/** Smallest max_datagram an endpoint accepts (room for one 8-element
 *  group of 8-bit MS codes with 8 values, and for a 1-block ACK). */
#define MW_WIRE_MIN_DATAGRAM 256u

/** Packet types. */
enum mw_ptype {
	MW_PT_HELLO = 1,     /**< session set-up request */
	MW_PT_HELLO_ACK = 2, /**< session set-up answer */
	MW_PT_DATA = 3,      /**< one segment of one tensor */
	MW_PT_ACK = 4,       /**< selective acknowledgement + window */
	MW_PT_CLOSE = 5,     /**< session teardown, with a reason */
	MW_PT_CDATA = 6,     /**< compact DATA: a segment after the first,
				  its tensor block left out (5.6) */
};

/** A DATA packet, full or compact? (type byte) */
static inline int mw_ptype_is_data(unsigned type)
{
	return type == MW_PT_DATA || type == MW_PT_CDATA;
}

/** HELLO capabilities (5.1): what the sender accepts. */
#define MW_HELLO_CAP_UDP_CSUM0 0x0001u /**< UDP checksum 0 (the CRC32C
					    covers the packet; 2) */
#define MW_HELLO_CAP_DEADLINE 0x0002u /**< takes DATA with a deadline
					   and sends PARTIAL ACK blocks (9.1);
					   the core always announces it */
#define MW_HELLO_CAP_COMPACT 0x0004u /**< takes compact DATA (5.6) */
/** Largest rx_window (and send window) with which compact DATA is
 *  announced or sent: its 16-bit tensor id is read relative to the
 *  receiver's next tensor (5.6). */
#define MW_CDATA_MAX_WINDOW 32768u

/** Common-header flags. */
#define MW_FLAG_ACK_REQ 0x0001u /**< ACK: answer with an ACK now (probe) */
#define MW_FLAG_CLEAR 0x0002u   /**< version 2 only: integrity mode, the
				     body is not encrypted (PROTOCOL.md 12) */
#define MW_WIRE_FLAGS_KNOWN MW_FLAG_ACK_REQ

/** What a tensor is, for the application. */
enum mw_kind {
	MW_KIND_ACTIVATION = 0,
	MW_KIND_GRADIENT = 1,
	MW_KIND_LOGITS = 2,
	MW_KIND_LABELS = 3,
	MW_KIND_OTHER = 4,
	MW_KIND_COUNT_
};

/** Name of a kind ("activation", ...); "?" if unknown. */
const char *mw_kind_name(unsigned kind);

/** Session identity of one side: caller incarnation + session generation. */
struct mw_ident {
	uint32_t inc; /**< endpoint incarnation, never 0 on the wire as src */
	uint32_t gen; /**< session generation with this peer */
};

/** The common header (every packet). */
struct mw_hdr {
	uint8_t version;
	uint8_t type;   /**< enum mw_ptype */
	uint16_t len;   /**< whole packet length, equals the datagram length */
	uint16_t flags; /**< MW_FLAG_* */
	struct mw_ident src;
	struct mw_ident dst; /**< {0,0} when the peer is unknown (HELLO only) */
	uint32_t crc;   /**< CRC32C as received (already verified by parse) */
};

/** HELLO / HELLO_ACK body: the sender's receive limits. */
struct mw_hello {
	uint16_t max_datagram;     /**< largest datagram it accepts */
	uint16_t caps;             /**< MW_HELLO_CAP_*; unknown bits ignored */
	uint32_t rx_window;        /**< tensors it buffers per direction */
	uint32_t max_segs;         /**< segments per tensor it accepts */
	uint32_t reserved2;
	uint64_t max_tensor_bytes; /**< decoded bytes per tensor it accepts */
};

/**
 * Tensor metadata as carried on the wire and handed to the application.
 * Its shape is the wire's: up to MW_WIRE_MAX_DIMS dims of 32 bits (the
 * shared-memory descriptor, mw_shm.h, has the same). The tensor files'
 * shape is struct mw_shape of mw_codec.h (64-bit dims, as .npy and .mwt
 * store them); mw_wire_meta_to_shape() and mw_wire_meta_set_shape()
 * convert between the two.
 */
struct mw_tensor_meta {
	uint8_t dtype; /**< enum mw_dtype (mw_dtype.h) */
	uint8_t kind;  /**< enum mw_kind */
	uint8_t ndim;  /**< 0..MW_WIRE_MAX_DIMS */
	uint32_t dims[MW_WIRE_MAX_DIMS]; /**< unused dims are 0 */
	uint64_t tag;  /**< application tag (e.g. the training step) */
	uint16_t deadline_ms; /**< 0: reliable; else deliver at most this
				   long after the tensor's first segment
				   arrived, missing ranges zero-filled
				   (PROTOCOL.md 9.1); not for RAW */
};

/** A parsed DATA header. */
struct mw_data {
	uint32_t pn;        /**< packet number (per session and direction) */
	uint32_t tid;       /**< tensor id (per session and direction) */
	uint32_t seg_idx;
	uint32_t seg_cnt;
	struct mw_seg seg;  /**< element/value range of this segment */
	struct mw_codec_desc desc; /**< whole-tensor decoder descriptor */
	struct mw_tensor_meta meta;
	const uint8_t *payload; /**< points into the packet */
	size_t payload_len;
};

/** A compact DATA packet's own fields (PROTOCOL.md 5.6), parsed. */
struct mw_cdata {
	uint32_t pn;
	uint16_t tid16;    /**< the tensor id's low 16 bits */
	uint16_t val_cnt;
	uint32_t seg_idx;  /**< >= 1: segment 0 is always a full DATA */
	uint32_t elem_off;
	const uint8_t *payload; /**< points into the packet */
	size_t payload_len;
};

/** ACK block flags. */
#define MW_ACKB_COMPLETE 0x01u /**< every segment of the tensor received */
#define MW_ACKB_PARTIAL 0x02u  /**< with COMPLETE: delivered at its deadline
				    with segments missing (PROTOCOL.md 9.1) */

/** One ACK block, parsed (bitmap points into the packet). */
struct mw_ack_block {
	uint32_t tid;
	uint32_t seg_cum;    /**< segments [0, seg_cum) all received */
	uint8_t flags;       /**< MW_ACKB_* */
	uint16_t bitmap_len; /**< bytes; bit i (LSB first) = seg_cum + 1 + i */
	const uint8_t *bitmap;
};

/** A parsed ACK (fixed part; blocks are read with mw_wire_ack_block()). */
struct mw_ack {
	uint32_t largest_pn;   /**< largest DATA pn received this session */
	uint32_t ack_delay_us; /**< time the receiver held largest_pn, in us */
	uint32_t cum_tid;      /**< tensors [0, cum_tid) complete */
	uint32_t rx_limit;     /**< the sender may send tensors < rx_limit */
	uint16_t nblocks;
	uint8_t has_largest;   /**< 0 if no DATA received yet this session */
	const uint8_t *blocks; /**< first block, inside the packet */
	size_t blocks_len;
};

/** A parsed CLOSE. */
struct mw_close {
	int32_t reason; /**< a negative mw_err code, or 0 (application close) */
};

/* ---- shapes ----------------------------------------------------------- */

/**
 * A tensor's wire shape as the codec's struct mw_shape, e.g. to write a
 * received tensor to a .npy or .mwt file.
 * @param m  metadata; ndim and dims[0..ndim) are read.
 * @param s  out: ndim and dim[0..ndim); the other dims are 0.
 * @return 0, or MW_EINVAL (ndim above MW_WIRE_MAX_DIMS, which
 *         mw_wire_parse_data() never returns): s is then unchanged.
 */
int mw_wire_meta_to_shape(const struct mw_tensor_meta *m, struct mw_shape *s);

/**
 * Set a tensor's wire shape from the codec's struct mw_shape, e.g. to send
 * a tensor read from a .npy file.
 * @param m  out: ndim and dims; unused dims become 0, other fields are
 *           left as they are.
 * @param s  shape.
 * @return 0; MW_EINVAL (ndim above MW_WIRE_MAX_DIMS); MW_ERANGE (a dim
 *         does not fit the wire's 32 bits: the tensor cannot be sent with
 *         this shape; reshape it or refuse it). m is unchanged on error.
 */
int mw_wire_meta_set_shape(struct mw_tensor_meta *m,
			   const struct mw_shape *s);

/* ---- checksums -------------------------------------------------------- */

/**
 * CRC32C (Castagnoli, reflected, init ~0, final xor ~0), as in iSCSI.
 * @param crc  0 to start, or a previous return value to continue.
 * @return the running CRC.
 */
uint32_t mw_crc32c(uint32_t crc, const void *buf, size_t len);

/* ---- parsing ---------------------------------------------------------- */

/**
 * Parse and verify the common header of a datagram: length, magic,
 * version, type, flags, CRC32C over the whole datagram. A version-2
 * (secure) packet has no CRC (its crc field must be 0) and a type minimum
 * raised by the trailer (and the HELLO nonce); its AEAD tag is checked
 * by the endpoint (PROTOCOL.md 12), not here.
 * @param pkt  the UDP payload.
 * @param len  its length.
 * @param h    out.
 * @return 0, or MW_ETRUNC (shorter than the header or than the length
 *         field), MW_EFORMAT (length field shorter than the datagram or than
 *         the type's minimum, unknown flags, src incarnation 0),
 *         MW_EBADMAGIC, MW_EVERSION, MW_EUNSUPP (unknown type),
 *         MW_ECHECKSUM. The caller drops the packet and counts the reason.
 */
int mw_wire_parse_hdr(const uint8_t *pkt, size_t len, struct mw_hdr *h);

/**
 * Parse a HELLO or HELLO_ACK body (after mw_wire_parse_hdr()).
 * @return 0, MW_EFORMAT (wrong length, reserved non-zero),
 *         MW_ERANGE (a limit is below the protocol minimum).
 */
int mw_wire_parse_hello(const uint8_t *pkt, size_t len, struct mw_hello *o);

/**
 * Parse and validate a DATA header (after mw_wire_parse_hdr()): the
 * descriptor (mw_codec_desc_check()), dtype/codec agreement, shape product
 * versus element count, segment range, value range, alignment, and the
 * payload length versus mw_seg_payload_size().
 * @return 0, or MW_EFORMAT (reserved bits, bad dtype/kind/ndim, shape
 *         product, segment index), MW_EUNSUPP (codec), MW_EINVAL
 *         (descriptor), MW_ERANGE (offset/count outside the tensor),
 *         MW_ETRUNC (payload length does not match the header).
 */
int mw_wire_parse_data(const uint8_t *pkt, size_t len, struct mw_data *o);

/**
 * Parse an ACK's fixed part and check that its blocks exactly fill the
 * packet.
 * @return 0, MW_EFORMAT, MW_ETRUNC.
 */
int mw_wire_parse_ack(const uint8_t *pkt, size_t len, struct mw_ack *o);

/**
 * Read the next block of a parsed ACK.
 * @param a    from mw_wire_parse_ack(); a->blocks/blocks_len advance.
 * @param b    out.
 * @return 1 if a block was read, 0 at the end, MW_ETRUNC/MW_EFORMAT on a
 *         malformed block (impossible after a successful parse_ack()).
 */
int mw_wire_ack_block(struct mw_ack *a, struct mw_ack_block *b);

/**
 * Does this datagram claim to be a compact DATA (magic and type 6)?
 * Decides which parser applies; checks nothing else.
 */
int mw_wire_is_cdata(const uint8_t *pkt, size_t len);

/**
 * Parse a compact DATA packet and verify its CRC32C, which covers the
 * session's identities (5.6): src is the sender's identity, dst the
 * receiver's, as the receiver's current session records them. With src
 * or dst NULL the CRC is not checked (a capture reader that knows no
 * session; mw_wire_cdata_crc_ok() checks it later).
 * @return 0, or MW_ETRUNC (shorter than MW_WIRE_CDATA_HDR_LEN),
 *         MW_EBADMAGIC, MW_EVERSION (not version 1), MW_EUNSUPP (not
 *         type 6), MW_ECHECKSUM (corrupted, or of another session).
 */
int mw_wire_parse_cdata(const uint8_t *pkt, size_t len,
			const struct mw_ident *src, const struct mw_ident *dst,
			struct mw_cdata *o);

/**
 * The segment a parsed compact DATA carries, under its tensor's
 * descriptor and segment count (from the tensor's full DATA): the rules
 * of 5.6, elem_cnt derived from the payload length. val_off is not on
 * the wire: seg->val_off is set to MW_VAL_OFF_UNKNOWN.
 * @return 0, or MW_EFORMAT (segment index 0 or out of range, a codec
 *         without compact form, values where the codec has none),
 *         MW_ERANGE (offset, count, alignment), MW_ETRUNC (payload
 *         length impossible for the range).
 */
int mw_wire_cdata_seg(const struct mw_cdata *c,
		      const struct mw_codec_desc *d, uint32_t seg_cnt,
		      struct mw_seg *seg);

/** Does a compact DATA's CRC32C verify under these identities? */
int mw_wire_cdata_crc_ok(const uint8_t *pkt, size_t len,
			 const struct mw_ident *src, const struct mw_ident *dst);

/** seg->val_off of a compact segment (not carried on the wire). */
#define MW_VAL_OFF_UNKNOWN UINT64_MAX

/**
 * The tensor id whose low 16 bits are tid16 nearest to ref (the
 * receiver's next tensor to deliver): ref + (int16_t)(tid16 - ref).
 */
uint32_t mw_wire_tid_expand(uint16_t tid16, uint32_t ref);

/** Parse a CLOSE body. @return 0 or MW_EFORMAT. */
int mw_wire_parse_close(const uint8_t *pkt, size_t len, struct mw_close *o);

/* ---- building --------------------------------------------------------- */

/**
 * Write a common header at pkt[0..MW_WIRE_HDR_LEN) with a zero CRC; the
 * body is written by the caller or the functions below; mw_wire_finish()
 * then stores len and the CRC.
 */
void mw_wire_put_hdr(uint8_t *pkt, uint8_t type, uint16_t flags,
		     const struct mw_ident *src, const struct mw_ident *dst);

/**
 * Store the length and the CRC32C of a packet built in pkt[0..len).
 * @return len, or MW_ERANGE if len > MW_WIRE_MAX_DATAGRAM or < header.
 */
int mw_wire_finish(uint8_t *pkt, size_t len);

/**
 * Store only the length of a packet built in pkt[0..len), for a builder
 * whose caller then seals it (secure mode, docs/PROTOCOL.md 12: no CRC)
 * or calls mw_wire_finish().
 * @return len, or MW_ERANGE as mw_wire_finish().
 */
int mw_wire_set_len(uint8_t *pkt, size_t len);

/** Write a HELLO/HELLO_ACK body; returns MW_WIRE_HELLO_LEN. */
size_t mw_wire_put_hello(uint8_t *pkt, const struct mw_hello *h);

/**
 * Write a DATA header (all but the payload) at pkt[MW_WIRE_HDR_LEN..].
 * @return MW_WIRE_DATA_HDR_LEN, or MW_ERANGE if a field does not fit its
 *         wire width (element count of a segment, ndim).
 */
int mw_wire_put_data(uint8_t *pkt, const struct mw_data *d);

/**
 * Write the per-segment fields of a DATA header (pn, tid, seg_idx and the
 * segment's ranges, bytes 28..63); the tensor block (64..139) is written
 * once per tensor by mw_put_tblock() and copied (the send path's way).
 * The caller has checked that elem_cnt and val_cnt fit 32 bits.
 */
void mw_wire_put_data_seg(uint8_t *pkt, uint32_t pn, uint32_t tid,
			  uint32_t seg_idx, const struct mw_seg *seg);

/**
 * Write a compact DATA header (all but the CRC) at pkt[0..24). The caller
 * has checked that the segment has a compact form (5.6): seg_idx >= 1,
 * elem_off and val_cnt within 32 and 16 bits.
 */
void mw_wire_put_cdata(uint8_t *pkt, uint32_t pn, uint32_t tid,
		       uint32_t seg_idx, const struct mw_seg *seg);

/**
 * Store the CRC32C of a compact DATA built in pkt[0..len), under the
 * identities src (the sender's) and dst (the receiver's).
 * @return len, or MW_ERANGE (len shorter than the header or over
 *         MW_WIRE_MAX_DATAGRAM).
 */
int mw_wire_finish_cdata(uint8_t *pkt, size_t len, const struct mw_ident *src,
			 const struct mw_ident *dst);

/** Write a CLOSE body; returns MW_WIRE_CLOSE_LEN. */
size_t mw_wire_put_close(uint8_t *pkt, int32_t reason);

/**
 * Compare two identities with 32-bit serial-number arithmetic (RFC 1982),
 * incarnation first, then generation.
 * @return <0 if a is older than b, 0 if equal, >0 if newer.
 */
int mw_ident_cmp(const struct mw_ident *a, const struct mw_ident *b);

#ifdef __cplusplus
}
#endif
#endif /* MW_WIRE_H */
