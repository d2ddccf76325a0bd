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
import tempfile

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


# docs/PROTOCOL.md 4.2: a HELLO from incarnation 1000, generation 1, to an
# unknown peer, and the field values the document gives for it.
DOC_HELLO = bytes.fromhex(
    "4d57010100340000000003e800000001"
    "0000000000000000d853112e05c00000"
    "00000008001000000000000000000000"
    "10000000")
DOC_FIELDS = {
    "maskwire.magic": 0x4D57, "maskwire.version": 1, "maskwire.type": 1,
    "maskwire.len": 52, "maskwire.flags": 0, "maskwire.src.inc": 1000,
    "maskwire.src.gen": 1, "maskwire.dst.inc": 0, "maskwire.dst.gen": 0,
    "maskwire.crc": 0xD853112E, "maskwire.hello.max_datagram": 1472,
    "maskwire.hello.rx_window": 8, "maskwire.hello.max_segs": 1048576,
    "maskwire.hello.max_tensor_bytes": 1 << 28,
}


def doc_example_pcap(path):
    """The example HELLO in Ethernet/IPv4/UDP (port 47000), as a pcap."""
    udp = struct.pack(">HHHH", 47000, 47000, 8 + len(DOC_HELLO), 0) + DOC_HELLO
    ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1,
                               0x4000, 64, 17, 0, bytes([10, 0, 0, 1]),
                               bytes([10, 0, 0, 2])))
    s = sum(struct.unpack(">10H", ip))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    ip[10:12] = struct.pack(">H", ~s & 0xFFFF)
    frame = bytes.fromhex("020000000002020000000001") + b"\x08\x00" + bytes(ip) + udp
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)


def check_doc_example(ck, pcaptool):
    path = os.path.join(tempfile.mkdtemp(prefix="mw-doc-"), "doc.pcap")
    try:
        doc_example_pcap(path)
        c = ptlib.dump(pcaptool, path)[0]
        t = tshark_fields(path, list(DOC_FIELDS) + ["maskwire.crc.status"])[0]
    finally:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    ck.eq("PROTOCOL.md 4.2 example: C parser status", c["pt.status"], "ok")
    ck.eq("PROTOCOL.md 4.2 example: dissector CRC32C status",
          t["maskwire.crc.status"], "1")
    for f, v in DOC_FIELDS.items():
        ck.eq("PROTOCOL.md 4.2 example %s (C, tshark)" % f,
              (int(c[f], 0), int(t[f], 0)), (v, v))


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
    check_doc_example(ck, pcaptool)
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
