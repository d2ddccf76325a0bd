/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maskwire-codec: encode NumPy .npy tensors into .mwt files (the payload
 * exactly as the wire carries it), decode them back, and print codec
 * statistics as JSON.
 *
 *   maskwire-codec encode [codec options] IN.npy OUT.mwt
 *   maskwire-codec decode IN.mwt OUT.npy
 *   maskwire-codec stats [codec options] IN.npy
 *
 * codec options: --codec ms|ms-signed|topk|quant|dense (default ms)
 *                --ratio R | --k K   (default --ratio 0.99)
 *                --bits B            (default 2)
 *                --rounding nearest|floor|stochastic (default nearest)
 *
 * Exit status: 0 on success, 1 for a bad file or a codec error (the
 * message names the file and the problem), 2 for bad usage.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mw_codec.h"

#define PROG "maskwire-codec"

static void usage(void)
{
	fprintf(stderr,
		"usage: " PROG " encode [options] IN.npy OUT.mwt\n"
		"       " PROG " decode IN.mwt OUT.npy\n"
		"       " PROG " stats [options] IN.npy\n"
		"options: --codec ms|ms-signed|topk|quant|dense (default ms)\n"
		"         --ratio R | --k K (default --ratio 0.99)\n"
		"         --bits B (1..8, default 2)\n"
		"         --rounding nearest|floor|stochastic (default nearest)\n");
	exit(2);
}

static void fail(const char *file, const char *what)
{
	fprintf(stderr, PROG ": %s: %s\n", file, what);
	exit(1);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		fail(path, strerror(errno));
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 1u << 16;
			buf = realloc(buf, cap);
			if (buf == NULL)
				fail(path, "out of memory");
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	if (ferror(f))
		fail(path, strerror(errno));
	fclose(f);
	*len = n;
	return buf;
}

static void write_file(const char *path, const uint8_t *a, size_t alen,
		       const uint8_t *b, size_t blen)
{
	FILE *f = fopen(path, "wb");

	if (f == NULL)
		fail(path, strerror(errno));
	if ((alen && fwrite(a, 1, alen, f) != alen) ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0)
		fail(path, strerror(errno));
}

static uint32_t ld_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void st_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A float32 tensor from a .npy file (exits with a message on error). */
static float *load_npy(const char *path, struct mw_shape *shape, uint64_t *n)
{
	size_t len;
	uint8_t *buf = read_file(path, &len);
	struct mw_npy npy;
	const char *why;
	char msg[160];
	float *x;
	int rc = mw_npy_parse(buf, len, &npy, &why);

	if (rc == 0 && npy.dtype != MW_DT_F32) {
		rc = MW_EUNSUPP;
		why = "dtype is not supported (need float32 '<f4')";
	}
	if (rc < 0) {
		if (rc == MW_EUNSUPP && npy.descr[0] != '\0' &&
		    strstr(why, "dtype") != NULL)
			snprintf(msg, sizeof(msg),
				 "dtype '%s' is not supported (need float32 "
				 "'<f4')",
				 npy.descr);
		else
			snprintf(msg, sizeof(msg), "%s (%s)", why,
				 mw_strerror(rc));
		fail(path, msg);
	}
	*shape = npy.shape;
	*n = npy.n;
	x = malloc(npy.n * 4 + 4);
	if (x == NULL)
		fail(path, "out of memory");
	for (uint64_t i = 0; i < npy.n; i++) {
		uint32_t u = ld_le32(npy.data + 4 * i);

		memcpy(&x[i], &u, 4);
	}
	free(buf);
	return x;
}

struct opts {
	struct mw_codec_params p;
	const char *args[2];
	int nargs;
};

static void parse_opts(int argc, char **argv, struct opts *o, int want)
{
	int have_ratio = 0;

	memset(o, 0, sizeof(*o));
	o->p.codec = MW_CODEC_MS;
	o->p.bits = 2;
	o->p.ratio = 0.99;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(a, "--codec") == 0 && v) {
			int c = mw_codec_from_name(v);

			if (c < 0 || c == MW_CODEC_RAW) {
				fprintf(stderr, PROG ": unknown codec '%s'\n", v);
				usage();
			}
			o->p.codec = (enum mw_codec)c;
			i++;
		} else if (strcmp(a, "--ratio") == 0 && v) {
			o->p.ratio = strtod(v, &end);
			if (*end || !(o->p.ratio >= 0.0 && o->p.ratio < 1.0)) {
				fprintf(stderr, PROG ": --ratio must be in [0, 1)\n");
				usage();
			}
			have_ratio = 1;
			i++;
		} else if (strcmp(a, "--k") == 0 && v) {
			o->p.k = strtoull(v, &end, 10);
			if (*end || o->p.k == 0 || v[0] == '-') {
				fprintf(stderr, PROG ": --k must be a positive integer\n");
				usage();
			}
			i++;
		} else if (strcmp(a, "--bits") == 0 && v) {
			unsigned long b = strtoul(v, &end, 10);

			if (*end || b < MW_BITS_MIN || b > MW_BITS_MAX) {
				fprintf(stderr, PROG ": --bits must be 1..8\n");
				usage();
			}
			o->p.bits = (unsigned)b;
			i++;
		} else if (strcmp(a, "--rounding") == 0 && v) {
			int r = mw_rounding_from_name(v);

			if (r < 0) {
				fprintf(stderr, PROG ": --rounding "
						"nearest|floor|stochastic\n");
				usage();
			}
			o->p.rounding = (enum mw_rounding)r;
			i++;
		} else if (a[0] == '-' && a[1] == '-') {
			fprintf(stderr, PROG ": unknown option '%s'\n", a);
			usage();
		} else if (o->nargs < 2) {
			o->args[o->nargs++] = a;
		} else {
			usage();
		}
	}
	if (have_ratio && o->p.k) {
		fprintf(stderr, PROG ": give --ratio or --k, not both\n");
		usage();
	}
	if (o->nargs != want)
		usage();
}

/* Encode x; returns the payload (caller frees), fills d and *len. */
static uint8_t *encode(const char *path, const struct mw_codec_params *p,
		       const float *x, uint64_t n, struct mw_codec_desc *d,
		       size_t hdr, int64_t *len)
{
	int64_t size = mw_encode_size(p, n);
	size_t ss = mw_encode_scratch_size(p, n);
	uint8_t *out;
	void *scratch;
	char msg[128];

	if (size < 0)
		fail(path, mw_strerror((int)size));
	out = malloc(hdr + (size_t)size + 1);
	scratch = malloc(ss + 1);
	if (out == NULL || scratch == NULL)
		fail(path, "out of memory");
	*len = mw_encode(p, x, n, d, out + hdr, (size_t)size, scratch, ss);
	if (*len < 0) {
		snprintf(msg, sizeof(msg), "cannot encode: %s",
			 mw_strerror((int)*len));
		fail(path, msg);
	}
	free(scratch);
	return out;
}

static int cmd_encode(int argc, char **argv)
{
	struct opts o;
	struct mw_shape shape;
	struct mw_codec_desc d;
	uint64_t n;
	float *x;
	uint8_t *out;
	int64_t len, h;

	parse_opts(argc, argv, &o, 2);
	x = load_npy(o.args[0], &shape, &n);
	h = MW_MWT_HEADER_SIZE(shape.ndim);
	out = encode(o.args[0], &o.p, x, n, &d, (size_t)h, &len);
	if (mw_mwt_write_header(&d, &shape, out, (size_t)h) != h)
		fail(o.args[1], "cannot build the .mwt header");
	write_file(o.args[1], out, (size_t)(h + len), NULL, 0);
	free(x);
	free(out);
	return 0;
}

static int cmd_decode(int argc, char **argv)
{
	struct opts o;
	size_t len;
	uint8_t *buf, *data, hdr[1024];
	struct mw_mwt m;
	const char *why;
	char msg[160];
	int64_t rc, h;
	uint64_t es;
	int prc;

	parse_opts(argc, argv, &o, 2);
	buf = read_file(o.args[0], &len);
	prc = mw_mwt_parse(buf, len, &m, &why);
	if (prc < 0) {
		snprintf(msg, sizeof(msg), "%s (%s)", why, mw_strerror(prc));
		fail(o.args[0], msg);
	}
	es = mw_codec_elem_size(m.desc.codec);
	data = malloc(m.desc.n * es + 4);
	if (data == NULL)
		fail(o.args[0], "out of memory");
	rc = mw_seg_decode(&m.desc, 0, m.desc.n, m.payload,
			   (size_t)m.payload_len, data);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "payload does not decode: %s",
			 mw_strerror((int)rc));
		fail(o.args[0], msg);
	}
	if (es == 4) /* to little-endian file order */
		for (uint64_t i = 0; i < m.desc.n; i++) {
			uint32_t u;

			memcpy(&u, data + 4 * i, 4);
			st_le32(data + 4 * i, u);
		}
	h = mw_npy_write_header(m.dtype, &m.shape, hdr, sizeof(hdr));
	if (h < 0)
		fail(o.args[1], "cannot build the .npy header");
	write_file(o.args[1], hdr, (size_t)h, data, m.desc.n * es);
	free(buf);
	free(data);
	return 0;
}

static void json_str(const char *key, const char *v)
{
	printf("\"%s\": \"", key);
	for (; *v; v++) {
		if (*v == '"' || *v == '\\')
			printf("\\%c", *v);
		else if ((unsigned char)*v < 0x20)
			printf("\\u%04x", (unsigned char)*v);
		else
			putchar(*v);
	}
	printf("\", ");
}

static void json_num(const char *key, double v, int last)
{
	if (isfinite(v))
		printf("\"%s\": %.9g%s", key, v, last ? "" : ", ");
	else
		printf("\"%s\": null%s", key, last ? "" : ", ");
}

static int cmd_stats(int argc, char **argv)
{
	struct opts o;
	struct mw_shape shape;
	struct mw_codec_desc d;
	uint64_t n;
	float *x, *y;
	uint8_t *out;
	int64_t len, rc;
	double e2 = 0, s2 = 0, emax = 0, thr = NAN;

	parse_opts(argc, argv, &o, 1);
	x = load_npy(o.args[0], &shape, &n);
	out = encode(o.args[0], &o.p, x, n, &d, 0, &len);
	y = malloc(n * 4 + 4);
	rc = mw_seg_decode(&d, 0, n, out, (size_t)len, y);
	if (rc < 0)
		fail(o.args[0], mw_strerror((int)rc));
	for (uint64_t i = 0; i < n; i++) {
		double e = fabs((double)x[i] - y[i]);

		e2 += e * e;
		s2 += (double)x[i] * x[i];
		emax = e > emax ? e : emax;
	}
	if (d.codec == MW_CODEC_MS || d.codec == MW_CODEC_MS_SIGNED) {
		thr = d.p0;
	} else if (d.codec == MW_CODEC_TOPK && d.k > 0) {
		thr = INFINITY;
		for (uint64_t i = 0; i < d.k; i++) {
			uint32_t u = ld_le32(out + 8 * i + 4);
			float f;

			memcpy(&f, &u, 4);
			thr = fabs(f) < thr ? fabs(f) : thr;
		}
	}
	printf("{");
	json_str("file", o.args[0]);
	json_str("codec", mw_codec_name(d.codec));
	printf("\"bits\": %u, ", d.bits);
	printf("\"elements\": %llu, \"k\": %llu, ", (unsigned long long)n,
	       (unsigned long long)d.k);
	json_num("threshold", thr, 0);
	printf("\"encoded_bytes\": %lld, ", (long long)len);
	json_num("bits_per_element", n ? 8.0 * (double)len / (double)n : NAN, 0);
	json_num("compression_ratio", len ? 4.0 * (double)n / (double)len : NAN,
		 0);
	json_num("rel_l2_error", s2 > 0 ? sqrt(e2 / s2) : sqrt(e2), 0);
	json_num("max_abs_error", emax, 1);
	printf("}\n");
	free(x);
	free(y);
	free(out);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "encode") == 0)
		return cmd_encode(argc - 2, argv + 2);
	if (strcmp(argv[1], "decode") == 0)
		return cmd_decode(argc - 2, argv + 2);
	if (strcmp(argv[1], "stats") == 0)
		return cmd_stats(argc - 2, argv + 2);
	usage();
	return 2;
}
