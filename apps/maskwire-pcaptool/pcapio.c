/* SPDX-License-Identifier: BSD-3-Clause */
/* pcapio.c - captures in memory, read and written with libpcap; the
 * receiver's session options; frame classification and building. */
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>

#include "pcaptool.h"

int pt_load(const char *path, struct pt_cap *c, char *err, size_t errlen)
{
	char perr[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	int rc;

	memset(c, 0, sizeof(*c));
	p = pcap_open_offline(path, perr);
	if (!p) {
		snprintf(err, errlen, "%s: %s", path, perr);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB) {
		snprintf(err, errlen, "%s: not an Ethernet capture", path);
		pcap_close(p);
		return -1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (pt_insert(c, c->n, d, h->caplen, h->len,
			      (uint64_t)h->ts.tv_sec * 1000000u +
				      (uint64_t)h->ts.tv_usec,
			      "") < 0) {
			snprintf(err, errlen, "out of memory");
			pcap_close(p);
			pt_free(c);
			return -1;
		}
	}
	if (rc == -1) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(p));
		pcap_close(p);
		pt_free(c);
		return -1;
	}
	pcap_close(p);
	return 0;
}

int pt_save(const char *path, const struct pt_cap *c, char *err,
	    size_t errlen)
{
	pcap_t *dead = pcap_open_dead(DLT_EN10MB, (int)PT_SNAPLEN);
	pcap_dumper_t *dump;

	if (!dead) {
		snprintf(err, errlen, "pcap_open_dead failed");
		return -1;
	}
	dump = pcap_dump_open(dead, path);
	if (!dump) {
		snprintf(err, errlen, "%s: %s", path, pcap_geterr(dead));
		pcap_close(dead);
		return -1;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct pcap_pkthdr h;

		memset(&h, 0, sizeof(h));
		h.ts.tv_sec = (time_t)(c->f[i].ts_us / 1000000u);
		h.ts.tv_usec = (suseconds_t)(c->f[i].ts_us % 1000000u);
		h.caplen = c->f[i].caplen;
		h.len = c->f[i].len;
		pcap_dump((u_char *)dump, &h, c->f[i].d);
	}
	pcap_dump_close(dump);
	pcap_close(dead);
	return 0;
}

int pt_insert(struct pt_cap *c, size_t pos, const uint8_t *d,
	      uint32_t caplen, uint32_t len, uint64_t ts_us, const char *note)
{
	struct pt_frame f;

	if (pos > c->n)
		return MW_EINVAL;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? 2 * c->cap : 256;
		struct pt_frame *nf = realloc(c->f, ncap * sizeof(*nf));

		if (!nf)
			return MW_ENOMEM;
		c->f = nf;
		c->cap = ncap;
	}
	memset(&f, 0, sizeof(f));
	f.d = malloc(caplen ? caplen : 1);
	if (!f.d)
		return MW_ENOMEM;
	if (caplen)
		memcpy(f.d, d, caplen);
	f.caplen = caplen;
	f.len = len < caplen ? caplen : len;
	f.ts_us = ts_us;
	snprintf(f.note, sizeof(f.note), "%s", note);
	memmove(c->f + pos + 1, c->f + pos, (c->n - pos) * sizeof(*c->f));
	c->f[pos] = f;
	c->n++;
	return 0;
}

void pt_remove(struct pt_cap *c, size_t pos)
{
	if (pos >= c->n)
		return;
	free(c->f[pos].d);
	memmove(c->f + pos, c->f + pos + 1, (c->n - pos - 1) * sizeof(*c->f));
	c->n--;
}

void pt_free(struct pt_cap *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->f[i].d);
	free(c->f);
	memset(c, 0, sizeof(*c));
}

/* ---- session options ---------------------------------------------------- */

void pt_sess_default(struct pt_sess *s)
{
	memset(s, 0, sizeof(*s));
	s->net.port = 47000;
	s->net.vlan = MW_NET_NO_VLAN;
	s->peer_port = 0;
	s->window = 8;
	s->max_segs = 1u << 20;
	s->max_tensor = 256ull << 20;
	s->mtu = 1500;
}

static int num(const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	if (!v || !*v)
		return -1;
	x = strtoull(v, &end, 0);
	if (*end || x > max)
		return -1;
	*out = x;
	return 0;
}

int pt_sess_opt(struct pt_sess *s, int argc, char **argv, int *i)
{
	const char *o = argv[*i];
	const char *v = *i + 1 < argc ? argv[*i + 1] : NULL;
	uint64_t x;

	if (!strcmp(o, "--ip")) {
		if (!v || mw_net_parse_ip4(v, &s->net.ip))
			return -1;
		s->have_ip = true;
	} else if (!strcmp(o, "--udp-port")) {
		if (num(v, 65535, &x) || x == 0)
			return -1;
		s->net.port = (uint16_t)x;
	} else if (!strcmp(o, "--mac")) {
		if (!v || mw_net_parse_mac(v, s->net.mac))
			return -1;
		s->have_mac = true;
	} else if (!strcmp(o, "--vlan")) {
		if (num(v, 4094, &x))
			return -1;
		s->net.vlan = (uint16_t)x;
	} else if (!strcmp(o, "--peer")) {
		char ip[32];
		const char *colon = v ? strchr(v, ':') : NULL;
		size_t l = colon ? (size_t)(colon - v) : (v ? strlen(v) : 0);

		if (!v || l >= sizeof ip)
			return -1;
		memcpy(ip, v, l);
		ip[l] = 0;
		if (mw_net_parse_ip4(ip, &s->peer_ip))
			return -1;
		if (colon) {
			if (num(colon + 1, 65535, &x) || x == 0)
				return -1;
			s->peer_port = (uint16_t)x;
		}
		s->have_peer = true;
	} else if (!strcmp(o, "--peer-mac")) {
		if (!v || mw_net_parse_mac(v, s->peer_mac))
			return -1;
		s->have_peer_mac = true;
	} else if (!strcmp(o, "--incarnation")) {
		if (num(v, UINT32_MAX, &x) || x == 0)
			return -1;
		s->inc = (uint32_t)x;
		s->have_inc = true;
	} else if (!strcmp(o, "--window")) {
		if (num(v, 1u << 16, &x) || x == 0)
			return -1;
		s->window = (uint32_t)x;
	} else if (!strcmp(o, "--max-segs")) {
		if (num(v, UINT32_MAX, &x) || x == 0)
			return -1;
		s->max_segs = (uint32_t)x;
	} else if (!strcmp(o, "--max-tensor")) {
		if (num(v, UINT64_MAX, &x) || x == 0)
			return -1;
		s->max_tensor = x;
	} else if (!strcmp(o, "--mtu")) {
		if (num(v, 9600, &x) || x < 576)
			return -1;
		s->mtu = (unsigned)x;
	} else {
		return 0;
	}
	*i += 2;
	return 1;
}

int pt_sess_check(const struct pt_sess *s, const char *cmd)
{
	if (!s->have_ip || !s->have_peer || !s->have_inc || !s->have_mac ||
	    !s->have_peer_mac) {
		fprintf(stderr,
			"maskwire-pcaptool %s: needs --ip, --mac, --peer, "
			"--peer-mac and --incarnation (the replaying side's "
			"maskwire options)\n",
			cmd);
		return -1;
	}
	return 0;
}

/* ---- frames -------------------------------------------------------------- */

void pt_sess_reverse(const struct pt_sess *s, struct pt_sess *rev)
{
	*rev = *s;
	memcpy(rev->net.mac, s->peer_mac, 6);
	rev->net.ip = s->peer_ip;
	rev->net.port = s->peer_port ? s->peer_port : s->net.port;
	memcpy(rev->peer_mac, s->net.mac, 6);
	rev->peer_ip = s->net.ip;
	rev->peer_port = s->net.port;
}

int pt_classify(const struct pt_sess *s, const struct pt_frame *f,
		struct mw_net_pkt *p, bool *from_peer, const uint8_t **pl,
		size_t *pl_len)
{
	uint16_t pport = s->peer_port ? s->peer_port : s->net.port;
	int cls = mw_net_parse(&s->net, f->d, f->caplen, 0, p);

	*from_peer = false;
	*pl = NULL;
	*pl_len = 0;
	if (cls == MW_NET_CLASS_UDP) {
		*from_peer = p->src_ip == s->peer_ip && p->src_port == pport;
		*pl = f->d + p->payload_off;
		*pl_len = p->payload_len;
	}
	return cls;
}

int pt_build_peer_frame(const struct pt_sess *s, const uint8_t *pl,
			size_t pl_len, uint16_t ip_id, uint8_t *frame,
			size_t cap)
{
	struct mw_net_flow fl;
	size_t hl;

	memset(&fl, 0, sizeof(fl));
	memcpy(fl.src_mac, s->peer_mac, 6);
	memcpy(fl.dst_mac, s->net.mac, 6);
	fl.src_ip = s->peer_ip;
	fl.dst_ip = s->net.ip;
	fl.src_port = s->peer_port ? s->peer_port : s->net.port;
	fl.dst_port = s->net.port;
	fl.vlan = s->net.vlan;
	hl = mw_net_hdr_len(&fl);
	if (hl + pl_len > cap)
		return MW_ENOSPC;
	memmove(frame + hl, pl, pl_len);
	return mw_net_build_udp(&fl, frame, cap, pl_len, ip_id, 0);
}
