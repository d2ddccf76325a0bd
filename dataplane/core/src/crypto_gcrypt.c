/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * crypto_gcrypt.c - mw_crypto_ops with AES-256-GCM from libgcrypt (GnuPG's
 * library, Debian's libgcrypt20). On CPUs with VAES and VPCLMULQDQ but no
 * AVX-512 (AMD Zen 3, Intel Alder Lake) its AES runs on 256-bit vectors,
 * which neither OpenSSL 3.0 nor intel-ipsec-mb 1.3 does there: 1.2-1.5x
 * intel-ipsec-mb's speed on a jumbo frame's body, a little slower on a
 * 1500-byte frame's (bench/bench_crypto.c; mw_crypto_default()). HKDF stays
 * OpenSSL's. One cipher handle per key and direction, re-used for every
 * packet: only the IV changes.
 *
 * The library is initialised once (version check, no secure memory: keys
 * live in the handles, wiped by gcry_cipher_close), and only if the
 * process has not done it already.
 */
#include <pthread.h>
#include <stdlib.h>

#include <gcrypt.h>

#include "crypto_int.h"

#include "mw_crypto.h"
#include "mw_err.h"

static int gc_ok;
static pthread_once_t gc_once = PTHREAD_ONCE_INIT;

static void gc_setup(void)
{
	if (!gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P)) {
		if (!gcry_check_version(GCRYPT_VERSION))
			return;
		gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
		gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	}
	gc_ok = 1;
}

struct mw_aead {
	gcry_cipher_hd_t h;
	int enc;
};

static int gc_rekey(struct mw_aead *a, const uint8_t key[MW_AEAD_KEY_LEN])
{
	return gcry_cipher_setkey(a->h, key, MW_AEAD_KEY_LEN) ? MW_EIO : 0;
}

static void gc_free(struct mw_aead *a)
{
	if (!a)
		return;
	gcry_cipher_close(a->h);
	free(a);
}

static struct mw_aead *gc_new(const uint8_t key[MW_AEAD_KEY_LEN], int enc)
{
	struct mw_aead *a;

	pthread_once(&gc_once, gc_setup);
	if (!gc_ok)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->enc = enc;
	if (gcry_cipher_open(&a->h, GCRY_CIPHER_AES256, GCRY_CIPHER_MODE_GCM,
			     0)) {
		free(a);
		return NULL;
	}
	if (gc_rekey(a, key) < 0) {
		gc_free(a);
		return NULL;
	}
	return a;
}

/* IV, then the AAD pieces (GCM hashes them as one string), then the text
 * is marked final; the caller goes on with the payload. */
static int gc_start(struct mw_aead *a, const uint8_t *iv,
		    const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		    size_t aad2_len)
{
	if (gcry_cipher_setiv(a->h, iv, MW_AEAD_IV_LEN) ||
	    (aad1_len && gcry_cipher_authenticate(a->h, aad1, aad1_len)) ||
	    (aad2_len && gcry_cipher_authenticate(a->h, aad2, aad2_len)) ||
	    gcry_cipher_final(a->h))
		return MW_EIO;
	return 0;
}

static int gc_seal(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		   const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		   size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		   uint8_t tag[MW_AEAD_TAG_LEN])
{
	if (!a->enc || gc_start(a, iv, aad1, aad1_len, aad2, aad2_len) < 0)
		return MW_EIO;
	/* an empty text too: it ends the AAD, as the tag needs */
	if (gcry_cipher_encrypt(a->h, out, n, n ? in : NULL, n) ||
	    gcry_cipher_gettag(a->h, tag, MW_AEAD_TAG_LEN))
		return MW_EIO;
	return 0;
}

static int gc_open(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		   const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		   size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		   const uint8_t tag[MW_AEAD_TAG_LEN])
{
	gcry_error_t e;

	if (a->enc || gc_start(a, iv, aad1, aad1_len, aad2, aad2_len) < 0)
		return MW_EIO;
	if (gcry_cipher_decrypt(a->h, out, n, n ? in : NULL, n))
		return MW_EIO;
	e = gcry_cipher_checktag(a->h, tag, MW_AEAD_TAG_LEN);
	if (gcry_err_code(e) == GPG_ERR_CHECKSUM)
		return MW_EAUTH;
	return e ? MW_EIO : 0;
}

static const struct mw_crypto_ops gc_ops = {
	.name = "gcrypt-aes-256-gcm",
	.aead_new = gc_new,
	.aead_rekey = gc_rekey,
	.aead_free = gc_free,
	.seal = gc_seal,
	.open = gc_open,
	.hkdf = mw_crypto_ossl_hkdf,
};

const struct mw_crypto_ops *mw_crypto_gcrypt(void)
{
	pthread_once(&gc_once, gc_setup);
	return gc_ok ? &gc_ops : NULL;
}
