/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pcaptool.h - shared pieces of maskwire-pcaptool: captures held in memory,
 * the receiver's session description (the same options maskwire takes),
 * a draw from the seeded generator (mw_rand.h).
 */
#ifndef MW_PCAPTOOL_H
#define MW_PCAPTOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mw_bytes.h"
#include "mw_net.h"
#include "mw_rand.h"
#include "mw_transport.h"
#include "mw_wire.h"

/** Largest frame the tool handles (pcap snap length). */
#define PT_SNAPLEN 65535u

/** One frame of a capture. */
struct pt_frame {
	uint8_t *d;       /* caplen bytes, owned */
	uint32_t caplen;  /* bytes captured (what net_pcap delivers) */
	uint32_t len;     /* length on the wire */
	uint64_t ts_us;   /* timestamp, microseconds */
	char note[48];    /* what the mutator did to it ("" = original) */
};

/** A capture in memory. */
struct pt_cap {
	struct pt_frame *f;
	size_t n, cap;
};

/**
 * The receiving side of a replay and its peer: the options maskwire is
 * started with (--ip, --udp-port, --mac, --vlan, --peer, --peer-mac,
 * --incarnation, --window, --max-segs, --max-tensor, --mtu).
 */
struct pt_sess {
	struct mw_net_cfg net;   /* our MAC, IP, port, VLAN */
	uint8_t peer_mac[6];
	uint32_t peer_ip;
	uint16_t peer_port;
	uint32_t inc;            /* our incarnation (local ident {inc, 1}) */
	uint32_t window;
	uint32_t max_segs;
	uint64_t max_tensor;
	unsigned mtu;
	bool have_ip, have_peer, have_mac, have_peer_mac, have_inc;
};

/* ---- captures (pcapio.c) ---- */

/** Load a pcap file (Ethernet). @return 0, or -1 with a message in err. */
int pt_load(const char *path, struct pt_cap *c, char *err, size_t errlen);
/** Write a capture as a classic pcap (Ethernet, microseconds). */
int pt_save(const char *path, const struct pt_cap *c, char *err,
	    size_t errlen);
/** Insert a copy of d[0..caplen) at position pos (0..c->n). */
int pt_insert(struct pt_cap *c, size_t pos, const uint8_t *d,
	      uint32_t caplen, uint32_t len, uint64_t ts_us, const char *note);
/** Remove the frame at pos. */
void pt_remove(struct pt_cap *c, size_t pos);
/** Free every frame. */
void pt_free(struct pt_cap *c);

/* ---- session options (sess.c) ---- */

/** Defaults: port 47000, no VLAN, window 8, 2^20 segments, 256 MiB,
 *  MTU 1500. */
void pt_sess_default(struct pt_sess *s);
/**
 * Take one session option at argv[*i] (and its value).
 * @return 1 if it was one (i advanced past it), 0 if not, -1 on a bad value.
 */
int pt_sess_opt(struct pt_sess *s, int argc, char **argv, int *i);
/** The same session seen from the peer (addresses and ports swapped):
 *  pt_classify() with it finds the frames the receiver sent. */
void pt_sess_reverse(const struct pt_sess *s, struct pt_sess *rev);
/** @return 0 if the addresses and the incarnation were given, else -1. */
int pt_sess_check(const struct pt_sess *s, const char *cmd);

/**
 * What a frame is for the receiver: mw_net_parse() with the receiver's
 * addresses. For UDP datagrams from the peer, pl and pl_len locate the
 * maskwire datagram. @return the mw_net class; *from_peer set for UDP.
 */
int pt_classify(const struct pt_sess *s, const struct pt_frame *f,
		struct mw_net_pkt *p, bool *from_peer, const uint8_t **pl,
		size_t *pl_len);

/**
 * Build a frame from the peer to the receiver around a maskwire datagram
 * (Ethernet, the session's VLAN, IPv4, UDP with a correct checksum).
 * @return frame length or a negative mw_err.
 */
int pt_build_peer_frame(const struct pt_sess *s, const uint8_t *pl,
			size_t pl_len, uint16_t ip_id, uint8_t *frame,
			size_t cap);

/* ---- random ---- */

/** Uniform in [0, n); n > 0. */
static inline uint64_t pt_below(uint64_t *state, uint64_t n)
{
	return mw_rand64(state) % n;
}

/* ---- subcommands ---- */

int pt_cmd_dump(int argc, char **argv);
int pt_cmd_expect(int argc, char **argv);
int pt_cmd_mutate(int argc, char **argv);
int pt_cmd_bench(int argc, char **argv);

#endif
