/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto_int.h - what the backends tell mw_crypto_default() (crypto.c). */
#ifndef MW_CRYPTO_INT_H
#define MW_CRYPTO_INT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when intel-ipsec-mb runs its AVX-512 (VAES, 512-bit) code here. */
int mw_crypto_ipsecmb_avx512(void);

/* OpenSSL's HKDF-SHA256, the hkdf of every backend here. */
int mw_crypto_ossl_hkdf(const uint8_t *salt, size_t salt_len,
			const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
			size_t info_len, uint8_t *out, size_t out_len);

#endif /* MW_CRYPTO_INT_H */
