/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tensor files' dtype codes (codec/src/dtype_codes.c): .mwt's header
 * byte and .npy's descr strings to and from enum mw_dtype, both ways, for
 * every dtype and every code a file may hold.
 */
#include <string.h>

#include "dtype_codes.h"
#include "mw_test.h"

static void test_mwt_codes(void)
{
	/* the file format's numbers (docs/CODEC.md), not enum mw_dtype's */
	CHECK_EQ(mw_mwt_dtype_code(MW_DT_F32), 1);
	CHECK_EQ(mw_mwt_dtype_code(MW_DT_U8), 2);
	CHECK_EQ(mw_mwt_dtype_of_code(1), MW_DT_F32);
	CHECK_EQ(mw_mwt_dtype_of_code(2), MW_DT_U8);
	/* every other dtype has no code; every other code no dtype */
	for (unsigned t = 0; t <= MW_DT_COUNT_; t++) {
		int code = mw_mwt_dtype_code(t);

		if (t == MW_DT_F32 || t == MW_DT_U8)
			CHECK_EQ(mw_mwt_dtype_of_code((unsigned)code), t);
		else
			CHECK_EQ(code, MW_EUNSUPP);
	}
	for (unsigned code = 0; code < 256; code++) {
		int t = mw_mwt_dtype_of_code(code);

		if (code == 1 || code == 2)
			CHECK_EQ(mw_mwt_dtype_code((unsigned)t), code);
		else
			CHECK_EQ(t, MW_EUNSUPP);
	}
}

static void test_npy_descrs(void)
{
	static const char *const bad[] = {
		"", "<f8", ">f4", "=f4", "f4", "<i8", "|b1", "|u2", "<f2",
		"<f4 ", "|u1\n", "<F4",
	};

	CHECK(strcmp(mw_npy_descr(MW_DT_F32), "<f4") == 0);
	CHECK(strcmp(mw_npy_descr(MW_DT_U8), "|u1") == 0);
	CHECK_EQ(mw_npy_dtype_of_descr("<f4"), MW_DT_F32);
	CHECK_EQ(mw_npy_dtype_of_descr("|u1"), MW_DT_U8);
	CHECK_EQ(mw_npy_dtype_of_descr("<u1"), MW_DT_U8);
	for (unsigned t = 0; t <= MW_DT_COUNT_; t++) {
		const char *d = mw_npy_descr(t);

		if (t == MW_DT_F32 || t == MW_DT_U8)
			CHECK(d && mw_npy_dtype_of_descr(d) == (int)t);
		else
			CHECK(d == NULL);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(mw_npy_dtype_of_descr(bad[i]), MW_EUNSUPP);
	CHECK_EQ(mw_npy_dtype_of_descr(NULL), MW_EUNSUPP);
}

int main(void)
{
	test_mwt_codes();
	test_npy_descrs();
	return mw_test_exit("test_dtype_codes");
}
