# SPDX-License-Identifier: BSD-3-Clause
"""Tests of the maskwire Python package against the test-only loopback data
plane (dataplane/shm/tests/mw_shm_loopback.c), which delivers every sent
tensor back to the sender.

Environment: MW_LOOPBACK (path of mw-shm-loopback), MASKWIRE_LIB (path of
libmaskwire.so). Exits 77 (skipped) when numpy or torch is missing.
"""

import mmap
import os
import signal
import subprocess
import sys
import textwrap
import time
import unittest

try:
    import numpy as np
    import torch
except ImportError as e:
    print(f"skipped: {e} (install python3-numpy and python3-torch)")
    sys.exit(77)

import maskwire as mw

LOOPBACK = os.environ.get("MW_LOOPBACK")
_names = []


def region_name(what):
    name = f"mwpytest-{what}-{os.getpid()}-{len(_names)}"
    _names.append(name)
    return name


class Loopback:
    """A loopback data plane process serving one region."""

    def __init__(self, name, *args):
        self.name = name
        self.p = subprocess.Popen([LOOPBACK, *args, name],
                                  stdout=subprocess.PIPE, text=True)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            self.p.kill()
            self.p.wait()
            raise RuntimeError(f"loopback did not start: {line!r}")

    def kill(self):
        self.p.kill()
        self.p.wait()
        self.p.stdout.close()

    def term(self):
        self.p.terminate()
        self.p.wait()
        self.p.stdout.close()


SMALL = ("--slot-size", "4096", "--tx-slots", "8", "--rx-slots", "8",
         "--ring", "8")


class Base(unittest.TestCase):
    args = SMALL

    def setUp(self):
        self.name = region_name(self._testMethodName)
        self.lb = Loopback(self.name, *self.args)
        self.c = mw.Client(self.name, timeout=10.0)

    def tearDown(self):
        self.c.close()
        if self.lb.p.poll() is None:
            self.lb.term()
        try:
            os.unlink("/dev/shm/" + self.name)
        except FileNotFoundError:
            pass


class RoundTrip(Base):
    def test_numpy_shapes_dtypes(self):
        rng = np.random.default_rng(1)
        shapes = [(), (7,), (3, 4, 5), (1, 2, 1, 2, 1, 2, 1, 3), (2, 0, 3)]
        dtypes = ["float32", "float64", "float16", "int64", "int32",
                  "int16", "int8", "uint8", "bool"]
        tag = 0
        for dt in dtypes:
            for shape in shapes:
                x = (rng.standard_normal(shape) * 50).astype(dt)
                tag += 1
                kind = ["activation", "gradient", "logits", "labels",
                        "other"][tag % 5]
                ck = self.c.send(x, kind=kind, tag=tag, timeout=5.0)
                with self.c.recv(timeout=5.0) as rx:
                    self.assertEqual(rx.tag, tag)
                    self.assertEqual(rx.kind, kind)
                    self.assertEqual(rx.dtype, dt)
                    self.assertEqual(rx.shape, shape)
                    self.assertEqual(rx.array.dtype, np.dtype(dt))
                    self.assertEqual(rx.codec,
                                     "dense" if dt == "float32" else "raw")
                    np.testing.assert_array_equal(rx.array, x)
                self.c.wait(ck, timeout=5.0)
        info = self.c.info()
        self.assertEqual(info["held"], 0)
        self.assertEqual(info["inflight"], 0)

    def test_torch(self):
        acts = torch.relu(torch.randn(4, 8, 3, 3))
        ck = self.c.send(acts, kind="activation", tag=11, codec="ms",
                         ratio=0.99, bits=2)
        labels = torch.randint(0, 10, (4,))
        self.c.send(labels, kind="labels", tag=11)
        bf = torch.randn(5, 3).to(torch.bfloat16)
        self.c.send(bf, kind="gradient", tag=12, codec="raw", wait=True)
        with self.c.recv(timeout=5.0) as rx:
            self.assertEqual((rx.kind, rx.codec, rx.bits), ("activation",
                                                            "ms", 2))
            self.assertAlmostEqual(rx.ratio, 0.99)
            self.assertEqual(rx.tensor.dtype, torch.float32)
            self.assertTrue(torch.equal(rx.tensor, acts))
        rx = self.c.recv(timeout=5.0, copy=True)
        self.assertTrue(rx.released)
        self.assertEqual(rx.tensor.dtype, torch.int64)
        self.assertTrue(torch.equal(rx.tensor, labels))
        with self.c.recv(timeout=5.0) as rx:
            self.assertEqual(rx.tensor.dtype, torch.bfloat16)
            self.assertTrue(torch.equal(rx.tensor, bf))
        self.c.wait(ck, timeout=5.0)

    def test_bad_arguments(self):
        with self.assertRaises(mw.InvalidArgument):
            self.c.send(np.zeros(3, np.int32), codec="ms")
        with self.assertRaises(ValueError):
            self.c.send(np.zeros(3, np.complex64))
        with self.assertRaises(ValueError):
            self.c.send(np.zeros([1] * 9, np.float32))
        with self.assertRaises(mw.LimitError):
            self.c.send(np.zeros(9 * 4096, np.uint8))
        self.assertEqual(self.c.info()["tx_free_slots"], 8)


class ZeroCopy(Base):
    def region(self):
        f = open("/dev/shm/" + self.name, "r+b")
        self.addCleanup(f.close)
        m = mmap.mmap(f.fileno(), 0)
        self.addCleanup(m.close)
        return m

    def test_receive_view_is_the_buffer(self):
        x = np.arange(16, dtype=np.float32)
        self.c.send(x, tag=1)
        rx = self.c.recv(timeout=5.0)
        m = self.region()
        off = rx._buf.off
        self.assertEqual(m[off:off + 64], x.tobytes())
        rx.array[0] = 42.0            # writes into the shared buffer
        self.assertEqual(np.frombuffer(m[off:off + 4], np.float32)[0], 42.0)
        m[off + 4:off + 8] = np.float32(-7).tobytes()
        self.assertEqual(rx.tensor[1].item(), -7.0)  # torch sees it too
        rx.tensor[2] = 5.0
        self.assertEqual(rx.array[2], 5.0)
        rx.release()
        self.assertTrue(rx.released)

    def test_fill_in_place(self):
        tb = self.c.alloc((4, 4), "float32")
        tb.tensor.copy_(torch.arange(16, dtype=torch.float32).view(4, 4))
        m = self.region()
        off = tb._buf.off
        self.assertEqual(np.frombuffer(m[off:off + 64], np.float32)[15],
                         15.0)
        self.c.send_buffer(tb, kind="logits", tag=3, wait=True, timeout=5)
        with self.assertRaises(ValueError):
            self.c.send_buffer(tb)    # already sent
        with self.c.recv(timeout=5.0) as rx:
            self.assertEqual(rx.shape, (4, 4))
            self.assertTrue(torch.equal(rx.tensor,
                                        torch.arange(16.).view(4, 4)))
        tb = self.c.alloc((3,), np.int64)
        tb.free()


class Timeouts(Base):
    def test_recv_timeouts(self):
        with self.assertRaises(mw.TryAgain):
            self.c.recv(timeout=0)
        with self.assertRaises(mw.Timeout):
            self.c.recv(timeout=0.05)
        with self.assertRaises(TimeoutError):  # also a builtin
            self.c.recv(timeout=0.01)
        with self.assertRaises(mw.NotFound):
            self.c.wait(123456789, timeout=0)


class BackPressure(Base):
    args = ("--slot-size", "4096", "--tx-slots", "4", "--rx-slots", "4",
            "--ring", "8")

    def test_full_arena(self):
        def t(i):
            return np.full(1024, i, np.float32)  # one 4 KiB slot

        cks = [self.c.send(t(i), tag=i, timeout=5) for i in range(4)]
        for ck in cks:            # delivered: the RX pool is now full
            self.c.wait(ck, timeout=5)
        for i in range(4, 8):     # held back by the data plane: TX fills
            self.c.send(t(i), tag=i, timeout=5)
        with self.assertRaises(mw.TryAgain):
            self.c.send(t(8), tag=8, timeout=0)
        with self.assertRaises(mw.Timeout):
            self.c.send(t(8), tag=8, timeout=0.05)
        with self.assertRaises(mw.TryAgain):
            self.c.alloc((1024,), "float32", timeout=0)
        self.assertEqual(self.c.info()["tx_free_slots"], 0)
        got = [self.c.recv(timeout=5, copy=True).tag for _ in range(4)]
        ck = self.c.send(t(8), tag=8, timeout=5)
        for _ in range(5):
            rx = self.c.recv(timeout=5, copy=True)
            got.append(rx.tag)
            self.assertTrue((rx.array == rx.tag).all())
        self.assertEqual(got, list(range(9)))  # nothing lost, in order
        self.c.wait(ck, timeout=5)
        self.assertEqual(self.c.info()["tx_free_slots"], 4)  # no leak


class Failures(Base):
    args = SMALL + ("--fail-tag", "666")

    def test_failed_send(self):
        x = np.ones(4, np.float32)
        with self.assertRaises(mw.SendFailed) as cm:
            self.c.send(x, tag=666, wait=True, timeout=5)
        self.assertEqual(cm.exception.code, mw.MW_ECANCELED)
        ck = self.c.send(x, tag=666)
        self.c.send(x, tag=1, wait=True, timeout=5)
        fails = self.c.failures()
        self.assertEqual([(f.cookie, f.tag, f.code, f.peer) for f in fails],
                         [(ck, 666, mw.MW_ECANCELED, 0)])
        self.assertEqual(self.c.failures(), [])
        self.c.recv(timeout=5).release()


class Peers(Base):
    """Peer-addressed sends and the source of a delivery: the loopback
    shows three peers and returns a tensor from the peer it went to."""
    args = SMALL + ("--peers", "3")

    def test_table(self):
        peers = self.c.peers()
        self.assertEqual([p.peer.index for p in peers], [0, 1, 2])
        self.assertEqual(str(peers[1].peer), "127.0.0.2:9001")
        self.assertEqual(peers[2].peer, mw.Peer(2, "127.0.0.3", 9002, 1))
        self.assertFalse(peers[2].peer.accepted)
        self.assertTrue(all(p.state == "up" for p in peers))

    def test_send_to_peer(self):
        for peer in (2, mw.Peer(1, "127.0.0.2", 9001), "127.0.0.3:9002",
                     None):
            ck = self.c.send(np.arange(5, dtype="int64"), tag=7, peer=peer,
                             timeout=5.0)
            self.c.wait(ck, timeout=5.0)
            with self.c.recv(timeout=5.0) as rx:
                want = {None: 0, "127.0.0.3:9002": 2}.get(
                    peer, getattr(peer, "index", peer))
                self.assertEqual(rx.peer.index, want)
                self.assertEqual(rx.peer.port, 9000 + want)
                np.testing.assert_array_equal(rx.array, np.arange(5))
                # answering the sender: its .peer is an address
                self.c.send(rx.array, tag=8, peer=rx.peer, wait=True,
                            timeout=5.0)
            self.assertEqual(self.c.recv(timeout=5.0, copy=True).peer.index,
                             want)

    def test_no_such_peer(self):
        ck = self.c.send(np.zeros(3, "float32"), peer=3, timeout=5.0)
        with self.assertRaises(mw.SendFailed) as e:
            self.c.wait(ck, timeout=5.0)
        self.assertEqual(e.exception.code, mw.MW_ENOENT)
        # not waited for: failures() names the peer the send went to
        ck = self.c.send(np.zeros(3, "float32"), tag=9, peer=3, timeout=5.0)
        deadline = time.monotonic() + 5.0
        fails = []
        while not fails and time.monotonic() < deadline:
            fails = self.c.failures()
            time.sleep(0.01)
        self.assertEqual([(f.cookie, f.tag, f.peer, f.code) for f in fails],
                         [(ck, 9, 3, mw.MW_ENOENT)])
        with self.assertRaises(ValueError):
            self.c.send(np.zeros(3, "float32"), peer="10.9.9.9:1")
        with self.assertRaises(ValueError):
            self.c.send(np.zeros(3, "float32"), peer=1 << 16)
        self.assertEqual(self.c.info()["inflight"], 0)

    def test_hostile_table(self):
        """The table is the data plane's memory: a corrupt entry is an
        ABIError, a count beyond the table is clamped."""
        with open("/dev/shm/" + self.name, "r+b") as f:
            m = mmap.mmap(f.fileno(), 0)
            off = int.from_bytes(m[392:400], "little")
            cap = int.from_bytes(m[388:392], "little")
            m[off:off + 4] = (0xffffffff).to_bytes(4, "little")
            self.assertEqual(len(self.c.peers()), cap)
            m[off + 64 + 4] = 99  # entry 0's state
            with self.assertRaises(mw.ABIError):
                self.c.peers()
            m.close()


class AcceptedPeers(Base):
    """Peers the data plane accepted: the loopback shows peers 1 and 2 as
    accepted (generations 101 and 102). A Peer carries its generation: a
    send with it is routed, one naming another generation (the index
    changed hands) or a bare index fails with MW_ESTALE."""
    args = SMALL + ("--peers", "3", "--accepted", "2")

    def test_table_and_reply(self):
        peers = [p.peer for p in self.c.peers()]
        self.assertEqual([(p.index, p.gen, p.accepted) for p in peers],
                         [(0, 1, False), (1, 101, True), (2, 102, True)])
        self.c.send(np.arange(4, dtype="int64"), tag=3, peer=peers[2],
                    wait=True, timeout=5.0)
        rx = self.c.recv(timeout=5.0, copy=True)
        self.assertEqual(rx.peer, peers[2])  # index, address, gen
        # the reply pattern: to the Received's peer, generation and all
        self.c.send(rx.array, tag=4, peer=rx.peer, wait=True, timeout=5.0)
        self.assertEqual(self.c.recv(timeout=5.0, copy=True).peer.gen, 102)
        # "address:port" names the peer there now
        self.c.send(np.zeros(2, "float32"), peer="127.0.0.2:9001",
                    wait=True, timeout=5.0)
        self.assertEqual(self.c.recv(timeout=5.0, copy=True).peer, peers[1])

    def test_stale(self):
        gone = mw.Peer(1, "127.0.0.2", 9001, 100, True)  # the one before
        for peer in (gone, 1):
            ck = self.c.send(np.zeros(3, "float32"), tag=5, peer=peer,
                             timeout=5.0)
            with self.assertRaises(mw.SendFailed) as e:
                self.c.wait(ck, timeout=5.0)
            self.assertEqual(e.exception.code, mw.MW_ESTALE)
        # a configured peer's index needs no generation
        self.c.send(np.zeros(3, "float32"), peer=0, wait=True, timeout=5.0)
        self.assertEqual(self.c.recv(timeout=5.0, copy=True).peer.index, 0)
        self.assertEqual(mw.strerror(mw.MW_ESTALE),
                         "stale peer: its index names another peer now")


class Lifecycle(Base):
    def test_busy_and_missing(self):
        with self.assertRaises(mw.BusyError):
            mw.Client(self.name, timeout=1)
        with self.assertRaises(mw.NotFound):
            mw.Client(self.name + "-missing", timeout=1)
        junk = "/dev/shm/" + self.name + "-junk"
        with open(junk, "wb") as f:
            f.write(b"\x01" * 8192)
        self.addCleanup(os.unlink, junk)
        with self.assertRaises(mw.ABIError):
            mw.Client(self.name + "-junk", timeout=1)

    def test_context_manager(self):
        self.c.close()
        with mw.Client(self.name) as c:
            c.send(np.arange(3), tag=5, wait=True, timeout=5)
        self.assertTrue(c.closed)
        with mw.Client(self.name) as c:  # the lock was released
            c.info()

    def test_killed_client_reattach(self):
        self.c.close()
        child = textwrap.dedent(f"""
            import os, signal, numpy as np, maskwire as mw
            c = mw.Client({self.name!r})
            held = []
            for i in range(2):
                c.send(np.zeros(2048, np.float32), tag=i, timeout=5)
                held.append(c.recv(timeout=5))   # 2 slots each, kept
            c.alloc((1024,), "float32")          # a send buffer too
            print("holding", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
            """)
        p = subprocess.run([sys.executable, "-c", child], timeout=60,
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, -signal.SIGKILL, p.stderr)
        self.assertIn("holding", p.stdout)
        # a new client gets the whole RX pool back (8 slots of 4 KiB)
        with mw.Client(self.name, timeout=10) as c:
            x = np.arange(8 * 1024, dtype=np.float32)
            c.send(x, tag=9, wait=True, timeout=10)
            with c.recv(timeout=10) as rx:
                np.testing.assert_array_equal(rx.array, x)

    def test_dp_restart_detected(self):
        gen = self.c.info()["dp_generation"]
        self.lb.kill()
        with self.assertRaises(mw.ResetError):
            self.c.recv(timeout=60)   # an error, not a 60 s wait
        with self.assertRaises(mw.ResetError):
            self.c.check()
        self.lb = Loopback(self.name, *self.args)
        with self.assertRaises(mw.ResetError):
            self.c.send(np.zeros(1), timeout=0)
        self.c.close()
        self.c = mw.Client(self.name)
        self.assertNotEqual(self.c.info()["dp_generation"], gen)
        self.c.send(np.ones(2), tag=2, wait=True, timeout=5)
        self.assertEqual(self.c.recv(timeout=5, copy=True).tag, 2)
        self.lb.term()              # clean shutdown
        with self.assertRaises(mw.ShutdownError):
            self.c.recv(timeout=60)


if __name__ == "__main__":
    if not LOOPBACK:
        print("skipped: MW_LOOPBACK not set (run through meson test)")
        sys.exit(77)
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
