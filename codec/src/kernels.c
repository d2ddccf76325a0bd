/* SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

#ifdef MW_HAVE_AVX2
static int cpu_avx2(void)
{
	return __builtin_cpu_supports("avx2") &&
	       __builtin_cpu_supports("popcnt");
}

/* The AVX-512 extensions the set uses (it also needs cpu_avx2()). */
static int cpu_avx512(void)
{
	return __builtin_cpu_supports("avx512f") &&
	       __builtin_cpu_supports("avx512bw") &&
	       __builtin_cpu_supports("avx512vl") &&
	       __builtin_cpu_supports("avx512dq");
}
#endif

const struct mw_kernels *mw_kernels_get(enum mw_simd_level level)
{
	switch (level) {
	case MW_SIMD_SCALAR:
		return &mw_kernels_scalar;
#ifdef MW_HAVE_AVX2
	case MW_SIMD_AVX2:
		return cpu_avx2() ? &mw_kernels_avx2 : NULL;
	case MW_SIMD_AVX512:
		return cpu_avx2() && cpu_avx512() ? &mw_kernels_avx512 : NULL;
	default:
		if (!cpu_avx2())
			return &mw_kernels_scalar;
		return cpu_avx512() ? &mw_kernels_avx512 : &mw_kernels_avx2;
#else
	case MW_SIMD_AUTO:
		return &mw_kernels_scalar;
	default:
		return NULL;
#endif
	}
}

unsigned mw_kernels_all(const struct mw_kernels **ks, unsigned max)
{
	static const enum mw_simd_level lv[] = {MW_SIMD_SCALAR, MW_SIMD_AVX2,
						MW_SIMD_AVX512};
	unsigned n = 0;

	for (unsigned i = 0; i < sizeof(lv) / sizeof(lv[0]) && n < max; i++) {
		const struct mw_kernels *k = mw_kernels_get(lv[i]);

		if (k)
			ks[n++] = k;
	}
	return n;
}

const char *mw_codec_simd_name(void)
{
	return mw_kernels_get(MW_SIMD_AUTO)->name;
}
