#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Hostile training processes against two real maskwire data planes over
net_memif (--shm, as test_shm_memif.py). docs/SHM.md promises that the
worst an app can do is send garbage of its own or get itself dropped:

- race: a client (mw-hostile) rewrites its TX buffer in a tight loop while
  the data plane encodes it, 300 sends across MS, top-k and dense. Every
  send gets an outcome (done, or failed with a reason), both data planes
  stay up, the receiving app gets exactly the ones that were done, and a
  well-behaved client on the same data plane then exchanges tensors
  bit-exact (decode(encode(x)) of maskwire-codec) in both directions;
- truncate: a client shrinks the region's file (to 0, to half) while
  tensors wait for it: the data plane survives, drops it, gives up what
  the region held, re-creates the region under the same name (next
  generation), and a new client is served; the JSON stats count it;
- restart: a data plane SIGKILLed leaves its region; a new one on the same
  name replaces it, also after the left region was truncated to 0;
- a name that holds a file which is not a region is refused (exit 2) and
  the file is left as it was.

Usage: test_shm_hostile.py MASKWIRE MASKWIRE-CODEC MW-HOSTILE (env:
MASKWIRE_LIB, PYTHONPATH with python/). In a sanitizer build meson sets
LD_PRELOAD (the sanitizer runtime, for libmaskwire in this interpreter);
it is taken out of the environment of every process started here, which
carry their own. Exit 77 when it cannot run.
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

PRELOAD = os.environ.pop("LD_PRELOAD", None)  # not for the data planes
if PRELOAD:  # this interpreter leaks by design; the data planes must not
    os.environ["ASAN_OPTIONS"] = "detect_leaks=1"

import mwtest  # noqa: E402
import test_shm_memif as shm  # noqa: E402  (numpy, maskwire, helpers)
from test_shm_memif import np, maskwire  # noqa: E402

HOSTILE = sys.argv[3] if len(sys.argv) > 3 else "mw-hostile"
T = 60.0
RACES = 300


def rng_tensor(seed, shape):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return np.maximum(x, 0) if seed % 2 else x


def exchange(run, src, dst, tag, what):
    """src sends MS, top-k, dense and raw tensors to dst; each arrives
    bit-exact (decode(encode(x)) for the float codecs)."""
    cases = [
        (dict(codec="ms", ratio=0.99, bits=2), dict(ratio=0.99, bits=2), "ms"),
        (dict(codec="topk", k=20), dict(k=20), "topk"),
        (dict(codec="dense"), None, "dense"),
        (dict(codec="raw"), None, None),
    ]
    for i, (kw, ekw, cli) in enumerate(cases):
        if cli is None:
            x = np.arange(64, dtype=np.int64) * (tag + i)
        else:
            x = rng_tensor(tag + i, (32, 7, 9))
        cookie = src.send(x, kind="other", tag=tag + i, timeout=T, **kw)
        with dst.recv(timeout=T) as rx:
            want = shm.expected(run, x, cli, **ekw) if ekw else x
            if not (rx.tag == tag + i and shm.same_bits(rx.array, want)):
                run.dump_logs()
                mwtest.fail("%s: %s tag %d arrived as tag %d, %s" % (
                    what, kw["codec"], tag + i, rx.tag,
                    "equal" if shm.same_bits(rx.array, want) else "different"))
        src.wait(cookie, timeout=T)
    mwtest.check(True, "%s: ms, topk, dense, raw bit-exact" % what)


class Drain(threading.Thread):
    """Takes (and releases) whatever the client receives until stopped."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.n, self.stop = client, 0, False

    def run(self):
        while not self.stop:
            try:
                with self.client.recv(timeout=0.2):
                    self.n += 1
            except maskwire.Timeout:
                pass
            except maskwire.MaskwireError as e:  # its data plane died
                print("drain: %s" % e, flush=True)
                return


def alive(run, *procs):
    for p in procs:
        if p.poll() is not None:
            run.dump_logs()
            mwtest.fail("data plane %s died (exit %s)" % (p.side, p.returncode))


def attach_new(run, name, gen_after, dp):
    """A client of the region name once its generation is above
    gen_after (the data plane re-created or restarted it)."""
    deadline = time.monotonic() + T
    while True:
        try:
            c = maskwire.Client(name, timeout=T)
            if c.info()["dp_generation"] > gen_after:
                return c
            c.close()
        except (maskwire.ResetError, maskwire.ABIError, maskwire.NotFound,
                maskwire.BusyError):
            pass
        if time.monotonic() > deadline or dp.poll() is not None:
            run.dump_logs()
            mwtest.fail("no new region %s after generation %d (data plane %s: %s)"
                        % (name, gen_after, dp.side,
                           "alive" if dp.poll() is None
                           else "exit %d" % dp.returncode))
        time.sleep(0.05)


def race(run, ca, b, names):
    """B's app rewrites its buffers while B encodes them; A's app takes
    what arrives."""
    drain = Drain(ca)
    drain.start()
    p = subprocess.run([HOSTILE, "race", names[1], str(RACES)],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=600)
    print(p.stdout.strip(), flush=True)
    alive(run, *run.procs)
    m = re.search(r"race: (\d+) sent, ok (\d+), failed (\d+)", p.stdout)
    mwtest.check(p.returncode == 0 and m and int(m.group(1)) == RACES,
                 "%d racing sends, each with an outcome (exit %d)"
                 % (RACES, p.returncode))
    ok, failed = int(m.group(2)), int(m.group(3))
    mwtest.check(ok + failed == RACES, "%d done, %d failed with a reason"
                 % (ok, failed))
    deadline = time.monotonic() + T
    while drain.n < ok and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # nothing more may come
    drain.stop = True
    drain.join()
    mwtest.check(drain.n == ok, "A's app received the %d done (got %d)"
                 % (ok, drain.n))
    cb = maskwire.Client(names[1], timeout=T)
    deadline = time.monotonic() + T
    while True:  # the counters are published on change, soon
        i = cb.info()
        if i["tensors_tx"] + i["tensors_failed"] == RACES or \
                time.monotonic() > deadline:
            break
        time.sleep(0.05)
    mwtest.check(i["tensors_tx"] == ok and i["tensors_failed"] == failed,
                 "B's counters: %d sent, %d failed"
                 % (i["tensors_tx"], i["tensors_failed"]))
    return cb


def truncation(run, ca, cb, b, names, size, label):
    """A hostile client of B's region shrinks its file while two tensors
    from A wait in it."""
    gen0 = cb.info()["dp_generation"]
    cb.close()
    h = subprocess.Popen([HOSTILE, "truncate", names[1], str(size)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    try:
        mwtest.check(h.stdout.readline().strip() == "attached",
                     "truncate %s: the hostile client attached" % label)
        for i in range(2):  # delivered to it, never taken
            ca.send(rng_tensor(i, (100,)), kind="other", tag=7000 + i,
                    codec="dense", wait=True, timeout=T)
        h.stdin.write("go\n")
        h.stdin.flush()
        mwtest.check(h.stdout.readline().strip() == "truncated",
                     "truncate %s: region file shrunk to %d bytes" % (label, size))
        cb = attach_new(run, names[1], gen0, b)
        alive(run, *run.procs)
        mwtest.check(cb.info()["dp_generation"] == gen0 + 1,
                     "truncate %s: B alive, region re-created (generation %d)"
                     % (label, gen0 + 1))
    finally:
        h.kill()
        h.wait()
    exchange(run, ca, cb, 7100, "truncate %s: A -> new client" % label)
    exchange(run, cb, ca, 7200, "truncate %s: new client -> A" % label)
    return cb


def restart(run, ca, cb, names, sock, truncate):
    """SIGKILL B: its region stays; a new B on the same name replaces it
    (after it was truncated to 0, too)."""
    b = [p for p in run.procs if p.side == "B" and p.poll() is None][0]
    gen0 = cb.info()["dp_generation"]
    cb.close()
    b.send_signal(signal.SIGKILL)
    b.wait(timeout=T)
    path = "/dev/shm/" + names[1]
    mwtest.check(os.path.exists(path), "a SIGKILLed data plane leaves its region")
    if truncate:
        os.truncate(path, 0)
    _, b2 = shm.start_pair(run, names, sock, b_only=True)
    cb = attach_new(run, names[1], 0 if truncate else gen0, b2)
    mwtest.check(b2.poll() is None, "a new B replaced the %s region (generation %d)"
                 % ("truncated" if truncate else "left", cb.info()["dp_generation"]))
    # A's transport learns of B's new incarnation: what it had in flight
    # across the restart is reported failed, then sends go through
    x = np.ones(10, np.float32)
    for attempt in range(5):
        cookie = ca.send(x, kind="other", tag=8900 + attempt, codec="dense",
                         timeout=T)
        try:
            ca.wait(cookie, timeout=T)
            break
        except maskwire.SendFailed as e:
            print("send across the restart failed (reported): %s" % e)
    with cb.recv(timeout=T) as rx:
        mwtest.check(rx.tag == 8900 + attempt, "A -> restarted B: tag %d" % rx.tag)
    exchange(run, ca, cb, 8000 + 100 * truncate, "restarted B")
    exchange(run, cb, ca, 8200 + 100 * truncate, "restarted B, back")
    return cb, b2


def not_a_region(run):
    """A mistyped --shm: a file that is not a region is never replaced."""
    for content in (b"precious", b""):
        path = run.path("not-a-region")
        with open(path, "wb") as f:
            f.write(content)
        p = subprocess.run([run.binary] + mwtest.EAL_COMMON + [
            "--file-prefix", run.prefix("X"), "--vdev=net_null0", "--",
            "--ip", "10.0.0.3", "--peer", "10.0.0.4", "--shm", path,
            "--key", run.keyfile()],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            timeout=60)
        with open(path, "rb") as f:
            kept = f.read() == content
        mwtest.check(p.returncode == 2 and "not a region" in p.stdout and kept,
                     "--shm on a %s file that is not a region: refused, "
                     "file kept" % ("non-empty" if content else "empty"))


def body(run):
    mwtest.require_root()
    if not os.access(HOSTILE, os.X_OK):
        mwtest.skip("mw-hostile not built: " + HOSTILE)
    names = [run.tag + "a", run.tag + "b"]
    mwtest.unlink_shm(names)
    sock = run.path("memif.sock")
    try:
        a, b = shm.start_pair(run, names, sock)
        ca = maskwire.Client(names[0], timeout=T)

        cb = race(run, ca, b, names)
        exchange(run, cb, ca, 500, "after the race: B's new client -> A")
        exchange(run, ca, cb, 600, "after the race: A -> B's new client")

        info = cb.info()
        cb = truncation(run, ca, cb, b, names, 0, "to 0")
        cb = truncation(run, ca, cb, b, names, info["region_size"] // 2, "to half")

        # B stops cleanly: stats written, EAL runtime dir removed
        cb.close()
        b.send_signal(signal.SIGTERM)
        mwtest.check(run.wait(b, 60) == 0, "B exited 0 on SIGTERM")
        s = run.stats(b)["shm"]
        ch = s["channel"]
        print(json.dumps(s), flush=True)
        mwtest.check(s["rejected"] + s["failed"] >= 1 and
                     s["done"] + s["rejected"] + s["failed"] >= RACES,
                     "B: %d racing sends done, %d rejected, %d failed"
                     % (s["done"], s["rejected"], s["failed"]))
        mwtest.check(ch["broken"] == 2 and ch["recreated"] == 2 and
                     ch["faults"] >= 1 and ch["generation"] == 3,
                     "B: region broken twice (%d by SIGBUS), re-created twice"
                     % ch["faults"])
        mwtest.check(ch["reclaimed"] + ch["rx_lost"] >= 4,
                     "B: the 4 tensors left in broken regions were given up")
        with open(b.logf) as f:
            mwtest.check(f.read().count("its file was resized") == 2,
                         "B logged both")
        mwtest.check(not os.path.exists("/var/run/dpdk/" + run.tag + "B"),
                     "B removed its EAL runtime directory")

        _, b = shm.start_pair(run, names, sock, b_only=True)
        cb = attach_new(run, names[1], 0, b)
        cb, b = restart(run, ca, cb, names, sock, truncate=False)
        cb, b = restart(run, ca, cb, names, sock, truncate=True)
        not_a_region(run)

        cb.close()
        ca.close()
        for p in (b, a):
            p.send_signal(signal.SIGTERM)
            mwtest.check(run.wait(p, 60) == 0, "%s exited 0 on SIGTERM" % p.side)
    finally:
        mwtest.unlink_shm(names)


if __name__ == "__main__":
    mwtest.main(body)
