/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Unit tests for mw_loop.c in virtual time, with a fake source on real
 * transport endpoints: the phases and their end reasons, what each step
 * runs (timers, events, poll), "next time due", the close sequence.
 */
#include "mw_loop.h"

#include <string.h>

#include "mw_test.h"

#define MS 1000000ull
#define T0 (1000 * MS) /* the clocks start at 1 s */

/* ---- a fake source ------------------------------------------------------ */

struct fake {
	unsigned polls;
	int poll_rc;     /* poll()'s result (when it submits nothing) */
	unsigned submit; /* tensors to submit at the next poll */
	bool done, busy;
	unsigned events, hooked;
	bool hook_first; /* the hook saw each event before the source */
	uint8_t last_type;
	int32_t last_reason;
	unsigned rx_tensors;
};

static int f_poll(void *ctx, struct mw_ep *ep, const uint16_t *peers,
		  unsigned npeers, uint64_t now)
{
	struct fake *f = ctx;
	struct mw_tensor_meta m = { .dtype = MW_DT_U8,
				    .ndim = 1,
				    .dims = { 64 } };
	struct mw_codec_params cp = { .codec = MW_CODEC_RAW };
	uint8_t data[64];
	int n = 0;

	f->polls++;
	memset(data, 0x5a, sizeof data);
	while (f->submit && npeers) {
		m.tag = f->polls;
		CHECK(mw_ep_submit(ep, peers[0], &m, &cp, data, sizeof data, 0,
				   now, NULL) == 0);
		f->submit--;
		n++;
	}
	return n ? n : f->poll_rc;
}

static void f_event(void *ctx, struct mw_ep *ep, const struct mw_event *ev,
		    uint64_t now)
{
	struct fake *f = ctx;
	struct mw_event e = *ev;
	(void)now;
	f->events++;
	if (f->hooked != f->events)
		f->hook_first = false;
	f->last_type = ev->type;
	f->last_reason = ev->reason;
	if (ev->type == MW_EV_RX_TENSOR)
		f->rx_tensors++;
	mw_ep_release(ep, &e);
}

static bool f_done(void *ctx)
{
	return ((struct fake *)ctx)->done;
}

static bool f_busy(void *ctx)
{
	return ((struct fake *)ctx)->busy;
}

static void hook(void *ctx, const struct mw_event *ev, uint64_t now)
{
	struct fake *f = ctx;
	(void)ev;
	(void)now;
	f->hooked++;
}

static void fake_source(struct fake *f, struct mw_source *s)
{
	memset(f, 0, sizeof(*f));
	f->hook_first = true;
	memset(s, 0, sizeof(*s));
	s->name = "fake";
	s->ctx = f;
	s->poll = f_poll;
	s->event = f_event;
	s->done = f_done;
	s->busy = f_busy;
}

/* ---- endpoints ---------------------------------------------------------- */

static const uint16_t peer0[1] = { 0 };

static struct mw_ep *new_ep(uint32_t inc)
{
	struct mw_ep_config c;
	struct mw_ep *ep = NULL;
	mw_ep_config_default(&c);
	c.max_peers = 1;
	c.incarnation = inc;
	CHECK(mw_ep_new(&c, &ep) == 0);
	CHECK(mw_ep_add_peer(ep) == 0);
	return ep;
}

static void loop_cfg(struct mw_loop_cfg *c, struct mw_ep *ep,
		     struct mw_source *s, struct fake *f)
{
	memset(c, 0, sizeof(*c));
	c->ep = ep;
	c->src = s;
	c->peers = peer0;
	c->npeers = 1;
	c->linger_ns = 100 * MS;
	c->drain_ns = 50 * MS;
	c->on_event = hook;
	c->on_event_ctx = f;
}

/* Everything one endpoint has goes to the other's loop; the count. */
static unsigned pump(struct mw_ep *from, struct mw_loop *to, uint64_t now)
{
	uint8_t buf[2048];
	uint16_t peer;
	unsigned k = 0;
	int n;
	while ((n = mw_ep_send(from, now, buf, sizeof buf, &peer)) > 0) {
		mw_loop_recv(to, 0, buf, (size_t)n, now);
		k++;
	}
	return k;
}

/* Datagrams an endpoint has to send, discarded; the count. */
static unsigned discard(struct mw_ep *ep, uint64_t now, unsigned *closes)
{
	uint8_t buf[2048];
	uint16_t peer;
	unsigned k = 0;
	int n;
	while ((n = mw_ep_send(ep, now, buf, sizeof buf, &peer)) > 0) {
		if (closes && buf[MW_OFF_TYPE] == MW_PT_CLOSE)
			++*closes;
		k++;
	}
	return k;
}

/* ---- tests -------------------------------------------------------------- */

/* RUN polls once per step; a stop request drains, then closes. */
static void test_signal(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);
	uint64_t t = T0;

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_phase(&lp) == MW_LOOP_RUN);
	CHECK(mw_loop_next(&lp) == UINT64_MAX); /* nothing armed */
	for (int i = 0; i < 5; i++)
		CHECK(mw_loop_step(&lp, t += MS, 0) == MW_LOOP_RUN);
	CHECK(f.polls == 5);
	/* the stop: no poll in that step, DRAIN; nothing busy: CLOSE */
	CHECK(mw_loop_step(&lp, t += MS, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_SIGNAL);
	CHECK(f.polls == 5);
	CHECK(mw_loop_next(&lp) == 0); /* due now: nothing busy */
	CHECK(mw_loop_step(&lp, t, 1) == MW_LOOP_CLOSE);
	CHECK(f.polls == 5);
	CHECK(mw_loop_next(&lp) == 0);
	/* CLOSE stays until the caller closes */
	CHECK(mw_loop_step(&lp, t += MS, 1) == MW_LOOP_CLOSE);
	mw_loop_close(&lp, t);
	CHECK(mw_loop_phase(&lp) == MW_LOOP_CLOSED);
	CHECK(mw_loop_step(&lp, t += MS, 2) == MW_LOOP_CLOSED);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_SIGNAL);
	CHECK(f.polls == 5);
	mw_ep_free(ep);
}

/* DRAIN waits for busy work up to drain_ns; a second stop cuts it. */
static void test_drain(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);
	uint64_t t = T0;

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	/* the source's busy() */
	mw_loop_init(&lp, &c, t);
	f.busy = true;
	CHECK(mw_loop_busy(&lp));
	CHECK(mw_loop_step(&lp, t, 1) == MW_LOOP_DRAIN);
	uint64_t deadline = t + c.drain_ns;
	CHECK(mw_loop_next(&lp) == deadline);
	CHECK(mw_loop_step(&lp, deadline - 1, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_step(&lp, deadline, 1) == MW_LOOP_CLOSE);
	CHECK(f.polls == 0);

	/* busy, then done before the deadline */
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_step(&lp, t, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_step(&lp, t + MS, 1) == MW_LOOP_DRAIN);
	f.busy = false;
	CHECK(mw_loop_next(&lp) == 0);
	CHECK(mw_loop_step(&lp, t + 2 * MS, 1) == MW_LOOP_CLOSE);

	/* a second stop request skips the drain */
	f.busy = true;
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_step(&lp, t, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_step(&lp, t + MS, 2) == MW_LOOP_CLOSE);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_SIGNAL);

	/* a tensor pending to a peer is busy work too */
	f.busy = false;
	f.submit = 1;
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_step(&lp, t, 0) == MW_LOOP_RUN);
	CHECK(f.polls == 1 && f.submit == 0);
	CHECK(mw_loop_busy(&lp));
	CHECK(mw_loop_step(&lp, t + MS, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_step(&lp, t + 2 * MS, 1) == MW_LOOP_DRAIN);
	mw_ep_free(ep);
}

/* duration_ns and idle_exit_ns end RUN exactly on time. */
static void test_limits(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);
	uint64_t t = T0;

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	c.duration_ns = 30 * MS;
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_next(&lp) == t + 30 * MS);
	CHECK(mw_loop_step(&lp, t + 30 * MS - 1, 0) == MW_LOOP_RUN);
	CHECK(mw_loop_step(&lp, t + 30 * MS, 0) == MW_LOOP_DRAIN);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_DURATION);
	CHECK(f.polls == 1);

	/* idle exit: never before the first reception */
	c.duration_ns = 0;
	c.idle_exit_ns = 10 * MS;
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_next(&lp) == UINT64_MAX);
	CHECK(mw_loop_step(&lp, t + 1000 * MS, 0) == MW_LOOP_RUN);
	mw_loop_mark_rx(&lp, t + 1000 * MS);
	CHECK(mw_loop_last_rx(&lp) == t + 1000 * MS);
	CHECK(mw_loop_next(&lp) == t + 1010 * MS);
	CHECK(mw_loop_step(&lp, t + 1005 * MS, 0) == MW_LOOP_RUN);
	mw_loop_mark_rx(&lp, t + 1005 * MS); /* anything received restarts it */
	CHECK(mw_loop_step(&lp, t + 1010 * MS, 0) == MW_LOOP_RUN);
	CHECK(mw_loop_step(&lp, t + 1015 * MS, 0) == MW_LOOP_DRAIN);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_IDLE);

	/* both armed: the earlier one is next; a stop request wins */
	c.duration_ns = 5 * MS;
	mw_loop_init(&lp, &c, t);
	mw_loop_mark_rx(&lp, t);
	CHECK(mw_loop_next(&lp) == t + 5 * MS);
	CHECK(mw_loop_step(&lp, t + 20 * MS, 1) == MW_LOOP_DRAIN);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_SIGNAL);
	mw_ep_free(ep);
}

/* A done source lingers while the link is busy, then closes. */
static void test_linger(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);
	uint64_t t = T0;

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_step(&lp, t, 0) == MW_LOOP_RUN);
	f.done = true;
	CHECK(mw_loop_step(&lp, t += MS, 0) == MW_LOOP_LINGER);
	CHECK(f.polls == 1);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_DONE);
	/* linger_ns after the last reception (the start counts as one) */
	CHECK(mw_loop_next(&lp) == T0 + 100 * MS);
	mw_loop_mark_rx(&lp, T0 + 60 * MS);
	CHECK(mw_loop_next(&lp) == T0 + 160 * MS);
	CHECK(mw_loop_step(&lp, T0 + 159 * MS, 0) == MW_LOOP_LINGER);
	CHECK(mw_loop_step(&lp, T0 + 160 * MS, 0) == MW_LOOP_CLOSE);
	CHECK(f.polls == 1);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_DONE);

	/* a stop request ends the linger at once */
	mw_loop_init(&lp, &c, t);
	CHECK(mw_loop_step(&lp, t, 0) == MW_LOOP_LINGER);
	CHECK(mw_loop_step(&lp, t + 1, 1) == MW_LOOP_CLOSE);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_DONE);
	mw_ep_free(ep);
}

/* A failing poll closes at once, with the source's error. */
static void test_error(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	mw_loop_init(&lp, &c, T0);
	CHECK(mw_loop_error(&lp) == 0);
	f.poll_rc = MW_ENOMEM;
	f.busy = true; /* no drain after an error */
	CHECK(mw_loop_step(&lp, T0, 0) == MW_LOOP_CLOSE);
	CHECK(mw_loop_end(&lp) == MW_LOOP_END_ERROR);
	CHECK(mw_loop_error(&lp) == MW_ENOMEM);
	/* a source without poll() only receives */
	s.poll = NULL;
	f.poll_rc = 0;
	mw_loop_init(&lp, &c, T0);
	CHECK(mw_loop_step(&lp, T0, 0) == MW_LOOP_RUN);
	CHECK(f.polls == 1);
	mw_ep_free(ep);
}

/*
 * Two loops over a perfect link: timers run when due (a HELLO nobody
 * answered is sent again at mw_loop_next()), events go to the hook and
 * then the source in every phase, and the close sequence fails what is
 * pending with MW_ECANCELED and sends CLOSE.
 */
static void test_pair_and_close(void)
{
	struct fake fa, fb;
	struct mw_source sa, sb;
	struct mw_loop_cfg c;
	struct mw_loop la, lb;
	struct mw_ep *a = new_ep(11), *b = new_ep(22);
	struct mw_counters k;
	uint64_t t = T0;

	fake_source(&fa, &sa);
	fake_source(&fb, &sb);
	loop_cfg(&c, a, &sa, &fa);
	mw_loop_init(&la, &c, t);
	loop_cfg(&c, b, &sb, &fb);
	mw_loop_init(&lb, &c, t);

	/* A's HELLO is lost: it is due again at the loop's next time */
	fa.submit = 1;
	CHECK(mw_loop_step(&la, t, 0) == MW_LOOP_RUN);
	CHECK(discard(a, t, NULL) == 1);
	uint64_t next = mw_loop_next(&la);
	CHECK(next > t && next != UINT64_MAX);
	CHECK(next == mw_ep_expiry(a));
	mw_loop_step(&la, next - 1, 0);
	CHECK(discard(a, next - 1, NULL) == 0);
	t = next;
	mw_loop_step(&la, t, 0);
	mw_ep_counters(a, &k);
	CHECK(k.hello_tx == 1); /* counted when pulled */
	CHECK(pump(a, &lb, t) == 1);
	mw_ep_counters(a, &k);
	CHECK(k.hello_tx == 2);
	CHECK(mw_loop_last_rx(&lb) == t);

	/* run both until the tensor is through */
	for (int i = 0; i < 100 && fa.events == 0; i++) {
		t += 100000;
		mw_loop_step(&la, t, 0);
		mw_loop_step(&lb, t, 0);
		pump(a, &lb, t);
		pump(b, &la, t);
	}
	CHECK(fa.events == 1 && fa.last_type == MW_EV_TX_DONE);
	CHECK(fb.rx_tensors == 1);
	CHECK(fa.hooked == 1 && fb.hooked == 1);
	CHECK(fa.hook_first && fb.hook_first);

	/* B lingers (done) and still gets its events */
	fb.done = true;
	CHECK(mw_loop_step(&lb, t, 0) == MW_LOOP_LINGER);
	fa.submit = 2;
	mw_loop_step(&la, t, 0);
	for (int i = 0; i < 5; i++) {
		t += 100000;
		pump(a, &lb, t);
		CHECK(mw_loop_step(&lb, t, 0) == MW_LOOP_LINGER);
	}
	CHECK(fb.rx_tensors == 3);

	/* A closes with two tensors unacknowledged (B's ACKs never
	 * pulled): each fails as canceled, through the hook first, and a
	 * CLOSE is queued */
	unsigned before = fa.events, closes = 0;
	CHECK(mw_loop_busy(&la));
	mw_loop_close(&la, t);
	CHECK(mw_loop_phase(&la) == MW_LOOP_CLOSED);
	CHECK(fa.events >= before + 2);
	CHECK(fa.last_type == MW_EV_TX_FAILED ||
	      fa.last_type == MW_EV_SESSION_CLOSED);
	CHECK(fa.hook_first && fa.hooked == fa.events);
	CHECK(!mw_loop_busy(&la));
	CHECK(discard(a, t, &closes) >= 1);
	CHECK(closes == 1);
	/* after the close, steps run timers and events only */
	unsigned polls = fa.polls;
	CHECK(mw_loop_step(&la, t + 1000 * MS, 0) == MW_LOOP_CLOSED);
	CHECK(fa.polls == polls);

	mw_ep_free(a);
	mw_ep_free(b);
}

/* The close sequence reports each failure with MW_ECANCELED. */
static void test_close_reasons(void)
{
	struct fake f;
	struct mw_source s;
	struct mw_loop_cfg c;
	struct mw_loop lp;
	struct mw_ep *ep = new_ep(7);

	fake_source(&f, &s);
	loop_cfg(&c, ep, &s, &f);
	mw_loop_init(&lp, &c, T0);
	f.submit = 3;
	mw_loop_step(&lp, T0, 0);
	CHECK(f.events == 0);
	mw_loop_close(&lp, T0 + MS);
	CHECK(f.events == 3);
	CHECK(f.last_type == MW_EV_TX_FAILED);
	CHECK(f.last_reason == MW_ECANCELED);
	CHECK(f.hooked == 3);
	/* never announced to the peer: no CLOSE to send */
	CHECK(discard(ep, T0 + MS, NULL) == 0);
	/* a source without event(): buffers go back, events still counted */
	s.event = NULL;
	f.submit = 1;
	mw_loop_init(&lp, &c, T0 + 2 * MS);
	mw_loop_step(&lp, T0 + 2 * MS, 0);
	mw_loop_close(&lp, T0 + 3 * MS);
	CHECK(f.hooked == 4 && f.events == 3);
	CHECK(mw_loop_events(&lp, T0 + 3 * MS) == 0);
	mw_ep_free(ep);
}

int main(void)
{
	test_signal();
	test_drain();
	test_limits();
	test_linger();
	test_error();
	test_pair_and_close();
	test_close_reasons();
	return mw_test_exit("test_loop");
}
