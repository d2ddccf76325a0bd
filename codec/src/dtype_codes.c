/* SPDX-License-Identifier: BSD-3-Clause */
/* The tensor files' dtype codes <-> enum mw_dtype (dtype_codes.h). */
#include <string.h>

#include "dtype_codes.h"

/* One row per dtype the files support; the first descr is the one written. */
static const struct {
	unsigned char dtype;  /* enum mw_dtype */
	unsigned char mwt;    /* .mwt header byte 11 */
	const char *descr[2]; /* .npy descr strings, NULL-padded */
} file_dtypes[] = {
	{ MW_DT_F32, MW_MWT_CODE_F32, { "<f4", NULL } },
	{ MW_DT_U8, MW_MWT_CODE_U8, { "|u1", "<u1" } },
};

#define NROWS (sizeof(file_dtypes) / sizeof(file_dtypes[0]))

int mw_mwt_dtype_code(unsigned dtype)
{
	for (size_t i = 0; i < NROWS; i++)
		if (file_dtypes[i].dtype == dtype)
			return file_dtypes[i].mwt;
	return MW_EUNSUPP;
}

int mw_mwt_dtype_of_code(unsigned code)
{
	for (size_t i = 0; i < NROWS; i++)
		if (file_dtypes[i].mwt == code)
			return file_dtypes[i].dtype;
	return MW_EUNSUPP;
}

const char *mw_npy_descr(unsigned dtype)
{
	for (size_t i = 0; i < NROWS; i++)
		if (file_dtypes[i].dtype == dtype)
			return file_dtypes[i].descr[0];
	return NULL;
}

int mw_npy_dtype_of_descr(const char *descr)
{
	if (descr == NULL)
		return MW_EUNSUPP;
	for (size_t i = 0; i < NROWS; i++)
		for (size_t j = 0; j < 2 && file_dtypes[i].descr[j]; j++)
			if (strcmp(descr, file_dtypes[i].descr[j]) == 0)
				return file_dtypes[i].dtype;
	return MW_EUNSUPP;
}
