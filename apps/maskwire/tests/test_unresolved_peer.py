#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A peer whose MAC cannot be resolved fails like a dead peer. Data planes
on net_af_packet in a network namespace whose veth leads to nobody: ARP
is never answered, yet the transport's HELLO retries run (their datagrams
are dropped for want of a MAC and counted in tx_no_neigh) and the tensor
fails with "timed out" within the retry budget, as it does for a dead
peer whose MAC was given (--peer-mac). --retries 3 keeps that budget
short: HELLO timeouts 10+20+40+80 ms after the first send. Then a peer
that appears late: its MAC is resolved while HELLOs are being retried and
everything is delivered."""
import os
import time

import mwtest

RETRIES = "3"


def veth_netns(run, ns_a, ns_b):
    # No kernel address: nobody in either namespace answers ARP for
    # 10.9.0.x unless a data plane runs there.
    va, vb = "mwua%d" % (os.getpid() % 100000), "mwub%d" % (os.getpid() % 100000)
    run.veth_netns(ns_a, ns_b, va, vb)
    return va, vb


VDEV = "net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1"


def lone_sender(run, side, dev, ns, extra):
    """One tensor to a peer nobody serves; returns (stats, seconds)."""
    t0 = time.monotonic()
    p = run.start(side, VDEV % dev,
                  ["--ip", "10.9.0.1", "--peer", "10.9.0.2"] + extra +
                  ["--gen", "1", "--shape", "16,16", "--retries", RETRIES,
                   "--linger-ms", "0", "--idle-yield", "--status-ms", "0"],
                  netns=ns)
    rc = run.wait(p, 30)
    secs = time.monotonic() - t0
    s = run.stats(p)
    mwtest.check(rc == 1, "%s: exit 1 (a tensor failed), rc %d" % (side, rc))
    g, t, net = s["gen"], s["transport"], s["net"]
    mwtest.check(s["maskwire"]["end"] == "done" and g["failed"] == 1
                 and g["failed_by_reason"] == {"timed out": 1},
                 "%s: the tensor failed with 'timed out' after %.2f s of "
                 "poll loop (%.1f s with EAL start)"
                 % (side, s["maskwire"]["elapsed_s"], secs))
    mwtest.check(t["hello_tx"] == int(RETRIES) + 1,
                 "%s: HELLO sent once and retried --retries times (%d)"
                 % (side, t["hello_tx"]))
    return s


def body(run):
    mwtest.require_root()
    ns_a, ns_b = run.tag + "a", run.tag + "b"
    va, vb = veth_netns(run, ns_a, ns_b)

    # 1. MAC never resolved: HELLOs are built, dropped, counted.
    s = lone_sender(run, "unres", va, ns_a, [])
    net, peer = s["net"], s["net"]["peers"][0]
    mwtest.check(not peer["resolved"] and net["arp_req_tx"] >= 1,
                 "unresolved: peer still unresolved, ARP requested %d times"
                 % net["arp_req_tx"])
    # The HELLOs, and the CLOSE at exit if the session was still set up.
    mwtest.check(net["tx_no_neigh"] >= int(RETRIES) + 1
                 and net["tx_frames"] == net["arp_req_tx"],
                 "unresolved: %d datagrams dropped for want of a MAC, only "
                 "ARP on the wire" % net["tx_no_neigh"])
    unres_s = s["maskwire"]["elapsed_s"]

    # 2. Dead peer with a known MAC: the same budget, HELLOs on the wire.
    s = lone_sender(run, "static", va, ns_a, ["--peer-mac", "02:00:00:00:00:02"])
    net = s["net"]
    mwtest.check(net["tx_no_neigh"] == 0 and net["arp_req_tx"] == 0
                 and net["tx_frames"] >= int(RETRIES) + 1,
                 "static MAC: no ARP, the %d HELLOs went out" % net["tx_frames"])
    static_s = s["maskwire"]["elapsed_s"]
    print("time to failure: unresolved %.3f s, static MAC %.3f s"
          % (unres_s, static_s))
    mwtest.check(abs(unres_s - static_s) < 1.0,
                 "unresolved and dead peer fail within the same bound")

    # 3. The peer appears after some HELLOs were dropped (default budget):
    # once ARP is answered, everything proceeds.
    n = 50
    common = ["--gen", str(n), "--sink", str(n), "--shape", "16,64,4,4",
              "--idle-yield", "--status-ms", "0"]
    a = run.start("lateA", VDEV % va, ["--ip", "10.9.0.1", "--peer", "10.9.0.2",
                                         "--linger-ms", "2500"] + common, netns=ns_a)
    # Wait until A has retried a few HELLOs into the void (EAL start
    # takes a moment; its ARP requests show up on B's side of the veth).
    time.sleep(2.0)
    b = run.start("lateB", VDEV % vb, ["--ip", "10.9.0.2", "--peer", "10.9.0.1"] + common,
                  netns=ns_b)
    sa, sb = mwtest.verify_pair(run, a, b, n, lossy=False)
    mwtest.check(sa["net"]["tx_no_neigh"] >= 1 and sa["net"]["peers"][0]["resolved"],
                 "late peer: A dropped %d datagrams before its MAC was known, "
                 "then resolved it" % sa["net"]["tx_no_neigh"])
    mwtest.check(sa["transport"]["hello_tx"] >= 2,
                 "late peer: A retried HELLO (%d sent)" % sa["transport"]["hello_tx"])
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
