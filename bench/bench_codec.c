/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Codec benchmark (a program, not a test): MS encode/decode throughput in
 * GB/s of float32 input on the paper's cut-layer shapes, next to memcpy of
 * the same bytes and a sort-based (qsort) top-k measured in the same run.
 * Every figure is the median of --reps runs. Prints a table, then JSON.
 *
 *   maskwire-bench-codec [--quick] [--reps N] [--json-only]
 *   maskwire-bench-codec --signed-error [--npy GRAD.npy] [--json-only]
 *   maskwire-bench-codec --plan [--budget BYTES] [--quick] [--reps N]
 *   maskwire-bench-codec --kernels [--ratio R] [--signed]
 *                        [--rounding nearest|floor|stochastic]
 *                        [--quick] [--reps N]
 *   maskwire-bench-codec --step [--quick] [--reps N]
 *   maskwire-bench-codec --passes [--quick] [--reps N]
 *
 * --kernels times every kernel set this CPU runs (scalar, AVX2, AVX-512)
 * side by side: in each repetition, memcpy of the tensor and then each
 * set's MS encode and decode of it, on [64,64,32,32] and [32,64,56,56]
 * at r = 0.99 (or --ratio R), b = 1, 2, 4 (the scalar set only on the
 * first shape); --signed: signed MS of gradient-like data; --rounding:
 * the codes' rounding (nearest by default). Each
 * set's output is checked to be the scalar set's, byte for byte.
 *
 * --plan times mw_encode() next to mw_seg_plan() (called twice, to count
 * then to fill, as the transport's submit path does) on [64,64,32,32] at
 * r = 0.99, for MS and signed MS, b = 1, 2, 4; the default budget is the
 * transport's segment payload budget (1472-byte datagrams minus the
 * 140-byte DATA header). Plan GB/s is of the float32 input, like encode.
 *
 * --passes splits an MS encode (r = 0.99, b = 2, [64,64,32,32]) into its
 * two passes over the input, the selection (sample and filter) and the
 * emit (threshold and codes), through mw_enc_step(), next to memcpy and
 * a plain read of the same tensor (a 32-byte vector sum): how far each
 * pass is from what one core reads.
 *
 * --step times a training step's codec work alone (MS encode and decode
 * of an activation, signed-MS encode and decode of a gradient, 16 MiB,
 * r = 0.99, b = 2): what bench/run.py's step rows are compared with.
 *
 * --signed-error compares the reconstruction error of signed MS with plain
 * top-k (and b-bit quantisation) at equal encoded bytes, on gradient-like
 * synthetic data or on a float32 tensor read from --npy.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_time.h"
#include "internal.h"
#include "mw_codec.h"
#include "mw_rand.h"

struct shape {
	unsigned ndim;
	uint64_t dim[4];
};

static const struct shape full_shapes[] = {
	{4, {256, 64, 16, 16}},
	{4, {64, 64, 32, 32}},
	{4, {32, 64, 56, 56}},
};
static const struct shape quick_shapes[] = {{4, {4, 8, 16, 16}}};
static const double ratios[] = {0.9, 0.99, 0.999};
static const unsigned bitses[] = {1, 2, 4};

static uint64_t rng_state = 0x6d61736b77697265ull;

/* Uniform in (0, 1): Box-Muller takes its logarithm, so unlike
 * mw_rand_unit() (from 0) this never returns 0. */
static double unit(void)
{
	return ((double)(mw_rand64(&rng_state) >> 11) + 0.5) *
	       (1.0 / 9007199254740992.0);
}

/* Two N(0,1) samples (Box-Muller). */
static void normal2(float *a, float *b)
{
	double r = sqrt(-2.0 * log(unit())), th = 6.283185307179586 * unit();

	*a = (float)(r * cos(th));
	*b = (float)(r * sin(th));
}

static void fill_relu_normal(float *x, uint64_t n)
{
	for (uint64_t i = 0; i < n; i += 2) {
		float a, b;

		normal2(&a, &b);
		x[i] = a > 0.0f ? a : 0.0f;
		if (i + 1 < n)
			x[i + 1] = b > 0.0f ? b : 0.0f;
	}
}

static int cmp_desc_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return x > y ? -1 : x < y;
}

static void die(const char *what, int64_t rc)
{
	fprintf(stderr, "maskwire-bench-codec: %s: %s\n", what,
		mw_strerror((int)rc));
	exit(1);
}

static uint64_t elems(const struct shape *s)
{
	uint64_t n = 1;

	for (unsigned i = 0; i < s->ndim; i++)
		n *= s->dim[i];
	return n;
}

static void shape_str(const struct shape *s, char *buf, size_t cap)
{
	int l = snprintf(buf, cap, "[");

	for (unsigned i = 0; i < s->ndim; i++)
		l += snprintf(buf + l, cap - (size_t)l, "%s%" PRIu64,
			      i ? "," : "", s->dim[i]);
	snprintf(buf + l, cap - (size_t)l, "]");
}

struct ms_row {
	double ratio;
	unsigned bits;
	int64_t bytes;
	double memcpy_gbps, enc_gbps, dec_gbps;
};

static void bench_throughput(int quick, unsigned reps, int json_only)
{
	const struct shape *shapes = quick ? quick_shapes : full_shapes;
	const unsigned nshapes = quick ? 1 : 3;
	const unsigned nrow = 9;
	double *t = malloc(sizeof(double) * reps);
	double *tm = malloc(sizeof(double) * reps);
	double *td = malloc(sizeof(double) * reps);
	struct ms_row rows[3][9];
	double sort_gbps[3];

	for (unsigned si = 0; si < nshapes; si++) {
		const uint64_t n = elems(&shapes[si]);
		const double gb = (double)n * 4 / 1e9;
		float *x = malloc(n * 4), *y = malloc(n * 4), *srt = malloc(n * 4);
		struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 8,
					    .ratio = 0.9};
		size_t ss = mw_encode_scratch_size(&p, n);
		void *scratch = malloc(ss);
		uint8_t *out = malloc((size_t)mw_encode_size(&p, n));
		unsigned sreps = reps < 3 ? reps : 3;
		volatile float sink;

		fill_relu_normal(x, n);
		memcpy(y, x, n * 4); /* fault the pages in */
		/* the naive way: sort a copy, take the k-th largest */
		for (unsigned r = 0; r < sreps; r++) {
			double t0 = bench_now();

			memcpy(srt, x, n * 4);
			qsort(srt, n, sizeof(float), cmp_desc_float);
			t[r] = bench_now() - t0;
			sink = srt[n / 100];
		}
		sort_gbps[si] = gb / bench_median(t, sreps);

		for (unsigned ri = 0; ri < 3; ri++) {
			for (unsigned bi = 0; bi < 3; bi++) {
				struct ms_row *row = &rows[si][ri * 3 + bi];
				struct mw_codec_desc d;
				int64_t len = 0, rc;

				p.ratio = ratios[ri];
				p.bits = bitses[bi];
				/* memcpy, encode, decode side by side in each
				 * repetition, so that noise hits all three */
				for (unsigned r = 0; r < reps; r++) {
					double t0 = bench_now(), t1;

					memcpy(y, x, n * 4);
					t1 = bench_now();
					tm[r] = t1 - t0;
					sink = y[r];
					len = mw_encode(&p, x, n, &d, out,
							(size_t)mw_encode_size(&p, n),
							scratch, ss);
					t0 = bench_now();
					t[r] = t0 - t1;
					if (len < 0)
						die("encode", len);
					rc = mw_seg_decode(&d, 0, n, out,
							   (size_t)len, y);
					td[r] = bench_now() - t0;
					if (rc < 0)
						die("decode", rc);
				}
				row->memcpy_gbps = gb / bench_median(tm, reps);
				row->enc_gbps = gb / bench_median(t, reps);
				row->dec_gbps = gb / bench_median(td, reps);
				row->ratio = ratios[ri];
				row->bits = bitses[bi];
				row->bytes = len;
			}
		}
		(void)sink;
		free(x);
		free(y);
		free(srt);
		free(scratch);
		free(out);
	}

	if (!json_only) {
		printf("maskwire codec benchmark: kernels %s, median of %u runs, "
		       "GB/s of float32 input\n",
		       mw_codec_simd_name(), reps);
		printf("%-18s %5s %2s %10s %7s %8s %8s %8s %8s %7s %7s\n",
		       "shape", "r", "b", "bytes", "ratio", "memcpy", "sort-tk",
		       "encode", "decode", "enc/mc", "dec/mc");
		for (unsigned si = 0; si < nshapes; si++) {
			char sb[64];
			const uint64_t n = elems(&shapes[si]);

			shape_str(&shapes[si], sb, sizeof(sb));
			for (unsigned i = 0; i < nrow; i++) {
				const struct ms_row *row = &rows[si][i];

				printf("%-18s %5.3f %2u %10" PRId64
				       " %7.2f %8.2f %8.3f %8.2f %8.2f %7.2f %7.2f\n",
				       sb, row->ratio, row->bits, row->bytes,
				       (double)n * 4 / (double)row->bytes,
				       row->memcpy_gbps, sort_gbps[si],
				       row->enc_gbps, row->dec_gbps,
				       row->enc_gbps / row->memcpy_gbps,
				       row->dec_gbps / row->memcpy_gbps);
			}
		}
		printf("\n");
	}
	printf("{\"bench\": \"codec\", \"kernels\": \"%s\", \"reps\": %u, "
	       "\"results\": [",
	       mw_codec_simd_name(), reps);
	for (unsigned si = 0; si < nshapes; si++) {
		char sb[64];

		shape_str(&shapes[si], sb, sizeof(sb));
		printf("%s\n {\"shape\": %s, \"elements\": %" PRIu64
		       ", \"sort_topk_gbps\": %.4f, \"ms\": [",
		       si ? "," : "", sb, elems(&shapes[si]), sort_gbps[si]);
		for (unsigned i = 0; i < nrow; i++) {
			const struct ms_row *row = &rows[si][i];

			printf("%s\n  {\"ratio\": %g, \"bits\": %u, \"bytes\": %" PRId64
			       ", \"memcpy_gbps\": %.3f, \"encode_gbps\": %.3f, "
			       "\"decode_gbps\": %.3f}",
			       i ? "," : "", row->ratio, row->bits, row->bytes,
			       row->memcpy_gbps, row->enc_gbps, row->dec_gbps);
		}
		printf("]}");
	}
	printf("]}\n");
	free(t);
	free(tm);
	free(td);
}

/* ---- kernel sets side by side ---------------------------------------- */

static void fill_gradient(float *x, const struct shape *s);

static void bench_kernels(int quick, unsigned reps, double ratio, int sgn,
			  enum mw_rounding rnd)
{
	static const struct shape kshapes[] = {{4, {64, 64, 32, 32}},
					       {4, {32, 64, 56, 56}}};
	const struct mw_kernels *ks[3];
	const unsigned nks = mw_kernels_all(ks, 3);
	const unsigned nshapes = quick ? 1 : 2;
	double *tm = malloc(sizeof(double) * reps);
	double *te = malloc(sizeof(double) * reps * 3);
	double *td = malloc(sizeof(double) * reps * 3);

	printf("maskwire codec kernels side by side: median of %u runs, GB/s "
	       "of float32 input, %s r = %g, rounding %s\n", reps,
	       sgn ? "signed MS" : "MS", ratio, mw_rounding_name(rnd));
	printf("%-18s %2s %8s", "shape", "b", "memcpy");
	for (unsigned k = 0; k < nks; k++)
		printf("  %6s-enc %6s-dec", ks[k]->name, ks[k]->name);
	printf("  enc/mc dec/mc (%s)\n", ks[nks - 1]->name);
	for (unsigned si = 0; si < nshapes; si++) {
		const struct shape *sh = quick ? quick_shapes : &kshapes[si];
		const uint64_t n = elems(sh);
		const double gb = (double)n * 4 / 1e9;
		float *x = malloc(n * 4), *y = malloc(n * 4);
		struct mw_codec_params p = {
			.codec = sgn ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
			.bits = 8,
			.ratio = ratio,
			.rounding = rnd,
		};
		size_t ss = mw_encode_scratch_size(&p, n);
		size_t cap = (size_t)mw_encode_size(&p, n);
		void *scratch = malloc(ss);
		uint8_t *out = malloc(cap), *ref = malloc(cap);
		/* the scalar set on the first shape only (it is slow) */
		const unsigned k0 = si > 0 && nks > 1 ? 1 : 0;
		char sb[64];

		if (sgn)
			fill_gradient(x, sh);
		else
			fill_relu_normal(x, n);
		memcpy(y, x, n * 4); /* fault the pages in */
		shape_str(sh, sb, sizeof(sb));
		for (unsigned bi = 0; bi < 3; bi++) {
			struct mw_codec_desc d;
			int64_t rlen = 0;

			p.bits = bitses[bi];
			for (unsigned r = 0; r < reps; r++) {
				double t0 = bench_now();

				memcpy(y, x, n * 4);
				tm[r] = bench_now() - t0;
				for (unsigned k = 0; k < nks; k++) {
					int64_t len, rc;

					if (k < k0)
						continue;
					t0 = bench_now();
					len = mw_encode_with(ks[k], &p, x, n, &d,
							     out, cap, scratch,
							     ss);
					te[k * reps + r] = bench_now() - t0;
					if (len < 0)
						die("encode", len);
					if (k == k0) {
						memcpy(ref, out, (size_t)len);
						rlen = len;
					} else if (len != rlen ||
						   memcmp(ref, out,
							  (size_t)len) != 0) {
						die("kernel sets differ", -1);
					}
					t0 = bench_now();
					rc = mw_seg_decode_with(ks[k], &d, 0, n,
								out,
								(size_t)len, y);
					td[k * reps + r] = bench_now() - t0;
					if (rc < 0)
						die("decode", rc);
				}
			}
			{
				double mc = gb / bench_median(tm, reps);
				double e = 0, dd = 0;

				printf("%-18s %2u %8.2f", sb, p.bits, mc);
				for (unsigned k = 0; k < nks; k++) {
					if (k < k0) {
						printf("  %10s %10s", "-", "-");
						continue;
					}
					e = gb / bench_median(te + k * reps, reps);
					dd = gb / bench_median(td + k * reps, reps);
					printf("  %10.2f %10.2f", e, dd);
				}
				printf("  %6.2f %6.2f\n", e / mc, dd / mc);
			}
		}
		free(x);
		free(y);
		free(scratch);
		free(out);
		free(ref);
	}
	free(tm);
	free(te);
	free(td);
}

/* ---- signed MS vs top-k at equal bytes ------------------------------- */

/*
 * Gradient-like data: the gradient of a loss w.r.t. post-ReLU activations
 * is 0 where the unit was inactive (here half of them) and elsewhere
 * heavy-tailed with a scale that varies by channel.
 */
static void fill_gradient(float *x, const struct shape *s)
{
	const uint64_t hw = s->dim[2] * s->dim[3];
	uint64_t i = 0;

	for (uint64_t bc = 0; bc < s->dim[0] * s->dim[1]; bc++) {
		float a, b;
		double scale;

		normal2(&a, &b);
		scale = exp(0.75 * a) * 1e-3;
		for (uint64_t j = 0; j < hw; j++, i++) {
			normal2(&a, &b);
			/* Student-t like tail: normal / sqrt(chi2_3 / 3) */
			if (unit() < 0.5) {
				x[i] = 0.0f;
			} else {
				float c, e, f, g;

				normal2(&c, &e);
				normal2(&f, &g);
				x[i] = (float)(scale * a /
					       sqrt((b * b + c * c + e * e) / 3.0 +
						    1e-12));
				(void)f;
				(void)g;
			}
		}
	}
}

static double rel_l2(const float *x, const float *y, uint64_t n)
{
	double e = 0, s = 0;

	for (uint64_t i = 0; i < n; i++) {
		e += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
		s += (double)x[i] * x[i];
	}
	return s > 0 ? sqrt(e / s) : sqrt(e);
}

/* Encode with p, decode, return relative L2 error; *bytes the size. */
static double roundtrip(const struct mw_codec_params *p, const float *x,
			uint64_t n, float *y, int64_t *bytes)
{
	size_t ss = mw_encode_scratch_size(p, n);
	int64_t size = mw_encode_size(p, n), rc;
	uint8_t *out = malloc((size_t)size + 1);
	void *scratch = malloc(ss + 1);
	struct mw_codec_desc d;

	*bytes = mw_encode(p, x, n, &d, out, (size_t)size, scratch, ss);
	if (*bytes < 0)
		die("encode", *bytes);
	rc = mw_seg_decode(&d, 0, n, out, (size_t)*bytes, y);
	if (rc < 0)
		die("decode", rc);
	free(out);
	free(scratch);
	return rel_l2(x, y, n);
}

static float *load_npy(const char *path, uint64_t *n)
{
	FILE *f = fopen(path, "rb");
	long len;
	uint8_t *buf;
	struct mw_npy npy;
	const char *why;
	float *x;
	int rc;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
		fprintf(stderr, "maskwire-bench-codec: %s: cannot read\n", path);
		exit(1);
	}
	rewind(f);
	buf = malloc((size_t)len + 1);
	if (fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "maskwire-bench-codec: %s: read error\n", path);
		exit(1);
	}
	fclose(f);
	rc = mw_npy_parse(buf, (size_t)len, &npy, &why);
	if (rc < 0 || npy.dtype != MW_DT_F32) {
		fprintf(stderr, "maskwire-bench-codec: %s: %s\n", path,
			rc < 0 ? why : "not float32");
		exit(1);
	}
	*n = npy.n;
	x = malloc(npy.n * 4 + 4);
	memcpy(x, npy.data, npy.n * 4);
	free(buf);
	return x;
}

struct err_row {
	int64_t bms, btk, bqu;
	double ems, etk, equ;
	uint64_t ktk;
	unsigned bq;
};

static void bench_signed_error(const char *npy, int quick, int json_only)
{
	struct err_row rows[9];
	const struct shape gs = quick ? quick_shapes[0] : full_shapes[1];
	uint64_t n = elems(&gs);
	float *x, *y;

	if (npy) {
		x = load_npy(npy, &n);
	} else {
		x = malloc(n * 4);
		fill_gradient(x, &gs);
	}
	y = malloc(n * 4 + 4);
	for (unsigned ri = 0; ri < 3; ri++) {
		for (unsigned bi = 0; bi < 3; bi++) {
			struct err_row *row = &rows[ri * 3 + bi];
			struct mw_codec_params ms = {.codec = MW_CODEC_MS_SIGNED,
						     .bits = bitses[bi],
						     .ratio = ratios[ri]};
			struct mw_codec_params tk = {.codec = MW_CODEC_TOPK};
			struct mw_codec_params qu = {.codec = MW_CODEC_QUANT};

			row->ems = roundtrip(&ms, x, n, y, &row->bms);
			/* the same bytes: 8 per pair; b' = bits per element */
			tk.k = (uint64_t)row->bms / 8;
			row->etk = roundtrip(&tk, x, n, y, &row->btk);
			qu.bits = (unsigned)((uint64_t)row->bms * 8 / n);
			qu.bits = qu.bits < 1 ? 1 : qu.bits > 8 ? 8 : qu.bits;
			row->equ = roundtrip(&qu, x, n, y, &row->bqu);
			row->ktk = tk.k;
			row->bq = qu.bits;
		}
	}
	if (!json_only) {
		printf("signed MS vs top-k at equal bytes on %s (%" PRIu64
		       " elements); relative L2 error\n"
		       "%5s %2s %10s %9s %10s %9s %7s %9s\n",
		       npy ? npy : "gradient-like synthetic data", n, "r", "b",
		       "bytes", "ms-signed", "topk-k", "topk", "quant-b",
		       "quant");
		for (unsigned i = 0; i < 9; i++)
			printf("%5.3f %2u %10" PRId64 " %9.4f %10" PRIu64
			       " %9.4f %7u %9.4f\n",
			       ratios[i / 3], bitses[i % 3], rows[i].bms,
			       rows[i].ems, rows[i].ktk, rows[i].etk, rows[i].bq,
			       rows[i].equ);
		printf("\n");
	}
	printf("{\"bench\": \"signed-error\", \"data\": \"%s\", "
	       "\"elements\": %" PRIu64 ", \"rows\": [",
	       npy ? npy : "synthetic-gradient", n);
	for (unsigned i = 0; i < 9; i++)
		printf("%s\n {\"ratio\": %g, \"bits\": %u, \"bytes\": %" PRId64
		       ", \"ms_signed_rel_l2\": %.5f, \"topk_k\": %" PRIu64
		       ", \"topk_bytes\": %" PRId64
		       ", \"topk_rel_l2\": %.5f, \"quant_bits\": %u, "
		       "\"quant_bytes\": %" PRId64 ", \"quant_rel_l2\": %.5f}",
		       i ? "," : "", ratios[i / 3], bitses[i % 3], rows[i].bms,
		       rows[i].ems, rows[i].ktk, rows[i].btk, rows[i].etk,
		       rows[i].bq, rows[i].bqu, rows[i].equ);
	printf("]}\n");
	free(x);
	free(y);
}

/* ---- encode next to segment planning --------------------------------- */

static void bench_plan(int quick, unsigned reps, size_t budget, int json_only)
{
	static const unsigned codecs[] = {MW_CODEC_MS, MW_CODEC_MS_SIGNED};
	const struct shape *sh = quick ? &quick_shapes[0] : &full_shapes[1];
	const uint64_t n = elems(sh);
	const double gb = (double)n * 4 / 1e9;
	double *te = malloc(sizeof(double) * reps);
	double *tp = malloc(sizeof(double) * reps);
	float *x = malloc(n * 4);
	struct {
		unsigned codec, bits;
		int64_t segs;
		double enc, plan;
	} rows[6];
	char sb[64];

	fill_relu_normal(x, n);
	for (uint64_t i = 0; i < n; i += 2) /* signed data for MS_SIGNED */
		if (x[i] == 0.0f)
			x[i] = -x[i + 1 < n ? i + 1 : i];
	for (unsigned ri = 0; ri < 6; ri++) {
		struct mw_codec_params p = {.codec = codecs[ri / 3],
					    .bits = bitses[ri % 3],
					    .ratio = 0.99};
		size_t ss = mw_encode_scratch_size(&p, n);
		int64_t size = mw_encode_size(&p, n), len = 0, cnt = 0;
		void *scratch = malloc(ss);
		uint8_t *out = malloc((size_t)size);
		struct mw_seg *segs = NULL;
		struct mw_codec_desc d;

		/* encode and plan side by side in each repetition */
		for (unsigned r = 0; r < reps; r++) {
			double t0 = bench_now(), t1;

			len = mw_encode(&p, x, n, &d, out, (size_t)size,
					scratch, ss);
			t1 = bench_now();
			te[r] = t1 - t0;
			if (len < 0)
				die("encode", len);
			cnt = mw_seg_plan(&d, out, (size_t)len, budget, NULL, 0);
			if (cnt < 0)
				die("plan", cnt);
			if (segs == NULL)
				segs = malloc(sizeof(*segs) * (size_t)cnt);
			cnt = mw_seg_plan(&d, out, (size_t)len, budget, segs,
					  (size_t)cnt);
			tp[r] = bench_now() - t1;
			if (cnt < 0)
				die("plan", cnt);
		}
		rows[ri].codec = p.codec;
		rows[ri].bits = p.bits;
		rows[ri].segs = cnt;
		rows[ri].enc = bench_median(te, reps);
		rows[ri].plan = bench_median(tp, reps);
		free(scratch);
		free(out);
		free(segs);
	}
	shape_str(sh, sb, sizeof(sb));
	if (!json_only) {
		printf("encode and segment planning on %s, r = 0.99, budget %zu "
		       "bytes: kernels %s, median of %u runs, GB/s of float32 "
		       "input\n%-10s %2s %8s %9s %9s %9s %8s\n",
		       sb, budget, mw_codec_simd_name(), reps, "codec", "b",
		       "segments", "encode", "plan", "plan-us", "plan/enc");
		for (unsigned ri = 0; ri < 6; ri++)
			printf("%-10s %2u %8" PRId64 " %9.3f %9.3f %9.1f %7.1f%%\n",
			       mw_codec_name(rows[ri].codec), rows[ri].bits,
			       rows[ri].segs, gb / rows[ri].enc,
			       gb / rows[ri].plan, rows[ri].plan * 1e6,
			       100.0 * rows[ri].plan / rows[ri].enc);
		printf("\n");
	}
	printf("{\"bench\": \"codec-plan\", \"kernels\": \"%s\", \"reps\": %u, "
	       "\"shape\": %s, \"budget\": %zu, \"results\": [",
	       mw_codec_simd_name(), reps, sb, budget);
	for (unsigned ri = 0; ri < 6; ri++)
		printf("%s\n {\"codec\": \"%s\", \"bits\": %u, \"segments\": "
		       "%" PRId64 ", \"encode_gbps\": %.3f, \"plan_gbps\": %.3f, "
		       "\"plan_us\": %.1f}",
		       ri ? "," : "", mw_codec_name(rows[ri].codec),
		       rows[ri].bits, rows[ri].segs, gb / rows[ri].enc,
		       gb / rows[ri].plan, rows[ri].plan * 1e6);
	printf("]}\n");
	free(x);
	free(te);
	free(tp);
}

/* ---- an MS encode's two passes ---------------------------------------- */

/* A plain read of x: the sum of its 32-bit words, 32 bytes at a time. */
__attribute__((target("avx2"), noinline)) static uint32_t
read_pass(const float *x, uint64_t n)
{
	const uint32_t *w = (const uint32_t *)(const void *)x;
	uint32_t acc[8] = {0};

	for (uint64_t i = 0; i + 8 <= n; i += 8)
		for (int j = 0; j < 8; j++)
			acc[j] += w[i + j];
	return acc[0] ^ acc[1] ^ acc[2] ^ acc[3] ^ acc[4] ^ acc[5] ^ acc[6] ^
	       acc[7];
}

static void bench_passes(int quick, unsigned reps)
{
	const struct shape *sh = quick ? quick_shapes : &full_shapes[1];
	const uint64_t n = elems(sh);
	const double mb = (double)n * 4 / 1e6;
	struct mw_codec_params p = {.codec = MW_CODEC_MS, .bits = 2,
				    .ratio = 0.99};
	const size_t ss = mw_encode_scratch_size(&p, n);
	const size_t cap = (size_t)mw_encode_size(&p, n);
	float *x = malloc(n * 4), *y = malloc(n * 4);
	uint8_t *scratch = malloc(ss), *out = malloc(cap);
	double *t[4];
	static const char *const part[4] = {"memcpy", "read", "selection",
					    "emit"};
	volatile uint32_t sink = 0;
	char sb[64];

	for (int i = 0; i < 4; i++)
		t[i] = malloc(sizeof(double) * reps);
	fill_relu_normal(x, n);
	memcpy(y, x, n * 4); /* fault the pages in */
	memset(scratch, 0, ss);
	memset(out, 0, cap);
	for (unsigned r = 0; r < reps; r++) {
		struct mw_enc enc;
		double t0 = bench_now();

		memcpy(y, x, n * 4);
		t[0][r] = bench_now() - t0;
		t0 = bench_now();
		sink ^= read_pass(x, n);
		t[1][r] = bench_now() - t0;
		/* budget n: the first step is the selection, the second the
		 * emit (a sample that misled the filter adds a step) */
		if (mw_enc_begin(&enc, &p, x, n, out, cap, scratch, ss) < 0)
			die("enc_begin", -1);
		t[2][r] = t[3][r] = 0;
		for (int s = 0, rc = 1; rc == 1; s++) {
			t0 = bench_now();
			rc = mw_enc_step(&enc, n);
			t[s == 0 ? 2 : 3][r] += bench_now() - t0;
			if (rc < 0)
				die("enc_step", rc);
		}
	}
	shape_str(sh, sb, sizeof(sb));
	printf("maskwire MS encode by pass: %s (%.1f MB), r = 0.99, b = 2, "
	       "kernels %s, median of %u runs\n", sb, mb,
	       mw_codec_simd_name(), reps);
	for (int i = 0; i < 4; i++) {
		const double m = bench_median(t[i], reps);

		printf("  %-10s %8.3f ms %7.2f GB/s of input\n", part[i],
		       m * 1e3, mb / 1e3 / m);
	}
	(void)sink;
	for (int i = 0; i < 4; i++)
		free(t[i]);
	free(x);
	free(y);
	free(scratch);
	free(out);
}

/* ---- the training step's codec work, without a network ----------------- */

/*
 * What a training step asks of the codec (bench/run.py's step rows): MS
 * encode and decode of an activation (relu(N(0,1))) and signed-MS encode
 * and decode of a gradient of the same shape (fill_gradient), r = 0.99,
 * b = 2, one core, one after the other; median of reps for each part.
 */
static void bench_step(int quick, unsigned reps)
{
	const struct shape *sh = quick ? quick_shapes : &full_shapes[1];
	const uint64_t n = elems(sh);
	float *act = malloc(n * 4), *grad = malloc(n * 4), *y = malloc(n * 4);
	double *t[4];
	double med[4], sum = 0;
	static const char *const part[4] = {"MS encode", "MS decode",
					    "signed MS encode",
					    "signed MS decode"};
	char sb[64];

	for (int i = 0; i < 4; i++)
		t[i] = malloc(sizeof(double) * reps);
	fill_relu_normal(act, n);
	fill_gradient(grad, sh);
	memcpy(y, act, n * 4); /* fault the pages in */
	for (int g = 0; g < 2; g++) {
		struct mw_codec_params p = {
			.codec = g ? MW_CODEC_MS_SIGNED : MW_CODEC_MS,
			.bits = 2, .ratio = 0.99};
		size_t ss = mw_encode_scratch_size(&p, n);
		size_t cap = (size_t)mw_encode_size(&p, n);
		uint8_t *scratch = malloc(ss), *out = malloc(cap);

		/* buffers allocated and touched once, as the transport's */
		memset(scratch, 0, ss);
		memset(out, 0, cap);
		for (unsigned r = 0; r < reps; r++) {
			struct mw_codec_desc d;
			double t0 = bench_now();
			int64_t len = mw_encode(&p, g ? grad : act, n, &d, out,
						cap, scratch, ss), rc;

			t[2 * g][r] = bench_now() - t0;
			if (len < 0)
				die("encode", len);
			t0 = bench_now();
			rc = mw_seg_decode(&d, 0, n, out, (size_t)len, y);
			t[2 * g + 1][r] = bench_now() - t0;
			if (rc < 0)
				die("decode", rc);
		}
		free(scratch);
		free(out);
	}
	shape_str(sh, sb, sizeof(sb));
	printf("maskwire codec: a training step's codec work, %s, r = 0.99, "
	       "b = 2, kernels %s, median of %u runs\n", sb,
	       mw_codec_simd_name(), reps);
	for (int i = 0; i < 4; i++) {
		med[i] = bench_median(t[i], reps);
		sum += med[i];
		printf("  %-17s %7.3f ms\n", part[i], med[i] * 1e3);
		free(t[i]);
	}
	printf("  %-17s %7.3f ms\n", "all four", sum * 1e3);
	printf("{\"bench\": \"codec-step\", \"shape\": %s, \"kernels\": \"%s\", "
	       "\"reps\": %u, \"ms_encode_ms\": %.4f, \"ms_decode_ms\": %.4f, "
	       "\"signed_encode_ms\": %.4f, \"signed_decode_ms\": %.4f, "
	       "\"total_ms\": %.4f}\n", sb, mw_codec_simd_name(), reps,
	       med[0] * 1e3, med[1] * 1e3, med[2] * 1e3, med[3] * 1e3,
	       sum * 1e3);
	free(act);
	free(grad);
	free(y);
}

int main(int argc, char **argv)
{
	int quick = 0, json_only = 0, serr = 0, plan = 0, kern = 0, step = 0;
	int ksigned = 0, krnd = MW_ROUND_NEAREST, passes = 0;
	double kratio = 0.99;
	unsigned reps = 5;
	size_t budget = 1472 - 140;
	const char *npy = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = 1;
		} else if (strcmp(argv[i], "--json-only") == 0) {
			json_only = 1;
		} else if (strcmp(argv[i], "--signed-error") == 0) {
			serr = 1;
		} else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
			reps = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--plan") == 0) {
			plan = 1;
		} else if (strcmp(argv[i], "--kernels") == 0) {
			kern = 1;
		} else if (strcmp(argv[i], "--step") == 0) {
			step = 1;
		} else if (strcmp(argv[i], "--passes") == 0) {
			passes = 1;
		} else if (strcmp(argv[i], "--ratio") == 0 && i + 1 < argc) {
			kratio = strtod(argv[++i], NULL);
		} else if (strcmp(argv[i], "--signed") == 0) {
			ksigned = 1;
		} else if (strcmp(argv[i], "--rounding") == 0 && i + 1 < argc &&
			   (krnd = mw_rounding_from_name(argv[i + 1])) >= 0) {
			i++;
		} else if (strcmp(argv[i], "--budget") == 0 && i + 1 < argc) {
			budget = (size_t)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--npy") == 0 && i + 1 < argc) {
			npy = argv[++i];
		} else {
			fprintf(stderr,
				"usage: maskwire-bench-codec [--quick] [--reps N] "
				"[--json-only]\n"
				"       maskwire-bench-codec --signed-error "
				"[--npy GRAD.npy] [--quick] [--json-only]\n"
				"       maskwire-bench-codec --plan "
				"[--budget BYTES] [--quick] [--reps N]\n"
				"       maskwire-bench-codec --kernels "
				"[--ratio R] [--signed] [--rounding R] "
				"[--quick] [--reps N]\n"
				"       maskwire-bench-codec --step "
				"[--quick] [--reps N]\n"
				"       maskwire-bench-codec --passes "
				"[--quick] [--reps N]\n");
			return 2;
		}
	}
	if (reps == 0 || reps > 1000)
		reps = 5;
	if (quick && reps > 2)
		reps = 2;
	if (!(kratio > 0 && kratio < 1))
		kratio = 0.99;
	if (passes)
		bench_passes(quick, reps);
	else if (step)
		bench_step(quick, reps);
	else if (kern)
		bench_kernels(quick, reps, kratio, ksigned,
			      (enum mw_rounding)krnd);
	else if (plan)
		bench_plan(quick, reps, budget, json_only);
	else if (serr)
		bench_signed_error(npy, quick, json_only);
	else
		bench_throughput(quick, reps, json_only);
	return 0;
}
