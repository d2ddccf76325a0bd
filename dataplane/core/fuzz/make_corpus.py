#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seed corpora for the transport core's and the frame parser's fuzz
targets, made from real traffic: the pcap-tests captures (classic pcap,
Ethernet, IPv4/UDP frames carrying maskwire packets). Standard library
only; the same captures always give the same files.

  corpus/wire/  fuzz-core-wire: flag byte 0, then one captured datagram
                (the first of each packet kind in each capture)
  corpus/recv/  fuzz-core-recv: one direction of a conversation (HELLO,
                the first DATA packets, an ACK, CLOSE) as the harness's
                records, stamped with the endpoint's identities
  corpus/drop/  fuzz-core-drop: a scenario in which, once the session is
                open and a tensor delivered, the extra packet is a
                captured datagram (those up to 283 bytes: what the
                harness's arbitrary-packet mode can carry)
  corpus/send/  fuzz-core-send: a sender program (tensors, a lossy and
                reordering link, timers) into which captured ACKs,
                HELLO_ACKs and CLOSEs are fed, renumbered next to what
                the sender really sent
  ../../net/fuzz/corpus/frame/
                fuzz-net-frame: the configuration byte, then one whole
                frame (the first of each kind in all the captures)

Usage: make_corpus.py [--captures DIR]. Each corpus folder is emptied and
written again.
"""

import argparse
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))

# mw_wire.h
HDR_LEN = 28
DATA_HDR_LEN = 140
PT_HELLO, PT_HELLO_ACK, PT_DATA, PT_ACK, PT_CLOSE = 1, 2, 3, 4, 5
OFF_TYPE = 3
OFF_CODEC = 92
OFF_ACK_NBLOCKS = 44
TYPE_NAME = {PT_HELLO: "hello", PT_HELLO_ACK: "hello-ack", PT_DATA: "data",
             PT_ACK: "ack", PT_CLOSE: "close"}

MAX_FRAME = 1600     # larger test frames (oversize) are left out
DROP_MAX = 28 + 255  # drop_diff.c's arbitrary packet: 28 + one byte


def read_pcap(path):
    """Frames of a classic pcap file (either byte order), in order."""
    with open(path, "rb") as f:
        b = f.read()
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("%s: not a classic pcap file" % path)
    linktype = struct.unpack(e + "I", b[20:24])[0]
    if linktype != 1:
        raise ValueError("%s: link type %d, not Ethernet" % (path, linktype))
    frames, off = [], 24
    while off + 16 <= len(b):
        incl = struct.unpack(e + "I", b[off + 8:off + 12])[0]
        frames.append(b[off + 16:off + 16 + incl])
        off += 16 + incl
    return frames


def udp_payload(fr):
    """(src ip, payload) of an untagged or 802.1Q-tagged IPv4/UDP frame,
    or None."""
    if len(fr) < 14:
        return None
    o, et = 14, struct.unpack(">H", fr[12:14])[0]
    if et == 0x8100 and len(fr) >= 18:
        o, et = 18, struct.unpack(">H", fr[16:18])[0]
    if et != 0x0800 or len(fr) < o + 20:
        return None
    ihl = (fr[o] & 15) * 4
    if fr[o] >> 4 != 4 or ihl < 20 or fr[o + 9] != 17:
        return None
    tot = struct.unpack(">H", fr[o + 2:o + 4])[0]
    u = o + ihl
    if len(fr) < u + 8 or tot < ihl + 8:
        return None
    ulen = struct.unpack(">H", fr[u + 4:u + 6])[0]
    end = min(len(fr), o + tot, u + ulen)
    if end < u + 8:
        return None
    return fr[o + 12:o + 16], fr[u + 8:end]


def mw_type(d):
    if len(d) >= HDR_LEN and d[:2] == b"MW":
        return d[OFF_TYPE]
    return None


def kind(d):
    """What makes a datagram different from another for a parser."""
    t = mw_type(d)
    if t is None:
        return ("other",)
    if t == PT_DATA:
        return ("data", d[OFF_CODEC] if len(d) > OFF_CODEC else None,
                len(d) > 300)
    if t == PT_ACK:
        return ("ack", d[OFF_ACK_NBLOCKS:OFF_ACK_NBLOCKS + 2])
    return ("type", t)


def name_of(d):
    t = mw_type(d)
    return TYPE_NAME.get(t, "type%d" % t) if t is not None else "other"


class Capture:
    def __init__(self, path):
        self.name = os.path.basename(path)[:-len(".pcap")]
        self.frames = [f for f in read_pcap(path) if len(f) <= MAX_FRAME]
        self.dgrams = []  # (src ip, payload)
        for fr in self.frames:
            u = udp_payload(fr)
            if u:
                self.dgrams.append(u)
        hello = [s for s, d in self.dgrams if mw_type(d) == PT_HELLO]
        self.sender = hello[0] if hello else None
        self.vlan = None
        for fr in self.frames:
            if len(fr) >= 16 and fr[12:14] == b"\x81\x00":
                self.vlan = struct.unpack(">H", fr[14:16])[0] & 0xfff
                break

    def from_sender(self):
        return [d for s, d in self.dgrams if s == self.sender]

    def to_sender(self):
        return [d for s, d in self.dgrams if s != self.sender]


def firsts(items, key):
    seen, out = set(), []
    for it in items:
        k = key(it)
        if k not in seen:
            seen.add(k)
            out.append(it)
    return out


# ---- the harnesses' input formats -------------------------------------------

def wire_seed(d):
    """fuzz_wire.c: a flag byte (bit 0: fix magic, version, CRC), then the
    datagram, here as captured."""
    return b"\x00" + d


def recv_record(d, flags):
    """fuzz_recv.c: flags, a 16-bit length, the datagram. Flags: bit 0
    stamp magic/version/CRC, bit 1 the endpoint's identities, bit 2 an
    unregistered peer, bits 2-6 x 100 us of time, bit 7 run the timers."""
    return bytes([flags]) + struct.pack(">H", len(d)) + d


RECV_STAMP = 0x0b  # stamped, as the known peer, 200 us later


def recv_seed(cap):
    out = cap.from_sender()
    data = [d for d in out
            if mw_type(d) == PT_DATA and len(d) >= DATA_HDR_LEN][:4]
    hello = [d for d in out if mw_type(d) == PT_HELLO][:1]
    close = [d for d in out if mw_type(d) == PT_CLOSE][:1]
    acks = [d for d in cap.to_sender() if mw_type(d) == PT_ACK][:1]
    s = b"".join(recv_record(d, RECV_STAMP) for d in hello + data + acks)
    s += b"".join(recv_record(d, RECV_STAMP | 0x80) for d in close)
    return s


def drop_seed(d):
    """drop_diff.c consumes its input as the scenario unfolds; this prefix
    opens the session (A's HELLO and B1's HELLO_ACK delivered), sends one
    8-element DENSE tensor, delivers its one DATA packet to B1 and B2 and
    then, at step 1, gives B2 the captured datagram as the extra packet
    under A's real identities with a valid CRC. The tail lets time run."""
    s = bytes([0])                 # extra packet at step 1
    s += bytes([1])                # step 0: act
    s += bytes([0, 0, 0, 4, 0, 0])  # submit: 8 elements, DENSE
    s += bytes([2])                # A's HELLO: queued
    s += bytes([0, 0])             # link: hold none; deliver it
    s += bytes([1])                # B1's HELLO_ACK reaches A
    s += bytes([0])                # time: +1 us
    s += bytes([1])                # step 1: act
    s += bytes([2])                # A's DATA: queued
    s += bytes([0, 0])             # link: deliver it
    s += bytes([3, len(d) - HDR_LEN]) + d  # extra: arbitrary bytes
    s += bytes([1])                # with a valid CRC
    s += bytes([6]) * 24           # then: to the timers
    return s


# fuzz_send.c step codes (take(in, 16))
S_SUBMIT, S_DEFER, S_PUMP_S, S_PUMP_R, S_RELEASE = 0, 1, 2, 5, 7
S_ACK, S_HELLO, S_CLOSE, S_RAW, S_TIME = 8, 10, 11, 12, 13


def s_submit(size, codec, tag, step=S_SUBMIT):
    # size byte (n = 1 + 4 x), values seed, codec, bits - 1, ratio x 10, tag
    return bytes([step, size, tag + 1, codec, 1, 9, tag])


def s_pump(side, n, lose=0, keep=0):
    return bytes([side, n - 1]) + struct.pack(">HH", lose, keep)


def s_time(c):
    return bytes([S_TIME, c])


def s_raw(d, rebase):
    # flags: bit 0 stamp identities and CRC, bit 1 renumber an ACK
    return bytes([S_RAW, 1 | (2 if rebase else 0)]) + \
        struct.pack(">H", len(d)) + d


# Configurations (first byte): cwnd_max 8 / 1472-byte datagrams, cwnd_max
# 16 starting full / 600 bytes, cwnd_max 4 / 256 bytes, without undo.
SEND_CFG = [0x0d, 0x25, 0x00, 0x4e]


def send_seed(i, d):
    s = bytes([SEND_CFG[i % len(SEND_CFG)], 0])  # a real receiver
    s += bytes([64, 1, 1, 0, 9, 0])      # first tensor: MS, 257 elements
    s += s_submit(255, 0, 1)             # DENSE, 1021 elements
    s += s_submit(100, 3, 2)             # TOPK
    s += s_submit(255, 1, 3, S_DEFER)    # MS, 1021 elements, deferred
    s += s_pump(S_PUMP_S, 16, lose=0x0002, keep=0x0008)
    s += s_time(0x05)
    s += s_pump(S_PUMP_R, 4)
    s += s_raw(d, mw_type(d) == PT_ACK)  # the captured datagram
    s += s_time(0x80)                    # to S's next timer
    s += s_pump(S_PUMP_S, 8)
    s += bytes([S_RELEASE, 0x01, 0])     # the held DATA, late
    s += s_pump(S_PUMP_R, 4)
    s += s_time(0x41)
    s += s_raw(d, mw_type(d) == PT_ACK)  # again, later
    s += s_pump(S_PUMP_S, 16)
    s += s_pump(S_PUMP_R, 4)
    s += s_time(0xc0)
    return s


def frame_seed(cap, fr):
    """fuzz_frame.c: the configuration byte (bit 0: tagged, VLAN id in the
    rest) and the frame."""
    c = (cap.vlan << 1 | 1) if cap.vlan is not None and cap.vlan < 128 else 0
    return bytes([c]) + fr


def frame_kind(fr):
    """What makes a frame different from another for the frame parser:
    its ethertypes, IP header bytes other than addresses, length and
    checksum, whether it carries UDP and from where, its size class."""
    u = udp_payload(fr)
    o = 18 if fr[12:14] == b"\x81\x00" else 14
    ip = fr[o:o + 2] + fr[o + 6:o + 10] if fr[o - 2:o] == b"\x08\x00" \
        else b""
    size = 0 if len(fr) < 64 else 1 if len(fr) < 600 else 2
    return (fr[12:14], fr[16:18] if o == 18 else b"", ip, size,
            u and u[0], u and mw_type(u[1]))


# ---- output -----------------------------------------------------------------

def write(folder, files):
    os.makedirs(folder, exist_ok=True)
    for f in os.listdir(folder):
        os.unlink(os.path.join(folder, f))
    total = 0
    for name, data in files:
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("%s: %d files, %d bytes" % (os.path.relpath(folder, ROOT),
                                     len(files), total))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--captures",
                    default=os.path.join(ROOT, "pcap-tests", "captures"))
    args = ap.parse_args()
    caps = [Capture(os.path.join(args.captures, f))
            for f in sorted(os.listdir(args.captures)) if f.endswith(".pcap")]
    if not caps:
        sys.exit("no captures in " + args.captures)

    wire, recv, drop, send, frame = [], [], [], [], []
    seen = set()  # identical datagrams across captures: once
    seen_frames = set()  # one frame of a kind in all the captures
    for cap in caps:
        for i, (_, d) in enumerate(firsts(cap.dgrams, lambda x: kind(x[1]))):
            if d in seen:
                continue
            seen.add(d)
            wire.append(("%s-%d-%s" % (cap.name, i, name_of(d)),
                         wire_seed(d)))
            if HDR_LEN <= len(d) <= DROP_MAX:
                drop.append(("%s-%d-%s" % (cap.name, i, name_of(d)),
                             drop_seed(d)))
        if cap.sender is not None:
            recv.append((cap.name, recv_seed(cap)))
        for i, fr in enumerate(cap.frames):
            k = frame_kind(fr)
            if k not in seen_frames:
                seen_frames.add(k)
                frame.append(("%s-%d" % (cap.name, i), frame_seed(cap, fr)))
    # The receiver's answers: every distinct ACK, a HELLO_ACK, a CLOSE.
    answers = []
    for cap in caps:
        answers += [(cap.name, d) for d in cap.to_sender()
                    if mw_type(d) in (PT_ACK, PT_HELLO_ACK)]
        answers += [(cap.name, d) for d in cap.from_sender()
                    if mw_type(d) == PT_CLOSE][:1]
    answers = firsts(answers, lambda x: x[1])
    acks = [a for a in answers if mw_type(a[1]) == PT_ACK]
    others = firsts([a for a in answers if mw_type(a[1]) != PT_ACK],
                    lambda x: mw_type(x[1]))
    for i, (cname, d) in enumerate(acks + others):
        send.append(("%s-%d-%s" % (cname, i, name_of(d)), send_seed(i, d)))

    corpus = os.path.join(HERE, "corpus")
    write(os.path.join(corpus, "wire"), wire)
    write(os.path.join(corpus, "recv"), recv)
    write(os.path.join(corpus, "drop"), drop)
    write(os.path.join(corpus, "send"), send)
    write(os.path.join(ROOT, "dataplane", "net", "fuzz", "corpus", "frame"),
          frame)


if __name__ == "__main__":
    main()
