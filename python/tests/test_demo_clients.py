#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""scripts/run-demo.sh --clients 4 --servers 2, briefly (1 epoch on 1280
training images, 256 test images): 4 client data planes and processes,
2 server data planes and processes keeping one model (DDP over gloo), on
a bridge the script makes and removes. Checks each client's summary (its
quarter of the images, traffic both ways, better than chance), that each
server served its 2 clients, that both server processes end with the
same parameters, and that nothing is left behind (namespace, regions).

Usage: test_demo_clients.py (env: MASKWIRE_LIB, the build's library:
its build directory is the one the script uses). Exit 77 when it cannot
run (not root, no torch).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def netns():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True,
                         text=True).stdout
    return [line.split()[0] for line in out.splitlines()
            if line.startswith("mwdemo")]


def main():
    if os.geteuid() != 0:
        print("skipped: needs root (DPDK vdevs, namespaces)")
        return 77
    try:
        import torch  # noqa: F401
    except ImportError as e:
        print("skipped: %s" % e)
        return 77
    lib = os.environ.get("MASKWIRE_LIB", "")
    build = os.path.relpath(lib.split("/dataplane/")[0], ROOT) \
        if lib else "build"
    before = set(glob.glob("/dev/shm/mwdemo*")) | set(netns())
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run.json")
        p = subprocess.run(
            [os.path.join(ROOT, "scripts", "run-demo.sh"), "--no-deps",
             "--build", build, "--clients", "4", "--servers", "2",
             "--epochs", "1", "--train-limit", "1280", "--test-limit", "256",
             "--json", out], cwd=ROOT, capture_output=True, text=True,
            timeout=540)
        text = p.stdout + p.stderr
        bad = []
        if p.returncode != 0:
            print(text[-3000:])
            print("FAIL: run-demo.sh exited %d" % p.returncode)
            return 1
        run = json.load(open(out))
        clients = run["clients"]
        if [c["shard"] for c in clients] != ["%d/4" % i for i in range(4)]:
            bad.append("shards %s" % [c["shard"] for c in clients])
        for i, c in enumerate(clients):
            if c["train_images"] != 320:
                bad.append("client %d: %d training images"
                           % (i, c["train_images"]))
            if not (c["wire_bytes_up"] > 0 and c["wire_bytes_down"] > 0):
                bad.append("client %d: no traffic both ways" % i)
        if not run["mean_test_acc"] > 0.2:
            bad.append("mean accuracy %s, not above chance"
                       % run["mean_test_acc"])
        for j in range(2):
            if ("server %d: 10 training steps served for 2 clients" % j
                    not in text):
                bad.append("server %d did not serve its 2 clients" % j)
        if text.count("equal on all 2 server processes") != 2:
            bad.append("the server processes' models differ")
    # this mode's names: regions ...s0, ...c3; the bridge's namespace ...n
    left = [n for n in (set(glob.glob("/dev/shm/mwdemo*")) | set(netns()))
            - before if n.endswith(("s0", "s1", "c0", "c1", "c2", "c3", "n"))]
    if left:
        bad.append("left behind: %s" % sorted(left))
    if bad:
        print(text[-3000:])
        for b in bad:
            print("MISMATCH: " + b)
        return 1
    print("PASS")
    return 0


sys.exit(main())
