/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * secure.h - version-2 datagrams of a capture under a test key
 * (PROTOCOL.md 12): HELLO tags, session tags, the nonces learnt.
 */
#ifndef MW_PT_SECURE_H
#define MW_PT_SECURE_H

#include "keyfile.h"
#include "mw_crypto.h"
#include "pcaptool.h"

#define PT_SEC_IDENTS 256u /* identities whose nonce a scan remembers */

struct pt_sec {
	const struct mw_crypto_ops *ops;
	uint8_t psk[MW_KEYFILE_KEY_LEN];
	struct mw_ident id[PT_SEC_IDENTS];
	uint8_t nonce[PT_SEC_IDENTS][MW_SEC_NONCE_LEN];
	unsigned n;
};

/** Load the key file (maskwire's --key rules). @return 0 or -1 (err). */
int pt_sec_init(struct pt_sec *k, const char *keyfile, char *err,
		size_t errlen);
/**
 * A HELLO / HELLO_ACK datagram's tag under the key of its nonce (12.3).
 * @return 0, MW_EAUTH (does not verify), MW_EFORMAT (not a 108-byte
 *         version-2 datagram), MW_EIO/MW_ENOMEM (library).
 */
int pt_sec_hello(const struct pt_sec *k, const uint8_t *dg, size_t len);
/** Remember the nonce of a verified HELLO's src identity. */
void pt_sec_learn(struct pt_sec *k, const uint8_t *dg);
/**
 * A DATA / ACK / CLOSE datagram's tag under the session keys of its
 * identities, from the nonces learnt (12.3-12.5).
 * @return 0, MW_EAUTH, MW_ENOENT (no HELLO of one identity was seen),
 *         MW_EFORMAT, MW_EIO/MW_ENOMEM.
 */
int pt_sec_session(const struct pt_sec *k, const uint8_t *dg, size_t len);

#endif /* MW_PT_SECURE_H */
