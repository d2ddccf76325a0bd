#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Rebuild the pcap-tests captures and their manifests.

usage: regen.py BUILD_DIR [--no-record] [--only NAME]

1. Record (unless --no-record): for every entry of RECORDINGS, two maskwire
   processes over net_memif, a sender A (--gen, optional seeded TX faults)
   and a receiver B (--sink N, --capture). B's capture is what B saw and
   sent; it is kept as captures/NAME.pcap. The recording must succeed
   (both exit 0, B's sink verified all N tensors bit-exactly).
2. Derive the mutated variants of VARIANTS from the (committed or just
   recorded) base captures with maskwire-pcaptool mutate and a fixed seed:
   deterministic, so `--no-record` reproduces the committed files exactly.
3. Write captures/NAME.json for every capture (and, for variants,
   captures/NAME.frames.tsv: each frame's expected fate and what the
   mutator did to it): the replay options and what
   a replay must show (maskwire-pcaptool expect). For recordings, the
   tensors the model derives must be the ones B delivered live (same
   CRC32C); for variants, the tensors must be the base's (or, for
   captures cut on purpose, a prefix of them).
"""
import json
import os
import shutil
import subprocess
import sys
import time

import ptlib
from ptlib import mwtest

SHAPE = "4,16,8,8"
A_IP, B_IP = "10.0.0.1", "10.0.0.2"
A_MAC, B_MAC = "02:00:00:00:00:01", "02:00:00:00:00:02"
# Larger than any capture's tensor count: a replay feeds frames in bursts
# of 32 without the sender's pacing, so the receive window must not be
# what limits it (see maskwire-pcaptool expect).
REPLAY_WINDOW = "64"

RECORDINGS = [
    dict(name="act-ms-1500", n=10, mtu=1500,
         gen=["--kind", "activation"],
         description="activations, MS 2-bit r=0.9, MTU 1500, lossless"),
    dict(name="grad-mss-1500-lossy", n=10, mtu=1500,
         gen=["--kind", "gradient"],
         faults=["--tx-drop", "0.1", "--reorder", "0.1", "--dup", "0.05",
                 "--corrupt", "0.03", "--fault-seed", "11"],
         description="gradients, signed MS 2-bit r=0.9, MTU 1500; sender "
                     "drops 10%, reorders 10%, duplicates 5%, flips a bit "
                     "in 3% of its frames: retransmissions, duplicates, "
                     "corrupt frames"),
    dict(name="act-ms4-576-lossy", n=6, mtu=576,
         gen=["--kind", "activation", "--bits", "4", "--ratio", "0.8"],
         faults=["--tx-drop", "0.08", "--reorder", "0.08", "--dup", "0.04",
                 "--fault-seed", "12"],
         description="activations, MS 4-bit r=0.8, MTU 576 (about 10 "
                     "segments a tensor), lossy"),
    dict(name="logits-quant-1000-vlan", n=8, mtu=1000, vlan=7,
         gen=["--kind", "logits", "--codec", "quant", "--bits", "4"],
         description="logits, 4-bit quantisation, MTU 1000, 802.1Q VLAN 7, "
                     "lossless"),
    dict(name="grad-topk-1500-burst", n=8, mtu=1500,
         gen=["--kind", "gradient", "--codec", "topk", "--ratio", "0.95"],
         faults=["--burst-drop", "0.05", "--burst-len", "3",
                 "--fault-seed", "13"],
         description="gradients, top-k r=0.95, MTU 1500, Gilbert-Elliott "
                     "burst loss"),
    dict(name="labels-raw-1500", n=8, mtu=1500,
         gen=["--kind", "labels", "--shape", "256"],
         description="labels, raw bytes (u8), MTU 1500, lossless"),
    dict(name="act-ms-1500-compact-lossy", n=6, mtu=1500,
         gen=["--kind", "activation", "--shape", "16,64,8,8", "--ratio",
              "0.99"],
         faults=["--tx-drop", "0.05", "--reorder", "0.05", "--dup", "0.03",
                 "--fault-seed", "14"],
         description="activations, MS 2-bit r=0.99, 16x64x8x8, MTU 1500: "
                     "14 segments a tensor, the first four full DATA, the "
                     "rest compact (PROTOCOL.md 5.6); sender drops 5%, "
                     "reorders 5%, duplicates 3%"),
]

VARIANTS = [
    dict(name="act-ms-1500-foreign", base="act-ms-1500", seed=101,
         ops=["--foreign", "40"],
         description="foreign traffic mixed in: ARP (for us, for others, "
                     "gratuitous, truncated, bad), IPv6, LLDP, TCP, ICMP, "
                     "GRE, other UDP ports, unknown hosts, other VLANs, "
                     "QinQ, IPv4 fragments and options, bad IPv4/UDP "
                     "headers and checksums, runts, multicast, broadcast, "
                     "a 4000-byte and a 12000-byte frame"),
    dict(name="grad-mss-1500-hostile", base="grad-mss-1500-lossy", seed=102,
         ops=["--hostile"],
         description="hostile maskwire datagrams from the peer: wrong "
                     "magic/version/type/CRC/length/flags, absurd sizes "
                     "and counts (ndim 9, 2^40 elements, 2^31 segments), "
                     "short payloads, stale and wrong sessions, bad HELLO/"
                     "ACK/CLOSE, undecodable MS payloads (sentinel count, "
                     "NaN), a tensor whose description changes mid-way"),
    dict(name="act-ms-1500-shuffled", base="act-ms-1500", seed=103,
         ops=["--reorder", "12", "--dup", "8"],
         description="DATA frames reordered and duplicated"),
    dict(name="grad-mss-1500-damaged", base="grad-mss-1500-lossy", seed=104,
         ops=["--dup", "10", "--recoverable", "--drop", "2", "--truncate",
              "2", "--flip", "2", "--deep-flip", "2"],
         description="DATA frames dropped, truncated, bit-flipped (caught "
                     "by the UDP checksum) and bit-flipped behind a fixed "
                     "UDP checksum (caught by the CRC32C), each with an "
                     "intact copy elsewhere"),
    dict(name="act-ms-1500-compact-hostile", base="act-ms-1500-compact-lossy",
         seed=106, ops=["--hostile"],
         description="the hostile catalogue on a capture with compact DATA, "
                     "and compact DATA a hostile or broken peer could send "
                     "(PROTOCOL.md 5.6): a bad CRC, sealed for another "
                     "session, short, another version, a segment before "
                     "its tensor's full DATA (no_descriptor), segment 0, "
                     "an offset off the 8-element grid, one sentinel code "
                     "too many"),
    dict(name="act-ms-1500-cut", base="act-ms-1500", seed=105,
         ops=["--drop", "1", "--truncate", "1"], prefix=True,
         description="a DATA frame dropped and one truncated, without "
                     "retransmission: delivery stops at the first "
                     "incomplete tensor (in-order delivery)"),
]


# Secure recordings (PROTOCOL.md 12), made with the test key named: a
# replay into a fresh receiver must be rejected (its identities and
# nonces are new), so their manifests say what is dropped, not what is
# delivered.
SECURE = [
    dict(name="act-ms-1500-secure", n=4, mtu=1500, idx=90,
         key="secure-test.key", gen=["--kind", "activation"],
         description="activations over an encrypted session (test key "
                     "secure-test.key); replayed into a fresh receiver: "
                     "nothing delivered, every packet after the HELLO "
                     "dropped unauthenticated"),
]


def rec_idx(rec):
    if "idx" in rec:
        return rec["idx"]
    return [r["name"] for r in RECORDINGS].index(rec["name"])


def sec_args(w, rec):
    """--plain, or --key with a 0600 copy of the recording's test key."""
    if not rec.get("key"):
        return ["--plain"]
    path = w.path("rec.key")
    if not os.path.exists(path):
        shutil.copy(os.path.join(ptlib.CAPTURES, rec["key"]), path)
        os.chmod(path, 0o600)
    return ["--key", path]


# Variants of secure recordings (PROTOCOL.md 12), made with the test key:
# the peer's HELLO altered (before it: auth) and repeated (after: replay).
SECURE_VARIANTS = [
    dict(name="act-ms-1500-secure-replayed", base="act-ms-1500-secure",
         seed=106, ops=["--alter-hello", "6", "--replay-hello", "3"],
         description="the secure recording with its sender's HELLO altered "
                     "(body, nonce, sn, tag, src, dst: each an auth failure) "
                     "and replayed (replay), made with the test key"),
]


def session_args(rec):
    """The receiver's options: what B ran with and what a replay uses."""
    idx = rec_idx(rec)
    args = ["--ip", B_IP, "--mac", B_MAC, "--peer", A_IP,
            "--peer-mac", A_MAC, "--incarnation", str(2000000 + idx)]
    if rec.get("mtu", 1500) != 1500:
        args += ["--mtu", str(rec["mtu"])]
    if "vlan" in rec:
        args += ["--vlan", str(rec["vlan"])]
    return args


def record(build, rec):
    maskwire = os.path.join(build, "apps/maskwire/maskwire")
    ptlib.need_binary(maskwire, "maskwire")
    w = ptlib.Workdir("rec-" + rec["name"])
    try:
        sock = w.path("memif.sock")
        idx = rec_idx(rec)
        net = []
        if rec.get("mtu", 1500) != 1500:
            net += ["--mtu", str(rec["mtu"])]
        if "vlan" in rec:
            net += ["--vlan", str(rec["vlan"])]
        cap, tlog = w.path("b.pcap"), w.path("b.jsonl")
        b = w.maskwire(maskwire, "B",
                       "net_memif0,role=server,socket=%s,socket-abstract=no" % sock,
                       ["--ip", B_IP, "--mac", B_MAC, "--peer", A_IP]
                       + sec_args(w, rec) + [
                        "--incarnation", str(2000000 + idx),
                        "--sink", str(rec["n"]), "--linger-ms", "500",
                        "--capture", cap, "--tensor-log", tlog,
                        "--stats", w.path("b.json"), "--status-ms", "0",
                        "--idle-yield"] + net, w.path("b.log"))
        for _ in range(400):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        gen = ["--gen", str(rec["n"]), "--shape", SHAPE] + rec["gen"]
        a = w.maskwire(maskwire, "A",
                       "net_memif0,role=client,socket=%s,socket-abstract=no" % sock,
                       ["--ip", A_IP, "--mac", A_MAC, "--peer", B_IP]
                       + sec_args(w, rec) + [
                        "--incarnation", str(1000000 + idx),
                        "--linger-ms", "3000", "--stats", w.path("a.json"),
                        "--status-ms", "0", "--idle-yield"]
                       + gen + rec.get("faults", []) + net, w.path("a.log"))
        rb = b.wait(timeout=120)
        ra = a.wait(timeout=60)
        if rb != 0 or ra != 0:
            print(ptlib.log_tail(w.path("a.log")), ptlib.log_tail(w.path("b.log")))
            ptlib.fail("%s: recording failed (A %d, B %d)" % (rec["name"], ra, rb))
        sb = ptlib.load_json(w.path("b.json"))
        if sb["sink"]["verified"] != rec["n"]:
            ptlib.fail("%s: B verified %s" % (rec["name"], sb["sink"]))
        with open(cap, "rb") as f:
            data = f.read()
        with open(os.path.join(ptlib.CAPTURES, rec["name"] + ".pcap"), "wb") as f:
            f.write(data)
        with open(tlog) as f:
            live = [json.loads(l) for l in f if l.strip()]
        print("recorded %s: %d bytes, %d tensors" % (rec["name"], len(data), len(live)))
        return live
    finally:
        w.cleanup()


def expect(pcaptool, capture, args, frames=None):
    extra = ["--frames", frames] if frames else []
    out = subprocess.run([pcaptool, "expect", capture] + args + extra,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)


def write_manifest(name, description, origin, args, exp):
    m = dict(name=name, capture=name + ".pcap", description=description,
             origin=origin, replay_args=args, expect=exp)
    exp["exit"] = 0
    with open(os.path.join(ptlib.CAPTURES, name + ".json"), "w") as f:
        json.dump(m, f, indent=1)
        f.write("\n")


def write_frames(path, mlog, ftsv):
    """Per frame of a variant: what the replaying side must do with it
    (expect's verdict) and what the mutator did to it; then the frames
    the mutator removed."""
    notes, removed = {}, []
    with open(mlog) as f:
        for line in f.read().splitlines()[1:]:
            op, frame, detail = line.split("\t")
            if op == "mark":
                notes[frame] = detail
            else:
                removed.append("-\tremoved\t%s:%s" % (op, detail))
    with open(ftsv) as f:
        rows = [l.split("\t") for l in f.read().splitlines()[1:]]
    with open(path, "w") as f:
        f.write("frame\texpected\tmutation\n")
        for r in rows:
            f.write("%s\t%s\t%s\n" % (r[0], r[1], notes.get(r[0], "")))
        for r in removed:
            f.write(r + "\n")


def secure_expect(pcaptool, cap, rec, variant=False):
    """What a replay of a secure recording must show, from the capture
    itself (maskwire-pcaptool expect --key): every packet of the
    recording verifies under the test key; in a fresh receiver A's HELLO
    is authenticated and accepted, every other packet of A names B's
    recorded identity, which a fresh receiver does not have, and is
    dropped unauthenticated; a variant's altered HELLOs are auth, its
    repeated ones replay."""
    key = ptlib.Workdir("key-" + rec["name"])
    try:
        path = key.path("test.key")
        shutil.copy(os.path.join(ptlib.CAPTURES, rec["key"]), path)
        os.chmod(path, 0o600)
        e = subprocess.run([pcaptool, "expect", cap] + session_args(rec) +
                           ["--key", path], check=True,
                           stdout=subprocess.PIPE, text=True).stdout
    finally:
        key.cleanup()
    e = json.loads(e)
    s = e["secure"]
    if s["datagrams"] == 0 or s["bad_header"] or s["no_keys"] or \
            (not variant and (s["tag_failed"] or s["sn_repeated"])):
        ptlib.fail("%s: not a verified version-2 recording: %s"
                   % (rec["name"], s))
    hello = e["fresh"]["hello_rx"]
    return dict(frames=e["frames"], from_a=s["from_peer"],
                hello_from_a=hello,
                session_from_a=e["fresh"]["drop"]["auth_session"],
                verified=s, fresh=e["fresh"])


def key(t):
    return (t["tid"], t["tag"], t["crc32c"])


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    build = sys.argv[1]
    do_record = "--no-record" not in sys.argv
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    pcaptool = os.path.join(build, "apps/maskwire-pcaptool/maskwire-pcaptool")
    ptlib.need_binary(pcaptool, "maskwire-pcaptool")
    os.makedirs(ptlib.CAPTURES, exist_ok=True)
    base_tensors = {}
    for rec in RECORDINGS:
        if only and rec["name"] != only:
            continue
        cap = os.path.join(ptlib.CAPTURES, rec["name"] + ".pcap")
        args = session_args(rec) + ["--window", REPLAY_WINDOW]
        live = record(build, rec) if do_record else None
        exp = expect(pcaptool, cap, args)
        if live is not None and [key(t) for t in exp["tensors"]] != \
                [(t["tid"], t["tag"], t["crc32c"]) for t in live]:
            ptlib.fail("%s: the model's tensors differ from what B delivered live"
                       % rec["name"])
        if len(exp["tensors"]) != rec["n"]:
            ptlib.fail("%s: the model delivers %d of %d tensors"
                       % (rec["name"], len(exp["tensors"]), rec["n"]))
        base_tensors[rec["name"]] = exp["tensors"]
        origin = dict(recorded=dict(
            sender=["--gen", str(rec["n"]), "--shape", SHAPE] + rec["gen"]
            + rec.get("faults", []),
            receiver=["--sink", str(rec["n"])],
            link="net_memif", mtu=rec.get("mtu", 1500),
            vlan=rec.get("vlan")))
        write_manifest(rec["name"], rec["description"], origin, args, exp)
    for rec in SECURE:
        if only and rec["name"] != only:
            continue
        cap = os.path.join(ptlib.CAPTURES, rec["name"] + ".pcap")
        if do_record:
            record(build, rec)
        origin = dict(recorded=dict(
            sender=["--gen", str(rec["n"]), "--shape", SHAPE] + rec["gen"],
            receiver=["--sink", str(rec["n"])], link="net_memif",
            mtu=rec.get("mtu", 1500), vlan=None, key=rec["key"]))
        m = dict(name=rec["name"], capture=rec["name"] + ".pcap",
                 description=rec["description"], origin=origin,
                 replay_args=session_args(rec), key=rec["key"],
                 secure_expect=secure_expect(pcaptool, cap, rec))
        with open(os.path.join(ptlib.CAPTURES, rec["name"] + ".json"),
                  "w") as f:
            json.dump(m, f, indent=1)
            f.write("\n")
        print("recorded %s: %s" % (rec["name"], m["secure_expect"]))
    for var in SECURE_VARIANTS:
        if only and var["name"] != only:
            continue
        rec = [r for r in SECURE if r["name"] == var["base"]][0]
        base = os.path.join(ptlib.CAPTURES, var["base"] + ".pcap")
        cap = os.path.join(ptlib.CAPTURES, var["name"] + ".pcap")
        ops = ["--seed", str(var["seed"])] + var["ops"]
        kw = ptlib.Workdir("key-" + var["name"])
        try:
            path = kw.path("test.key")
            shutil.copy(os.path.join(ptlib.CAPTURES, rec["key"]), path)
            os.chmod(path, 0o600)
            subprocess.run([pcaptool, "mutate", base, cap] +
                           session_args(rec) + ops + ["--key", path],
                           check=True)
        finally:
            kw.cleanup()
        m = dict(name=var["name"], capture=var["name"] + ".pcap",
                 description=var["description"],
                 origin=dict(base=var["base"] + ".pcap", mutate=ops),
                 replay_args=session_args(rec), key=rec["key"],
                 secure_expect=secure_expect(pcaptool, cap, rec, True))
        with open(os.path.join(ptlib.CAPTURES, var["name"] + ".json"),
                  "w") as f:
            json.dump(m, f, indent=1)
            f.write("\n")
        print("derived %s: %s" % (var["name"], m["secure_expect"]))
    for var in VARIANTS:
        if only and var["name"] != only:
            continue
        rec = [r for r in RECORDINGS if r["name"] == var["base"]][0]
        args = session_args(rec) + ["--window", REPLAY_WINDOW]
        base = os.path.join(ptlib.CAPTURES, var["base"] + ".pcap")
        cap = os.path.join(ptlib.CAPTURES, var["name"] + ".pcap")
        ops = ["--seed", str(var["seed"])] + var["ops"]
        mlog, ftsv = cap[:-5] + ".mutate.tmp", cap[:-5] + ".frames.tmp"
        try:
            subprocess.run([pcaptool, "mutate", base, cap] + args + ops +
                           ["--log", mlog], check=True)
            exp = expect(pcaptool, cap, args, ftsv)
            write_frames(cap[:-5] + ".frames.tsv", mlog, ftsv)
        finally:
            for f in (mlog, ftsv):
                if os.path.exists(f):
                    os.unlink(f)
        want = base_tensors.get(var["base"]) or \
            ptlib.load_json(base[:-5] + ".json")["expect"]["tensors"]
        got = [key(t) for t in exp["tensors"]]
        if var.get("prefix"):
            if not got or len(got) >= len(want) or got != [key(t) for t in want[:len(got)]]:
                ptlib.fail("%s: delivered tensors are not a strict prefix of the base's"
                           % var["name"])
        elif got != [key(t) for t in want]:
            ptlib.fail("%s: the variant does not deliver the base's tensors" % var["name"])
        origin = dict(base=var["base"] + ".pcap",
                      mutate=ops)
        write_manifest(var["name"], var["description"], origin, args, exp)
        print("derived %s: %d bytes, %d frames, %d tensors" % (
            var["name"], os.path.getsize(cap), exp["frames"], len(exp["tensors"])))


main()
