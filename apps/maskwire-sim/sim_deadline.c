/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sim_deadline.c - maskwire-sim's checks of deadline delivery
 * (PROTOCOL.md 9.1). The simulator records, per receiving endpoint and
 * tensor id, which elements arrived in a DATA packet the endpoint
 * accepted and when the first one did; each delivered tensor is then
 * checked against that record: a partial tensor's loss map must be
 * exactly the elements that never arrived (merged ranges), those must be
 * zero and the rest bit-exact, and the tensor must come by its deadline
 * unless it waited for its predecessor (in-order delivery: it then comes
 * at the instant the predecessor does; allowed and counted).
 */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define DL_TIDS 4096u

struct dl_tensor {
	uint64_t first_ns;   /* first accepted segment; 0: none yet */
	uint64_t dlv_ns;     /* when it was delivered (all codecs) */
	uint64_t n;
	uint8_t *got;        /* per element */
	struct mw_codec_desc desc; /* from its full DATA, for compact ones */
	uint32_t seg_cnt;
};

struct sim_dl {
	struct dl_tensor t[2][DL_TIDS];
	struct sim_dl_stats st;
};

struct sim_dl *sim_dl_new(void)
{
	return calloc(1, sizeof(struct sim_dl));
}

void sim_dl_free(struct sim_dl *dl)
{
	unsigned k, i;

	if (!dl)
		return;
	for (k = 0; k < 2; k++)
		for (i = 0; i < DL_TIDS; i++)
			free(dl->t[k][i].got);
	free(dl);
}

const struct sim_dl_stats *sim_dl_stats(const struct sim_dl *dl)
{
	return &dl->st;
}

void sim_dl_on_packet(struct sim_dl *dl, int node, const uint8_t *pkt,
		      size_t len, int rc, uint64_t now)
{
	struct mw_data d;
	struct dl_tensor *t;

	/* Secure mode: an integrity-mode body is readable before its trailer
	 * (PROTOCOL.md 12.5); an encrypted one is not (run --sec integrity). */
	if (len >= MW_WIRE_HDR_LEN + MW_SEC_TRAILER_LEN &&
	    pkt[MW_OFF_VERSION] == MW_WIRE_VERSION_SEC)
		len -= MW_SEC_TRAILER_LEN;
	if (rc == 0 && mw_wire_is_cdata(pkt, len)) {
		/* compact (5.6): the endpoint accepted it, so its tensor's
		 * full DATA came first; its range under that descriptor */
		struct mw_cdata c;

		if (mw_wire_parse_cdata(pkt, len, NULL, NULL, &c) < 0 ||
		    c.tid16 >= DL_TIDS)
			return;
		t = &dl->t[node][c.tid16];
		if (!t->got || mw_wire_cdata_seg(&c, &t->desc, t->seg_cnt,
						 &d.seg) < 0)
			return;
		memset(t->got + d.seg.elem_off, 1, d.seg.elem_cnt);
		return;
	}
	if (rc != 0 || len < MW_WIRE_HDR_LEN || pkt[3] != MW_PT_DATA ||
	    mw_wire_parse_data(pkt, len, &d) < 0 || d.tid >= DL_TIDS ||
	    d.desc.codec == MW_CODEC_RAW)
		return;
	t = &dl->t[node][d.tid];
	if (!t->got) {
		t->got = calloc(d.desc.n ? d.desc.n : 1, 1);
		if (!t->got)
			return;
		t->n = d.desc.n;
		t->first_ns = now;
		t->desc = d.desc;
		t->seg_cnt = d.seg_cnt;
	}
	if (d.seg.elem_off + d.seg.elem_cnt <= t->n)
		memset(t->got + d.seg.elem_off, 1, d.seg.elem_cnt);
}

void sim_dl_on_delivery(struct sim_dl *dl, int node, uint64_t tid,
			uint64_t now)
{
	if (tid < DL_TIDS)
		dl->t[node][tid].dlv_ns = now;
}

/* Is the loss map exactly the elements that did not arrive? */
static int loss_map_exact(const struct dl_tensor *t, const struct mw_event *ev)
{
	uint64_t i = 0, lost = 0;
	uint32_t r = 0;

	while (i < t->n) {
		uint64_t j = i;

		if (t->got[i]) {
			i++;
			continue;
		}
		while (j < t->n && !t->got[j])
			j++;
		if (r >= ev->loss_cnt || ev->loss[r].off != i ||
		    ev->loss[r].cnt != j - i)
			return 0;
		lost += j - i;
		r++;
		i = j;
	}
	return r == ev->loss_cnt && lost == ev->elems_lost;
}

int sim_dl_check(struct sim_dl *dl, int node, const struct mw_event *ev,
		 const void *ref, uint64_t deadline_ns, uint64_t now)
{
	uint32_t tid = (uint32_t)ev->handle;
	const struct dl_tensor *t;
	const float *x = ev->buf, *y = ref;
	uint64_t i;
	int ok = 1;

	if (ev->desc.codec == MW_CODEC_RAW || tid >= DL_TIDS)
		return !ev->partial &&
		       memcmp(ev->buf, ref, (size_t)ev->bytes) == 0;
	t = &dl->t[node][tid];
	if (!t->got || t->n != ev->desc.n) {
		dl->st.lossmap_err++;
		return 0;
	}
	if (ev->partial) {
		dl->st.partial++;
		if (!loss_map_exact(t, ev)) {
			dl->st.lossmap_err++;
			ok = 0;
		}
	} else if (ev->loss || ev->loss_cnt || memchr(t->got, 0, t->n)) {
		dl->st.lossmap_err++; /* whole, yet something never came */
		ok = 0;
	}
	/* received part bit-exact, the rest zero */
	for (i = 0; i < t->n && ok; i++) {
		float z = 0.0f;

		if (memcmp(&x[i], t->got[i] ? &y[i] : &z, 4) != 0)
			ok = 0;
	}
	if (deadline_ns && now > t->first_ns + deadline_ns) {
		/* late: only behind its predecessor, delivered just now */
		if (tid > 0 && dl->t[node][tid - 1].dlv_ns == now)
			dl->st.late_excused++;
		else
			dl->st.deadline_miss++;
	}
	return ok;
}
