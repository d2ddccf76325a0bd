#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One server and N devices (argv[2], default 4), each data plane in its
own network namespace on a Linux bridge, af_packet on veths (argv[3]:
af_xdp for net_af_xdp). The server is configured with a peers file of
64 peers: the N devices and 64 - N that never appear. Devices send MS
activations as fast as their windows allow until the test stops them all
at once (SIGTERM: they drain); the server, started last so that every
device starts within one ARP round of it, stops when its link is idle and
its sink verifies every tensor bit-exactly. Device 0 is killed
(SIGKILL) a third of the way in and restarted at half-time. Checks: no
mismatch, in order per peer; the per-peer counters add up to the totals;
the Jain index of the other devices' delivered tensors >= 0.95 and none
below 0.8x their mean; the server saw device 0 restart (its counter) and
device 0 delivered again after it. Everything is removed afterwards."""
import sys
import time

import mwtest
import topo

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4
PORT = sys.argv[3] if len(sys.argv) > 3 else "af_packet"
DURATION = 12 if N <= 4 else 24
CONFIGURED = 64
SHAPE = "16,64,4,4"


def body(run):
    t = topo.Topo(run, N, PORT)
    t.build()
    dev_args = ["--gen", "100000000", "--shape", SHAPE, "--kind", "activation",
                "--drain-ms", "200", "--linger-ms", "100"]
    devs = [t.start_device(i, dev_args) for i in range(N)]
    # The server last: every device's HELLO waits for its ARP answer, so
    # all start within one ARP round of the server.
    srv = t.start_server(["--peers", t.peers_file(CONFIGURED - N),
                          "--sink", "--idle-exit-ms", "1500",
                          "--link-wait-ms", "5000"])
    time.sleep(DURATION * 0.33 + 1.5)  # + the server's start
    mwtest.check(devs[0].poll() is None, "device 0 runs before its kill")
    topo.stop(devs[0], sig=9)
    time.sleep(DURATION * 0.17)
    devs.append(t.start_device(0, dev_args, side="dev0again"))
    time.sleep(DURATION * 0.5)
    for d in devs:
        if d.poll() is None:
            d.send_signal(15)
    for d in devs:
        topo.stop(d)
    rc = run.wait(srv, 60)
    if rc != 0:
        run.dump_logs()
        mwtest.fail("server exited with %d" % rc)
    s = run.stats(srv)
    k, net = s["sink"], s["net"]
    peers = s["peers"]
    c = mwtest.Checker()
    c.eq("server port driver", s["port"]["driver"], "net_" + PORT)
    c.eq("configured peers in the table", len(peers), CONFIGURED)
    c.eq("server end", s["maskwire"]["end"], "idle")
    c.true("server delivered and verified every tensor (%d)" % k["delivered"],
           k["delivered"] > 0 and k["verified"] == k["delivered"])
    c.eq("mismatched", k["mismatched"], 0)
    c.eq("out of order", k["out_of_order"], 0)
    c.eq("per-peer tensors add up", sum(p["tensors_rx"] for p in peers),
         net["tensors_rx"])
    c.eq("per-peer retransmissions add up", sum(p["retrans"] for p in peers),
         s["transport"]["retrans"])
    c.eq("per-peer frames add up to UDP from peers",
         sum(p["rx_frames"] for p in peers), net["rx_udp"] - net["rx_unknown_peer"])
    rx = [p["tensors_rx"] for p in peers[:N]]
    others = rx[1:]
    j = topo.jain(others)
    mean = sum(others) / len(others)
    print("per-device tensors delivered: %s; Jain of devices 1..%d: %.4f"
          % (rx, N - 1, j))
    c.true("Jain index of the devices not restarted %.4f >= 0.95" % j, j >= 0.95)
    c.true("no device below 0.8x the mean (%s vs %.0f)" % (others, mean),
           min(others) >= 0.8 * mean)
    c.true("absent peers got nothing", all(p["tensors_rx"] == 0 for p in peers[N:]))
    c.true("server saw device 0 restart (restarts %d)" % peers[0]["restarts"],
           peers[0]["restarts"] >= 1)
    a0 = run.stats(devs[-1])
    c.true("device 0 delivered again after its restart (%d acknowledged)"
           % a0["gen"]["done"], a0["gen"]["done"] > 0)
    c.true("device 0 lost only its own time (%d < %.0f)" % (rx[0], mean),
           rx[0] < mean)
    c.finish()


mwtest.main(body)
