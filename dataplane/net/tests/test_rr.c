/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * test_rr: the TX scheduler between peers (mw_rr.h). Slots with a
 * backlog of datagrams are served in bursts of 32 with seeded stops (out
 * of buffers) and seeded arrivals; a slot with work is never skipped and
 * two slots that always had work differ by at most one unit; the Jain
 * index of the units served to backlogged slots is 1 within rounding; a
 * slot that gets work waits at most one unit of each other slot.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mw_rr.h"

#define NSLOT 64u

struct sim {
	uint64_t backlog[NSLOT];
	uint64_t served[NSLOT];
	unsigned stop_every; /* fn() stops every this many calls (0: never) */
	unsigned calls;
	unsigned last;         /* last slot fn() was asked about */
	uint64_t units;        /* served so far, to any slot */
	uint64_t since[NSLOT]; /* units when the slot last got service or
				  work after having none */
	uint64_t max_wait;     /* most units others got while one waited */
};

static void add_work(struct sim *s, unsigned slot, uint64_t n)
{
	if (!s->backlog[slot] && n)
		s->since[slot] = s->units;
	s->backlog[slot] += n;
}

static int fails;

#define CHECK(c, ...)                                                        \
	do {                                                                 \
		if (!(c)) {                                                  \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			fails++;                                             \
		}                                                            \
	} while (0)

static int serve(void *ctx, unsigned slot)
{
	struct sim *s = ctx;

	s->last = slot;
	if (s->stop_every && ++s->calls % s->stop_every == 0)
		return -1;
	if (!s->backlog[slot])
		return 0;
	if (s->units - s->since[slot] > s->max_wait)
		s->max_wait = s->units - s->since[slot];
	s->backlog[slot]--;
	s->served[slot]++;
	s->units++;
	s->since[slot] = s->units;
	return 1;
}

static uint64_t rng(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Slots 0..nbusy-1 always have work; the others get some now and then. */
static void fairness(uint64_t seed, unsigned nbusy, unsigned stop_every)
{
	struct sim s = { .stop_every = stop_every };
	struct mw_rr rr = { 0 };
	uint64_t x = seed;

	for (unsigned i = 0; i < nbusy; i++)
		s.backlog[i] = UINT64_MAX / 2;
	for (unsigned round = 0; round < 20000; round++) {
		for (unsigned i = nbusy; i < NSLOT; i++)
			if (rng(&x) % 100 == 0)
				add_work(&s, i, rng(&x) % 50);
		mw_rr_run(&rr, NSLOT, 32, serve, &s);
	}
	uint64_t lo = UINT64_MAX, hi = 0;
	double sum = 0, sq = 0;
	for (unsigned i = 0; i < nbusy; i++) {
		lo = s.served[i] < lo ? s.served[i] : lo;
		hi = s.served[i] > hi ? s.served[i] : hi;
		sum += (double)s.served[i];
		sq += (double)s.served[i] * (double)s.served[i];
	}
	double jain = sum * sum / (nbusy * sq);
	CHECK(lo > 0 && hi - lo <= 1,
	      "seed %llu busy %u stop %u: served %llu..%llu",
	      (unsigned long long)seed, nbusy, stop_every,
	      (unsigned long long)lo, (unsigned long long)hi);
	CHECK(jain >= 0.999, "seed %llu: Jain %.4f", (unsigned long long)seed,
	      jain);
	CHECK(s.max_wait <= NSLOT - 1,
	      "seed %llu: a slot with work waited %llu units of others",
	      (unsigned long long)seed, (unsigned long long)s.max_wait);
}

static void edges(void)
{
	struct sim s = { 0 };
	struct mw_rr rr = { .next = 7 };

	CHECK(mw_rr_run(&rr, 0, 32, serve, &s) == 0, "no slots");
	CHECK(mw_rr_run(&rr, 4, 32, serve, &s) == 0, "nothing to do");
	CHECK(s.calls == 0 && rr.next == 3,
	      "one idle turn from 7%%4=3 "
	      "ends where it began (next %u)",
	      rr.next);
	s.backlog[1] = 5;
	s.backlog[2] = 1;
	CHECK(mw_rr_run(&rr, 4, 3, serve, &s) == 3, "budget bounds the run");
	/* 3 (idle), 0 (idle), 1, 2, 3 (idle), 0 (idle), 1: stops after 1 */
	CHECK(s.served[1] == 2 && s.served[2] == 1 && rr.next == 2,
	      "turn order (served %llu %llu, next %u)",
	      (unsigned long long)s.served[1], (unsigned long long)s.served[2],
	      rr.next);
	s.stop_every = 1;
	s.calls = 0;
	CHECK(mw_rr_run(&rr, 4, 32, serve, &s) == 0 && rr.next == 2 &&
		      s.last == 2,
	      "a stop keeps the cursor on the slot not served");
}

int main(int argc, char **argv)
{
	uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 0) : 0x5eed;

	edges();
	for (unsigned k = 0; k < 8; k++) {
		uint64_t sd = seed + k * 0x9e3779b97f4a7c15ull;
		fairness(sd | 1, 1 + k * 7, k % 3 ? 5 + k : 0);
	}
	if (fails) {
		fprintf(stderr, "test_rr: %d failure(s), seed %llu\n", fails,
			(unsigned long long)seed);
		return 1;
	}
	printf("test_rr: ok\n");
	return 0;
}
