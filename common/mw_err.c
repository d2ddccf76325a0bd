/* SPDX-License-Identifier: BSD-3-Clause */
#include "mw_err.h"

const char *mw_strerror(int err)
{
	if (err > 0)
		err = -err;
	switch (err) {
#define MW_ERR_CASE_(name, value, text)                                       \
	case (value):                                                         \
		return (text);
		MW_ERR_LIST(MW_ERR_CASE_)
#undef MW_ERR_CASE_
	default:
		return "unknown error";
	}
}
