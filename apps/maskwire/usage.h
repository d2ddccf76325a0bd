/* SPDX-License-Identifier: BSD-3-Clause */
/* usage.h - the maskwire application's --help text. */
#ifndef MW_APP_USAGE_H
#define MW_APP_USAGE_H

#include <stdio.h>

/** Print the options and their defaults to f. */
void mw_app_usage(FILE *f);

#endif
