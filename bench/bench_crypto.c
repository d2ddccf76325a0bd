/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Secure-mode cost per byte (a program, not a test): what each AEAD
 * backend of mw_crypto.h costs per datagram body, next to the per-byte
 * work of plain mode (the CRC32C) and a memcpy of the same bytes, one
 * core, in one run. Sizes are the DATA payloads of the two MTUs the data
 * plane is measured at (docs/BENCH.md): 1500 and 9000 bytes less the
 * Ethernet/IPv4/UDP and maskwire headers and the trailer. Every figure
 * is the median of --reps timed loops over a buffer that stays in cache
 * (the data plane seals a frame it has just written), in GB/s of body.
 *
 *   maskwire-bench-crypto [--quick] [--reps N] [--json-only]
 *
 * Rows: "seal" and "open" as secure mode's encrypt mode calls them (the
 * 28-byte header and the 8-byte sequence number as AAD, the body
 * encrypted); "tag" as integrity mode calls them (the whole packet as
 * AAD, nothing encrypted); "crc32c" and "memcpy" over the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "mw_crypto.h"
#include "mw_wire.h"

#define MAX_BODY 9000u

enum op { OP_SEAL, OP_OPEN, OP_TAG, OP_CRC, OP_COPY, OP_N };
static const char *const op_name[OP_N] = {"seal", "open", "tag", "crc32c",
					   "memcpy"};

struct ctx {
	const struct mw_crypto_ops *ops;
	struct mw_aead *enc, *dec;
	uint8_t pkt[MAX_BODY + 64], out[MAX_BODY + 64];
	uint8_t iv[MW_AEAD_IV_LEN], tag[MW_AEAD_TAG_LEN];
	/* a packet sealed once at the current size, for "open" */
	uint8_t ct[MAX_BODY + 64], ct_iv[MW_AEAD_IV_LEN], ct_tag[MW_AEAD_TAG_LEN];
	volatile uint32_t sink;
};

/* One call of op over a body of n bytes; 0, or -1 if the backend failed. */
static int once(struct ctx *c, enum op op, size_t n, unsigned i)
{
	uint8_t *body = c->pkt + MW_WIRE_HDR_LEN;

	c->iv[11] = (uint8_t)i;
	switch (op) {
	case OP_SEAL:
		return c->ops->seal(c->enc, c->iv, c->pkt, MW_WIRE_HDR_LEN,
				    body + n, 8, body, body, n, c->tag);
	case OP_OPEN:
		return c->ops->open(c->dec, c->ct_iv, c->ct, MW_WIRE_HDR_LEN,
				    c->ct + MW_WIRE_HDR_LEN + n, 8,
				    c->ct + MW_WIRE_HDR_LEN,
				    c->out + MW_WIRE_HDR_LEN, n, c->ct_tag);
	case OP_TAG:
		return c->ops->seal(c->enc, c->iv, c->pkt,
				    MW_WIRE_HDR_LEN + n + 8, NULL, 0, NULL,
				    NULL, 0, c->tag);
	case OP_CRC:
		c->sink += mw_crc32c(0, c->pkt, MW_WIRE_HDR_LEN + n);
		return 0;
	case OP_COPY:
		memcpy(c->out, c->pkt, MW_WIRE_HDR_LEN + n);
		c->sink += c->out[i % n];
		return 0;
	default:
		return -1;
	}
}

/* GB/s of body for op at size n: median of reps loops of ~bytes each. */
static double measure(struct ctx *c, enum op op, size_t n, unsigned reps,
		      double bytes)
{
	double t[64];
	unsigned r, i, iters = (unsigned)(bytes / (double)n) + 1;

	if (op == OP_OPEN) { /* one genuine packet, opened again and again */
		memcpy(c->ct, c->pkt, sizeof(c->ct));
		memset(c->ct_iv, 0x5a, sizeof(c->ct_iv));
		if (c->ops->seal(c->enc, c->ct_iv, c->ct, MW_WIRE_HDR_LEN,
				 c->ct + MW_WIRE_HDR_LEN + n, 8,
				 c->ct + MW_WIRE_HDR_LEN,
				 c->ct + MW_WIRE_HDR_LEN, n, c->ct_tag) < 0)
			return -1;
	}
	for (i = 0; i < iters / 8 + 1; i++) /* warm */
		if (once(c, op, n, i) < 0)
			return -1;
	for (r = 0; r < reps; r++) {
		double t0 = bench_now();

		for (i = 0; i < iters; i++)
			if (once(c, op, n, i) < 0)
				return -1;
		t[r] = bench_now() - t0;
	}
	return (double)n * iters / bench_median(t, reps) / 1e9;
}

int main(int argc, char **argv)
{
	/* DATA payloads at MTU 1500 and 9000: IP MTU - 20 - 8 - 140 - 24 */
	static const size_t sizes[] = {1500 - 192, 9000 - 192};
	const struct mw_crypto_ops *backends[3];
	unsigned reps = 9, b, s, o, r, json_only = 0;
	unsigned nb = mw_crypto_backends(backends, 3);
	double bytes = 256e6, gbps[3][2][OP_N];
	static double runs[3][2][OP_N][64];
	static struct ctx c, cs[3];
	uint8_t key[MW_AEAD_KEY_LEN];
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--quick")) {
			reps = 3;
			bytes = 8e6;
		} else if (!strcmp(argv[a], "--reps") && a + 1 < argc) {
			reps = (unsigned)atoi(argv[++a]);
			if (reps < 1 || reps > 64) {
				fprintf(stderr, "--reps: 1..64\n");
				return 2;
			}
		} else if (!strcmp(argv[a], "--json-only")) {
			json_only = 1;
		} else {
			fprintf(stderr, "usage: %s [--quick] [--reps N] "
					"[--json-only]\n", argv[0]);
			return 2;
		}
	}
	for (s = 0; s < sizeof(key); s++)
		key[s] = (uint8_t)(s * 7 + 1);
	for (s = 0; s < sizeof(c.pkt); s++)
		c.pkt[s] = (uint8_t)(s * 13);
	memset(gbps, 0, sizeof(gbps));
	for (b = 0; b < nb; b++) {
		cs[b].ops = backends[b];
		memcpy(cs[b].pkt, c.pkt, sizeof(c.pkt));
		cs[b].enc = cs[b].ops->aead_new(key, 1);
		cs[b].dec = cs[b].ops->aead_new(key, 0);
		if (!cs[b].enc || !cs[b].dec) {
			fprintf(stderr, "%s: no context\n", cs[b].ops->name);
			return 1;
		}
	}
	/* Round by round, every backend in each round: a machine whose
	 * clock or neighbours drift during the run then weighs on all the
	 * backends alike (one backend after another, the first measured
	 * would run at another clock than the last). */
	for (r = 0; r < reps; r++)
		for (s = 0; s < 2; s++)
			for (b = 0; b < nb; b++)
				for (o = 0; o < OP_N; o++) {
					double g;

					if (b > 0 && o >= OP_CRC)
						continue; /* not a backend's */
					g = measure(&cs[b], (enum op)o, sizes[s],
						    1, bytes);
					if (g < 0) {
						fprintf(stderr, "%s %s failed\n",
							cs[b].ops->name,
							op_name[o]);
						return 1;
					}
					runs[b][s][o][r] = g;
				}
	for (b = 0; b < nb; b++) {
		for (s = 0; s < 2; s++)
			for (o = 0; o < OP_N; o++)
				if (!(b > 0 && o >= OP_CRC))
					gbps[b][s][o] =
						bench_median(runs[b][s][o], reps);
		cs[b].ops->aead_free(cs[b].enc);
		cs[b].ops->aead_free(cs[b].dec);
	}
	if (!json_only) {
		printf("maskwire crypto benchmark: one core, median of %u "
		       "rounds (backends interleaved), GB/s of DATA body "
		       "(default backend: %s at MTU 1500, %s at 9000)\n\n",
		       reps, mw_crypto_default(1500 - 28)->name,
		       mw_crypto_default(9000 - 28)->name);
		printf("| body bytes | what | GB/s | ns per 1000 B | "
		       "vs crc32c |\n|---|---|---|---|---|\n");
		for (s = 0; s < 2; s++)
			for (b = 0; b < nb; b++)
				for (o = 0; o < OP_N; o++) {
					double g = gbps[b][s][o];

					if (g <= 0)
						continue;
					printf("| %zu | %s%s%s | %.2f | %.0f | "
					       "%.2fx |\n", sizes[s],
					       o < OP_CRC ? backends[b]->name
							  : "",
					       o < OP_CRC ? " " : "", op_name[o],
					       g, 1000 / g,
					       (1 / g) / (1 / gbps[0][s][OP_CRC]));
				}
		printf("\n");
	}
	printf("{\"reps\": %u, \"default\": \"%s\", \"default_jumbo\": "
	       "\"%s\", \"rows\": [", reps, mw_crypto_default(1500 - 28)->name,
	       mw_crypto_default(9000 - 28)->name);
	a = 0;
	for (s = 0; s < 2; s++)
		for (b = 0; b < nb; b++)
			for (o = 0; o < OP_N; o++)
				if (gbps[b][s][o] > 0)
					printf("%s{\"body\": %zu, \"backend\": "
					       "\"%s\", \"op\": \"%s\", "
					       "\"gbps\": %.3f}",
					       a++ ? ", " : "", sizes[s],
					       o < OP_CRC ? backends[b]->name
							  : "none",
					       op_name[o], gbps[b][s][o]);
	printf("]}\n");
	return 0;
}
