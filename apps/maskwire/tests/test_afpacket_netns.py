#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two maskwire processes in two network namespaces joined by a veth pair,
over net_af_packet: no static MAC (ARP resolves both peers), 1000 MS
tensors each way (shape [16,64,8,8]) with 5% loss, 5% reordering and 2%
duplication injected on transmit, all verified by the sink. The
namespaces and the veth pair are removed whatever happens."""
import os

import mwtest

N = 1000
SHAPE = "16,64,8,8"


def body(run):
    mwtest.require_root()
    ns_a, ns_b = run.tag + "a", run.tag + "b"
    va, vb = "mwva%d" % (os.getpid() % 100000), "mwvb%d" % (os.getpid() % 100000)
    # No kernel address: the data plane owns 10.9.0.x on this link.
    run.veth_netns(ns_a, ns_b, va, vb)

    common = ["--gen", str(N), "--sink", str(N), "--shape", SHAPE,
              "--tx-drop", "0.05", "--reorder", "0.05", "--dup", "0.02",
              "--idle-yield", "--status-ms", "5000"]
    vdev = "net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1"
    a = run.start("A", vdev % va,
                  ["--ip", "10.9.0.1", "--peer", "10.9.0.2", "--fault-seed", "5",
                   "--linger-ms", "2500"] + common, netns=ns_a)
    b = run.start("B", vdev % vb,
                  ["--ip", "10.9.0.2", "--peer", "10.9.0.1", "--fault-seed", "6"] + common,
                  netns=ns_b)
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=True)
    for side, s in (("A", sa), ("B", sb)):
        peer, net = s["net"]["peers"][0], s["net"]
        mwtest.check(s["port"]["driver"] == "net_af_packet", "%s: af_packet port" % side)
        # Learned from the peer's reply to our request, or from the
        # peer's own request for us (which we answered).
        mwtest.check(peer["resolved"] and not peer["static_mac"]
                     and (net["arp_reply_rx"] >= 1 or net["arp_reply_tx"] >= 1),
                     "%s: peer MAC %s resolved by ARP (requests sent %d, replies "
                     "received %d, replies sent %d)"
                     % (side, peer["mac"], peer["arp_requests"], net["arp_reply_rx"],
                        net["arp_reply_tx"]))
    mwtest.check(sa["net"]["peers"][0]["mac"] == sb["port"]["mac"]
                 and sb["net"]["peers"][0]["mac"] == sa["port"]["mac"],
                 "each side learned the other's veth MAC")
    mwtest.check(sa["net"]["arp_req_tx"] + sb["net"]["arp_req_tx"] >= 1,
                 "ARP requests were sent")
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
