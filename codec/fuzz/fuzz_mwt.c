/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * .mwt parsing on untrusted bytes. Invariants: a file that parses is
 * canonical (rewriting its header gives the same bytes); its payload may
 * or may not decode, without crashing; a dense or raw payload that decodes
 * re-encodes to the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "mw_fuzz.h"
#include "mw_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_mwt m;
	const char *why;
	uint8_t hdr[MW_MWT_HEADER_SIZE(MW_NDIM_MAX)];
	uint8_t *out;
	uint64_t es;
	int64_t h, rc;

	if (mw_mwt_parse(data, size, &m, &why) < 0)
		return 0;
	h = mw_mwt_write_header(&m.desc, &m.shape, hdr, sizeof(hdr));
	FUZZ_ASSERT(h > 0 && (size_t)h + m.payload_len == size);
	FUZZ_ASSERT(memcmp(hdr, data, (size_t)h) == 0);
	if (m.desc.n > (1u << 20))
		return 0;
	es = mw_codec_elem_size(m.desc.codec);
	out = malloc(m.desc.n * es + 1);
	rc = mw_seg_decode(&m.desc, 0, m.desc.n, m.payload,
			   (size_t)m.payload_len, out);
	if (rc >= 0 && (m.desc.codec == MW_CODEC_DENSE ||
			m.desc.codec == MW_CODEC_RAW)) {
		struct mw_codec_params p = {.codec = (enum mw_codec)m.desc.codec};
		struct mw_codec_desc d;
		uint8_t *again = malloc(m.payload_len + 1);

		FUZZ_ASSERT(mw_encode(&p, out, m.desc.n, &d, again,
				      m.payload_len, NULL, 0) ==
			    (int64_t)m.payload_len);
		FUZZ_ASSERT(m.payload_len == 0 ||
			    memcmp(again, m.payload, m.payload_len) == 0);
		free(again);
	}
	free(out);
	return 0;
}
