/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Private to the codec library and its tests: the tensor files' own names
 * for element types, converted to and from enum mw_dtype (mw_dtype.h) in
 * this one place. .mwt stores a code in header byte 11 (1 float32,
 * 2 uint8: the file format's numbers, kept as they are); .npy stores a
 * NumPy descr string ('<f4', '|u1'). The files support MW_DT_F32 and
 * MW_DT_U8 only.
 */
#ifndef MW_CODEC_DTYPE_CODES_H
#define MW_CODEC_DTYPE_CODES_H

#include "mw_codec.h"

/** .mwt dtype codes (header byte 11). */
#define MW_MWT_CODE_F32 1u
#define MW_MWT_CODE_U8 2u

/**
 * The .mwt code of a dtype.
 * @return MW_MWT_CODE_F32 or MW_MWT_CODE_U8, or MW_EUNSUPP (no code).
 */
int mw_mwt_dtype_code(unsigned dtype);

/**
 * The dtype of a .mwt code (untrusted: read from a file).
 * @return an enum mw_dtype value, or MW_EUNSUPP (unknown code).
 */
int mw_mwt_dtype_of_code(unsigned code);

/**
 * The descr mw_npy_write_header() writes for a dtype.
 * @return a static string ("<f4", "|u1"), or NULL (not supported).
 */
const char *mw_npy_descr(unsigned dtype);

/**
 * The dtype of a .npy descr string (untrusted: read from a file); '<u1'
 * is accepted as an alias of '|u1'.
 * @return an enum mw_dtype value, or MW_EUNSUPP (other descr, NULL).
 */
int mw_npy_dtype_of_descr(const char *descr);

#endif /* MW_CODEC_DTYPE_CODES_H */
