/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * .mwt container (codec/src/mwt.c): the documented byte layout, round trips
 * for every codec, and each rejection.
 */
#include "internal.h"
#include "testutil.h"

static size_t build(uint8_t *buf, size_t cap, enum mw_codec codec,
		    const struct mw_shape *s, struct mw_codec_desc *d)
{
	struct mw_codec_params p = {.codec = codec, .bits = 3, .ratio = 0.75};
	uint64_t n = (uint64_t)mw_shape_elems(s);
	float x[256];
	uint8_t scratch[2048];
	int64_t h, len;

	for (uint64_t i = 0; i < n; i++)
		x[i] = (float)((i * 37) % 11) - 2.0f;
	h = MW_MWT_HEADER_SIZE(s->ndim);
	len = mw_encode(&p, x, n, d, buf + h, cap - (size_t)h, scratch,
			sizeof(scratch));
	CHECK(len >= 0);
	CHECK_EQ(mw_mwt_write_header(d, s, buf, cap), h);
	return (size_t)(h + len);
}

static void test_layout(void)
{
	struct mw_shape s = {2, {4, 6}};
	struct mw_codec_desc d;
	uint8_t buf[1024];
	size_t len = build(buf, sizeof(buf), MW_CODEC_MS, &s, &d);

	CHECK(memcmp(buf, "MWTF", 4) == 0);
	CHECK_EQ(mw_ld_le16(buf + 4), 1);
	CHECK_EQ(mw_ld_le16(buf + 6), 64);
	CHECK_EQ(buf[8], MW_CODEC_MS);
	CHECK_EQ(buf[9], 3);
	CHECK_EQ(buf[10], MW_ROUND_NEAREST);
	CHECK_EQ(buf[11], 1); /* .mwt's float32 code, not MW_DT_F32 */
	CHECK_EQ(buf[12], 2);
	CHECK(mw_u2f(mw_ld_le32(buf + 16)) == d.p0);
	CHECK_EQ(mw_ld_le64(buf + 24), 24);
	CHECK_EQ(mw_ld_le64(buf + 32), 6);
	CHECK_EQ(mw_ld_le64(buf + 40), 9 + 24);
	CHECK_EQ(mw_ld_le64(buf + 48), 4);
	CHECK_EQ(mw_ld_le64(buf + 56), 6);
	CHECK_EQ(len, 64 + 33);
}

static void test_roundtrip(void)
{
	for (unsigned c = 0; c < MW_CODEC_COUNT_; c++) {
		for (int iter = 0; iter < 20; iter++) {
			struct mw_shape s = {(unsigned)tu_below(4), {0}};
			struct mw_codec_desc d;
			struct mw_mwt m;
			uint8_t buf[2048], again[128];
			const char *why;
			size_t len;

			for (unsigned i = 0; i < s.ndim; i++)
				s.dim[i] = tu_below(6) + 1;
			len = build(buf, sizeof(buf), (enum mw_codec)c, &s, &d);
			CHECK_EQ(mw_mwt_parse(buf, len, &m, &why), 0);
			CHECK(memcmp(&m.desc, &d, sizeof(d)) == 0);
			CHECK_EQ(m.shape.ndim, s.ndim);
			CHECK_EQ(m.dtype, c == MW_CODEC_RAW ? MW_DT_U8
							    : MW_DT_F32);
			CHECK(m.payload == buf + MW_MWT_HEADER_SIZE(s.ndim));
			/* rewriting the parsed header gives the same bytes */
			CHECK_EQ(mw_mwt_write_header(&m.desc, &m.shape, again,
						     sizeof(again)),
				 MW_MWT_HEADER_SIZE(s.ndim));
			CHECK(memcmp(again, buf, MW_MWT_HEADER_SIZE(s.ndim)) == 0);
			for (size_t cut = 0; cut < len; cut++)
				CHECK(mw_mwt_parse(buf, cut, &m, &why) < 0);
		}
	}
}

static void test_rejects(void)
{
	struct mw_shape s = {1, {20}};
	struct mw_codec_desc d;
	struct mw_mwt m;
	uint8_t buf[1024], bad[1024];
	const char *why;
	size_t len = build(buf, sizeof(buf), MW_CODEC_MS, &s, &d);

#define REJECT(off, val, rc)                                                  \
	do {                                                                  \
		memcpy(bad, buf, len);                                        \
		bad[off] = (uint8_t)(val);                                    \
		CHECK_EQ(mw_mwt_parse(bad, len, &m, &why), rc);              \
	} while (0)
	REJECT(0, 'X', MW_EBADMAGIC);
	REJECT(4, 2, MW_EVERSION);
	REJECT(6, 57, MW_EFORMAT);   /* header length */
	REJECT(8, 9, MW_EUNSUPP);    /* codec */
	REJECT(9, 9, MW_EINVAL);     /* bits */
	REJECT(11, 2, MW_EUNSUPP);   /* dtype */
	REJECT(12, 9, MW_EFORMAT);   /* ndim */
	REJECT(14, 1, MW_EFORMAT);   /* reserved */
	REJECT(19, 0xff, MW_EINVAL); /* p0 = NaN */
	REJECT(24, 21, MW_EFORMAT);  /* n != shape */
	REJECT(40, 99, MW_EFORMAT);  /* payload length */
	REJECT(48, 21, MW_EFORMAT);  /* shape != n */
#undef REJECT
	memcpy(bad, buf, len);
	bad[len] = 0;
	CHECK_EQ(mw_mwt_parse(bad, len + 1, &m, &why), MW_EFORMAT);
	CHECK_EQ(mw_mwt_parse(buf, len - 1, &m, &why), MW_ETRUNC);
	CHECK_EQ(mw_mwt_parse(buf, 0, &m, &why), MW_ETRUNC);
	/* a shape that does not match n cannot be written */
	s.dim[0] = 19;
	CHECK_EQ(mw_mwt_write_header(&d, &s, bad, sizeof(bad)), MW_EINVAL);
	s.dim[0] = 20;
	CHECK_EQ(mw_mwt_write_header(&d, &s, bad, 10), MW_ENOSPC);
}

int main(void)
{
	tu_init();
	test_layout();
	test_roundtrip();
	test_rejects();
	return mw_test_exit("test_mwt");
}
