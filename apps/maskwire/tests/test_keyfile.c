/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for the --key file loader (keyfile.c): the format and the
 * permission checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"
#include "mw_err.h"
#include "mw_test.h"
#include "tfile.h"

static char dir[] = "/tmp/mw_keyfile_XXXXXX";

static const char *put(const char *name, const char *text, mode_t mode)
{
	return tfile_put(dir, name, text, mode);
}

int main(void)
{
	/* 32 bytes 0x00 .. 0x1f */
	static const char good[] =
		"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
	uint8_t key[32];
	char err[512];
	unsigned i;
	int ok = 1;

	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ(mw_keyfile_load(put("k", good, 0600), key, err, sizeof(err)),
		 0);
	for (i = 0; i < 32; i++)
		ok &= key[i] == i;
	CHECK(ok);
	CHECK_EQ(mw_keyfile_load(put("k", good, 0400), key, err, sizeof(err)),
		 0);
	/* readable by others or the group: refused, with the fix */
	CHECK_EQ(mw_keyfile_load(put("k", good, 0644), key, err, sizeof(err)),
		 MW_EINVAL);
	CHECK(strstr(err, "chmod 600") != NULL);
	CHECK_EQ(mw_keyfile_load(put("k", good, 0640), key, err, sizeof(err)),
		 MW_EINVAL);
	CHECK_EQ(mw_keyfile_load(put("k", good, 0602), key, err, sizeof(err)),
		 MW_EINVAL);
	/* format */
	CHECK_EQ(mw_keyfile_load(put("k", "c2hvcnQ=\n", 0600), key, err,
				 sizeof(err)),
		 MW_EFORMAT);
	CHECK_EQ(mw_keyfile_load(put("k", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBk"
					  "aGxwdHh*=\n", 0600),
				 key, err, sizeof(err)),
		 MW_EFORMAT);
	CHECK_EQ(mw_keyfile_load(put("k", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
				     0600),
				 key, err, sizeof(err)),
		 MW_EFORMAT);
	CHECK_EQ(mw_keyfile_load(put("k", "", 0600), key, err, sizeof(err)),
		 MW_EFORMAT);
	/* missing, and a directory */
	{
		char none[300];

		snprintf(none, sizeof(none), "%s/none", dir);
		CHECK_EQ(mw_keyfile_load(none, key, err, sizeof(err)), MW_EIO);
	}
	CHECK_EQ(mw_keyfile_load(dir, key, err, sizeof(err)), MW_EINVAL);
	unlink(put("k", "", 0600));
	rmdir(dir);
	return mw_test_exit("test_keyfile");
}
