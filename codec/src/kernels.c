/* SPDX-License-Identifier: BSD-3-Clause */
#include "internal.h"

const struct mw_kernels *mw_kernels_get(enum mw_simd_level level)
{
#ifdef MW_HAVE_AVX2
	if (level == MW_SIMD_AUTO && __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("popcnt"))
		return &mw_kernels_avx2;
#else
	(void)level;
#endif
	return &mw_kernels_scalar;
}

const char *mw_codec_simd_name(void)
{
	return mw_kernels_get(MW_SIMD_AUTO)->name;
}
