#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Smoke test of the data plane benchmark: run bench/run.py --smoke (every
section at a tiny size) and check that it completes and writes well-formed
output. No timing is asserted.

    check_smoke.py RUN_PY MASKWIRE MASKWIRE_BENCH_TCP
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

SECTIONS = {"transfer", "step", "ceiling", "loss", "size", "mtu", "cut",
            "security", "peers", "peers-lcores"}
METRICS = {"tensors_per_s", "dense_gbit_s", "wire_gbit_s", "lat_p50_ms",
           "lat_p99_ms", "lat_max_ms", "reps"}
PEERS_METRICS = {"tensors_per_s", "dense_gbit_s", "wire_gbit_s", "jain",
                 "min_over_mean", "server_cpu_us_per_tensor", "reps"}


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def main():
    run_py, maskwire, tcp = sys.argv[1:4]
    out = tempfile.mkdtemp(prefix="mwbench-smoke.")
    try:
        r = subprocess.run(["/usr/bin/python3", run_py, "--smoke", "--out",
                            out, "--maskwire", maskwire, "--tcp", tcp],
                           capture_output=True, text=True, timeout=280)
        sys.stdout.write(r.stderr[-4000:])
        if r.returncode == 77:
            sys.exit(77)
        if r.returncode:
            fail("bench/run.py --smoke exited %d" % r.returncode)
        with open(os.path.join(out, "results.json")) as f:
            res = json.load(f)
        for k in ("command", "started", "machine", "params", "rows",
                  "notes", "elapsed_s", "plots"):
            if k not in res:
                fail("results.json lacks '%s'" % k)
        seen = {row["section"] for row in res["rows"]}
        if seen != SECTIONS:
            fail("sections %s, expected %s" % (sorted(seen),
                                                sorted(SECTIONS)))
        for row in res["rows"]:
            if row.get("failed"):
                fail("a run failed: %s" % row)
            want = {"pps", "wire_gbit_s"} if row["section"] == "ceiling" \
                else PEERS_METRICS if row["section"].startswith("peers") \
                else METRICS
            missing = want - row.keys()
            if missing:
                fail("row %s lacks %s" % (row, sorted(missing)))
            for k in want:
                if not isinstance(row[k], (int, float)) or row[k] < 0:
                    fail("row %s: %s is not a number >= 0" % (row, k))
        with open(os.path.join(out, "results.md")) as f:
            md = f.read()
        if "| shape | codec | stack |" not in md:
            fail("results.md lacks the transfer table")
        if "## 5c. Cut-through" not in md:
            fail("results.md lacks the cut-through table")
        if "## 8. Many peers" not in md:
            fail("results.md lacks the peers table")
        if "### 8b. One and two I/O lcores" not in md:
            fail("results.md lacks the I/O lcores table")
        # the shared-memory step row needs numpy and torch (else skipped)
        if subprocess.run(["/usr/bin/python3", "-c", "import numpy, torch"],
                          capture_output=True).returncode == 0:
            if not any(row["section"] == "step" and
                       row["stack"] == "maskwire-shm-python"
                       for row in res["rows"]):
                fail("no maskwire-shm-python step row")
            if "| maskwire-shm-python |" not in md:
                fail("results.md lacks the maskwire-shm-python step row")
        if not res["plots"]:
            fail("no plots written")
        for p in res["plots"]:
            with open(os.path.join(out, p), "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    fail("%s is not a PNG" % p)
        print("ok: %d rows, %d plots, %.1f s" % (len(res["rows"]),
                                                len(res["plots"]),
                                                res["elapsed_s"]))
    finally:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
