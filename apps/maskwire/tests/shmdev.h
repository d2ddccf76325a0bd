/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * shmdev.h - what the shm source's unit tests share (test_shmsource.c,
 * test_shmsource_lcores.c): devices (an endpoint with one peer, the
 * server, in its own loop), tensor content, a JSON probe, a client that
 * attaches in a thread. Static functions for the tests only.
 */
#ifndef MW_TEST_SHMDEV_H
#define MW_TEST_SHMDEV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "maskwire.h"
#include "mw_loop.h"
#include "mw_source.h"
#include "mw_test.h"

#define ACC_SLOTS 2u
#define ACC_ELEMS 64u

static inline void fill(float *x, unsigned n, unsigned tag)
{
	for (unsigned i = 0; i < n; i++)
		x[i] = (i * 7 + tag) % 5 == 0 ? 0.0f
					      : (float)((i + tag) % 97) / 8;
}

static inline bool json_has_src(struct mw_source *src, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK(f != NULL);
	src->stats_json(src->ctx, f);
	fclose(f);
	bool ok = strstr(buf, what) != NULL;
	if (!ok)
		fprintf(stderr, "test_shmsource: no '%s' in %s\n", what, buf);
	free(buf);
	return ok;
}

/* A device: an endpoint with one peer (the server) in its own loop; what
 * it receives and the outcomes of its sends are recorded. */
struct dev {
	struct mw_ep *ep;
	struct mw_source src;
	struct mw_loop lp;
	uint32_t ip;
	int slot;      /* its slot at the server, -1 none */
	uint16_t core; /* its core peer id at the server */
	unsigned lc;   /* the server's I/O lcore that owns it (test_lcores) */
	bool hold;     /* its frames are lost, both ways (test_lcores) */
	uint64_t rx_tags[8];
	unsigned rx_n, tx_done, tx_failed;
};

static inline void dev_event(void *ctx, const struct mw_event *ev, uint64_t now)
{
	struct dev *d = ctx;
	(void)now;
	if (ev->type == MW_EV_RX_TENSOR && d->rx_n < 8)
		d->rx_tags[d->rx_n++] = ev->meta.tag;
	else if (ev->type == MW_EV_TX_DONE)
		d->tx_done++;
	else if (ev->type == MW_EV_TX_FAILED)
		d->tx_failed++;
}

static inline void dev_new(struct dev *d, uint32_t ip, uint32_t inc, uint64_t now)
{
	static const uint16_t one[1] = { 0 };
	struct mw_ep_config c;
	memset(d, 0, sizeof(*d));
	d->ip = ip;
	d->slot = -1;
	mw_ep_config_default(&c);
	c.max_peers = 1;
	c.incarnation = inc;
	CHECK(mw_ep_new(&c, &d->ep) == 0);
	CHECK(mw_ep_add_peer(d->ep) == 0);
	d->src.name = "device";
	mw_loop_init(&d->lp,
		     &(struct mw_loop_cfg){ .ep = d->ep,
					    .src = &d->src,
					    .peers = one,
					    .npeers = 1,
					    .on_event = dev_event,
					    .on_event_ctx = d },
		     now);
}

static inline void dev_send(struct dev *d, uint64_t tag, uint64_t now)
{
	float x[ACC_ELEMS];
	struct mw_tensor_meta m = { .dtype = MW_DT_F32,
				    .kind = MW_KIND_ACTIVATION,
				    .ndim = 1,
				    .dims = { ACC_ELEMS },
				    .tag = tag };
	struct mw_codec_params cp = { .codec = MW_CODEC_DENSE };
	fill(x, ACC_ELEMS, (unsigned)tag);
	CHECK(mw_ep_submit(d->ep, 0, &m, &cp, x, sizeof x, 0, now, NULL) == 0);
}

struct attacher {
	const char *name;
	struct mw_client *c;
	int rc;
	atomic_int done;
};

static inline void *attach_run(void *arg)
{
	struct attacher *at = arg;
	at->rc = mw_client_attach(at->name, NULL, &at->c);
	atomic_store(&at->done, 1);
	return NULL;
}

/* The app sends tensor tag (ACC_ELEMS floats, fill()) to index peer,
 * generation gen, waiting up to timeout_ms for room: its cookie. */
static inline int64_t app_send(struct mw_client *c, uint32_t peer,
			       uint32_t gen, uint64_t tag, int timeout_ms)
{
	struct mw_client_meta m = { .tag = tag,
				    .ndim = 1,
				    .dims = { ACC_ELEMS },
				    .dtype = MW_DT_F32,
				    .kind = MW_SHM_KIND_GRADIENT,
				    .peer = peer,
				    .peer_gen = gen };
	struct mw_client_buf b;
	CHECK(mw_client_alloc(c, ACC_ELEMS * 4, timeout_ms, &b) == 0);
	fill(b.data, ACC_ELEMS, (unsigned)tag);
	int64_t ck = mw_client_send(c, &b, &m, timeout_ms);
	CHECK(ck > 0);
	return ck;
}

#endif /* MW_TEST_SHMDEV_H */
