#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Cut-through between real data planes (docs/DATAPLANE.md) over
net_memif, plain mode and then secure (encrypt, the default): A sends 40 MS activations in lockstep ([32,64,32,32], 2M
elements: 32 encode steps of 65536), B answers each with a signed-MS
gradient (--respond). Nothing else waits to be sent when each encode
starts, so:

- with the default (--cut-through on): both sides send segments while
  the encode runs (counter cut_through_tx > 0 each side), nothing fails
  (cut_through_failed 0), every tensor arrives bit-exact;
- with --cut-through off on both: cut_through_tx stays 0, and the same
  tensors arrive bit-exact;
- secure mode with the default: the same as the first, every segment
  sealed as it leaves.

Run time is not asserted (docs/BENCH.md measures it)."""
import mwtest

N = 40
SHAPE = "32,64,32,32"


def run_pair(run, sock, extra, plain=True):
    path = run.path(sock)
    common = ["--shape", SHAPE, "--ratio", "0.99", "--bits", "2",
              "--content-period", "1", "--status-ms", "0",
              "--idle-yield"] + (["--plain"] if plain else []) + extra
    b = run.start("B", "net_memif0,role=server,socket=%s,socket-abstract=no"
                  % path, ["--ip", "10.0.0.2", "--peer", "10.0.0.1",
                           "--respond", "--sink", str(N), "--codec",
                           "ms-signed", "--kind", "gradient",
                           "--linger-ms", "1500"] + common)
    run.wait_path(path)
    a = run.start("A", "net_memif0,role=client,socket=%s,socket-abstract=no"
                  % path, ["--ip", "10.0.0.1", "--peer", "10.0.0.2",
                           "--gen", str(N), "--sink", str(N), "--lockstep",
                           "--codec", "ms", "--kind", "activation"] + common)
    out = []
    for p in (a, b):
        rc = run.wait(p, 240)
        if rc != 0:
            run.dump_logs()
            mwtest.fail("maskwire %s exited with %d" % (p.side, rc))
        out.append(run.stats(p))
    sa, sb = out
    mwtest.check(sa["sink"]["verified"] == N and sb["sink"]["verified"] == N,
                 "every tensor bit-exact both ways (%d, %d of %d)"
                 % (sa["sink"]["verified"], sb["sink"]["verified"], N))
    mwtest.check(sa["gen"]["failed"] == 0, "A: nothing failed")
    for side, s in (("A", sa), ("B", sb)):
        t = s["transport"]
        mwtest.check(t["tensors_failed"] == 0 and
                     t["cut_through_failed"] == 0,
                     "%s: no tensor failed" % side)
    return sa["transport"], sb["transport"]


def body(run):
    mwtest.require_root()
    ta, tb = run_pair(run, "on.sock", [])
    print("on: A cut through %d of %d tensors, B %d of %d"
          % (ta["cut_through_tx"], N, tb["cut_through_tx"], N))
    mwtest.check(ta["cut_through"] is True and tb["cut_through"] is True,
                 "on by default")
    mwtest.check(ta["cut_through_tx"] > 0 and tb["cut_through_tx"] > 0,
                 "both sides sent segments while encoding")
    fa, fb = run_pair(run, "off.sock", ["--cut-through", "off"])
    print("off: A %d, B %d" % (fa["cut_through_tx"], fb["cut_through_tx"]))
    mwtest.check(fa["cut_through"] is False and fb["cut_through_tx"] == 0 and
                 fa["cut_through_tx"] == 0, "--cut-through off: none")
    sa, sb = run_pair(run, "secure.sock", [], plain=False)
    print("secure: A cut through %d of %d tensors, B %d of %d"
          % (sa["cut_through_tx"], N, sb["cut_through_tx"], N))
    mwtest.check(sa["security"] == "encrypt" and sb["security"] == "encrypt",
                 "secure mode")
    mwtest.check(sa["cut_through_tx"] > 0 and sb["cut_through_tx"] > 0,
                 "both sides sent segments while encoding, sealed")
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
