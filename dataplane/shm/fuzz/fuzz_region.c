/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A region as a hostile peer may leave it: header check, then every ring
 * consumed from arbitrary indices and every descriptor checked against the
 * TX pool, as the data plane does. Input: u64 file size (capped at 1 MiB),
 * 4096 header bytes, then the rest of the region.
 * Invariants: an accepted header's sections fit the file; dequeue never
 * returns more than cap entries; an accepted descriptor's buffer lies in
 * the pool and its length is its tensor's bytes; the peer table's count
 * read is at most its capacity, and an entry read is one of the known
 * states.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_fuzz.h"
#include "mw_shm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mw_shm_desc d[16];
	struct mw_shm_hdr *h;
	uint64_t fsize, tx_len;
	uint8_t *region;
	unsigned r;

	if (size < 8)
		return 0;
	memcpy(&fsize, data, 8);
	fsize %= (1u << 20) + 1;
	if (fsize < MW_SHM_HDR_SIZE)
		fsize = MW_SHM_HDR_SIZE;
	region = aligned_alloc(4096, (fsize + 4095) & ~(uint64_t)4095);
	memset(region, 0, fsize);
	memcpy(region, data + 8, size - 8 < fsize ? size - 8 : fsize);
	h = (struct mw_shm_hdr *)region;
	if (mw_shm_hdr_check(h, fsize) != 0) {
		free(region);
		return 0;
	}
	FUZZ_ASSERT(h->tx_off + (uint64_t)h->tx_slots * h->slot_size <=
		    h->rx_off);
	FUZZ_ASSERT(h->rx_off + (uint64_t)h->rx_slots * h->slot_size <= fsize);
	tx_len = (uint64_t)h->tx_slots * h->slot_size;
	for (r = 0; r < MW_SHM_RINGS; r++) {
		struct mw_shm_ring_end e;
		uint32_t taken = 0;
		int n, i;

		FUZZ_ASSERT(h->ring[r].off + MW_SHM_RING_BYTES(h->ring[r].cap) <=
			    fsize);
		/* the consumer's own index is whatever the input left there */
		mw_shm_ring_bind(&e, region, h, r, 0);
		while ((n = mw_shm_ring_dequeue(&e, d, 16)) > 0) {
			taken += (uint32_t)n;
			FUZZ_ASSERT(taken <= h->ring[r].cap);
			for (i = 0; i < n; i++) {
				int64_t bytes;

				if (mw_shm_desc_check(&d[i], h->tx_off,
						      tx_len) != 0)
					continue;
				bytes = mw_shm_tensor_bytes(d[i].dtype,
							    d[i].ndim,
							    d[i].dims);
				FUZZ_ASSERT(bytes >= 0 &&
					    (uint64_t)bytes == d[i].buf_len);
				FUZZ_ASSERT(d[i].buf_len == 0 ||
					    (d[i].buf_off >= h->tx_off &&
					     d[i].buf_off + d[i].buf_len <=
						     h->tx_off + tx_len));
			}
		}
		FUZZ_ASSERT(n == 0 || n == MW_EFORMAT);
	}
	if (h->abi_minor >= 1) {
		struct mw_shm_peer pe;
		uint32_t np = mw_shm_peer_count(region, h), i;

		FUZZ_ASSERT(h->peer_off + MW_SHM_PEER_CTL_SIZE +
				    (uint64_t)h->peer_cap * MW_SHM_PEER_SIZE <=
			    h->tx_off);
		FUZZ_ASSERT(np <= h->peer_cap);
		for (i = 0; i < np && i < 64; i++) {
			int rc = mw_shm_peer_load(region, h, i, &pe);

			FUZZ_ASSERT(rc == 0 || rc == MW_EAGAIN ||
				    rc == MW_EFORMAT);
			FUZZ_ASSERT(rc != 0 ||
				    pe.state < MW_SHM_PEER_STATE_COUNT_);
			/* minor 2: a peer always has a generation */
			FUZZ_ASSERT(rc != 0 || h->abi_minor < 2 ||
				    pe.state == MW_SHM_PEER_NONE || pe.gen != 0);
		}
		FUZZ_ASSERT(mw_shm_peer_load(region, h, h->peer_cap, &pe) ==
			    MW_ENOENT);
	}
	free(region);
	return 0;
}
