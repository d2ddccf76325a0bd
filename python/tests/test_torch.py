# SPDX-License-Identifier: BSD-3-Clause
"""Tests of maskwire.torch, the split boundary, over the test-only
loopback data plane serving two regions (a tensor sent on one is
delivered on the other, unchanged): the device half attaches to one, the
server half (a thread) to the other.

- the cut model trains bit-identically to the uncut one (several tensors
  per step, labels, a tensor the server ignores, evaluation steps,
  replies before and after backward); the server's tensors are zero-copy;
- timeouts, a peer that fails or closes, a failed send, tensors out of
  sequence or from a program that is no boundary, and the boundary used
  out of order all raise the exception meant for them;
- bad arguments are refused; CUDA tensors round-trip where a GPU is.

Environment: MW_LOOPBACK, MASKWIRE_LIB (set by meson). Exits 77 (skipped)
without numpy or torch.
"""

import mmap
import os
import sys
import threading
import time
import unittest

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e} (install python3-numpy and python3-torch)")
    sys.exit(77)

import maskwire as mw
import maskwire.torch as mwt
import tinysplit
from test_maskwire import LOOPBACK, Loopback, region_name

SIZES = ("--slot-size", "4096", "--tx-slots", "64", "--rx-slots", "64",
         "--ring", "64")
T = 20.0  # seconds a wait may take on a loaded machine


class Pair(unittest.TestCase):
    """A loopback data plane joining region a (the device's link) and
    region b (the server's)."""
    args = SIZES

    def setUp(self):
        torch.set_num_threads(1)
        self.a = region_name("dev")
        self.b = region_name("srv")
        self.lb = Loopback(self.b, *self.args, self.a)
        self.dev = mwt.Link(self.a, timeout=T)
        self.srv = mwt.Link(self.b, timeout=T)
        self.thread = None
        self.error = None

    def tearDown(self):
        if self.thread is not None:
            self.thread.join(timeout=60)
        self.dev.close()
        self.srv.close()
        if self.lb.p.poll() is None:
            self.lb.term()
        for n in (self.a, self.b):
            try:
                os.unlink("/dev/shm/" + n)
            except FileNotFoundError:
                pass

    def serve(self, fn, *args):
        """Run fn(self.srv, *args) in a thread; joined() gives its result
        or raises what it raised."""
        self.result = None

        def run():
            try:
                self.result = fn(self.srv, *args)
            except BaseException as e:
                self.error = e
        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def joined(self):
        self.thread.join(timeout=60)
        self.assertFalse(self.thread.is_alive(), "the server thread hangs")
        self.thread = None
        if self.error is not None:
            raise self.error
        return self.result


class Exact(Pair):
    def test_cut_model_trains_like_the_uncut_one(self):
        steps = 15
        ref_dev, ref_srv, ref_replies = tinysplit.one_process(steps)
        first_dev, first_srv = tinysplit.build()
        self.assertTrue(tinysplit.differing(ref_dev, first_dev))
        self.assertTrue(tinysplit.differing(ref_srv, first_srv))

        dev0, srv0 = tinysplit.build()  # not in two threads at once
        self.serve(lambda link: tinysplit.server(link, srv=srv0))
        dev, replies = tinysplit.device(self.dev, steps, dev=dev0)
        self.dev.close()                   # the server's loop ends
        srv = self.joined()
        self.assertEqual(tinysplit.differing(dev, ref_dev), [])
        self.assertEqual(tinysplit.differing(srv, ref_srv), [])
        self.assertEqual(len(replies), steps)
        for i, (got, want) in enumerate(zip(replies, ref_replies)):
            self.assertTrue(tinysplit.same_bits(got, want), f"reply {i}")
        # c never reached the server's loss: no gradient, as in one process
        self.assertTrue(tinysplit.same_bits(dev.aux.weight,
                                            first_dev.aux.weight))
        self.assertEqual(self.srv.steps, steps)

    def test_server_tensors_are_zero_copy(self):
        def server(link):
            cut = mwt.ServerBoundary(link)
            st = cut.recv()
            off = [rx._buf.off for rx in st._rx]
            with open("/dev/shm/" + self.b, "r+b") as f, \
                    mmap.mmap(f.fileno(), 0) as m:
                a, = st.tensors
                y, = st.labels
                same = (m[off[0]:off[0] + 4 * a.numel()] ==
                        a.detach().numpy().tobytes())
                m[off[1]:off[1] + 8] = np.int64(99).tobytes()
                seen = int(y[0])       # the label view sees the write
            st.reply(torch.tensor([float(same), float(seen)]))
            return a.requires_grad, st.training
        self.serve(server)
        with torch.no_grad():
            cut = mwt.Boundary(self.dev)
            cut(torch.arange(6.).view(2, 3), labels=torch.tensor([1, 2]))
        self.assertEqual(cut.reply()[0].tolist(), [1.0, 99.0])
        self.assertEqual(self.joined(), (False, False))


    def test_copies_and_other_dtypes(self):
        def server(link):
            cut = mwt.ServerBoundary(link, copy=True)
            st = cut.recv()
            a, h = st.tensors
            with open("/dev/shm/" + self.b, "r+b") as f, \
                    mmap.mmap(f.fileno(), 0) as m:
                slot, n, off = (int.from_bytes(m[o:o + w], "little")
                                for o, w in ((36, 4), (44, 4), (56, 8)))
                m[off:off + slot * n] = bytes(slot * n)  # the RX pool: 0
            ((a * a).sum() + (h.float() * 3).sum()).backward()
            return st._rx, a.dtype, h.dtype, a.sum().item()
        self.serve(server)
        a = torch.arange(4., dtype=torch.float64, requires_grad=True)
        h = torch.ones(3, dtype=torch.bfloat16, requires_grad=True)
        mwt.Boundary(self.dev, codec="ms")(a * 1, h * 1).backward()
        self.assertEqual(a.grad.dtype, torch.float64)     # raw both ways
        self.assertEqual(a.grad.tolist(), [0.0, 2.0, 4.0, 6.0])
        self.assertEqual(h.grad.dtype, torch.bfloat16)
        self.assertEqual(h.grad.tolist(), [3.0, 3.0, 3.0])
        self.assertEqual(self.joined(), ([], torch.float64, torch.bfloat16,
                                         6.0))  # private: not zeroed


class Errors(Pair):
    def test_timeouts(self):
        srv = mwt.ServerBoundary(self.srv)
        with self.assertRaises(mw.Timeout) as cm:
            srv.recv(timeout=0.2)
        self.assertIn("step 0 did not arrive from the device",
                      str(cm.exception))
        self.assertIsInstance(cm.exception, TimeoutError)
        cut = mwt.Boundary(self.dev, timeout=0.3)
        out = cut(torch.ones(3, requires_grad=True))
        with self.assertRaises(mw.Timeout) as cm:
            out.backward()             # nobody serves the other side
        self.assertIn("no gradient for step 0", str(cm.exception))
        with self.assertRaises(mw.Timeout) as cm:
            cut.reply(timeout=0.1)
        self.assertIn("no reply for step 0", str(cm.exception))

    def test_peer_failed(self):
        def server(link):
            with link:
                mwt.ServerBoundary(link).recv()
                raise RuntimeError("the server's model broke")
        self.serve(server)
        out = mwt.Boundary(self.dev)(torch.ones(3, requires_grad=True))
        with self.assertRaises(mwt.PeerFailed) as cm:
            out.backward()
        self.assertIn("failed after 1 steps", str(cm.exception))
        with self.assertRaises(RuntimeError):
            self.joined()

    def test_peer_closed(self):
        def server(link):
            with link:
                st = mwt.ServerBoundary(link).recv()
                st.reply(torch.zeros(1))
        self.serve(server)
        cut = mwt.Boundary(self.dev)
        with torch.no_grad():
            cut(torch.ones(3))
            self.assertEqual(cut.reply()[0].tolist(), [0.0])
            cut(torch.ones(3))         # the server is gone
            with self.assertRaises(mwt.PeerClosed) as cm:
                cut.reply()
        self.assertNotIsInstance(cm.exception, mwt.PeerFailed)
        self.assertEqual(cm.exception.step, 1)
        self.joined()
        with self.assertRaises(mwt.PeerClosed):
            with torch.no_grad():
                cut(torch.ones(3))

    def test_device_closes_server_loop_ends(self):
        self.serve(lambda link: [st.index for st in
                                 mwt.ServerBoundary(link)])
        cut = mwt.Boundary(self.dev)
        with torch.no_grad():
            for _ in range(3):
                cut(torch.ones(2), labels=torch.zeros(2))
        self.dev.close()
        self.assertEqual(self.joined(), [0, 1, 2])

    def test_not_a_boundary_message(self):
        self.dev.client.send(torch.ones(2), kind="other", tag=5)
        with self.assertRaises(mwt.ProtocolError) as cm:
            mwt.ServerBoundary(self.srv).recv()
        self.assertIn("not a boundary message", str(cm.exception))

    def test_step_out_of_sequence(self):
        cut = mwt.Boundary(self.dev)
        srv = mwt.ServerBoundary(self.srv)
        with torch.no_grad():
            cut(torch.ones(2))
        self.assertEqual(srv.recv().index, 0)
        # what a restarted device would send: step 0 again
        self.dev.client.send(torch.ones(2), kind="activation",
                             tag=mwt._pack(mwt.DATA, 0, 0, 1))
        with self.assertRaises(mwt.ProtocolError) as cm:
            srv.recv()
        self.assertIn("restarted", str(cm.exception))

    def test_used_out_of_order(self):
        self.serve(tinysplit.server)   # backward, then reply
        cut = mwt.Boundary(self.dev)
        x = torch.ones(2, 4, 4, 4, requires_grad=True)
        b = torch.ones(2, 8, requires_grad=True)
        out = cut(x * 1, b * 1, b * 2, labels=torch.tensor([1, 2]))
        with self.assertRaises(mwt.BoundaryError):
            cut(x * 1, b, b, labels=torch.tensor([1, 2]))  # no backward yet
        out.backward(retain_graph=True)
        self.assertIsNotNone(x.grad)
        with self.assertRaises(mwt.BoundaryError):
            out.backward()             # step 0's gradient, a second time
        self.dev.close()
        self.joined()                  # the server saw one step
        self.assertEqual(self.srv.steps, 1)

    def test_server_without_backward(self):
        def server(link):
            cut = mwt.ServerBoundary(link)
            cut.recv()                 # training step, no backward
            return cut.recv()
        self.serve(server)
        cut = mwt.Boundary(self.dev)
        cut(torch.ones(3, requires_grad=True))
        with self.assertRaises(mwt.BoundaryError) as cm:
            self.joined()
        self.assertIn("no backward() reached", str(cm.exception))

    def test_second_backward_on_the_server(self):
        def server(link):
            st = mwt.ServerBoundary(link).recv()
            a, = st.tensors
            loss = (a * a).sum()
            loss.backward(retain_graph=True)
            loss.backward()            # after the gradient went out
        self.serve(server)
        x = torch.arange(3., requires_grad=True)
        mwt.Boundary(self.dev)(x * 1).backward()
        self.assertEqual(x.grad.tolist(), [0.0, 2.0, 4.0])
        with self.assertRaises(mwt.BoundaryError) as cm:
            self.joined()
        self.assertIn("second backward()", str(cm.exception))

    def test_bad_arguments(self):
        cut = mwt.Boundary(self.dev)
        with self.assertRaises(TypeError):
            cut(np.ones(3))
        with self.assertRaises(TypeError):
            cut(torch.ones(3), labels=[1, 2])
        with self.assertRaises(ValueError):
            cut(labels=torch.ones(3))
        with self.assertRaises(ValueError):
            cut(*[torch.ones(1)] * 256)
        with self.assertRaises(ValueError):
            with torch.no_grad():
                cut(torch.ones(2, dtype=torch.complex64))
        with self.assertRaises(mwt.BoundaryError):
            mwt.Boundary(self.dev)    # one boundary per link
        with self.assertRaises(ValueError):
            mwt.ServerBoundary(self.srv, codec="zip")
        with self.assertRaises(ValueError):
            mwt.Link(self.a, timeout=0)
        with self.assertRaises(mwt.BoundaryError):
            mwt.Boundary(mwt.Link(self.dev.client)).reply()  # no step yet

    @unittest.skipUnless(torch.cuda.is_available(), "no CUDA device")
    def test_cuda(self):
        def server(link):
            cut = mwt.ServerBoundary(link, device="cuda")
            st = cut.recv()
            a, = st.tensors
            (a * a).sum().backward()
            return a.device.type
        self.serve(server)
        x = torch.arange(4., device="cuda", requires_grad=True)
        mwt.Boundary(self.dev)(x * 1).backward()
        self.assertEqual(x.grad.device.type, "cuda")
        self.assertEqual(x.grad.tolist(), [0.0, 2.0, 4.0, 6.0])
        self.assertEqual(self.joined(), "cuda")


class SendFailure(Pair):
    # the loopback fails the send of step 0's only tensor
    args = SIZES + ("--fail-tag",
                    str(mwt._pack(mwt.DATA, 0, 0, 1, mwt._F_GRAD)))

    def test_failed_send(self):
        out = mwt.Boundary(self.dev)(torch.ones(3, requires_grad=True))
        with self.assertRaises(mw.SendFailed) as cm:
            out.backward()
        self.assertEqual(cm.exception.code, mw.MW_ECANCELED)
        self.assertIn("step 0's step tensor 1/1 did not reach the peer",
                      str(cm.exception))


class ManyDevices(unittest.TestCase):
    """One server, three devices: the loopback shows three peers on both
    regions; device links Link(a, peer=i) share one Client, the server is
    a maskwire.torch.Server on region b. Steps come with their .peer as
    the devices send them: devices 0 and 1 train four steps each before
    device 2 sends its only one, so a server waiting for device 2 in turn
    would hold them up (and time out). Each device gets exactly the
    gradient the server computed for its own step (their batch sizes
    differ: a gradient sent to the wrong device would not even fit), and
    a device that closes early leaves the others served."""

    def test_three_devices(self):
        torch.set_num_threads(1)
        a, b = region_name("devs"), region_name("srv")
        lb = Loopback(b, *SIZES, "--peers", "3", a)
        schedule = [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2), (1, 2), (2, 0),
                    (0, 3), (1, 3)]
        sent, order = {}, []
        failure = []

        def server():
            try:
                torch.manual_seed(0)
                model = torch.nn.Linear(3, 2)
                with mwt.Server(b, timeout=T) as srv:
                    self.assertEqual([p.port for p in srv.peers],
                                     [9000, 9001, 9002])
                    for st in srv:
                        order.append((st.peer.index, st.index))
                        x, = st.tensors
                        y, = st.labels
                        loss = torch.nn.functional.cross_entropy(model(x), y)
                        loss.backward()
                        sent[(st.peer.index, st.index)] = x.grad.clone()
                        st.reply(loss.detach().reshape(1))
            except BaseException as e:
                failure.append(e)
        th = threading.Thread(target=server, daemon=True)
        th.start()
        got = {}
        try:
            client = mw.Client(a, timeout=T)
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i, s in schedule:
                act = torch.randn(4 + i, 3, requires_grad=True)
                act.retain_grad()
                out = cuts[i](act, labels=torch.arange(4 + i) % 2)
                out.backward()
                got[(i, s)] = act.grad.clone()
                self.assertEqual(cuts[i].reply()[0].shape, (1,))
                if (i, s) == (2, 0):
                    links[2].close()  # closes early
            for link in links:
                link.close()
            th.join(timeout=60)
            client.close()
        finally:
            if lb.p.poll() is None:
                lb.term()
            for n in (a, b):
                try:
                    os.unlink("/dev/shm/" + n)
                except FileNotFoundError:
                    pass
        self.assertFalse(failure, failure)
        self.assertEqual(order, schedule)
        self.assertEqual(sorted(got), sorted(sent))
        for key, g in got.items():
            self.assertTrue(torch.equal(g, sent[key]), key)

    def test_send_failure_drops_one_device(self):
        """A gradient that cannot reach device 1 (the loopback fails the
        send of its step 2's gradient) is reported for device 1 alone:
        the Server stops serving it, tells it (PeerFailed there instead of
        a timeout), calls on_failure and lists it in .failed, and serves
        devices 0 and 2 on, each step with its own gradient."""
        torch.set_num_threads(1)
        a, b = region_name("devs"), region_name("srv")
        tag = mwt._pack(mwt.GRAD, 2, 0, 1, mwt._F_GRAD)
        lb = Loopback(b, *SIZES, "--peers", "3", "--fail-tag", str(tag), a)
        # device 1 first (steps 0-2), then the others: only device 1 has
        # a step 2, so only its gradient carries that tag
        schedule = [(1, 0), (1, 1), (1, 2), (0, 0), (2, 0), (0, 1), (2, 1)]
        sent, order, reported, failure, dropped = {}, [], [], [], {}

        def server():
            try:
                torch.manual_seed(0)
                model = torch.nn.Linear(3, 2)
                with mwt.Server(b, timeout=T, on_failure=lambda p, e:
                                reported.append((p.index, e.peer, e.code))
                                ) as srv:
                    for st in srv:
                        order.append((st.peer.index, st.index))
                        x, = st.tensors
                        loss = torch.nn.functional.cross_entropy(
                            model(x), st.labels[0])
                        loss.backward()
                        sent[(st.peer.index, st.index)] = x.grad.clone()
                        st.reply(loss.detach().reshape(1))
                    dropped.update(srv.failed)
            except BaseException as e:
                failure.append(e)
        th = threading.Thread(target=server, daemon=True)
        th.start()
        got = {}
        try:
            client = mw.Client(a, timeout=T)
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i, s in schedule:
                act = torch.randn(4 + i, 3, requires_grad=True)
                act.retain_grad()
                out = cuts[i](act, labels=torch.arange(4 + i) % 2)
                if (i, s) == (1, 2):
                    with self.assertRaises(mwt.PeerFailed):
                        out.backward()
                    continue
                out.backward()
                got[(i, s)] = act.grad.clone()
                self.assertEqual(cuts[i].reply()[0].shape, (1,))
            for link in links:
                link.close()
            th.join(timeout=60)
            client.close()
        finally:
            if lb.p.poll() is None:
                lb.term()
            for n in (a, b):
                try:
                    os.unlink("/dev/shm/" + n)
                except FileNotFoundError:
                    pass
        self.assertFalse(failure, failure)
        self.assertFalse(th.is_alive())
        self.assertEqual(order, schedule)
        self.assertEqual(reported, [(1, 1, mw.MW_ECANCELED)])
        self.assertEqual(list(dropped), [1])
        self.assertIn("step 2's gradient tensor 1/1 did not reach",
                      str(dropped[1]))
        del sent[(1, 2)]
        self.assertEqual(sorted(got), sorted(sent))
        for key, g in got.items():
            self.assertTrue(torch.equal(g, sent[key]), key)


class DevicesComeAndGo(unittest.TestCase):
    """A Server's devices fail, restart and turn up while it serves: the
    loopback shows three peers on the devices' region (device links
    Link(a, peer=i) over one Client); the server is a Server(b) whose
    loop only trains and replies."""

    def run_devices(self, lb_args, devices, **kw):
        """Serve region b with a Server(**kw) in a thread while
        devices(client, ready) drives the devices on region a (ready: an
        Event set once the Server is made). Returns (devices' result,
        steps served as (index, step, gen), the Server, failures
        reported as (index, exception), joins reported as Peers)."""
        torch.set_num_threads(1)
        a, b = region_name("devs"), region_name("srv")
        lb = Loopback(b, *SIZES, "--peers", "3", *lb_args, a)
        order, reported, joined, failure, ready = [], [], [], [], \
            threading.Event()
        box = {}

        def server():
            try:
                torch.manual_seed(0)
                model = torch.nn.Linear(3, 2)
                with mwt.Server(b, on_failure=lambda p, e:
                                reported.append((p.index, e)),
                                on_join=joined.append,
                                **{"timeout": T, **kw}) as srv:
                    box["srv"], box["start"] = srv, srv.peers
                    ready.set()
                    for st in srv:
                        order.append((st.peer.index, st.index, st.peer.gen))
                        x, = st.tensors
                        loss = torch.nn.functional.cross_entropy(
                            model(x), st.labels[0])
                        loss.backward()
                        st.reply(x.grad.sum().reshape(1))
            except BaseException as e:
                failure.append(e)
            finally:
                ready.set()
        th = threading.Thread(target=server, daemon=True)
        th.start()
        try:
            client = mw.Client(a, timeout=T)
            self.assertTrue(ready.wait(T))
            result = devices(client)
            th.join(timeout=60)
            client.close()
        finally:
            if lb.p.poll() is None:
                lb.term()
            for n in (a, b):
                try:
                    os.unlink("/dev/shm/" + n)
                except FileNotFoundError:
                    pass
        self.assertFalse(failure, failure)
        self.assertFalse(th.is_alive(), "the server hangs")
        self.start = box["start"]  # the peers the Server began with
        return result, order, box["srv"], reported, joined

    @staticmethod
    def step(cut, i):
        """One training step of device i; its gradient (checked against
        the server's reply, the gradient's sum)."""
        act = torch.randn(4 + i, 3, requires_grad=True)
        act.retain_grad()
        out = cut(act, labels=torch.arange(4 + i) % 2)
        out.backward()
        torch.testing.assert_close(act.grad.sum(), cut.reply()[0][0])
        return act.grad

    def test_peer_failed_drops_one_device(self):
        """Device 1's program fails after two steps (its link closes as
        failed: PeerFailed on the server): the Server drops device 1
        only, reports it, and serves devices 0 and 2 to their end."""
        def devices(client):
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i in (1, 0, 1, 2):
                self.step(cuts[i], i)
            links[1].close(failed=True)
            for i in (0, 2, 0, 2):
                self.step(cuts[i], i)
            for link in links:
                link.close()
        _, order, srv, reported, joined = self.run_devices((), devices)
        self.assertEqual([(i, s) for i, s, _ in order],
                         [(1, 0), (0, 0), (1, 1), (2, 0), (0, 1), (2, 1),
                          (0, 2), (2, 2)])
        self.assertEqual([(i, type(e)) for i, e in reported],
                         [(1, mwt.PeerFailed)])
        self.assertEqual(list(srv.failed), [1])
        self.assertIn("failed after 2 steps", str(srv.failed[1]))
        self.assertEqual(joined, [])

    def test_silent_device_dropped(self):
        """Device 1 sends one step and then nothing, without closing (a
        device killed without a word): the Server (timeout 1.5 s) drops
        it with maskwire.Timeout and serves devices 0 and 2 on."""
        def devices(client):
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            self.step(cuts[1], 1)
            for _ in range(6):
                for i in (0, 2):
                    self.step(cuts[i], i)
                time.sleep(0.6)
            for i in (0, 2):
                links[i].close()
        _, order, srv, reported, joined = self.run_devices(
            (), devices, timeout=1.5)
        self.assertEqual(sorted(set(i for i, _, _ in order)), [0, 1, 2])
        self.assertEqual([s for i, s, _ in order if i == 1], [0])
        self.assertEqual(len([1 for i, _, _ in order if i in (0, 2)]), 12)
        self.assertEqual([(i, type(e)) for i, e in reported],
                         [(1, mw.Timeout)])
        self.assertEqual(list(srv.failed), [1])

    def test_device_accepted_later(self):
        """Device 2 is an accepted device (generation 102) that is not in
        the server's table when the Server starts (it appears when it
        first sends, --late 1): Server() serves it from its step 0."""
        def devices(client):
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i in (0, 1, 2, 0, 2, 1, 2):
                self.step(cuts[i], i)
            for link in links:
                link.close()
        _, order, srv, reported, joined = self.run_devices(
            ("--accepted", "1", "--late", "1"), devices)
        self.assertEqual(order, [(0, 0, 1), (1, 0, 1), (2, 0, 102),
                                 (0, 1, 1), (2, 1, 102), (1, 1, 1),
                                 (2, 2, 102)])
        self.assertEqual([(p.index, p.port, p.gen, p.accepted)
                          for p in joined], [(2, 9002, 102, True)])
        self.assertEqual([p.index for p in self.start], [0, 1])
        self.assertEqual([p.index for p in srv.peers], [0, 1, 2])
        self.assertEqual((reported, srv.failed), ([], {}))

    def test_devices_come_back(self):
        """Device 1 fails (PeerFailed) and its program starts again with
        a new link; device 0 restarts without a word (its old link never
        closes: the server sees a step 0 where step 2 was due). Each is
        dropped and served again from its new step 0 with a fresh Link,
        while device 2 trains on; only the served steps' gradients go
        out."""
        def devices(client):
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i in (0, 1, 2, 0, 1):
                self.step(cuts[i], i)
            links[1].close(failed=True)
            links[0]._closed = True        # killed: tells nothing
            for i in (0, 1):
                links[i] = mwt.Link(client, timeout=T, peer=i)
                cuts[i] = mwt.Boundary(links[i])
            for i in (2, 1, 0, 2, 1, 0):
                self.step(cuts[i], i)
            for link in links:
                link.close()
        _, order, srv, reported, joined = self.run_devices((), devices)
        self.assertEqual([(i, s) for i, s, _ in order],
                         [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1),
                          (1, 0), (0, 0), (2, 2), (1, 1), (0, 1)])
        self.assertEqual(sorted((i, type(e).__name__) for i, e in reported),
                         [(0, "_NewSession"), (1, "PeerFailed")])
        self.assertIsInstance(dict(reported)[0], mwt.ProtocolError)
        self.assertIn("restarted", str(dict(reported)[0]))
        self.assertEqual(sorted(p.index for p in joined), [0, 1])
        self.assertEqual(srv.failed, {})   # both back
        self.assertEqual({i: link.steps for i, link in srv.links.items()},
                         {0: 2, 1: 2, 2: 3})

    def test_accepted_slot_changes_hands(self):
        """Accepted device 2 (generation 102) goes away without closing
        its link and a new device takes its slot (the loopback gives
        index 2 generation 103 when a second step 0 comes from it): the
        Server drops the old device (PeerFailed: it left) and serves the
        new one with a fresh Link keyed by (2, 103); its gradients go to
        generation 103, so they would never reach the old device."""
        tag = mwt._pack(mwt.DATA, 0, 0, 2, mwt._F_GRAD)

        def devices(client):
            links = [mwt.Link(client, timeout=T, peer=i) for i in range(3)]
            cuts = [mwt.Boundary(link) for link in links]
            for i in (2, 0, 2, 1):
                self.step(cuts[i], i)
            links[2]._closed = True        # gone: tells nothing
            links[2] = mwt.Link(client, timeout=T, peer=2)
            cuts[2] = mwt.Boundary(links[2])
            for i in (2, 0, 2, 1):
                self.step(cuts[i], i)
            for link in links:
                link.close()
        _, order, srv, reported, joined = self.run_devices(
            ("--accepted", "1", "--regen-tag", str(tag)), devices)
        self.assertEqual(order, [(2, 0, 102), (0, 0, 1), (2, 1, 102),
                                 (1, 0, 1), (2, 0, 103), (0, 1, 1),
                                 (2, 1, 103), (1, 1, 1)])
        self.assertEqual([(i, type(e)) for i, e in reported],
                         [(2, mwt.PeerFailed)])
        self.assertIn("left without closing its link", str(reported[0][1]))
        self.assertEqual([(p.index, p.gen) for p in joined], [(2, 103)])
        self.assertEqual(srv.links[2].peer.gen, 103)
        self.assertEqual(srv.failed, {})


if __name__ == "__main__":
    if not LOOPBACK:
        print("skipped: MW_LOOPBACK not set (run through meson test)")
        sys.exit(77)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
