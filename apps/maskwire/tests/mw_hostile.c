/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A hostile client of the shared-memory channel, for test_shm_hostile.py.
 * It speaks the protocol through libmaskwire but breaks the rules of
 * docs/SHM.md that no library can enforce:
 *
 *   mw-hostile race NAME COUNT
 *       COUNT sends of a 256 KiB float32 tensor, codecs MS, top-k and
 *       dense in turn, while a second thread rewrites the buffer in a
 *       tight loop from before mw_client_send() until the outcome arrives (the
 *       data plane encodes it meanwhile). Each send must get an outcome:
 *       done, or failed with a reason. Prints
 *       "race: N sent, ok A, failed F (changed C, other O)" and exits 0,
 *       or 1 if a send got no outcome (the data plane died or hung).
 *   mw-hostile truncate NAME BYTES
 *       attach, print "attached", wait for a line on stdin, shrink the
 *       region's file to BYTES, print "truncated" and sleep until killed
 *       (touching the mapping now would kill us).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maskwire.h"

#define N (64u * 1024u) /* floats per tensor */
#define WAIT_MS 60000

static _Atomic(float *) target; /* the buffer being sent, or NULL */
static atomic_int stop;

/* Rewrite whatever buffer is being sent, with patterns that change what
 * an encoder decides (how many values pass a threshold, where the top-k
 * are, whether everything is finite) between any two of its passes. */
static void *rewrite(void *arg)
{
	unsigned phase = 0, j;

	(void)arg;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		float *p = atomic_load_explicit(&target, memory_order_acquire);
		volatile float *v = p;

		if (!p)
			continue;
		switch (phase++ % 4) {
		case 0:
			for (j = 0; j < N; j++)
				v[j] = 0.0f;
			break;
		case 1:
			for (j = 0; j < N; j++)
				v[j] = (float)(j + 1);
			break;
		case 2:
			for (j = 0; j < N; j++)
				v[j] = j & 1 ? -3e38f : 3e38f;
			break;
		default:
			for (j = 0; j < N; j += 97)
				v[j] = j % 2 ? NAN : 1.0f;
			break;
		}
	}
	return NULL;
}

static int race(struct mw_client *c, unsigned count)
{
	unsigned ok = 0, changed = 0, other = 0, i, j;
	pthread_t t;
	int rc = 0;

	if (pthread_create(&t, NULL, rewrite, NULL) != 0)
		return 1;
	for (i = 0; i < count; i++) {
		struct mw_client_meta m;
		struct mw_client_buf b;
		int64_t cookie;
		int st;

		memset(&m, 0, sizeof(m));
		m.tag = 9000 + i;
		m.ndim = 1;
		m.dims[0] = N;
		m.dtype = 0; /* float32 */
		m.kind = 0;  /* activation */
		switch (i % 3) {
		case 0:
			m.codec = 1; /* MS */
			m.bits = 2;
			m.ratio = 0.99;
			break;
		case 1:
			m.codec = 3; /* top-k */
			m.k = N / 100;
			break;
		default:
			m.codec = 0; /* dense */
			break;
		}
		rc = mw_client_alloc(c, N * sizeof(float), WAIT_MS, &b);
		if (rc < 0) {
			fprintf(stderr, "race: alloc %u: %s\n", i,
				mw_strerror(rc));
			break;
		}
		for (j = 0; j < N; j++)
			((float *)b.data)[j] = (float)(j * 7919u % 1000u);
		atomic_store_explicit(&target, (float *)b.data,
				      memory_order_release);
		cookie = mw_client_send(c, &b, &m, WAIT_MS);
		if (cookie < 0) {
			rc = (int)cookie;
			fprintf(stderr, "race: send %u: %s\n", i,
				mw_strerror(rc));
			break;
		}
		rc = mw_client_wait(c, cookie, WAIT_MS, &st);
		atomic_store_explicit(&target, NULL, memory_order_release);
		if (rc < 0) {
			fprintf(stderr, "race: no outcome for send %u: %s\n", i,
				mw_strerror(rc));
			break;
		}
		if (st == 0)
			ok++;
		else if (st == MW_ECHANGED)
			changed++;
		else
			other++;
		if (st && st != MW_ECHANGED && other <= 3)
			fprintf(stderr, "race: send %u failed: %s\n", i,
				mw_strerror(st));
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("race: %u sent, ok %u, failed %u (changed %u, other %u)\n", i,
	       ok, changed + other, changed, other);
	fflush(stdout);
	return rc < 0 ? 1 : 0;
}

static int truncate_region(const char *name, long long bytes)
{
	char path[512], line[16];

	if (strchr(name + 1, '/'))
		snprintf(path, sizeof(path), "%s", name);
	else
		snprintf(path, sizeof(path), "/dev/shm/%s",
			 name[0] == '/' ? name + 1 : name);
	printf("attached\n");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return 1;
	if (truncate(path, (off_t)bytes) != 0) {
		fprintf(stderr, "truncate %s: %s\n", path, strerror(errno));
		return 1;
	}
	printf("truncated\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	struct mw_client_opts o;
	struct mw_client *c;
	int rc;

	if (argc != 4 ||
	    (strcmp(argv[1], "race") && strcmp(argv[1], "truncate"))) {
		fprintf(stderr, "usage: mw-hostile race NAME COUNT | "
				"truncate NAME BYTES\n");
		return 2;
	}
	mw_client_opts_default(&o);
	o.timeout_ms = 30000;
	rc = mw_client_attach(argv[2], &o, &c);
	if (rc < 0) {
		fprintf(stderr, "attach %s: %s\n", argv[2], mw_strerror(rc));
		return 1;
	}
	if (!strcmp(argv[1], "truncate"))
		return truncate_region(argv[2], atoll(argv[3]));
	rc = race(c, (unsigned)atoi(argv[3]));
	mw_client_detach(c);
	return rc;
}
