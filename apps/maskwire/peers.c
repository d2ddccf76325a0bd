/* SPDX-License-Identifier: BSD-3-Clause */
/* maskwire's peer options and peers file (see peers.h). */
#include "peers.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyfile.h"
#include "mw_err.h"
#include "mw_net.h"

static int num_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int mw_peer_parse(const char *s, struct mw_dp_peer_cfg *p)
{
	char ip[32];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	memset(p, 0, sizeof(*p));
	if (n >= sizeof ip)
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	if (mw_net_parse_ip4(ip, &p->ip) || p->ip == 0 ||
	    p->ip == 0xffffffffu || (p->ip >> 28) == 0xe)
		return -1;
	if (colon) {
		uint64_t v;
		if (num_u64(colon + 1, 65535, &v) || v == 0)
			return -1;
		p->port = (uint16_t)v;
	}
	return 0;
}

int mw_cidr_parse(const char *s, uint32_t *net, uint32_t *mask)
{
	char ip[32];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint64_t len = 32;
	if (n >= sizeof ip)
		return -1;
	memcpy(ip, s, n);
	ip[n] = 0;
	if (mw_net_parse_ip4(ip, net) ||
	    (slash && num_u64(slash + 1, 32, &len)))
		return -1;
	*mask = len ? 0xffffffffu << (32 - len) : 0;
	return (*net & ~*mask) ? -1 : 0;
}

/* A new zeroed entry at the end of l, or NULL (full or no memory). */
static struct mw_dp_peer_cfg *list_add(struct mw_peer_list *l)
{
	if (l->n == MW_DP_MAX_PEERS)
		return NULL;
	if (l->n == l->cap) {
		unsigned cap = l->cap ? 2 * l->cap : 8;
		if (cap > MW_DP_MAX_PEERS)
			cap = MW_DP_MAX_PEERS;
		void *v = realloc(l->v, cap * sizeof(*l->v));
		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

/* One line's fields after the address: a MAC or a key file each, once. */
static int line_field(struct mw_dp_peer_cfg *p, const char *f, const char *dir,
		      char *err, size_t errlen)
{
	uint8_t mac[6];
	if (!mw_net_parse_mac(f, mac)) {
		if (p->has_mac) {
			snprintf(err, errlen, "a second MAC '%s'", f);
			return -1;
		}
		if (mac[0] & 1) {
			snprintf(err, errlen, "'%s' is not a unicast MAC", f);
			return -1;
		}
		memcpy(p->mac, mac, 6);
		p->has_mac = true;
		return 0;
	}
	if (p->has_key) {
		snprintf(err, errlen, "'%s': a second key file (or a bad MAC)",
			 f);
		return -1;
	}
	char path[4096];
	if (f[0] == '/' || !dir)
		snprintf(path, sizeof path, "%s", f);
	else if (snprintf(path, sizeof path, "%s/%s", dir, f) >=
		 (int)sizeof path) {
		snprintf(err, errlen, "key file path too long");
		return -1;
	}
	char kerr[512];
	if (mw_keyfile_load(path, p->psk, kerr, sizeof kerr)) {
		snprintf(err, errlen, "%s", kerr);
		return -1;
	}
	p->has_key = true;
	return 0;
}

int mw_peers_load(struct mw_peer_list *l, const char *path, char *err,
		  size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "--peers: %s: %s", path, strerror(errno));
		return -1;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *sl = strrchr(dir, '/');
	if (sl)
		*sl = 0;
	const unsigned n0 = l->n;
	char line[1024], what[600];
	unsigned lineno = 0;
	int rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len == sizeof line - 1 && line[len - 1] != '\n' &&
		    !feof(f)) {
			snprintf(what, sizeof what,
				 "line longer than %zu bytes", sizeof line - 2);
			rc = -1;
			break;
		}
		char *hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok)
			continue;
		struct mw_dp_peer_cfg *p = list_add(l);
		if (!p) {
			snprintf(what, sizeof what, "more than %u peers",
				 MW_DP_MAX_PEERS);
			rc = -1;
			break;
		}
		if (mw_peer_parse(tok, p)) {
			snprintf(what, sizeof what,
				 "'%s' is not IP[:PORT] (unicast IPv4, port "
				 "1..65535)",
				 tok);
			rc = -1;
			break;
		}
		unsigned nf = 0;
		while ((tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (++nf > 2) {
				snprintf(what, sizeof what,
					 "'%s': more than IP[:PORT] [MAC] "
					 "[KEYFILE]",
					 tok);
				rc = -1;
				break;
			}
			if (line_field(p, tok, sl ? dir : NULL, what,
				       sizeof what)) {
				rc = -1;
				break;
			}
		}
		if (rc)
			break;
		l->any_key |= p->has_key;
	}
	if (!rc && ferror(f)) {
		snprintf(what, sizeof what, "read error");
		rc = -1;
	}
	fclose(f);
	if (rc) {
		l->n = n0;
		snprintf(err, errlen, "--peers: %s:%u: %s", path, lineno, what);
	}
	return rc;
}

int mw_peers_option(int c, const char *arg, struct mw_peer_list *l,
		    struct mw_dp_cfg *d, char *err, size_t errlen)
{
	uint64_t v;
	struct mw_dp_peer_cfg *last = l->n ? &l->v[l->n - 1] : NULL;
	switch (c) {
	case MW_PEERS_O_PEER: {
		struct mw_dp_peer_cfg *p = list_add(l);
		if (!p) {
			snprintf(err, errlen, "at most %u peers",
				 MW_DP_MAX_PEERS);
			return -1;
		}
		if (mw_peer_parse(arg, p)) {
			l->n--;
			snprintf(err, errlen,
				 "--peer: '%s' is not IP[:PORT] (unicast "
				 "IPv4, port 1..65535)",
				 arg);
			return -1;
		}
		return 0;
	}
	case MW_PEERS_O_PEER_MAC:
		if (!last) {
			snprintf(err, errlen,
				 "--peer-mac must follow a --peer");
			return -1;
		}
		if (mw_net_parse_mac(arg, last->mac) || (last->mac[0] & 1)) {
			snprintf(err, errlen,
				 "--peer-mac: '%s' is not a unicast MAC "
				 "(aa:bb:cc:dd:ee:ff)",
				 arg);
			return -1;
		}
		last->has_mac = true;
		return 0;
	case MW_PEERS_O_PEER_KEY:
		if (!last) {
			snprintf(err, errlen,
				 "--peer-key must follow a --peer");
			return -1;
		}
		if (mw_keyfile_load(arg, last->psk, err, errlen))
			return -1;
		last->has_key = l->any_key = true;
		return 0;
	case MW_PEERS_O_PEERS:
		return mw_peers_load(l, arg, err, errlen);
	case MW_PEERS_O_ACCEPT:
		if (num_u64(arg, MW_DP_MAX_PEERS, &v)) {
			snprintf(err, errlen,
				 "--accept-peers: '%s' is not 0..%u", arg,
				 MW_DP_MAX_PEERS);
			return -1;
		}
		d->accept_max = (unsigned)v;
		return 0;
	case MW_PEERS_O_ACCEPT_FROM:
		if (mw_cidr_parse(arg, &d->accept_net, &d->accept_mask)) {
			snprintf(err, errlen,
				 "--accept-from: '%s' is not A.B.C.D/LEN "
				 "without host bits",
				 arg);
			return -1;
		}
		return 0;
	case MW_PEERS_O_ACCEPT_HELLO:
	case MW_PEERS_O_ACCEPT_IDLE:
		if (num_u64(arg, 86400000, &v) || v == 0) {
			snprintf(err, errlen, "%s: '%s' is not 1..86400000 ms",
				 c == MW_PEERS_O_ACCEPT_HELLO
					 ? "--accept-hello-ms"
					 : "--accept-idle-ms",
				 arg);
			return -1;
		}
		if (c == MW_PEERS_O_ACCEPT_HELLO)
			d->accept_hello_ns = v * 1000000u;
		else
			d->accept_idle_ns = v * 1000000u;
		return 0;
	default:
		snprintf(err, errlen, "unknown peer option %d", c);
		return -1;
	}
}

int mw_peers_finish(struct mw_peer_list *l, struct mw_dp_cfg *d, bool has_key,
		    char *err, size_t errlen)
{
	for (unsigned i = 0; i < l->n; i++)
		if (!l->v[i].port)
			l->v[i].port = d->udp_port;
	d->peers = l->v;
	d->npeers = l->n;
	if (l->n + d->accept_max > MW_DP_MAX_PEERS) {
		snprintf(err, errlen,
			 "%u peers and --accept-peers %u: at most %u together",
			 l->n, d->accept_max, MW_DP_MAX_PEERS);
		return -1;
	}
	if (d->accept_max && d->ep.sec_mode && !has_key) {
		snprintf(err, errlen,
			 "--accept-peers in secure mode needs --key: accepted "
			 "peers' HELLOs must authenticate under it");
		return -1;
	}
	return 0;
}

void mw_peers_free(struct mw_peer_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
