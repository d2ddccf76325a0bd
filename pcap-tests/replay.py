#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Replay one capture through maskwire (net_pcap) and check it against its
manifest.

usage: replay.py MASKWIRE PCAPTOOL MANIFEST.json

maskwire runs as the recorded receiver (same MAC, IP, incarnation; the
peer's MAC given, so no ARP) with the capture as its receive side and an
output capture as its transmit side, verifies every delivered tensor with
its sink and stops when the capture has been idle for a while. Checked:
  - exit status, end reason, no EAL runtime files left;
  - the tensors delivered: the manifest's list, in order, each with the
    same CRC32C of its decoded bytes and verified bit-exactly by the sink;
  - every counter listed in the manifest (net: frames, drops by reason,
    ARP; transport: datagrams, duplicates, drops by reason, ...), exactly;
  - what it sent back (OUT): ARP replies, HELLO_ACK, HELLO, ACKs (the last
    one covering every delivered tensor and the largest packet number),
    a CLOSE at the end, nothing else, all from the right session.
"""
import base64
import os
import shutil
import sys

import ptlib

IDLE_EXIT_MS = 400


def check_out(ck, rows, out, stats):
    mws = [r for r in rows if r["pt.kind"] == "maskwire"]
    arp = [r for r in rows if r["pt.kind"] == "arp-reply"]
    other = [r for r in rows if r["pt.kind"] not in ("maskwire", "arp-reply")]
    ck.eq("OUT frames = port opackets", len(rows), stats["port"]["opackets"])
    ck.eq("OUT ARP replies", len(arp), out["arp_reply"])
    ck.eq("OUT frames that are neither maskwire nor ARP replies", len(other), 0)
    ck.true("every OUT datagram parses (status ok)",
            all(r["pt.status"] == "ok" for r in mws),
            [r["frame.number"] for r in mws if r["pt.status"] != "ok"])
    bytype = {}
    for r in mws:
        bytype.setdefault(int(r["maskwire.type"]), []).append(r)
    hello_ack, hello = bytype.get(2, []), bytype.get(1, [])
    acks, closes = bytype.get(4, []), bytype.get(5, [])
    ck.eq("OUT DATA datagrams", len(bytype.get(3, [])), 0)
    ck.true("OUT HELLO_ACKs in [%d, %d]" % (out["hello_ack_min"],
                                            out["hello_ack_max"]),
            out["hello_ack_min"] <= len(hello_ack) <= out["hello_ack_max"],
            "got %d" % len(hello_ack))
    if out["hello_min"]:
        ck.true("OUT has a HELLO (resynchronisation)", len(hello) >= 1)
    else:
        ck.eq("OUT HELLOs", len(hello), 0)
    ck.true("OUT ACKs >= %d" % out["ack_min"], len(acks) >= out["ack_min"],
            "got %d" % len(acks))
    ck.eq("OUT CLOSEs", len(closes), out["close"])
    if "src" in out:
        ck.true("OUT datagrams all from session %s to %s" % (out["src"], out["dst"]),
                all([int(r["maskwire.src.inc"]), int(r["maskwire.src.gen"])] == out["src"]
                    and [int(r["maskwire.dst.inc"]), int(r["maskwire.dst.gen"])] == out["dst"]
                    for r in mws if int(r["maskwire.type"]) != 1))
    if closes:
        ck.eq("the CLOSE is the last datagram", mws[-1]["maskwire.type"], "5")
        ck.eq("CLOSE reason (canceled: local close at exit)",
              int(closes[-1]["maskwire.close.reason"]), -21)
    fa = out.get("final_ack")
    if fa and acks:
        last = acks[-1]
        for k in ("cum_tid", "rx_limit", "largest_pn"):
            ck.eq("last ACK " + k, int(last["maskwire.ack." + k]), fa[k])
        ck.eq("last ACK has_largest", last["maskwire.ack.has_largest"], "1")
        ck.true("ACK cum_tid never decreases",
                all(int(a["maskwire.ack.cum_tid"]) <= int(b["maskwire.ack.cum_tid"])
                    for a, b in zip(acks, acks[1:])))


def replay_secure(maskwire, m, cap, w):
    """A secure recording (PROTOCOL.md 12) replayed into a fresh receiver
    with the recording's key, then with another key: nothing delivered,
    and every packet of the sender accounted for. With the right key
    only its HELLOs authenticate (accepted, answered); the rest name the
    receiver's recorded identity and nonce, which a new process never
    has, and are dropped unauthenticated. With another key nothing
    authenticates at all."""
    exp = m["secure_expect"]
    ck = ptlib.Checker()
    other = w.path("other.key")
    fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
    os.close(fd)
    key = w.path("replay.key")
    shutil.copy(os.path.join(os.path.dirname(cap), m["key"]), key)
    os.chmod(key, 0o600)
    for label, k in (("recording's key", key), ("another key", other)):
        out, log = w.path("out-%d.pcap" % len(label)), w.path("mw.log")
        stats_path = w.path("stats-%d.json" % len(label))
        p = w.maskwire(maskwire, label[:1], "net_pcap0,rx_pcap=%s,tx_pcap=%s"
                       % (cap, out), m["replay_args"] + [
                           "--key", k, "--sink", "--idle-exit-ms",
                           str(IDLE_EXIT_MS), "--stats", stats_path,
                           "--status-ms", "0", "--idle-yield"], log)
        rc = p.wait(timeout=120)
        if rc != 0 and ptlib.pcap_unavailable(log):
            ptlib.skip("DPDK's net_pcap driver is not available")
        ck.eq(label + ": exit status", rc, 0)
        if not os.path.exists(stats_path):
            print(ptlib.log_tail(log))
            ptlib.fail("no JSON stats")
        s = ptlib.load_json(stats_path)
        t, d = s["transport"], s["transport"]["drop"]
        ck.eq(label + ": security", t.get("security"), "encrypt")
        ck.eq(label + ": frames in", s["port"]["ipackets"], exp["frames"])
        ck.eq(label + ": tensors delivered", t["tensors_delivered"], 0)
        ck.eq(label + ": DATA accepted", t["data_rx"], 0)
        ck.eq(label + ": sink", s["sink"]["delivered"], 0)
        if k == key and "fresh" in exp:
            # what maskwire-pcaptool expect --key says a fresh receiver
            # counts, drop by drop (PROTOCOL.md 12.6)
            ck.eq(label + ": the sender's HELLOs accepted", t["hello_rx"],
                  exp["fresh"]["hello_rx"])
            for r, n in sorted(exp["fresh"]["drop"].items()):
                ck.eq(label + ": drop " + r, d[r], n)
        elif k == key:
            ck.eq(label + ": the sender's HELLOs accepted", t["hello_rx"],
                  exp["hello_from_a"])
            ck.eq(label + ": the rest dropped (auth, auth_session)",
                  d["auth"] + d["auth_session"], exp["session_from_a"])
        else:
            ck.eq(label + ": no HELLO accepted", t["hello_rx"], 0)
            ck.eq(label + ": every packet dropped (auth, auth_session)",
                  d["auth"] + d["auth_session"], exp["from_a"])
        ck.eq(label + ": peer restarts", t["peer_restarts"], 0)
    if ck.bad:
        print(ptlib.log_tail(w.path("mw.log")))
    ck.finish()


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    maskwire, pcaptool, manifest = sys.argv[1:]
    ptlib.need_binary(maskwire, "maskwire")
    ptlib.need_binary(pcaptool, "maskwire-pcaptool")
    ptlib.need_root()
    m = ptlib.load_json(manifest)
    exp = m.get("expect")
    cap = os.path.join(os.path.dirname(os.path.abspath(manifest)), m["capture"])
    name = m["name"]
    print("capture %s: %s" % (name, m["description"]))
    w = ptlib.Workdir(name)
    if "secure_expect" in m:
        try:
            replay_secure(maskwire, m, cap, w)
        finally:
            w.cleanup()
        return
    try:
        out, log = w.path("out.pcap"), w.path("maskwire.log")
        tlog, stats_path = w.path("tensors.jsonl"), w.path("stats.json")
        # The recordings are plain (version 1) unless the manifest names
        # the test key they were made with (PROTOCOL.md 12).
        sec = ["--plain"]
        if m.get("key"):
            key = w.path("replay.key")
            shutil.copy(os.path.join(os.path.dirname(cap), m["key"]), key)
            os.chmod(key, 0o600)
            sec = ["--key", key]
        p = w.maskwire(maskwire, "R", "net_pcap0,rx_pcap=%s,tx_pcap=%s" % (cap, out),
                       m["replay_args"] + sec + [
                           "--sink", "--tensor-log", tlog,
                           "--idle-exit-ms", str(IDLE_EXIT_MS),
                           "--stats", stats_path, "--status-ms", "0",
                           "--idle-yield"], log)
        try:
            rc = p.wait(timeout=120)
        except Exception:
            print(ptlib.log_tail(log))
            ptlib.fail("maskwire did not exit within 120 s")
        if rc != 0 and ptlib.pcap_unavailable(log):
            ptlib.skip("DPDK's net_pcap driver is not available")
        ck = ptlib.Checker()
        ck.eq("exit status", rc, exp.get("exit", 0))
        if not os.path.exists(stats_path):
            print(ptlib.log_tail(log))
            ptlib.fail("no JSON stats")
        s = ptlib.load_json(stats_path)
        ck.eq("end reason", s["maskwire"]["end"], "idle")
        ck.eq("no EAL runtime files left", w.leftover_runtime_dirs(), [])

        # Counters, exactly.
        for sect in ("net", "transport"):
            for k, v in exp[sect].items():
                if isinstance(v, dict):
                    sub = "drops" if sect == "net" else "drop"
                    for r, n in v.items():
                        ck.eq("%s.%s.%s" % (sect, sub, r), s[sect][sub][r], n)
                else:
                    ck.eq("%s.%s" % (sect, k), s[sect][k], v)
        ck.eq("port.ipackets (frames in the capture)", s["port"]["ipackets"],
              exp["frames"])

        # Tensors, in order, bit-exact.
        with open(tlog) as f:
            got = [ptlib.json.loads(l) for l in f if l.strip()]
        want = exp["tensors"]
        ck.eq("tensors delivered", len(got), len(want))
        for g, t in zip(got, want):
            ck.eq("tensor tid %d tag %d (%s %s) crc32c" % (t["tid"], t["tag"], t["kind"], t["codec"]),
                  (g["tid"], g["tag"], g["crc32c"], g["shape"], g["codec"]),
                  (t["tid"], t["tag"], t["crc32c"], t["shape"], t["codec"]))
        ck.true("sink verified every delivered tensor bit-exactly",
                all(g.get("verified") for g in got) and
                s["sink"]["verified"] == len(want) and s["sink"]["mismatched"] == 0,
                str(s["sink"]))
        # Out of order is legitimate only across a peer restart (tags start over).
        restarts = exp["transport"].get("peer_restarts", 0)
        ck.true("sink saw no out-of-order tensor (beyond %d restarts)" % restarts,
                s["sink"]["out_of_order"] <= restarts, str(s["sink"]))

        # What went back.
        check_out(ck, ptlib.dump(pcaptool, out), exp["out"], s)
        if ck.bad:
            print(ptlib.log_tail(log))
        ck.finish()
    finally:
        w.cleanup()


main()
