#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""MS encode/decode in PyTorch, the way the released code does it
(torch.topk, float32 tensors, torch.round, mask as a float tensor), timed
on the same shapes and data as maskwire-bench-codec, printing JSON.

    /usr/bin/python3 bench/torch_ms.py [--threads N] [--reps N] [--quick]
    /usr/bin/python3 bench/torch_ms.py --maskwire BUILD/bench/maskwire-bench-codec
    /usr/bin/python3 bench/torch_ms.py --dump-grad GRAD.npy

Runs with torch.set_num_threads(1) by default (one core, like the C
benchmark). --maskwire runs the C benchmark right after (same shapes,
ratios, bits and data distribution) and adds per-row speed-ups (maskwire
GB/s over PyTorch GB/s) to the JSON. --dump-grad writes the gradient of a small CNN's loss with
respect to its cut-layer activations (random weights and inputs, seeded),
a real signed tensor for `maskwire-bench-codec --signed-error --npy`.
"""
import argparse
import json
import statistics
import sys
import time

import torch

SHAPES = [(256, 64, 16, 16), (64, 64, 32, 32), (32, 64, 56, 56)]
RATIOS = [0.9, 0.99, 0.999]
BITS = [1, 2, 4]


def ms_encode(x, ratio, b):
    flat = x.flatten()
    k = max(1, int(flat.numel() * (1 - ratio)))
    L = 2 ** b - 1
    vals, idx = torch.topk(flat, k)
    t = vals.min()
    mask = torch.round(flat * (L / t))
    mask[mask == L] = L - 1
    mask = mask.clamp(0, L - 1)
    mask[idx] = L
    values = flat[mask == L]
    return mask, values, t


def ms_decode(mask, values, t, b, shape):
    L = 2 ** b - 1
    out = mask * (t / L)
    out[mask == L] = values
    return out.reshape(shape)


def timed(fn, reps):
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        r = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), r


def dump_grad(path):
    import numpy as np
    torch.manual_seed(1)
    client = torch.nn.Sequential(
        torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.BatchNorm2d(64),
        torch.nn.ReLU())
    server = torch.nn.Sequential(
        torch.nn.Conv2d(64, 64, 3, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(64, 10))
    x = torch.randn(64, 3, 32, 32)
    y = torch.randint(0, 10, (64,))
    act = client(x).detach().requires_grad_(True)  # the cut layer
    loss = torch.nn.functional.cross_entropy(server(act), y)
    loss.backward()
    np.save(path, act.grad.numpy().astype(np.float32))
    print(json.dumps({"dumped": path, "shape": list(act.grad.shape)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--dump-grad")
    ap.add_argument("--maskwire", help="path of maskwire-bench-codec")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.dump_grad:
        dump_grad(a.dump_grad)
        return
    shapes = [(4, 8, 16, 16)] if a.quick else SHAPES
    torch.manual_seed(0)
    res = []
    for shape in shapes:
        x = torch.relu(torch.randn(shape, dtype=torch.float32))
        gb = x.numel() * 4 / 1e9
        rows = []
        for r in RATIOS:
            for b in BITS:
                te, (mask, values, t) = timed(lambda: ms_encode(x, r, b), a.reps)
                td, _ = timed(lambda: ms_decode(mask, values, t, b, shape), a.reps)
                rows.append({"ratio": r, "bits": b, "encode_gbps": gb / te,
                             "decode_gbps": gb / td, "encode_ms": te * 1e3,
                             "decode_ms": td * 1e3})
                print(f"{str(list(shape)):18} r={r:5.3f} b={b} encode "
                      f"{te * 1e3:8.2f} ms ({gb / te:6.3f} GB/s) decode "
                      f"{td * 1e3:7.2f} ms ({gb / td:6.3f} GB/s)", file=sys.stderr)
        res.append({"shape": list(shape), "elements": x.numel(), "ms": rows})
    out = {"bench": "torch-ms", "torch": torch.__version__,
           "threads": a.threads, "reps": a.reps, "results": res}
    if a.maskwire:
        import subprocess
        cmd = [a.maskwire, "--json-only", "--reps", str(max(a.reps, 3))]
        c = json.loads(subprocess.run(cmd + (["--quick"] if a.quick else []),
                                      check=True, capture_output=True,
                                      text=True).stdout)
        out["maskwire"] = c
        for tr, cr in zip(res, c["results"]):
            for trow, crow in zip(tr["ms"], cr["ms"]):
                trow["speedup_encode"] = crow["encode_gbps"] / trow["encode_gbps"]
                trow["speedup_decode"] = crow["decode_gbps"] / trow["decode_gbps"]
                print(f"{str(tr['shape']):18} r={trow['ratio']:5.3f} b={trow['bits']} "
                      f"maskwire/torch encode {trow['speedup_encode']:6.1f}x "
                      f"decode {trow['speedup_decode']:6.1f}x", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
