#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Deadline delivery through two data planes (docs/PROTOCOL.md 9.1).

Two `maskwire` data planes joined by net_memif (--shm), each dropping 20%
of the frames it sends (--tx-drop, seeded) and sending the app's float
tensors with a 1 ms deadline (--deadline-ms): a retransmission after a
timeout (rto_min 1 ms) misses it, so some tensors come partial. For every
tensor B receives from A (dense, so the received part is exactly what was
sent): the elements the loss map names are zero, every other element is
bit-exact, .received_fraction and .elements_lost agree with the map, and
whole tensors have an empty map; A's client counts exactly as many of
its sends delivered partial (info()["sends_partial"]). Then the same
without loss and with a deadline of 10 s (a 1 ms deadline without loss
would test the machine's scheduling, not the protocol): nothing partial,
every loss map empty. On the lossy pair, tensors sent with
reliable=True (no deadline for them, Client.send) all arrive whole and
bit-exact, and none is reported partial to the sender.

Usage: test_deadline_memif.py MASKWIRE MASKWIRE-CODEC (env: MASKWIRE_LIB,
PYTHONPATH with python/ and apps/maskwire/tests/). Exit 77 when it cannot
run (not root, no numpy, binaries missing).
"""
import mwtest

try:
    import numpy as np
    import maskwire
except ImportError as e:
    mwtest.skip("needs numpy and the maskwire package: %s" % e)
import test_shm_memif  # start_pair()

T = 60.0
N = 40


def check_tensors(ca, cb, x, lossy):
    partial = 0
    sent0 = ca.info()["sends_partial"]
    cookies = [ca.send(x * (i + 1), kind="activation", tag=i, codec="dense",
                       timeout=T) for i in range(N)]
    for i in range(N):
        with cb.recv(timeout=T) as rx:
            want = x * (rx.tag + 1)
            got = rx.array.reshape(-1)
            mask = np.zeros(got.size, dtype=bool)
            if rx.partial:
                partial += 1
                mwtest.check(rx.loss_map is not None, "tag %d: loss map "
                             "passed on" % rx.tag)
                for off, cnt in rx.loss_map or []:
                    mask[off:off + cnt] = True
                lost = int(mask.sum())
                mwtest.check(lost == rx.elements_lost > 0 and
                             abs(rx.received_fraction -
                                 (1 - lost / got.size)) < 1e-12,
                             "tag %d: %d elements lost, fraction %.4f"
                             % (rx.tag, lost, rx.received_fraction))
            else:
                mwtest.check(rx.loss_map == [] and
                             rx.received_fraction == 1.0,
                             "tag %d: whole" % rx.tag)
            mwtest.check(np.all(got[mask] == 0) and
                         np.array_equal(got[~mask].view(np.uint32),
                                        want.reshape(-1)[~mask]
                                        .view(np.uint32)),
                         "tag %d: lost part zero, the rest bit-exact"
                         % rx.tag)
    for c in cookies:
        ca.wait(c, timeout=T)
    told = ca.info()["sends_partial"] - sent0
    mwtest.check(told == partial, "the sender was told %d partial, B got %d"
                 % (told, partial))
    if lossy:
        mwtest.check(partial > 0, "%d of %d tensors partial" % (partial, N))
    else:
        mwtest.check(partial == 0, "no loss: nothing partial")
    return partial


def check_reliable(ca, cb, x):
    sent0 = ca.info()["sends_partial"]
    cookies = [ca.send(x * (i + 1), kind="activation", tag=1000 + i,
                       codec="dense", timeout=T, reliable=True)
               for i in range(N)]
    for _ in range(N):
        with cb.recv(timeout=T) as rx:
            want = x * (rx.tag - 1000 + 1)
            mwtest.check(not rx.partial and rx.loss_map == [] and
                         np.array_equal(rx.array.reshape(-1).view(np.uint32),
                                        want.view(np.uint32)),
                         "reliable tag %d: whole, bit-exact" % rx.tag)
    for c in cookies:
        ca.wait(c, timeout=T)
    mwtest.check(ca.info()["sends_partial"] == sent0,
                 "reliable sends: none reported partial")


def body(run):
    mwtest.require_root()
    x = np.random.default_rng(5).standard_normal(16000).astype(np.float32) + 1
    for lossy in (True, False):
        names = [run.tag + "a%d" % lossy, run.tag + "b%d" % lossy]
        mwtest.unlink_shm(names)
        sock = run.path("memif%d.sock" % lossy)
        extra = ["--deadline-ms", "1" if lossy else "10000"]
        if lossy:
            extra += ["--tx-drop", "0.2", "--fault-seed", "3"]
        try:
            a, b = test_shm_memif.start_pair(run, names, sock, extra=extra)
            ca = maskwire.Client(names[0], timeout=T)
            cb = maskwire.Client(names[1], timeout=T)
            check_tensors(ca, cb, x, lossy)
            if lossy:
                check_reliable(ca, cb, x)
            ca.close()
            cb.close()
            for p in (b, a):
                p.send_signal(15)
                run.wait(p, 60)
        finally:
            mwtest.unlink_shm(names)


if __name__ == "__main__":
    mwtest.main(body)
