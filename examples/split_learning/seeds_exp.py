#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The codec comparison over several seeds (docs/EXPERIMENT.md).

Runs scripts/run-demo.sh (two data planes over memif, no loss) for each
codec pair x seed: dense/dense, MS/signed MS and top-k at MS's bytes with
signed-MS gradients, and prints a table of final test accuracy (mean and
min-max over the seeds) and wire bytes; the runs go to a JSON file.

usage: seeds_exp.py [--seeds 1,2,3] [--epochs 2] [--train-limit 12800]
       [--test-limit 2000] [--build DIR] [--json docs/seeds.json]
       [--pairs dense,ms,topk-eq,ms-dense,dense-sms,ms-sms4,ms-sr] [--append]
       seeds_exp.py --render docs/seeds.json
"""
import argparse
import json
import os
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# (key for --pairs, activation codec, gradient codec, row name); the
# default rows are the first three, the others split MS's cost between
# the two directions and try wider gradient codes.
PAIRS = [("dense", "dense", "dense", "dense / dense"),
         ("ms", "ms", "ms-signed", "MS / signed MS (r=0.99, b=2)"),
         ("topk-eq", "topk-eq", "ms-signed",
          "top-k at MS's bytes / signed MS"),
         ("ms-dense", "ms", "dense", "MS / dense"),
         ("dense-sms", "dense", "ms-signed", "dense / signed MS"),
         ("ms-sms4", "ms", "ms-signed:0.99:4",
          "MS / signed MS (r=0.99, b=4)"),
         ("ms-sr", "ms", "ms-signed-sr",
          "MS / signed MS, stochastic rounding (r=0.99, b=2)")]
DEFAULT_PAIRS = "dense,ms,topk-eq"


def run_one(a, act, grad, seed):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [os.path.join(ROOT, "scripts", "run-demo.sh"), "--no-deps",
               "--build", a.build, "--act-codec", act, "--grad-codec", grad,
               "--epochs", str(a.epochs), "--train-limit", str(a.train_limit),
               "--test-limit", str(a.test_limit), "--seed", str(seed),
               "--json", f.name]
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        with open(f.name) as g:
            rec = json.load(g)
    rec.update(act=act, grad=grad, seed=seed)
    return rec


def render(res):
    print("| activations / gradients | seeds | final test accuracy %, mean "
          "(min-max) | vs dense/dense, points | wire bytes per run |")
    print("|---|---:|---|---:|---:|")
    base = None
    for _, act, grad, name in PAIRS:
        rs = [r for r in res if r["act"] == act and r["grad"] == grad]
        if not rs:
            continue
        acc = [100 * r["final_test_acc"] for r in rs]
        m = sum(acc) / len(acc)
        if base is None:
            base = m
        wire = sum(r.get("wire_bytes_total") or 0 for r in rs) / len(rs)
        print("| %s | %d | %.2f (%.2f-%.2f) | %+.2f | %.1f MB |" % (
            name, len(rs), m, min(acc), max(acc), m - base, wire / 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--train-limit", type=int, default=12800)
    ap.add_argument("--test-limit", type=int, default=2000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--json", default=os.path.join(ROOT, "docs",
                                                    "seeds.json"))
    ap.add_argument("--pairs", default=DEFAULT_PAIRS,
                    help="the pairs to run, by key: "
                         + ",".join(p[0] for p in PAIRS))
    ap.add_argument("--append", action="store_true",
                    help="add the runs to those already in --json")
    ap.add_argument("--render", metavar="JSON")
    a = ap.parse_args()
    if a.render:
        with open(a.render) as f:
            render(json.load(f))
        return
    res = []
    if a.append and os.path.exists(a.json):
        with open(a.json) as f:
            res = json.load(f)
    want = a.pairs.split(",")
    for seed in [int(s) for s in a.seeds.split(",")]:
        for key, act, grad, _ in PAIRS:
            if key not in want:
                continue
            r = run_one(a, act, grad, seed)
            print("seed %d %s/%s: %.2f%%" % (seed, act, grad,
                                             100 * r["final_test_acc"]),
                  flush=True)
            res.append(r)
            with open(a.json, "w") as f:
                json.dump(res, f, indent=1)
    render(res)


if __name__ == "__main__":
    main()
