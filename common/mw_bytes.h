/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_bytes.h
 * Big-endian (network order) loads and stores on unaligned bytes, the one
 * copy every part of the tree uses: the wire format, the I/O layer's
 * headers, the capture tool, the benchmarks.
 */
#ifndef MW_BYTES_H
#define MW_BYTES_H

#include <stdint.h>

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

#endif /* MW_BYTES_H */
