/* SPDX-License-Identifier: BSD-3-Clause */
/* wire_int.h - byte-order helpers and builders private to the core. */
#ifndef MW_WIRE_INT_H
#define MW_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_wire.h"

static inline uint16_t mw_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t mw_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t mw_get64(const uint8_t *p)
{
	return (uint64_t)mw_get32(p) << 32 | mw_get32(p + 4);
}

static inline void mw_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void mw_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline void mw_put64(uint8_t *p, uint64_t v)
{
	mw_put32(p, (uint32_t)(v >> 32));
	mw_put32(p + 4, (uint32_t)v);
}

/** Write the per-tensor block of a DATA header; t = pkt + TBLOCK_OFF. */
void mw_put_tblock(uint8_t *t, uint32_t seg_cnt,
		   const struct mw_codec_desc *d,
		   const struct mw_tensor_meta *m);
/** Write the fixed part of an ACK (after the common header). */
void mw_wire_put_ack_fixed(uint8_t *pkt, const struct mw_ack *a);
/** Write one ACK block at p; returns its length. */
size_t mw_wire_put_ack_block(uint8_t *p, const struct mw_ack_block *b);

#endif
