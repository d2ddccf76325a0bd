/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for the AEAD libraries (crypto.c, crypto_ipsecmb.c,
 * crypto_gcrypt.c): the names and the default rule, a known answer, and
 * that every library opens what every other sealed.
 */
#include <stdio.h>
#include <string.h>

#include "mw_crypto.h"
#include "mw_err.h"
#include "mw_test.h"
#include "test_rand.h"

/* The AEAD implementations compute the same bytes: each opens what the
 * other sealed, with the AAD in one or two pieces, and refuses any
 * change. Known answer: RFC-style test vector of AES-256-GCM (the
 * McGrew-Viega test case 14: zero key, zero IV, 16 zero bytes). */
static void test_backends(void)
{
	static const uint8_t kat_ct[16] = {
		0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
		0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18};
	static const uint8_t kat_tag[16] = {
		0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
		0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19};
	const struct mw_crypto_ops *ops[3];
	uint8_t key[32], iv[12], aad[64], pt[1500], ct[1500], back[1500];
	uint8_t tag[16], tag2[16];
	unsigned s, o, n, k, nb = mw_crypto_backends(ops, 3);

	CHECK(nb >= 1 && ops[0] == mw_crypto_openssl());
	CHECK(mw_crypto_default(1472) != NULL);
	CHECK(mw_crypto_default(8972) != NULL);
	/* the rule: gcrypt only above MW_CRYPTO_JUMBO, where it runs */
	CHECK(mw_crypto_default(1472) != mw_crypto_gcrypt() ||
	      !mw_crypto_ipsecmb());
	for (k = 0; k < nb; k++)
		CHECK(mw_crypto_by_name(ops[k]->name) == ops[k]);
	CHECK(mw_crypto_by_name("openssl") == mw_crypto_openssl());
	CHECK(mw_crypto_by_name("gcrypt") == mw_crypto_gcrypt());
	CHECK(mw_crypto_by_name("ipsec-mb") == mw_crypto_ipsecmb());
	CHECK(mw_crypto_by_name("aes") == NULL);
	CHECK(mw_crypto_by_name("open") == NULL);
	CHECK(mw_crypto_by_name("") == NULL);
	printf("test_crypto: %u backends, default %s, for jumbo datagrams %s\n",
	       nb, mw_crypto_default(1472)->name,
	       mw_crypto_default(8972)->name);
	for (k = 0; k < nb; k++) {
		struct mw_aead *e;

		memset(key, 0, sizeof(key));
		memset(iv, 0, sizeof(iv));
		memset(pt, 0, 16);
		e = ops[k]->aead_new(key, 1);
		CHECK(e && ops[k]->seal(e, iv, NULL, 0, NULL, 0, pt, ct, 16,
					tag) == 0);
		CHECK(memcmp(ct, kat_ct, 16) == 0 &&
		      memcmp(tag, kat_tag, 16) == 0);
		ops[k]->aead_free(e);
	}
	for (n = 0; n < 1500; n += 97) {
		test_rand(NULL, key, sizeof(key));
		test_rand(NULL, iv, sizeof(iv));
		test_rand(NULL, aad, sizeof(aad));
		test_rand(NULL, pt, n);
		for (s = 0; s < nb; s++)
			for (o = 0; o < nb; o++) {
				struct mw_aead *e = ops[s]->aead_new(key, 1);
				struct mw_aead *d = ops[o]->aead_new(key, 0);

				CHECK(e && d);
				CHECK(ops[s]->seal(e, iv, aad, 28, aad + 28, 8,
						   pt, ct, n, tag) == 0);
				/* one piece or two: the same AAD */
				CHECK(ops[o]->open(d, iv, aad, 36, NULL, 0, ct,
						   back, n, tag) == 0);
				CHECK(n == 0 || memcmp(back, pt, n) == 0);
				tag[n % 16] ^= 1;
				CHECK(ops[o]->open(d, iv, aad, 36, NULL, 0, ct,
						   back, n, tag) == MW_EAUTH);
				tag[n % 16] ^= 1;
				aad[3] ^= 4;
				CHECK(ops[o]->open(d, iv, aad, 36, NULL, 0, ct,
						   back, n, tag) == MW_EAUTH);
				aad[3] ^= 4;
				/* in place, as the core seals: the same bytes */
				memcpy(back, pt, n);
				CHECK(ops[s]->seal(e, iv, aad, 36, NULL, 0, back,
						   back, n, tag2) == 0);
				CHECK(memcmp(tag2, tag, 16) == 0 &&
				      (n == 0 || memcmp(back, ct, n) == 0));
				CHECK(ops[o]->open(d, iv, aad, 36, NULL, 0, back,
						   back, n, tag) == 0);
				CHECK(n == 0 || memcmp(back, pt, n) == 0);
				ops[s]->aead_free(e);
				ops[o]->aead_free(d);
			}
	}
	/* Integrity mode's shape: a whole packet as the only AAD, no text
	 * (a backend may compute it as GMAC). */
	for (n = 0; n <= sizeof(pt); n += 61) {
		uint8_t t[3][16];

		test_rand(NULL, key, sizeof(key));
		test_rand(NULL, iv, sizeof(iv));
		test_rand(NULL, pt, sizeof(pt));
		for (s = 0; s < nb; s++) {
			struct mw_aead *e = ops[s]->aead_new(key, 1);

			CHECK(e && ops[s]->seal(e, iv, pt, n, NULL, 0, NULL,
						NULL, 0, t[s]) == 0);
			CHECK(memcmp(t[0], t[s], 16) == 0);
			/* in two pieces, split anywhere (a compact DATA's
			 * identities and header, then the rest: 5.6) */
			for (k = 0; k <= n; k += 1 + n / 7) {
				uint8_t t2[16];

				CHECK(ops[s]->seal(e, iv, pt, k, pt + k, n - k,
						   NULL, NULL, 0, t2) == 0);
				CHECK(memcmp(t2, t[0], 16) == 0);
			}
			ops[s]->aead_free(e);
		}
		for (o = 0; o < nb; o++) {
			struct mw_aead *d = ops[o]->aead_new(key, 0);

			CHECK(d && ops[o]->open(d, iv, pt, n, NULL, 0, NULL,
						NULL, 0, t[0]) == 0);
			CHECK(ops[o]->open(d, iv, pt, n / 3, pt + n / 3,
					   n - n / 3, NULL, NULL, 0, t[0]) == 0);
			if (n) {
				pt[n - 1] ^= 0x80;
				CHECK(ops[o]->open(d, iv, pt, n, NULL, 0, NULL,
						   NULL, 0, t[0]) == MW_EAUTH);
				pt[n - 1] ^= 0x80;
			}
			ops[o]->aead_free(d);
		}
	}
}

int main(void)
{
	test_backends();
	return mw_test_exit("test_crypto");
}
