/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * wire.c - where packets are parsed and built (docs/PROTOCOL.md).
 * Every field read from a packet is validated here before anything else
 * in the core sees it.
 */
#include <string.h>

#include "mw_wire.h"
#include "wire_int.h"

/* clang-format off */
static const uint32_t crc32c_tab[256] = {
	0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u,
	0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u, 0xd4ca64ebu,
	0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu,
	0x4d43cfd0u, 0xbf284cd3u, 0xac78bf27u, 0x5e133c24u,
	0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu,
	0xd7c45070u, 0x25afd373u, 0x36ff2087u, 0xc494a384u,
	0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
	0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu,
	0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u, 0x33ed7d2au,
	0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u,
	0xaa64d611u, 0x580f5512u, 0x4b5fa6e6u, 0xb93425e5u,
	0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau,
	0x30e349b1u, 0xc288cab2u, 0xd1d83946u, 0x23b3ba45u,
	0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
	0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au,
	0x7da08661u, 0x8fcb0562u, 0x9c9bf696u, 0x6ef07595u,
	0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u,
	0x86e18aa3u, 0x748a09a0u, 0x67dafa54u, 0x95b17957u,
	0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u,
	0x0c38d26cu, 0xfe53516fu, 0xed03a29bu, 0x1f682198u,
	0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
	0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u,
	0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu, 0xc8ac71e8u,
	0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u,
	0x61c69362u, 0x93ad1061u, 0x80fde395u, 0x72966096u,
	0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u,
	0xeb1fcbadu, 0x197448aeu, 0x0a24bb5au, 0xf84f3859u,
	0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
	0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u,
	0xb602c312u, 0x44694011u, 0x5739b3e5u, 0xa55230e6u,
	0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u,
	0x3cdb9bddu, 0xceb018deu, 0xdde0eb2au, 0x2f8b6829u,
	0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu,
	0x456cac67u, 0xb7072f64u, 0xa457dc90u, 0x563c5f93u,
	0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
	0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu,
	0x92a8fc17u, 0x60c37f14u, 0x73938ce0u, 0x81f80fe3u,
	0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu,
	0x1871a4d8u, 0xea1a27dbu, 0xf94ad42fu, 0x0b21572cu,
	0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u,
	0xa24bb5a6u, 0x502036a5u, 0x4370c551u, 0xb11b4652u,
	0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
	0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du,
	0xef087a76u, 0x1d63f975u, 0x0e330a81u, 0xfc588982u,
	0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du,
	0x758fe5d6u, 0x87e466d5u, 0x94b49521u, 0x66df1622u,
	0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u,
	0xff56bd19u, 0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu,
	0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
	0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu,
	0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu, 0x5a048dffu,
	0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u,
	0xd3d3e1abu, 0x21b862a8u, 0x32e8915cu, 0xc083125fu,
	0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u,
	0x590ab964u, 0xab613a67u, 0xb831c993u, 0x4a5a4a90u,
	0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
	0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu,
	0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u, 0x37faccf1u,
	0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u,
	0xae7367cau, 0x5c18e4c9u, 0x4f48173du, 0xbd23943eu,
	0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u,
	0x34f4f86au, 0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu,
	0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
	0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};
/* clang-format on */

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <wmmintrin.h>
#define MW_HAVE_CRC_HW 1
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t c,
							    const uint8_t *p,
							    size_t len)
{
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = (uint32_t)_mm_crc32_u64(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = _mm_crc32_u8(c, *p++);
	return c;
}

/*
 * The CRC instruction has a latency of several cycles but issues every
 * cycle: three independent streams over three blocks of L bytes run about
 * three times faster than one, and are then joined. For raw registers
 * (no pre/post inversion), crc(A|B|C, c) = shift_2L(crc(A, c)) ^
 * shift_L(crc(B, 0)) ^ crc(C, 0), where shift_L(a) is a times x^(8L)
 * modulo the polynomial: a carry-less multiply by a constant and one CRC
 * instruction over the 64-bit product. crc3_k[i] is that constant for
 * L = 64 << i bytes (computed by solving crc32_u64(0, K) = shift_L(1);
 * test_wire checks the result against the one-stream path).
 */
static const uint32_t crc3_k[7] = {
	0x9e4addf8u, 0x0d3b6092u, 0xb9e02b86u, 0xdd7e3b0cu,
	0x170076fau, 0xa51b6135u, 0x82f89c77u,
};

__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc3_shift(uint64_t a, uint32_t k)
{
	__m128i p = _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)a),
					 _mm_cvtsi64_si128((long long)k), 0);

	return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(p));
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t
crc32c_hw3(uint32_t c, const uint8_t *p, size_t len)
{
	for (int i = 5; i >= 0; i--) {
		const size_t l = (size_t)64 << i;

		while (len >= 3 * l) {
			uint64_t a = c, b = 0, d = 0, wa, wb, wd;

			for (size_t j = 0; j < l; j += 8) {
				memcpy(&wa, p + j, 8);
				memcpy(&wb, p + l + j, 8);
				memcpy(&wd, p + 2 * l + j, 8);
				a = _mm_crc32_u64(a, wa);
				b = _mm_crc32_u64(b, wb);
				d = _mm_crc32_u64(d, wd);
			}
			c = crc3_shift(a, crc3_k[i + 1]) ^ crc3_shift(b, crc3_k[i]) ^
			    (uint32_t)d;
			p += 3 * l;
			len -= 3 * l;
		}
	}
	return crc32c_hw(c, p, len);
}
#endif

uint32_t mw_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

#ifdef MW_HAVE_CRC_HW
	if (__builtin_cpu_supports("sse4.2")) {
		if (len >= 192 && __builtin_cpu_supports("pclmul"))
			return ~crc32c_hw3(c, p, len);
		return ~crc32c_hw(c, p, len);
	}
#endif
	while (len--)
		c = crc32c_tab[(c ^ *p++) & 0xffu] ^ (c >> 8);
	return ~c;
}

static const char *const kind_names[MW_KIND_COUNT_] = {
	"activation", "gradient", "logits", "labels", "other",
};

const char *mw_kind_name(unsigned kind)
{
	return kind < MW_KIND_COUNT_ ? kind_names[kind] : "?";
}

_Static_assert(MW_NDIM_MAX == MW_WIRE_MAX_DIMS,
	       "a wire shape fits a struct mw_shape and back");

int mw_wire_meta_to_shape(const struct mw_tensor_meta *m, struct mw_shape *s)
{
	if (m->ndim > MW_WIRE_MAX_DIMS)
		return MW_EINVAL;
	memset(s, 0, sizeof(*s));
	s->ndim = m->ndim;
	for (unsigned i = 0; i < m->ndim; i++)
		s->dim[i] = m->dims[i];
	return 0;
}

int mw_wire_meta_set_shape(struct mw_tensor_meta *m,
			   const struct mw_shape *s)
{
	unsigned i;

	if (s->ndim > MW_WIRE_MAX_DIMS)
		return MW_EINVAL;
	for (i = 0; i < s->ndim; i++)
		if (s->dim[i] > UINT32_MAX)
			return MW_ERANGE;
	m->ndim = (uint8_t)s->ndim;
	for (i = 0; i < MW_WIRE_MAX_DIMS; i++)
		m->dims[i] = i < s->ndim ? (uint32_t)s->dim[i] : 0;
	return 0;
}

static int serial_cmp(uint32_t a, uint32_t b)
{
	int32_t d = (int32_t)(a - b);

	return d < 0 ? -1 : d > 0;
}

int mw_ident_cmp(const struct mw_ident *a, const struct mw_ident *b)
{
	int c = serial_cmp(a->inc, b->inc);

	return c ? c : serial_cmp(a->gen, b->gen);
}

/* ---- common header ----------------------------------------------------- */

static size_t type_min_len(unsigned type)
{
	switch (type) {
	case MW_PT_HELLO:
	case MW_PT_HELLO_ACK:
		return MW_WIRE_HELLO_LEN;
	case MW_PT_DATA:
		return MW_WIRE_DATA_HDR_LEN;
	case MW_PT_ACK:
		return MW_WIRE_ACK_FIXED_LEN;
	case MW_PT_CLOSE:
		return MW_WIRE_CLOSE_LEN;
	default:
		return 0;
	}
}

int mw_wire_parse_hdr(const uint8_t *pkt, size_t len, struct mw_hdr *h)
{
	uint8_t tmp[MW_WIRE_HDR_LEN];
	uint32_t crc;
	size_t min;

	if (len < MW_WIRE_HDR_LEN)
		return MW_ETRUNC;
	if (mw_get16(pkt + MW_OFF_MAGIC) != MW_WIRE_MAGIC)
		return MW_EBADMAGIC;
	h->version = pkt[MW_OFF_VERSION];
	h->type = pkt[MW_OFF_TYPE];
	h->len = mw_get16(pkt + MW_OFF_LEN);
	h->flags = mw_get16(pkt + MW_OFF_FLAGS);
	h->src.inc = mw_get32(pkt + MW_OFF_SRC_INC);
	h->src.gen = mw_get32(pkt + MW_OFF_SRC_GEN);
	h->dst.inc = mw_get32(pkt + MW_OFF_DST_INC);
	h->dst.gen = mw_get32(pkt + MW_OFF_DST_GEN);
	h->crc = mw_get32(pkt + MW_OFF_CRC);
	if (h->version != MW_WIRE_VERSION && h->version != MW_WIRE_VERSION_SEC)
		return MW_EVERSION;
	if (h->len > len)
		return MW_ETRUNC;
	if (h->len < len)
		return MW_EFORMAT;
	min = type_min_len(h->type);
	if (min == 0)
		return MW_EUNSUPP;
	if (h->version == MW_WIRE_VERSION) {
		/* The CRC covers the whole packet with its own field read as
		 * zero. */
		memcpy(tmp, pkt, MW_WIRE_HDR_LEN);
		memset(tmp + MW_OFF_CRC, 0, 4);
		crc = mw_crc32c(0, tmp, MW_WIRE_HDR_LEN);
		crc = mw_crc32c(crc, pkt + MW_WIRE_HDR_LEN,
				len - MW_WIRE_HDR_LEN);
		if (crc != h->crc)
			return MW_ECHECKSUM;
	} else {
		/* Secure (PROTOCOL.md 12): the AEAD tag replaces the CRC;
		 * a HELLO carries its nonce, every packet the trailer. */
		min += MW_SEC_TRAILER_LEN;
		if (h->type == MW_PT_HELLO || h->type == MW_PT_HELLO_ACK)
			min += MW_SEC_NONCE_LEN;
	}
	if (len < min)
		return MW_ETRUNC;
	if ((h->flags & ~(MW_WIRE_FLAGS_KNOWN |
			  (h->version == MW_WIRE_VERSION_SEC ? MW_FLAG_CLEAR
							     : 0))) ||
	    h->src.inc == 0 || h->src.gen == 0)
		return MW_EFORMAT;
	if (h->type != MW_PT_HELLO && (h->dst.inc == 0 || h->dst.gen == 0))
		return MW_EFORMAT;
	/* A HELLO's dst is a whole identity or {0,0} (unknown), never half. */
	if (h->type == MW_PT_HELLO && (h->dst.inc == 0) != (h->dst.gen == 0))
		return MW_EFORMAT;
	if ((h->flags & MW_FLAG_ACK_REQ) && h->type != MW_PT_ACK)
		return MW_EFORMAT;
	if (h->version == MW_WIRE_VERSION_SEC && h->crc != 0)
		return MW_EFORMAT;
	return 0;
}

void mw_wire_put_hdr(uint8_t *pkt, uint8_t type, uint16_t flags,
		     const struct mw_ident *src, const struct mw_ident *dst)
{
	mw_put16(pkt + MW_OFF_MAGIC, MW_WIRE_MAGIC);
	pkt[MW_OFF_VERSION] = MW_WIRE_VERSION;
	pkt[MW_OFF_TYPE] = type;
	mw_put16(pkt + MW_OFF_LEN, 0);
	mw_put16(pkt + MW_OFF_FLAGS, flags);
	mw_put32(pkt + MW_OFF_SRC_INC, src->inc);
	mw_put32(pkt + MW_OFF_SRC_GEN, src->gen);
	mw_put32(pkt + MW_OFF_DST_INC, dst ? dst->inc : 0);
	mw_put32(pkt + MW_OFF_DST_GEN, dst ? dst->gen : 0);
	mw_put32(pkt + MW_OFF_CRC, 0);
}

int mw_wire_set_len(uint8_t *pkt, size_t len)
{
	if (len < MW_WIRE_HDR_LEN || len > MW_WIRE_MAX_DATAGRAM)
		return MW_ERANGE;
	mw_put16(pkt + MW_OFF_LEN, (uint16_t)len);
	return (int)len;
}

int mw_wire_finish(uint8_t *pkt, size_t len)
{
	if (mw_wire_set_len(pkt, len) < 0)
		return MW_ERANGE;
	mw_put32(pkt + MW_OFF_CRC, 0);
	mw_put32(pkt + MW_OFF_CRC, mw_crc32c(0, pkt, len));
	return (int)len;
}

/* ---- compact DATA (5.6) ----------------------------------------------------- */

int mw_wire_is_cdata(const uint8_t *pkt, size_t len)
{
	return len > MW_OFF_TYPE && mw_get16(pkt + MW_OFF_MAGIC) == MW_WIRE_MAGIC &&
	       pkt[MW_OFF_TYPE] == MW_PT_CDATA;
}

/* CRC32C of a compact DATA: the identities (src inc, src gen, dst inc,
 * dst gen, big-endian), then the packet with its crc field read as 0. */
static uint32_t cdata_crc(const uint8_t *pkt, size_t len,
			  const struct mw_ident *src, const struct mw_ident *dst)
{
	uint8_t tmp[16 + MW_WIRE_CDATA_HDR_LEN];
	uint32_t crc;

	mw_put32(tmp, src->inc);
	mw_put32(tmp + 4, src->gen);
	mw_put32(tmp + 8, dst->inc);
	mw_put32(tmp + 12, dst->gen);
	memcpy(tmp + 16, pkt, MW_WIRE_CDATA_HDR_LEN);
	memset(tmp + 16 + MW_OFF_CDATA_CRC, 0, 4);
	crc = mw_crc32c(0, tmp, sizeof(tmp));
	return mw_crc32c(crc, pkt + MW_WIRE_CDATA_HDR_LEN,
			 len - MW_WIRE_CDATA_HDR_LEN);
}

int mw_wire_cdata_crc_ok(const uint8_t *pkt, size_t len,
			 const struct mw_ident *src, const struct mw_ident *dst)
{
	return len >= MW_WIRE_CDATA_HDR_LEN &&
	       cdata_crc(pkt, len, src, dst) ==
		       mw_get32(pkt + MW_OFF_CDATA_CRC);
}

int mw_wire_parse_cdata(const uint8_t *pkt, size_t len,
			const struct mw_ident *src, const struct mw_ident *dst,
			struct mw_cdata *o)
{
	if (len < MW_WIRE_CDATA_HDR_LEN)
		return MW_ETRUNC;
	if (mw_get16(pkt + MW_OFF_MAGIC) != MW_WIRE_MAGIC)
		return MW_EBADMAGIC;
	if (pkt[MW_OFF_VERSION] != MW_WIRE_VERSION)
		return MW_EVERSION;
	if (pkt[MW_OFF_TYPE] != MW_PT_CDATA)
		return MW_EUNSUPP;
	if (src && dst &&
	    cdata_crc(pkt, len, src, dst) != mw_get32(pkt + MW_OFF_CDATA_CRC))
		return MW_ECHECKSUM;
	o->pn = mw_get32(pkt + MW_OFF_CDATA_PN);
	o->tid16 = mw_get16(pkt + MW_OFF_CDATA_TID);
	o->val_cnt = mw_get16(pkt + MW_OFF_CDATA_VAL_CNT);
	o->seg_idx = mw_get32(pkt + MW_OFF_CDATA_SEG_IDX);
	o->elem_off = mw_get32(pkt + MW_OFF_CDATA_ELEM_OFF);
	o->payload = pkt + MW_OFF_CDATA_PAYLOAD;
	o->payload_len = len - MW_WIRE_CDATA_HDR_LEN;
	return 0;
}

int mw_wire_cdata_seg(const struct mw_cdata *c, const struct mw_codec_desc *d,
		      uint32_t seg_cnt, struct mw_seg *seg)
{
	int vals = d->codec == MW_CODEC_MS || d->codec == MW_CODEC_MS_SIGNED;
	uint64_t fixed, cnt, gb; /* gb: bytes per 8-element group */

	if (c->seg_idx == 0 || c->seg_idx >= seg_cnt ||
	    d->codec == MW_CODEC_TOPK || d->codec >= MW_CODEC_COUNT_ ||
	    (!vals && c->val_cnt))
		return MW_EFORMAT;
	if (c->elem_off % MW_SEG_ALIGN || c->elem_off >= d->n ||
	    c->val_cnt > d->k)
		return MW_ERANGE;
	if (4u * (size_t)c->val_cnt > c->payload_len)
		return MW_ETRUNC;
	fixed = c->payload_len - 4u * (size_t)c->val_cnt;
	gb = d->codec == MW_CODEC_DENSE ? 32u
	     : d->codec == MW_CODEC_RAW ? 8u
					 : d->bits;
	if (c->seg_idx == seg_cnt - 1) {
		cnt = d->n - c->elem_off; /* the last runs to the end */
	} else {
		/* a range ending on a multiple of 8: whole groups */
		if (fixed % gb)
			return MW_ERANGE;
		cnt = fixed / gb * 8u;
		if (cnt > d->n - c->elem_off)
			return MW_ERANGE;
	}
	seg->elem_off = c->elem_off;
	seg->elem_cnt = cnt;
	seg->val_off = MW_VAL_OFF_UNKNOWN;
	seg->val_cnt = c->val_cnt;
	if (mw_seg_payload_size(d, seg) != c->payload_len)
		return MW_ETRUNC;
	return 0;
}

uint32_t mw_wire_tid_expand(uint16_t tid16, uint32_t ref)
{
	return ref + (uint32_t)(int32_t)(int16_t)(uint16_t)(tid16 - (uint16_t)ref);
}

void mw_wire_put_cdata(uint8_t *pkt, uint32_t pn, uint32_t tid,
		       uint32_t seg_idx, const struct mw_seg *seg)
{
	mw_put16(pkt + MW_OFF_MAGIC, MW_WIRE_MAGIC);
	pkt[MW_OFF_VERSION] = MW_WIRE_VERSION;
	pkt[MW_OFF_TYPE] = MW_PT_CDATA;
	mw_put32(pkt + MW_OFF_CDATA_PN, pn);
	mw_put16(pkt + MW_OFF_CDATA_TID, (uint16_t)tid);
	mw_put16(pkt + MW_OFF_CDATA_VAL_CNT, (uint16_t)seg->val_cnt);
	mw_put32(pkt + MW_OFF_CDATA_SEG_IDX, seg_idx);
	mw_put32(pkt + MW_OFF_CDATA_ELEM_OFF, (uint32_t)seg->elem_off);
	mw_put32(pkt + MW_OFF_CDATA_CRC, 0);
}

int mw_wire_finish_cdata(uint8_t *pkt, size_t len, const struct mw_ident *src,
			 const struct mw_ident *dst)
{
	if (len < MW_WIRE_CDATA_HDR_LEN || len > MW_WIRE_MAX_DATAGRAM)
		return MW_ERANGE;
	mw_put32(pkt + MW_OFF_CDATA_CRC, cdata_crc(pkt, len, src, dst));
	return (int)len;
}

/* ---- HELLO --------------------------------------------------------------- */

int mw_wire_parse_hello(const uint8_t *pkt, size_t len, struct mw_hello *o)
{
	if (len != MW_WIRE_HELLO_LEN)
		return MW_EFORMAT;
	o->max_datagram = mw_get16(pkt + MW_OFF_HELLO_MAX_DATAGRAM);
	o->caps = mw_get16(pkt + MW_OFF_HELLO_CAPS);
	o->rx_window = mw_get32(pkt + MW_OFF_HELLO_RX_WINDOW);
	o->max_segs = mw_get32(pkt + MW_OFF_HELLO_MAX_SEGS);
	o->reserved2 = mw_get32(pkt + MW_OFF_HELLO_RSV2);
	o->max_tensor_bytes = mw_get64(pkt + MW_OFF_HELLO_MAX_TENSOR);
	if (o->reserved2)
		return MW_EFORMAT;
	if (o->max_datagram < MW_WIRE_MIN_DATAGRAM || o->rx_window == 0 ||
	    o->max_segs == 0)
		return MW_ERANGE;
	return 0;
}

size_t mw_wire_put_hello(uint8_t *pkt, const struct mw_hello *h)
{
	mw_put16(pkt + MW_OFF_HELLO_MAX_DATAGRAM, h->max_datagram);
	mw_put16(pkt + MW_OFF_HELLO_CAPS, h->caps);
	mw_put32(pkt + MW_OFF_HELLO_RX_WINDOW, h->rx_window);
	mw_put32(pkt + MW_OFF_HELLO_MAX_SEGS, h->max_segs);
	mw_put32(pkt + MW_OFF_HELLO_RSV2, 0);
	mw_put64(pkt + MW_OFF_HELLO_MAX_TENSOR, h->max_tensor_bytes);
	return MW_WIRE_HELLO_LEN;
}

/* ---- DATA ---------------------------------------------------------------- */

static uint32_t f2u(float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	return u;
}

static float u2f(uint32_t u)
{
	float f;

	memcpy(&f, &u, 4);
	return f;
}

/* The rules of PROTOCOL.md 5.2 on a parsed DATA header. */
static int data_rules(const struct mw_data *o)
{
	const struct mw_codec_desc *d = &o->desc;
	const struct mw_tensor_meta *m = &o->meta;
	uint64_t prod = 1;
	unsigned i, esz;
	int rc;

	if (o->seg_cnt == 0 || o->seg_idx >= o->seg_cnt)
		return MW_EFORMAT;
	if (m->deadline_ms && d->codec == MW_CODEC_RAW)
		return MW_EFORMAT; /* no zero-filled bytes (9.1) */
	if (m->dtype >= MW_DT_COUNT_ || m->kind >= MW_KIND_COUNT_ ||
	    m->ndim > MW_WIRE_MAX_DIMS)
		return MW_EFORMAT;
	for (i = 0; i < MW_WIRE_MAX_DIMS; i++) {
		if (i >= m->ndim) {
			if (m->dims[i])
				return MW_EFORMAT;
			continue;
		}
		if (m->dims[i] && prod > UINT64_MAX / m->dims[i])
			return MW_EFORMAT;
		prod *= m->dims[i];
	}
	if (d->codec >= MW_CODEC_COUNT_)
		return MW_EUNSUPP;
	rc = mw_codec_desc_check(d);
	if (rc < 0)
		return rc;
	if (d->codec == MW_CODEC_RAW) {
		esz = mw_dtype_size(m->dtype);
		if (prod > UINT64_MAX / esz || prod * esz != d->n)
			return MW_EFORMAT;
	} else if (m->dtype != MW_DT_F32 || prod != d->n) {
		return MW_EFORMAT;
	}
	if (d->codec != MW_CODEC_MS && d->codec != MW_CODEC_MS_SIGNED &&
	    d->codec != MW_CODEC_TOPK &&
	    (o->seg.val_cnt || o->seg.val_off || d->k))
		return MW_EFORMAT;
	if (o->seg.elem_off % MW_SEG_ALIGN)
		return MW_ERANGE;
	if (o->seg.elem_off > d->n || o->seg.elem_cnt > d->n - o->seg.elem_off)
		return MW_ERANGE;
	if (o->seg.val_off > d->k || o->seg.val_cnt > d->k - o->seg.val_off)
		return MW_ERANGE;
	/* Every range but the last ends on a block boundary (5.3), or no
	 * next segment could start there: the tensor could never complete. */
	if (o->seg_idx + 1 < o->seg_cnt &&
	    (o->seg.elem_off + o->seg.elem_cnt) % MW_SEG_ALIGN)
		return MW_ERANGE;
	/* First and last segments anchor the tensor's two ends. */
	if (o->seg_idx == 0 && (o->seg.elem_off || o->seg.val_off))
		return MW_ERANGE;
	if (o->seg_idx == o->seg_cnt - 1 &&
	    (o->seg.elem_off + o->seg.elem_cnt != d->n ||
	     o->seg.val_off + o->seg.val_cnt != d->k))
		return MW_ERANGE;
	if (mw_seg_payload_size(d, &o->seg) != o->payload_len)
		return MW_ETRUNC;
	return 0;
}

int mw_wire_parse_data(const uint8_t *pkt, size_t len, struct mw_data *o)
{
	const uint8_t *b = pkt;
	struct mw_codec_desc *d = &o->desc;
	struct mw_tensor_meta *m = &o->meta;
	unsigned i;

	if (len < MW_WIRE_DATA_HDR_LEN)
		return MW_ETRUNC;
	o->pn = mw_get32(b + MW_OFF_DATA_PN);
	o->tid = mw_get32(b + MW_OFF_DATA_TID);
	o->seg_idx = mw_get32(b + MW_OFF_DATA_SEG_IDX);
	o->seg.elem_cnt = mw_get32(b + MW_OFF_DATA_ELEM_CNT);
	o->seg.val_cnt = mw_get32(b + MW_OFF_DATA_VAL_CNT);
	o->seg.elem_off = mw_get64(b + MW_OFF_DATA_ELEM_OFF);
	o->seg.val_off = mw_get64(b + MW_OFF_DATA_VAL_OFF);
	d->n = mw_get64(b + MW_OFF_DATA_N);
	d->k = mw_get64(b + MW_OFF_DATA_K);
	m->tag = mw_get64(b + MW_OFF_DATA_TAG);
	m->deadline_ms = mw_get16(b + MW_OFF_DATA_DEADLINE);
	o->seg_cnt = mw_get32(b + MW_OFF_DATA_SEG_CNT);
	d->codec = b[MW_OFF_DATA_CODEC];
	d->bits = b[MW_OFF_DATA_BITS];
	d->rounding = b[MW_OFF_DATA_ROUNDING];
	m->dtype = b[MW_OFF_DATA_DTYPE];
	m->kind = b[MW_OFF_DATA_KIND];
	m->ndim = b[MW_OFF_DATA_NDIM];
	d->p0 = u2f(mw_get32(b + MW_OFF_DATA_P0));
	d->p1 = u2f(mw_get32(b + MW_OFF_DATA_P1));
	for (i = 0; i < MW_WIRE_MAX_DIMS; i++)
		m->dims[i] = mw_get32(b + MW_OFF_DATA_DIMS + 4 * i);
	o->payload = pkt + MW_OFF_DATA_PAYLOAD;
	o->payload_len = len - MW_WIRE_DATA_HDR_LEN;

	return data_rules(o);
}

int mw_wire_put_data(uint8_t *pkt, const struct mw_data *o)
{
	const struct mw_codec_desc *d = &o->desc;
	const struct mw_tensor_meta *m = &o->meta;
	uint8_t *b = pkt;

	if (o->seg.elem_cnt > UINT32_MAX || o->seg.val_cnt > UINT32_MAX ||
	    m->ndim > MW_WIRE_MAX_DIMS)
		return MW_ERANGE;
	mw_wire_put_data_seg(b, o->pn, o->tid, o->seg_idx, &o->seg);
	mw_put_tblock(b + MW_WIRE_TBLOCK_OFF, o->seg_cnt, d, m);
	return MW_WIRE_DATA_HDR_LEN;
}

void mw_wire_put_data_seg(uint8_t *pkt, uint32_t pn, uint32_t tid,
			  uint32_t seg_idx, const struct mw_seg *seg)
{
	mw_put32(pkt + MW_OFF_DATA_PN, pn);
	mw_put32(pkt + MW_OFF_DATA_TID, tid);
	mw_put32(pkt + MW_OFF_DATA_SEG_IDX, seg_idx);
	mw_put32(pkt + MW_OFF_DATA_ELEM_CNT, (uint32_t)seg->elem_cnt);
	mw_put32(pkt + MW_OFF_DATA_VAL_CNT, (uint32_t)seg->val_cnt);
	mw_put64(pkt + MW_OFF_DATA_ELEM_OFF, seg->elem_off);
	mw_put64(pkt + MW_OFF_DATA_VAL_OFF, seg->val_off);
}

void mw_put_tblock(uint8_t *t, uint32_t seg_cnt, const struct mw_codec_desc *d,
		   const struct mw_tensor_meta *m)
{
	unsigned i;

	/* t is the packet's byte MW_WIRE_TBLOCK_OFF. */
	t -= MW_WIRE_TBLOCK_OFF;
	mw_put64(t + MW_OFF_DATA_N, d->n);
	mw_put64(t + MW_OFF_DATA_K, d->k);
	mw_put64(t + MW_OFF_DATA_TAG, m->tag);
	mw_put32(t + MW_OFF_DATA_SEG_CNT, seg_cnt);
	t[MW_OFF_DATA_CODEC] = d->codec;
	t[MW_OFF_DATA_BITS] = d->bits;
	t[MW_OFF_DATA_ROUNDING] = d->rounding;
	t[MW_OFF_DATA_DTYPE] = m->dtype;
	t[MW_OFF_DATA_KIND] = m->kind;
	t[MW_OFF_DATA_NDIM] = m->ndim;
	mw_put16(t + MW_OFF_DATA_DEADLINE, m->deadline_ms);
	mw_put32(t + MW_OFF_DATA_P0, f2u(d->p0));
	mw_put32(t + MW_OFF_DATA_P1, f2u(d->p1));
	for (i = 0; i < MW_WIRE_MAX_DIMS; i++)
		mw_put32(t + MW_OFF_DATA_DIMS + 4 * i,
			 i < m->ndim ? m->dims[i] : 0);
}

/* ---- ACK ----------------------------------------------------------------- */

int mw_wire_parse_ack(const uint8_t *pkt, size_t len, struct mw_ack *o)
{
	const uint8_t *b = pkt;
	struct mw_ack a;
	struct mw_ack_block blk;
	unsigned i;
	int rc;

	if (len < MW_WIRE_ACK_FIXED_LEN)
		return MW_ETRUNC;
	o->largest_pn = mw_get32(b + MW_OFF_ACK_LARGEST_PN);
	o->ack_delay_us = mw_get32(b + MW_OFF_ACK_DELAY_US);
	o->cum_tid = mw_get32(b + MW_OFF_ACK_CUM_TID);
	o->rx_limit = mw_get32(b + MW_OFF_ACK_RX_LIMIT);
	o->nblocks = mw_get16(b + MW_OFF_ACK_NBLOCKS);
	o->has_largest = b[MW_OFF_ACK_HAS_LARGEST];
	if (b[MW_OFF_ACK_RSV] != 0 || o->has_largest > 1)
		return MW_EFORMAT;
	if (!o->has_largest && (o->largest_pn || o->ack_delay_us))
		return MW_EFORMAT;
	o->blocks = pkt + MW_OFF_ACK_BLOCKS;
	o->blocks_len = len - MW_WIRE_ACK_FIXED_LEN;
	a = *o;
	for (i = 0; i < o->nblocks; i++) {
		rc = mw_wire_ack_block(&a, &blk);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return MW_ETRUNC;
	}
	if (a.blocks_len != 0)
		return MW_EFORMAT;
	return 0;
}

int mw_wire_ack_block(struct mw_ack *a, struct mw_ack_block *b)
{
	size_t need;

	if (a->blocks_len == 0)
		return 0;
	if (a->blocks_len < MW_WIRE_ACK_BLOCK_LEN)
		return MW_ETRUNC;
	b->tid = mw_get32(a->blocks + MW_OFF_BLK_TID);
	b->seg_cum = mw_get32(a->blocks + MW_OFF_BLK_SEG_CUM);
	b->flags = a->blocks[MW_OFF_BLK_FLAGS];
	b->bitmap_len = mw_get16(a->blocks + MW_OFF_BLK_BITMAP_LEN);
	if (a->blocks[MW_OFF_BLK_RSV] != 0 || (b->flags & ~(MW_ACKB_COMPLETE | MW_ACKB_PARTIAL)) ||
	    b->flags == MW_ACKB_PARTIAL)
		return MW_EFORMAT;
	if ((b->flags & MW_ACKB_COMPLETE) && b->bitmap_len)
		return MW_EFORMAT;
	need = MW_WIRE_ACK_BLOCK_LEN + (size_t)b->bitmap_len;
	if (a->blocks_len < need)
		return MW_ETRUNC;
	b->bitmap = a->blocks + MW_OFF_BLK_BITMAP;
	a->blocks += need;
	a->blocks_len -= need;
	return 1;
}

void mw_wire_put_ack_fixed(uint8_t *pkt, const struct mw_ack *a)
{
	mw_put32(pkt + MW_OFF_ACK_LARGEST_PN, a->largest_pn);
	mw_put32(pkt + MW_OFF_ACK_DELAY_US, a->ack_delay_us);
	mw_put32(pkt + MW_OFF_ACK_CUM_TID, a->cum_tid);
	mw_put32(pkt + MW_OFF_ACK_RX_LIMIT, a->rx_limit);
	mw_put16(pkt + MW_OFF_ACK_NBLOCKS, a->nblocks);
	pkt[MW_OFF_ACK_HAS_LARGEST] = a->has_largest;
	pkt[MW_OFF_ACK_RSV] = 0;
}

size_t mw_wire_put_ack_block(uint8_t *p, const struct mw_ack_block *b)
{
	mw_put32(p + MW_OFF_BLK_TID, b->tid);
	mw_put32(p + MW_OFF_BLK_SEG_CUM, b->seg_cum);
	p[MW_OFF_BLK_FLAGS] = b->flags;
	p[MW_OFF_BLK_RSV] = 0;
	mw_put16(p + MW_OFF_BLK_BITMAP_LEN, b->bitmap_len);
	if (b->bitmap_len)
		memcpy(p + MW_OFF_BLK_BITMAP, b->bitmap, b->bitmap_len);
	return MW_WIRE_ACK_BLOCK_LEN + (size_t)b->bitmap_len;
}

/* ---- CLOSE --------------------------------------------------------------- */

int mw_wire_parse_close(const uint8_t *pkt, size_t len, struct mw_close *o)
{
	if (len != MW_WIRE_CLOSE_LEN)
		return MW_EFORMAT;
	o->reason = (int32_t)mw_get32(pkt + MW_OFF_CLOSE_REASON);
	if (o->reason > 0)
		return MW_EFORMAT;
	return 0;
}

size_t mw_wire_put_close(uint8_t *pkt, int32_t reason)
{
	mw_put32(pkt + MW_OFF_CLOSE_REASON, (uint32_t)reason);
	return MW_WIRE_CLOSE_LEN;
}
