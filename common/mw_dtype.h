/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_dtype.h
 * Tensor element types: the one list every part of the tree uses. The
 * numbers are the wire format's DATA dtype byte (docs/PROTOCOL.md 5.2) and
 * the shared-memory descriptor's dtype byte (mw_shm.h, docs/SHM.md): they
 * are on the wire and in the ABI, so an entry is never renumbered or
 * reused; new types get new numbers.
 *
 * The tensor files have codes of their own (.mwt: a header byte, .npy: a
 * descr string such as '<f4'); the codec converts them to and from this
 * enum in one place (codec/src/dtype_codes.c).
 *
 * Header-only (static inline, no library), so that mw_shm.h can include it
 * and still be mapped by a process that links nothing of maskwire.
 */
#ifndef MW_COMMON_DTYPE_H
#define MW_COMMON_DTYPE_H

#include <string.h>

#include "mw_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enumerator, number, name, element size in bytes) */
#define MW_DT_LIST(X)                                                         \
	X(MW_DT_F32, 0, "f32", 4)                                             \
	X(MW_DT_F16, 1, "f16", 2)                                             \
	X(MW_DT_BF16, 2, "bf16", 2)                                           \
	X(MW_DT_F64, 3, "f64", 8)                                             \
	X(MW_DT_U8, 4, "u8", 1)                                               \
	X(MW_DT_I8, 5, "i8", 1)                                               \
	X(MW_DT_I16, 6, "i16", 2)                                             \
	X(MW_DT_I32, 7, "i32", 4)                                             \
	X(MW_DT_I64, 8, "i64", 8)                                             \
	X(MW_DT_BOOL, 9, "bool", 1)

/** Element types. All are little-endian in buffers and payloads. */
enum mw_dtype {
#define MW_DT_ENUM_(e, num, name, size) e = (num),
	MW_DT_LIST(MW_DT_ENUM_)
#undef MW_DT_ENUM_
	MW_DT_COUNT_ /**< number of types; every value below it is valid */
};

/**
 * Size of one element.
 * @param dtype  any value (untrusted input is fine).
 * @return bytes (1, 2, 4 or 8), or 0 if dtype is not an enum mw_dtype: the
 *         caller rejects the tensor.
 */
static inline unsigned mw_dtype_size(unsigned dtype)
{
	switch (dtype) {
#define MW_DT_SIZE_(e, num, name, size)                                       \
	case (num):                                                           \
		return (size);
		MW_DT_LIST(MW_DT_SIZE_)
#undef MW_DT_SIZE_
	default:
		return 0;
	}
}

/**
 * Short name of a dtype ("f32", "u8", "bool", ...), as logs and JSON
 * reports print it.
 * @param dtype  any value.
 * @return a static string; "?" if dtype is not an enum mw_dtype.
 */
static inline const char *mw_dtype_name(unsigned dtype)
{
	switch (dtype) {
#define MW_DT_NAME_(e, num, name, size)                                       \
	case (num):                                                           \
		return (name);
		MW_DT_LIST(MW_DT_NAME_)
#undef MW_DT_NAME_
	default:
		return "?";
	}
}

/**
 * Parse a dtype name, the inverse of mw_dtype_name().
 * @param name  a NUL-terminated string; NULL is accepted.
 * @return the enum mw_dtype value, or MW_EINVAL (NULL or an unknown name:
 *         the caller reports it, e.g. listing the names above).
 */
static inline int mw_dtype_from_name(const char *name)
{
	if (name == NULL)
		return MW_EINVAL;
#define MW_DT_PARSE_(e, num, nm, size)                                        \
	if (strcmp(name, (nm)) == 0)                                          \
		return (num);
	MW_DT_LIST(MW_DT_PARSE_)
#undef MW_DT_PARSE_
	return MW_EINVAL;
}

#ifdef __cplusplus
}
#endif
#endif /* MW_COMMON_DTYPE_H */
