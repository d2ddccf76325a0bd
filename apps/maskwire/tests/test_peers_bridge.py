#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One server and N devices (argv[2], default 4), each data plane in its
own network namespace on a Linux bridge, af_packet on veths (argv[3]:
af_xdp for net_af_xdp). The server is configured with a peers file of
64 peers: the N devices and 64 - N that never appear. Devices send MS
activations, and the server signed-MS gradients to all 64, as fast as
the windows allow until the test stops the devices all at once (SIGTERM:
they drain); the server, started last so that every device starts within
one ARP round of it, stops when its link is idle. Every sink verifies
every tensor bit-exactly. Device 0 is killed
(SIGKILL) a third of the way in and restarted at half-time. Checks: no
mismatch, in order per peer; the per-peer counters add up to the totals;
the Jain index of the other devices' delivered tensors >= 0.95 and none
below 0.8x their mean, both ways (device to server: each device's own
sender; server to devices: the server's round-robin between peers, with
60 absent peers in the table); the server's counters show device 0's restart (a new incarnation, or
its session timed out first) and device 0 delivered again after it. Everything is removed afterwards."""
import re
import sys
import time

import mwtest
import topo

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4
PORT = sys.argv[3] if len(sys.argv) > 3 else "af_packet"
DURATION = 12 if N <= 4 else 24
CONFIGURED = 64
SHAPE = "16,64,4,4"


def wait_done(run, p, n, timeout):
    """Wait until device p's status line says it had n tensors
    acknowledged (the machine may be slow to start it)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        with open(p.logf) as f:
            done = [int(x) for x in re.findall(r" done (\d+)", f.read())]
        if done and done[-1] >= n:
            return
        if p.poll() is not None:
            break
        time.sleep(0.2)
    run.dump_logs()
    mwtest.fail("%s: not %d tensors acknowledged within %d s" % (p.side, n, timeout))


def body(run):
    t = topo.Topo(run, N, PORT)
    t.build()
    dev_args = ["--gen", "100000000", "--shape", SHAPE, "--kind", "activation",
                "--drain-ms", "200", "--linger-ms", "100", "--sink"]
    devs = [t.start_device(i, dev_args) for i in range(N)]
    t.wait_running(devs)
    # The server last: every device's HELLO waits for its ARP answer, so
    # all start within one ARP round of the server.
    srv = t.start_server(["--peers", t.peers_file(CONFIGURED - N),
                          "--sink", "--idle-exit-ms", "1500",
                          "--gen", "100000000", "--shape", SHAPE,
                          "--kind", "gradient", "--drain-ms", "300",
                          "--link-wait-ms", "5000"])
    wait_done(run, devs[0], 50, 60)
    time.sleep(DURATION * 0.33)
    mwtest.check(devs[0].poll() is None, "device 0 runs before its kill")
    topo.stop(devs[0], sig=9)
    time.sleep(DURATION * 0.17)
    devs.append(t.start_device(0, dev_args, side="dev0again"))
    wait_done(run, devs[-1], 50, 60)
    time.sleep(DURATION * 0.33)
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
    for way, key in (("to the server", "tensors_rx"),
                     ("from the server", "tensors_tx_done")):
        xs = [p[key] for p in peers[1:N]]
        j, mean = topo.jain(xs), sum(xs) / len(xs)
        print("%s: tensors of devices 1..%d: %s; Jain %.4f" % (way, N - 1, xs, j))
        c.true("%s: Jain index of the devices not restarted %.4f >= 0.95"
               % (way, j), j >= 0.95)
        c.true("%s: no device below 0.8x the mean (min %d, mean %.0f)"
               % (way, min(xs), mean), min(xs) >= 0.8 * mean)
    rx = [p["tensors_rx"] for p in peers[:N]]
    mean = sum(rx[1:]) / (N - 1)
    # A device stopping closes its session while the server still sends:
    # the server's tensors in flight to it fail (counted at the server),
    # and the server's next one may open a new session in the device's
    # last milliseconds: its sink may then see one jump in tags, after
    # tensors the server was told had failed.
    for i, d in enumerate(devs[1:N], 1):
        ds, failed = run.stats(d)["sink"], peers[i]["tensors_tx_failed"]
        c.true("device %d verified the server's %d tensors bit-exactly, in order "
               "but for its close (out of order %d; the server failed %d to it)"
               % (i, ds["delivered"], ds["out_of_order"], failed),
               ds["delivered"] > 0 and ds["verified"] == ds["delivered"]
               and ds["mismatched"] == 0
               and (ds["out_of_order"] == 0 or (ds["out_of_order"] == 1 and failed)))
    c.true("absent peers got nothing", all(p["tensors_rx"] == 0 for p in peers[N:]))
    # The server sees the new incarnation (restarts), or, when its own
    # tensors to the dead device spent their retry budget first, the
    # session's end (sessions_closed) and then a new session.
    c.true("server's counters show device 0's restart (restarts %d, sessions "
           "closed %d)" % (peers[0]["restarts"], peers[0]["sessions_closed"]),
           peers[0]["restarts"] + peers[0]["sessions_closed"] >= 1)
    a0 = run.stats(devs[-1])
    c.true("device 0 delivered again after its restart (%d acknowledged, "
           "%d received, %d mismatched)" % (a0["gen"]["done"], a0["sink"]["delivered"],
                                           a0["sink"]["mismatched"]),
           a0["gen"]["done"] > 0 and a0["sink"]["delivered"] > 0
           and a0["sink"]["mismatched"] == 0)
    c.true("device 0 lost only its own time (%d < %.0f)" % (rx[0], mean),
           rx[0] < mean)
    c.finish()


mwtest.main(body)
