/* SPDX-License-Identifier: BSD-3-Clause */
/* The .mwt container (layout in mw_codec.h and docs/CODEC.md). */
#include "dtype_codes.h"
#include "internal.h"

/* The element type of a codec's tensor: bytes for RAW, float32 else. */
static unsigned dtype_for(unsigned codec)
{
	return codec == MW_CODEC_RAW ? MW_DT_U8 : MW_DT_F32;
}

int64_t mw_mwt_write_header(const struct mw_codec_desc *d,
			    const struct mw_shape *s, uint8_t *out,
			    size_t cap)
{
	int64_t plen = mw_payload_size(d), n = mw_shape_elems(s);
	unsigned h;

	if (plen < 0 || n < 0 || (uint64_t)n != d->n)
		return MW_EINVAL;
	h = MW_MWT_HEADER_SIZE(s->ndim);
	if (out == NULL || cap < h)
		return MW_ENOSPC;
	memset(out, 0, h);
	memcpy(out, MW_MWT_MAGIC, 4);
	mw_st_le16(out + 4, MW_MWT_VERSION);
	mw_st_le16(out + 6, (uint16_t)h);
	out[8] = d->codec;
	out[9] = d->bits;
	out[10] = d->rounding;
	out[11] = (uint8_t)mw_mwt_dtype_code(dtype_for(d->codec));
	out[12] = (uint8_t)s->ndim;
	mw_st_le32(out + 16, mw_f2u(d->p0));
	mw_st_le32(out + 20, mw_f2u(d->p1));
	mw_st_le64(out + 24, d->n);
	mw_st_le64(out + 32, d->k);
	mw_st_le64(out + 40, (uint64_t)plen);
	for (unsigned i = 0; i < s->ndim; i++)
		mw_st_le64(out + 48 + 8 * i, s->dim[i]);
	return h;
}

#define FAIL(code, text)                                                      \
	do {                                                                  \
		*why = (text);                                                \
		return (code);                                                \
	} while (0)

int mw_mwt_parse(const uint8_t *buf, size_t len, struct mw_mwt *m,
		 const char **why)
{
	const char *dummy;
	struct mw_codec_desc *d;
	unsigned h, ndim;
	int64_t plen, n;
	int dt;

	if (why == NULL)
		why = &dummy;
	*why = "ok";
	if (m == NULL || (buf == NULL && len > 0))
		FAIL(MW_EINVAL, "invalid argument");
	memset(m, 0, sizeof(*m));
	if (len > 0 && memcmp(buf, MW_MWT_MAGIC, len < 4 ? len : 4) != 0)
		FAIL(MW_EBADMAGIC, "not a .mwt file (bad magic)");
	if (len < 8)
		FAIL(MW_ETRUNC, "file too short for a .mwt header");
	if (mw_ld_le16(buf + 4) != MW_MWT_VERSION)
		FAIL(MW_EVERSION, "unsupported .mwt version");
	if (len < MW_MWT_HEADER_SIZE(0))
		FAIL(MW_ETRUNC, "header cut short");
	ndim = buf[12];
	h = mw_ld_le16(buf + 6);
	if (ndim > MW_NDIM_MAX || h != MW_MWT_HEADER_SIZE(ndim))
		FAIL(MW_EFORMAT, "header length or ndim is wrong");
	if (len < h)
		FAIL(MW_ETRUNC, "shape cut short");
	if (buf[13] != 0 || buf[14] != 0 || buf[15] != 0)
		FAIL(MW_EFORMAT, "reserved header bytes are not zero");
	d = &m->desc;
	d->codec = buf[8];
	d->bits = buf[9];
	d->rounding = buf[10];
	d->p0 = mw_u2f(mw_ld_le32(buf + 16));
	d->p1 = mw_u2f(mw_ld_le32(buf + 20));
	d->n = mw_ld_le64(buf + 24);
	d->k = mw_ld_le64(buf + 32);
	if (d->codec >= MW_CODEC_COUNT_)
		FAIL(MW_EUNSUPP, "unknown codec");
	dt = mw_mwt_dtype_of_code(buf[11]);
	if (dt < 0 || (unsigned)dt != dtype_for(d->codec))
		FAIL(MW_EUNSUPP, "dtype does not match the codec");
	m->dtype = (unsigned)dt;
	plen = mw_payload_size(d);
	if (plen < 0)
		FAIL(MW_EINVAL, "codec parameters are invalid");
	m->shape.ndim = ndim;
	for (unsigned i = 0; i < ndim; i++)
		m->shape.dim[i] = mw_ld_le64(buf + 48 + 8 * i);
	n = mw_shape_elems(&m->shape);
	if (n < 0)
		FAIL(MW_ERANGE, "shape too large");
	if ((uint64_t)n != d->n)
		FAIL(MW_EFORMAT, "shape does not match the element count");
	m->payload_len = mw_ld_le64(buf + 40);
	if (m->payload_len != (uint64_t)plen)
		FAIL(MW_EFORMAT, "payload length does not match the codec");
	if (len - h < m->payload_len)
		FAIL(MW_ETRUNC, "payload cut short");
	if (len - h > m->payload_len)
		FAIL(MW_EFORMAT, "trailing bytes after the payload");
	m->payload = buf + h;
	return 0;
}
