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

The layout itself is checked against dataplane/core/include/mw_wire.h,
read at run time: every dissector field must sit at its MW_OFF_* offset,
with the width the header gives it, and every MW_OFF_* field must be
dissected. A field moved in the header and not in the dissector (or the
other way round) fails here, even where the values happen to agree.
"""
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

import ptlib

WIRE_H = os.path.join(ptlib.HERE, "..", "dataplane", "core", "include",
                      "mw_wire.h")

# Dissector field -> mw_wire.h offset name. An ACK block's fields are
# offsets from the block's first byte (MW_OFF_BLK_*); the first block
# starts at MW_OFF_ACK_BLOCKS; the i-th maskwire.data.dim is at
# MW_OFF_DATA_DIMS + 4 i.
FIRST_BLOCK = "(first ACK block)"
FIELD_OFF = {
    "maskwire.magic": "MW_OFF_MAGIC",
    "maskwire.version": "MW_OFF_VERSION",
    "maskwire.type": "MW_OFF_TYPE",
    "maskwire.len": "MW_OFF_LEN",
    "maskwire.flags": "MW_OFF_FLAGS",
    "maskwire.src.inc": "MW_OFF_SRC_INC",
    "maskwire.src.gen": "MW_OFF_SRC_GEN",
    "maskwire.dst.inc": "MW_OFF_DST_INC",
    "maskwire.dst.gen": "MW_OFF_DST_GEN",
    "maskwire.crc": "MW_OFF_CRC",
    "maskwire.hello.max_datagram": "MW_OFF_HELLO_MAX_DATAGRAM",
    "maskwire.hello.caps": "MW_OFF_HELLO_CAPS",
    "maskwire.hello.rx_window": "MW_OFF_HELLO_RX_WINDOW",
    "maskwire.hello.max_segs": "MW_OFF_HELLO_MAX_SEGS",
    "maskwire.hello.reserved2": "MW_OFF_HELLO_RSV2",
    "maskwire.hello.max_tensor_bytes": "MW_OFF_HELLO_MAX_TENSOR",
    "maskwire.data.pn": "MW_OFF_DATA_PN",
    "maskwire.data.tid": "MW_OFF_DATA_TID",
    "maskwire.data.seg_idx": "MW_OFF_DATA_SEG_IDX",
    "maskwire.data.elem_cnt": "MW_OFF_DATA_ELEM_CNT",
    "maskwire.data.val_cnt": "MW_OFF_DATA_VAL_CNT",
    "maskwire.data.elem_off": "MW_OFF_DATA_ELEM_OFF",
    "maskwire.data.val_off": "MW_OFF_DATA_VAL_OFF",
    "maskwire.data.n": "MW_OFF_DATA_N",
    "maskwire.data.k": "MW_OFF_DATA_K",
    "maskwire.data.tag": "MW_OFF_DATA_TAG",
    "maskwire.data.seg_cnt": "MW_OFF_DATA_SEG_CNT",
    "maskwire.data.codec": "MW_OFF_DATA_CODEC",
    "maskwire.data.bits": "MW_OFF_DATA_BITS",
    "maskwire.data.rounding": "MW_OFF_DATA_ROUNDING",
    "maskwire.data.dtype": "MW_OFF_DATA_DTYPE",
    "maskwire.data.kind": "MW_OFF_DATA_KIND",
    "maskwire.data.ndim": "MW_OFF_DATA_NDIM",
    "maskwire.data.deadline_ms": "MW_OFF_DATA_DEADLINE",
    "maskwire.data.p0": "MW_OFF_DATA_P0",
    "maskwire.data.p1": "MW_OFF_DATA_P1",
    "maskwire.data.dim": "MW_OFF_DATA_DIMS",
    "maskwire.data.payload": "MW_OFF_DATA_PAYLOAD",
    "maskwire.ack.largest_pn": "MW_OFF_ACK_LARGEST_PN",
    "maskwire.ack.ack_delay_us": "MW_OFF_ACK_DELAY_US",
    "maskwire.ack.cum_tid": "MW_OFF_ACK_CUM_TID",
    "maskwire.ack.rx_limit": "MW_OFF_ACK_RX_LIMIT",
    "maskwire.ack.nblocks": "MW_OFF_ACK_NBLOCKS",
    "maskwire.ack.has_largest": "MW_OFF_ACK_HAS_LARGEST",
    "maskwire.ack.reserved": "MW_OFF_ACK_RSV",
    "maskwire.ack.block.tid": "MW_OFF_BLK_TID",
    "maskwire.ack.block.seg_cum": "MW_OFF_BLK_SEG_CUM",
    "maskwire.ack.block.flags": "MW_OFF_BLK_FLAGS",
    "maskwire.ack.block.reserved": "MW_OFF_BLK_RSV",
    "maskwire.ack.block.bitmap_len": "MW_OFF_BLK_BITMAP_LEN",
    "maskwire.ack.block.bitmap": "MW_OFF_BLK_BITMAP",
    "maskwire.close.reason": "MW_OFF_CLOSE_REASON",
    "maskwire.cdata.pn": "MW_OFF_CDATA_PN",
    "maskwire.cdata.tid16": "MW_OFF_CDATA_TID",
    "maskwire.cdata.val_cnt": "MW_OFF_CDATA_VAL_CNT",
    "maskwire.cdata.seg_idx": "MW_OFF_CDATA_SEG_IDX",
    "maskwire.cdata.elem_off": "MW_OFF_CDATA_ELEM_OFF",
    "maskwire.cdata.crc": "MW_OFF_CDATA_CRC",
    "maskwire.cdata.payload": "MW_OFF_CDATA_PAYLOAD",
    FIRST_BLOCK: "MW_OFF_ACK_BLOCKS",
}


def wire_offsets(path=WIRE_H):
    """mw_wire.h's MW_OFF_* names: {name: (offset, width in bytes, or None
    for a variable-length part)}; the width is the first uN/iN of the
    define's comment."""
    consts, offs = {}, {}
    with open(path) as f:
        for line in f:
            m = re.match(r"#define\s+(MW_\w+)\s+(\w+)(.*)", line)
            if not m:
                continue
            name, val, rest = m.groups()
            if val in consts:
                v = consts[val]
            else:
                try:
                    v = int(val.rstrip("uU"), 0)
                except ValueError:
                    continue
            consts[name] = v
            if name.startswith("MW_OFF_"):
                w = re.search(r"\b[ui](8|16|32|64)\b", rest)
                offs[name] = (v, int(w.group(1)) // 8 if w else None)
    return offs


def dissected_offsets(capture):
    """Where the dissector puts each field in a capture, from tshark's
    PDML: {field: {(offset, size), ...}}, offsets as FIELD_OFF says."""
    out = subprocess.run(["tshark", "-n", "-X", "lua_script:" + ptlib.DISSECTOR,
                          "-r", capture, "-T", "pdml"], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True).stdout
    seen = {}

    def note(name, off, size):
        seen.setdefault(name, set()).add((off, size))

    def walk(el, base, count):
        for ch in el.findall("field"):
            name = ch.get("name")
            pos, size = int(ch.get("pos")), int(ch.get("size"))
            kids = [k.get("name") for k in ch.findall("field")]
            if name == "_ws.lua.text" and "maskwire.ack.block.tid" in kids:
                if not count["blocks"]:
                    note(FIRST_BLOCK, pos - base, None)
                count["blocks"] += 1
                walk(ch, pos, count)
                continue
            if name == "maskwire.data.dim":
                note(name, pos - base - 4 * count["dim"], size)
                count["dim"] += 1
            elif name in FIELD_OFF:
                note(name, pos - base, size)
            walk(ch, base, count)

    for proto in ET.fromstring(out).iter("proto"):
        if proto.get("name") == "maskwire":
            walk(proto, int(proto.get("pos")), {"dim": 0, "blocks": 0})
    return seen


def check_layout(ck, caps):
    offs = wire_offsets()
    ck.true("mw_wire.h names field offsets (%d MW_OFF_*)" % len(offs),
            len(offs) > 40)
    ck.eq("MW_OFF_* fields the dissector does not show",
          sorted(set(offs) - set(FIELD_OFF.values())), [])
    seen = {}
    for cap in caps:
        for name, s in dissected_offsets(cap).items():
            seen.setdefault(name, set()).update(s)
    for name, macro in FIELD_OFF.items():
        off, width = offs.get(macro, (None, None))
        got = seen.get(name, set())
        size = "%d bytes" % width if width else "variable length"
        ck.true("dissector %s at %s = %s, %s" % (name, macro, off, size),
                got and all(o == off and (width is None or s == width)
                            for o, s in got),
                "(seen as (offset, size): %s)" % sorted(got, key=str))


def norm_int_list(v):
    return [int(x, 0) for x in v.split(",")]


def same(field, c, t):
    if field in ("maskwire.crc.status", "maskwire.cdata.crc.status"):
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


# docs/PROTOCOL.md 5.6: a compact DATA from {1000, 1} to {2000, 1}, after
# a packet of the same direction that names those identities (the same
# HELLO, addressed to {2000, 1}, its CRC redone).
DOC_CDATA = bytes.fromhex(
    "4d5701060000000500020003000000040000"
    "0640cd56e414") + bytes(range(16))


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 & -(c & 1))
    return c ^ 0xFFFFFFFF


def doc_hello_to(inc, gen):
    h = bytearray(DOC_HELLO)
    h[16:24] = struct.pack(">II", inc, gen)
    h[24:28] = b"\0\0\0\0"
    h[24:28] = struct.pack(">I", crc32c(bytes(h)))
    return bytes(h)


def doc_example_pcap(path, datagrams=(DOC_HELLO,)):
    """Datagrams in Ethernet/IPv4/UDP (port 47000), 10.0.0.1 to
    10.0.0.2, as a pcap; by default the example HELLO."""
    frames = []
    for dg in datagrams:
        udp = struct.pack(">HHHH", 47000, 47000, 8 + len(dg), 0) + dg
        ip = bytearray(struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp),
                                   1, 0x4000, 64, 17, 0, bytes([10, 0, 0, 1]),
                                   bytes([10, 0, 0, 2])))
        s = sum(struct.unpack(">10H", ip))
        s = (s & 0xFFFF) + (s >> 16)
        s = (s & 0xFFFF) + (s >> 16)
        ip[10:12] = struct.pack(">H", ~s & 0xFFFF)
        frames.append(bytes.fromhex("020000000002020000000001") +
                      b"\x08\x00" + bytes(ip) + udp)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for frame in frames:
            f.write(struct.pack("<IIII", 0, 0, len(frame), len(frame)) +
                    frame)


def check_doc_cdata(ck, pcaptool):
    path = os.path.join(tempfile.mkdtemp(prefix="mw-doc-"), "cdata.pcap")
    fields = ["maskwire.type", "maskwire.cdata.pn", "maskwire.cdata.tid16",
              "maskwire.cdata.val_cnt", "maskwire.cdata.seg_idx",
              "maskwire.cdata.elem_off", "maskwire.cdata.crc",
              "maskwire.cdata.crc.status", "maskwire.cdata.payload_len"]
    try:
        doc_example_pcap(path, (doc_hello_to(2000, 1), DOC_CDATA))
        c = ptlib.dump(pcaptool, path)[1]
        t = tshark_fields(path, fields)[1]
    finally:
        shutil.rmtree(os.path.dirname(path), ignore_errors=True)
    ck.eq("PROTOCOL.md 5.6 example: C parser status", c["pt.status"], "ok")
    ck.eq("PROTOCOL.md 5.6 example: CRC status (C, tshark)",
          (c["maskwire.cdata.crc.status"], t["maskwire.cdata.crc.status"]),
          ("good", "1"))
    want = [6, 5, 2, 3, 4, 1600, 0xcd56e414, None, 16]
    for f, v in zip(fields, want):
        if v is not None:
            ck.eq("PROTOCOL.md 5.6 example %s (C, tshark)" % f,
                  (int(c[f], 0), int(t[f], 0)), (v, v))


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


def check_secure(ck, cap, name):
    """Version-2 frames (PROTOCOL.md 12): the header and the trailer are
    shown, a body sent encrypted is marked and not dissected (nothing of
    it is read as a field), a HELLO's body is."""
    f = ["maskwire.version", "maskwire.type", "maskwire.flags",
         "maskwire.encrypted", "maskwire.data.tid", "maskwire.sec.sn",
         "maskwire.hello.rx_window"]
    rows = [t for t in tshark_fields(cap, f) if t["maskwire.version"] == "2"]
    if not rows:
        return
    bad = []
    for t in rows:
        hello = t["maskwire.type"] in ("1", "2")
        clear = hello or int(t["maskwire.flags"] or "0", 0) & 2
        if t["maskwire.encrypted"] != ("0" if clear else "1") or \
                not t["maskwire.sec.sn"] or \
                (not clear and t["maskwire.data.tid"]) or \
                (hello and not t["maskwire.hello.rx_window"]):
            bad.append(str(t))
    ck.true("%s: %d version-2 frames: encrypted bodies marked, not read"
            % (name, len(rows)), not bad, "\n  " + "\n  ".join(bad[:5]))


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
    check_doc_cdata(ck, pcaptool)
    check_layout(ck, caps)
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
        check_secure(ck, cap, name)
        errs = lua_errors(cap)
        ck.true("%s: no Lua error" % name, not errs, "\n  " + "\n  ".join(errs[:5]))
    print("%d datagrams, %d field values compared" % (total_dgrams, total_fields))
    ck.true("compared something", total_fields > 0)
    ck.finish()


main()
