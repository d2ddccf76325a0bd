/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * secure.c - version-2 captures under a test key (PROTOCOL.md 12).
 *
 * The key schedule of 12.3-12.5 written again from the text, not by
 * calling the transport: a HELLO's tag under the key of its nonce; the
 * session keys of two identities from the nonces their HELLOs carried;
 * the epoch keys; the AEAD over the header, body and sequence number.
 * So `expect` can say that every packet of a capture verifies, and
 * `mutate` can check that what it alters does not.
 */
#include <string.h>

#include "secure.h"

int pt_sec_init(struct pt_sec *k, const char *keyfile, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	k->ops = mw_crypto_openssl();
	if (mw_keyfile_load(keyfile, k->psk, err, errlen) < 0)
		return -1;
	return 0;
}

/* key | iv of epoch e of a secret (12.4). */
static int epoch_key(const struct pt_sec *k, const uint8_t secret[32],
		     uint64_t e, uint8_t km[MW_AEAD_KEY_LEN + MW_AEAD_IV_LEN])
{
	static const char lbl[] = "maskwire 2 epoch";
	uint8_t info[sizeof(lbl) - 1 + 8];

	memcpy(info, lbl, sizeof(lbl) - 1);
	mw_put64(info + sizeof(lbl) - 1, e);
	return k->ops->hkdf(NULL, 0, secret, 32, info, sizeof(info), km,
			    MW_AEAD_KEY_LEN + MW_AEAD_IV_LEN);
}

/* Verify (and in encrypt mode decrypt, into nothing kept) dg[0..len)
 * under secret: the AAD and ciphertext split of 12.5. */
static int open_under(const struct pt_sec *k, const uint8_t secret[32],
		      const uint8_t *dg, size_t len, int whole)
{
	uint8_t km[MW_AEAD_KEY_LEN + MW_AEAD_IV_LEN], iv[MW_AEAD_IV_LEN];
	static uint8_t scratch[65536];
	uint64_t sn = mw_get64(dg + len - MW_SEC_TRAILER_LEN);
	size_t body = len - MW_SEC_TRAILER_LEN;
	struct mw_aead *a;
	int rc;

	if (epoch_key(k, secret, sn >> 23, km) < 0)
		return MW_EIO;
	a = k->ops->aead_new(km, 0);
	if (!a)
		return MW_ENOMEM;
	memcpy(iv, km + MW_AEAD_KEY_LEN, MW_AEAD_IV_LEN);
	for (unsigned i = 0; i < 8; i++)
		iv[4 + i] ^= (uint8_t)(sn >> (56 - 8 * i));
	if (whole)
		rc = k->ops->open(a, iv, dg, body + MW_SEC_SN_LEN, NULL, 0,
				  NULL, NULL, 0, dg + len - MW_SEC_TAG_LEN);
	else
		rc = k->ops->open(a, iv, dg, MW_WIRE_HDR_LEN, dg + body,
				  MW_SEC_SN_LEN, dg + MW_WIRE_HDR_LEN, scratch,
				  body - MW_WIRE_HDR_LEN,
				  dg + len - MW_SEC_TAG_LEN);
	k->ops->aead_free(a);
	memset(km, 0, sizeof(km));
	return rc;
}

static uint8_t mode_of(const uint8_t *dg)
{
	return (mw_get16(dg + MW_OFF_FLAGS) & MW_FLAG_CLEAR) ? 2 : 1;
}

int pt_sec_hello(const struct pt_sec *k, const uint8_t *dg, size_t len)
{
	static const char lbl[] = "maskwire 2 hello";
	uint8_t info[sizeof(lbl)], secret[32];

	if (len != MW_SEC_HELLO_LEN ||
	    dg[MW_OFF_VERSION] != MW_WIRE_VERSION_SEC)
		return MW_EFORMAT;
	memcpy(info, lbl, sizeof(lbl) - 1);
	info[sizeof(lbl) - 1] = mode_of(dg);
	if (k->ops->hkdf(dg + MW_WIRE_HELLO_LEN, MW_SEC_NONCE_LEN, k->psk,
			 sizeof(k->psk), info, sizeof(info), secret, 32) < 0)
		return MW_EIO;
	return open_under(k, secret, dg, len, 1);
}

void pt_sec_learn(struct pt_sec *k, const uint8_t *dg)
{
	struct mw_ident id = { mw_get32(dg + MW_OFF_SRC_INC),
			       mw_get32(dg + MW_OFF_SRC_GEN) };

	for (unsigned i = 0; i < k->n; i++)
		if (k->id[i].inc == id.inc && k->id[i].gen == id.gen)
			return;
	if (k->n == PT_SEC_IDENTS)
		return;
	k->id[k->n] = id;
	memcpy(k->nonce[k->n], dg + MW_WIRE_HELLO_LEN, MW_SEC_NONCE_LEN);
	k->n++;
}

static const uint8_t *nonce_of(const struct pt_sec *k, uint32_t inc,
			       uint32_t gen)
{
	for (unsigned i = 0; i < k->n; i++)
		if (k->id[i].inc == inc && k->id[i].gen == gen)
			return k->nonce[i];
	return NULL;
}

int pt_sec_session(const struct pt_sec *k, const uint8_t *dg, size_t len)
{
	static const char lbl[] = "maskwire 2 data";
	uint8_t salt[2 * MW_SEC_NONCE_LEN], info[sizeof(lbl) - 1 + 1 + 16];
	uint8_t secret[32];
	const uint8_t *ns, *nd;
	size_t o = sizeof(lbl) - 1;

	if (len < MW_WIRE_HDR_LEN + MW_SEC_TRAILER_LEN ||
	    dg[MW_OFF_VERSION] != MW_WIRE_VERSION_SEC)
		return MW_EFORMAT;
	ns = nonce_of(k, mw_get32(dg + MW_OFF_SRC_INC),
		      mw_get32(dg + MW_OFF_SRC_GEN));
	nd = nonce_of(k, mw_get32(dg + MW_OFF_DST_INC),
		      mw_get32(dg + MW_OFF_DST_GEN));
	if (!ns || !nd)
		return MW_ENOENT;
	memcpy(salt, ns, MW_SEC_NONCE_LEN);
	memcpy(salt + MW_SEC_NONCE_LEN, nd, MW_SEC_NONCE_LEN);
	memcpy(info, lbl, o);
	info[o++] = mode_of(dg);
	/* S.inc | S.gen | D.inc | D.gen, as they are in the header */
	mw_put32(info + o, mw_get32(dg + MW_OFF_SRC_INC));
	mw_put32(info + o + 4, mw_get32(dg + MW_OFF_SRC_GEN));
	mw_put32(info + o + 8, mw_get32(dg + MW_OFF_DST_INC));
	mw_put32(info + o + 12, mw_get32(dg + MW_OFF_DST_GEN));
	if (k->ops->hkdf(salt, sizeof(salt), k->psk, sizeof(k->psk), info,
			 sizeof(info), secret, 32) < 0)
		return MW_EIO;
	return open_under(k, secret, dg, len, mode_of(dg) == 2);
}
