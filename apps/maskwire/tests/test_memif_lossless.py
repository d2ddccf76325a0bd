#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Two maskwire processes over net_memif, no faults: 200 tensors each way
(activations MS one way, gradients signed MS the other), nothing
corrupted or dropped, and --capture holds every frame."""
import mwtest

N = 200


def body(run):
    mwtest.require_root()
    cap = run.path("a.pcap")
    a, b = mwtest.memif_pair(run, N, ["--capture", cap], [])
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    for side, s in (("A", sa), ("B", sb)):
        t, net = s["transport"], s["net"]
        # A descheduled process can still see a spurious timeout on a
        # busy machine, so retransmissions are reported, not asserted.
        print("%s: retransmitted %d (timeouts %d)" % (side, t["retrans"], t["rto_events"]))
        mwtest.check(t["drop"]["bad_checksum"] == 0 and t["drop"]["malformed"] == 0,
                     "%s: no corrupt datagram reached the transport" % side)
        mwtest.check(net["drops_total"] == 0 and net["rx_unknown_peer"] == 0,
                     "%s: no frame dropped" % side)
        mwtest.check(net["peers"][0]["resolved"] and not net["peers"][0]["static_mac"],
                     "%s: peer MAC resolved by ARP" % side)
    mwtest.check(sa["gen"]["codec"] == "ms" and sb["gen"]["codec"] == "ms-signed",
                 "codec defaults follow the kind")
    # The capture: a classic pcap with one record per frame in and out.
    frames = len(mwtest.pcap_frames(cap))
    net = sa["net"]
    mwtest.check(frames == net["rx_frames"] + net["tx_frames"] == net["capture_frames"],
                 "capture holds all %d frames sent and received" % frames)
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")
    mwtest.print_stats("A (lossless memif)", sa)


mwtest.main(body)
