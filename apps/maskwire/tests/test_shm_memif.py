#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two maskwire data planes over net_memif, each serving a training process
through its shared-memory channel (--shm), and Python clients exchanging
tensors through them:

- round trips of several shapes, dtypes and codecs (numpy and torch; ms,
  ms-signed, topk, quant, dense, raw int64 labels and other raw dtypes),
  each delivered tensor equal to the codec's decode(encode(x)) as computed
  by maskwire-codec, in both directions; the link counters in the region;
- a full receive pool: the sender's app gets back-pressure (TryAgain), not
  loss; every tensor arrives, in order, once the receiver takes them;
- a client killed (SIGKILL) while holding a delivered buffer: the data
  plane reclaims it, a new client attaches and gets the tensor sent while
  nobody was attached;
- a data plane killed (SIGKILL) and restarted under the same name: the
  attached client gets ResetError (not a hang), a new client attaches to
  the new generation and traffic flows again; a data plane stopped with
  SIGTERM marks the region closed (ShutdownError).

Usage: test_shm_memif.py MASKWIRE MASKWIRE-CODEC   (env: MASKWIRE_LIB,
PYTHONPATH with python/). Exit 77 when it cannot run (not root, no numpy
or torch, binaries missing).
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import mwtest

try:
    import numpy as np
    import torch
except ImportError as e:
    mwtest.skip("needs numpy and torch (python3-numpy, python3-torch): %s" % e)
try:
    import maskwire
except ImportError as e:
    mwtest.skip("the maskwire Python package is not importable: %s" % e)

CODEC_CLI = sys.argv[2] if len(sys.argv) > 2 else "maskwire-codec"
T = 30.0  # seconds any single wait may take on a loaded 2-core machine
SLOTS = ["--shm-tx-slots", "64", "--shm-rx-slots", "64"]  # 4 MiB pools


def expected(run, x, codec, ratio=None, k=None, bits=None, rounding=None):
    """decode(encode(x)) by the codec's CLI (float32 codecs)."""
    src, enc, dec = run.path("x.npy"), run.path("x.mwt"), run.path("y.npy")
    np.save(src, np.ascontiguousarray(x, dtype=np.float32))
    cmd = [CODEC_CLI, "encode", "--codec", codec]
    if k:
        cmd += ["--k", str(k)]
    elif ratio is not None:
        cmd += ["--ratio", repr(ratio)]
    if bits:
        cmd += ["--bits", str(bits)]
    if rounding:
        cmd += ["--rounding", rounding]
    subprocess.run(cmd + [src, enc], check=True)
    subprocess.run([CODEC_CLI, "decode", enc, dec], check=True)
    return np.load(dec).reshape(x.shape)


def same_bits(a, b):
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and \
        a.tobytes() == b.tobytes()


def start_pair(run, names, sock, b_only=False, extra=()):
    """Data planes A (memif server) and B on regions names[0], names[1];
    extra: more arguments for both (fault injection, --deadline-ms)."""
    a = None
    if not b_only:
        a = run.start("A", "net_memif0,role=server,socket=%s,socket-abstract=no" % sock,
                      ["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--shm", names[0],
                       "--idle-yield", "--status-ms", "0"] + SLOTS + list(extra))
        run.wait_path(sock)
    b = run.start("B", "net_memif0,role=client,socket=%s,socket-abstract=no" % sock,
                  ["--ip", "10.0.0.2", "--peer", "10.0.0.1", "--shm", names[1],
                   "--idle-yield", "--status-ms", "0"] + SLOTS + list(extra))
    run.wait_path("/dev/shm/" + names[1])
    if a:
        run.wait_path("/dev/shm/" + names[0])
    return a, b


def round_trips(run, ca, cb):
    rng = np.random.default_rng(7)
    act = np.maximum(rng.standard_normal((64, 32, 14, 14)), 0).astype(np.float32)
    grad = torch.from_numpy(rng.standard_normal((64, 32, 14, 14)).astype(np.float32) * 1e-3)
    small = rng.random((3, 5, 7), dtype=np.float32) * 4
    labels = torch.randint(0, 10, (64,), dtype=torch.int64)
    cases = [
        # (sender, receiver, tensor, send kwargs, expected)
        ("A", act, dict(kind="activation", codec="ms", ratio=0.99, bits=2),
         lambda: expected(run, act, "ms", ratio=0.99, bits=2)),
        ("A", labels, dict(kind="labels", codec="raw"), lambda: labels.numpy()),
        ("B", grad, dict(kind="gradient", codec="ms-signed", ratio=0.99, bits=2),
         lambda: expected(run, grad.numpy(), "ms-signed", ratio=0.99, bits=2)),
        ("A", small, dict(kind="activation", codec="ms", k=9, bits=3),
         lambda: expected(run, small, "ms", k=9, bits=3)),
        ("A", small, dict(kind="other", codec="topk", k=20),
         lambda: expected(run, small, "topk", k=20)),
        ("B", small, dict(kind="other", codec="quant", bits=3),
         lambda: expected(run, small, "quant", bits=3)),
        ("B", torch.from_numpy(small).reshape(105), dict(kind="logits", codec="dense"),
         lambda: small.reshape(105)),
        ("A", rng.integers(0, 255, (17,), dtype=np.uint8), dict(kind="other"), None),
        ("B", rng.standard_normal((4, 4)), dict(kind="other"), None),  # float64 raw
        ("A", torch.randn(2, 3, 5).to(torch.float16), dict(kind="other"), None),
        ("B", np.array([True, False, True]), dict(kind="other"), None),
    ]
    peer = {"A": (ca, cb), "B": (cb, ca)}
    for tag, (side, x, kw, exp) in enumerate(cases, 100):
        src, dst = peer[side]
        cookie = src.send(x, tag=tag, timeout=T, **kw)
        with dst.recv(timeout=T) as rx:
            got = rx.tensor if isinstance(x, torch.Tensor) else rx.array
            want = exp() if exp else (x.numpy() if isinstance(x, torch.Tensor) else x)
            if isinstance(got, torch.Tensor):
                got = got.numpy()
            what = "%s->%s tag %d %s %s%s via %s" % (
                side, "B" if side == "A" else "A", tag, rx.kind, rx.dtype,
                list(rx.shape), rx.codec)
            mwtest.check(rx.tag == tag and rx.kind == kw["kind"] and
                         tuple(rx.shape) == tuple(x.shape), what + ": metadata")
            mwtest.check(same_bits(got, np.asarray(want)),
                         what + ": content equals decode(encode(x))")
        src.wait(cookie, timeout=T)
    return sum(c[0] == "A" for c in cases), sum(c[0] == "B" for c in cases)


def back_pressure(run, ca, cb):
    """The receiving app (cb) stops taking tensors; 1 MiB dense tensors fill
    its data plane's 4 MiB RX pool, then the sender's 4 MiB TX pool: the
    sending app (ca) gets TryAgain. Nothing is lost: the receiver then
    gets every one, in order, bit-exact."""
    x = np.arange(256 * 1024, dtype=np.float32)
    cookies = []
    try:
        for i in range(64):
            y = x + i
            cookies.append(ca.send(y, kind="other", tag=1000 + i, codec="dense",
                                   timeout=0))
            time.sleep(0.05)  # let the data planes move what they can
    except maskwire.TryAgain:
        pass
    n = len(cookies)
    mwtest.check(0 < n < 64, "sender got back-pressure (TryAgain) after %d tensors "
                 "with the receiver not taking any" % n)
    for i in range(n):
        with cb.recv(timeout=T) as rx:
            ok = rx.tag == 1000 + i and same_bits(rx.array, x + i)
        if not ok:
            mwtest.fail("tensor %d of the back-pressured stream is wrong" % i)
    mwtest.check(True, "receiver got all %d tensors, in order, bit-exact" % n)
    for c in cookies:
        ca.wait(c, timeout=T)
    mwtest.check(not ca.failures(), "every back-pressured send completed with status 0")


CHILD = textwrap.dedent("""
    import sys, time, maskwire
    c = maskwire.Client(sys.argv[1], timeout=30)
    rx = c.recv(timeout=30)          # held, never released
    print("holding", rx.tag, flush=True)
    time.sleep(600)
""")


def killed_client(run, ca, cb_name):
    """A client of cb_name holding a delivered buffer is SIGKILLed; its
    data plane reclaims the buffer, and a new client gets what ca sent
    while nobody was attached."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, cb_name],
                             stdout=subprocess.PIPE, text=True)
    try:
        ca.send(np.ones(1000, np.float32), kind="other", tag=2000, codec="dense",
                timeout=T)
        line = child.stdout.readline()
        mwtest.check(line.split() == ["holding", "2000"],
                     "a second process attached and holds tensor 2000 (%r)" % line)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=T)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # sent while nobody is attached: waits in the transport (no room)
    c1 = ca.send(np.full(1000, 2.0, np.float32), kind="other", tag=2001,
                 codec="dense", timeout=T)
    cb = maskwire.Client(cb_name, timeout=T)
    with cb.recv(timeout=T) as rx:
        mwtest.check(rx.tag == 2001 and same_bits(rx.array, np.full(1000, 2.0, np.float32)),
                     "a new client attached and got the tensor sent while none was")
    ca.wait(c1, timeout=T)
    info = cb.info()
    mwtest.check(info["held"] == 0 and info["app_gen"] >= 2,
                 "new attach generation %d" % info["app_gen"])
    return cb


def dp_restart(run, ca, cb, names, sock):
    """SIGKILL B's data plane: B's client gets ResetError; a restarted
    data plane re-creates the region with a new generation."""
    b = [p for p in run.procs if p.side == "B" and p.poll() is None][0]
    gen0 = cb.info()["dp_generation"]
    b.send_signal(signal.SIGKILL)
    b.wait(timeout=T)
    try:
        cb.recv(timeout=T)
        mwtest.fail("recv on a killed data plane returned")
    except maskwire.ResetError as e:
        mwtest.check(not isinstance(e, maskwire.ShutdownError),
                     "client of a killed data plane: %s" % e)
    try:
        cb.send(np.zeros(4, np.float32), timeout=1)
        mwtest.fail("send on a killed data plane succeeded")
    except maskwire.ResetError:
        mwtest.check(True, "the reset is sticky (send raises ResetError too)")
    cb.close()
    _, b2 = start_pair(run, names, sock, b_only=True)
    # the killed one's region stays until the new data plane replaces it
    deadline = time.monotonic() + T
    while True:
        try:
            cb = maskwire.Client(names[1], timeout=T)
            break
        except maskwire.ResetError:
            if time.monotonic() > deadline or b2.poll() is not None:
                run.dump_logs()
                mwtest.fail("the restarted data plane did not serve its region")
            time.sleep(0.1)
    gen1 = cb.info()["dp_generation"]
    mwtest.check(gen1 == gen0 + 1, "restarted data plane: generation %d -> %d"
                 % (gen0, gen1))
    # A's transport learns of B's new incarnation; sends that were in
    # flight across the restart are reported failed, not lost.
    x = np.linspace(0, 1, 5000, dtype=np.float32)
    for attempt in range(3):
        cookie = ca.send(x, kind="other", tag=3000 + attempt, codec="dense", timeout=T)
        try:
            ca.wait(cookie, timeout=T)
            break
        except maskwire.SendFailed as e:
            print("send across the restart failed (reported): %s" % e)
    with cb.recv(timeout=T) as rx:
        mwtest.check(same_bits(rx.array, x), "A -> restarted B works (tag %d)" % rx.tag)
    cookie = cb.send(x * 2, kind="other", tag=3100, codec="dense", timeout=T)
    with ca.recv(timeout=T) as rx:
        mwtest.check(rx.tag == 3100 and same_bits(rx.array, x * 2),
                     "restarted B -> A works")
    cb.wait(cookie, timeout=T)
    return cb, b2


def body(run):
    mwtest.require_root()
    names = [run.tag + "a", run.tag + "b"]
    mwtest.unlink_shm(names)
    sock = run.path("memif.sock")
    try:
        a, b = start_pair(run, names, sock)
        ca = maskwire.Client(names[0], timeout=T)
        cb = maskwire.Client(names[1], timeout=T)

        i0 = ca.info()
        n_a, n_b = round_trips(run, ca, cb)
        i1 = ca.info()
        mwtest.check(i1["wire_seq"] > i0["wire_seq"] and
                     i1["wire_tx_frames"] > i0["wire_tx_frames"] and
                     i1["wire_rx_bytes"] > i0["wire_rx_bytes"],
                     "link counters published (A: %d frames, %d bytes out)"
                     % (i1["wire_tx_frames"], i1["wire_tx_bytes"]))
        mwtest.check(i1["tensors_tx"] == n_a and i1["tensors_rx"] == n_b and
                     i1["tensors_failed"] == 0,
                     "A's tensor counters: %d sent, %d delivered"
                     % (i1["tensors_tx"], i1["tensors_rx"]))
        # one MS activation costs about 1/13 of its dense size on the wire
        x = np.maximum(np.random.default_rng(3).standard_normal((64, 32, 14, 14)),
                       0).astype(np.float32)
        ca.send(x, kind="activation", tag=500, codec="ms", ratio=0.99, bits=2,
                wait=True, timeout=T)
        cb.recv(timeout=T, copy=True)
        i2 = ca.info()
        out = i2["wire_tx_bytes"] - i1["wire_tx_bytes"]
        mwtest.check(0 < out < x.nbytes / 10,
                     "an MS activation took %d bytes of frames for %d dense"
                     % (out, x.nbytes))

        back_pressure(run, cb, ca)        # B -> A, A's RX pool fills
        ca.close()
        ca = killed_client(run, cb, names[0])
        cb, b = dp_restart(run, ca, cb, names, sock)

        # SIGTERM: the region is marked closed and removed
        b.send_signal(signal.SIGTERM)
        mwtest.check(run.wait(b, 60) == 0, "B exited 0 on SIGTERM")
        try:
            cb.recv(timeout=T)
            mwtest.fail("recv on a closed region returned")
        except maskwire.ShutdownError as e:
            mwtest.check(True, "client of a stopped data plane: %s" % e)
        mwtest.check(not os.path.exists("/dev/shm/" + names[1]),
                     "B removed its region")
        cb.close()
        ca.close()
        a.send_signal(signal.SIGTERM)
        mwtest.check(run.wait(a, 60) == 0, "A exited 0 on SIGTERM")
        mwtest.check(not os.path.exists("/dev/shm/" + names[0]),
                     "A removed its region")
        s = run.stats(a)["shm"]
        ch = s["channel"]
        mwtest.check(s["rx_no_room"] > 0,
                     "A's full RX pool was flow control (%d allocations "
                     "deferred)" % s["rx_no_room"])
        mwtest.check(ch["reclaimed"] >= 1 and ch["app_gone"] >= 2 and
                     ch["attaches"] >= 3,
                     "A reclaimed %d buffer(s) of a killed client "
                     "(%d attaches, %d gone)"
                     % (ch["reclaimed"], ch["attaches"], ch["app_gone"]))
        mwtest.check(s["deliver_errors"] == 0 and ch["bad_submits"] == 0 and
                     ch["bad_releases"] == 0 and ch["proto_errors"] == 0,
                     "A: no delivery errors, bad submits or releases")
    finally:
        mwtest.unlink_shm(names)


if __name__ == "__main__":
    mwtest.main(body)
