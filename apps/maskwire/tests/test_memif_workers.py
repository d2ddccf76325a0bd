#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Encode workers (--encode-workers, EAL -l 0,1): over net_memif, A and B
each send 150 tensors (MS one way, signed MS the other) with their
encodes done on their second lcore; every tensor is delivered and
verified, in order, and the workers did the encoding. Then A is stopped
by SIGTERM mid-stream with encodes out: every tensor it submitted is
reported done or failed, and it exits 0."""
import signal
import time

import mwtest

N = 150


def start(run, tag, role, ip, peer, sock, extra):
    return run.start(tag, "net_memif0,role=%s,socket=%s,socket-abstract=no"
                     % (role, sock),
                     ["--ip", ip, "--peer", peer, "--idle-yield",
                      "--status-ms", "500", "--encode-workers",
                      "--content-period", "1"] + extra)


def body(run):
    mwtest.require_root()
    mwtest.EAL_COMMON[:] = mwtest.EAL_COMMON + ["-l", "0,1"]
    sock = run.path("memif.sock")
    common = ["--sink", str(N), "--gen", str(N), "--shape", "16,64,16,16"]
    a = start(run, "A", "server", "10.0.0.1", "10.0.0.2", sock,
              ["--kind", "activation", "--linger-ms", "2500"] + common)
    run.wait_path(sock)
    b = start(run, "B", "client", "10.0.0.2", "10.0.0.1", sock,
              ["--kind", "gradient"] + common)
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    for side, s in (("A", sa), ("B", sb)):
        w = s["encode_workers"]
        print("%s: workers on lcores %s did %s jobs" % (side, w["lcores"],
                                                         w["jobs"]))
        mwtest.check(w["lcores"] == [1] and w["jobs"] == [N] and
                     w["taken"] == w["returned"] == N,
                     "%s: its worker encoded all %d tensors" % (side, N))
        mwtest.check(s["transport"]["encode_steps"] == 0,
                     "%s: the main lcore encoded nothing" % side)
    # SIGTERM with encodes out
    sock2 = run.path("memif2.sock")
    rx = start(run, "RX", "server", "10.0.0.1", "10.0.0.2", sock2, ["--sink"])
    run.wait_path(sock2)
    tx = start(run, "TX", "client", "10.0.0.2", "10.0.0.1", sock2,
               ["--gen", "1000000", "--shape", "64,64,32,32"])
    time.sleep(3)
    tx.send_signal(signal.SIGTERM)
    rc = run.wait(tx, 60)
    mwtest.check(rc == 0, "sender exited 0 after SIGTERM (rc %s)" % rc)
    s = run.stats(tx)
    g, w = s["gen"], s["encode_workers"]
    mwtest.check(g["submitted"] > 0 and
                 g["submitted"] == g["done"] + g["failed"],
                 "every submitted tensor finished or failed (%d = %d + %d)"
                 % (g["submitted"], g["done"], g["failed"]))
    mwtest.check(w["taken"] == w["returned"] > 0,
                 "every job came back (%d taken)" % w["taken"])
    rx.send_signal(signal.SIGTERM)
    mwtest.check(run.wait(rx, 60) == 0, "receiver exited 0")
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
