#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One shared-memory region served by two I/O lcores: a server data plane
with --shm and --io-lcores 2 (af_packet qpairs=2) and N device data
planes (default 4) on a Linux bridge, each in its own network namespace
(topo.py). Devices 1..N-1 are the server's configured peers 0..N-2
(lcores 0, 1, 0, ...); device 0 is not configured: the server accepts it
(--accept-peers 2, one slot per lcore) on the lcore its address hashes to,
lcore 1, whose slot is the run's peer index N (after N-1 configured peers
and lcore 0's slot).

Each device generates G dense activations of its own content (--seed)
and verifies G tensors (--gen G --sink G). A Python client on the server's region receives every
tensor and sends it back to rx.peer with the same tag and kind; each
device's sink then finds its own content, in order, bit for bit. Checks:
every tensor came with its device's peer index, address and generation,
in order per device; every reply went out (no failure); the peer table
shows every device; both lcores received and sent their own peers'
tensors (shm.lcores, io_lcores, peers' lcore); the region's stats add up.

Usage: test_shm_lcores.py MASKWIRE [N [G]] (env: MASKWIRE_LIB, PYTHONPATH with
python/). Exit 77 when it cannot run (not root, no numpy).
"""
import os
import sys
import time

import mwtest
import topo

try:
    import numpy as np
    import maskwire as mw
except ImportError as e:
    mwtest.skip("needs numpy and the maskwire package: %s" % e)

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4
G = int(sys.argv[3]) if len(sys.argv) > 3 else 60
SHAPE = "16,64,4,4"
T = 60.0  # seconds a wait may take on a loaded 2-core machine
ACCEPTED = 0  # the device the server accepts (its address: lcore 1)


def body(run):
    t = topo.Topo(run, N, "af_packet")
    t.build()
    # the configured peers: every device but ACCEPTED, in order
    conf = [i for i in range(N) if i != ACCEPTED]
    peers = run.path("peers.txt")
    with open(peers, "w") as f:
        for i in conf:
            f.write("%s:%d\n" % (topo.device_ip(i), topo.UDP_PORT))
    # index of each device in the server's table
    index = {i: j for j, i in enumerate(conf)}
    index[ACCEPTED] = len(conf) + 1  # lcore 1's accept slot
    shm = run.tag + "lc"
    mwtest.unlink_shm([shm])
    # the accepted device keeps its slot to the end (for the JSON)
    srv = t.start_server(["--peers", peers, "--accept-peers", "2",
                          "--accept-hello-ms", "600000",
                          "--accept-idle-ms", "600000",
                          "--io-lcores", "2", "--shm", shm,
                          "--shm-tx-slots", "64", "--shm-rx-slots", "64",
                          "--link-wait-ms", "5000"],
                         vdev_extra=",qpairs=2")
    for _ in range(int(T * 20)):
        if os.path.exists("/dev/shm/" + shm) or srv.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists("/dev/shm/" + shm):
        run.dump_logs()
        mwtest.fail("the server did not create its region")
    app = mw.Client(shm, timeout=T)
    t.wait_running([srv])
    dev_args = ["--gen", str(G), "--shape", SHAPE, "--kind", "activation",
                "--codec", "dense", "--sink", str(G), "--linger-ms", "1500"]
    # each device its own content (seed): a reply that reached another
    # device than its tensor came from fails that device's sink
    devs = [t.start_device(i, dev_args + ["--seed", str(100 + i)])
            for i in range(N)]

    ck = mwtest.Checker()
    by_index = {v: k for k, v in index.items()}
    tags = {i: [] for i in range(N)}
    cookies = []
    gens = {}
    for _ in range(N * G):
        try:
            rx = app.recv(timeout=T, copy=True)
        except mw.Timeout:
            run.dump_logs()
            mwtest.fail("the app got %d of %d tensors"
                        % (sum(len(v) for v in tags.values()), N * G))
        i = by_index.get(rx.peer.index)
        if i is None:
            ck.true("tag %d from a known index (%d)" % (rx.tag, rx.peer.index),
                    False)
            continue
        tags[i].append(rx.tag)
        gens.setdefault(i, set()).add(rx.peer.gen)
        if len(tags[i]) == 1:
            ck.eq("device %d's address" % i, str(rx.peer),
                  "%s:%d" % (topo.device_ip(i), topo.UDP_PORT))
            ck.eq("device %d accepted" % i, rx.peer.accepted,
                  i == ACCEPTED)
        cookies.append(app.send(rx.array, kind=rx.kind, tag=rx.tag,
                                codec="dense", peer=rx.peer, timeout=T))
    for c in cookies:
        try:
            app.wait(c, timeout=T)
        except mw.SendFailed as e:
            ck.true("reply %d: %s" % (c, e), False)
    for i in range(N):
        ck.eq("device %d's tensors, in order" % i, tags[i], list(range(G)))
        ck.eq("device %d's generation" % i, gens.get(i), {1})
    table = app.peers()
    ck.eq("peer table addresses",
          [str(p.peer) if p.state != "none" else None for p in table],
          ["%s:%d" % (topo.device_ip(by_index[j]), topo.UDP_PORT)
           if j in by_index else None for j in range(len(table))])

    for i, d in enumerate(devs):
        rc = run.wait(d, 120)
        if rc != 0:
            run.dump_logs()
            mwtest.fail("device %d exited with %d" % (i, rc))
        ds = run.stats(d)
        ck.true("device %d verified its %d replies" % (i, G),
                ds["sink"]["delivered"] == G and ds["sink"]["verified"] == G
                and ds["sink"]["out_of_order"] == 0)
    app.close()
    srv.terminate()
    rc = run.wait(srv, T)
    ck.eq("server exit", rc, 0)
    s = run.stats(srv)
    sh, lcs, tp = s["shm"], s["io_lcores"], s["peers"]
    ck.eq("I/O lcores", len(lcs), 2)
    ck.eq("region: submitted", sh["submitted"], N * G)
    ck.eq("region: done", sh["done"], N * G)
    ck.eq("region: delivered", sh["delivered"], N * G)
    ck.eq("region: failed, rejected, bad, stale",
          (sh["failed"], sh["rejected"], sh["bad_peer"], sh["stale_peer"]),
          (0, 0, 0, 0))
    ck.eq("region: unknown handles and sources",
          (sh["unknown_handles"], sh["unknown_source"]), (0, 0))
    ck.eq("region: accepted peers up", sh["peers_up"], 1)
    own = {0: 0, 1: 0}
    for p in tp:
        i = by_index[p["slot"]]
        ck.eq("slot %d's address" % p["slot"], p["ip"], topo.device_ip(i))
        ck.eq("slot %d's tensors both ways" % p["slot"],
              (p["tensors_rx"], p["tensors_tx_done"]), (G, G))
        own[p["lcore"]] += 1
    ck.eq("slot %d (device %d) on lcore 1" % (index[ACCEPTED], ACCEPTED),
          [p["lcore"] for p in tp if p["slot"] == index[ACCEPTED]], [1])
    for k in range(2):
        ck.eq("lcore %d: tensors from its peers (region)" % k,
              sh["lcores"][k]["received"], own[k] * G)
        ck.eq("lcore %d: replies to its peers (region)" % k,
              sh["lcores"][k]["submitted"], own[k] * G)
        ck.eq("lcore %d: tensors (data plane)" % k,
              (lcs[k]["tensors_rx"], lcs[k]["tensors_tx_done"]),
              (own[k] * G, own[k] * G))
    print("per lcore (received, submitted): %s"
          % [(x["received"], x["submitted"]) for x in sh["lcores"]])
    ck.finish()


mwtest.main(body)
