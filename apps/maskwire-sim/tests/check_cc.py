#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Congestion-control property tests through maskwire-sim --flows.

usage: check_cc.py SIM_BINARY CASE
CASE: lossy (goodput under random loss, retransmissions per loss),
queue (queueing delay at a deep bottleneck), fair (two flows' shares),
table (print the markdown table of docs/CC.md; asserts nothing).
Virtual time and seeded loss: the same arguments give the same numbers.
On failure the command line (with its seed) is printed.
"""
import sys

import simrun
from simrun import check

SIM = sys.argv[1]
# 1 Gbit/s, 1 ms base RTT (BDP 125 kB), a drop-tail queue of 4 BDPs,
# 20 MB per flow.
PATH = ["--bw-gbps", 1, "--delay-us", 500, "--queue-kb", 512,
        "--shape", 262144, "--tensors", 20]
LOSSES = (0.001, 0.01, 0.05, 0.1)
TARGET = {0.001: 0.9, 0.01: 0.9, 0.05: 0.85, 0.1: 0.75}
SEEDS = (1, 2, 3)


def run(cc, extra):
    return simrun.run(SIM, ["--cc", cc] + PATH + extra)[:3]


def flow(cc, loss=0.0, seed=1, flows=1, gap=0):
    cmd, rc, o = run(cc, ["--flows", flows, "--flow-gap-ms", gap,
                          "--loss", loss, "--seed", seed])
    check(o is not None and rc == 0 and o["ok"], cmd, "completes intact", o)
    return cmd, o


# Retransmissions per loss are counted over the seeds of a loss rate
# together: at 0.1% a run loses about ten packets, where one extra
# retransmission (a tail probe) alone would be 10%.
def case_lossy():
    _, base = flow("rate")
    for loss in LOSSES:
        retx = lost = 0
        for seed in SEEDS:
            cmd, o = flow("rate", loss, seed)
            if o is None:
                continue
            ratio = o["goodput_gbps"] / base["goodput_gbps"]
            check(ratio >= TARGET[loss], cmd,
                  "goodput %.3f of lossless, want >= %.2f" %
                  (ratio, TARGET[loss]), o)
            retx += o["retransmitted"]
            lost += o["data_lost_by_link"]
        check(lost > 0 and retx <= 1.1 * lost, cmd,
              "retransmitted / lost over seeds %s: %d / %d <= 1.1" %
              (SEEDS, retx, lost))


# docs/CC.md: after start-up one flow's queueing delay stays below half
# the min RTT (the delay target, a quarter of it, plus one probe's worth);
# with two flows starting together each one's delay signal also carries
# the other's probes: their 99th percentile stays below 3/5 of it.
def case_queue():
    for flows in (1, 2):
        cmd, o = flow("rate", flows=flows)
        if o is None:
            continue
        bound = o["base_rtt_us"] * (0.5 if flows == 1 else 0.6)
        key = "queue_delay_max_us" if flows == 1 else "queue_delay_p99_us"
        check(o[key] <= bound, cmd,
              "%s %.0f us <= %.0f us" % (key, o[key], bound), o)
        check(o["queue_drops"] == 0, cmd, "no queue drops", o)


def case_fair():
    for gap in (0, 2):
        for loss in (0, 0.01):
            cmd, o = flow("rate", loss, flows=2, gap=gap)
            if o is not None:
                check(o["jain"] >= 0.95, cmd,
                      "Jain index %.4f >= 0.95" % o["jain"], o)


def table_row(cc, loss):
    gps = [flow(cc, loss, s)[1] for s in (SEEDS if loss else (1,))]
    gps = [o for o in gps if o is not None]
    g = sum(o["goodput_gbps"] for o in gps) / len(gps)
    eff = max(o["retransmit_efficiency"] for o in gps)
    qd = max(o["queue_delay_p99_us"] for o in gps)
    return g, eff, qd


def case_table():
    print("| loss | rate Gbit/s | rate / lossless | reno Gbit/s | "
          "reno / lossless | rate retx/lost | rate p99 queue us | "
          "reno p99 queue us |")
    print("|---|---|---|---|---|---|---|---|")
    base = {cc: table_row(cc, 0.0) for cc in ("rate", "reno")}
    for loss in (0.0,) + LOSSES:
        r = table_row("rate", loss) if loss else base["rate"]
        n = table_row("reno", loss) if loss else base["reno"]
        print("| %g%% | %.3f | %.3f | %.3f | %.3f | %.3f | %.0f | %.0f |" %
              (loss * 100, r[0], r[0] / base["rate"][0], n[0],
               n[0] / base["reno"][0], r[1], r[2], n[2]))
    print()
    print("| flows | start gap ms | cc | Gbit/s each | Jain | "
          "p99 queue us | max queue us | queue drops |")
    print("|---|---|---|---|---|---|---|---|")
    for flows, gap in ((1, 0), (2, 0), (2, 2), (2, 5), (2, 20)):
        for cc in ("rate", "reno"):
            _, o = flow(cc, flows=flows, gap=gap)
            if o is None:
                continue
            print("| %d | %g | %s | %s | %s | %.0f | %.0f | %d |" %
                  (flows, gap, cc,
                   " / ".join("%.3f" % g for g in o["flow_goodput_gbps"]),
                   "%.4f" % o["jain"] if flows > 1 else "-",
                   o["queue_delay_p99_us"], o["queue_delay_max_us"],
                   o["queue_drops"]))


CASES = {"lossy": case_lossy, "queue": case_queue, "fair": case_fair,
         "table": case_table}

if __name__ == "__main__":
    CASES[sys.argv[2]]()
    if simrun.failures:
        print("%d check(s) failed" % simrun.failures)
        sys.exit(1)
