#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""UDP checksum 0 is negotiated (PROTOCOL.md 2, 5.1): A runs with
--accept-zero-cksum and announces it in its HELLOs, B does not. Over
net_memif, 100 tensors each way: every frame B sends A once it has A's
HELLO carries UDP checksum 0 (its own first HELLO may leave before A's
arrives: that one has a full checksum), every frame A sends B a full one, and
both sides deliver everything intact (A's capture holds both directions)."""

import struct

import mwtest

N = 100
ETH, IP, UDP = 14, 20, 8


def body(run):
    mwtest.require_root()
    cap = run.path("a.pcap")
    a, b = mwtest.memif_pair(run, N, ["--accept-zero-cksum", "--capture",
                                      cap], [])
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    mwtest.check(sa["net"]["accept_zero_udp_cksum"] and
                 not sb["net"]["accept_zero_udp_cksum"], "A accepts 0, B does not")
    mwtest.check(sa["net"]["drops_total"] == 0 and sb["net"]["drops_total"] == 0,
                 "no frame dropped on either side")
    mwtest.check(sa["net"]["tx_udp_cksum0"] == 0,
                 "A sends B (which does not accept 0) full checksums only")
    a_mac = None
    to_a = {"zero": 0, "full": 0}
    to_b = {"zero": 0, "full": 0}
    a_hello_seen = False   # B has A's HELLO: from then on B sends 0
    late_full = 0
    for fr in mwtest.pcap_frames(cap):
        if len(fr) < ETH + IP + UDP or fr[12:14] != b"\x08\x00":
            continue  # ARP
        src_ip = fr[ETH + 12:ETH + 16]
        ck, = struct.unpack(">H", fr[ETH + IP + 6:ETH + IP + 8])
        mtype = fr[ETH + IP + UDP + 3]
        if src_ip == bytes([10, 0, 0, 1]):
            to_b["zero" if ck == 0 else "full"] += 1
            if mtype in (1, 2):  # HELLO, HELLO_ACK
                a_hello_seen = True
        else:
            to_a["zero" if ck == 0 else "full"] += 1
            if ck != 0 and mtype != 1:
                late_full += 1  # only a HELLO can precede A's caps
    print("A->B: %(zero)d zero, %(full)d full; " % to_b +
          "B->A: %(zero)d zero, %(full)d full" % to_a)
    mwtest.check(a_hello_seen, "A's HELLO is in the capture")
    mwtest.check(to_b["zero"] == 0 and to_b["full"] > 0,
                 "every frame A->B has a full UDP checksum")
    mwtest.check(late_full == 0, "every frame B->A but its first HELLO "
                 "has UDP checksum 0")
    mwtest.check(to_a["zero"] == sb["net"]["tx_udp_cksum0"] > 0,
                 "B's tx_udp_cksum0 counts its checksum-0 frames (%d)" %
                 to_a["zero"])
    mwtest.check(to_a["full"] <= 1, "at most B's first HELLO (if it left "
                 "before A's came) has a full checksum")
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
