#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The secure captures under the test key, without DPDK or root
(docs/PCAP-TESTS.md): maskwire-pcaptool expect --key verifies every tag
of the recording (both directions) and none under another key; the
variant's altered HELLOs fail, its repeated ones are repeats; what a
fresh receiver counts is what the manifests say; mutate is a function
of its seed and options (the committed variant again, byte for byte).

usage: secure_check.py PCAPTOOL"""
import base64
import os
import shutil
import subprocess
import sys

import ptlib

REC, VAR = "act-ms-1500-secure", "act-ms-1500-secure-replayed"


def expect(pcaptool, cap, args, key):
    p = subprocess.run([pcaptool, "expect", cap] + args + ["--key", key],
                       stdout=subprocess.PIPE, text=True)
    if p.returncode != 0:
        ptlib.fail("expect %s: exit %d" % (cap, p.returncode))
    return ptlib.json.loads(p.stdout)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    pcaptool = sys.argv[1]
    ptlib.need_binary(pcaptool, "maskwire-pcaptool")
    ck = ptlib.Checker()
    w = ptlib.Workdir("secure-check")
    try:
        rec = ptlib.load_json(os.path.join(ptlib.CAPTURES, REC + ".json"))
        var = ptlib.load_json(os.path.join(ptlib.CAPTURES, VAR + ".json"))
        args = rec["replay_args"]
        key, other = w.path("test.key"), w.path("other.key")
        shutil.copy(os.path.join(ptlib.CAPTURES, rec["key"]), key)
        os.chmod(key, 0o600)
        fd = os.open(other, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
        os.close(fd)
        cap = os.path.join(ptlib.CAPTURES, rec["capture"])
        vcap = os.path.join(ptlib.CAPTURES, var["capture"])

        p = subprocess.run([pcaptool, "expect", cap] + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ck.eq("expect without --key on a version-2 capture: exit",
              p.returncode, 2)

        e = expect(pcaptool, cap, args, key)
        s = e["secure"]
        ck.true("recording: datagrams both ways",
                s["from_peer"] > 0 and s["to_peer"] > 0, s)
        ck.eq("recording: HELLOs verified", s["hello_verified"], s["hello"])
        ck.eq("recording: DATA/ACK/CLOSE verified", s["session_verified"],
              s["session"])
        ck.eq("recording: tags failed", s["tag_failed"], 0)
        ck.eq("recording: sns repeated", s["sn_repeated"], 0)
        ck.eq("recording: fresh receiver", e["fresh"],
              rec["secure_expect"]["fresh"])

        e = expect(pcaptool, cap, args, other)
        s = e["secure"]
        ck.eq("another key: HELLOs verified", s["hello_verified"], 0)
        ck.eq("another key: DATA/ACK/CLOSE verified",
              s["session_verified"], 0)
        ck.eq("another key: HELLOs accepted by a fresh receiver",
              e["fresh"]["hello_rx"], 0)

        e = expect(pcaptool, vcap, args, key)
        s = e["secure"]
        ck.eq("variant: altered HELLOs fail", s["tag_failed"], 6)
        ck.eq("variant: DATA/ACK/CLOSE verified", s["session_verified"],
              s["session"])
        ck.eq("variant: fresh receiver", e["fresh"],
              var["secure_expect"]["fresh"])

        again = w.path("again.pcap")
        subprocess.run([pcaptool, "mutate", cap, again] + args +
                       var["origin"]["mutate"] + ["--key", key], check=True)
        with open(again, "rb") as f, open(vcap, "rb") as g:
            ck.true("mutate: the committed variant again", f.read() == g.read())
    finally:
        w.cleanup()
    ck.finish()


if __name__ == "__main__":
    main()
