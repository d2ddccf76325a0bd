#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two maskwire processes over net_memif move 1000 MS tensors each way
(shape [16,64,8,8], MS r=0.9 b=2: about 34 frames a tensor) with 5% loss,
5% reordering and 2% duplication injected on every transmitted frame, both
sides; every delivered tensor is verified bit-exactly by the sink. Secure
mode (the default), with compact DATA (PROTOCOL.md 5.6): every segment
after a tensor's fourth goes with the short header, sealed."""
import mwtest

N = 1000
SHAPE = "16,64,8,8"


def body(run):
    mwtest.require_root()
    sock = run.path("memif.sock")
    common = ["--gen", str(N), "--sink", str(N), "--shape", SHAPE,
              "--codec", "ms", "--ratio", "0.9", "--bits", "2",
              "--tx-drop", "0.05", "--reorder", "0.05", "--dup", "0.02",
              "--idle-yield", "--status-ms", "5000"]
    # The server (started first) lingers longer, so it exits last.
    a = run.start("A", "net_memif0,role=server,socket=%s,socket-abstract=no" % sock,
                  ["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--fault-seed", "11",
                   "--linger-ms", "2500"] + common)
    run.wait_path(sock)
    b = run.start("B", "net_memif0,role=client,socket=%s,socket-abstract=no" % sock,
                  ["--ip", "10.0.0.2", "--peer", "10.0.0.1", "--fault-seed", "22"] + common)
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=True)
    for side, s in (("A", sa), ("B", sb)):
        lost = s["fault"]["tx"]["dropped"]
        t = s["transport"]
        print("%s: frames lost by injection %d, segments retransmitted %d, "
              "compact DATA sent %d / taken %d, no_descriptor %d"
              % (side, lost, t["retrans"], t["data_tx_compact"],
                 t["data_rx_compact"], t["drop"]["no_descriptor"]))
        mwtest.check(t["compact"] is True and t["security"] == "encrypt",
                     "%s: secure mode with compact DATA" % side)
        mwtest.check(t["data_tx_compact"] > 0 and t["data_rx_compact"] > 0,
                     "%s: compact DATA sent and taken" % side)
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")
    mwtest.print_stats("A (lossy memif)", sa)


mwtest.main(body)
