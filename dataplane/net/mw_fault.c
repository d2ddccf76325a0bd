/* SPDX-License-Identifier: BSD-3-Clause */
/* Seeded per-packet fault injection (sans-I/O). */
#include "mw_fault.h"

#include <string.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** */
static uint64_t next_u64(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double next_unit(uint64_t s[4])
{
	return (double)(next_u64(s) >> 11) * 0x1.0p-53;
}

static bool rate_ok(double r)
{
	return r >= 0.0 && r <= 1.0; /* false for NaN */
}

int mw_fault_cfg_check(const struct mw_fault_cfg *c)
{
	if (!rate_ok(c->drop) || !rate_ok(c->burst) || !rate_ok(c->dup) ||
	    !rate_ok(c->reorder) || !rate_ok(c->corrupt))
		return MW_EINVAL;
	if (c->burst_len != 0.0 && !(c->burst_len >= 1.0))
		return MW_EINVAL;
	if (c->reorder_gap > MW_FAULT_HOLD_MAX)
		return MW_EINVAL;
	return 0;
}

int mw_fault_init(struct mw_fault *f, const struct mw_fault_cfg *cfg)
{
	int rc = mw_fault_cfg_check(cfg);
	memset(f, 0, sizeof(*f));
	if (rc)
		return rc;
	f->cfg = *cfg;
	if (f->cfg.burst_len == 0.0)
		f->cfg.burst_len = 4.0;
	if (f->cfg.reorder_gap == 0)
		f->cfg.reorder_gap = 3;
	if (f->cfg.reorder_max_ns == 0)
		f->cfg.reorder_max_ns = 1000000;
	uint64_t x = cfg->seed;
	for (int i = 0; i < 4; i++)
		f->rng[i] = splitmix64(&x);
	f->enabled = cfg->drop > 0 || cfg->burst > 0 || cfg->dup > 0 ||
		     cfg->reorder > 0 || cfg->corrupt > 0;
	return 0;
}

bool mw_fault_enabled(const struct mw_fault *f)
{
	return f->enabled;
}

void mw_fault_decide(struct mw_fault *f, uint32_t len,
		     struct mw_fault_verdict *v)
{
	double u_state = next_unit(f->rng);
	double u_drop = next_unit(f->rng);
	double u_dup = next_unit(f->rng);
	double u_hold = next_unit(f->rng);
	double u_corrupt = next_unit(f->rng);
	uint64_t r_bit = next_u64(f->rng);

	v->action = MW_FAULT_PASS;
	v->dup = false;
	v->flip_bit = -1;

	/* Gilbert-Elliott: step the two-state chain, lose while bad. */
	if (f->bad)
		f->bad = !(u_state < 1.0 / f->cfg.burst_len);
	else
		f->bad = u_state < f->cfg.burst;
	if (f->bad) {
		v->action = MW_FAULT_DROP;
		f->st.burst_dropped++;
		return;
	}
	if (u_drop < f->cfg.drop) {
		v->action = MW_FAULT_DROP;
		f->st.dropped++;
		return;
	}
	if (u_corrupt < f->cfg.corrupt && len > 0) {
		v->flip_bit = (int64_t)(r_bit % ((uint64_t)len * 8u));
		f->st.corrupted++;
	}
	if (u_dup < f->cfg.dup) {
		v->dup = true;
		f->st.duplicated++;
	}
	if (u_hold < f->cfg.reorder) {
		v->action = MW_FAULT_HOLD;
		f->st.held++;
		return;
	}
	f->st.passed++;
	f->seq++;
}

int mw_fault_hold(struct mw_fault *f, void *pkt, uint64_t now)
{
	if (f->count == MW_FAULT_HOLD_MAX)
		return MW_ENOSPC;
	struct mw_fault_slot_ *s =
		&f->slot[(f->head + f->count) % MW_FAULT_HOLD_MAX];
	s->pkt = pkt;
	s->release_seq = f->seq + f->cfg.reorder_gap;
	s->deadline_ns = now + f->cfg.reorder_max_ns;
	f->count++;
	return 0;
}

unsigned mw_fault_release(struct mw_fault *f, uint64_t now, bool all,
			  void **out, unsigned max)
{
	unsigned n = 0;
	/* Release order equals hold order: both keys grow with it. */
	while (n < max && f->count > 0) {
		struct mw_fault_slot_ *s = &f->slot[f->head];
		if (!all && f->seq < s->release_seq && now < s->deadline_ns)
			break;
		out[n++] = s->pkt;
		f->head = (f->head + 1) % MW_FAULT_HOLD_MAX;
		f->count--;
		f->st.released++;
	}
	return n;
}

uint64_t mw_fault_next_expiry(const struct mw_fault *f)
{
	return f->count ? f->slot[f->head].deadline_ns : UINT64_MAX;
}

void mw_fault_flip(uint8_t *buf, uint64_t bit)
{
	buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
}
