/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * expect_secure.h - `expect` for version-2 captures (PROTOCOL.md 12).
 */
#ifndef MW_PT_EXPECT_SECURE_H
#define MW_PT_EXPECT_SECURE_H

#include "pcaptool.h"

/** Does a maskwire datagram of the capture (either way) carry version 2? */
bool pt_capture_is_secure(const struct pt_sess *s, const struct pt_cap *c);

/**
 * The JSON of a secure capture: what verifies under the key (both
 * directions) and what a fresh receiver counts for the peer's datagrams.
 * @return 0, 1 (the key file), 3 (out of memory).
 */
int pt_expect_secure(const struct pt_sess *s, const struct pt_cap *c,
		     const char *keyfile, FILE *o);

#endif /* MW_PT_EXPECT_SECURE_H */
