/* SPDX-License-Identifier: BSD-3-Clause */
/* pcap writer for --capture (libpcap's pcap_dump). */
#include "mw_capture.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <pcap/pcap.h>

#define MW_CAP_SNAPLEN 65535u

struct mw_capture {
	pcap_t *dead;
	pcap_dumper_t *dump;
	uint64_t wall0_ns; /* wall clock at open */
	uint64_t mono0_ns; /* data plane clock at open */
	uint64_t frames;
	uint8_t lin[MW_CAP_SNAPLEN];
};

struct mw_capture *mw_capture_open(const char *path, uint64_t now_ns,
				   char *err, size_t errlen)
{
	struct mw_capture *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "capture: out of memory");
		return NULL;
	}
	c->dead = pcap_open_dead(DLT_EN10MB, (int)MW_CAP_SNAPLEN);
	if (!c->dead) {
		snprintf(err, errlen, "capture: pcap_open_dead failed");
		free(c);
		return NULL;
	}
	c->dump = pcap_dump_open(c->dead, path);
	if (!c->dump) {
		snprintf(err, errlen, "capture: cannot create %s: %s", path,
			 pcap_geterr(c->dead));
		pcap_close(c->dead);
		free(c);
		return NULL;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c->wall0_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	c->mono0_ns = now_ns;
	return c;
}

void mw_capture_mbuf(struct mw_capture *c, const struct rte_mbuf *m,
		     uint64_t now_ns)
{
	uint32_t len = rte_pktmbuf_pkt_len(m);
	uint32_t caplen = len < MW_CAP_SNAPLEN ? len : MW_CAP_SNAPLEN;
	const uint8_t *p = rte_pktmbuf_read(m, 0, caplen, c->lin);
	if (!p)
		return;
	uint64_t t = c->wall0_ns + (now_ns - c->mono0_ns);
	struct pcap_pkthdr h = {
		.ts = {.tv_sec = (time_t)(t / 1000000000u),
		       .tv_usec = (suseconds_t)(t % 1000000000u / 1000u)},
		.caplen = caplen,
		.len = len,
	};
	pcap_dump((u_char *)c->dump, &h, p);
	c->frames++;
}

uint64_t mw_capture_count(const struct mw_capture *c)
{
	return c->frames;
}

void mw_capture_close(struct mw_capture *c)
{
	if (!c)
		return;
	pcap_dump_close(c->dump);
	pcap_close(c->dead);
	free(c);
}
