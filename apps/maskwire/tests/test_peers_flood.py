#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A HELLO flood from 10,000 spoofed sources (distinct IPs, ports, MACs;
the first twenty and one in ten garbage: empty, random, bad CRC32C,
truncated)
against a server that accepts peers (--accept-peers), while two devices
send it tensors; all on a bridge, af_packet on veths, the flood from a
third namespace through a raw socket.
- plain: the HELLOs are valid, so the accepted table fills: it stays at
  its bound (--accept-peers 8), the rest are counted (peer_table_full),
  the accepted spoofed peers, never confirmed, are reclaimed after
  --accept-hello-ms, and both configured devices' tensors all arrive,
  verified.
- secure (--key): no flood HELLO authenticates (they are version 1):
  none becomes a peer (accept_rejected), while device 1, not configured
  but holding the key, is accepted and delivers all of its tensors."""
import re
import time

import mwtest
import topo

G = 400
FLOOD = 10000
SHAPE = "16,64,4,4"


def phase(run, t, secure, attacker, aif, tag):
    key = ["--key", run.keyfile()] if secure else ["--plain"]
    flood = run.path("flood.bin")
    topo.flood_file(flood, FLOOD, t.mac(t.srv_ns, t.srv_if), topo.SERVER_IP, 7)
    dev_args = key + ["--gen", str(G), "--shape", SHAPE, "--rate", "100",
                      "--linger-ms", "1500"]
    devs = [t.start_device(i, dev_args, side="%sdev%d" % (tag, i)) for i in range(2)]
    srv_peers = ["--peer", topo.device_ip(0)]
    if not secure:
        srv_peers += ["--peer", topo.device_ip(1)]
    accept = 8 if not secure else 4
    srv = run.start(tag + "server", t.vdev(t.srv_if),
                    ["--ip", topo.SERVER_IP, "--idle-yield", "--status-ms", "1000",
                     "--sink", str(2 * G), "--linger-ms", "500",
                     "--accept-peers", str(accept), "--accept-hello-ms", "1000"]
                    + srv_peers + key, netns=t.srv_ns)
    # Flood while the devices send: once the server's sink has its first
    # tensors (the machine may be slow to start the data planes).
    t0 = time.monotonic()
    while time.monotonic() - t0 < 60 and srv.poll() is None:
        with open(srv.logf) as f:
            got = re.findall(r"sink (\d+) ok", f.read())
        if got and int(got[-1]) >= 20:
            break
        time.sleep(0.1)
    sent = topo.send_flood(attacker, aif, flood)
    mwtest.check(sent == FLOOD and srv.poll() is None,
                 "%s: %d spoofed HELLOs sent while the server ran" % (tag, sent))
    rc = run.wait(srv, 120)
    for d in devs:
        run.wait(d, 60)
    if rc != 0:
        run.dump_logs()
        mwtest.fail("%s: server exited with %d" % (tag, rc))
    s = run.stats(srv)
    net, k, acc = s["net"], s["sink"], s["accept"]
    c = mwtest.Checker()
    print("%s: accept %s; accept_new %d rejected %d table_full %d reclaimed %d "
          "not_hello %d; core drops %s" % (tag, acc, net["accept_new"],
                                          net["accept_rejected"], net["peer_table_full"],
                                          net["accept_reclaimed"], net["accept_not_hello"],
                                          {x: y for x, y in s["transport"]["drop"].items() if y}))
    c.eq("%s: server end" % tag, s["maskwire"]["end"], "done")
    c.true("%s: every device tensor verified (%d of %d)" % (tag, k["verified"], 2 * G),
           k["verified"] == 2 * G and k["mismatched"] == 0 and k["out_of_order"] == 0)
    c.true("%s: table within its bound (%d slots, %d peers listed)"
           % (tag, acc["slots"], len(s["peers"])),
           acc["slots"] == len(srv_peers) // 2 + accept and len(s["peers"]) <= acc["slots"])
    tr = s["transport"]
    c.true("%s: the transport's peers and memory within the configured bound "
           "(max_peers %d, held %d <= bound %d bytes)"
           % (tag, tr["max_peers"], tr["mem_held"], tr["mem_bound"]),
           tr["max_peers"] == acc["slots"] and tr["mem_held"] <= tr["mem_bound"])
    seen = net["rx_unknown_peer"]
    # (the kernel may drop some of a flood on a loaded machine: af_packet's
    # ring; every one that reached the data plane is accounted for)
    c.true("%s: the flood reached the data plane (%d from unknown sources)" % (tag, seen),
           seen >= FLOOD // 2)
    parts = (net["accept_new"] + net["accept_rejected"] + net["peer_table_full"]
             + net["accept_not_hello"] + net["accept_not_allowed"])
    c.eq("%s: every datagram from an unknown source accepted or counted as a drop"
         % tag, parts, seen)
    if not secure:
        c.true("%s: %d spoofed peers accepted, at most %d at a time"
               % (tag, net["accept_new"], accept),
               net["accept_new"] >= accept and acc["active"] <= accept)
        c.true("%s: the rest counted as peer_table_full (%d)" % (tag, net["peer_table_full"]),
               net["peer_table_full"] >= (seen - net["accept_new"]) * 0.8)
        c.true("%s: garbage counted as drops (not a HELLO "
               "%d, rejected by the transport %d)" % (tag, net["accept_not_hello"],
                                                      net["accept_rejected"]),
               net["accept_not_hello"] > 0 and net["accept_rejected"] > 0)
        c.true("%s: spoofed peers reclaimed (%d)" % (tag, net["accept_reclaimed"]),
               net["accept_reclaimed"] >= accept)
    else:
        accepted = [p for p in s["peers"] if p["accepted"]]
        c.true("%s: only the device with the key was accepted (%s)"
               % (tag, [(p["ip"], p["tensors_rx"]) for p in accepted]),
               net["accept_new"] == 1 and len(accepted) == 1
               and accepted[0]["ip"] == topo.device_ip(1)
               and accepted[0]["tensors_rx"] == G)
        c.true("%s: every spoofed datagram rejected (%d rejected, %d not a HELLO)"
               % (tag, net["accept_rejected"], net["accept_not_hello"]),
               net["accept_rejected"] + net["accept_not_hello"] == seen - 1
               and s["transport"]["drop"]["auth"] >= net["accept_rejected"] * 0.9)
    c.finish()


def body(run):
    t = topo.Topo(run, 2)
    t.build()
    attacker, aif = t.add_host("atk")
    phase(run, t, False, attacker, aif, "plain")
    phase(run, t, True, attacker, aif, "secure")


mwtest.main(body)
