#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""One server data plane, two device data planes, over net_af_packet on
veths plugged into a Linux bridge (an ordinary switch) in a network
namespace the test creates and removes; each data plane serves a Python
client through --shm.

- The server's peer table lists both devices (address, port) and shows
  their sessions up; each device's tensor arrives at the server with its
  source peer, the server answers each through send(peer=rx.peer), and
  each device gets its own answer, bit-exact.
- A send to an index with no peer fails with MW_ENOENT (counted in the
  server data plane's JSON: shm.bad_peer), nothing else is affected.
- Each data plane in a namespace of its own (one per veth): in one
  namespace, two af_packet ports could draw the same fanout group id.
- A device data plane killed and restarted: the server's table counts the
  restart (restarts + 1), and the device's next tensor still arrives with
  its peer.

Usage: test_peers_bridge.py MASKWIRE (env: MASKWIRE_LIB, PYTHONPATH with
python/ and apps/maskwire/tests/). Exit 77 when it cannot run (not root,
no numpy).
"""
import os
import subprocess
import time

import mwtest

try:
    import numpy as np
    import maskwire as mw
except ImportError as e:
    mwtest.skip("needs numpy and the maskwire package: %s" % e)

T = 30.0  # seconds a wait may take on a loaded 2-core machine
SERVER = "10.9.2.1"
DEVICES = ["10.9.2.10", "10.9.2.11"]
VDEV = "net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1"


def bridge(run, ns, ports):
    """A namespace ns with a bridge br0 and, for each name p in ports, a
    namespace ns+p holding a veth p whose other end is on the bridge (each
    data plane in its own namespace: af_packet's fanout group ids could
    collide within one); no kernel address, no IPv6."""
    try:
        run.add_netns(ns)
        for p in ports:
            run.add_netns(ns + p)
    except (subprocess.CalledProcessError, OSError) as e:
        mwtest.skip("cannot create network namespaces: %s" % e)

    def sh(where, *c):
        subprocess.run(["ip", "netns", "exec", where] + list(c), check=True)
    sh(ns, "ip", "link", "add", "br0", "type", "bridge")
    sh(ns, "ip", "link", "set", "br0", "up")
    for p in ports:
        subprocess.run(["ip", "link", "add", p, "netns", ns + p, "type",
                        "veth", "peer", "name", p + "b", "netns", ns],
                       check=True)
        sh(ns, "ip", "link", "set", p + "b", "master", "br0")
        for where, dev in ((ns + p, p), (ns, p + "b")):
            sh(where, "sysctl", "-qw", "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh(where, "ip", "link", "set", dev, "up")


def start(run, ns, side, ip, peers, shm, extra=()):
    args = ["--ip", ip, "--shm", shm, "--idle-yield", "--status-ms", "0"]
    for p in peers:
        args += ["--peer", p]
    args += list(extra)
    p = run.start(side, VDEV % ("mw" + side), args, netns=ns + "mw" + side)
    for _ in range(int(T * 20)):
        if os.path.exists("/dev/shm/" + shm):
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    run.dump_logs()
    mwtest.fail("data plane %s did not start" % side)


def wait_for(what, cond):
    for _ in range(int(T * 20)):
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    mwtest.fail("timed out waiting for " + what)


def body(run):
    mwtest.require_root()
    ns = run.tag + "br"
    bridge(run, ns, ["mws", "mwd0", "mwd1"])
    shm = {s: run.tag + s for s in ("s", "d0", "d1")}
    mwtest.unlink_shm(shm.values())
    srv_dp = start(run, ns, "s", SERVER, DEVICES, shm["s"])
    dev_dp = [start(run, ns, "d%d" % i, ip, [SERVER], shm["d%d" % i])
              for i, ip in enumerate(DEVICES)]
    ck = mwtest.Checker()
    srv = mw.Client(shm["s"], timeout=T)
    devs = [mw.Client(shm["d%d" % i], timeout=T) for i in range(2)]

    table = srv.peers()
    ck.eq("server table", [str(p.peer) for p in table],
          ["%s:47000" % ip for ip in DEVICES])

    def exchange(i, dev, tag):
        x = np.arange(1000, dtype="int64") * (tag + 1)
        dev.send(x, tag=tag, timeout=T, wait=True)
        with srv.recv(timeout=T) as rx:
            ck.eq("tag %d: source" % tag, str(rx.peer),
                  "%s:47000" % DEVICES[i])
            ck.true("tag %d: arrived exact" % tag,
                    np.array_equal(rx.array, x))
            srv.send(rx.array + 1, tag=tag, peer=rx.peer, timeout=T,
                     wait=True)
        back = dev.recv(timeout=T, copy=True)
        ck.eq("tag %d: answer's tag" % tag, back.tag, tag)
        ck.eq("tag %d: answer from" % tag, str(back.peer),
              "%s:47000" % SERVER)
        ck.true("tag %d: answer exact" % tag,
                np.array_equal(back.array, x + 1))

    for i, dev in enumerate(devs):
        exchange(i, dev, i)
    # states are refreshed every millisecond, counters before the outcome
    wait_for("both sessions up in the server's table",
             lambda: [p.state for p in srv.peers()] == ["up", "up"])
    table = srv.peers()
    ck.eq("per-peer tensors from", [p.tensors_rx for p in table], [1, 1])
    ck.eq("per-peer tensors to", [p.tensors_tx for p in table], [1, 1])

    cookie = srv.send(np.zeros(4, "float32"), peer=2, timeout=T)
    try:
        srv.wait(cookie, timeout=T)
        ck.true("a send to peer 2 fails", False)
    except mw.SendFailed as e:
        ck.eq("a send to peer 2 fails with", e.name, "MW_ENOENT")

    # device 1's data plane dies and comes back: a new incarnation
    restarts = table[1].restarts
    devs[1].close()
    dev_dp[1].kill()
    dev_dp[1].wait()
    mwtest.unlink_shm([shm["d1"]])
    dev_dp[1] = start(run, ns, "d1", DEVICES[1], [SERVER], shm["d1"])
    devs[1] = mw.Client(shm["d1"], timeout=T)
    exchange(1, devs[1], 7)
    wait_for("the server's table to count the restart",
             lambda: srv.peers()[1].restarts == restarts + 1)
    exchange(0, devs[0], 8)

    for c in devs + [srv]:
        c.close()
    srv_dp.terminate()
    rc = run.wait(srv_dp, T)
    ck.eq("server data plane exit", rc, 0)
    stats = run.stats(srv_dp)
    ck.eq("server JSON: shm.bad_peer", stats["shm"]["bad_peer"], 1)
    ck.finish()


if __name__ == "__main__":
    mwtest.main(body)
