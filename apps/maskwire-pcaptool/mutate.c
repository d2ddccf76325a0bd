/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutate.c - derive damaged and hostile variants of a recorded capture
 * from a seed, and build looping captures for RX benchmarks.
 *
 * Every frame the tool makes is checked against the project's parsers
 * before it is inserted, so a catalogue entry that stopped hitting its
 * intended drop reason fails loudly instead of silently testing nothing.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pcaptool.h"

#define FBUF 16384u

struct mut {
	struct pt_sess s;
	struct pt_cap c;
	uint64_t rng;
	struct mw_ident peer;   /* the peer's session, from its HELLO */
	struct mw_ident local;  /* the replaying side's: {inc, 1} */
	bool have_peer;
	uint16_t ip_id;
	FILE *log;
	unsigned done[64];
};

/* A valid DATA packet from the peer at frame i? Fills d and the datagram. */
static bool data_at(const struct mut *m, size_t i, struct mw_data *d,
		    const uint8_t **pl, size_t *len)
{
	struct mw_net_pkt p;
	struct mw_hdr h;
	bool from_peer;

	if (i >= m->c.n ||
	    pt_classify(&m->s, &m->c.f[i], &p, &from_peer, pl, len) !=
		    MW_NET_CLASS_UDP ||
	    !from_peer)
		return false;
	if (mw_wire_parse_hdr(*pl, *len, &h) || h.type != MW_PT_DATA)
		return false;
	return mw_wire_parse_data(*pl, *len, d) == 0;
}

static bool is_data(const struct mut *m, size_t i)
{
	struct mw_data d;
	const uint8_t *pl;
	size_t len;

	return data_at(m, i, &d, &pl, &len);
}

static int find_peer_ident(struct mut *m)
{
	for (size_t i = 0; i < m->c.n; i++) {
		struct mw_net_pkt p;
		struct mw_hdr h;
		const uint8_t *pl;
		size_t len;
		bool from_peer;

		if (pt_classify(&m->s, &m->c.f[i], &p, &from_peer, &pl,
				&len) != MW_NET_CLASS_UDP ||
		    !from_peer || mw_wire_parse_hdr(pl, len, &h) ||
		    h.type != MW_PT_HELLO)
			continue;
		m->peer = h.src;
		m->have_peer = true;
		return 0;
	}
	return -1;
}

static void note_frame(struct mut *m, size_t i, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_frame(struct mut *m, size_t i, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->c.f[i].note, sizeof(m->c.f[i].note), fmt, ap);
	va_end(ap);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
	__attribute__((noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "maskwire-pcaptool mutate: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void insert(struct mut *m, size_t pos, const uint8_t *d, size_t len,
		   const char *note)
{
	uint64_t ts;

	if (pos > m->c.n)
		pos = m->c.n;
	ts = pos < m->c.n ? m->c.f[pos].ts_us
			  : (m->c.n ? m->c.f[m->c.n - 1].ts_us : 0);
	if (pt_insert(&m->c, pos, d, (uint32_t)len, (uint32_t)len, ts, note))
		die("out of memory");
}

/* ---- reorder, duplicate, damage ------------------------------------------ */

static void op_reorder(struct mut *m, unsigned n)
{
	for (unsigned k = 0, tries = 0; k < n && tries < 100000; tries++) {
		size_t i = (size_t)pt_below(&m->rng, m->c.n), j;
		struct pt_frame f;

		if (!is_data(m, i))
			continue;
		j = i + 1 + (size_t)pt_below(&m->rng, 4);
		if (!is_data(m, j))
			continue;
		/* Move frame i to just after frame j. */
		f = m->c.f[i];
		memmove(m->c.f + i, m->c.f + i + 1, (j - i) * sizeof(f));
		m->c.f[j] = f;
		if (!f.note[0])
			note_frame(m, j, "reordered");
		k++;
	}
}

static void op_dup(struct mut *m, unsigned n)
{
	for (unsigned k = 0, tries = 0; k < n && tries < 100000; tries++) {
		size_t i = (size_t)pt_below(&m->rng, m->c.n), j;
		struct mw_data d;
		const uint8_t *pl;
		size_t len;
		char note[48];

		if (!data_at(m, i, &d, &pl, &len))
			continue;
		j = i + 1 + (size_t)pt_below(&m->rng, 16);
		snprintf(note, sizeof note, "dup:tid %u seg %u", d.tid,
			 d.seg_idx);
		insert(m, j, m->c.f[i].d, m->c.f[i].caplen, note);
		k++;
	}
}

/* Copies of each (tid, seg) still intact among valid DATA frames. */
static unsigned copies(const struct mut *m, uint32_t tid, uint32_t seg)
{
	unsigned n = 0;

	for (size_t i = 0; i < m->c.n; i++) {
		struct mw_data d;
		const uint8_t *pl;
		size_t len;

		if (data_at(m, i, &d, &pl, &len) && d.tid == tid &&
		    d.seg_idx == seg)
			n++;
	}
	return n;
}

enum damage { DMG_DROP, DMG_TRUNC, DMG_FLIP, DMG_DEEPFLIP };

static const char *const dmg_name[] = {"drop", "truncate", "flip",
				       "deepflip"};

static void damage_one(struct mut *m, size_t i, enum damage how,
		       const struct mw_data *d, const uint8_t *pl,
		       size_t len)
{
	struct pt_frame *f = &m->c.f[i];
	size_t hl = (size_t)(pl - f->d);
	struct mw_net_pkt p;
	uint8_t buf[FBUF];
	int n;

	switch (how) {
	case DMG_DROP:
		if (m->log)
			fprintf(m->log, "drop\t-\ttid %u seg %u pn %u\n",
				d->tid, d->seg_idx, d->pn);
		pt_remove(&m->c, i);
		return;
	case DMG_TRUNC:
		/* Cut inside the maskwire datagram, as a short snap length
		 * would: IPv4's total length now runs past the frame. */
		f->caplen = (uint32_t)(hl + 1 + pt_below(&m->rng, len - 1));
		if (mw_net_parse(&m->s.net, f->d, f->caplen, 0, &p) !=
			    MW_NET_CLASS_DROP ||
		    p.drop != MW_NET_DROP_IP_BAD_LEN)
			die("truncated frame not classified as "
			    "ipv4_bad_total_length");
		break;
	case DMG_FLIP: {
		uint64_t b = pt_below(&m->rng, (uint64_t)len * 8);

		f->d[hl + b / 8] ^= (uint8_t)(1u << (b % 8));
		if (mw_net_parse(&m->s.net, f->d, f->caplen, 0, &p) !=
			    MW_NET_CLASS_DROP ||
		    p.drop != MW_NET_DROP_UDP_CKSUM)
			die("bit flip not caught by the UDP checksum");
		break;
	}
	case DMG_DEEPFLIP: {
		/* Flip a bit behind the maskwire header and fix the UDP
		 * checksum: only the datagram's CRC32C can notice. */
		uint64_t b = pt_below(&m->rng,
				      (uint64_t)(len - MW_WIRE_HDR_LEN) * 8);
		struct mw_hdr h;

		memcpy(buf, pl, len);
		buf[MW_WIRE_HDR_LEN + b / 8] ^= (uint8_t)(1u << (b % 8));
		n = pt_build_peer_frame(&m->s, buf, len, m->ip_id++, buf,
					sizeof buf);
		if (n < 0 || (uint32_t)n > f->caplen)
			die("cannot rebuild a frame");
		memcpy(f->d, buf, (size_t)n);
		f->caplen = f->len = (uint32_t)n;
		if (mw_net_parse(&m->s.net, f->d, f->caplen, 0, &p) !=
			    MW_NET_CLASS_UDP ||
		    mw_wire_parse_hdr(f->d + p.payload_off, p.payload_len,
				      &h) != MW_ECHECKSUM)
			die("deep bit flip not caught by the CRC32C");
		break;
	}
	}
	note_frame(m, i, "%s:tid %u seg %u", dmg_name[how], d->tid,
		   d->seg_idx);
}

static void op_damage(struct mut *m, enum damage how, unsigned n,
		      bool recoverable)
{
	for (unsigned k = 0, tries = 0; k < n && tries < 100000; tries++) {
		size_t i = (size_t)pt_below(&m->rng, m->c.n);
		struct mw_data d;
		const uint8_t *pl;
		size_t len;

		if (!data_at(m, i, &d, &pl, &len))
			continue;
		if (recoverable && copies(m, d.tid, d.seg_idx) < 2)
			continue;
		damage_one(m, i, how, &d, pl, len);
		k++;
	}
}

/* ---- hostile maskwire datagrams from the peer ---------------------------- */

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
		die("%s: cannot build a frame", name);
	snprintf(note, sizeof note, "hostile:%s", name);
	insert(m, pos, fr, (size_t)n, note);
}

static void finish(uint8_t *dg, size_t len)
{
	if (mw_wire_finish(dg, len) < 0)
		die("mw_wire_finish failed");
}

/* A template: the first valid DATA frame of a tensor with >= 2 segments
 * (or any). Returns its frame index or SIZE_MAX. */
static size_t template_data(const struct mut *m, bool multi)
{
	for (size_t i = 0; i < m->c.n; i++) {
		struct mw_data d;
		const uint8_t *pl;
		size_t len;

		if (data_at(m, i, &d, &pl, &len) && (!multi || d.seg_cnt > 1))
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

		if (data_at(m, i, &d, &pl, &len) && d.tid == tid)
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
		die("%s: header parse gave %d, wanted %d", name, rc, want);
}

static void check_data(const uint8_t *dg, size_t len, int want,
		       const char *name)
{
	struct mw_data d;
	int rc;

	check_hdr(dg, len, 0, name);
	rc = mw_wire_parse_data(dg, len, &d);
	if (want == 1 ? rc >= 0 : rc != want)
		die("%s: DATA parse gave %d, wanted %d", name, rc, want);
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
		die("out of memory");
	got = mw_seg_decode(&d.desc, d.seg.elem_off, d.seg.elem_cnt,
			    d.payload, d.payload_len, buf);
	free(buf);
	if (got >= 0 && (uint64_t)got == d.seg.val_cnt)
		die("%s: the payload decodes", name);
}

static void op_hostile(struct mut *m)
{
	size_t ti = template_data(m, true), lo, hi;
	uint8_t dg[FBUF];
	struct mw_data d;
	const uint8_t *pl;
	size_t len;

	if (!m->have_peer)
		die("--hostile needs the peer's HELLO in the capture");
	if (ti == SIZE_MAX)
		ti = template_data(m, false);
	if (ti == SIZE_MAX || !data_at(m, ti, &d, &pl, &len))
		die("--hostile needs a DATA frame from the peer");
	if (len > sizeof dg - 64)
		die("template datagram too large");
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

	TEMPLATE();
	dg[MW_OFF_VERSION] = 2;
	finish(dg, len);
	check_hdr(dg, len, MW_EVERSION, "bad_version");
	put_hostile(m, RANDPOS(), dg, len, "bad_version");

	TEMPLATE();
	dg[MW_OFF_TYPE] = 9;
	finish(dg, MW_WIRE_HDR_LEN);
	check_hdr(dg, MW_WIRE_HDR_LEN, MW_EUNSUPP, "bad_type");
	put_hostile(m, RANDPOS(), dg, MW_WIRE_HDR_LEN, "bad_type");

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
	finish(dg, 100);
	check_hdr(dg, 100, MW_ETRUNC, "short_data");
	put_hostile(m, RANDPOS(), dg, 100, "short_data");

	TEMPLATE();
	mw_put16(dg + MW_OFF_FLAGS, 0x8000);
	finish(dg, len);
	check_hdr(dg, len, MW_EFORMAT, "unknown_flag");
	put_hostile(m, RANDPOS(), dg, len, "unknown_flag");

	TEMPLATE();
	mw_put16(dg + MW_OFF_FLAGS, MW_FLAG_ACK_REQ);
	finish(dg, len);
	check_hdr(dg, len, MW_EFORMAT, "ack_req_on_data");
	put_hostile(m, RANDPOS(), dg, len, "ack_req_on_data");

	TEMPLATE();
	mw_put32(dg + MW_OFF_SRC_INC, 0);
	finish(dg, len);
	check_hdr(dg, len, MW_EFORMAT, "zero_incarnation");
	put_hostile(m, RANDPOS(), dg, len, "zero_incarnation");

	/* DATA header fields: absurd declared sizes and counts */
	TEMPLATE();
	dg[MW_OFF_DATA_NDIM] = 9;
	finish(dg, len);
	check_data(dg, len, MW_EFORMAT, "ndim_9");
	put_hostile(m, RANDPOS(), dg, len, "ndim_9");

	TEMPLATE();
	mw_put32(dg + MW_OFF_DATA_SEG_CNT, 0);
	finish(dg, len);
	check_data(dg, len, MW_EFORMAT, "seg_cnt_0");
	put_hostile(m, RANDPOS(), dg, len, "seg_cnt_0");

	TEMPLATE();
	dg[MW_OFF_DATA_CODEC] = 200;
	finish(dg, len);
	check_data(dg, len, MW_EUNSUPP, "codec_200");
	put_hostile(m, RANDPOS(), dg, len, "codec_200");

	TEMPLATE(); /* element count past the tensor */
	mw_put32(dg + MW_OFF_DATA_ELEM_CNT, 0xfffffff0u);
	finish(dg, len);
	check_data(dg, len, MW_ERANGE, "elem_cnt_huge");
	put_hostile(m, RANDPOS(), dg, len, "elem_cnt_huge");

	TEMPLATE(); /* shape product disagrees with n */
	mw_put32(dg + MW_OFF_DATA_DIMS, 0xffffffffu);
	finish(dg, len);
	check_data(dg, len, MW_EFORMAT, "dims_huge");
	put_hostile(m, RANDPOS(), dg, len, "dims_huge");

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
		finish(dg, l);
		check_data(dg, l, 0, "n_2pow40");
		put_hostile(m, RANDPOS(), dg, l, "n_2pow40");

		mw_put64(dg + MW_OFF_DATA_N, 4096);
		mw_put32(dg + MW_OFF_DATA_DIMS, 64);
		mw_put32(dg + MW_OFF_DATA_DIMS + 4, 64);
		mw_put32(dg + MW_OFF_DATA_SEG_CNT, 0x80000000u);
		finish(dg, l);
		check_data(dg, l, 0, "seg_cnt_2pow31");
		put_hostile(m, RANDPOS(), dg, l, "seg_cnt_2pow31");
	}

	TEMPLATE(); /* payload shorter than the header says */
	finish(dg, len - 4);
	check_data(dg, len - 4, MW_ETRUNC, "payload_short");
	put_hostile(m, RANDPOS(), dg, len - 4, "payload_short");

	/* Session identities */
	TEMPLATE();
	mw_put32(dg + MW_OFF_SRC_INC, m->peer.inc - 1000u);
	finish(dg, len);
	check_data(dg, len, 0, "stale_incarnation");
	put_hostile(m, RANDPOS(), dg, len, "stale_incarnation");

	TEMPLATE();
	mw_put32(dg + MW_OFF_DST_GEN, m->local.gen + 1);
	finish(dg, len);
	check_data(dg, len, 0, "wrong_session");
	put_hostile(m, RANDPOS(), dg, len, "wrong_session");

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
		finish(dg, l);
		check_hdr(dg, l, 0, "hello_reserved");
		put_hostile(m, RANDPOS(), dg, l, "hello_reserved");

		mw_wire_put_hdr(dg, MW_PT_HELLO, 0, &m->peer, NULL);
		hb.max_datagram = 100;
		l = mw_wire_put_hello(dg, &hb);
		finish(dg, l);
		check_hdr(dg, l, 0, "hello_tiny_datagram");
		put_hostile(m, RANDPOS(), dg, l, "hello_tiny_datagram");

		/* an older session of the peer says HELLO */
		old.gen = m->peer.gen - 1 ? m->peer.gen - 1 : 0xffffffffu;
		hb.max_datagram = 1472;
		mw_wire_put_hdr(dg, MW_PT_HELLO, 0, &old, NULL);
		l = mw_wire_put_hello(dg, &hb);
		finish(dg, l);
		check_hdr(dg, l, 0, "hello_stale");
		put_hostile(m, RANDPOS(), dg, l, "hello_stale");

		/* a HELLO_ACK for a session we never offered */
		{
			struct mw_ident other = {m->local.inc, 77};

			mw_wire_put_hdr(dg, MW_PT_HELLO_ACK, 0, &m->peer,
					&other);
			l = mw_wire_put_hello(dg, &hb);
			finish(dg, l);
			check_hdr(dg, l, 0, "hello_ack_wrong_dst");
			put_hostile(m, RANDPOS(), dg, l,
				    "hello_ack_wrong_dst");
		}

		mw_wire_put_hdr(dg, MW_PT_ACK, 0, &m->peer, &m->local);
		memset(dg + MW_WIRE_HDR_LEN, 0,
		       MW_WIRE_ACK_FIXED_LEN - MW_WIRE_HDR_LEN);
		mw_put16(dg + MW_OFF_ACK_NBLOCKS, 2); /* none present */
		finish(dg, MW_WIRE_ACK_FIXED_LEN);
		check_hdr(dg, MW_WIRE_ACK_FIXED_LEN, 0, "ack_blocks_missing");
		put_hostile(m, RANDPOS(), dg, MW_WIRE_ACK_FIXED_LEN,
			    "ack_blocks_missing");

		mw_wire_put_hdr(dg, MW_PT_ACK, 0, &m->peer, &m->local);
		memset(dg + MW_WIRE_HDR_LEN, 0,
		       MW_WIRE_ACK_FIXED_LEN - MW_WIRE_HDR_LEN);
		/* tensors never sent */
		mw_put32(dg + MW_OFF_ACK_CUM_TID, 5);
		mw_put32(dg + MW_OFF_ACK_RX_LIMIT, 13);
		finish(dg, MW_WIRE_ACK_FIXED_LEN);
		check_hdr(dg, MW_WIRE_ACK_FIXED_LEN, 0, "ack_for_nothing");
		put_hostile(m, RANDPOS(), dg, MW_WIRE_ACK_FIXED_LEN,
			    "ack_for_nothing");

		mw_wire_put_hdr(dg, MW_PT_CLOSE, 0, &m->peer, &m->local);
		l = mw_wire_put_close(dg, 0);
		mw_put32(dg + MW_OFF_CLOSE_REASON, 7); /* reasons are <= 0 */
		finish(dg, l);
		check_hdr(dg, l, 0, "close_positive_reason");
		put_hostile(m, RANDPOS(), dg, l, "close_positive_reason");
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
				finish(dg, len);
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
				finish(dg, len);
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
			finish(dg, len);
			check_data(dg, len, 0, "inconsistent_tensor");
			put_hostile(m, first + 1, dg, len,
				    "inconsistent_tensor");
		}
	}
#undef TEMPLATE
#undef RANDPOS
}

/* ---- foreign traffic ------------------------------------------------------ */

static const uint8_t other_mac[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x77};
static const uint8_t mcast_mac[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
static const uint8_t bcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

static void ip_cksum(uint8_t *ip)
{
	size_t ihl = (size_t)(ip[0] & 0xf) * 4u;

	mw_put16(ip + 10, 0);
	mw_put16(ip + 10, mw_net_cksum_fold(mw_net_cksum_add(0, ip, ihl)));
}

/* A UDP frame from `src_ip:sport` to our address, port dport, VLAN vlan,
 * with a payload of plen bytes (a maskwire-looking header). */
static int udp_frame(const struct mut *m, uint8_t *fr, size_t cap,
		     uint32_t src_ip, uint16_t sport, uint16_t dport,
		     uint16_t vlan, size_t plen)
{
	struct mw_net_flow fl;
	size_t hl;

	memset(&fl, 0, sizeof(fl));
	memcpy(fl.src_mac, m->s.peer_mac, 6);
	memcpy(fl.dst_mac, m->s.net.mac, 6);
	fl.src_ip = src_ip;
	fl.dst_ip = m->s.net.ip;
	fl.src_port = sport;
	fl.dst_port = dport;
	fl.vlan = vlan;
	hl = mw_net_hdr_len(&fl);
	if (hl + plen > cap)
		return MW_ENOSPC;
	for (size_t i = 0; i < plen; i++)
		fr[hl + i] = (uint8_t)(i * 7 + 1);
	if (plen >= 2)
		mw_put16(fr + hl + MW_OFF_MAGIC, MW_WIRE_MAGIC);
	if (plen >= 4) {
		fr[hl + MW_OFF_VERSION] = MW_WIRE_VERSION;
		fr[hl + MW_OFF_TYPE] = MW_PT_DATA;
	}
	return mw_net_build_udp(&fl, fr, cap, plen, 0x4242, 0);
}

static size_t l3(const struct mut *m)
{
	return 14u + (m->s.net.vlan != MW_NET_NO_VLAN ? 4u : 0u);
}

static uint16_t peer_port(const struct mut *m)
{
	return m->s.peer_port ? m->s.peer_port : m->s.net.port;
}

/* Frame kinds: name, expected mw_net class, drop reason (for DROP). */
enum fk {
	FK_ARP_FOR_US, FK_ARP_NOT_FOR_US, FK_ARP_REPLY, FK_ARP_TRUNC,
	FK_ARP_BAD, FK_IPV6, FK_ETHERTYPE, FK_TCP, FK_ICMP, FK_GRE,
	FK_UDP_PORT, FK_UNKNOWN_PEER, FK_VLAN_OTHER, FK_QINQ, FK_VLAN_TRUNC,
	FK_FRAG_FIRST, FK_FRAG_LATER, FK_IP_OPTIONS, FK_IP_CKSUM,
	FK_IP_NOT_US, FK_IP_VERSION, FK_IP_IHL, FK_IP_TOTLEN, FK_IP_TRUNC,
	FK_UDP_TRUNC, FK_UDP_BADLEN, FK_UDP_ZERO, FK_UDP_CKSUM, FK_RUNT,
	FK_NOT_OUR_MAC, FK_MULTICAST, FK_BCAST_IP, FK_JUMBO, FK_OVERSIZE,
	FK_COUNT_
};

static const struct {
	const char *name;
	int cls;
	int drop;
} fk_info[FK_COUNT_] = {
	[FK_ARP_FOR_US] = {"arp_request_for_us", MW_NET_CLASS_ARP_REQ, 0},
	[FK_ARP_NOT_FOR_US] = {"arp_request_other", MW_NET_CLASS_DROP,
			       MW_NET_DROP_ARP_NOT_FOR_US},
	[FK_ARP_REPLY] = {"arp_reply_gratuitous", MW_NET_CLASS_ARP_REPLY, 0},
	[FK_ARP_TRUNC] = {"arp_truncated", MW_NET_CLASS_DROP,
			  MW_NET_DROP_ARP_TRUNC},
	[FK_ARP_BAD] = {"arp_hw_type_6", MW_NET_CLASS_DROP,
			MW_NET_DROP_ARP_BAD},
	[FK_IPV6] = {"ipv6_udp", MW_NET_CLASS_DROP, MW_NET_DROP_IPV6},
	[FK_ETHERTYPE] = {"lldp", MW_NET_CLASS_DROP, MW_NET_DROP_ETHERTYPE},
	[FK_TCP] = {"tcp", MW_NET_CLASS_DROP, MW_NET_DROP_TCP},
	[FK_ICMP] = {"icmp", MW_NET_CLASS_DROP, MW_NET_DROP_ICMP},
	[FK_GRE] = {"gre", MW_NET_CLASS_DROP, MW_NET_DROP_IP_PROTO},
	[FK_UDP_PORT] = {"udp_port_53", MW_NET_CLASS_DROP,
			 MW_NET_DROP_UDP_PORT},
	[FK_UNKNOWN_PEER] = {"udp_unknown_host", MW_NET_CLASS_UDP, 0},
	[FK_VLAN_OTHER] = {"vlan_other", MW_NET_CLASS_DROP,
			   MW_NET_DROP_VLAN_MISMATCH},
	[FK_QINQ] = {"qinq", MW_NET_CLASS_DROP, MW_NET_DROP_VLAN_STACKED},
	[FK_VLAN_TRUNC] = {"vlan_truncated", MW_NET_CLASS_DROP,
			   MW_NET_DROP_VLAN_TRUNC},
	[FK_FRAG_FIRST] = {"ipv4_first_fragment", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_FRAG},
	[FK_FRAG_LATER] = {"ipv4_later_fragment", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_FRAG},
	[FK_IP_OPTIONS] = {"ipv4_options", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_OPTIONS},
	[FK_IP_CKSUM] = {"ipv4_bad_checksum", MW_NET_CLASS_DROP,
			 MW_NET_DROP_IP_CKSUM},
	[FK_IP_NOT_US] = {"ipv4_not_for_us", MW_NET_CLASS_DROP,
			  MW_NET_DROP_IP_NOT_FOR_US},
	[FK_IP_VERSION] = {"ipv4_version_5", MW_NET_CLASS_DROP,
			   MW_NET_DROP_IP_VERSION},
	[FK_IP_IHL] = {"ipv4_ihl_4", MW_NET_CLASS_DROP,
		       MW_NET_DROP_IP_HDR_LEN},
	[FK_IP_TOTLEN] = {"ipv4_total_length_long", MW_NET_CLASS_DROP,
			  MW_NET_DROP_IP_BAD_LEN},
	[FK_IP_TRUNC] = {"ipv4_truncated", MW_NET_CLASS_DROP,
			 MW_NET_DROP_IP_TRUNC},
	[FK_UDP_TRUNC] = {"udp_truncated", MW_NET_CLASS_DROP,
			  MW_NET_DROP_UDP_TRUNC},
	[FK_UDP_BADLEN] = {"udp_length_long", MW_NET_CLASS_DROP,
			   MW_NET_DROP_UDP_BAD_LEN},
	[FK_UDP_ZERO] = {"udp_zero_checksum", MW_NET_CLASS_DROP,
			 MW_NET_DROP_UDP_ZERO_CKSUM},
	[FK_UDP_CKSUM] = {"udp_bad_checksum", MW_NET_CLASS_DROP,
			  MW_NET_DROP_UDP_CKSUM},
	[FK_RUNT] = {"runt", MW_NET_CLASS_DROP, MW_NET_DROP_RUNT},
	[FK_NOT_OUR_MAC] = {"unicast_other_mac", MW_NET_CLASS_DROP,
			    MW_NET_DROP_NOT_OUR_MAC},
	[FK_MULTICAST] = {"multicast", MW_NET_CLASS_DROP,
			  MW_NET_DROP_MULTICAST},
	[FK_BCAST_IP] = {"broadcast_ipv4", MW_NET_CLASS_DROP,
			 MW_NET_DROP_BCAST_NON_ARP},
	/* a 4000-byte frame spans several mbufs and is linearised; its
	 * maskwire length field says more than it carries */
	[FK_JUMBO] = {"jumbo_4000", MW_NET_CLASS_UDP, 0},
	/* larger than any frame the data plane handles */
	[FK_OVERSIZE] = {"oversize_12000", -1, 0},
};

static int build_foreign(const struct mut *m, enum fk k, uint8_t *fr,
			 size_t cap)
{
	struct mw_net_cfg other = m->s.net;
	uint16_t vlan = m->s.net.vlan;
	uint16_t pp = peer_port(m);
	size_t o = l3(m);
	int n;

	switch (k) {
	case FK_ARP_FOR_US:
	case FK_ARP_NOT_FOR_US:
	case FK_ARP_TRUNC:
	case FK_ARP_BAD:
	case FK_ARP_REPLY:
		memcpy(other.mac, other_mac, 6);
		other.ip = m->s.net.ip ^ 0x4du; /* a third host */
		n = mw_net_build_arp_request(
			&other,
			k == FK_ARP_NOT_FOR_US ? (m->s.net.ip ^ 0xc8u)
					       : m->s.net.ip,
			fr, cap);
		if (n < 0)
			return n;
		if (k == FK_ARP_REPLY) {
			/* gratuitous reply, broadcast */
			mw_put16(fr + o + 6, 2);
		} else if (k == FK_ARP_TRUNC) {
			n = (int)o + 10;
		} else if (k == FK_ARP_BAD) {
			mw_put16(fr + o, 6);
		}
		return n;
	case FK_IPV6:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 64);
		if (n < 0)
			return n;
		mw_put16(fr + o - 2, MW_NET_ETHERTYPE_IPV6);
		fr[o] = 0x60;
		return n;
	case FK_ETHERTYPE:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 32);
		if (n < 0)
			return n;
		mw_put16(fr + o - 2, 0x88cc);
		return n;
	case FK_TCP:
	case FK_ICMP:
	case FK_GRE:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 40);
		if (n < 0)
			return n;
		fr[o + 9] = k == FK_TCP ? 6 : k == FK_ICMP ? 1 : 47;
		ip_cksum(fr + o);
		return n;
	case FK_UDP_PORT:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, 53, vlan, 48);
	case FK_UNKNOWN_PEER:
		return udp_frame(m, fr, cap, m->s.peer_ip ^ 0x63u, pp,
				 m->s.net.port, vlan, 48);
	case FK_VLAN_OTHER:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan == MW_NET_NO_VLAN ? 5 : MW_NET_NO_VLAN,
				 48);
	case FK_QINQ:
		/* an 802.1ad outer tag in front of whatever we accept */
		n = udp_frame(m, fr + 4, cap - 4, m->s.peer_ip, pp,
			      m->s.net.port, vlan, 48);
		if (n < 0)
			return n;
		memmove(fr, fr + 4, 12);
		mw_put16(fr + 12, MW_NET_ETHERTYPE_QINQ);
		mw_put16(fr + 14, 100);
		return n + 4;
	case FK_VLAN_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + 12, MW_NET_ETHERTYPE_VLAN);
		return 16;
	case FK_FRAG_FIRST:
	case FK_FRAG_LATER:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 200);
		if (n < 0)
			return n;
		/* DF off; MF on the first, offset 185 (1480 bytes) later */
		mw_put16(fr + o + 6, k == FK_FRAG_FIRST ? 0x2000 : 185);
		ip_cksum(fr + o);
		return n;
	case FK_IP_OPTIONS:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0 || (size_t)n + 4 > cap)
			return MW_ENOSPC;
		memmove(fr + o + 24, fr + o + 20, (size_t)n - o - 20);
		memset(fr + o + 20, 1, 4); /* four NOP options */
		fr[o] = 0x46;
		mw_put16(fr + o + 2, (uint16_t)(mw_get16(fr + o + 2) + 4));
		ip_cksum(fr + o);
		return n + 4;
	case FK_IP_CKSUM:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o + 10] ^= 0x10;
		return n;
	case FK_IP_NOT_US:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put32(fr + o + 16, m->s.net.ip ^ 0xc8u);
		ip_cksum(fr + o);
		return n;
	case FK_IP_VERSION:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o] = 0x55;
		return n;
	case FK_IP_IHL:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o] = 0x44;
		return n;
	case FK_IP_TOTLEN:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 2, (uint16_t)(mw_get16(fr + o + 2) + 100));
		ip_cksum(fr + o);
		return n;
	case FK_IP_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		return n < 0 ? n : (int)o + 12;
	case FK_UDP_TRUNC:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 2, 24);
		ip_cksum(fr + o);
		return (int)o + 24;
	case FK_UDP_BADLEN:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n < 0)
			return n;
		mw_put16(fr + o + 20 + 4, 400);
		return n;
	case FK_UDP_ZERO:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			mw_put16(fr + o + 20 + 6, 0);
		return n;
	case FK_UDP_CKSUM:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			fr[o + 20 + 8 + 30] ^= 0x04;
		return n;
	case FK_RUNT:
		memcpy(fr, m->s.net.mac, 6);
		memcpy(fr + 6, m->s.peer_mac, 4);
		return 10;
	case FK_NOT_OUR_MAC:
	case FK_MULTICAST:
	case FK_BCAST_IP:
		n = udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
			      vlan, 48);
		if (n >= 0)
			memcpy(fr, k == FK_NOT_OUR_MAC ? other_mac
				   : k == FK_MULTICAST ? mcast_mac
						       : bcast_mac,
			       6);
		return n;
	case FK_JUMBO:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan, 4000);
	case FK_OVERSIZE:
		return udp_frame(m, fr, cap, m->s.peer_ip, pp, m->s.net.port,
				 vlan, 12000);
	default:
		return MW_EINVAL;
	}
}

static void op_foreign(struct mut *m, unsigned n)
{
	unsigned order[FK_COUNT_];
	uint8_t fr[FBUF];

	for (unsigned i = 0; i < FK_COUNT_; i++)
		order[i] = i;
	for (unsigned i = FK_COUNT_ - 1; i > 0; i--) {
		unsigned j = (unsigned)pt_below(&m->rng, i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < n; i++) {
		enum fk k = (enum fk)order[i % FK_COUNT_];
		struct mw_net_pkt p;
		char note[48];
		int len = build_foreign(m, k, fr, sizeof fr), cls;

		if (len < 0)
			die("cannot build %s", fk_info[k].name);
		if (fk_info[k].cls >= 0) {
			cls = mw_net_parse(&m->s.net, fr, (size_t)len, 0, &p);
			if (cls != fk_info[k].cls ||
			    (cls == MW_NET_CLASS_DROP &&
			     (int)p.drop != fk_info[k].drop))
				die("%s: classified %d/%s", fk_info[k].name,
				    cls, mw_net_drop_name(p.drop));
		}
		snprintf(note, sizeof note, "foreign:%s", fk_info[k].name);
		insert(m, (size_t)pt_below(&m->rng, m->c.n + 1), fr,
		       (size_t)len, note);
	}
}

/* ---- the command ---------------------------------------------------------- */

static int parse_count(const char *v, unsigned *out)
{
	char *end;
	unsigned long x = v ? strtoul(v, &end, 10) : 0;

	if (!v || *end || x > 100000)
		return -1;
	*out = (unsigned)x;
	return 0;
}

int pt_cmd_mutate(int argc, char **argv)
{
	static struct mut m;
	const char *in = NULL, *out = NULL, *log = NULL;
	unsigned n_reorder = 0, n_dup = 0, n_drop = 0, n_trunc = 0,
		 n_flip = 0, n_deep = 0, n_foreign = 0;
	bool hostile = false, recoverable = false;
	uint64_t seed = 1;
	char err[256];
	int rc;

	pt_sess_default(&m.s);
	for (int i = 0; i < argc;) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned *cnt = NULL;

		rc = pt_sess_opt(&m.s, argc, argv, &i);
		if (rc < 0)
			goto usage;
		if (rc)
			continue;
		if (!strcmp(o, "--reorder"))
			cnt = &n_reorder;
		else if (!strcmp(o, "--dup"))
			cnt = &n_dup;
		else if (!strcmp(o, "--drop"))
			cnt = &n_drop;
		else if (!strcmp(o, "--truncate"))
			cnt = &n_trunc;
		else if (!strcmp(o, "--flip"))
			cnt = &n_flip;
		else if (!strcmp(o, "--deep-flip"))
			cnt = &n_deep;
		else if (!strcmp(o, "--foreign"))
			cnt = &n_foreign;
		if (cnt) {
			if (parse_count(v, cnt))
				goto usage;
			i += 2;
		} else if (!strcmp(o, "--seed") && v) {
			seed = strtoull(v, NULL, 0);
			i += 2;
		} else if (!strcmp(o, "--log") && v) {
			log = v;
			i += 2;
		} else if (!strcmp(o, "--hostile")) {
			hostile = true;
			i++;
		} else if (!strcmp(o, "--recoverable")) {
			recoverable = true;
			i++;
		} else if (o[0] != '-' && !in) {
			in = o;
			i++;
		} else if (o[0] != '-' && !out) {
			out = o;
			i++;
		} else {
			goto usage;
		}
	}
	if (!in || !out || pt_sess_check(&m.s, "mutate"))
		goto usage;
	if (pt_load(in, &m.c, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	if (log) {
		m.log = fopen(log, "w");
		if (!m.log) {
			perror(log);
			return 1;
		}
		fprintf(m.log, "op\tframe\tdetail\n");
	}
	m.rng = seed;
	m.local.inc = m.s.inc;
	m.local.gen = 1;
	m.ip_id = 0x7000;
	find_peer_ident(&m);
	/* Order matters: placement-sensitive insertions come last. */
	op_reorder(&m, n_reorder);
	op_dup(&m, n_dup);
	op_damage(&m, DMG_DROP, n_drop, recoverable);
	op_damage(&m, DMG_TRUNC, n_trunc, recoverable);
	op_damage(&m, DMG_FLIP, n_flip, recoverable);
	op_damage(&m, DMG_DEEPFLIP, n_deep, recoverable);
	if (hostile)
		op_hostile(&m);
	op_foreign(&m, n_foreign);
	if (m.log) {
		for (size_t i = 0; i < m.c.n; i++)
			if (m.c.f[i].note[0])
				fprintf(m.log, "mark\t%zu\t%s\n", i + 1,
					m.c.f[i].note);
		fclose(m.log);
	}
	if (pt_save(out, &m.c, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	pt_free(&m.c);
	return 0;
usage:
	fprintf(stderr,
		"usage: maskwire-pcaptool mutate IN OUT SESSION-OPTIONS "
		"[--seed S] [--reorder N] [--dup N] [--drop N] "
		"[--truncate N] [--flip N] [--deep-flip N] [--recoverable] "
		"[--hostile] [--foreign N] [--log TSV]\n");
	return 2;
}

/* ---- bench: a capture that can loop forever -------------------------------- */

/*
 * Keep the peer's HELLO and the first copy of every DATA segment of its
 * session, then repeat them `copies` times, each copy as a restart of the
 * peer with an incarnation a third (for 3 copies) of the 32-bit circle
 * further on. Serial-number arithmetic makes every copy newer than the one
 * before, the first included, so a receiver replaying the file in a loop
 * (net_pcap infinite_rx=1) resets and decodes every tensor again each
 * time round.
 */
int pt_cmd_bench(int argc, char **argv)
{
	static struct mut m;
	struct pt_cap out;
	const char *in = NULL, *outp = NULL;
	unsigned ncopies = 3;
	size_t *keep;
	size_t nkeep = 0;
	char err[256];
	int rc;

	pt_sess_default(&m.s);
	for (int i = 0; i < argc;) {
		rc = pt_sess_opt(&m.s, argc, argv, &i);
		if (rc < 0)
			goto usage;
		if (rc)
			continue;
		if (!strcmp(argv[i], "--copies") && i + 1 < argc) {
			if (parse_count(argv[i + 1], &ncopies) || ncopies < 2 ||
			    ncopies > 64)
				goto usage;
			i += 2;
		} else if (argv[i][0] != '-' && !in) {
			in = argv[i++];
		} else if (argv[i][0] != '-' && !outp) {
			outp = argv[i++];
		} else {
			goto usage;
		}
	}
	if (!in || !outp || pt_sess_check(&m.s, "bench"))
		goto usage;
	if (pt_load(in, &m.c, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	if (find_peer_ident(&m))
		die("bench: no HELLO from the peer in %s", in);
	keep = calloc(m.c.n, sizeof(*keep));
	if (!keep)
		die("out of memory");
	for (size_t i = 0; i < m.c.n; i++) {
		struct mw_net_pkt p;
		struct mw_hdr h;
		struct mw_data d;
		const uint8_t *pl;
		size_t len;
		bool from_peer, dup = false;

		if (pt_classify(&m.s, &m.c.f[i], &p, &from_peer, &pl, &len) !=
			    MW_NET_CLASS_UDP ||
		    !from_peer || mw_wire_parse_hdr(pl, len, &h) ||
		    h.src.inc != m.peer.inc || h.src.gen != m.peer.gen)
			continue;
		if (h.type == MW_PT_HELLO) {
			if (nkeep == 0)
				keep[nkeep++] = i;
			continue;
		}
		if (h.type != MW_PT_DATA || mw_wire_parse_data(pl, len, &d) ||
		    nkeep == 0)
			continue;
		for (size_t j = 1; j < nkeep && !dup; j++) {
			struct mw_data e;
			const uint8_t *epl;
			size_t elen;

			dup = data_at(&m, keep[j], &e, &epl, &elen) &&
			      e.tid == d.tid && e.seg_idx == d.seg_idx;
		}
		if (!dup)
			keep[nkeep++] = i;
	}
	memset(&out, 0, sizeof(out));
	for (unsigned k = 0; k < ncopies; k++) {
		uint32_t inc = m.peer.inc +
			       (uint32_t)(((uint64_t)k << 32) / ncopies);

		if (inc == 0)
			inc = 1;
		for (size_t j = 0; j < nkeep; j++) {
			const struct pt_frame *f = &m.c.f[keep[j]];
			struct mw_net_pkt p;
			const uint8_t *pl;
			size_t len;
			bool from_peer;
			uint8_t fr[FBUF];
			int n;

			pt_classify(&m.s, f, &p, &from_peer, &pl, &len);
			memcpy(fr, pl, len);
			mw_put32(fr + MW_OFF_SRC_INC, inc);
			finish(fr, len);
			n = pt_build_peer_frame(&m.s, fr, len, m.ip_id++, fr,
						sizeof fr);
			if (n < 0 || pt_insert(&out, out.n, fr, (uint32_t)n,
					       (uint32_t)n, f->ts_us, ""))
				die("cannot build a frame");
		}
	}
	if (pt_save(outp, &out, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		return 1;
	}
	fprintf(stderr,
		"bench: %zu frames per copy (1 HELLO + %zu DATA), %u copies\n",
		nkeep, nkeep ? nkeep - 1 : 0, ncopies);
	free(keep);
	pt_free(&out);
	pt_free(&m.c);
	return 0;
usage:
	fprintf(stderr, "usage: maskwire-pcaptool bench IN OUT "
			"SESSION-OPTIONS [--copies N]\n");
	return 2;
}
