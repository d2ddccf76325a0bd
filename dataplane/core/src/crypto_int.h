/* SPDX-License-Identifier: BSD-3-Clause */
/* crypto_int.h - what the backends tell mw_crypto_default() (crypto.c). */
#ifndef MW_CRYPTO_INT_H
#define MW_CRYPTO_INT_H

/* 1 when intel-ipsec-mb runs its AVX-512 (VAES, 512-bit) code here. */
int mw_crypto_ipsecmb_avx512(void);

#endif /* MW_CRYPTO_INT_H */
