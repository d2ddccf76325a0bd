/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_crypto.h
 * The primitives the transport core's secure mode (docs/PROTOCOL.md 12)
 * is built on: one AEAD (AES-256-GCM) and HKDF-SHA256, behind a table of
 * functions so that the core never names a library. maskwire's
 * implementations are OpenSSL's libcrypto (mw_crypto_openssl()),
 * intel-ipsec-mb and libgcrypt; another (a DPDK cryptodev) fits the same
 * table. No cipher is written
 * here: the table only adapts a library's calls.
 *
 * The table does no I/O and holds no global state; randomness is not part
 * of it (the core gets random bytes from its caller, mw_ep_config.rand).
 */
#ifndef MW_CRYPTO_H
#define MW_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MW_AEAD_KEY_LEN 32u /**< AES-256 key */
#define MW_AEAD_IV_LEN 12u  /**< GCM nonce */
#define MW_AEAD_TAG_LEN 16u /**< GCM tag */

/** One AEAD key in one direction (opaque; the implementation's). */
struct mw_aead;

/** An AEAD and a KDF. Every function returns 0 or a negative mw_err code. */
struct mw_crypto_ops {
	const char *name; /**< e.g. "openssl-aes-256-gcm" */
	/** A context for one key. @param enc 1 to seal, 0 to open.
	 *  @return NULL when out of memory. */
	struct mw_aead *(*aead_new)(const uint8_t key[MW_AEAD_KEY_LEN],
				    int enc);
	/** Change a context's key (same direction). */
	int (*aead_rekey)(struct mw_aead *a,
			  const uint8_t key[MW_AEAD_KEY_LEN]);
	void (*aead_free)(struct mw_aead *a);
	/**
	 * Seal: authenticate aad1 | aad2 (either may be empty) and encrypt
	 * in[0..n) to out[0..n) (in == out allowed; n may be 0), writing the
	 * tag. @return 0, or MW_EIO if the library failed.
	 */
	int (*seal)(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		    const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		    size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		    uint8_t tag[MW_AEAD_TAG_LEN]);
	/**
	 * Open: the inverse. out is only meaningful on success.
	 * @return 0, or MW_EAUTH if the tag does not verify.
	 */
	int (*open)(struct mw_aead *a, const uint8_t iv[MW_AEAD_IV_LEN],
		    const uint8_t *aad1, size_t aad1_len, const uint8_t *aad2,
		    size_t aad2_len, const uint8_t *in, uint8_t *out, size_t n,
		    const uint8_t tag[MW_AEAD_TAG_LEN]);
	/** HKDF-SHA256 (RFC 5869), extract then expand: out_len <= 255*32.
	 *  @return 0 or MW_EIO. */
	int (*hkdf)(const uint8_t *salt, size_t salt_len, const uint8_t *ikm,
		    size_t ikm_len, const uint8_t *info, size_t info_len,
		    uint8_t *out, size_t out_len);
};

/** OpenSSL libcrypto: AES-256-GCM, HKDF-SHA256. */
const struct mw_crypto_ops *mw_crypto_openssl(void);

/** intel-ipsec-mb's AES-256-GCM (the same AEAD, faster here), OpenSSL's
 *  HKDF. @return NULL when maskwire was built without libipsec-mb or
 *  the library does not run on this CPU. */
const struct mw_crypto_ops *mw_crypto_ipsecmb(void);

/** libgcrypt's AES-256-GCM (256-bit VAES on CPUs that have it without
 *  AVX-512), OpenSSL's HKDF. @return NULL when maskwire was built without
 *  libgcrypt or the library did not initialise. */
const struct mw_crypto_ops *mw_crypto_gcrypt(void);

/** The backends this build has that run here, at most cap of them, in
 *  the order OpenSSL, ipsec-mb, gcrypt. @return how many were written. */
unsigned mw_crypto_backends(const struct mw_crypto_ops **out, unsigned cap);

/** The backend named name ("openssl", "ipsec-mb", "gcrypt", or an ops'
 *  full name), or NULL if this build has none such that runs here. */
const struct mw_crypto_ops *mw_crypto_by_name(const char *name);

/** The fastest backend for this CPU and datagram size, by a fixed rule
 *  (no timing): ipsec-mb where it runs its AVX-512 code; else, for
 *  datagrams over MW_CRYPTO_JUMBO bytes, gcrypt where the CPU has VAES and
 *  VPCLMULQDQ; else ipsec-mb; else gcrypt; else OpenSSL. (Measured on
 *  AMD EPYC with AVX2 and VAES, bench/bench_crypto.c, backends
 *  interleaved: at 1308-byte bodies ipsec-mb seals 1.1-1.2x faster than
 *  gcrypt, at 8808 gcrypt 1.2-1.5x faster than ipsec-mb.) All compute
 *  the same bytes: peers need not agree on it.
 *  @param max_datagram the endpoint's largest datagram (its UDP payload) */
const struct mw_crypto_ops *mw_crypto_default(size_t max_datagram);

/** Above this many bytes a datagram counts as jumbo for the rule of
 *  mw_crypto_default(). */
#define MW_CRYPTO_JUMBO 4096u

#ifdef __cplusplus
}
#endif

#endif /* MW_CRYPTO_H */
