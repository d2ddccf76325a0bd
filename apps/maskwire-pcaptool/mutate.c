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

#include "mutate.h"

/* A valid DATA packet from the peer at frame i? Fills d and the datagram. */
bool mut_data_at(const struct mut *m, size_t i, struct mw_data *d,
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

	return mut_data_at(m, i, &d, &pl, &len);
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

void mut_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "maskwire-pcaptool mutate: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void mut_finish(uint8_t *dg, size_t len)
{
	if (mw_wire_finish(dg, len) < 0)
		mut_die("mw_wire_finish failed");
}

void mut_insert(struct mut *m, size_t pos, const uint8_t *d, size_t len,
		const char *note)
{
	uint64_t ts;

	if (pos > m->c.n)
		pos = m->c.n;
	ts = pos < m->c.n ? m->c.f[pos].ts_us
			  : (m->c.n ? m->c.f[m->c.n - 1].ts_us : 0);
	if (pt_insert(&m->c, pos, d, (uint32_t)len, (uint32_t)len, ts, note))
		mut_die("out of memory");
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

		if (!mut_data_at(m, i, &d, &pl, &len))
			continue;
		j = i + 1 + (size_t)pt_below(&m->rng, 16);
		snprintf(note, sizeof note, "dup:tid %u seg %u", d.tid,
			 d.seg_idx);
		mut_insert(m, j, m->c.f[i].d, m->c.f[i].caplen, note);
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

		if (mut_data_at(m, i, &d, &pl, &len) && d.tid == tid &&
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
			mut_die("truncated frame not classified as "
			    "ipv4_bad_total_length");
		break;
	case DMG_FLIP: {
		uint64_t b = pt_below(&m->rng, (uint64_t)len * 8);

		f->d[hl + b / 8] ^= (uint8_t)(1u << (b % 8));
		if (mw_net_parse(&m->s.net, f->d, f->caplen, 0, &p) !=
			    MW_NET_CLASS_DROP ||
		    p.drop != MW_NET_DROP_UDP_CKSUM)
			mut_die("bit flip not caught by the UDP checksum");
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
			mut_die("cannot rebuild a frame");
		memcpy(f->d, buf, (size_t)n);
		f->caplen = f->len = (uint32_t)n;
		if (mw_net_parse(&m->s.net, f->d, f->caplen, 0, &p) !=
			    MW_NET_CLASS_UDP ||
		    mw_wire_parse_hdr(f->d + p.payload_off, p.payload_len,
				      &h) != MW_ECHECKSUM)
			mut_die("deep bit flip not caught by the CRC32C");
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

		if (!mut_data_at(m, i, &d, &pl, &len))
			continue;
		if (recoverable && copies(m, d.tid, d.seg_idx) < 2)
			continue;
		damage_one(m, i, how, &d, pl, len);
		k++;
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
		 n_flip = 0, n_deep = 0, n_foreign = 0, n_rhello = 0,
		 n_ahello = 0;
	const char *key = NULL;
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
		else if (!strcmp(o, "--replay-hello"))
			cnt = &n_rhello;
		else if (!strcmp(o, "--alter-hello"))
			cnt = &n_ahello;
		if (cnt) {
			if (parse_count(v, cnt))
				goto usage;
			i += 2;
		} else if (!strcmp(o, "--seed") && v) {
			seed = strtoull(v, NULL, 0);
			i += 2;
		} else if (!strcmp(o, "--key") && v) {
			key = v;
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
		mut_hostile(&m);
	mut_foreign(&m, n_foreign);
	mut_secure(&m, key, n_rhello, n_ahello);
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
		"[--hostile] [--foreign N] [--log TSV]\n"
		"       [--key FILE --replay-hello N --alter-hello N]\n");
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
		mut_die("bench: no HELLO from the peer in %s", in);
	keep = calloc(m.c.n, sizeof(*keep));
	if (!keep)
		mut_die("out of memory");
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

			dup = mut_data_at(&m, keep[j], &e, &epl, &elen) &&
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
			mut_finish(fr, len);
			n = pt_build_peer_frame(&m.s, fr, len, m.ip_id++, fr,
						sizeof fr);
			if (n < 0 || pt_insert(&out, out.n, fr, (uint32_t)n,
					       (uint32_t)n, f->ts_us, ""))
				mut_die("cannot build a frame");
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
