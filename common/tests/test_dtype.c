/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for mw_dtype.h: the numbers (fixed by the wire format and the
 * shared-memory ABI), the sizes, and names that parse back to their type. */
#include <stdint.h>

#include "mw_dtype.h"
#include "mw_err.h"
#include "mw_test.h"

/* docs/PROTOCOL.md 5.2 and docs/SHM.md: these numbers are on the wire. */
_Static_assert(MW_DT_F32 == 0 && MW_DT_F16 == 1 && MW_DT_BF16 == 2 &&
		       MW_DT_F64 == 3 && MW_DT_U8 == 4 && MW_DT_I8 == 5 &&
		       MW_DT_I16 == 6 && MW_DT_I32 == 7 && MW_DT_I64 == 8 &&
		       MW_DT_BOOL == 9 && MW_DT_COUNT_ == 10,
	       "dtype numbers are part of the wire format and the shm ABI");

static void test_sizes(void)
{
	/* PROTOCOL.md 5.2: "sizes 4,2,2,8,1,1,2,4,8,1 in dtype order" */
	static const unsigned want[MW_DT_COUNT_] = {4, 2, 2, 8, 1,
						    1, 2, 4, 8, 1};

	for (unsigned t = 0; t < MW_DT_COUNT_; t++)
		CHECK_EQ(mw_dtype_size(t), want[t]);
	CHECK_EQ(mw_dtype_size(MW_DT_COUNT_), 0);
	CHECK_EQ(mw_dtype_size(255), 0);
	CHECK_EQ(mw_dtype_size(UINT32_MAX), 0);
}

static void test_names(void)
{
	CHECK(strcmp(mw_dtype_name(MW_DT_F32), "f32") == 0);
	CHECK(strcmp(mw_dtype_name(MW_DT_BF16), "bf16") == 0);
	CHECK(strcmp(mw_dtype_name(MW_DT_BOOL), "bool") == 0);
	CHECK(strcmp(mw_dtype_name(MW_DT_COUNT_), "?") == 0);
	CHECK(strcmp(mw_dtype_name(UINT32_MAX), "?") == 0);
	/* every name parses back to its type, and names are distinct */
	for (unsigned t = 0; t < MW_DT_COUNT_; t++) {
		CHECK_EQ(mw_dtype_from_name(mw_dtype_name(t)), t);
		for (unsigned u = 0; u < t; u++)
			CHECK(strcmp(mw_dtype_name(t), mw_dtype_name(u)) != 0);
	}
	CHECK_EQ(mw_dtype_from_name(NULL), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name(""), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name("?"), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name("F32"), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name("f3"), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name("f32 "), MW_EINVAL);
	CHECK_EQ(mw_dtype_from_name("float32"), MW_EINVAL);
}

int main(void)
{
	test_sizes();
	test_names();
	return mw_test_exit("test_dtype");
}
