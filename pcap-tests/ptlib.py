# SPDX-License-Identifier: BSD-3-Clause
"""Helpers shared by the pcap-tests scripts: skipping (exit 77), running
maskwire on DPDK vdevs in a temp dir with a unique EAL file prefix, and
reading maskwire-pcaptool output."""

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

SKIP = 77
EAL = ["--no-pci", "--no-huge", "-m", "512"]
HERE = os.path.dirname(os.path.abspath(__file__))
CAPTURES = os.path.join(HERE, "captures")
DISSECTOR = os.path.join(HERE, "dissector", "maskwire.lua")


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


class Checker:
    """Collects failures so one run reports all of them."""

    def __init__(self):
        self.bad = 0

    def eq(self, what, got, want):
        if got == want:
            print("ok: %s = %s" % (what, got))
        else:
            print("MISMATCH: %s: got %s, want %s" % (what, got, want))
            self.bad += 1

    def true(self, what, cond, detail=""):
        if cond:
            print("ok: " + what)
        else:
            print("MISMATCH: %s %s" % (what, detail))
            self.bad += 1

    def finish(self):
        sys.stdout.flush()
        if self.bad:
            fail("%d check(s) failed" % self.bad)
        print("PASS", flush=True)


def need_binary(path, what):
    if not path or not os.access(path, os.X_OK):
        skip("%s not built: %s" % (what, path))


def need_root():
    if os.geteuid() != 0:
        skip("needs root (DPDK vdevs, EAL runtime files under /var/run/dpdk)")


class Workdir:
    """A temp dir and the EAL prefixes used in it, removed on exit."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="mw-pcap-%s-" % name)
        self.tag = "mwp%d" % os.getpid()
        self.prefixes = []
        self.procs = []
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, sig, frame):
        self.cleanup()
        sys.exit(1)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def prefix(self, side):
        p = self.tag + side
        self.prefixes.append(p)
        return p

    def maskwire(self, binary, side, vdev, app_args, log):
        """Start maskwire; returns the Popen (stdout+stderr to log)."""
        cmd = [binary] + EAL + ["--file-prefix", self.prefix(side),
                                "--vdev=" + vdev, "--"] + app_args
        print("run: " + " ".join(cmd), flush=True)
        p = subprocess.Popen(cmd, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for pre in self.prefixes:
            shutil.rmtree("/var/run/dpdk/" + pre, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftover_runtime_dirs(self):
        return [p for p in self.prefixes
                if os.path.exists("/var/run/dpdk/" + p)]


def log_tail(path, n=25):
    try:
        with open(path) as f:
            lines = [l for l in f
                     if not l.startswith(("EAL:", "TELEMETRY:"))]
        return "".join(lines[-n:])
    except OSError:
        return ""


def pcap_unavailable(log):
    """True if maskwire could not create the net_pcap port at all."""
    text = log_tail(log, 200)
    return ("net_pcap" in text and ("not found" in text or
                                    "cannot attach" in text.lower())) \
        or "no ethdev port" in text


def dump(pcaptool, capture):
    """maskwire-pcaptool dump: list of dicts, one per frame."""
    out = subprocess.run([pcaptool, "dump", capture], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    return list(csv.DictReader(io.StringIO(out), delimiter="\t"))


def load_json(path):
    with open(path) as f:
        return json.load(f)


def manifests():
    return sorted(os.path.join(CAPTURES, n) for n in os.listdir(CAPTURES)
                  if n.endswith(".json"))
