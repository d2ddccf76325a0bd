/* SPDX-License-Identifier: BSD-3-Clause */
/* keyfile.c - the --key file (keyfile.h): checks, then base64. */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_err.h"

static int b64v(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* 44 characters, the last one '=', into 32 bytes. */
static int b64_key(const char *s, size_t n, uint8_t *key)
{
	uint32_t acc = 0;
	unsigned bits = 0, o = 0;
	size_t i;

	if (n != 44 || s[43] != '=' || s[42] == '=')
		return MW_EFORMAT;
	for (i = 0; i < 43; i++) {
		int v = b64v((unsigned char)s[i]);

		if (v < 0)
			return MW_EFORMAT;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o < MW_KEYFILE_KEY_LEN)
				key[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* 43 x 6 = 258 bits: 32 bytes and 2 bits that must be 0 */
	if (o != MW_KEYFILE_KEY_LEN || (acc & ((1u << bits) - 1)))
		return MW_EFORMAT;
	return 0;
}

int mw_keyfile_load(const char *path, uint8_t key[MW_KEYFILE_KEY_LEN],
		    char *err, size_t errlen)
{
	char buf[128];
	struct stat st;
	ssize_t n;
	size_t len;
	int fd, rc;
	unsigned i, zero = 1;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return MW_EIO;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "key file %s: not a regular file", path);
		close(fd);
		return MW_EINVAL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen,
			 "key file %s: mode %04o lets the group or others "
			 "read or change it; chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return MW_EINVAL;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(err, errlen,
			 "key file %s: owned by uid %u, not by us (uid %u) "
			 "or root",
			 path, (unsigned)st.st_uid, (unsigned)geteuid());
		close(fd);
		return MW_EINVAL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		snprintf(err, errlen, "key file %s: %s", path, strerror(errno));
		return MW_EIO;
	}
	len = (size_t)n;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	rc = b64_key(buf, len, key);
	memset(buf, 0, sizeof(buf));
	if (rc < 0) {
		snprintf(err, errlen,
			 "key file %s: not one line of a base64 32-byte key "
			 "(make one: umask 077; head -c 32 /dev/urandom | "
			 "base64 > %s)",
			 path, path);
		return rc;
	}
	for (i = 0; i < MW_KEYFILE_KEY_LEN; i++)
		zero &= key[i] == 0;
	if (zero) {
		snprintf(err, errlen, "key file %s: the key is all zeros", path);
		return MW_EFORMAT;
	}
	return 0;
}
