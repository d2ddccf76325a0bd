/* SPDX-License-Identifier: BSD-3-Clause */
/* libFuzzer target: the packet parser. Whatever parses must re-serialise
 * to the same bytes (round trip), and every pointer it returns must lie
 * inside the input. The CRC is fixed up half of the time so that the
 * fuzzer reaches the body parsers. */
#include <stdlib.h>
#include <string.h>

#include "mw_wire.h"
#include "wire_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len);

/* Compact DATA (PROTOCOL.md 5.6): the parser round-trips under the
 * identities its CRC was made with and refuses others; the segment rules,
 * under a descriptor made from the flag byte, give a range inside the
 * tensor whose payload size is the packet's. */
static void cdata(uint8_t *p, uint8_t *q, size_t len, uint8_t flags)
{
	static const struct mw_ident src = {7, 1}, dst = {9, 3};
	static const uint8_t codecs[4] = {MW_CODEC_MS, MW_CODEC_QUANT,
					  MW_CODEC_DENSE, MW_CODEC_RAW};
	struct mw_codec_desc d = {0};
	struct mw_cdata c;
	struct mw_seg sg;

	if ((flags & 1) && len >= MW_WIRE_CDATA_HDR_LEN) {
		mw_put16(p, MW_WIRE_MAGIC);
		p[2] = MW_WIRE_VERSION;
		p[3] = MW_PT_CDATA;
		mw_wire_finish_cdata(p, len, &src, &dst);
	}
	if (mw_wire_parse_cdata(p, len, &src, &dst, &c) != 0)
		return;
	if (mw_wire_cdata_crc_ok(p, len, &dst, &src) &&
	    mw_wire_cdata_crc_ok(p, len, &src, &src) &&
	    mw_wire_cdata_crc_ok(p, len, &dst, &dst))
		abort(); /* the identities are not covered */
	if (c.payload != p + MW_WIRE_CDATA_HDR_LEN ||
	    c.payload_len != len - MW_WIRE_CDATA_HDR_LEN)
		abort();
	sg.elem_off = c.elem_off;
	sg.val_cnt = c.val_cnt;
	sg.elem_cnt = 0;
	sg.val_off = 0;
	mw_wire_put_cdata(q, c.pn, c.tid16, c.seg_idx, &sg);
	memcpy(q + MW_WIRE_CDATA_HDR_LEN, c.payload, c.payload_len);
	mw_wire_finish_cdata(q, len, &src, &dst);
	if (memcmp(p, q, len))
		abort();
	d.codec = codecs[(flags >> 2) & 3];
	d.bits = d.codec == MW_CODEC_MS || d.codec == MW_CODEC_QUANT
			 ? (uint8_t)(1 + ((flags >> 4) & 7))
			 : 0;
	d.n = (uint64_t)c.elem_off + 1 + (c.pn & 0xffff);
	d.k = d.codec == MW_CODEC_MS ? d.n / 2 : 0;
	if (mw_wire_cdata_seg(&c, &d, 1 + (c.pn >> 16 & 0xff), &sg) == 0 &&
	    (sg.elem_off != c.elem_off || sg.elem_cnt > d.n - sg.elem_off ||
	     sg.val_off != MW_VAL_OFF_UNKNOWN || sg.val_cnt != c.val_cnt ||
	     mw_seg_payload_size(&d, &sg) != c.payload_len ||
	     c.seg_idx == 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	uint8_t *p, *q;
	struct mw_hdr h;
	struct mw_data d;
	struct mw_ack a;
	struct mw_ack_block b;
	struct mw_hello hb;
	struct mw_close c;

	if (len < 1 || len > MW_WIRE_MAX_DATAGRAM + 1)
		return 0;
	p = malloc(len);
	q = malloc(len);
	if (!p || !q)
		abort();
	memcpy(p, in + 1, len - 1);
	len--;
	if (in[0] & 2) {
		cdata(p, q, len, in[0]);
		free(p);
		free(q);
		return 0;
	}
	if ((in[0] & 1) && len >= MW_WIRE_HDR_LEN) {
		mw_put16(p, MW_WIRE_MAGIC);
		p[2] = MW_WIRE_VERSION;
		mw_wire_finish(p, len);
	}
	/* the round trip is version 1's: version 2 is sealed (sec.c) */
	if (mw_wire_parse_hdr(p, len, &h) == 0 && h.version == MW_WIRE_VERSION) {
		switch (h.type) {
		case MW_PT_HELLO:
		case MW_PT_HELLO_ACK:
			if (mw_wire_parse_hello(p, len, &hb) == 0) {
				mw_wire_put_hdr(q, h.type, h.flags, &h.src,
						&h.dst);
				mw_wire_finish(q, mw_wire_put_hello(q, &hb));
				if (memcmp(p, q, len))
					abort();
			}
			break;
		case MW_PT_DATA:
			if (mw_wire_parse_data(p, len, &d) == 0) {
				if (d.payload < p || d.payload + d.payload_len !=
							     p + len)
					abort();
				mw_wire_put_hdr(q, h.type, h.flags, &h.src,
						&h.dst);
				if (mw_wire_put_data(q, &d) < 0)
					abort();
				memcpy(q + MW_WIRE_DATA_HDR_LEN, d.payload,
				       d.payload_len);
				mw_wire_finish(q, len);
				if (memcmp(p, q, len))
					abort();
			}
			break;
		case MW_PT_ACK:
			if (mw_wire_parse_ack(p, len, &a) == 0) {
				unsigned n = 0;
				int rc;

				while ((rc = mw_wire_ack_block(&a, &b)) > 0) {
					if (b.bitmap_len &&
					    (b.bitmap < p ||
					     b.bitmap + b.bitmap_len > p + len))
						abort();
					n++;
				}
				if (rc < 0 || n != a.nblocks)
					abort();
			}
			break;
		case MW_PT_CLOSE:
			if (mw_wire_parse_close(p, len, &c) == 0 && c.reason > 0)
				abort();
			break;
		default:
			abort(); /* parse_hdr accepted an unknown type */
		}
	}
	free(p);
	free(q);
	return 0;
}
