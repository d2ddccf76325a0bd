/* SPDX-License-Identifier: BSD-3-Clause */
/* wire_int.h - builders private to the core (byte order: mw_bytes.h). */
#ifndef MW_WIRE_INT_H
#define MW_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "mw_bytes.h"
#include "mw_wire.h"

/** Write the per-tensor block of a DATA header; t = pkt + TBLOCK_OFF. */
void mw_put_tblock(uint8_t *t, uint32_t seg_cnt,
		   const struct mw_codec_desc *d,
		   const struct mw_tensor_meta *m);
/** Write the fixed part of an ACK (after the common header). */
void mw_wire_put_ack_fixed(uint8_t *pkt, const struct mw_ack *a);
/** Write one ACK block at p; returns its length. */
size_t mw_wire_put_ack_block(uint8_t *p, const struct mw_ack_block *b);

#endif
