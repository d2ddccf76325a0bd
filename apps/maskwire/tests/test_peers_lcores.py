#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One server with two I/O lcores (--io-lcores 2) and N devices (argv[2],
default 4), each data plane in its own network namespace on a Linux
bridge, af_packet on veths. The server's port has Q queue pairs
(argv[3], default 2). Q=2: the kernel's fanout spreads flows over its
two RX queues, not knowing which lcore owns which peer; Q=1: lcore 0
receives every frame and sends lcore 1's (the software dispatcher). Every device sends G MS
activations to the server and the server G signed-MS gradients to every
device; every sink verifies every tensor bit-exactly. Checks: all of
them delivered, in order; each lcore owns every other peer (peer i on
lcore i % 2) and carried its own peers' tensors; frames that arrived on
the other lcore's queue were handed over (none lost: handoff_full 0);
the per-lcore and per-peer counters add up to the totals."""
import sys

import mwtest
import topo

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4
Q = int(sys.argv[3]) if len(sys.argv) > 3 else 2
G = 150
SHAPE = "16,64,4,4"


def body(run):
    t = topo.Topo(run, N, "af_packet")
    t.build()
    dev_args = ["--gen", str(G), "--shape", SHAPE, "--kind", "activation",
                "--sink", str(G), "--linger-ms", "1500"]
    devs = [t.start_device(i, dev_args) for i in range(N)]
    t.wait_running(devs)
    vdev = t.vdev(t.srv_if) + ",qpairs=%d" % Q
    srv = run.start("server", vdev,
                    ["--ip", topo.SERVER_IP, "--idle-yield", "--status-ms",
                     "2000", "--peers", t.peers_file(0), "--io-lcores", "2",
                     "--sink", str(N * G), "--gen", str(G),
                     "--shape", SHAPE, "--kind", "gradient",
                     "--linger-ms", "1500", "--link-wait-ms", "5000"],
                    netns=t.srv_ns)
    rc = run.wait(srv, 240)
    if rc != 0:
        run.dump_logs()
        mwtest.fail("server exited with %d" % rc)
    for d in devs:
        drc = run.wait(d, 60)
        if drc != 0:
            run.dump_logs()
            mwtest.fail("%s exited with %d" % (d.side, drc))
    s = run.stats(srv)
    k, net, gen = s["sink"], s["net"], s["gen"]
    peers, lcs = s["peers"], s["io_lcores"]
    c = mwtest.Checker()
    c.eq("server end", s["maskwire"]["end"], "done")
    c.eq("I/O lcores", len(lcs), 2)
    c.eq("server port queues (rx, tx)",
         (s["port"]["rxq"], s["port"]["txq"]), (Q, Q))
    c.eq("lcore 1's queues (rx, tx)", (lcs[1]["rxq"], lcs[1]["txq"]),
         (1, 1) if Q == 2 else (-1, -1))
    c.eq("server delivered every device's tensors", k["delivered"], N * G)
    c.eq("... verified bit-exactly", k["verified"], N * G)
    c.eq("mismatched", k["mismatched"], 0)
    c.eq("out of order", k["out_of_order"], 0)
    c.eq("server's gradients acknowledged", gen["done"], N * G)
    c.eq("server's gradients failed", gen["failed"], 0)
    for i, p in enumerate(peers):
        c.eq("peer %d's lcore" % i, p["lcore"], i % 2)
        c.eq("peer %d's tensors to the server" % i, p["tensors_rx"], G)
        c.eq("peer %d's tensors from the server" % i, p["tensors_tx_done"], G)
    for lc in lcs:
        mine = [p for p in peers if p["lcore"] == lc["index"]]
        c.eq("lcore %d's tensors are its peers'" % lc["index"],
             lc["tensors_rx"], sum(p["tensors_rx"] for p in mine))
        c.true("lcore %d carried tensors (%d)" % (lc["index"], lc["tensors_rx"]),
               lc["tensors_rx"] > 0)
        c.eq("lcore %d's inbox never full" % lc["index"], lc["handoff_full"], 0)
    if Q == 1:
        c.eq("lcore 1 received nothing from the port", lcs[1]["rx_frames"], 0)
        c.true("lcore 0 handed lcore 1 its peers' frames (%d)"
               % lcs[0]["handoff_out"], lcs[0]["handoff_out"] > 0)
    c.eq("frames put in inboxes (others' and own) = frames taken",
         sum(lc["handoff_out"] + lc["handoff_self"] for lc in lcs),
         sum(lc["handoff_in"] for lc in lcs))
    c.eq("lcores' frames add up", sum(lc["rx_frames"] for lc in lcs),
         net["rx_frames"])
    print("handoffs (out, self, in): %s"
          % [(lc["handoff_out"], lc["handoff_self"], lc["handoff_in"]) for lc in lcs])
    for i, d in enumerate(devs):
        ds = run.stats(d)
        c.true("device %d verified the server's %d tensors" % (i, G),
               ds["sink"]["delivered"] == G and ds["sink"]["verified"] == G)
    c.finish()


mwtest.main(body)
