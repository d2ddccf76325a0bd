/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file peers.h
 * maskwire's peer options: --peer (with --peer-mac and --peer-key after
 * it), --peers FILE, and the accepting of peers that open a session
 * (--accept-peers, --accept-from, --accept-hello-ms, --accept-idle-ms).
 * Plain C on the data plane's configuration types (mw_dp.h), no DPDK call.
 */
#ifndef MW_APP_PEERS_H
#define MW_APP_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mw_dp.h"

/** Option ids (getopt_long values) of this file's options. */
enum {
	MW_PEERS_O_PEER = 2000,
	MW_PEERS_O_PEER_MAC,
	MW_PEERS_O_PEER_KEY,
	MW_PEERS_O_PEERS,
	MW_PEERS_O_ACCEPT,
	MW_PEERS_O_ACCEPT_FROM,
	MW_PEERS_O_ACCEPT_HELLO,
	MW_PEERS_O_ACCEPT_IDLE,
	MW_PEERS_O_END_
};

/** struct option entries for getopt_long (put them in the table). */
/* clang-format off */
#define MW_PEERS_OPTIONS                                                      \
	{"peer", 1, 0, MW_PEERS_O_PEER},                                      \
	{"peer-mac", 1, 0, MW_PEERS_O_PEER_MAC},                              \
	{"peer-key", 1, 0, MW_PEERS_O_PEER_KEY},                              \
	{"peers", 1, 0, MW_PEERS_O_PEERS},                                    \
	{"accept-peers", 1, 0, MW_PEERS_O_ACCEPT},                            \
	{"accept-from", 1, 0, MW_PEERS_O_ACCEPT_FROM},                        \
	{"accept-hello-ms", 1, 0, MW_PEERS_O_ACCEPT_HELLO},                   \
	{"accept-idle-ms", 1, 0, MW_PEERS_O_ACCEPT_IDLE}
/* clang-format on */

/** The peers given so far (grown as they come, up to MW_DP_MAX_PEERS). */
struct mw_peer_list {
	struct mw_dp_peer_cfg *v; /**< port 0: not given, ours (finish) */
	unsigned n, cap;
	bool any_key; /**< some peer has its own key */
};

/**
 * Parse IP[:PORT] (unicast IPv4, port 1..65535) into p (zeroed first;
 * port 0 when not given).
 * @return 0, or -1 if s is not that.
 */
int mw_peer_parse(const char *s, struct mw_dp_peer_cfg *p);

/**
 * Parse A.B.C.D/LEN (LEN 0..32, no host bits) or A.B.C.D (/32).
 * @return 0, or -1.
 */
int mw_cidr_parse(const char *s, uint32_t *net, uint32_t *mask);

/**
 * Load a peers file: one peer a line, `IP[:PORT] [MAC] [KEYFILE]`
 * (blank lines and `#` comments skipped; KEYFILE relative to the file's
 * directory unless absolute, same checks as --peer-key), appended to l.
 * @return 0, or -1 with "FILE:LINE: what" in err (nothing appended from
 *         a file with a bad line).
 */
int mw_peers_load(struct mw_peer_list *l, const char *path, char *err,
		  size_t errlen);

/**
 * Handle one of this file's options (c in MW_PEERS_O_*).
 * @return 0, or -1 with a message in err.
 */
int mw_peers_option(int c, const char *arg, struct mw_peer_list *l,
		    struct mw_dp_cfg *d, char *err, size_t errlen);

/**
 * After all options: peers without a port get udp_port; d->peers and
 * d->npeers point at the list. Accepting peers in secure mode needs the
 * --key (has_key) their HELLOs authenticate under.
 * @return 0, or -1 with a message in err.
 */
int mw_peers_finish(struct mw_peer_list *l, struct mw_dp_cfg *d, bool has_key,
		    char *err, size_t errlen);

/** Free the list. */
void mw_peers_free(struct mw_peer_list *l);

#endif /* MW_APP_PEERS_H */
