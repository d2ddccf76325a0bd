#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The CLI's MS decode against a small PyTorch transcription of the
released code (torch.topk, float32 tensors, torch.round). Skips (exit 77)
when PyTorch is not installed. Usage: test_torch_ms.py MASKWIRE_CODEC"""
import os
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("SKIP: PyTorch (python3-torch) is not installed")
    sys.exit(77)
import numpy as np

CLI = sys.argv[1]
SEED = int(os.environ.get("MW_SEED", "0")) or int.from_bytes(os.urandom(4), "little")
torch.manual_seed(SEED)


def torch_ms(x, k, b):
    """Encode then decode, as the released code does it."""
    flat = x.flatten()
    L = 2 ** b - 1
    top_vals, top_idx = torch.topk(flat, k)
    t = top_vals.min()                      # Top_min
    code = torch.round(flat * (L / t))      # float32, half to even
    code[code == L] = L - 1
    code = code.clamp(0, L - 1)
    code[top_idx] = L                       # the sentinel
    values = flat[code == L]                # positional order
    out = code * (t / L)
    out[code == L] = values
    return out.reshape(x.shape)


failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for shape, ratio, b in (((8, 16, 16, 16), 0.99, 2), ((2, 64, 28, 28), 0.9, 2),
                            ((4, 32, 16, 16), 0.999, 4), ((1000,), 0.95, 3)):
        # continuous values: no ties at the threshold, so torch.topk's
        # unspecified tie order cannot matter
        x = torch.relu(torch.randn(shape, dtype=torch.float32))
        n = x.numel()
        k = int(n * (1 - ratio))
        src, mwt, dst = (os.path.join(tmp, f) for f in ("x.npy", "x.mwt", "y.npy"))
        np.save(src, x.numpy())
        r = subprocess.run([CLI, "encode", "--k", str(k), "--bits", str(b), src, mwt],
                           capture_output=True, text=True)
        r2 = subprocess.run([CLI, "decode", mwt, dst], capture_output=True, text=True)
        if r.returncode or r2.returncode:
            print(f"FAIL: CLI error {r.stderr}{r2.stderr}")
            failures += 1
            continue
        got = np.load(dst)
        want = torch_ms(x, k, b).numpy()
        if not np.array_equal(got.view(np.uint32), want.view(np.uint32)):
            diff = np.count_nonzero(got != want)
            print(f"FAIL: shape {shape} r={ratio} b={b}: {diff} elements differ (seed {SEED})")
            failures += 1
        else:
            print(f"ok: shape {shape} r={ratio} b={b}: bit-exact with PyTorch")
sys.exit(1 if failures else 0)
