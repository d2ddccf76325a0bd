#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Cross-check the Wireshark dissector against the C parsers.

usage: dissector_check.py PCAPTOOL [CAPTURE...]

For every capture (default: all of pcap-tests/captures), maskwire-pcaptool
dump prints each maskwire datagram's header fields as mw_wire.h's parsers
read them, one TSV column per dissector field name; tshark with
dissector/maskwire.lua is asked for the same fields (-T fields). Every
value the C side prints must equal tshark's, frame by frame: two
independent implementations of docs/PROTOCOL.md's layout (and of CRC32C)
agreeing. tshark must also raise no Lua error on any frame, including the
damaged and hostile ones.
"""
import math
import os
import shutil
import struct
import subprocess
import sys

import ptlib


def norm_int_list(v):
    return [int(x, 0) for x in v.split(",")]


def same(field, c, t):
    if field == "maskwire.crc.status":
        return t == {"good": "1", "bad": "0"}[c]
    if field in ("maskwire.data.p0", "maskwire.data.p1"):
        want = struct.unpack(">f", struct.pack(">I", int(c, 16)))[0]
        try:
            got = float(t)
        except ValueError:
            return False
        if math.isnan(want):
            return math.isnan(got)
        if math.isinf(want) or want == 0:
            return got == want
        return abs(got - want) <= 1e-5 * abs(want)
    if field == "maskwire.ack.block.bitmap":
        return c.lower() == t.replace(":", "").lower()
    try:
        return norm_int_list(c) == norm_int_list(t)
    except ValueError:
        return False


def tshark_fields(capture, fields):
    cmd = ["tshark", "-n", "-X", "lua_script:" + ptlib.DISSECTOR, "-r", capture,
           "-T", "fields", "-E", "header=y", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout
    lines = out.rstrip("\n").split("\n")
    hdr = lines[0].split("\t")
    if hdr != fields:
        ptlib.fail("tshark header %s != %s" % (hdr, fields))
    return [dict(zip(hdr, l.split("\t"))) for l in lines[1:]]


def lua_errors(capture):
    out = subprocess.run(["tshark", "-n", "-X", "lua_script:" + ptlib.DISSECTOR,
                          "-r", capture, "-V"], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True).stdout
    return [l.strip() for l in out.split("\n") if "Lua Error" in l]


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    pcaptool = sys.argv[1]
    ptlib.need_binary(pcaptool, "maskwire-pcaptool")
    if not shutil.which("tshark"):
        ptlib.skip("tshark is not installed")
    caps = sys.argv[2:] or sorted(
        os.path.join(ptlib.CAPTURES, n) for n in os.listdir(ptlib.CAPTURES)
        if n.endswith(".pcap"))
    ck = ptlib.Checker()
    total_fields = total_dgrams = 0
    for cap in caps:
        rows = ptlib.dump(pcaptool, cap)
        fields = ["frame.number"] + [k for k in rows[0].keys()
                                     if k.startswith("maskwire.")]
        ts = tshark_fields(cap, fields)
        name = os.path.basename(cap)
        ck.eq("%s: tshark sees every frame" % name, len(ts), len(rows))
        bad = []
        n = 0
        for c, t in zip(rows, ts):
            if c["pt.kind"] != "maskwire":
                continue
            total_dgrams += 1
            if not t["maskwire.magic"]:
                bad.append("frame %s: not dissected as maskwire" % c["frame.number"])
                continue
            for f in fields[1:]:
                if c[f] == "":
                    continue
                n += 1
                if not same(f, c[f], t[f]):
                    bad.append("frame %s %s: C %r, tshark %r"
                               % (c["frame.number"], f, c[f], t[f]))
        total_fields += n
        ck.true("%s: %d field values agree" % (name, n), not bad,
                "\n  " + "\n  ".join(bad[:20]))
        errs = lua_errors(cap)
        ck.true("%s: no Lua error" % name, not errs, "\n  " + "\n  ".join(errs[:5]))
    print("%d datagrams, %d field values compared" % (total_dgrams, total_fields))
    ck.true("compared something", total_fields > 0)
    ck.finish()


main()
