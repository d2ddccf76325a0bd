/* SPDX-License-Identifier: BSD-3-Clause */
/* The option-file tests' helper: a file with given text and mode in the
 * test's own temporary folder (needs mw_test.h). */
#ifndef MW_TFILE_H
#define MW_TFILE_H

#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write text to dir/name with mode (replacing it); the path, valid until
 * the next call. */
static inline const char *tfile_put(const char *dir, const char *name,
				    const char *text, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	CHECK(chmod(path, mode) == 0);
	return path;
}

#endif /* MW_TFILE_H */
