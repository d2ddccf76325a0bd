/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate_hostile.c - `mutate --hostile`: maskwire datagrams a hostile or
 * broken peer could send, each built from the capture's own session and
 * checked against the transport's parsers for the drop it must hit
 * before it is inserted.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mutate.h"

/* What a hostile datagram must be rejected as. */
struct hostile {
	const char *name;
	enum mw_drop why;
};

/* Build a datagram from the peer and insert it; check what the project's
 * parsers say first (a model of the transport's first checks). */
static void put_hostile(struct mut *m, size_t pos, uint8_t *dg, size_t len,
			const char *name)
{
	uint8_t fr[FBUF];
	char note[48];
	int n = pt_build_peer_frame(&m->s, dg, len, m->ip_id++, fr,
				    sizeof fr);

	if (n < 0)
		mut_die("%s: cannot build a frame", name);
	snprintf(note, sizeof note, "hostile:%s", name);
	mut_insert(m, pos, fr, (size_t)n, note);
}

/* A template: the first valid DATA frame of a tensor with >= 2 segments
 * (or any). Returns its frame index or SIZE_MAX. */
static size_t template_data(const struct mut *m, bool multi)
{
	for (size_t i = 0; i < m->c.n; i++) {
		struct mw_data d;
		const uint8_t *pl;
		size_t len;

		if (mut_data_at(m, i, &d, &pl, &len) && (!multi || d.seg_cnt > 1))
			return i;
	}
	return SIZE_MAX;
}

static size_t first_of_tid(const struct mut *m, uint32_t tid)
{
	for (size_t i = 0; i < m->c.n; i++) {
		struct mw_data d;
		const uint8_t *pl;
		size_t len;

		if (mut_data_at(m, i, &d, &pl, &len) && d.tid == tid)
			return i;
	}
	return SIZE_MAX;
}

static void check_hdr(const uint8_t *dg, size_t len, int want,
		      const char *name)
{
	struct mw_hdr h;
	int rc = mw_wire_parse_hdr(dg, len, &h);

	if (rc != want)
		mut_die("%s: header parse gave %d, wanted %d", name, rc, want);
}

static void check_data(const uint8_t *dg, size_t len, int want,
		       const char *name)
{
	struct mw_data d;
	int rc;

	check_hdr(dg, len, 0, name);
	rc = mw_wire_parse_data(dg, len, &d);
	if (want == 1 ? rc >= 0 : rc != want)
		mut_die("%s: DATA parse gave %d, wanted %d", name, rc, want);
}

/* A mutated datagram finished (length, CRC), checked to parse as want
 * says (check_hdr or check_data), then put at pos. */
static void finish_put(struct mut *m, size_t pos, uint8_t *dg, size_t len,
		       void (*check)(const uint8_t *, size_t, int,
				     const char *),
		       int want, const char *name)
{
	mut_finish(dg, len);
	check(dg, len, want, name);
	put_hostile(m, pos, dg, len, name);
}

/* A DATA datagram that parses but whose payload the decoder refuses. */
static void check_undecodable(const uint8_t *dg, size_t len,
			      const char *name)
{
	struct mw_data d;
	uint8_t *buf;
	int64_t got;

	check_data(dg, len, 0, name);
	mw_wire_parse_data(dg, len, &d);
	buf = calloc(d.desc.n ? d.desc.n : 1, 4);
	if (!buf)
		mut_die("out of memory");
	got = mw_seg_decode(&d.desc, d.seg.elem_off, d.seg.elem_cnt,
			    d.payload, d.payload_len, buf);
	free(buf);
	if (got >= 0 && (uint64_t)got == d.seg.val_cnt)
		mut_die("%s: the payload decodes", name);
}

/* A compact DATA from the peer at frame i whose CRC verifies under the
 * session's identities (PROTOCOL.md 5.6)? */
static bool cdata_at(const struct mut *m, size_t i, struct mw_cdata *c,
		     const uint8_t **pl, size_t *len)
{
	struct mw_net_pkt p;
	bool from_peer;

	if (i >= m->c.n ||
	    pt_classify(&m->s, &m->c.f[i], &p, &from_peer, pl, len) !=
		    MW_NET_CLASS_UDP ||
	    !from_peer || !mw_wire_is_cdata(*pl, *len))
		return false;
	return mw_wire_parse_cdata(*pl, *len, &m->peer, &m->local, c) == 0;
}

static void check_cdata(const struct mut *m, const uint8_t *dg, size_t len,
			int want, const char *name)
{
	struct mw_cdata c;
	int rc = mw_wire_parse_cdata(dg, len, &m->peer, &m->local, &c);

	if (rc != want)
		mut_die("%s: compact DATA parse gave %d, wanted %d", name, rc,
			want);
}

/* A compact DATA whose segment its tensor's descriptor (from the full
 * DATA d) refuses with want: sealed, checked, put at pos. */
static void put_bad_seg(struct mut *m, size_t pos, uint8_t *dg, size_t len,
			const struct mw_data *d, int want, const char *name)
{
	struct mw_cdata c;
	struct mw_seg sg;

	mw_wire_finish_cdata(dg, len, &m->peer, &m->local);
	check_cdata(m, dg, len, 0, name);
	mw_wire_parse_cdata(dg, len, NULL, NULL, &c);
	if (mw_wire_cdata_seg(&c, &d->desc, d->seg_cnt, &sg) != want)
		mut_die("%s: the segment rules do not refuse it", name);
	put_hostile(m, pos, dg, len, name);
}

/* Compact DATA a hostile or broken peer could send, when the capture has
 * compact DATA: the template is the first one whose tensor's full DATA
 * came before it (so the tensor is open when it arrives) and whose
 * segment no frame before it carried. The segment-level faults go just
 * before the template, where the tensor is open and that segment still
 * missing; a segment of the last tensor goes before its first full DATA;
 * the packet-level faults anywhere. */
static void hostile_cdata(struct mut *m, size_t lo, size_t hi)
{
	struct mw_cdata c, c2;
	struct mw_data d;
	struct mw_seg sg;
	const uint8_t *pl, *pl2;
	size_t len, len2, ti = SIZE_MAX, first = SIZE_MAX;
	uint8_t dg[FBUF];
	uint32_t last_tid = 0;

	for (size_t i = 0; i < m->c.n && ti == SIZE_MAX; i++) {
		bool seen = false;

		if (!cdata_at(m, i, &c, &pl, &len))
			continue;
		first = first_of_tid(m, c.tid16);
		for (size_t j = 0; j < i && !seen; j++)
			seen = cdata_at(m, j, &c2, &pl2, &len2) &&
			       c2.tid16 == c.tid16 && c2.seg_idx == c.seg_idx;
		if (first < i && !seen)
			ti = i;
	}
	if (ti == SIZE_MAX)
		return; /* no compact DATA: nothing to add */
	if (!cdata_at(m, ti, &c, &pl, &len) || len > sizeof dg - 64 ||
	    !mut_data_at(m, first, &d, &pl2, &len2))
		mut_die("compact template");
	for (size_t i = 0; i < m->c.n; i++)
		if (mut_data_at(m, i, &d, &pl2, &len2) && d.tid > last_tid)
			last_tid = d.tid;
	mut_data_at(m, first, &d, &pl2, &len2);
#define CTEMPLATE() memcpy(dg, pl, len)
#define CRANDPOS() (lo + (size_t)pt_below(&m->rng, hi - lo + 1))

	/* a segment of the last tensor before any of its full DATA */
	if (last_tid > c.tid16) {
		CTEMPLATE();
		mw_put16(dg + MW_OFF_CDATA_TID, (uint16_t)last_tid);
		mw_wire_finish_cdata(dg, len, &m->peer, &m->local);
		check_cdata(m, dg, len, 0, "cdata_no_descriptor");
		put_hostile(m, first_of_tid(m, last_tid), dg, len,
			    "cdata_no_descriptor");
	}

	/* segment 0 is never compact; an element offset off the 8-grid */
	CTEMPLATE();
	mw_put32(dg + MW_OFF_CDATA_SEG_IDX, 0);
	put_bad_seg(m, ti++, dg, len, &d, MW_EFORMAT, "cdata_seg_idx_0");
	CTEMPLATE();
	mw_put32(dg + MW_OFF_CDATA_ELEM_OFF, c.elem_off + 4);
	put_bad_seg(m, ti++, dg, len, &d, MW_ERANGE, "cdata_unaligned");

	if ((d.desc.codec == MW_CODEC_MS ||
	     d.desc.codec == MW_CODEC_MS_SIGNED) && c.val_cnt &&
	    c.seg_idx + 1 < d.seg_cnt) {
		/* one more all-ones (sentinel) code than values */
		uint8_t *mask = dg + MW_OFF_CDATA_PAYLOAD;
		size_t mb = len - MW_WIRE_CDATA_HDR_LEN - 4u * c.val_cnt;
		uint8_t *buf;
		int64_t got;

		CTEMPLATE();
		for (size_t i = 0; i < mb; i++)
			if (mask[i] != 0xff) {
				mask[i] = 0xff;
				break;
			}
		mw_wire_finish_cdata(dg, len, &m->peer, &m->local);
		check_cdata(m, dg, len, 0, "cdata_sentinel_count");
		mw_wire_parse_cdata(dg, len, NULL, NULL, &c2);
		if (mw_wire_cdata_seg(&c2, &d.desc, d.seg_cnt, &sg) != 0)
			mut_die("cdata_sentinel_count: segment rules");
		buf = calloc(d.desc.n ? d.desc.n : 1, 4);
		if (!buf)
			mut_die("out of memory");
		got = mw_seg_decode(&d.desc, sg.elem_off, sg.elem_cnt,
				    c2.payload, c2.payload_len, buf);
		free(buf);
		if (got >= 0 && (uint64_t)got == sg.val_cnt)
			mut_die("cdata_sentinel_count: the payload decodes");
		put_hostile(m, ti, dg, len, "cdata_sentinel_count");
	}
	/* anywhere after the first DATA (last: the insertions above were
	 * placed by index) */
	CTEMPLATE();
	dg[MW_OFF_CDATA_CRC] ^= 0x01;
	check_cdata(m, dg, len, MW_ECHECKSUM, "cdata_bad_checksum");
	put_hostile(m, CRANDPOS(), dg, len, "cdata_bad_checksum");

	{	/* sealed for another session of the peer */
		struct mw_ident other = {m->peer.inc, m->peer.gen + 1};

		CTEMPLATE();
		mw_wire_finish_cdata(dg, len, &other, &m->local);
		check_cdata(m, dg, len, MW_ECHECKSUM, "cdata_other_session");
		put_hostile(m, CRANDPOS(), dg, len, "cdata_other_session");
	}

	CTEMPLATE();
	check_cdata(m, dg, 20, MW_ETRUNC, "cdata_short");
	put_hostile(m, CRANDPOS(), dg, 20, "cdata_short");

	CTEMPLATE();
	dg[MW_OFF_VERSION] = MW_WIRE_VERSION_SEC + 1;
	mw_wire_finish_cdata(dg, len, &m->peer, &m->local);
	check_cdata(m, dg, len, MW_EVERSION, "cdata_bad_version");
	put_hostile(m, CRANDPOS(), dg, len, "cdata_bad_version");

#undef CTEMPLATE
#undef CRANDPOS
}

void mut_hostile(struct mut *m)
{
	size_t ti = template_data(m, true), lo, hi;
	uint8_t dg[FBUF];
	struct mw_data d;
	const uint8_t *pl;
	size_t len;

	if (!m->have_peer)
		mut_die("--hostile needs the peer's HELLO in the capture");
	if (ti == SIZE_MAX)
		ti = template_data(m, false);
	if (ti == SIZE_MAX || !mut_data_at(m, ti, &d, &pl, &len))
		mut_die("--hostile needs a DATA frame from the peer");
	if (len > sizeof dg - 64)
		mut_die("template datagram too large");
	/* Session-level frames go between the first and the last DATA. */
	lo = ti + 1;
	hi = m->c.n;
#define TEMPLATE() memcpy(dg, pl, len)
#define RANDPOS() (lo + (size_t)pt_below(&m->rng, hi - lo + 1))

	/* common header */
	TEMPLATE();
	mw_put16(dg + MW_OFF_MAGIC, 0x5757);
	check_hdr(dg, len, MW_EBADMAGIC, "bad_magic");
	put_hostile(m, RANDPOS(), dg, len, "bad_magic");

	TEMPLATE(); /* neither plain (1) nor secure (2) */
	dg[MW_OFF_VERSION] = MW_WIRE_VERSION_SEC + 1;
	finish_put(m, RANDPOS(), dg, len, check_hdr, MW_EVERSION, "bad_version");

	TEMPLATE();
	dg[MW_OFF_TYPE] = 9;
	finish_put(m, RANDPOS(), dg, MW_WIRE_HDR_LEN, check_hdr, MW_EUNSUPP, "bad_type");

	TEMPLATE();
	dg[MW_OFF_CRC] ^= 0x01;
	check_hdr(dg, len, MW_ECHECKSUM, "bad_checksum");
	put_hostile(m, RANDPOS(), dg, len, "bad_checksum");

	TEMPLATE(); /* length field longer than the datagram */
	check_hdr(dg, len - 10, MW_ETRUNC, "len_over");
	put_hostile(m, RANDPOS(), dg, len - 10, "len_over");

	TEMPLATE(); /* length field shorter than the datagram */
	memset(dg + len, 0, 4);
	check_hdr(dg, len + 4, MW_EFORMAT, "len_under");
	put_hostile(m, RANDPOS(), dg, len + 4, "len_under");

	TEMPLATE(); /* a DATA shorter than the DATA header */
	finish_put(m, RANDPOS(), dg, 100, check_hdr, MW_ETRUNC, "short_data");

	TEMPLATE();
	mw_put16(dg + MW_OFF_FLAGS, 0x8000);
	finish_put(m, RANDPOS(), dg, len, check_hdr, MW_EFORMAT, "unknown_flag");

	TEMPLATE();
	mw_put16(dg + MW_OFF_FLAGS, MW_FLAG_ACK_REQ);
	finish_put(m, RANDPOS(), dg, len, check_hdr, MW_EFORMAT, "ack_req_on_data");

	TEMPLATE();
	mw_put32(dg + MW_OFF_SRC_INC, 0);
	finish_put(m, RANDPOS(), dg, len, check_hdr, MW_EFORMAT, "zero_incarnation");

	/* DATA header fields: absurd declared sizes and counts */
	TEMPLATE();
	dg[MW_OFF_DATA_NDIM] = 9;
	finish_put(m, RANDPOS(), dg, len, check_data, MW_EFORMAT, "ndim_9");

	TEMPLATE();
	mw_put32(dg + MW_OFF_DATA_SEG_CNT, 0);
	finish_put(m, RANDPOS(), dg, len, check_data, MW_EFORMAT, "seg_cnt_0");

	TEMPLATE();
	dg[MW_OFF_DATA_CODEC] = 200;
	finish_put(m, RANDPOS(), dg, len, check_data, MW_EUNSUPP, "codec_200");

	TEMPLATE(); /* element count past the tensor */
	mw_put32(dg + MW_OFF_DATA_ELEM_CNT, 0xfffffff0u);
	finish_put(m, RANDPOS(), dg, len, check_data, MW_ERANGE, "elem_cnt_huge");

	TEMPLATE(); /* shape product disagrees with n */
	mw_put32(dg + MW_OFF_DATA_DIMS, 0xffffffffu);
	finish_put(m, RANDPOS(), dg, len, check_data, MW_EFORMAT, "dims_huge");

	{	/* 2^40 dense elements in 1000 segments: well-formed, over
		 * the receiver's tensor limit */
		size_t l = MW_WIRE_DATA_HDR_LEN + 32;

		TEMPLATE();
		mw_put32(dg + MW_OFF_DATA_SEG_IDX, 0);
		mw_put32(dg + MW_OFF_DATA_ELEM_CNT, 8);
		mw_put32(dg + MW_OFF_DATA_VAL_CNT, 0);
		mw_put64(dg + MW_OFF_DATA_ELEM_OFF, 0);
		mw_put64(dg + MW_OFF_DATA_VAL_OFF, 0);
		mw_put64(dg + MW_OFF_DATA_N, 1ull << 40);
		mw_put64(dg + MW_OFF_DATA_K, 0);
		mw_put32(dg + MW_OFF_DATA_SEG_CNT, 1000);
		dg[MW_OFF_DATA_CODEC] = MW_CODEC_DENSE;
		dg[MW_OFF_DATA_BITS] = 0;
		dg[MW_OFF_DATA_ROUNDING] = 0;
		dg[MW_OFF_DATA_DTYPE] = MW_DT_F32;
		dg[MW_OFF_DATA_NDIM] = 2;
		mw_put32(dg + MW_OFF_DATA_P0, 0);
		mw_put32(dg + MW_OFF_DATA_P1, 0);
		for (unsigned i = 0; i < MW_WIRE_MAX_DIMS; i++)
			mw_put32(dg + MW_OFF_DATA_DIMS + 4 * i,
				 i < 2 ? 1u << 20 : 0);
		memset(dg + MW_WIRE_DATA_HDR_LEN, 0, 32);
		finish_put(m, RANDPOS(), dg, l, check_data, 0, "n_2pow40");

		mw_put64(dg + MW_OFF_DATA_N, 4096);
		mw_put32(dg + MW_OFF_DATA_DIMS, 64);
		mw_put32(dg + MW_OFF_DATA_DIMS + 4, 64);
		mw_put32(dg + MW_OFF_DATA_SEG_CNT, 0x80000000u);
		finish_put(m, RANDPOS(), dg, l, check_data, 0, "seg_cnt_2pow31");
	}

	TEMPLATE(); /* payload shorter than the header says */
	finish_put(m, RANDPOS(), dg, len - 4, check_data, MW_ETRUNC, "payload_short");

	/* Session identities */
	TEMPLATE();
	mw_put32(dg + MW_OFF_SRC_INC, m->peer.inc - 1000u);
	finish_put(m, RANDPOS(), dg, len, check_data, 0, "stale_incarnation");

	TEMPLATE();
	mw_put32(dg + MW_OFF_DST_GEN, m->local.gen + 1);
	finish_put(m, RANDPOS(), dg, len, check_data, 0, "wrong_session");

	/* HELLO, ACK and CLOSE that do not parse, an ACK for nothing */
	{
		struct mw_hello hb = {.max_datagram = 1472, .rx_window = 8,
				      .max_segs = 1u << 20,
				      .max_tensor_bytes = 1ull << 28};
		struct mw_ident old = m->peer;
		size_t l;

		mw_wire_put_hdr(dg, MW_PT_HELLO, 0, &m->peer, NULL);
		l = mw_wire_put_hello(dg, &hb);
		mw_put32(dg + MW_OFF_HELLO_RSV2, 1);
		finish_put(m, RANDPOS(), dg, l, check_hdr, 0, "hello_reserved");

		mw_wire_put_hdr(dg, MW_PT_HELLO, 0, &m->peer, NULL);
		hb.max_datagram = 100;
		l = mw_wire_put_hello(dg, &hb);
		finish_put(m, RANDPOS(), dg, l, check_hdr, 0, "hello_tiny_datagram");

		/* an older session of the peer says HELLO */
		old.gen = m->peer.gen - 1 ? m->peer.gen - 1 : 0xffffffffu;
		hb.max_datagram = 1472;
		mw_wire_put_hdr(dg, MW_PT_HELLO, 0, &old, NULL);
		l = mw_wire_put_hello(dg, &hb);
		finish_put(m, RANDPOS(), dg, l, check_hdr, 0, "hello_stale");

		/* a HELLO_ACK for a session we never offered */
		{
			struct mw_ident other = {m->local.inc, 77};

			mw_wire_put_hdr(dg, MW_PT_HELLO_ACK, 0, &m->peer,
					&other);
			l = mw_wire_put_hello(dg, &hb);
			mut_finish(dg, l);
			check_hdr(dg, l, 0, "hello_ack_wrong_dst");
			put_hostile(m, RANDPOS(), dg, l,
				    "hello_ack_wrong_dst");
		}

		mw_wire_put_hdr(dg, MW_PT_ACK, 0, &m->peer, &m->local);
		memset(dg + MW_WIRE_HDR_LEN, 0,
		       MW_WIRE_ACK_FIXED_LEN - MW_WIRE_HDR_LEN);
		mw_put16(dg + MW_OFF_ACK_NBLOCKS, 2); /* none present */
		mut_finish(dg, MW_WIRE_ACK_FIXED_LEN);
		check_hdr(dg, MW_WIRE_ACK_FIXED_LEN, 0, "ack_blocks_missing");
		put_hostile(m, RANDPOS(), dg, MW_WIRE_ACK_FIXED_LEN,
			    "ack_blocks_missing");

		mw_wire_put_hdr(dg, MW_PT_ACK, 0, &m->peer, &m->local);
		memset(dg + MW_WIRE_HDR_LEN, 0,
		       MW_WIRE_ACK_FIXED_LEN - MW_WIRE_HDR_LEN);
		/* tensors never sent */
		mw_put32(dg + MW_OFF_ACK_CUM_TID, 5);
		mw_put32(dg + MW_OFF_ACK_RX_LIMIT, 13);
		mut_finish(dg, MW_WIRE_ACK_FIXED_LEN);
		check_hdr(dg, MW_WIRE_ACK_FIXED_LEN, 0, "ack_for_nothing");
		put_hostile(m, RANDPOS(), dg, MW_WIRE_ACK_FIXED_LEN,
			    "ack_for_nothing");

		mw_wire_put_hdr(dg, MW_PT_CLOSE, 0, &m->peer, &m->local);
		l = mw_wire_put_close(dg, 0);
		mw_put32(dg + MW_OFF_CLOSE_REASON, 7); /* reasons are <= 0 */
		finish_put(m, RANDPOS(), dg, l, check_hdr, 0, "close_positive_reason");
	}

	/* Decoder-level and reassembly-level faults need the right place:
	 * before a tensor's first segment (the slot opens, the segment is
	 * refused, the real one still decodes), or right after it (the
	 * tensor is open and incomplete). */
	{
		uint32_t tid = d.tid;
		size_t first = first_of_tid(m, tid);
		uint8_t *mask = dg + MW_OFF_DATA_PAYLOAD;
		if (d.desc.codec == MW_CODEC_MS ||
		    d.desc.codec == MW_CODEC_MS_SIGNED) {
			/* One more all-ones (sentinel) code than values. */
			size_t mb = (size_t)mw_mask_bytes(d.seg.elem_cnt,
							  d.desc.bits);
			size_t at = SIZE_MAX;

			TEMPLATE();
			for (size_t i = 0; i < mb; i++)
				if (mask[i] != 0xff) {
					at = i;
					break;
				}
			if (at != SIZE_MAX && d.seg.val_cnt) {
				mask[at] = 0xff;
				mut_finish(dg, len);
				check_undecodable(dg, len, "sentinel_count");
				put_hostile(m, first, dg, len,
					    "sentinel_count");
				first++;
			}
			if (d.seg.val_cnt) {
				/* a quiet NaN as the last value (the codec
				 * payload is little-endian) */
				static const uint8_t nan_le[4] = {0, 0, 0xc0,
								  0x7f};

				TEMPLATE();
				memcpy(dg + len - 4, nan_le, 4);
				mut_finish(dg, len);
				check_undecodable(dg, len, "nan_value");
				put_hostile(m, first, dg, len, "nan_value");
				first++;
			}
		}
		if (d.seg_cnt > 1) {
			/* The same tensor id with another tag: the tensor's
			 * description changed mid-way. */
			TEMPLATE();
			mw_put64(dg + MW_OFF_DATA_TAG, d.meta.tag + 1000);
			mut_finish(dg, len);
			check_data(dg, len, 0, "inconsistent_tensor");
			put_hostile(m, first + 1, dg, len,
				    "inconsistent_tensor");
		}
	}
#undef TEMPLATE
#undef RANDPOS
	/* last, so that a capture without compact DATA gets exactly the
	 * catalogue it always got */
	hostile_cdata(m, lo, m->c.n);
}

