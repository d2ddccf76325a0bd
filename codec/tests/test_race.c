/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Input that changes while it is being encoded: the data plane encodes
 * straight from a client's shared memory, and the client may rewrite it
 * during mw_encode(). Whatever the input does, an encoder writes nothing
 * past mw_encode_size() bytes, and a success is a valid payload (it
 * decodes with every kernel set and plans into segments); otherwise it
 * returns MW_ECHANGED (or MW_ENONFINITE when a pass sees NaN/Inf first).
 *
 * 1. test_split (seeded, deterministic): MS, MS_SIGNED and TOPK through
 *    mw_encode_with() with a kernel table that wraps a real one (scalar,
 *    and AVX2 where the CPU has it) and hands every kernel call its own
 *    version of the input: the selection's filter pass(es) read one
 *    version, the emit pass another (more elements above the threshold,
 *    fewer, NaN/Inf, all huge, shuffled, ...): a writer that strikes
 *    between two passes. QUANT's two passes are split the same way in
 *    test_baseline.c; DENSE and RAW read their input once.
 * 2. test_threads: mw_encode() on this thread, for every codec, while a
 *    second thread keeps rewriting the input; bounded by iterations and
 *    time, it asserts nothing about timing, only memory safety and
 *    "success implies a valid payload".
 *
 * Payload buffers are exactly mw_encode_size() bytes (tu_guarded_alloc():
 * ASan's redzone, or canary bytes, right after them).
 */
#include <pthread.h>
#include <time.h>

#include "internal.h"
#include "mw_rand.h"
#include "testutil.h"

static const struct mw_kernels *kern[3];
static unsigned nkern;

/* ---- what a successful encode must give ------------------------------ */

/*
 * A payload mw_encode() returned as a success: a valid descriptor, the
 * size it implies, decodes over [0, n) with every kernel set (MS, TOPK:
 * exactly k values; all floats finite) and plans into segments that cover
 * [0, n).
 */
static void check_payload(const struct mw_codec_desc *d, const uint8_t *buf,
			  int64_t len, const char *what)
{
	const int is_raw = d->codec == MW_CODEC_RAW;
	const int carries = d->codec == MW_CODEC_MS ||
			    d->codec == MW_CODEC_MS_SIGNED ||
			    d->codec == MW_CODEC_TOPK;
	const int64_t want = carries ? (int64_t)d->k : 0; /* values decoded */
	void *out = malloc(d->n * 4 + 4);
	int64_t nseg;

	if (mw_codec_desc_check(d) != 0 || mw_payload_size(d) != len) {
		mw_test_fail(__FILE__, __LINE__,
			     "%s: descriptor invalid or size %lld != %lld", what,
			     (long long)mw_payload_size(d), (long long)len);
		free(out);
		return;
	}
	for (unsigned ki = 0; ki < nkern; ki++) {
		int64_t r = mw_seg_decode_with(kern[ki], d, 0, d->n, buf,
					       (size_t)len, out);

		if (r != want) {
			mw_test_fail(__FILE__, __LINE__,
				     "%s: decode (%s) gives %lld (%s), want %lld",
				     what, kern[ki]->name, (long long)r,
				     r < 0 ? mw_strerror((int)r) : "values",
				     (long long)want);
			continue;
		}
		for (uint64_t i = 0; !is_raw && i < d->n; i++)
			if (!isfinite(((const float *)out)[i])) {
				mw_test_fail(__FILE__, __LINE__,
					     "%s: decoded element %llu is %g",
					     what, (unsigned long long)i,
					     (double)((const float *)out)[i]);
				break;
			}
	}
	nseg = mw_seg_plan(d, buf, (size_t)len, 1332, NULL, 0);
	if (nseg < 1) {
		mw_test_fail(__FILE__, __LINE__, "%s: mw_seg_plan: %s", what,
			     mw_strerror((int)nseg));
	} else {
		struct mw_seg *s = malloc((size_t)nseg * sizeof(*s));
		uint64_t end = 0;

		CHECK_EQ(mw_seg_plan(d, buf, (size_t)len, 1332, s,
				     (size_t)nseg),
			 nseg);
		for (int64_t i = 0; i < nseg; i++) {
			CHECK_EQ(s[i].elem_off, end);
			end += s[i].elem_cnt;
		}
		CHECK_EQ(end, d->n);
		free(s);
	}
	free(out);
}

/* ---- 1. selection on one input, emission on another ------------------ */

/*
 * The wrapping kernel table: the first filter pass reads ver[0], a second
 * one (after a misleading sample) ver[1], the emit pass ver[2], each at the
 * offset the encoder asked for in base (the sample itself reads base).
 * Test-only global state: one encode at a time.
 */
#define MAX_VER 3

static struct {
	const struct mw_kernels *inner;
	const float *base;
	const float *ver[MAX_VER];
	unsigned filters;
} wrap;

static const float *wrap_x(const float *x, unsigned v)
{
	return wrap.ver[v] + (x - wrap.base);
}

static int wrap_filter(const float *x, uint64_t n, int mag, int32_t lo,
		       int32_t hi, uint32_t *cand, uint64_t *nc,
		       uint64_t *ngt)
{
	const float *y = wrap_x(x, wrap.filters ? 1 : 0);

	wrap.filters++;
	return wrap.inner->filter(y, n, mag, lo, hi, cand, nc, ngt);
}

static void wrap_ms_emit(struct mw_emit *e, const float *x, uint64_t n)
{
	wrap.inner->ms_emit(e, wrap_x(x, 2), n);
}

static void wrap_topk_emit(struct mw_emit *e, const float *x, uint64_t n)
{
	wrap.inner->topk_emit(e, wrap_x(x, 2), n);
}

static int wrap_decode(struct mw_dec *s, const uint8_t *mask, uint64_t n,
		       float *out)
{
	return wrap.inner->decode(s, mask, n, out);
}

static void wrap_ms_count(const uint8_t *mask, uint64_t nblk, unsigned b,
			  uint8_t *cnt)
{
	wrap.inner->ms_count(mask, nblk, b, cnt);
}

static const struct mw_kernels wrap_kernels = {
	.name = "wrapped",
	.filter = wrap_filter,
	.ms_emit = wrap_ms_emit,
	.topk_emit = wrap_topk_emit,
	.decode = wrap_decode,
	.ms_count = wrap_ms_count,
};

static float rand_value(int kind)
{
	float v = tu_normal();

	switch (kind) {
	case 0: /* relu(N(0,1)), activations */
		return v > 0.0f ? v : 0.0f;
	case 1: /* N(0,1), gradients */
		return v;
	default: /* few levels: many ties */
		return (float)tu_below(4) * 0.5f;
	}
}

static float rand_nonfinite(void)
{
	static const uint32_t bits[] = {0x7fc00000u, 0xffc00000u, 0x7f800001u,
					0xff800123u, 0x7f800000u, 0xff800000u,
					0x7fffffffu};

	return mw_u2f(bits[tu_below(sizeof(bits) / sizeof(bits[0]))]);
}

static float rand_huge(void)
{
	static const float h[] = {1e30f, 3.0e38f, 3.4028235e38f, 1e10f};
	float v = h[tu_below(4)];

	return tu_below(4) ? v : -v;
}

enum mutation {
	MUT_NONE,     /* the same values */
	MUT_RAISE,    /* some elements huge: more above the threshold */
	MUT_LOWER,    /* some elements 0 or negative: fewer */
	MUT_NONFIN,   /* NaN / Inf injected */
	MUT_ALL_HUGE, /* every element the same huge value */
	MUT_ALL_ZERO, /* every element 0 */
	MUT_SHUFFLE,  /* swaps: the same values elsewhere */
	MUT_COPY,     /* elements copied from others: new ties */
	MUT_NUDGE,    /* one ulp up or down */
	MUT_NEW,      /* a new random tensor */
	MUT_COUNT_
};

static const char *const mut_names[MUT_COUNT_] = {
	"none", "raise", "lower", "nonfinite", "all-huge", "all-zero",
	"shuffle", "copy", "nudge", "new",
};

/* How many elements a local mutation touches: few, some, or many. */
static uint64_t rand_count(uint64_t n)
{
	switch (tu_below(3)) {
	case 0:
		return 1;
	case 1:
		return 1 + tu_below(16);
	default:
		return 1 + tu_below(n);
	}
}

static void mutate(float *y, const float *x, uint64_t n, enum mutation m,
		   int kind)
{
	uint64_t c = rand_count(n);
	float h;

	memcpy(y, x, n * sizeof(*y));
	switch (m) {
	case MUT_NONE:
		break;
	case MUT_RAISE:
		for (uint64_t i = 0; i < c; i++)
			y[tu_below(n)] = rand_huge();
		break;
	case MUT_LOWER:
		for (uint64_t i = 0; i < c; i++)
			y[tu_below(n)] = tu_below(2) ? 0.0f : -tu_unit();
		break;
	case MUT_NONFIN:
		c = 1 + tu_below(4);
		for (uint64_t i = 0; i < c; i++)
			y[tu_below(n)] = rand_nonfinite();
		break;
	case MUT_ALL_HUGE:
		h = rand_huge();
		for (uint64_t i = 0; i < n; i++)
			y[i] = h;
		break;
	case MUT_ALL_ZERO:
		memset(y, 0, n * sizeof(*y));
		break;
	case MUT_SHUFFLE:
		for (uint64_t i = 0; i < c; i++) {
			uint64_t a = tu_below(n), b = tu_below(n);

			h = y[a];
			y[a] = y[b];
			y[b] = h;
		}
		break;
	case MUT_COPY:
		for (uint64_t i = 0; i < c; i++)
			y[tu_below(n)] = x[tu_below(n)];
		break;
	case MUT_NUDGE: {
		uint64_t i = tu_below(n);

		y[i] = nextafterf(y[i], tu_below(2) ? INFINITY : -INFINITY);
		break;
	}
	default: /* MUT_NEW */
		for (uint64_t i = 0; i < n; i++)
			y[i] = rand_value(kind);
		break;
	}
}

static int has_nonfinite(const float *x, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (mw_nonfinite_bits(mw_f2u(x[i])))
			return 1;
	return 0;
}

static uint64_t pick_n(void)
{
	switch (tu_below(6)) {
	case 0:
		return 1 + tu_below(16);
	case 1:
		return 65536 + tu_below(40000); /* sampled selection */
	case 2:
		return 1 + tu_below(5000);
	default:
		return 1 + tu_below(700);
	}
}

static void test_split(void)
{
	static const enum mw_codec codecs[] = {MW_CODEC_MS, MW_CODEC_MS_SIGNED,
					       MW_CODEC_TOPK};
	unsigned changed = 0, ok = 0, nonfinite = 0, refilter = 0;

	for (int iter = 0; iter < 400; iter++) {
		const uint64_t n = pick_n();
		const int kind = (int)tu_below(3);
		/* the sample (of A) misleads the first filter, which sees B:
		 * a second filter pass runs */
		const int mislead = n >= MW_SAMPLE_MIN_N && tu_below(2);
		struct mw_codec_params p = {
			.codec = codecs[tu_below(3)],
			.bits = 1 + (unsigned)tu_below(8),
			.rounding = (enum mw_rounding)tu_below(MW_ROUND_COUNT_),
		};
		float *v[3];
		enum mutation mut[2];
		unsigned pick[MAX_VER];
		int64_t size;
		size_t ss;
		uint8_t *scratch, *ref;
		int any_nonfinite = 0, same = 1;
		struct mw_codec_desc rd;
		int64_t rlen;

		if (p.codec == MW_CODEC_MS_SIGNED &&
		    p.rounding == MW_ROUND_FLOOR)
			p.rounding = MW_ROUND_NEAREST;
		if (tu_below(2)) /* tiny k: a NaN/Inf may be the threshold */
			p.k = 1 + tu_below(mislead && tu_below(2) ? 4 : n);
		else
			p.ratio = tu_below(3) ? 0.99 : tu_unit() * 0.999;
		size = mw_encode_size(&p, n);
		ss = mw_encode_scratch_size(&p, n);
		scratch = malloc(ss);
		for (int i = 0; i < 3; i++)
			v[i] = malloc(n * sizeof(float));
		for (uint64_t i = 0; i < n; i++)
			v[0][i] = rand_value(kind);
		/* v[1]: the main mutation; v[2]: another, often NaN/Inf */
		mut[0] = (enum mutation)tu_below(MUT_COUNT_);
		mut[1] = tu_below(2) ? MUT_NONFIN
				     : (enum mutation)tu_below(MUT_COUNT_);
		/* filter 1 reads mostly A, a second filter anything, the emit
		 * pass mostly B */
		pick[0] = tu_below(4) ? 0 : (unsigned)tu_below(3);
		pick[1] = (unsigned)tu_below(3);
		pick[2] = tu_below(4) ? 1 : (unsigned)tu_below(3);
		if (mislead) {
			mut[0] = tu_below(2) ? MUT_ALL_HUGE : MUT_ALL_ZERO;
			pick[0] = 1;
		}
		mutate(v[1], v[0], n, mut[0], kind);
		mutate(v[2], v[0], n, mut[1], kind);
		for (int i = 0; i < MAX_VER; i++) {
			/* a second filter pass runs only after a bad sample */
			if (i == 1 && n < MW_SAMPLE_MIN_N)
				continue;
			any_nonfinite |= has_nonfinite(v[pick[i]], n);
			same &= pick[i] == 0 ||
				memcmp(v[pick[i]], v[0], n * sizeof(float)) == 0;
		}

		/* the unchanged input's payload, with the real kernels */
		ref = malloc((size_t)size);
		rlen = mw_encode_with(kern[0], &p, v[0], n, &rd, ref,
				      (size_t)size, scratch, ss);
		CHECK_EQ(rlen, size);

		for (unsigned ki = 0; ki < nkern; ki++) {
			uint8_t *out = tu_guarded_alloc((size_t)size);
			struct mw_codec_desc d;
			char what[200];
			int64_t rc;

			wrap.inner = kern[ki];
			wrap.base = v[0];
			for (int i = 0; i < MAX_VER; i++)
				wrap.ver[i] = v[pick[i]];
			wrap.filters = 0;
			rc = mw_encode_with(&wrap_kernels, &p, v[0], n, &d, out,
					    (size_t)size, scratch, ss);
			refilter += wrap.filters > 1;
			snprintf(what, sizeof(what),
				 "%s %s n=%llu b=%u k=%llu mutations %s/%s "
				 "versions %u,%u,%u",
				 mw_codec_name(p.codec), kern[ki]->name,
				 (unsigned long long)n, p.bits,
				 (unsigned long long)mw_codec_k(&p, n),
				 mut_names[mut[0]], mut_names[mut[1]], pick[0],
				 pick[1], pick[2]);
			if (!tu_guard_ok(out, (size_t)size))
				mw_test_fail(__FILE__, __LINE__,
					     "%s: wrote past the payload", what);
			if (rc == size) {
				ok++;
				check_payload(&d, out, rc, what);
				if (same && rlen == size &&
				    memcmp(out, ref, (size_t)size) != 0)
					mw_test_fail(__FILE__, __LINE__,
						     "%s: unchanged input, "
						     "other bytes",
						     what);
			} else if (rc == MW_ECHANGED && !same) {
				changed++;
			} else if (rc == MW_ENONFINITE && any_nonfinite) {
				nonfinite++;
			} else {
				mw_test_fail(__FILE__, __LINE__, "%s: %lld (%s)",
					     what, (long long)rc,
					     rc < 0 ? mw_strerror((int)rc)
						    : "bytes");
			}
			free(out);
		}
		free(ref);
		free(scratch);
		for (int i = 0; i < 3; i++)
			free(v[i]);
	}
	printf("split: %u valid, %u MW_ECHANGED, %u MW_ENONFINITE; "
	       "%u with a second filter pass\n",
	       ok, changed, nonfinite, refilter);
}

/* ---- 2. a writer thread ------------------------------------------------ */

struct writer {
	uint32_t *x;          /* the shared input, as bits */
	const uint32_t *orig; /* what it holds at rest */
	uint64_t n;
	uint64_t rng; /* its own generator: tu_rand() is this thread's */
	int stop;     /* atomic */
};

static void wr_store(struct writer *w, uint64_t i, uint32_t v)
{
	__atomic_store_n(&w->x[i], v, __ATOMIC_RELAXED);
}

/* Rewrites runs of the input: huge, zero, NaN/Inf, back to the original. */
static void *writer_main(void *arg)
{
	static const uint32_t vals[] = {
		0x7e967699u, /* 1e38 */
		0xfe967699u, /* -1e38 */
		0x00000000u, 0x7fc00000u, 0x7f800000u, 0xff800000u,
		0x3f800000u, /* 1.0 */
	};
	struct writer *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_RELAXED)) {
		uint64_t r = mw_rand64(&w->rng);
		uint64_t a = r % w->n;
		uint64_t len = 1 + (r >> 20) % (r & 1 ? 64 : w->n - a);
		uint32_t v = vals[(r >> 8) % (sizeof(vals) / sizeof(vals[0]))];

		for (uint64_t i = a; i < a + len && i < w->n; i++)
			wr_store(w, i, v);
		for (uint64_t i = a; i < a + len && i < w->n; i++)
			wr_store(w, i, w->orig[i]);
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_threads(void)
{
	static const struct mw_codec_params params[] = {
		{.codec = MW_CODEC_MS, .bits = 2, .ratio = 0.99},
		{.codec = MW_CODEC_MS, .bits = 3, .ratio = 0.9},
		{.codec = MW_CODEC_MS_SIGNED, .bits = 2, .ratio = 0.99},
		{.codec = MW_CODEC_TOPK, .ratio = 0.99},
		{.codec = MW_CODEC_QUANT, .bits = 4},
		{.codec = MW_CODEC_DENSE},
		{.codec = MW_CODEC_RAW},
	};
	const uint64_t n = 65536 + 1000;
	uint32_t *x = malloc(n * 4), *orig = malloc(n * 4);
	uint8_t *scratch;
	size_t ss = 0;

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
		if (mw_encode_scratch_size(&params[i], n) > ss)
			ss = mw_encode_scratch_size(&params[i], n);
	scratch = malloc(ss);
	for (uint64_t i = 0; i < n; i++) {
		float v = tu_normal();

		orig[i] = mw_f2u(v > 0.0f ? v : 0.0f);
	}
	memcpy(x, orig, n * 4);
	for (size_t pi = 0; pi < sizeof(params) / sizeof(params[0]); pi++) {
		const struct mw_codec_params *p = &params[pi];
		/* RAW reads the same buffer as 4n bytes */
		const uint64_t ne = p->codec == MW_CODEC_RAW ? 4 * n : n;
		const int64_t size = mw_encode_size(p, ne);
		struct writer w = {.x = x, .orig = orig, .n = n,
				   .rng = tu_rand()};
		unsigned ok = 0, changed = 0, nonfinite = 0, range = 0;
		const double t0 = now_s();
		pthread_t th;
		int it;

		if (pthread_create(&th, NULL, writer_main, &w) != 0) {
			mw_test_fail(__FILE__, __LINE__, "pthread_create");
			break;
		}
		/* a few hundred encodes, at most ~2 s per codec */
		for (it = 0; it < 300 && now_s() - t0 < 2.0; it++) {
			uint8_t *out = tu_guarded_alloc((size_t)size);
			struct mw_codec_desc d;
			char what[96];
			int64_t rc = mw_encode(p, x, ne, &d, out, (size_t)size,
					       scratch, ss);

			snprintf(what, sizeof(what), "threads: %s b=%u iter %d",
				 mw_codec_name(p->codec), p->bits, it);
			if (!tu_guard_ok(out, (size_t)size))
				mw_test_fail(__FILE__, __LINE__,
					     "%s: wrote past the payload", what);
			if (rc == size) {
				ok++;
				check_payload(&d, out, rc, what);
			} else if (rc == MW_ECHANGED) {
				changed++;
			} else if (rc == MW_ENONFINITE) {
				nonfinite++;
			} else if (rc == MW_ERANGE &&
				   p->codec == MW_CODEC_QUANT) {
				range++; /* -1e38 .. 1e38 overflows max - min */
			} else {
				mw_test_fail(__FILE__, __LINE__, "%s: %lld (%s)",
					     what, (long long)rc,
					     rc < 0 ? mw_strerror((int)rc)
						    : "bytes");
			}
			free(out);
		}
		__atomic_store_n(&w.stop, 1, __ATOMIC_RELAXED);
		pthread_join(th, NULL);
		memcpy(x, orig, n * 4);
		printf("threads: %-9s b=%u: %d encodes: %u valid, %u "
		       "MW_ECHANGED, %u MW_ENONFINITE, %u MW_ERANGE\n",
		       mw_codec_name(p->codec), p->bits, it, ok, changed,
		       nonfinite, range);
	}
	free(scratch);
	free(x);
	free(orig);
}

int main(void)
{
	tu_init();
	nkern = mw_kernels_all(kern, 3);
	if (nkern == 1)
		printf("no SIMD kernel set on this build/CPU: scalar only\n");
	printf("kernels:");
	for (unsigned k = 0; k < nkern; k++)
		printf(" %s", kern[k]->name);
	printf("\n");
	test_split();
	test_threads();
	return mw_test_exit("test_race");
}
