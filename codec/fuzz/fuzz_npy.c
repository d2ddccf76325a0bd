/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * .npy parsing on untrusted bytes. Invariant: a file that parses, written
 * again with mw_npy_write_header() and its data, parses to the same dtype,
 * shape and data.
 */
#include <stdint.h>
#include <string.h>

#include "mw_fuzz.h"
#include "mw_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_npy a, b;
	const char *why;
	uint8_t *buf;
	int64_t h;

	if (mw_npy_parse(data, size, &a, &why) < 0)
		return 0;
	FUZZ_ASSERT(a.data + a.data_len == data + size);
	h = mw_npy_header_size(a.dtype, &a.shape);
	FUZZ_ASSERT(h > 0);
	buf = malloc((size_t)h + a.data_len);
	FUZZ_ASSERT(mw_npy_write_header(a.dtype, &a.shape, buf, (size_t)h) == h);
	if (a.data_len > 0)
		memcpy(buf + h, a.data, a.data_len);
	FUZZ_ASSERT(mw_npy_parse(buf, (size_t)h + a.data_len, &b, &why) == 0);
	FUZZ_ASSERT(b.dtype == a.dtype && b.n == a.n &&
		    b.shape.ndim == a.shape.ndim && b.data_len == a.data_len);
	FUZZ_ASSERT(memcmp(b.shape.dim, a.shape.dim,
			   sizeof(a.shape.dim[0]) * a.shape.ndim) == 0);
	FUZZ_ASSERT(a.data_len == 0 || memcmp(b.data, a.data, a.data_len) == 0);
	free(buf);
	return 0;
}
