/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rawapp.h - the shm_dp tests' app, speaking docs/SHM.md at the byte level
 * the way a third-party client would (static functions for the tests of
 * this folder; needs shm_test.h).
 */
#ifndef MW_RAWAPP_H
#define MW_RAWAPP_H

#include <string.h>

#include "mw_shm_dp.h"
#include "shm_os.h"
#include "shm_test.h"

/* An app speaking the protocol by hand. */
struct rawapp {
	int fd;
	uint8_t *base;
	uint64_t size;
	struct mw_shm_hdr *h;
	uint64_t gen;
	struct mw_shm_ring_end sub, comp, deliv, rel;
};

static uint64_t t_ns = 1000; /* virtual time */

static inline void cfg_small(struct mw_shm_cfg *cfg)
{
	mw_shm_cfg_default(cfg);
	cfg->geom.ring_size = 4;
	cfg->geom.slot_size = 128;
	cfg->geom.tx_slots = 8;
	cfg->geom.rx_slots = 10;
	cfg->liveness_ns = 1000;
}

static inline void raw_open(struct rawapp *a, const char *name)
{
	char path[MW_SHM_PATH_MAX];

	memset(a, 0, sizeof(*a));
	CHECK_EQ(mw_shm_os_path(name, path, sizeof(path)), 0);
	CHECK_EQ(mw_shm_os_open(path, &a->fd, (void **)&a->base, &a->size), 0);
	a->h = (struct mw_shm_hdr *)a->base;
	CHECK_EQ(mw_shm_hdr_check(a->h, a->size), 0);
	CHECK_EQ(mw_shm_os_lock(a->fd, MW_SHM_LOCK_APP), 0);
}

/* Announce a new generation; the caller runs the data plane. */
static inline void raw_announce(struct rawapp *a)
{
	a->gen = atomic_load(&a->h->app_gen) + 1;
	atomic_store(&a->h->app_gen, a->gen);
}

static inline void raw_bind(struct rawapp *a)
{
	CHECK_EQ(atomic_load(&a->h->app_ack), a->gen);
	mw_shm_ring_bind(&a->sub, a->base, a->h, MW_SHM_RING_SUBMIT, 1);
	mw_shm_ring_bind(&a->comp, a->base, a->h, MW_SHM_RING_COMPLETE, 0);
	mw_shm_ring_bind(&a->deliv, a->base, a->h, MW_SHM_RING_DELIVER, 0);
	mw_shm_ring_bind(&a->rel, a->base, a->h, MW_SHM_RING_RELEASE, 1);
}

static inline void raw_attach(struct rawapp *a, struct mw_shm_dp *dp,
		       const char *name)
{
	raw_open(a, name);
	raw_announce(a);
	CHECK_EQ(mw_shm_dp_service(dp, t_ns++), MW_SHM_EV_APP_NEW);
	raw_bind(a);
}

/* Dying closes the file: the kernel drops the app lock. */
static inline void raw_die(struct rawapp *a)
{
	mw_shm_os_close(a->fd, a->base, a->size);
	a->fd = -1;
}

static inline void f32_desc(struct mw_shm_desc *d, const struct mw_shm_hdr *h,
		     uint32_t slot, uint32_t n, uint64_t cookie)
{
	memset(d, 0, sizeof(*d));
	d->cookie = cookie;
	d->tag = cookie * 10;
	d->ndim = 1;
	d->dims[0] = n;
	d->dtype = MW_DT_F32;
	d->kind = MW_SHM_KIND_ACTIVATION;
	d->buf_off = h->tx_off + (uint64_t)slot * h->slot_size;
	d->buf_len = 4u * n;
}
#endif /* MW_RAWAPP_H */
