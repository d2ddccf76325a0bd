/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * .npy files (codec/src/npy.c): headers byte-identical to NumPy's, round
 * trips over random shapes, and every rejection with its error code.
 */
#define _GNU_SOURCE
#include "internal.h"
#include "testutil.h"

/* A .npy file: magic, version 1.0, the dict text padded to 64, data. */
static size_t make(uint8_t *buf, const char *dict, int major,
		   uint64_t data_len)
{
	size_t hoff = major == 1 ? 10 : 12, l = strlen(dict), pad;

	pad = (hoff + l + 1 + 63) / 64 * 64 - hoff - l;
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (uint8_t)major;
	buf[7] = 0;
	if (major == 1)
		mw_st_le16(buf + 8, (uint16_t)(l + pad));
	else
		mw_st_le32(buf + 8, (uint32_t)(l + pad));
	memcpy(buf + hoff, dict, l);
	memset(buf + hoff + l, ' ', pad - 1);
	buf[hoff + l + pad - 1] = '\n';
	memset(buf + hoff + l + pad, 0x3c, data_len);
	return hoff + l + pad + data_len;
}

static void test_numpy_bytes(void)
{
	static const char *want =
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	struct mw_shape s = {2, {2, 3}};
	uint8_t buf[256];
	int64_t h = mw_npy_write_header(MW_DT_F32, &s, buf, sizeof(buf));

	/* np.save(np.zeros((2, 3), np.float32)) is 152 bytes: 128 + 24 */
	CHECK_EQ(h, 128);
	CHECK(memcmp(buf, "\x93NUMPY\x01\x00\x76\x00", 10) == 0);
	CHECK(memcmp(buf + 10, want, strlen(want)) == 0);
	CHECK(buf[127] == '\n' && buf[126] == ' ');
	s.ndim = 1;
	s.dim[0] = 5;
	CHECK_EQ(mw_npy_write_header(MW_DT_F32, &s, buf, sizeof(buf)), 128);
	CHECK(memmem(buf, 128, "'shape': (5,), }", 16) != NULL);
	s.ndim = 0;
	CHECK_EQ(mw_npy_write_header(MW_DT_F32, &s, buf, sizeof(buf)), 128);
	CHECK(memmem(buf, 128, "'shape': (), }", 14) != NULL);
	CHECK_EQ(mw_npy_write_header(MW_DT_F32, &s, buf, 127), MW_ENOSPC);
	CHECK_EQ(mw_npy_write_header(9, &s, buf, sizeof(buf)), MW_EINVAL);
}

static void test_roundtrip(void)
{
	for (int iter = 0; iter < 200; iter++) {
		struct mw_shape s = {(unsigned)tu_below(MW_NDIM_MAX + 1), {0}};
		unsigned dtype = tu_below(4) ? MW_DT_F32 : MW_DT_U8;
		uint64_t n = 1, es = mw_dtype_size(dtype);
		uint8_t *buf;
		int64_t h;
		struct mw_npy npy;
		const char *why;

		for (unsigned i = 0; i < s.ndim; i++) {
			s.dim[i] = tu_below(5) + (tu_below(10) == 0 ? 0 : 1);
			n *= s.dim[i];
		}
		CHECK_EQ(mw_shape_elems(&s), n);
		h = mw_npy_header_size(dtype, &s);
		CHECK(h > 0 && h % 64 == 0);
		buf = malloc((size_t)h + n * es);
		CHECK_EQ(mw_npy_write_header(dtype, &s, buf, (size_t)h), h);
		for (uint64_t i = 0; i < n * es; i++)
			buf[h + i] = (uint8_t)tu_rand();
		CHECK_EQ(mw_npy_parse(buf, (size_t)h + n * es, &npy, &why), 0);
		CHECK_EQ(npy.dtype, dtype);
		CHECK_EQ(npy.n, n);
		CHECK_EQ(npy.shape.ndim, s.ndim);
		CHECK(memcmp(npy.shape.dim, s.dim, sizeof(s.dim[0]) * s.ndim) == 0);
		CHECK(npy.data == buf + h && npy.data_len == n * es);
		/* every shorter prefix is rejected */
		for (size_t cut = 0; cut < (size_t)h + n * es; cut += 1 + tu_below(9))
			CHECK(mw_npy_parse(buf, cut, &npy, &why) < 0);
		free(buf);
	}
}

struct bad {
	const char *dict;
	int rc;
};

static void test_rejects(void)
{
	static const struct bad bad[] = {
		{"{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
		 MW_EUNSUPP},
		{"{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }",
		 MW_EUNSUPP},
		{"{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }",
		 MW_EUNSUPP},
		{"{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }",
		 MW_EUNSUPP},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': "
		 "(1,1,1,1,1,1,1,1,2), }",
		 MW_EUNSUPP},
		{"{'descr': '<f4', 'fortran_order': False, }", MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }",
		 MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
		 "'extra': 1, }",
		 MW_EFORMAT},
		{"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
		 "'shape': (2,), }",
		 MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
		 MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
		 MW_EFORMAT},
		{"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }",
		 MW_EFORMAT},
		{"['descr', '<f4']", MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x",
		 MW_EFORMAT},
		{"{'descr': '<f4', 'fortran_order': False, 'shape': "
		 "(4294967296, 4294967296, 4294967296), }",
		 MW_ERANGE},
	};
	uint8_t buf[512];
	struct mw_npy npy;
	const char *why;
	size_t len;

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = make(buf, bad[i].dict, 1, 8);
		why = NULL;
		CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), bad[i].rc);
		CHECK(why != NULL && strcmp(why, "ok") != 0);
	}
	/* the dtype string is reported for messages */
	len = make(buf, bad[0].dict, 1, 16);
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), MW_EUNSUPP);
	CHECK(strcmp(npy.descr, "<i8") == 0);
	/* accepted variants: version 2.0, double quotes, no trailing comma */
	len = make(buf, "{\"descr\": \"<f4\", \"shape\": (3, 1), "
			"\"fortran_order\": False}",
		   2, 12);
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), 0);
	CHECK_EQ(npy.n, 3);
	/* data: short, long */
	len = make(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
		   1, 8);
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), 0);
	CHECK_EQ(mw_npy_parse(buf, len - 1, &npy, &why), MW_ETRUNC);
	CHECK_EQ(mw_npy_parse(buf, len + 1, &npy, &why), MW_EFORMAT);
	/* header length past the end */
	mw_st_le16(buf + 8, 500);
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), MW_ETRUNC);
	/* magic and version */
	buf[1] = 'X';
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), MW_EBADMAGIC);
	buf[1] = 'N';
	buf[6] = 4;
	CHECK_EQ(mw_npy_parse(buf, len, &npy, &why), MW_EVERSION);
	CHECK_EQ(mw_npy_parse(buf, 0, &npy, &why), MW_ETRUNC);
	CHECK_EQ(mw_npy_parse((const uint8_t *)"GIF89a", 6, &npy, &why),
		 MW_EBADMAGIC);
}

int main(void)
{
	tu_init();
	test_numpy_bytes();
	test_roundtrip();
	test_rejects();
	return mw_test_exit("test_npy");
}
