#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Reliable vs deadline delivery under loss (docs/EXPERIMENT.md).

Runs scripts/run-demo.sh (memif, activations MS, gradients signed MS
rounded to nearest unless --grad-codec says otherwise) for every loss rate
x mode x seed, collects the client's summaries and writes
docs/deadline.json, a table (printed, for docs/EXPERIMENT.md) and
docs/deadline.png (step-time p50/p99 and accuracy, mean with min-max).

usage: deadline_exp.py [--seeds 3] [--losses 0.05,0.1] [--deadline-ms 20]
       [--delay-ms 0]
       [--epochs 1] [--train-limit 3200] [--test-limit 1000] [--build DIR]
       [--cc reno|rate] [--grad-codec ms-signed|ms-signed-sr]
       deadline_exp.py --render docs/deadline.json
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def run_one(a, loss, deadline, seed):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [os.path.join(ROOT, "scripts", "run-demo.sh"), "--no-deps",
               "--build", a.build, "--epochs", str(a.epochs),
               "--train-limit", str(a.train_limit),
               "--test-limit", str(a.test_limit), "--loss", str(loss),
               "--deadline-ms", str(deadline), "--seed", str(seed),
               "--cc", a.cc, "--delay-ms", str(a.delay_ms),
               "--grad-codec", a.grad_codec, "--json", f.name]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        return json.load(open(f.name))


def stats(xs):
    m = sum(xs) / len(xs)
    return m, min(xs), max(xs)


def r_elems(rs):
    """Gradient elements per step (batch x 32 x 14 x 14, splitnet.py)."""
    return rs[0].get("grad_elems", 64 * 32 * 14 * 14)


WARMUP = 20  # steps left out of the "after warm-up" columns


def p99(xs):
    xs = sorted(xs)
    # numpy's default (linear) percentile, as splitlearn.py computes it
    pos = 0.99 * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def waits(res, keys):
    """The steps without the models' compute (splitlearn.py wait_ms: both
    transfers, both data planes, the client's backward pass), where the
    runs recorded it; the p99s also without the first WARMUP steps (a
    session's start: its handshake, the congestion controller's first
    round trips, first touches of memory), and each loss's p99 cuts,
    reliable / deadline."""
    if not all("wait_ms" in r for r in res):
        return
    print()
    print("| loss | delivery | runs | wait p50 ms | wait p99 ms | "
          "wait p99 after %d steps | step p99 after %d steps |" %
          (WARMUP, WARMUP))
    print("|---:|---|---:|---|---|---|---|")
    for r in res:
        r["wait_p99_warm"] = p99(r["wait_ms"][WARMUP:])
        r["step_p99_warm"] = p99(r["step_ms"][WARMUP:])
    for loss, dl in keys:
        rs = [r for r in res if r["loss"] == loss and r["deadline_ms"] == dl]
        mode = "deadline %d ms" % dl if dl else "reliable"
        print("| %g%% | %s | %d | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | "
              "%.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) |" % (
                  (100 * loss, mode, len(rs)) +
                  stats([r["wait_ms_p50"] for r in rs]) +
                  stats([r["wait_ms_p99"] for r in rs]) +
                  stats([r["wait_p99_warm"] for r in rs]) +
                  stats([r["step_p99_warm"] for r in rs])))
    print()
    for loss in sorted({k[0] for k in keys}):
        rel = [r for r in res if r["loss"] == loss and not r["deadline_ms"]]
        ddl = [r for r in res if r["loss"] == loss and r["deadline_ms"]]
        if not rel or not ddl:
            continue
        cut = [stats([r[key] for r in rel])[0] /
               stats([r[key] for r in ddl])[0]
               for key in ("step_ms_p99", "wait_ms_p99", "step_p99_warm",
                           "wait_p99_warm")]
        print("loss %g%%: p99 reliable / deadline: step %.2fx, without "
              "the models' compute %.2fx; after %d steps: step %.2fx, "
              "without the compute %.2fx" %
              (100 * loss, cut[0], cut[1], WARMUP, cut[2], cut[3]))


def render(res, out_png):
    rows = []
    keys = sorted({(r["loss"], r["deadline_ms"]) for r in res})
    print("| loss | delivery | runs | step p50 ms | step p99 ms | "
          "final test acc % | gradients partial | their elements lost |")
    print("|---:|---|---:|---|---|---|---:|---:|")
    for loss, dl in keys:
        rs = [r for r in res if r["loss"] == loss and r["deadline_ms"] == dl]
        p50 = stats([r["step_ms_p50"] for r in rs])
        p99 = stats([r["step_ms_p99"] for r in rs])
        acc = stats([100 * r["final_test_acc"] for r in rs])
        part = stats([r["partial_deliveries"] for r in rs])
        steps = sum(r["steps"] for r in rs)
        lost = sum(r["elements_lost"] for r in rs)
        mode = "deadline %d ms" % dl if dl else "reliable"
        print("| %g%% | %s | %d | %.1f (%.1f-%.1f) | %.1f (%.1f-%.1f) | "
              "%.2f (%.2f-%.2f) | %.1f of %d per run | %.2f%% |" % (
                  (100 * loss, mode, len(rs)) + p50 + p99 + acc +
                  (part[0], steps // len(rs),
                   100 * lost / max(1, steps * r_elems(rs)))))
        rows.append((loss, dl, p50, p99, acc))
    waits(res, keys)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(1, 2, figsize=(9, 3.5))
    for dl, mk in ((0, "o"), (max(k[1] for k in keys), "s")):
        sel = [r for r in rows if r[1] == dl]
        xs = [100 * r[0] for r in sel]
        lab = "deadline %d ms" % dl if dl else "reliable"
        for j, (idx, ls) in enumerate(((2, "--"), (3, "-"))):
            ys = [r[idx][0] for r in sel]
            err = [[r[idx][0] - r[idx][1] for r in sel],
                   [r[idx][2] - r[idx][0] for r in sel]]
            ax[0].errorbar(xs, ys, yerr=err, marker=mk, ls=ls, capsize=3,
                           label="%s %s" % (lab, ("p50", "p99")[j]))
        ax[1].errorbar(xs, [r[4][0] for r in sel],
                       yerr=[[r[4][0] - r[4][1] for r in sel],
                             [r[4][2] - r[4][0] for r in sel]],
                       marker=mk, capsize=3, label=lab)
    ax[0].set_xlabel("frame loss per data plane, %")
    ax[0].set_ylabel("training step time, ms")
    ax[0].legend(fontsize=7)
    ax[1].set_xlabel("frame loss per data plane, %")
    ax[1].set_ylabel("final test accuracy, %")
    ax[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--losses", default="0.05,0.1")
    ap.add_argument("--deadline-ms", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=3200)
    ap.add_argument("--test-limit", type=int, default=1000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--cc", default="reno", choices=["reno", "rate"],
                    help="the data planes' congestion controller")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="one-way delay each data plane adds (round trip "
                         "2x): an edge link's path")
    ap.add_argument("--grad-codec", default="ms-signed",
                    help="the gradients' codec (run-demo.sh --grad-codec; "
                         "the recorded grids are of ms-signed)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--render", metavar="JSON")
    a = ap.parse_args()
    if a.render:
        render(json.load(open(a.render)),
               os.path.join(a.out, "deadline.png"))
        return
    res = []
    for loss in [float(x) for x in a.losses.split(",")]:
        for seed in range(1, a.seeds + 1):
            for dl in (0, a.deadline_ms):
                r = run_one(a, loss, dl, seed)
                print("loss %g deadline %d seed %d: p50 %.1f p99 %.1f "
                      "acc %.3f partial %d" % (loss, dl, seed,
                      r["step_ms_p50"], r["step_ms_p99"],
                      r["final_test_acc"], r["partial_deliveries"]),
                      file=sys.stderr, flush=True)
                res.append({k: r[k] for k in (
                    "loss", "deadline_ms", "seed", "step_ms_p50",
                    "step_ms_p99", "wait_ms_p50", "wait_ms_p99",
                    "final_test_acc", "partial_deliveries",
                    "elements_lost", "wall_s", "epochs", "train_images",
                    "test_images", "step_ms", "wait_ms")})
                res[-1]["delay_ms"] = r.get("delay_ms", 0.0)
                res[-1]["cc"] = a.cc
                res[-1]["grad_codec"] = a.grad_codec
                res[-1]["steps"] = sum(h["steps"] for h in r["history"])
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "deadline.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    render(res, os.path.join(a.out, "deadline.png"))


if __name__ == "__main__":
    main()
