/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file mw_err.h
 * maskwire's one error convention.
 *
 * Every library function that can fail returns a negative value from
 * enum mw_err on failure and 0 (or a non-negative count/size) on success.
 * mw_strerror() turns a code into a short human-readable string.
 * The list is an X-macro so that the enum and the strings never drift.
 */
#ifndef MW_ERR_H
#define MW_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, text) */
#define MW_ERR_LIST(X)                                                        \
	X(MW_OK, 0, "success")                                                \
	X(MW_EINVAL, -1, "invalid argument")                                  \
	X(MW_ENOSPC, -2, "output buffer too small")                           \
	X(MW_ENOMEM, -3, "out of memory")                                     \
	X(MW_ERANGE, -4, "value out of range")                                \
	X(MW_ENONFINITE, -5, "input holds NaN or Inf")                        \
	X(MW_ETRUNC, -6, "input truncated")                                   \
	X(MW_EBADMAGIC, -7, "bad magic number")                               \
	X(MW_EVERSION, -8, "unsupported version")                             \
	X(MW_EFORMAT, -9, "malformed input")                                  \
	X(MW_ECOUNT, -10, "sentinel count does not match values carried")     \
	X(MW_EUNSUPP, -11, "unsupported codec or parameter")                  \
	X(MW_EAGAIN, -12, "resource busy, try again")                         \
	X(MW_ELIMIT, -13, "configured limit exceeded")                        \
	X(MW_ENOENT, -14, "no such object")                                   \
	X(MW_ETIMEDOUT, -15, "timed out")                                     \
	X(MW_ERESET, -16, "peer restarted")                                   \
	X(MW_ESTATE, -17, "operation not valid in this state")                \
	X(MW_EIO, -18, "I/O error")                                           \
	X(MW_ECHECKSUM, -19, "checksum mismatch")                             \
	X(MW_EDUP, -20, "duplicate")                                          \
	X(MW_ECANCELED, -21, "canceled")                                      \
	X(MW_ESHUTDOWN, -22, "shut down")                                     \
	X(MW_EBUSY, -23, "in use by another process")                         \
	X(MW_ECHANGED, -24, "input changed while it was being read")         \
	X(MW_EAUTH, -25, "authentication failed")                             \
	X(MW_ESTALE, -26, "stale peer: its index names another peer now")

enum mw_err {
#define MW_ERR_ENUM_(name, value, text) name = (value),
	MW_ERR_LIST(MW_ERR_ENUM_)
#undef MW_ERR_ENUM_
};

/**
 * Describe an error code.
 * @param err  a value from enum mw_err (either sign is accepted).
 * @return a static string; "unknown error" for codes not in the list.
 */
const char *mw_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif /* MW_ERR_H */
