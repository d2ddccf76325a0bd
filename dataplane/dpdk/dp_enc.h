/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * dp_enc.h - encode workers on the lcores beyond the main one
 * (mw_dp_enc.c). Not installed.
 */
#ifndef MW_DP_ENC_H
#define MW_DP_ENC_H

#include <inttypes.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mw_transport.h"

struct mw_dp_enc;

/**
 * Launch a worker on every lcore EAL gave besides the main one.
 * @param out    the workers, or NULL when there is no other lcore.
 * @param yield  workers yield the CPU when idle (shared cores).
 * @return 0, MW_ENOMEM or MW_EINVAL with a message in err.
 */
int mw_dp_enc_start(struct mw_dp_enc **out, bool yield, char *err,
		    size_t errlen);

/** On the main lcore, each loop turn: jobs back to the endpoint, new
 *  jobs from it to the workers. */
void mw_dp_enc_poll(struct mw_dp_enc *e, struct mw_ep *ep, uint64_t now);

/** Jobs out (taken, not back). */
unsigned mw_dp_enc_out(const struct mw_dp_enc *e);

/** Stop: no new jobs; every job out comes back to ep (may be NULL only
 *  when none was ever taken); workers end; everything is freed. */
void mw_dp_enc_stop(struct mw_dp_enc *e, struct mw_ep *ep, uint64_t now);

/** The JSON object's members: lcores, jobs per worker. */
void mw_dp_enc_json(const struct mw_dp_enc *e, FILE *f);

#endif /* MW_DP_ENC_H */
