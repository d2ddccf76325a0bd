#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""CLI tests for maskwire-codec: round trips of every codec through .mwt,
MS decode bit-exact with a NumPy float32 transcription of the released
code's arithmetic, stats JSON, and a clear error (naming the file) with a
non-zero exit for each kind of bad input. Usage: test_cli.py MASKWIRE_CODEC"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

CLI = sys.argv[1]
SEED = int(os.environ.get("MW_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
rng = np.random.default_rng(SEED)
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what} (seed {SEED})", file=sys.stderr)


def run(*args):
    return subprocess.run([CLI, *map(str, args)], capture_output=True, text=True)


def ms_reference(x, k, b, floor=False):
    """MS as the released code computes it, in float32, ties by index."""
    flat = x.reshape(-1).astype(np.float32)
    order = np.lexsort((np.arange(flat.size), -flat))  # value desc, index asc
    sel = np.zeros(flat.size, bool)
    sel[order[:k]] = True
    t = flat[order[k - 1]]
    L = np.float32(2 ** b - 1)
    s = np.float32(L / t)  # float32 division
    q = flat * s
    code = np.floor(q) if floor else np.rint(q)  # rint: half to even
    code[code == L] = L - 1
    code = np.clip(code, 0, L - 1)
    d = np.float32(t / L)
    out = (code * d).astype(np.float32)
    out[sel] = flat[sel]
    return out.reshape(x.shape), t


with tempfile.TemporaryDirectory() as tmp:
    P = lambda name: os.path.join(tmp, name)  # noqa: E731
    x = np.maximum(rng.standard_normal((4, 8, 16, 16)), 0).astype(np.float32)
    np.save(P("x.npy"), x)
    n = x.size

    # MS, nearest and floor: decode equals the reference bit for bit
    for b in (1, 2, 3, 4, 8):
        for rounding in ("nearest", "floor"):
            r = run("encode", "--codec", "ms", "--ratio", "0.99", "--bits", b,
                    "--rounding", rounding, P("x.npy"), P("x.mwt"))
            check(r.returncode == 0, f"encode ms b={b}: {r.stderr}")
            k = int(n * 0.01)
            size = os.path.getsize(P("x.mwt"))
            check(size == 48 + 8 * 4 + (n * b + 7) // 8 + 4 * k,
                  f"mwt size b={b}: {size}")
            r = run("decode", P("x.mwt"), P("y.npy"))
            check(r.returncode == 0, f"decode ms b={b}: {r.stderr}")
            y = np.load(P("y.npy"))
            want, _ = ms_reference(x, k, b, rounding == "floor")
            check(y.shape == x.shape and y.dtype == np.float32, "shape/dtype")
            check(np.array_equal(y.view(np.uint32), want.view(np.uint32)),
                  f"ms decode differs from reference b={b} {rounding}")

    # every codec round trips; dense exactly
    g = rng.standard_normal((3, 5, 7)).astype(np.float32)
    np.save(P("g.npy"), g)
    for codec in ("ms", "ms-signed", "topk", "quant", "dense"):
        r = run("encode", "--codec", codec, "--ratio", "0.5", "--bits", "4",
                P("g.npy"), P("g.mwt"))
        check(r.returncode == 0, f"encode {codec}: {r.stderr}")
        r = run("decode", P("g.mwt"), P("h.npy"))
        check(r.returncode == 0, f"decode {codec}: {r.stderr}")
        h = np.load(P("h.npy"))
        check(h.shape == g.shape, f"{codec} shape")
        err = np.abs(h - g)
        if codec == "dense":
            check(np.array_equal(h, g), "dense exact")
        elif codec == "ms-signed":
            t = np.sort(np.abs(g).ravel())[::-1][g.size // 2 - 1]
            check(err.max() <= t / 8 * 1.001, f"ms-signed error {err.max()}")
        elif codec == "quant":
            step = (g.max() - g.min()) / 15
            check(err.max() <= step * 0.5001, f"quant error {err.max()}")

    # stats: the JSON fields, consistent with an encode of the same input
    r = run("stats", "--codec", "ms", "--k", "20", "--bits", "2", P("x.npy"))
    check(r.returncode == 0, f"stats: {r.stderr}")
    st = json.loads(r.stdout)
    for key in ("elements", "k", "threshold", "encoded_bytes",
                "bits_per_element", "compression_ratio", "rel_l2_error",
                "max_abs_error"):
        check(key in st, f"stats lacks {key}")
    check(st["elements"] == n and st["k"] == 20, "stats elements/k")
    check(st["encoded_bytes"] == n * 2 // 8 + 80, "stats bytes")
    check(abs(st["compression_ratio"] - 4 * n / st["encoded_bytes"]) < 1e-6,
          "stats ratio")
    check(abs(st["bits_per_element"] - 8 * st["encoded_bytes"] / n) < 1e-6,
          "stats bits/element")
    want, t = ms_reference(x, 20, 2)
    rel = np.linalg.norm((want - x).astype(np.float64)) / np.linalg.norm(x.astype(np.float64))
    check(abs(st["rel_l2_error"] - rel) < 1e-6, "stats rel_l2_error")
    check(np.float32(st["threshold"]) == t, "stats threshold")

    # Figure 1 through the CLI: 20 bytes, L2 error 1.02 / 1.18
    fig = np.array([[2.2, 0.8, 1.2, 0.4], [1.8, 0.2, 3.1, 2.0],
                    [2.1, 0.2, 1.1, 1.7], [0.3, 2.8, 1.4, 0.9]], np.float32)
    np.save(P("fig.npy"), fig)
    for rounding, want_err in (("nearest", 1.02), ("floor", 1.18)):
        st = json.loads(run("stats", "--k", "4", "--bits", "2", "--rounding",
                            rounding, P("fig.npy")).stdout)
        check(st["encoded_bytes"] == 20, "figure 1 bytes")
        err = st["rel_l2_error"] * np.linalg.norm(fig.astype(np.float64))
        check(abs(err - want_err) < 0.005, f"figure 1 error {err} {rounding}")

    # bad inputs: exit 1, message names the file and the problem
    np.save(P("i8.npy"), np.arange(6, dtype=np.int64))
    np.save(P("fortran.npy"), np.asfortranarray(np.ones((3, 4), np.float32)))
    raw = open(P("x.npy"), "rb").read()
    open(P("trunc.npy"), "wb").write(raw[:len(raw) - 5])
    open(P("header.npy"), "wb").write(raw[:40])
    open(P("junk.npy"), "wb").write(b"not a numpy file at all")
    nan = x.copy()
    nan[0, 0, 0, 3] = np.nan
    np.save(P("nan.npy"), nan)
    mwt = open(P("g.mwt"), "rb").read()
    open(P("trunc.mwt"), "wb").write(mwt[:-3])
    cases = [
        (("encode", P("i8.npy"), P("o.mwt")), "i8.npy", "'<i8'"),
        (("encode", P("fortran.npy"), P("o.mwt")), "fortran.npy", "fortran_order"),
        (("encode", P("trunc.npy"), P("o.mwt")), "trunc.npy", "cut short"),
        (("stats", P("header.npy")), "header.npy", "cut short"),
        (("encode", P("junk.npy"), P("o.mwt")), "junk.npy", "magic"),
        (("encode", P("missing.npy"), P("o.mwt")), "missing.npy", "No such file"),
        (("encode", P("nan.npy"), P("o.mwt")), "nan.npy", "NaN"),
        (("decode", P("trunc.mwt"), P("o.npy")), "trunc.mwt", "cut short"),
        (("decode", P("x.npy"), P("o.npy")), "x.npy", "magic"),
        (("encode", P("x.npy"), os.path.join(tmp, "no", "dir.mwt")), "dir.mwt",
         "No such file"),
    ]
    for args, fname, text in cases:
        r = run(*args)
        check(r.returncode == 1, f"{args[0]} {fname}: exit {r.returncode}")
        check(fname in r.stderr and text in r.stderr,
              f"{fname}: message {r.stderr.strip()!r} lacks {text!r}")
    for args in (("encode",), ("frob", P("x.npy")), ("encode", "--bits", "9", P("x.npy"), P("o.mwt")),
                 ("stats", "--ratio", "0.9", "--k", "3", P("x.npy")),
                 ("encode", "--codec", "zip", P("x.npy"), P("o.mwt"))):
        r = run(*args)
        check(r.returncode == 2, f"usage error {args}: exit {r.returncode}")

print(f"test_cli: {'all checks passed' if not failures else f'{failures} failed'} (seed {SEED})")
sys.exit(1 if failures else 0)
