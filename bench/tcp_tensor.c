/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * maskwire-bench-tcp: the kernel baseline of bench/run.py. Encoded tensors
 * (the same sans-I/O codec as the data plane) over one TCP connection,
 * each a fixed 64-byte header then the payload; the receiver decodes every
 * tensor and reports one-way latency against the sender's CLOCK_MONOTONIC
 * stamp (both ends on one machine share the clock).
 *
 *   maskwire-bench-tcp recv --listen IP:PORT [--respond --codec C ...]
 *                           [--warmup N]
 *   maskwire-bench-tcp send --connect IP:PORT --shape A,B,.. --codec C
 *                           [--ratio R] [--bits B] --count N [--rate R]
 *                           [--lockstep] [--warmup N]
 *
 * --lockstep: request/response; the sender waits for the receiver's
 * answer (a tensor of the same shape, --codec of the receiver, signed
 * gradient-like content) before the next tensor, and reports the step
 * time. --warmup N: tensors 0..N-1 are sent and received as the others
 * but left out of the latency (or step) figures, as with maskwire's
 * --warmup. JSON stats on stdout (or --stats FILE) at exit.
 *
 * Header (little-endian): 0 magic "MWTB", 4 codec, 5 bits, 6 rounding,
 * 7 kind, 8 p0 (f32), 12 p1 (f32), 16 n, 24 k, 32 payload length,
 * 40 send stamp (ns), 48 index, 56 reserved (0).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mw_codec.h"
#include "mw_rand.h"
#include "mw_stats.h"

#define HDR 64u
#define MAX_ELEMS (1ull << 28) /* 1 GiB of float32: refuse more */

enum { KIND_ACTIVATION = 0, KIND_GRADIENT = 1 };

struct opts {
	bool send;
	const char *addr;
	struct mw_codec_params cp;
	uint64_t n;
	uint64_t count;
	double rate;
	bool lockstep, respond;
	uint64_t warmup; /* tensors 0..warmup-1 are not timed */
	const char *stats;
};

struct lat {
	uint64_t *v;
	size_t n, cap;
	uint64_t warmup, warm, first; /* as maskwire's sink: --warmup */
	bool any;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "maskwire-bench-tcp: %s: %s\n", what,
		errno ? strerror(errno) : "failed");
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

/* The latency of tensor idx: left out of the figures in the warm-up. */
static void lat_add(struct lat *l, uint64_t idx, uint64_t x)
{
	if (!l->any) {
		l->any = true;
		l->first = x;
	}
	if (idx < l->warmup) {
		l->warm++;
		return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			die("out of memory");
	}
	l->v[l->n++] = x;
}

/* The summary maskwire's sink reports (sink.latency_ns, mw_stats.h). */
static void lat_json(FILE *f, const char *name, struct lat *l)
{
	struct mw_stats_summary s;
	char members[MW_STATS_JSON_MAX];

	fprintf(f, "\"%s\": ", name);
	if (!l->n) {
		fputs("null", f);
		return;
	}
	mw_stats_summarize(l->v, l->n, &s);
	mw_stats_json(members, sizeof(members), &s);
	fprintf(f,
		"{%s, \"warmup\": %" PRIu64 ", \"warmup_tensors\": %" PRIu64
		", \"first_ns\": %" PRIu64 "}",
		members, l->warmup, l->warm, l->first);
}

/* The data plane generator's distributions (apps/maskwire/gensink.c):
 * activations are ReLU-like with 40% zeros, gradients small and signed. */
static void fill(float *x, uint64_t n, int kind, uint64_t seed)
{
	uint64_t s = seed * 0xd1342543de82ef95ull ^ 0x9e3779b97f4a7c15ull;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t z = mw_rand64(&s);
		float u = (float)(z >> 40) * (1.0f / 16777216.0f);
		if (kind == KIND_ACTIVATION)
			x[i] = (z & 0xff) < 102 ? 0.0f : u * 6.0f;
		else
			x[i] = (u - 0.5f) * 0.02f;
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void write_all(int fd, const uint8_t *hdr, const uint8_t *pl,
		      size_t len)
{
	struct iovec iov[2] = {{(void *)hdr, HDR}, {(void *)pl, len}};
	int cnt = 2;
	struct iovec *v = iov;
	while (cnt) {
		ssize_t w = writev(fd, v, cnt);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		size_t left = (size_t)w;
		while (cnt && left >= v->iov_len) {
			left -= v->iov_len;
			v++;
			cnt--;
		}
		if (cnt) {
			v->iov_base = (uint8_t *)v->iov_base + left;
			v->iov_len -= left;
		}
	}
}

/* @return 1 read, 0 EOF before the first byte, -1 EOF after it. */
static int read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			die("read");
		if (r == 0)
			return got ? -1 : 0;
		got += (size_t)r;
	}
	return 1;
}

/* Encoding state for one direction. */
struct enc {
	struct mw_codec_params cp;
	uint64_t n;
	float *x;
	uint8_t *out;
	size_t cap;
	void *scratch;
	size_t scratch_len;
};

static void enc_init(struct enc *e, const struct mw_codec_params *cp,
		     uint64_t n, int kind)
{
	e->cp = *cp;
	e->n = n;
	int64_t sz = mw_encode_size(cp, n);
	if (sz < 0) {
		fprintf(stderr, "maskwire-bench-tcp: codec: %s\n",
			mw_strerror((int)sz));
		exit(2);
	}
	e->cap = (size_t)sz;
	e->out = xmalloc(e->cap);
	e->scratch_len = mw_encode_scratch_size(cp, n);
	e->scratch = xmalloc(e->scratch_len);
	e->x = xmalloc(n * 4);
	fill(e->x, n, kind, 1);
}

/* Encode and send one tensor. @return wire bytes. */
static uint64_t send_tensor(int fd, struct enc *e, int kind, uint64_t stamp,
			    uint64_t index)
{
	struct mw_codec_desc d;
	int64_t len = mw_encode(&e->cp, e->x, e->n, &d, e->out, e->cap,
				e->scratch, e->scratch_len);
	if (len < 0) {
		fprintf(stderr, "maskwire-bench-tcp: encode: %s\n",
			mw_strerror((int)len));
		exit(1);
	}
	uint8_t h[HDR] = {'M', 'W', 'T', 'B'};
	h[4] = d.codec;
	h[5] = d.bits;
	h[6] = d.rounding;
	h[7] = (uint8_t)kind;
	uint32_t f;
	memcpy(&f, &d.p0, 4);
	put32(h + 8, f);
	memcpy(&f, &d.p1, 4);
	put32(h + 12, f);
	put64(h + 16, d.n);
	put64(h + 24, d.k);
	put64(h + 32, (uint64_t)len);
	put64(h + 40, stamp);
	put64(h + 48, index);
	write_all(fd, h, e->out, (size_t)len);
	return HDR + (uint64_t)len;
}

/* Receive and decode one tensor into *buf (grown as needed).
 * @return wire bytes, 0 on EOF; *cut is set when the peer closed in the
 * middle of a message (a sender stopped by the benchmark's time limit). */
static uint64_t recv_tensor(int fd, uint8_t **pl, size_t *plcap, float **buf,
			    size_t *bufcap, uint64_t *stamp, uint64_t *index,
			    uint64_t *n_out, bool *cut)
{
	uint8_t h[HDR];
	int rc = read_all(fd, h, HDR);
	if (rc <= 0) {
		*cut = rc < 0;
		return 0;
	}
	errno = 0;
	if (memcmp(h, "MWTB", 4))
		die("bad message magic");
	struct mw_codec_desc d = {.codec = h[4], .bits = h[5],
				  .rounding = h[6]};
	uint32_t f = get32(h + 8);
	memcpy(&d.p0, &f, 4);
	f = get32(h + 12);
	memcpy(&d.p1, &f, 4);
	d.n = get64(h + 16);
	d.k = get64(h + 24);
	uint64_t len = get64(h + 32);
	*stamp = get64(h + 40);
	*index = get64(h + 48);
	int64_t want = mw_payload_size(&d);
	if (d.codec == MW_CODEC_RAW || d.n > MAX_ELEMS || want < 0 ||
	    (uint64_t)want != len)
		die("bad message header");
	if (len > *plcap) {
		free(*pl);
		*plcap = len;
		*pl = xmalloc(len);
	}
	if (read_all(fd, *pl, len) != 1) {
		*cut = true;
		return 0;
	}
	if (d.n * 4 > *bufcap) {
		free(*buf);
		*bufcap = d.n * 4;
		*buf = xmalloc(*bufcap);
	}
	int64_t drc = mw_seg_decode(&d, 0, d.n, *pl, len, *buf);
	if (drc < 0) {
		fprintf(stderr, "maskwire-bench-tcp: decode: %s\n",
			mw_strerror((int)drc));
		exit(1);
	}
	*n_out = d.n;
	return HDR + len;
}

static int parse_addr(const char *s, struct sockaddr_in *sa)
{
	char ip[64];
	const char *c = strrchr(s, ':');
	if (!c || (size_t)(c - s) >= sizeof ip)
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = 0;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, ip, &sa->sin_addr) == 1 ? 0 : -1;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static FILE *stats_file(const struct opts *o)
{
	if (!o->stats)
		return stdout;
	FILE *f = fopen(o->stats, "w");
	if (!f)
		die(o->stats);
	return f;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {(time_t)(t / 1000000000u),
			      (long)(t % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR)
		;
}

static int run_send(const struct opts *o)
{
	struct sockaddr_in sa;
	if (parse_addr(o->addr, &sa))
		die("--connect: not IP:PORT");
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	nodelay(fd);
	uint64_t t_conn = now_ns();
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		/* The receiver may still be starting. */
		if ((errno != ECONNREFUSED && errno != ENOENT) ||
		    now_ns() - t_conn > 10000000000ull)
			die("connect");
		close(fd);
		usleep(20000);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
			die("socket");
		nodelay(fd);
	}
	struct enc e;
	enc_init(&e, &o->cp, o->n, KIND_ACTIVATION);
	struct lat step = {.warmup = o->warmup};
	uint8_t *pl = NULL;
	float *rbuf = NULL;
	size_t plcap = 0, rcap = 0;
	uint64_t wire_tx = 0, wire_rx = 0;
	uint64_t t0 = now_ns(), gap = o->rate > 0 ? (uint64_t)(1e9 / o->rate) : 0;
	for (uint64_t i = 0; i < o->count; i++) {
		if (gap)
			sleep_until(t0 + i * gap);
		uint64_t stamp = now_ns();
		wire_tx += send_tensor(fd, &e, KIND_ACTIVATION, stamp, i);
		if (o->lockstep) {
			uint64_t st, idx, n;
			bool cut = false;
			uint64_t w = recv_tensor(fd, &pl, &plcap, &rbuf, &rcap,
						 &st, &idx, &n, &cut);
			errno = 0;
			if (!w || idx != i || st != stamp)
				die("response missing or out of order");
			wire_rx += w;
			lat_add(&step, i, now_ns() - stamp);
		}
	}
	shutdown(fd, SHUT_WR);
	/* Wait for the receiver to close: everything was taken. */
	uint8_t b;
	while (read(fd, &b, 1) > 0)
		;
	uint64_t t1 = now_ns();
	close(fd);
	FILE *f = stats_file(o);
	fprintf(f,
		"{\"role\": \"send\", \"codec\": \"%s\", \"elements\": %" PRIu64
		", \"count\": %" PRIu64 ", \"rate\": %g, \"lockstep\": %s, "
		"\"elapsed_s\": %.6f, \"wire_tx_bytes\": %" PRIu64
		", \"wire_rx_bytes\": %" PRIu64 ", ",
		mw_codec_name(o->cp.codec), o->n, o->count, o->rate,
		o->lockstep ? "true" : "false", (double)(t1 - t0) / 1e9,
		wire_tx, wire_rx);
	lat_json(f, "step_ns", &step);
	fputs("}\n", f);
	if (f != stdout)
		fclose(f);
	return 0;
}

static int run_recv(const struct opts *o)
{
	struct sockaddr_in sa;
	if (parse_addr(o->addr, &sa))
		die("--listen: not IP:PORT");
	int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	if (ls < 0)
		die("socket");
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) || listen(ls, 1))
		die("bind/listen");
	int fd = accept(ls, NULL, NULL);
	if (fd < 0)
		die("accept");
	close(ls);
	nodelay(fd);
	struct lat lat = {.warmup = o->warmup};
	uint8_t *pl = NULL;
	float *buf = NULL;
	size_t plcap = 0, bufcap = 0;
	struct enc e = {0};
	uint64_t count = 0, dense = 0, wire_rx = 0, wire_tx = 0;
	uint64_t first_sent = 0, last_rx = 0;
	uint64_t aw_n = 0, aw_start = 0; /* after the warm-up: tensors, and
					    the last warm-up delivery */
	bool cut = false;
	for (;;) {
		uint64_t stamp, idx, n;
		uint64_t w = recv_tensor(fd, &pl, &plcap, &buf, &bufcap, &stamp,
					 &idx, &n, &cut);
		if (!w)
			break;
		last_rx = now_ns();
		if (!count)
			first_sent = stamp;
		lat_add(&lat, idx, last_rx - stamp);
		if (idx < o->warmup)
			aw_start = last_rx;
		else
			aw_n++;
		count++;
		dense += n * 4;
		wire_rx += w;
		if (o->respond) {
			if (!e.x || e.n != n)
				enc_init(&e, &o->cp, n, KIND_GRADIENT);
			wire_tx += send_tensor(fd, &e, KIND_GRADIENT, stamp, idx);
		}
	}
	close(fd);
	double span = last_rx > first_sent ? (double)(last_rx - first_sent) / 1e9
					   : 0;
	FILE *f = stats_file(o);
	fprintf(f,
		"{\"role\": \"recv\", \"respond\": %s, \"cut\": %s, "
		"\"count\": %" PRIu64
		", \"dense_bytes\": %" PRIu64 ", \"wire_rx_bytes\": %" PRIu64
		", \"wire_tx_bytes\": %" PRIu64 ", \"span_s\": %.6f, "
		"\"tensors_per_s\": %.3f, \"dense_gbit_s\": %.4f, "
		"\"wire_gbit_s\": %.4f, \"after_warmup_tensors\": %" PRIu64
		", \"after_warmup_span_s\": %.6f, ",
		o->respond ? "true" : "false", cut ? "true" : "false", count,
		dense, wire_rx, wire_tx,
		span, span > 0 ? (double)count / span : 0,
		span > 0 ? (double)dense * 8 / span / 1e9 : 0,
		span > 0 ? (double)wire_rx * 8 / span / 1e9 : 0, aw_n,
		aw_n && aw_start ? (double)(last_rx - aw_start) / 1e9 : 0);
	lat_json(f, "latency_ns", &lat);
	fputs("}\n", f);
	if (f != stdout)
		fclose(f);
	return 0;
}

static void usage(void)
{
	fputs("usage: maskwire-bench-tcp recv --listen IP:PORT [--respond "
	      "--codec C --ratio R --bits B] [--warmup N] [--stats FILE]\n"
	      "       maskwire-bench-tcp send --connect IP:PORT --shape A,B,.. "
	      "--codec C [--ratio R] [--bits B] --count N [--rate R] "
	      "[--lockstep] [--warmup N] [--stats FILE]\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = {.cp = {.codec = MW_CODEC_MS, .bits = 2, .ratio = 0.99},
			 .n = 0, .count = 1};
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "send") == 0)
		o.send = true;
	else if (strcmp(argv[1], "recv") != 0)
		usage();
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--lockstep")) {
			o.lockstep = true;
			continue;
		}
		if (!strcmp(a, "--respond")) {
			o.respond = true;
			continue;
		}
		if (!v)
			usage();
		i++;
		if (!strcmp(a, "--listen") || !strcmp(a, "--connect")) {
			o.addr = v;
		} else if (!strcmp(a, "--codec")) {
			int c = mw_codec_from_name(v);
			if (c < 0 || c == MW_CODEC_RAW)
				usage();
			o.cp.codec = (enum mw_codec)c;
		} else if (!strcmp(a, "--ratio")) {
			o.cp.ratio = atof(v);
		} else if (!strcmp(a, "--bits")) {
			o.cp.bits = (unsigned)atoi(v);
		} else if (!strcmp(a, "--count")) {
			o.count = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--rate")) {
			o.rate = atof(v);
		} else if (!strcmp(a, "--stats")) {
			o.stats = v;
		} else if (!strcmp(a, "--warmup")) {
			o.warmup = strtoull(v, NULL, 0);
		} else if (!strcmp(a, "--shape")) {
			char *dup = strdup(v), *save = NULL;
			o.n = 1;
			for (char *t = strtok_r(dup, ",x", &save); t;
			     t = strtok_r(NULL, ",x", &save))
				o.n *= strtoull(t, NULL, 0);
			free(dup);
		} else {
			usage();
		}
	}
	if (o.cp.codec == MW_CODEC_DENSE || o.cp.codec == MW_CODEC_TOPK)
		o.cp.bits = 0;
	if (!o.addr || mw_codec_params_check(&o.cp) ||
	    (o.send && (o.n == 0 || o.n > MAX_ELEMS)))
		usage();
	return o.send ? run_send(&o) : run_recv(&o);
}
