#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A server data plane that knows no device in advance (--accept-peers 1,
no --peer) serving a Python client through --shm, and devices on a Linux
bridge (af_packet, test_peers_bridge.py's topology), one after the other
in the server's one accept slot.

- Device A's tensor reaches the server's app from peer index 0, an
  accepted peer with A's address and generation 1, listed so in the
  table; the app's reply (send(peer=rx.peer)) reaches A, bit-exact.
- A's data plane stops; the server reclaims A (--accept-hello-ms) and
  the table shows index 0 free.
- Device B (another address) takes index 0 with generation 2. A reply
  meant for A (A's Peer, generation 1) fails with MW_ESTALE and B gets
  nothing; a bare index is refused the same way; B's own reply arrives.
- The server's JSON: the accepted peers come and go (shm.peers_up 2,
  shm.peers_down 1), shm.stale_peer 2, nothing from an unknown source.

Usage: test_accept_bridge.py MASKWIRE (env: MASKWIRE_LIB, PYTHONPATH with
python/tests, python/ and apps/maskwire/tests/). Exit 77 when it cannot
run (not root, no numpy).
"""
import mwtest

try:
    import numpy as np
    import maskwire as mw
except ImportError as e:
    mwtest.skip("needs numpy and the maskwire package: %s" % e)
from test_peers_bridge import T, bridge, start, wait_for

SERVER = "10.9.3.1"
DEV_A, DEV_B = "10.9.3.10", "10.9.3.11"
ACCEPT = ["--accept-peers", "1", "--accept-from", "10.9.3.0/24",
          "--accept-hello-ms", "300", "--accept-idle-ms", "30000"]


def body(run):
    mwtest.require_root()
    ns = run.tag + "br"
    bridge(run, ns, ["mws", "mwa", "mwb"])
    shm = {s: run.tag + s for s in ("s", "a", "b")}
    mwtest.unlink_shm(shm.values())
    srv_dp = start(run, ns, "s", SERVER, [], shm["s"], ACCEPT)
    ck = mwtest.Checker()
    srv = mw.Client(shm["s"], timeout=T)
    ck.eq("no peer before a device comes", srv.peers(), [])

    def device(side, ip):
        dp = start(run, ns, side, ip, [SERVER], shm[side])
        return dp, mw.Client(shm[side], timeout=T)

    def from_device(dev, ip, tag, gen):
        x = np.arange(500, dtype="float32") * (tag + 1)
        dev.send(x, kind="activation", tag=tag, timeout=T, wait=True)
        rx = srv.recv(timeout=T, copy=True)
        ck.eq("tag %d: from" % tag, (rx.tag, rx.peer),
              (tag, mw.Peer(0, ip, 47000, gen, True)))
        ck.true("tag %d: exact" % tag, np.array_equal(rx.array, x))
        return rx

    def reply(dev, rx, tag):
        srv.send(rx.array * 2, kind="gradient", tag=tag, peer=rx.peer,
                 timeout=T, wait=True)
        back = dev.recv(timeout=T, copy=True)
        ck.eq("reply %d: tag, from" % tag, (back.tag, str(back.peer)),
              (tag, "%s:47000" % SERVER))
        ck.true("reply %d: exact" % tag,
                np.array_equal(back.array, rx.array * 2))

    a_dp, a = device("a", DEV_A)
    rx_a = from_device(a, DEV_A, 1, 1)
    table = srv.peers()
    ck.eq("table: A at index 0", [(str(p.peer), p.peer.gen, p.peer.accepted)
                                  for p in table],
          [("%s:47000" % DEV_A, 1, True)])
    reply(a, rx_a, 11)

    # A goes (its data plane closes its session); the server reclaims it
    a.close()
    a_dp.terminate()
    run.wait(a_dp, T)
    wait_for("A reclaimed: index 0 free",
             lambda: [p.state for p in srv.peers()] == ["none"])

    b_dp, b = device("b", DEV_B)
    rx_b = from_device(b, DEV_B, 2, 2)
    ck.eq("table: B at index 0, generation 2",
          [(str(p.peer), p.peer.gen) for p in srv.peers()],
          [("%s:47000" % DEV_B, 2)])
    for meant, what in ((rx_a.peer, "A's Peer"), (0, "a bare index")):
        cookie = srv.send(np.ones(3, "float32"), tag=99, peer=meant,
                          timeout=T)
        try:
            srv.wait(cookie, timeout=T)
            ck.true("a reply to %s fails" % what, False)
        except mw.SendFailed as e:
            ck.eq("a reply to %s fails with" % what, e.name, "MW_ESTALE")
    reply(b, rx_b, 12)  # B gets its own reply first, nothing before it

    for c in (a, b, srv):
        c.close()
    for p in (b_dp, srv_dp):
        p.terminate()
        ck.eq("data plane %s exit" % p.side, run.wait(p, T), 0)
    s = run.stats(srv_dp)["shm"]
    ck.eq("server JSON: shm peers_up, peers_down, stale_peer, "
          "unknown_source, bad_peer",
          [s[k] for k in ("peers_up", "peers_down", "stale_peer",
                          "unknown_source", "bad_peer")], [2, 1, 2, 0, 0])
    ck.finish()


if __name__ == "__main__":
    mwtest.main(body)
