/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Segment decode on untrusted bytes. Input: a 16-byte descriptor recipe,
 * then the payload. Invariants: nothing crashes or reads out of bounds; a
 * payload that decodes whole also plans into segments whose separate
 * decodes (in reverse order) reproduce the whole decode bit for bit.
 *
 *   0 codec   1 bits   2 rounding   3 budget/8   4..7 p0   8..11 p1
 *  12..13 n   14..15 k
 */
#include <stdint.h>
#include <string.h>

#include "mw_fuzz.h"
#include "mw_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_codec_desc d;
	const uint8_t *payload;
	size_t len, budget;
	uint8_t *whole, *parts, *seg;
	struct mw_seg *segs;
	int64_t rc, nseg;
	uint64_t es;

	if (size < 16)
		return 0;
	memset(&d, 0, sizeof(d));
	d.codec = data[0] % MW_CODEC_COUNT_;
	d.bits = data[1] % 9;
	d.rounding = data[2] % 3;
	budget = 64 + (size_t)data[3] * 8;
	memcpy(&d.p0, data + 4, 4);
	memcpy(&d.p1, data + 8, 4);
	d.n = (uint64_t)(data[12] | data[13] << 8) % 4097;
	d.k = (uint64_t)(data[14] | data[15] << 8) % (d.n + 1);
	if (d.codec != MW_CODEC_QUANT)
		d.p1 = 0.0f;
	if (d.codec != MW_CODEC_MS && d.codec != MW_CODEC_MS_SIGNED &&
	    d.codec != MW_CODEC_TOPK)
		d.k = 0;
	if (d.codec == MW_CODEC_DENSE || d.codec == MW_CODEC_TOPK ||
	    d.codec == MW_CODEC_RAW) {
		d.bits = 0;
		d.p0 = 0.0f;
	}
	payload = data + 16;
	len = size - 16;
	es = mw_codec_elem_size(d.codec);
	whole = malloc(d.n * es + 1);
	parts = malloc(d.n * es + 1);
	rc = mw_seg_decode(&d, 0, d.n, payload, len, whole);
	/* an arbitrary aligned sub-range must not crash either */
	if (d.n > 0)
		(void)mw_seg_decode(&d, (d.k * 8) % d.n / 8 * 8,
				    d.n - (d.k * 8) % d.n / 8 * 8, payload, len,
				    parts);
	if (rc < 0 || mw_payload_size(&d) != (int64_t)len)
		goto out;
	nseg = mw_seg_plan(&d, payload, len, budget, NULL, 0);
	if (nseg < 1)
		goto out;
	segs = malloc(sizeof(*segs) * (size_t)nseg);
	seg = malloc(budget);
	FUZZ_ASSERT(mw_seg_plan(&d, payload, len, budget, segs,
				(size_t)nseg) == nseg);
	memset(parts, 0x5a, d.n * es);
	for (int64_t i = nseg - 1; i >= 0; i--) {
		int64_t sl = mw_seg_write(&d, payload, len, &segs[i], seg,
					  budget);

		FUZZ_ASSERT(sl >= 0 && (size_t)sl <= budget);
		FUZZ_ASSERT(mw_seg_decode(&d, segs[i].elem_off,
					  segs[i].elem_cnt, seg, (size_t)sl,
					  parts) == (int64_t)segs[i].val_cnt);
	}
	FUZZ_ASSERT(memcmp(whole, parts, d.n * es) == 0);
	free(segs);
	free(seg);
out:
	free(whole);
	free(parts);
	return 0;
}
