/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file keyfile.h
 * The pre-shared key file of --key (docs/PROTOCOL.md 12.2, README):
 * one line, the 32-byte key in base64 (44 characters), like WireGuard's
 * PSK files; made with `head -c 32 /dev/urandom | base64 > FILE` under
 * `umask 077`.
 *
 * The file must be a regular file owned by the user running maskwire (or
 * root) that neither the group nor others may read or write (mode 0600
 * or 0400): a key anyone on the host can read protects nothing.
 */
#ifndef MW_KEYFILE_H
#define MW_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define MW_KEYFILE_KEY_LEN 32u

/**
 * Load a key file.
 * @param path  the file.
 * @param key   out: the 32 key bytes.
 * @param err   out: why not, for the user (names the file and the fix).
 * @return 0; MW_EIO (cannot open or read), MW_EINVAL (permissions, owner,
 *         not a regular file), MW_EFORMAT (not one base64 line of 32
 *         bytes, or an all-zero key).
 */
int mw_keyfile_load(const char *path, uint8_t key[MW_KEYFILE_KEY_LEN],
		    char *err, size_t errlen);

#endif /* MW_KEYFILE_H */
