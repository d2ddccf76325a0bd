#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Where a transfer's cycles go: two maskwire processes over net_memif
(sender on lcore 0, receiver on lcore 1, busy polling), both with
--profile, then a markdown table of TSC cycles per stage of the poll loop
(docs/PERF.md), per data frame and per tensor, for each side.

    bench/stages.py [--build DIR] [--codec ms] [--count 200]
                    [--shape 64,64,32,32] [--label NAME] [--json FILE]
                    [--mode plain|encrypt|integrity]
                    [--port memif|virtio] [--mtu 1500]
                    [-- extra maskwire options for both sides]

--port virtio runs the pair over net_vhost (receiver) and
net_virtio_user (sender), the pair that carries jumbo frames
(docs/DATAPLANE.md), e.g. with --mtu 9000.

Besides the table it prints the sender's encode-bound rate (the TSC rate
over the `loop` stage's cycles per tensor, the encode's cost on that
lcore) and the run's rate as a fraction of it.

Needs root (DPDK vdevs). Several builds can be compared in one run by
calling it once per build, back to back (docs/PERF.md gives the command).
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

EAL = ["--no-pci", "--no-huge", "-m", "512", "--log-level=lib.eal:warning",
       "--log-level=pmd.net.memif:warning"]
STAGES = ["rx_burst", "rx_net", "rx_data", "rx_ctrl", "loop", "tx_core",
          "tx_none", "tx_net", "tx_burst"]


def mode_args(mode, tmp):
    """The options of a secure mode (docs/PROTOCOL.md 12): a throwaway key
    shared by both sides, as the demo makes one."""
    if mode == "plain":
        return ["--plain"]
    key = os.path.join(tmp, "psk")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return ["--key", key] + (["--integrity"] if mode == "integrity" else [])


def run_pair(a, tmp):
    mw = os.path.join(a.build, "apps", "maskwire", "maskwire")
    eal = EAL
    if a.port == "virtio":
        sock = os.path.join(tmp, "vhost.sock")
        vdev_rx = "--vdev=net_vhost0,iface=%s,queues=1" % sock
        vdev_tx = "--vdev=net_virtio_user0,path=%s,mrg_rxbuf=1" % sock
        # virtio-user shares its memory with the vhost side
        eal = EAL + ["--single-file-segments"]
    else:
        sock = os.path.join(tmp, "memif.sock")
        vdev = "--vdev=net_memif0,role=%s,socket=" + sock + \
            ",socket-abstract=no"
        vdev_rx, vdev_tx = vdev % "server", vdev % "client"
    kind = "gradient" if a.codec == "ms-signed" else "activation"
    common = ["--status-ms", "0", "--no-verify", "--content-period", "1",
              "--link-wait-ms", "5000", "--profile", "--stamp",
              "--mtu", str(a.mtu)] + mode_args(a.mode, tmp) + a.extra
    tag = "mwst%d" % os.getpid()
    rx = subprocess.Popen(
        [mw] + eal + ["-l", "1", "--file-prefix", tag + "b", vdev_rx,
                      "--", "--ip", "10.0.0.2", "--peer", "10.0.0.1",
                      "--stats", os.path.join(tmp, "b.json"), "--sink",
                      str(a.count), "--linger-ms", "300", "--idle-exit-ms",
                      "5000"] + common,
        stdout=open(os.path.join(tmp, "b.log"), "w"), stderr=subprocess.STDOUT)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    tx = subprocess.run(
        [mw] + eal + ["-l", "0", "--file-prefix", tag + "a", vdev_tx,
                      "--", "--ip", "10.0.0.1", "--peer", "10.0.0.2",
                      "--stats", os.path.join(tmp, "a.json"), "--shape",
                      a.shape, "--codec", a.codec, "--kind", kind,
                      "--ratio", "0.99", "--bits", "2", "--gen", str(a.count),
                      "--linger-ms", "100"] + common,
        stdout=open(os.path.join(tmp, "a.log"), "w"), stderr=subprocess.STDOUT,
        timeout=300)
    try:
        rx.wait(timeout=60)
    except subprocess.TimeoutExpired:
        rx.kill()
        rx.wait()
    if tx.returncode or rx.returncode:
        # (a SIGSEGV inside net_memif when the peer goes away is a known
        # DPDK 22.11 problem, docs/DATAPLANE.md: run again)
        sys.exit("stages: maskwire exited %d/%d; logs:\n%s" % (
            tx.returncode, rx.returncode, "".join(
                open(os.path.join(tmp, side + ".log")).read()[-2000:]
                for side in "ab")))
    out = {}
    for side in "ab":
        with open(os.path.join(tmp, side + ".json")) as f:
            out[side] = json.load(f)
    return out


def table(a, st):
    s, r = st["a"], st["b"]
    data_frames = s["transport"]["data_tx"]
    tensors = r["sink"]["delivered"]
    span = r["sink"]["latency_ns"]["span_ns"] / 1e9 if \
        r["sink"].get("latency_ns") else None
    lines = ["%s: %s %s %s x%d over %s at MTU %d, %d data frames "
             "(%.0f per tensor)%s" % (
        a.label, a.mode, a.codec, a.shape, tensors, a.port, a.mtu,
        data_frames,
        data_frames / max(tensors, 1),
        "" if not span else ", %.1f tensors/s" % (tensors / span)), "",
        "| stage | sender cycles/frame | sender Mcycles/tensor | "
        "receiver cycles/frame | receiver Mcycles/tensor |",
        "|---|---|---|---|---|"]
    tot = {"a": 0, "b": 0}
    for k in STAGES:
        row = [k]
        for side in "ab":
            c = st[side]["profile"]["stages"][k]["cycles"]
            tot[side] += c
            row += ["%.0f" % (c / data_frames), "%.2f" % (c / tensors / 1e6)]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| all busy stages | %.0f | %.2f | %.0f | %.2f |" % (
        tot["a"] / data_frames, tot["a"] / tensors / 1e6,
        tot["b"] / data_frames, tot["b"] / tensors / 1e6))
    idle = [st[x]["profile"]["stages"]["idle"]["cycles"] /
            st[x]["profile"]["run_cycles"] for x in "ab"]
    n = 1
    for d in a.shape.split(","):
        n *= int(d)
    k = int(n * (1 - 0.99)) if a.codec.startswith("ms") else 0
    ideal = n * 2 / 8 + 4 * k if a.codec.startswith("ms") else 4 * n
    wire = (s["net"]["tx_bytes"] + r["net"]["tx_bytes"]) / max(tensors, 1)
    lines.append("")
    lines.append("Wire bytes per tensor (every frame, both directions, "
                 "Ethernet headers included): %.0f, %.3fx the payload "
                 "ideal of %.0f." % (wire, wire / ideal, ideal))
    lines.append("Idle loop iterations: sender %.0f%%, receiver %.0f%% of "
                 "the run; sender TX ring full %d times; TSC %.2f GHz." % (
                     100 * idle[0], 100 * idle[1],
                     s["net"]["tx_ring_full"],
                     s["profile"]["tsc_hz"] / 1e9))
    enc = st["a"]["profile"]["stages"]["loop"]["cycles"] / max(tensors, 1)
    if span and enc:
        bound = s["profile"]["tsc_hz"] / enc
        lines.append("Encode-bound rate (TSC rate / the sender's `loop` "
                     "cycles per tensor): %.1f tensors/s; this run %.1f, "
                     "%.3fx of it." % (bound, tensors / span,
                                       tensors / span / bound))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--codec", default="ms")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--shape", default="64,64,32,32")
    ap.add_argument("--label", default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--mode", default="plain",
                    choices=["plain", "encrypt", "integrity"])
    ap.add_argument("--port", default="memif", choices=["memif", "virtio"])
    ap.add_argument("--mtu", type=int, default=1500)
    ap.add_argument("extra", nargs="*")
    a = ap.parse_args()
    a.label = a.label or a.build
    if os.geteuid() != 0:
        print("stages: needs root (DPDK vdevs)")
        return 77
    tmp = tempfile.mkdtemp(prefix="mw-stages-")
    try:
        st = run_pair(a, tmp)
        print(table(a, st))
        if a.json:
            with open(a.json, "w") as f:
                json.dump(st, f)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        # EAL's runtime files of a process that did not end cleanly
        for side in "ab":
            shutil.rmtree("/var/run/dpdk/mwst%d%s" % (os.getpid(), side),
                          ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
