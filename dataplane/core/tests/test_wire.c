/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for wire.c: CRC32C, header/body build and parse, rejection
 * of every malformed field, shape conversion. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_wire.h"
#include "mw_test.h"
#include "wire_int.h"

static const struct mw_ident A = { 7, 1 }, B = { 9, 3 };

static void test_crc(void)
{
	/* RFC 3720 B.4 check value and a zero block */
	static const uint8_t zeros[32];

	CHECK(mw_crc32c(0, "123456789", 9) == 0xE3069283u);
	CHECK(mw_crc32c(0, zeros, 32) == 0x8A9136AAu);
	/* incremental == one shot */
	CHECK(mw_crc32c(mw_crc32c(0, "12345", 5), "6789", 4) == 0xE3069283u);
}

/* Bit by bit, from the definition (reflected, polynomial 0x82F63B78). */
static uint32_t crc_ref(uint32_t crc, const uint8_t *p, size_t len)
{
	uint32_t c = ~crc;

	while (len--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return ~c;
}

/* Every length and alignment the multi-stream path splits differently
 * (blocks of 64 << i bytes, three at a time, and the tail) gives the
 * definition's CRC, in one call and in two. */
static void test_crc_lengths(void)
{
	enum { MAX = 13000 };
	uint8_t *buf = malloc(MAX + 8);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int bad = 0;

	for (size_t i = 0; i < MAX + 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	for (size_t len = 0; len <= MAX && !bad; len += len < 2100 ? 1 : 97) {
		size_t off = len % 8, cut = len / 3;
		uint32_t want = crc_ref(0, buf + off, len);

		bad |= mw_crc32c(0, buf + off, len) != want;
		bad |= mw_crc32c(mw_crc32c(0, buf + off, cut), buf + off + cut,
				 len - cut) != want;
		if (bad)
			fprintf(stderr, "crc32c differs at len %zu\n", len);
	}
	CHECK(!bad);
	free(buf);
}

static size_t build_hello(uint8_t *p)
{
	struct mw_hello h = { 1472, MW_HELLO_CAP_UDP_CSUM0, 8, 1000, 0,
			      1u << 20 };

	mw_wire_put_hdr(p, MW_PT_HELLO, 0, &A, NULL);
	return (size_t)mw_wire_finish(p, mw_wire_put_hello(p, &h));
}

static void test_hello(void)
{
	uint8_t p[128];
	size_t n = build_hello(p);
	struct mw_hdr h;
	struct mw_hello b;

	CHECK(n == MW_WIRE_HELLO_LEN);
	CHECK(mw_get16(p + MW_OFF_MAGIC) == MW_WIRE_MAGIC &&
	      p[MW_OFF_VERSION] == 1 && p[MW_OFF_TYPE] == MW_PT_HELLO);
	CHECK(mw_wire_parse_hdr(p, n, &h) == 0);
	CHECK(h.type == MW_PT_HELLO && h.len == n && h.src.inc == 7 &&
	      h.src.gen == 1 && h.dst.inc == 0);
	CHECK(mw_wire_parse_hello(p, n, &b) == 0);
	CHECK(b.max_datagram == 1472 && b.rx_window == 8 &&
	      b.max_segs == 1000 && b.max_tensor_bytes == 1u << 20 &&
	      b.caps == MW_HELLO_CAP_UDP_CSUM0);
	/* unknown capability bits are carried, not refused (5.1); the
	 * reserved word still must be 0 */
	mw_put16(p + MW_OFF_HELLO_CAPS, 0x8001);
	CHECK(mw_wire_parse_hello(p, n, &b) == 0 && b.caps == 0x8001);
	mw_put16(p + MW_OFF_HELLO_CAPS, MW_HELLO_CAP_UDP_CSUM0);
	mw_put32(p + MW_OFF_HELLO_RSV2, 1);
	CHECK(mw_wire_parse_hello(p, n, &b) == MW_EFORMAT);
	mw_put32(p + MW_OFF_HELLO_RSV2, 0);

	/* each header defect has its own error */
	CHECK(mw_wire_parse_hdr(p, 10, &h) == MW_ETRUNC);
	p[MW_OFF_MAGIC] ^= 1;
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EBADMAGIC);
	p[MW_OFF_MAGIC] ^= 1;
	p[MW_OFF_VERSION] = 3;
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EVERSION);
	p[MW_OFF_VERSION] = 0;
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EVERSION);
	/* version 2 (secure, PROTOCOL.md 12): no CRC, but a trailer the
	 * 52-byte HELLO lacks, and a crc field that must be 0 */
	p[MW_OFF_VERSION] = 2;
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_ETRUNC);
	{
		uint8_t s[MW_SEC_HELLO_LEN];

		memset(s, 0, sizeof(s));
		memcpy(s, p, n);
		mw_put16(s + MW_OFF_LEN, MW_SEC_HELLO_LEN);
		mw_put32(s + MW_OFF_CRC, 0);
		CHECK(mw_wire_parse_hdr(s, sizeof(s), &h) == 0 &&
		      h.version == 2);
		mw_put16(s + MW_OFF_FLAGS, MW_FLAG_CLEAR);
		CHECK(mw_wire_parse_hdr(s, sizeof(s), &h) == 0);
		mw_put32(s + MW_OFF_CRC, 1);
		CHECK(mw_wire_parse_hdr(s, sizeof(s), &h) == MW_EFORMAT);
		mw_put32(s + MW_OFF_CRC, 0);
		CHECK(mw_wire_parse_hdr(s, sizeof(s) - 1, &h) == MW_ETRUNC);
		mw_put16(s + MW_OFF_LEN, MW_SEC_HELLO_LEN - 1);
		CHECK(mw_wire_parse_hdr(s, sizeof(s) - 1, &h) == MW_ETRUNC);
	}
	/* CLEAR is a version-2 flag */
	p[MW_OFF_VERSION] = 1;
	mw_put16(p + MW_OFF_FLAGS, MW_FLAG_CLEAR);
	mw_wire_finish(p, n);
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EFORMAT);
	mw_put16(p + MW_OFF_FLAGS, 0);
	mw_wire_finish(p, n);
	CHECK(mw_wire_parse_hdr(p, n - 1, &h) == MW_ETRUNC);
	{
		uint8_t q[130];

		memcpy(q, p, n);
		q[n] = 0;
		CHECK(mw_wire_parse_hdr(q, n + 1, &h) == MW_EFORMAT);
	}
	p[MW_OFF_HELLO_RSV2] ^= 0x10; /* body bit flip */
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_ECHECKSUM);
	p[MW_OFF_HELLO_RSV2] ^= 0x10;
	p[MW_OFF_TYPE] = 99;
	mw_wire_finish(p, n);
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EUNSUPP);
	p[MW_OFF_TYPE] = MW_PT_HELLO;
	mw_put16(p + MW_OFF_FLAGS, 0x8000);
	mw_wire_finish(p, n);
	CHECK(mw_wire_parse_hdr(p, n, &h) == MW_EFORMAT);
	mw_put16(p + MW_OFF_FLAGS, 0);
	mw_put16(p + MW_OFF_HELLO_MAX_DATAGRAM, 100); /* below the minimum */
	mw_wire_finish(p, n);
	CHECK(mw_wire_parse_hdr(p, n, &h) == 0);
	CHECK(mw_wire_parse_hello(p, n, &b) == MW_ERANGE);
}

static size_t build_data(uint8_t *p, const struct mw_data *d,
			 const uint8_t *pay)
{
	mw_wire_put_hdr(p, MW_PT_DATA, 0, &A, &B);
	CHECK(mw_wire_put_data(p, d) == MW_WIRE_DATA_HDR_LEN);
	memcpy(p + MW_OFF_DATA_PAYLOAD, pay, d->payload_len);
	return (size_t)mw_wire_finish(p, MW_WIRE_DATA_HDR_LEN + d->payload_len);
}

static void test_data(void)
{
	uint8_t p[512], pay[64];
	struct mw_data d, o;
	struct mw_hdr h;
	size_t n;
	unsigned i;

	/* A 2x8 MS tensor, b=2: segment [0,16) with mask 4 bytes + 2 values */
	memset(&d, 0, sizeof(d));
	d.pn = 5;
	d.tid = 3;
	d.seg_idx = 0;
	d.seg_cnt = 1;
	d.seg.elem_cnt = 16;
	d.seg.val_cnt = 2;
	d.desc.codec = MW_CODEC_MS;
	d.desc.bits = 2;
	d.desc.p0 = 1.5f;
	d.desc.n = 16;
	d.desc.k = 2;
	d.meta.dtype = MW_DT_F32;
	d.meta.kind = MW_KIND_ACTIVATION;
	d.meta.ndim = 2;
	d.meta.dims[0] = 2;
	d.meta.dims[1] = 8;
	d.meta.tag = 0x0102030405060708ull;
	d.payload_len = 12;
	memset(pay, 0, sizeof(pay));
	pay[0] = 0x03; /* element 0 is a sentinel */
	pay[1] = 0x03;
	n = build_data(p, &d, pay);
	CHECK(n == MW_WIRE_DATA_HDR_LEN + 12);
	CHECK(mw_wire_parse_hdr(p, n, &h) == 0 && h.type == MW_PT_DATA);
	CHECK(mw_wire_parse_data(p, n, &o) == 0);
	CHECK(o.pn == 5 && o.tid == 3 && o.seg_cnt == 1 &&
	      o.seg.elem_cnt == 16 && o.seg.val_cnt == 2 &&
	      o.desc.codec == MW_CODEC_MS && o.desc.p0 == 1.5f &&
	      o.meta.tag == d.meta.tag && o.meta.dims[1] == 8 &&
	      o.payload == p + MW_OFF_DATA_PAYLOAD && o.payload_len == 12);
	/* byte order: tag big-endian, p0 as its IEEE bits */
	CHECK(p[MW_OFF_DATA_TAG] == 1 && p[MW_OFF_DATA_TAG + 7] == 8);
	CHECK(mw_get32(p + MW_OFF_DATA_P0) == 0x3FC00000u);
	CHECK(mw_get32(p + MW_OFF_DATA_DIMS) == 2 &&
	      mw_get32(p + MW_OFF_DATA_DIMS + 4) == 8);

	/* defects, each rejected; a multi-byte field's value is set in its
	 * last (least significant) byte */
	struct {
		size_t off;
		uint8_t val;
		int err;
	} bad[] = {
		{ MW_OFF_DATA_DTYPE, 9, MW_EFORMAT }, /* not f32 for MS */
		{ MW_OFF_DATA_KIND, 7, MW_EFORMAT },
		{ MW_OFF_DATA_NDIM, 9, MW_EFORMAT }, /* > 8 */
		{ MW_OFF_DATA_CODEC, 42, MW_EUNSUPP },
		{ MW_OFF_DATA_BITS, 9, MW_EINVAL },
		/* a deadline on MS is valid (9.1), at the old reserved u16 */
		{ MW_OFF_DATA_DEADLINE + 1, 1, 0 },
		/* seg_cnt 2, seg 0: shape ok, but */
		{ MW_OFF_DATA_SEG_CNT + 3, 2, MW_EFORMAT },
		/* seg_idx 1 >= seg_cnt 1 */
		{ MW_OFF_DATA_SEG_IDX + 3, 1, MW_EFORMAT },
		/* elem_cnt beyond n */
		{ MW_OFF_DATA_ELEM_CNT + 3, 17, MW_ERANGE },
		/* val_cnt beyond k */
		{ MW_OFF_DATA_VAL_CNT + 3, 3, MW_ERANGE },
		/* elem_off without seg 0 at 0 */
		{ MW_OFF_DATA_ELEM_OFF + 7, 8, MW_ERANGE },
		/* shape product != n */
		{ MW_OFF_DATA_DIMS + 3, 3, MW_EFORMAT },
	};
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t q[512];

		memcpy(q, p, n);
		q[bad[i].off] = bad[i].val;
		mw_wire_finish(q, n);
		int rc = mw_wire_parse_data(q, n, &o);

		if (i == 6) {
			/* seg_cnt 2 with one segment covering all: the last
			 * segment is then 1, so seg 0 is fine; still valid */
			CHECK(rc == 0);
			continue;
		}
		if (rc != bad[i].err)
			fprintf(stderr, "case %u: got %d want %d\n", i, rc,
				bad[i].err);
		CHECK(rc == bad[i].err);
	}
	/* payload length not matching the header */
	d.payload_len = 11;
	n = build_data(p, &d, pay);
	CHECK(mw_wire_parse_data(p, n, &o) == MW_ETRUNC);
}

static void test_ack(void)
{
	uint8_t p[256], bm[2] = { 0x05, 0x01 };
	struct mw_ack a, r;
	struct mw_ack_block b, rb;
	struct mw_hdr h;
	size_t off = MW_OFF_ACK_BLOCKS;
	int n;

	memset(&a, 0, sizeof(a));
	a.has_largest = 1;
	a.largest_pn = 77;
	a.ack_delay_us = 12;
	a.cum_tid = 4;
	a.rx_limit = 12;
	a.nblocks = 2;
	mw_wire_put_hdr(p, MW_PT_ACK, MW_FLAG_ACK_REQ, &A, &B);
	memset(&b, 0, sizeof(b));
	b.tid = 4;
	b.seg_cum = 10;
	b.bitmap_len = 2;
	b.bitmap = bm;
	off += mw_wire_put_ack_block(p + off, &b);
	memset(&b, 0, sizeof(b));
	b.tid = 5;
	b.flags = MW_ACKB_COMPLETE;
	off += mw_wire_put_ack_block(p + off, &b);
	mw_wire_put_ack_fixed(p, &a);
	n = mw_wire_finish(p, off);
	CHECK(n == (int)(MW_WIRE_ACK_FIXED_LEN + 2 * MW_WIRE_ACK_BLOCK_LEN + 2));
	CHECK(mw_wire_parse_hdr(p, (size_t)n, &h) == 0);
	CHECK(h.flags == MW_FLAG_ACK_REQ);
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == 0);
	CHECK(r.largest_pn == 77 && r.cum_tid == 4 && r.rx_limit == 12 &&
	      r.nblocks == 2 && r.ack_delay_us == 12);
	CHECK(mw_wire_ack_block(&r, &rb) == 1 && rb.tid == 4 &&
	      rb.seg_cum == 10 && rb.bitmap_len == 2 && rb.bitmap[0] == 5);
	CHECK(mw_wire_ack_block(&r, &rb) == 1 && rb.tid == 5 &&
	      rb.flags == MW_ACKB_COMPLETE);
	CHECK(mw_wire_ack_block(&r, &rb) == 0);
	/* block count disagreeing with the length */
	mw_put16(p + MW_OFF_ACK_NBLOCKS, 3);
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == MW_ETRUNC);
	mw_put16(p + MW_OFF_ACK_NBLOCKS, 1);
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == MW_EFORMAT);
	mw_put16(p + MW_OFF_ACK_NBLOCKS, 2);
	p[MW_OFF_ACK_BLOCKS + MW_OFF_BLK_FLAGS] = 0x80; /* unknown flag */
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == MW_EFORMAT);
	p[MW_OFF_ACK_BLOCKS + MW_OFF_BLK_FLAGS] = 0;
	/* PARTIAL (9.1): only together with COMPLETE */
	off = MW_OFF_ACK_BLOCKS + MW_WIRE_ACK_BLOCK_LEN + 2;
	p[off + MW_OFF_BLK_FLAGS] = MW_ACKB_COMPLETE | MW_ACKB_PARTIAL;
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == 0);
	CHECK(mw_wire_ack_block(&r, &rb) == 1);
	CHECK(mw_wire_ack_block(&r, &rb) == 1 && rb.tid == 5 &&
	      rb.flags == (MW_ACKB_COMPLETE | MW_ACKB_PARTIAL));
	p[off + MW_OFF_BLK_FLAGS] = MW_ACKB_PARTIAL;
	CHECK(mw_wire_parse_ack(p, (size_t)n, &r) == MW_EFORMAT);
}

/* The deadline (9.1) travels in the tensor block at offset 98, and is
 * refused on RAW tensors. */
static void test_data_deadline(void)
{
	uint8_t p[512];
	struct mw_data d, r;
	uint8_t pay[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	int n;

	memset(&d, 0, sizeof(d));
	d.seg_cnt = 1;
	d.seg.elem_cnt = 8;
	d.desc.codec = MW_CODEC_RAW;
	d.desc.n = 8;
	d.meta.dtype = MW_DT_U8;
	d.meta.ndim = 1;
	d.meta.dims[0] = 8;
	d.payload = pay;
	d.payload_len = sizeof(pay);
	mw_wire_put_hdr(p, MW_PT_DATA, 0, &A, &B);
	mw_wire_put_data(p, &d);
	memcpy(p + MW_WIRE_DATA_HDR_LEN, pay, sizeof(pay));
	n = mw_wire_finish(p, MW_WIRE_DATA_HDR_LEN + sizeof(pay));
	CHECK(mw_wire_parse_data(p, (size_t)n, &r) == 0 &&
	      r.meta.deadline_ms == 0);
	/* a deadline on RAW is a bad header */
	mw_put16(p + MW_OFF_DATA_DEADLINE, 40);
	n = mw_wire_finish(p, (size_t)n);
	CHECK(mw_wire_parse_data(p, (size_t)n, &r) == MW_EFORMAT);
	/* the same on DENSE (two f32) is read back */
	p[MW_OFF_DATA_CODEC] = MW_CODEC_DENSE;
	p[MW_OFF_DATA_DTYPE] = MW_DT_F32;
	mw_put64(p + MW_OFF_DATA_N, 2);
	mw_put32(p + MW_OFF_DATA_DIMS, 2);
	mw_put32(p + MW_OFF_DATA_ELEM_CNT, 2);
	n = mw_wire_finish(p, (size_t)n);
	CHECK(mw_wire_parse_data(p, (size_t)n, &r) == 0 &&
	      r.meta.deadline_ms == 40);
}

static void test_close_ident(void)
{
	uint8_t p[64];
	struct mw_close c;
	struct mw_ident x = { 0xFFFFFFF0u, 1 }, y = { 5, 1 }, z = { 5, 2 };

	mw_wire_put_hdr(p, MW_PT_CLOSE, 0, &A, &B);
	mw_wire_finish(p, mw_wire_put_close(p, MW_ETIMEDOUT));
	CHECK(mw_wire_parse_close(p, MW_WIRE_CLOSE_LEN, &c) == 0 &&
	      c.reason == MW_ETIMEDOUT);
	mw_put32(p + MW_OFF_CLOSE_REASON, 5);
	CHECK(mw_wire_parse_close(p, MW_WIRE_CLOSE_LEN, &c) == MW_EFORMAT);
	/* serial arithmetic: 5 is newer than 0xFFFFFFF0 (wrapped) */
	CHECK(mw_ident_cmp(&y, &x) > 0 && mw_ident_cmp(&x, &y) < 0);
	CHECK(mw_ident_cmp(&z, &y) > 0 && mw_ident_cmp(&y, &y) == 0);
	CHECK(strcmp(mw_kind_name(MW_KIND_GRADIENT), "gradient") == 0);
}

static int same_shape(const struct mw_shape *a, const struct mw_shape *b)
{
	return a->ndim == b->ndim &&
	       memcmp(a->dim, b->dim, sizeof(a->dim)) == 0;
}

static int same_meta(const struct mw_tensor_meta *a,
		     const struct mw_tensor_meta *b)
{
	return a->dtype == b->dtype && a->kind == b->kind &&
	       a->ndim == b->ndim && a->tag == b->tag &&
	       memcmp(a->dims, b->dims, sizeof(a->dims)) == 0;
}

/* The wire's 32-bit shape and the codec's 64-bit struct mw_shape. */
static void test_shape(void)
{
	struct mw_tensor_meta m, m2;
	struct mw_shape s, s2;

	memset(&m, 0xAB, sizeof(m));
	m.ndim = 3;
	m.dims[0] = 2;
	m.dims[1] = UINT32_MAX;
	m.dims[2] = 0;
	memset(&s, 0xCD, sizeof(s));
	CHECK_EQ(mw_wire_meta_to_shape(&m, &s), 0);
	CHECK_EQ(s.ndim, 3);
	CHECK(s.dim[0] == 2 && s.dim[1] == UINT32_MAX && s.dim[2] == 0);
	for (unsigned i = 3; i < MW_NDIM_MAX; i++)
		CHECK_EQ(s.dim[i], 0);
	/* and back: unused dims cleared, other fields untouched */
	memset(&m2, 0xAB, sizeof(m2));
	CHECK_EQ(mw_wire_meta_set_shape(&m2, &s), 0);
	CHECK(m2.ndim == 3 && m2.dims[0] == 2 && m2.dims[1] == UINT32_MAX &&
	      m2.dims[2] == 0);
	for (unsigned i = 3; i < MW_WIRE_MAX_DIMS; i++)
		CHECK_EQ(m2.dims[i], 0);
	CHECK(m2.dtype == 0xAB && m2.kind == 0xAB && m2.tag == m.tag);
	/* a scalar; the largest rank */
	s.ndim = 0;
	CHECK_EQ(mw_wire_meta_set_shape(&m2, &s), 0);
	CHECK(m2.ndim == 0 && m2.dims[0] == 0);
	CHECK_EQ(mw_wire_meta_to_shape(&m2, &s2), 0);
	CHECK_EQ(s2.ndim, 0);
	s.ndim = MW_NDIM_MAX;
	for (unsigned i = 0; i < MW_NDIM_MAX; i++)
		s.dim[i] = i + 1;
	CHECK_EQ(mw_wire_meta_set_shape(&m2, &s), 0);
	CHECK_EQ(mw_wire_meta_to_shape(&m2, &s2), 0);
	CHECK(same_shape(&s, &s2));
	/* what does not fit: m2 is left as it was */
	m = m2;
	s.dim[7] = (uint64_t)UINT32_MAX + 1;
	CHECK_EQ(mw_wire_meta_set_shape(&m2, &s), MW_ERANGE);
	s.dim[7] = 8;
	s.ndim = MW_WIRE_MAX_DIMS + 1;
	CHECK_EQ(mw_wire_meta_set_shape(&m2, &s), MW_EINVAL);
	CHECK(same_meta(&m, &m2));
	m2.ndim = MW_WIRE_MAX_DIMS + 1;
	s2 = s;
	CHECK_EQ(mw_wire_meta_to_shape(&m2, &s2), MW_EINVAL);
	CHECK(same_shape(&s, &s2));
}

/* Compact DATA (5.6): layout, the CRC under the identities, the parse
 * errors in order, the segment rules, the 16-bit tensor id. */
static void test_cdata(void)
{
	uint8_t pkt[512], ref[16 + 512];
	struct mw_seg seg = { 4096, 800, 77, 3 }, g;
	struct mw_codec_desc d = { MW_CODEC_MS, 2, 0, 1.0f, 0.0f, 10000, 100 };
	struct mw_cdata c;
	size_t len = MW_WIRE_CDATA_HDR_LEN + 200 + 12;

	for (size_t i = 0; i < sizeof(pkt); i++)
		pkt[i] = (uint8_t)(i * 7);
	mw_wire_put_cdata(pkt, 0x01020304u, 0x12345u, 5, &seg);
	CHECK_EQ(mw_wire_finish_cdata(pkt, len, &A, &B), (int)len);
	CHECK(pkt[0] == 0x4D && pkt[1] == 0x57 && pkt[2] == 1 && pkt[3] == 6);
	CHECK(mw_get32(pkt + 4) == 0x01020304u && mw_get16(pkt + 8) == 0x2345);
	CHECK(mw_get16(pkt + 10) == 3 && mw_get32(pkt + 12) == 5);
	CHECK(mw_get32(pkt + 16) == 4096);
	/* the CRC: identities (src inc, gen, dst inc, gen), then the packet
	 * with its crc field zero, from the bit-wise definition */
	mw_put32(ref, A.inc);
	mw_put32(ref + 4, A.gen);
	mw_put32(ref + 8, B.inc);
	mw_put32(ref + 12, B.gen);
	memcpy(ref + 16, pkt, len);
	memset(ref + 16 + MW_OFF_CDATA_CRC, 0, 4);
	CHECK(mw_get32(pkt + MW_OFF_CDATA_CRC) == crc_ref(0, ref, 16 + len));
	CHECK(mw_wire_cdata_crc_ok(pkt, len, &A, &B));
	CHECK(!mw_wire_cdata_crc_ok(pkt, len, &B, &A));

	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), 0);
	CHECK(c.pn == 0x01020304u && c.tid16 == 0x2345 && c.val_cnt == 3);
	CHECK(c.seg_idx == 5 && c.elem_off == 4096 && c.payload == pkt + 24);
	CHECK(c.payload_len == 212);
	/* another session's identities, a flipped byte: bad_checksum */
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &B, &A, &c), MW_ECHECKSUM);
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, NULL, NULL, &c), 0);
	pkt[100] ^= 1;
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), MW_ECHECKSUM);
	pkt[100] ^= 1;
	CHECK_EQ(mw_wire_parse_cdata(pkt, 23, &A, &B, &c), MW_ETRUNC);
	pkt[2] = 2;
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), MW_EVERSION);
	pkt[2] = 1;
	pkt[3] = 3;
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), MW_EUNSUPP);
	CHECK(!mw_wire_is_cdata(pkt, len));
	pkt[3] = 6;
	CHECK(mw_wire_is_cdata(pkt, len) && !mw_wire_is_cdata(pkt, 3));
	pkt[0] = 0;
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), MW_EBADMAGIC);
	pkt[0] = 0x4D;
	CHECK_EQ(mw_wire_parse_cdata(pkt, len, &A, &B, &c), 0);

	/* the segment: 200 mask bytes at b = 2 are 800 elements */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), 0);
	CHECK(g.elem_off == 4096 && g.elem_cnt == 800 && g.val_cnt == 3);
	CHECK(g.val_off == MW_VAL_OFF_UNKNOWN);
	c.seg_idx = 0; /* segment 0 is always a full DATA */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_EFORMAT);
	c.seg_idx = 10;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_EFORMAT);
	c.seg_idx = 5;
	d.codec = MW_CODEC_TOPK; /* no compact form */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_EFORMAT);
	d.codec = MW_CODEC_QUANT; /* values where the codec has none */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_EFORMAT);
	d.codec = MW_CODEC_MS;
	c.elem_off = 4100;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);
	c.elem_off = 10000;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);
	c.elem_off = 9600; /* 800 more elements would pass the end */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);
	c.seg_idx = 9; /* the last runs to n: 400 elements, 100 bytes */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ETRUNC);
	c.payload_len = 100 + 12;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), 0);
	CHECK(g.elem_off == 9600 && g.elem_cnt == 400);
	c.seg_idx = 5;
	c.elem_off = 4096;
	c.payload_len = 201 + 12; /* not whole groups of 8 */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);
	c.payload_len = 8; /* shorter than its values */
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ETRUNC);
	c.val_cnt = 101; /* more values than the tensor */
	c.payload_len = 200 + 4 * 101;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);
	/* dense: whole groups of 32 bytes */
	d.codec = MW_CODEC_DENSE;
	d.bits = 0;
	d.k = 0;
	c.val_cnt = 0;
	c.payload_len = 4 * 64;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), 0);
	CHECK(g.elem_cnt == 64 && g.val_cnt == 0);
	c.payload_len = 4 * 60;
	CHECK_EQ(mw_wire_cdata_seg(&c, &d, 10, &g), MW_ERANGE);

	/* PROTOCOL.md 5.6's example, byte for byte */
	{
		static const uint8_t ex[40] = {
			0x4d, 0x57, 0x01, 0x06, 0x00, 0x00, 0x00, 0x05,
			0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0x00, 0x04,
			0x00, 0x00, 0x06, 0x40, 0xcd, 0x56, 0xe4, 0x14,
			0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
		const struct mw_ident s1 = {1000, 1}, d1 = {2000, 1};
		struct mw_seg es = {1600, 0, 0, 3};
		uint8_t b[40];

		for (int i = 0; i < 16; i++)
			b[24 + i] = (uint8_t)i;
		mw_wire_put_cdata(b, 5, 0x10002u, 4, &es);
		CHECK_EQ(mw_wire_finish_cdata(b, 40, &s1, &d1), 40);
		CHECK(memcmp(b, ex, 40) == 0);
	}

	/* the tensor id nearest the receiver's next one */
	CHECK(mw_wire_tid_expand(0x0005, 0x0001FFF0u) == 0x00020005u);
	CHECK(mw_wire_tid_expand(0xFFF0, 0x00020005u) == 0x0001FFF0u);
	CHECK(mw_wire_tid_expand(0x1234, 0x00051234u) == 0x00051234u);
	CHECK(mw_wire_tid_expand(0xFFFF, 0) == 0xFFFFFFFFu);
	CHECK(mw_wire_tid_expand(0x7FFF, 0) == 0x7FFFu);
	CHECK(mw_wire_tid_expand(0x8000, 0) == 0xFFFF8000u);
	CHECK(mw_ptype_is_data(MW_PT_DATA) && mw_ptype_is_data(MW_PT_CDATA));
	CHECK(!mw_ptype_is_data(MW_PT_ACK));
}

int main(void)
{
	test_crc();
	test_crc_lengths();
	test_hello();
	test_data();
	test_ack();
	test_data_deadline();
	test_close_ident();
	test_shape();
	test_cdata();
	return mw_test_exit("test_wire");
}
