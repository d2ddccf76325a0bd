/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crypto.c - mw_crypto_ops over OpenSSL's libcrypto: AES-256-GCM through
 * EVP (one cipher context per key, re-used for every packet: only the IV
 * changes per packet) and HKDF-SHA256 through EVP_KDF.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "crypto_int.h"
#include "mw_crypto.h"
#include "mw_err.h"

struct mw_aead {
	EVP_CIPHER_CTX *ctx;
	int enc;
};

static int ossl_rekey(struct mw_aead *a, const uint8_t key[MW_AEAD_KEY_LEN])
{
	if (EVP_CipherInit_ex(a->ctx, EVP_aes_256_gcm(), NULL, NULL, NULL,
			      a->enc) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_IVLEN, MW_AEAD_IV_LEN,
				NULL) != 1 ||
	    EVP_CipherInit_ex(a->ctx, NULL, NULL, key, NULL, a->enc) != 1)
		return MW_EIO;
	return 0;
}

static void ossl_free(struct mw_aead *a)
{
	if (!a)
		return;
	EVP_CIPHER_CTX_free(a->ctx);
	free(a);
}

static struct mw_aead *ossl_new(const uint8_t key[MW_AEAD_KEY_LEN], int enc)
{
	struct mw_aead *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->enc = enc;
	a->ctx = EVP_CIPHER_CTX_new();
	if (!a->ctx || ossl_rekey(a, key) < 0) {
		ossl_free(a);
		return NULL;
	}
	return a;
}

/* IV, then the AAD pieces; the caller goes on with the payload. */
static int ossl_start(struct mw_aead *a, const uint8_t *iv,
		      const uint8_t *aad1, size_t aad1_len,
		      const uint8_t *aad2, size_t aad2_len)
{
	int outl;

	if (aad1_len > INT_MAX || aad2_len > INT_MAX ||
	    EVP_CipherInit_ex(a->ctx, NULL, NULL, NULL, iv, a->enc) != 1)
		return MW_EIO;
	if (aad1_len && EVP_CipherUpdate(a->ctx, NULL, &outl, aad1,
					 (int)aad1_len) != 1)
		return MW_EIO;
	if (aad2_len && EVP_CipherUpdate(a->ctx, NULL, &outl, aad2,
					 (int)aad2_len) != 1)
		return MW_EIO;
	return 0;
}

static int ossl_seal(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		     const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		     size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		     uint8_t tag[MW_AEAD_TAG_LEN])
{
	uint8_t fin[16]; /* GCM's final step writes nothing */
	int outl;

	if (!a->enc || n > INT_MAX ||
	    ossl_start(a, iv, aad1, aad1_len, aad2, aad2_len) < 0)
		return MW_EIO;
	if (n && EVP_CipherUpdate(a->ctx, out, &outl, in, (int)n) != 1)
		return MW_EIO;
	if (EVP_CipherFinal_ex(a->ctx, fin, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_GET_TAG, MW_AEAD_TAG_LEN,
				tag) != 1)
		return MW_EIO;
	return 0;
}

static int ossl_open(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		     const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		     size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		     const uint8_t tag[MW_AEAD_TAG_LEN])
{
	uint8_t fin[16];
	int outl;

	if (a->enc || n > INT_MAX ||
	    ossl_start(a, iv, aad1, aad1_len, aad2, aad2_len) < 0)
		return MW_EIO;
	if (n && EVP_CipherUpdate(a->ctx, out, &outl, in, (int)n) != 1)
		return MW_EIO;
	if (EVP_CIPHER_CTX_ctrl(a->ctx, EVP_CTRL_GCM_SET_TAG, MW_AEAD_TAG_LEN,
				(void *)(uintptr_t)tag) != 1)
		return MW_EIO;
	if (EVP_CipherFinal_ex(a->ctx, fin, &outl) != 1)
		return MW_EAUTH;
	return 0;
}

int mw_crypto_ossl_hkdf(const uint8_t *salt, size_t salt_len,
			const uint8_t *ikm, size_t ikm_len, const uint8_t *info,
			size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kc = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM ps[5], *q = ps;
	int rc = MW_EIO;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)(uintptr_t)ikm,
						 ikm_len);
	/* no salt: HKDF's default (HashLen zero bytes, RFC 5869) */
	if (salt_len)
		*q++ = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)(uintptr_t)salt, salt_len);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
						 (void *)(uintptr_t)info,
						 info_len);
	*q = OSSL_PARAM_construct_end();
	if (kc && EVP_KDF_derive(kc, out, out_len, ps) == 1)
		rc = 0;
	EVP_KDF_CTX_free(kc);
	EVP_KDF_free(kdf);
	return rc;
}

static const struct mw_crypto_ops ossl_ops = {
	.name = "openssl-aes-256-gcm",
	.aead_new = ossl_new,
	.aead_rekey = ossl_rekey,
	.aead_free = ossl_free,
	.seal = ossl_seal,
	.open = ossl_open,
	.hkdf = mw_crypto_ossl_hkdf,
};

const struct mw_crypto_ops *mw_crypto_openssl(void)
{
	return &ossl_ops;
}

#ifndef MW_HAVE_IPSECMB
const struct mw_crypto_ops *mw_crypto_ipsecmb(void)
{
	return NULL;
}

int mw_crypto_ipsecmb_avx512(void)
{
	return 0;
}
#endif

#ifndef MW_HAVE_GCRYPT
const struct mw_crypto_ops *mw_crypto_gcrypt(void)
{
	return NULL;
}
#endif

unsigned mw_crypto_backends(const struct mw_crypto_ops **out, unsigned cap)
{
	const struct mw_crypto_ops *all[3] = {&ossl_ops, mw_crypto_ipsecmb(),
					      mw_crypto_gcrypt()};
	unsigned i, n = 0;

	for (i = 0; i < 3 && n < cap; i++)
		if (all[i])
			out[n++] = all[i];
	return n;
}

/* A backend's short name is its full name without this. */
#define AEAD_SUFFIX "-aes-256-gcm"

const struct mw_crypto_ops *mw_crypto_by_name(const char *name)
{
	const struct mw_crypto_ops *all[3];
	unsigned i, n = mw_crypto_backends(all, 3);
	size_t len = strlen(name);

	for (i = 0; i < n; i++)
		if (!strcmp(name, all[i]->name) ||
		    (!strncmp(name, all[i]->name, len) &&
		     !strcmp(all[i]->name + len, AEAD_SUFFIX)))
			return all[i];
	return NULL;
}

/* VAES and VPCLMULQDQ (cpuid leaf 7, ECX bits 9 and 10), the 256-bit AES
 * and carry-less multiply libgcrypt uses without AVX-512, with AVX2 (and
 * so the OS's saving of the YMM registers). cpuid directly: clang 14's
 * __builtin_cpu_supports() does not know "vaes". */
static int cpu_vaes(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	unsigned a, b, c, d;

	if (!__builtin_cpu_supports("avx2") ||
	    !__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return 0;
	return (c >> 9 & 1) && (c >> 10 & 1);
#else
	return 0;
#endif
}

const struct mw_crypto_ops *mw_crypto_default(size_t max_datagram)
{
	const struct mw_crypto_ops *mb = mw_crypto_ipsecmb();
	const struct mw_crypto_ops *gc = mw_crypto_gcrypt();

	if (mb && mw_crypto_ipsecmb_avx512())
		return mb;
	if (gc && cpu_vaes() && max_datagram > MW_CRYPTO_JUMBO)
		return gc;
	if (mb)
		return mb;
	return gc ? gc : &ossl_ops;
}
