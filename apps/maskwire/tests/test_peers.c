/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for maskwire's peer options (peers.c): the peers file, its
 * errors naming the line, --accept-from, and the finishing rules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mw_err.h"
#include "mw_test.h"
#include "tfile.h"
#include "peers.h"

static char dir[] = "/tmp/mw_peers_XXXXXX";

static const char *put(const char *name, const char *text, mode_t mode)
{
	return tfile_put(dir, name, text, mode);
}

/* Load text as a peers file into a fresh list: 0 or -1 with err. */
static int load(const char *text, struct mw_peer_list *l, char *err,
		size_t errlen)
{
	memset(l, 0, sizeof(*l));
	return mw_peers_load(l, put("peers.txt", text, 0644), err, errlen);
}

static void bad(const char *text, const char *want)
{
	struct mw_peer_list l;
	char err[700];

	err[0] = 0;
	CHECK_EQ(load(text, &l, err, sizeof err), -1);
	CHECK(strstr(err, want) != NULL);
	if (!strstr(err, want))
		fprintf(stderr, "  got '%s', want '%s'\n", err, want);
	CHECK_EQ(l.n, 0u);
	mw_peers_free(&l);
}

int main(void)
{
	struct mw_peer_list l;
	struct mw_dp_cfg d;
	char err[700];
	uint32_t net, mask;

	CHECK(mkdtemp(dir) != NULL);
	/* 32 bytes 0x00 .. 0x1f */
	put("dev.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0600);
	put("open.key", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", 0644);

	CHECK_EQ(load("# devices\n"
		      "10.0.0.2\n"
		      "\n"
		      "  10.0.0.3:47001\t02:00:00:00:00:03   # static MAC\n"
		      "10.0.0.4 dev.key 02:00:00:00:00:04\n"
		      "10.0.0.5:9 dev.key\n",
		      &l, err, sizeof err),
		 0);
	CHECK_EQ(l.n, 4u);
	if (l.n == 4) {
		CHECK_EQ(l.v[0].ip, 0x0a000002u);
		CHECK_EQ(l.v[0].port, 0);
		CHECK(!l.v[0].has_mac && !l.v[0].has_key);
		CHECK_EQ(l.v[1].port, 47001);
		CHECK(l.v[1].has_mac && l.v[1].mac[5] == 3 && !l.v[1].has_key);
		CHECK(l.v[2].has_mac && l.v[2].has_key &&
		      l.v[2].psk[31] == 0x1f);
		CHECK(l.v[3].has_key && !l.v[3].has_mac && l.v[3].port == 9);
		CHECK(l.any_key);
	}
	/* finish: ports default to ours, the config points at the list */
	mw_dp_cfg_default(&d);
	d.udp_port = 4242;
	d.ep.sec_mode = MW_SEC_ENCRYPT;
	CHECK_EQ(mw_peers_finish(&l, &d, false, err, sizeof err), 0);
	CHECK(d.npeers == 4 && d.peers == l.v && d.peers[0].port == 4242 &&
	      d.peers[1].port == 47001);
	d.accept_max = 4;
	CHECK_EQ(mw_peers_finish(&l, &d, false, err, sizeof err), -1);
	CHECK(strstr(err, "needs --key") != NULL);
	CHECK_EQ(mw_peers_finish(&l, &d, true, err, sizeof err), 0);
	d.accept_max = MW_DP_MAX_PEERS - 3;
	CHECK_EQ(mw_peers_finish(&l, &d, true, err, sizeof err), -1);
	mw_peers_free(&l);

	/* every bad line is named, and nothing of that file is kept */
	bad("10.0.0.2\n10.0.0.300\n",
	    "peers.txt:2: '10.0.0.300' is not IP[:PORT]");
	bad("10.0.0.2:0\n", "peers.txt:1:");
	bad("10.0.0.2:70000\n", "peers.txt:1:");
	bad("224.0.0.1\n", "peers.txt:1:");
	bad("\n\n10.0.0.2 01:00:00:00:00:01\n",
	    "peers.txt:3: '01:00:00:00:00:01' "
	    "is not a unicast MAC");
	bad("10.0.0.2 02:00:00:00:00:01 02:00:00:00:00:02\n",
	    "peers.txt:1: a second MAC");
	bad("10.0.0.2 dev.key dev.key\n",
	    "peers.txt:1: 'dev.key': a second key");
	bad("10.0.0.2 a b c\n", "peers.txt:1:");
	bad("10.0.0.2 open.key\n", "peers.txt:1:");
	bad("10.0.0.2 nokey\n", "peers.txt:1:");
	{
		char big[1200];

		memset(big, 'x', sizeof big - 2);
		big[sizeof big - 2] = '\n';
		big[sizeof big - 1] = 0;
		bad(big, "peers.txt:1: line longer than");
	}
	{
		/* 257 peers: one more than the table */
		size_t cap = 257 * 16 + 1, o = 0;
		char *many = malloc(cap);

		CHECK(many != NULL);
		for (unsigned i = 0; many && i < 257; i++)
			o += (size_t)snprintf(many + o, cap - o, "10.0.%u.%u\n",
					      1 + i / 200, 1 + i % 200);
		if (many)
			bad(many, "peers.txt:257: more than 256 peers");
		free(many);
	}
	memset(&l, 0, sizeof l);
	CHECK_EQ(mw_peers_load(&l, "/nonexistent/peers", err, sizeof err), -1);
	CHECK(strstr(err, "No such file") != NULL);

	/* --accept-from */
	CHECK_EQ(mw_cidr_parse("10.9.0.0/16", &net, &mask), 0);
	CHECK(net == 0x0a090000u && mask == 0xffff0000u);
	CHECK_EQ(mw_cidr_parse("10.9.1.2", &net, &mask), 0);
	CHECK(mask == 0xffffffffu);
	CHECK_EQ(mw_cidr_parse("0.0.0.0/0", &net, &mask), 0);
	CHECK(net == 0 && mask == 0);
	CHECK_EQ(mw_cidr_parse("10.9.0.1/16", &net, &mask), -1);
	CHECK_EQ(mw_cidr_parse("10.9.0.0/33", &net, &mask), -1);
	CHECK_EQ(mw_cidr_parse("10.9.0/16", &net, &mask), -1);

	unlink(put("peers.txt", "", 0644));
	unlink(put("dev.key", "", 0600));
	unlink(put("open.key", "", 0600));
	rmdir(dir);
	return mw_test_exit("test_peers");
}
