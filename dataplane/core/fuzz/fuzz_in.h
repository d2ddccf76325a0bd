/* SPDX-License-Identifier: BSD-3-Clause */
/* The fuzz harnesses' input: a byte stream read one decision at a time;
 * an exhausted input reads as zeros, so every input is a whole scenario. */
#ifndef MW_FUZZ_IN_H
#define MW_FUZZ_IN_H

#include <stddef.h>
#include <stdint.h>

struct mw_fuzz_in {
	const uint8_t *p;
	size_t n;
};

/* The next input byte (0 when the input is exhausted), modulo mod (0: the
 * byte itself). */
static inline unsigned take(struct mw_fuzz_in *in, unsigned mod)
{
	unsigned v;

	if (in->n == 0)
		return 0;
	v = in->p[0];
	in->p++;
	in->n--;
	return mod ? v % mod : v;
}

#endif /* MW_FUZZ_IN_H */
