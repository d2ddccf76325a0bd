/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dump.c - print every maskwire datagram of a capture as one TSV row, the
 * header fields as the project's own parsers (mw_wire.h) read them. The
 * column names are the Wireshark dissector's field names, so a test can
 * ask tshark for the same columns and compare.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pcaptool.h"

/* Columns, in order. "pt.*" are the tool's own; the rest are dissector
 * field names. A column is empty when the datagram does not have it. */
static const char *const cols[] = {
	"frame.number", "pt.kind", "pt.status",
	"maskwire.magic", "maskwire.version", "maskwire.type", "maskwire.len",
	"maskwire.flags", "maskwire.src.inc", "maskwire.src.gen",
	"maskwire.dst.inc", "maskwire.dst.gen", "maskwire.crc",
	"maskwire.crc.status",
	"maskwire.hello.max_datagram", "maskwire.hello.caps",
	"maskwire.hello.rx_window", "maskwire.hello.max_segs",
	"maskwire.hello.reserved2", "maskwire.hello.max_tensor_bytes",
	"maskwire.data.pn", "maskwire.data.tid", "maskwire.data.seg_idx",
	"maskwire.data.elem_cnt", "maskwire.data.val_cnt",
	"maskwire.data.elem_off", "maskwire.data.val_off", "maskwire.data.n",
	"maskwire.data.k", "maskwire.data.tag", "maskwire.data.seg_cnt",
	"maskwire.data.codec", "maskwire.data.bits", "maskwire.data.rounding",
	"maskwire.data.dtype", "maskwire.data.kind", "maskwire.data.ndim",
	"maskwire.data.deadline_ms", "maskwire.data.p0", "maskwire.data.p1",
	"maskwire.data.dim", "maskwire.data.payload_len",
	"maskwire.ack.largest_pn", "maskwire.ack.ack_delay_us",
	"maskwire.ack.cum_tid", "maskwire.ack.rx_limit", "maskwire.ack.nblocks",
	"maskwire.ack.has_largest", "maskwire.ack.reserved",
	"maskwire.ack.block.tid", "maskwire.ack.block.seg_cum",
	"maskwire.ack.block.flags", "maskwire.ack.block.reserved",
	"maskwire.ack.block.bitmap_len", "maskwire.ack.block.bitmap",
	"maskwire.close.reason",
	"maskwire.cdata.pn", "maskwire.cdata.tid16", "maskwire.cdata.val_cnt",
	"maskwire.cdata.seg_idx", "maskwire.cdata.elem_off",
	"maskwire.cdata.crc", "maskwire.cdata.crc.status",
	"maskwire.cdata.payload_len",
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))
#define CELL 1024

struct row {
	char v[NCOLS][CELL];
};

static void set(struct row *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set(struct row *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	for (size_t i = 0; i < NCOLS; i++) {
		if (strcmp(cols[i], name))
			continue;
		va_start(ap, fmt);
		vsnprintf(r->v[i], CELL, fmt, ap);
		va_end(ap);
		return;
	}
	fprintf(stderr, "maskwire-pcaptool: no column %s\n", name);
	abort();
}

/* Append ",x" (or "x") to a multi-valued column. */
static void add(struct row *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add(struct row *r, const char *name, const char *fmt, ...)
{
	char tmp[CELL];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	for (size_t i = 0; i < NCOLS; i++) {
		size_t l;

		if (strcmp(cols[i], name))
			continue;
		l = strlen(r->v[i]);
		snprintf(r->v[i] + l, CELL - l, "%s%s", l ? "," : "", tmp);
		return;
	}
	abort();
}

/*
 * Find a UDP datagram to port in an Ethernet frame: up to two
 * 802.1Q/802.1ad tags, IPv4 that is not a fragment, a UDP length that
 * fits. Returns the UDP payload or NULL.
 */
static const uint8_t *find_udp(const struct pt_frame *f, uint16_t port,
			       size_t *len, uint32_t ips[2])
{
	const uint8_t *d = f->d;
	size_t n = f->caplen, off = 12, ihl, tot, ulen;
	uint16_t et;
	int tags = 0;

	if (n < 14)
		return NULL;
	et = mw_get16(d + off);
	while ((et == MW_NET_ETHERTYPE_VLAN || et == MW_NET_ETHERTYPE_QINQ) &&
	       tags < 2) {
		if (n < off + 6)
			return NULL;
		off += 4;
		et = mw_get16(d + off);
		tags++;
	}
	off += 2;
	if (et != MW_NET_ETHERTYPE_IPV4 || n < off + 20)
		return NULL;
	d += off;
	n -= off;
	if ((d[0] >> 4) != 4)
		return NULL;
	ihl = (size_t)(d[0] & 0xf) * 4u;
	tot = mw_get16(d + 2);
	if (ihl < 20 || tot < ihl + 8 || tot > n || d[9] != 17 ||
	    (mw_get16(d + 6) & 0x3fffu))
		return NULL;
	ips[0] = mw_get32(d + 12);
	ips[1] = mw_get32(d + 16);
	d += ihl;
	ulen = mw_get16(d + 4);
	if (ulen < 8 || ulen > tot - ihl)
		return NULL;
	if (mw_get16(d + 2) != port)
		return NULL;
	*len = ulen - 8;
	return d + 8;
}

static const char *status_name(int rc)
{
	switch (rc) {
	case 0:
		return "ok";
	case MW_ETRUNC:
		return "truncated";
	case MW_EBADMAGIC:
		return "bad_magic";
	case MW_EVERSION:
		return "bad_version";
	case MW_EUNSUPP:
		return "unsupported";
	case MW_ECHECKSUM:
		return "bad_checksum";
	case MW_EFORMAT:
		return "malformed";
	case MW_ERANGE:
		return "out_of_range";
	case MW_EINVAL:
		return "invalid";
	default:
		return "error";
	}
}

static uint32_t f2u(float x)
{
	uint32_t u;

	memcpy(&u, &x, 4);
	return u;
}

/* The CRC32C the header should carry: over the datagram with its CRC
 * field read as zero (as mw_wire_parse_hdr() computes it). */
static uint32_t datagram_crc(const uint8_t *pl, size_t len)
{
	uint8_t tmp[MW_WIRE_HDR_LEN];
	uint32_t c;

	memcpy(tmp, pl, MW_WIRE_HDR_LEN);
	memset(tmp + MW_OFF_CRC, 0, 4);
	c = mw_crc32c(0, tmp, MW_WIRE_HDR_LEN);
	return mw_crc32c(c, pl + MW_WIRE_HDR_LEN, len - MW_WIRE_HDR_LEN);
}

static void dump_body(struct row *r, const uint8_t *pl, size_t len,
		      unsigned type, int *rc)
{
	if (type == MW_PT_HELLO || type == MW_PT_HELLO_ACK) {
		struct mw_hello h;
		int brc = mw_wire_parse_hello(pl, len, &h);

		if (len != MW_WIRE_HELLO_LEN)
			goto out;
		set(r, "maskwire.hello.max_datagram", "%u", h.max_datagram);
		set(r, "maskwire.hello.caps", "%u", h.caps);
		set(r, "maskwire.hello.rx_window", "%u", h.rx_window);
		set(r, "maskwire.hello.max_segs", "%u", h.max_segs);
		set(r, "maskwire.hello.reserved2", "%u", h.reserved2);
		set(r, "maskwire.hello.max_tensor_bytes", "%" PRIu64,
		    h.max_tensor_bytes);
		if (*rc == 0)
			*rc = brc;
	} else if (type == MW_PT_DATA) {
		struct mw_data d;
		int brc = mw_wire_parse_data(pl, len, &d);

		if (len < MW_WIRE_DATA_HDR_LEN)
			goto out;
		set(r, "maskwire.data.pn", "%u", d.pn);
		set(r, "maskwire.data.tid", "%u", d.tid);
		set(r, "maskwire.data.seg_idx", "%u", d.seg_idx);
		set(r, "maskwire.data.elem_cnt", "%" PRIu64, d.seg.elem_cnt);
		set(r, "maskwire.data.val_cnt", "%" PRIu64, d.seg.val_cnt);
		set(r, "maskwire.data.elem_off", "%" PRIu64, d.seg.elem_off);
		set(r, "maskwire.data.val_off", "%" PRIu64, d.seg.val_off);
		set(r, "maskwire.data.n", "%" PRIu64, d.desc.n);
		set(r, "maskwire.data.k", "%" PRIu64, d.desc.k);
		set(r, "maskwire.data.tag", "%" PRIu64, d.meta.tag);
		set(r, "maskwire.data.seg_cnt", "%u", d.seg_cnt);
		set(r, "maskwire.data.codec", "%u", d.desc.codec);
		set(r, "maskwire.data.bits", "%u", d.desc.bits);
		set(r, "maskwire.data.rounding", "%u", d.desc.rounding);
		set(r, "maskwire.data.dtype", "%u", d.meta.dtype);
		set(r, "maskwire.data.kind", "%u", d.meta.kind);
		set(r, "maskwire.data.ndim", "%u", d.meta.ndim);
		set(r, "maskwire.data.deadline_ms", "%u", d.meta.deadline_ms);
		set(r, "maskwire.data.p0", "0x%08x", f2u(d.desc.p0));
		set(r, "maskwire.data.p1", "0x%08x", f2u(d.desc.p1));
		for (unsigned i = 0; i < MW_WIRE_MAX_DIMS; i++)
			add(r, "maskwire.data.dim", "%u", d.meta.dims[i]);
		set(r, "maskwire.data.payload_len", "%zu", d.payload_len);
		if (*rc == 0)
			*rc = brc;
	} else if (type == MW_PT_ACK) {
		struct mw_ack a, it;
		struct mw_ack_block b;
		int brc = mw_wire_parse_ack(pl, len, &a);

		if (len < MW_WIRE_ACK_FIXED_LEN)
			goto out;
		set(r, "maskwire.ack.largest_pn", "%u", a.largest_pn);
		set(r, "maskwire.ack.ack_delay_us", "%u", a.ack_delay_us);
		set(r, "maskwire.ack.cum_tid", "%u", a.cum_tid);
		set(r, "maskwire.ack.rx_limit", "%u", a.rx_limit);
		set(r, "maskwire.ack.nblocks", "%u", a.nblocks);
		set(r, "maskwire.ack.has_largest", "%u", a.has_largest);
		set(r, "maskwire.ack.reserved", "%u", pl[MW_OFF_ACK_RSV]);
		if (brc == 0) {
			it = a;
			while (mw_wire_ack_block(&it, &b) > 0) {
				add(r, "maskwire.ack.block.tid", "%u", b.tid);
				add(r, "maskwire.ack.block.seg_cum", "%u",
				    b.seg_cum);
				add(r, "maskwire.ack.block.flags", "%u",
				    b.flags);
				/* checked to be 0 by the parser */
				add(r, "maskwire.ack.block.reserved", "0");
				add(r, "maskwire.ack.block.bitmap_len", "%u",
				    b.bitmap_len);
				if (b.bitmap_len) {
					char hex[2 * 400 + 1];
					unsigned n = b.bitmap_len < 400
							     ? b.bitmap_len
							     : 400;

					for (unsigned i = 0; i < n; i++)
						sprintf(hex + 2 * i, "%02x",
							b.bitmap[i]);
					add(r, "maskwire.ack.block.bitmap",
					    "%s", hex);
				}
			}
		}
		if (*rc == 0)
			*rc = brc;
	} else if (type == MW_PT_CLOSE) {
		struct mw_close c;
		int brc = mw_wire_parse_close(pl, len, &c);

		if (len != MW_WIRE_CLOSE_LEN)
			goto out;
		set(r, "maskwire.close.reason", "%d",
		    (int32_t)mw_get32(pl + MW_OFF_CLOSE_REASON));
		if (*rc == 0)
			*rc = brc;
	}
	return;
out:
	if (*rc == 0)
		*rc = MW_ETRUNC;
}

/*
 * A compact DATA's CRC covers the session's identities (PROTOCOL.md 5.6),
 * which it does not carry: they are those of the last version-1 packet
 * (type 1-5, length field right) with a good CRC and a known destination
 * sent in the same direction (source IPv4 address to destination). The
 * dissector follows the same rule.
 */
#define DIRS 16
struct dir {
	uint32_t ips[2];
	struct mw_ident src, dst;
};

/* Does this datagram (its CRC good) name the identities for the compact
 * DATA after it: version 1, magic, type 1-5, length field equal to the
 * datagram, a destination other than {0,0}? */
static int cdata_ident_src(const uint8_t *pl, size_t len)
{
	return len >= MW_WIRE_HDR_LEN &&
	       mw_get16(pl + MW_OFF_MAGIC) == MW_WIRE_MAGIC &&
	       pl[MW_OFF_VERSION] == MW_WIRE_VERSION && pl[MW_OFF_TYPE] >= 1 &&
	       pl[MW_OFF_TYPE] <= 5 && mw_get16(pl + MW_OFF_LEN) == len &&
	       (mw_get32(pl + MW_OFF_DST_INC) || mw_get32(pl + MW_OFF_DST_GEN));
}

static struct dir *dir_find(struct dir *t, size_t *n, const uint32_t ips[2],
			    int add)
{
	for (size_t i = 0; i < *n; i++)
		if (t[i].ips[0] == ips[0] && t[i].ips[1] == ips[1])
			return &t[i];
	if (!add || *n == DIRS)
		return NULL;
	memset(&t[*n], 0, sizeof(t[*n]));
	t[*n].ips[0] = ips[0];
	t[*n].ips[1] = ips[1];
	return &t[(*n)++];
}

static void dump_cdata(struct row *r, const uint8_t *pl, size_t len,
		       const struct dir *dr)
{
	struct mw_cdata c;
	/* version 2 (PROTOCOL.md 12.5): the header in the clear, crc 0, the
	 * payload (ciphertext in encrypt mode) and the trailer; the tag is
	 * not checked here */
	int v2 = pl[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC;
	size_t tail = v2 ? MW_SEC_TRAILER_LEN : 0;
	int rc = v2 ? (len >= MW_WIRE_CDATA_HDR_LEN + tail ? 0 : MW_ETRUNC)
		    : mw_wire_parse_cdata(pl, len, NULL, NULL, &c);

	set(r, "pt.kind", "maskwire");
	set(r, "maskwire.magic", "%u", mw_get16(pl + MW_OFF_MAGIC));
	set(r, "maskwire.version", "%u", pl[MW_OFF_VERSION]);
	set(r, "maskwire.type", "%u", pl[MW_OFF_TYPE]);
	if (len >= MW_WIRE_CDATA_HDR_LEN + tail) {
		set(r, "maskwire.cdata.pn", "%u",
		    mw_get32(pl + MW_OFF_CDATA_PN));
		set(r, "maskwire.cdata.tid16", "%u",
		    mw_get16(pl + MW_OFF_CDATA_TID));
		set(r, "maskwire.cdata.val_cnt", "%u",
		    mw_get16(pl + MW_OFF_CDATA_VAL_CNT));
		set(r, "maskwire.cdata.seg_idx", "%u",
		    mw_get32(pl + MW_OFF_CDATA_SEG_IDX));
		set(r, "maskwire.cdata.elem_off", "%u",
		    mw_get32(pl + MW_OFF_CDATA_ELEM_OFF));
		set(r, "maskwire.cdata.crc", "%u",
		    mw_get32(pl + MW_OFF_CDATA_CRC));
		set(r, "maskwire.cdata.payload_len", "%zu",
		    len - MW_WIRE_CDATA_HDR_LEN - tail);
		if (dr && !v2) {
			int ok = mw_wire_cdata_crc_ok(pl, len, &dr->src,
						      &dr->dst);

			set(r, "maskwire.cdata.crc.status", "%s",
			    ok ? "good" : "bad");
			if (rc == 0 && !ok)
				rc = MW_ECHECKSUM;
		}
	}
	set(r, "pt.status", "%s", status_name(rc));
}

int pt_cmd_dump(int argc, char **argv)
{
	struct dir dirs[DIRS];
	size_t ndirs = 0;
	struct pt_cap c;
	char err[256];
	const char *path = NULL;
	unsigned port = 47000;
	struct row *r = malloc(sizeof(*r));

	if (!r)
		return 3;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--udp-port") && i + 1 < argc)
			port = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!path)
			path = argv[i];
		else
			path = NULL;
	}
	if (!path || port == 0 || port > 65535) {
		fprintf(stderr, "usage: maskwire-pcaptool dump FILE "
				"[--udp-port N]\n");
		free(r);
		return 2;
	}
	if (pt_load(path, &c, err, sizeof err)) {
		fprintf(stderr, "maskwire-pcaptool: %s\n", err);
		free(r);
		return 1;
	}
	for (size_t i = 0; i < NCOLS; i++)
		printf("%s%s", i ? "\t" : "", cols[i]);
	printf("\n");
	for (size_t fi = 0; fi < c.n; fi++) {
		const struct pt_frame *f = &c.f[fi];
		const uint8_t *pl;
		size_t len = 0;
		uint32_t ips[2] = {0, 0};
		struct mw_hdr h;
		int rc;

		memset(r, 0, sizeof(*r));
		set(r, "frame.number", "%zu", fi + 1);
		pl = find_udp(f, (uint16_t)port, &len, ips);
		if (pl && mw_wire_is_cdata(pl, len)) {
			dump_cdata(r, pl, len, dir_find(dirs, &ndirs, ips, 0));
		} else if (!pl || len < MW_WIRE_HDR_LEN) {
			/* ARP is what a replaying side may send besides
			 * maskwire datagrams. */
			const char *kind = "other";
			size_t off = 12;

			if (f->caplen >= 14 &&
			    mw_get16(f->d + 12) == MW_NET_ETHERTYPE_VLAN)
				off = 16;
			if (f->caplen >= off + 2 + 8 &&
			    mw_get16(f->d + off) == MW_NET_ETHERTYPE_ARP)
				kind = mw_get16(f->d + off + 8) == 1
					       ? "arp-request"
					       : "arp-reply";
			set(r, "pt.kind", "%s", kind);
		} else {
			set(r, "pt.kind", "maskwire");
			memset(&h, 0, sizeof(h));
			rc = mw_wire_parse_hdr(pl, len, &h);
			set(r, "maskwire.magic", "%u",
			    mw_get16(pl + MW_OFF_MAGIC));
			set(r, "maskwire.version", "%u", pl[MW_OFF_VERSION]);
			set(r, "maskwire.type", "%u", pl[MW_OFF_TYPE]);
			set(r, "maskwire.len", "%u", mw_get16(pl + MW_OFF_LEN));
			set(r, "maskwire.flags", "%u",
			    mw_get16(pl + MW_OFF_FLAGS));
			set(r, "maskwire.src.inc", "%u",
			    mw_get32(pl + MW_OFF_SRC_INC));
			set(r, "maskwire.src.gen", "%u",
			    mw_get32(pl + MW_OFF_SRC_GEN));
			set(r, "maskwire.dst.inc", "%u",
			    mw_get32(pl + MW_OFF_DST_INC));
			set(r, "maskwire.dst.gen", "%u",
			    mw_get32(pl + MW_OFF_DST_GEN));
			set(r, "maskwire.crc", "%u", mw_get32(pl + MW_OFF_CRC));
			if (pl[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC) {
				/* secure (PROTOCOL.md 12): no CRC; a body
				 * only where it is in the clear (a HELLO,
				 * integrity mode), before the trailer */
				uint8_t ty = pl[MW_OFF_TYPE];
				int hello = ty == MW_PT_HELLO ||
					    ty == MW_PT_HELLO_ACK;

				if ((rc == 0 || rc == MW_EFORMAT) &&
				    (hello || (mw_get16(pl + MW_OFF_FLAGS) &
					       MW_FLAG_CLEAR)))
					dump_body(r, pl,
						  hello ? MW_WIRE_HELLO_LEN
							: len - MW_SEC_TRAILER_LEN,
						  ty, &rc);
			} else {
				int good = datagram_crc(pl, len) ==
					   mw_get32(pl + MW_OFF_CRC);
				struct dir *dr;

				set(r, "maskwire.crc.status", "%s",
				    good ? "good" : "bad");
				if (good && cdata_ident_src(pl, len) &&
				    (dr = dir_find(dirs, &ndirs, ips, 1))) {
					dr->src.inc = mw_get32(pl + MW_OFF_SRC_INC);
					dr->src.gen = mw_get32(pl + MW_OFF_SRC_GEN);
					dr->dst.inc = mw_get32(pl + MW_OFF_DST_INC);
					dr->dst.gen = mw_get32(pl + MW_OFF_DST_GEN);
				}
				if (rc == 0 || rc == MW_EFORMAT)
					dump_body(r, pl, len, pl[MW_OFF_TYPE],
						  &rc);
			}
			set(r, "pt.status", "%s", status_name(rc));
		}
		for (size_t i = 0; i < NCOLS; i++)
			printf("%s%s", i ? "\t" : "", r->v[i]);
		printf("\n");
	}
	pt_free(&c);
	free(r);
	return 0;
}
