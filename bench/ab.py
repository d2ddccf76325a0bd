#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two maskwire builds side by side, run by run interleaved (the order
alternating), with the same codec over kernel TCP (this build's
maskwire-bench-tcp) in the same rounds: the training step (MS up,
signed MS down, lockstep) or a fixed offered rate of MS tensors,
64x64x32x32, net_memif, the settings of bench/run.py.

    bench/ab.py --base OTHER_BUILD/apps/maskwire/maskwire \\
        [--build DIR] [--mode step|RATE] [--reps N] [--warmup N]

Prints each run and the medians of the p50 latencies (step time, or
submit-to-delivery at RATE tensors/s). Needs root (DPDK vdevs, a veth
pair in namespaces for TCP). Exit 77 when it cannot run.
"""
import argparse
import os
import statistics
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as R  # noqa: E402


def bench(maskwire, tcp, out):
    return R.Bench(types.SimpleNamespace(
        maskwire=maskwire, tcp=tcp, keep_tmp=False, out=out, quick=False,
        smoke=False, reps=1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True,
                    help="the other build's maskwire binary")
    ap.add_argument("--build", default=os.path.join(R.REPO, "build"))
    ap.add_argument("--mode", default="step",
                    help="step, or a fixed offered rate in tensors/s")
    ap.add_argument("--reps", type=int, default=4)
    ap.add_argument("--warmup", type=int, default=0,
                    help="tensors sent first and left out of the latency "
                    "figures (both builds must have --warmup)")
    ap.add_argument("--out", default="out/ab")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/ab.py: needs root", file=sys.stderr)
        return 77
    mw = os.path.join(a.build, "apps/maskwire/maskwire")
    tcp = os.path.join(a.build, "bench/maskwire-bench-tcp")
    for p in (mw, tcp, a.base):
        if not os.access(p, os.X_OK):
            print("bench/ab.py: %s: not built" % p, file=sys.stderr)
            return 77
    this, base = bench(mw, tcp, a.out), bench(a.base, tcp, a.out)
    this.setup_netns()
    base.seq = 1000  # distinct DPDK file prefixes
    shape = (64, 64, 32, 32)
    kw = {"count": 25, "respond": True} if a.mode == "step" else \
        {"count": 200, "rate": float(a.mode)}
    kw["warmup"] = a.warmup
    runs = {"this": [], "base": [], "tcp": []}
    try:
        for i in range(a.reps):
            for name in (("base", "this") if i % 2 == 0 else
                         ("this", "base")):
                b = this if name == "this" else base
                runs[name].append(b.maskwire(shape, "ms", **kw))
            runs["tcp"].append(this.tcp(shape, "ms", **kw))
            for name in ("base", "this", "tcp"):
                m = runs[name][-1]
                print("%d %-4s %s" % (i + 1, name, "failed" if not m else
                      "p50 %.2f ms p99 %.2f ms %.1f tensors/s" % (
                          m["lat_p50_ms"], m["lat_p99_ms"],
                          m["tensors_per_s"])), flush=True)
    finally:
        this.cleanup()
        base.cleanup()
    med = {}
    for name, ms in runs.items():
        v = [m["lat_p50_ms"] for m in ms if m]
        med[name] = statistics.median(v) if v else None
        print("%-4s p50 median %s of %d runs" % (
            name, "%.2f ms" % med[name] if v else "-", len(v)))
    if med["this"] and med["base"] and med["tcp"]:
        print("this/base %.2fx, this/tcp %.2fx, base/tcp %.2fx" % (
            med["this"] / med["base"], med["this"] / med["tcp"],
            med["base"] / med["tcp"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
