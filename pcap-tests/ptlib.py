# SPDX-License-Identifier: BSD-3-Clause
"""What the pcap-tests scripts add to the data plane tests' harness
(apps/maskwire/tests/mwtest.py, re-exported here): where the captures and
the dissector are, a work dir of their own, reading maskwire-pcaptool's
output, telling a missing net_pcap driver from a failure."""

import csv
import io
import json  # noqa: F401  (the scripts parse with ptlib.json)
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "apps", "maskwire", "tests"))

from mwtest import (SKIP, Checker, fail, load_json, log_tail,  # noqa: E402,F401
                    need_binary, skip)
from mwtest import require_root as need_root  # noqa: E402,F401
import mwtest  # noqa: E402

CAPTURES = os.path.join(HERE, "captures")
DISSECTOR = os.path.join(HERE, "dissector", "maskwire.lua")


class Workdir(mwtest.Workdir):
    """A temp dir and the EAL prefixes used in it, removed on exit or on
    SIGTERM/SIGINT; maskwire(binary, side, vdev, args, log) starts one."""

    def __init__(self, name):
        super().__init__("mw-pcap-%s-" % name, "mwp%d" % os.getpid())
        self.cleanup_on_signal()


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


def manifests():
    return sorted(os.path.join(CAPTURES, n) for n in os.listdir(CAPTURES)
                  if n.endswith(".json"))
