#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Secure mode on the data plane (docs/PROTOCOL.md 12), two processes over
net_memif: a per-peer key (--peer-key) against --key, integrity mode, and
two misconfigurations that must deliver nothing and count why: different
keys, and a side left --plain (which says so in its status line and
JSON)."""
import base64
import os

import mwtest


def new_key(run, name):
    path = run.path(name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
    os.close(fd)
    return path


def auth_fails(s):
    d = s["transport"]["drop"]
    return d["auth"] + d["auth_session"] + d["replay"]


def body(run):
    mwtest.require_root()
    k1, k2 = new_key(run, "k1.key"), new_key(run, "k2.key")

    # A knows B's key as B's own (--peer-key); B has it as --key.
    n = 20
    a, b = mwtest.memif_pair(run, n, ["--peer-key", k1], ["--key", k1],
                             sock="m1.sock")
    sa, sb = mwtest.verify_pair(run, a, b, n, lossy=False)
    for side, s in (("A", sa), ("B", sb)):
        mwtest.check(s["transport"]["security"] == "encrypt",
                     "%s: encrypted" % side)
        mwtest.check(auth_fails(s) == 0, "%s: no authentication failure"
                     % side)
        mwtest.check(s["net"]["neigh_confirmed"] >= 1 and
                     s["net"]["peers"][0]["mac_confirmed"],
                     "%s: the peer's MAC confirmed by an authenticated "
                     "packet (%d)" % (side, s["net"]["neigh_confirmed"]))

    # Two AES-256-GCM libraries, one on each side: the same bytes. B
    # takes the default (the fastest for this CPU), A OpenSSL's.
    n = 10
    a, b = mwtest.memif_pair(run, n, ["--key", k1, "--crypto", "openssl"],
                             ["--key", k1], sock="m3.sock")
    sa, sb = mwtest.verify_pair(run, a, b, n, lossy=False)
    mwtest.check(sa["transport"]["crypto"] == "openssl-aes-256-gcm",
                 "A: --crypto openssl (%s)" % sa["transport"]["crypto"])
    print("B's default AES-256-GCM: %s" % sb["transport"]["crypto"])
    mwtest.check(auth_fails(sa) == 0 and auth_fails(sb) == 0,
                 "two libraries: no authentication failure")

    # Integrity mode on both sides.
    n = 10
    a, b = mwtest.memif_pair(run, n, ["--key", k1, "--integrity"],
                             ["--key", k1, "--integrity"], sock="m2.sock")
    sa, sb = mwtest.verify_pair(run, a, b, n, lossy=False)
    mwtest.check(sa["transport"]["security"] == "integrity" and
                 sb["transport"]["security"] == "integrity", "integrity")

    # Different keys; then one side plain: nothing delivered, every
    # packet the receivers got counted as an authentication failure.
    for label, ax, bx in (("different keys", ["--key", k1], ["--key", k2]),
                          ("A plain", ["--plain", "--status-ms", "100"],
                           ["--key", k1])):
        # the sinks wait for tensors that never come: a fixed run
        extra = ["--retries", "3", "--duration", "3"]
        a, b = mwtest.memif_pair(run, 2, ax + extra, bx + extra,
                                 sock="m%d.sock" % len(label))
        run.wait(a, 60)
        run.wait(b, 60)
        sa, sb = run.stats(a), run.stats(b)
        for side, s in (("A", sa), ("B", sb)):
            mwtest.check(s["sink"]["delivered"] == 0 and
                         s["transport"]["data_rx"] == 0,
                         "%s: %s delivered nothing" % (label, side))
            mwtest.check(s["gen"]["failed"] == 2,
                         "%s: %s's tensors failed (%d)"
                         % (label, side, s["gen"]["failed"]))
        mwtest.check(auth_fails(sb) > 0, "%s: B counted %d authentication "
                     "failures" % (label, auth_fails(sb)))
        if label == "A plain":
            mwtest.check(sa["transport"]["security"] == "plain" and
                         "PLAIN" in sa["transport"]["security_warning"],
                         "plain: the JSON says so")
            with open(a.logf) as f:
                log = f.read()
            mwtest.check("PLAIN (UNAUTHENTICATED, UNENCRYPTED)" in log,
                         "plain: the status line says so")
            mwtest.check(sb["transport"]["drop"]["auth"] > 0,
                         "plain packets at a secure side: auth")
        else:
            mwtest.check(auth_fails(sa) > 0, "%s: A counted %d "
                         "authentication failures" % (label, auth_fails(sa)))
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
