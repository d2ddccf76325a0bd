/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mw_dp_enc.c - encode workers: when EAL gives the data plane more than
 * one lcore, the others encode tensors while the main lcore only polls.
 * The endpoint stays single-threaded: the main lcore takes deferred
 * encodes from it (mw_ep_encode_take), puts them on a ring the workers
 * pull from, and hands what comes back on a second ring to the endpoint
 * (mw_ep_encode_done). A worker runs mw_encode() alone, with a scratch of
 * its own; the job's buffers stay in use until it comes back, and the
 * endpoint is not freed before every job has (mw_dp_enc_stop).
 */
#include "dp_enc.h"

#include <stdatomic.h>

#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_pause.h>
#include <rte_ring.h>

#define JOBS_PER_WORKER 2u

struct enc_job {
	struct mw_enc_job j;
	int64_t result;
	struct mw_codec_desc desc;
};

struct enc_worker {
	struct mw_dp_enc *e;
	unsigned lcore;
	void *scratch;
	size_t scratch_len;
	uint64_t jobs;
};

struct mw_dp_enc {
	struct rte_ring *todo, *done;
	struct enc_job *pool;      /* njobs jobs */
	struct enc_job **free_;    /* stack of unused jobs */
	unsigned nfree, njobs, nworkers, out;
	atomic_int stop;
	bool yield;                /* --idle-yield: shared cores */
	struct enc_worker w[RTE_MAX_LCORE];
	uint64_t taken, returned;
};

static int64_t run_job(struct enc_worker *w, struct enc_job *job)
{
	size_t need = mw_encode_scratch_size(&job->j.cp, job->j.n);

	if (need > w->scratch_len) {
		free(w->scratch);
		w->scratch = malloc(need);
		w->scratch_len = w->scratch ? need : 0;
		if (!w->scratch)
			return MW_ENOMEM;
	}
	return mw_encode(&job->j.cp, job->j.data, job->j.n, &job->desc,
			 job->j.out, job->j.cap, w->scratch, w->scratch_len);
}

static int worker_main(void *arg)
{
	struct enc_worker *w = arg;
	struct mw_dp_enc *e = w->e;

	while (!atomic_load_explicit(&e->stop, memory_order_acquire)) {
		void *obj;

		if (rte_ring_dequeue(e->todo, &obj) != 0) {
			if (e->yield)
				sched_yield();
			else
				rte_pause();
			continue;
		}
		struct enc_job *job = obj;
		job->result = run_job(w, job);
		w->jobs++;
		/* the ring has room for every job: this cannot fail */
		while (rte_ring_enqueue(e->done, job) != 0)
			rte_pause();
	}
	return 0;
}

int mw_dp_enc_start(struct mw_dp_enc **out, bool yield, char *err,
		    size_t errlen)
{
	unsigned n = rte_lcore_count() - 1, i = 0, lc;
	char name[RTE_RING_NAMESIZE];

	*out = NULL;
	if (n == 0)
		return 0;
	struct mw_dp_enc *e = calloc(1, sizeof(*e));
	if (!e)
		return MW_ENOMEM;
	e->nworkers = n;
	e->njobs = n * JOBS_PER_WORKER;
	e->yield = yield;
	e->pool = calloc(e->njobs, sizeof(*e->pool));
	e->free_ = calloc(e->njobs, sizeof(*e->free_));
	snprintf(name, sizeof name, "mw_enc_todo_%d", getpid());
	e->todo = rte_ring_create(name, rte_align32pow2(e->njobs + 1),
				  SOCKET_ID_ANY, RING_F_SP_ENQ);
	snprintf(name, sizeof name, "mw_enc_done_%d", getpid());
	e->done = rte_ring_create(name, rte_align32pow2(e->njobs + 1),
				  SOCKET_ID_ANY, RING_F_SC_DEQ);
	if (!e->pool || !e->free_ || !e->todo || !e->done) {
		snprintf(err, errlen, "encode workers: no memory for rings");
		mw_dp_enc_stop(e, NULL, 0);
		return MW_ENOMEM;
	}
	for (unsigned k = 0; k < e->njobs; k++)
		e->free_[e->nfree++] = &e->pool[k];
	RTE_LCORE_FOREACH_WORKER(lc) {
		struct enc_worker *w = &e->w[i++];

		w->e = e;
		w->lcore = lc;
		if (rte_eal_remote_launch(worker_main, w, lc) != 0) {
			snprintf(err, errlen,
				 "encode workers: lcore %u is busy", lc);
			mw_dp_enc_stop(e, NULL, 0);
			return MW_EINVAL;
		}
	}
	*out = e;
	return 0;
}

void mw_dp_enc_poll(struct mw_dp_enc *e, struct mw_ep *ep, uint64_t now)
{
	void *objs[64];
	unsigned n;

	/* what came back first: it frees jobs for what waits */
	while ((n = rte_ring_dequeue_burst(e->done, objs, 64, NULL)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			struct enc_job *job = objs[i];

			mw_ep_encode_done(ep, job->j.handle, job->result,
					  &job->desc, now);
			e->free_[e->nfree++] = job;
			e->out--;
			e->returned++;
		}
	}
	while (e->nfree && !atomic_load(&e->stop)) {
		struct enc_job *job = e->free_[e->nfree - 1];
		int rc = mw_ep_encode_take(ep, &job->j);

		if (rc <= 0)
			break; /* none waiting (or that one failed: next turn) */
		e->nfree--;
		e->out++;
		e->taken++;
		rte_ring_enqueue(e->todo, job); /* room for every job */
	}
}

unsigned mw_dp_enc_out(const struct mw_dp_enc *e)
{
	return e ? e->out : 0;
}

void mw_dp_enc_stop(struct mw_dp_enc *e, struct mw_ep *ep, uint64_t now)
{
	if (!e)
		return;
	/* no new jobs; every job out comes back before the endpoint goes */
	atomic_store(&e->stop, 2);
	while (ep && e->out) {
		void *obj;

		if (rte_ring_dequeue(e->done, &obj) != 0) {
			/* workers finish the job they hold, then stop; one
			 * still queued is run here */
			if (rte_ring_dequeue(e->todo, &obj) != 0) {
				rte_pause();
				continue;
			}
			struct enc_job *job = obj;
			struct enc_worker self = {.e = e};
			job->result = run_job(&self, job);
			free(self.scratch);
		}
		struct enc_job *job = obj;
		mw_ep_encode_done(ep, job->j.handle, job->result, &job->desc,
				  now);
		e->out--;
		e->returned++;
	}
	rte_eal_mp_wait_lcore();
	for (unsigned i = 0; i < e->nworkers; i++)
		free(e->w[i].scratch);
	rte_ring_free(e->todo);
	rte_ring_free(e->done);
	free(e->pool);
	free(e->free_);
	free(e);
}

void mw_dp_enc_json(const struct mw_dp_enc *e, FILE *f)
{
	fprintf(f, "\"encode_workers\": {\"lcores\": [");
	for (unsigned i = 0; e && i < e->nworkers; i++)
		fprintf(f, "%s%u", i ? ", " : "", e->w[i].lcore);
	fprintf(f, "], \"jobs\": [");
	for (unsigned i = 0; e && i < e->nworkers; i++)
		fprintf(f, "%s%" PRIu64, i ? ", " : "", e->w[i].jobs);
	fprintf(f, "], \"taken\": %" PRIu64 ", \"returned\": %" PRIu64 "}",
		e ? e->taken : 0, e ? e->returned : 0);
}
