#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""A data plane killed (SIGKILL) and restarted over net_memif, both ways.

1. The memif server is killed mid-run: its socket file stays behind. The
   restarted server removes it (nobody listens on it) and binds again; the
   surviving client notices its link went down, restarts its port until
   the server accepts it, re-resolves the peer's MAC (a new process has a
   new one) and carries on: tensors it had in flight fail with "peer
   restarted", new tensors are delivered and verified bit-exactly both
   ways within a bounded time.
2. The memif client is killed and restarted: the surviving server takes
   the new connection and the same holds.
Also: a second server on a socket in use is refused before EAL starts,
and the running pair is not disturbed."""
import os
import re
import signal
import time

import mwtest

RECOVER_S = 30  # bound for new tensors to flow after a restart
M = 20          # tensors that must be delivered each way after it

COMMON = ["--gen", "1000000", "--rate", "100", "--shape", "16,64,4,4", "--sink",
          "--idle-yield", "--status-ms", "200"]
SRV = ["--ip", "10.0.0.1", "--peer", "10.0.0.2"] + COMMON
CLI = ["--ip", "10.0.0.2", "--peer", "10.0.0.1"] + COMMON


def verified(p):
    """Tensors the sink of p verified, from its last status line."""
    ok = 0
    with open(p.logf) as f:
        for line in f:
            m = re.search(r" sink (\d+) ok (\d+) bad (\d+)", line)
            if line.startswith("[maskwire]") and m:
                ok = int(m.group(2))
    return ok


def wait_verified(run, p, n, what):
    t0 = time.monotonic()
    while time.monotonic() - t0 < RECOVER_S:
        if verified(p) >= n:
            return time.monotonic() - t0
        if p.poll() is not None:
            break
        time.sleep(0.1)
    run.dump_logs()
    mwtest.fail("%s: %s verified %d tensors, not %d, within %d s"
                % (what, p.side, verified(p), n, RECOVER_S))


def stop(run, p):
    p.send_signal(signal.SIGTERM)
    rc = run.wait(p, 60)
    return rc, run.stats(p)


def check_survivor(side, rc, s, relink):
    net, t, g, k = s["net"], s["transport"], s["gen"], s["sink"]
    mwtest.check(rc == 0 and s["maskwire"]["end"] == "signal",
                 "%s: exited 0 on SIGTERM (rc %d)" % (side, rc))
    mwtest.check(k["mismatched"] == 0 and k["out_of_order"] == 0,
                 "%s: every tensor verified, in order (%d)" % (side, k["verified"]))
    mwtest.check(net["link_downs"] >= 1 and net["link_ups"] >= 1 and net["link_up"],
                 "%s: link went down and came back (%d/%d)"
                 % (side, net["link_downs"], net["link_ups"]))
    if relink:
        mwtest.check(net["port_restarts"] >= 1,
                     "%s: port restarted to reconnect (%d tries, %d refused)"
                     % (side, net["port_restarts"], net["port_restart_errors"]))
    else:
        mwtest.check(net["port_restarts"] == 0,
                     "%s: a server takes the new connection by itself" % side)
    mwtest.check(t["peer_restarts"] >= 1 and k["peer_restarts"] >= 1,
                 "%s: the peer's new incarnation was seen" % side)
    reasons = g["failed_by_reason"]
    mwtest.check(reasons.get("peer restarted", 0) >= 1
                 and set(reasons) <= {"peer restarted", "canceled"},
                 "%s: tensors in flight at the restart failed as 'peer "
                 "restarted' (%s)" % (side, reasons))


def check_restarted(side, rc, s):
    k = s["sink"]
    # Its sink starts mid-way into the survivor's stream (the survivor's
    # tags go on from where they were), which the sink counts as one
    # out-of-order delivery and reports with exit 1.
    mwtest.check(k["mismatched"] == 0 and k["out_of_order"] <= 1
                 and rc == (1 if k["out_of_order"] else 0),
                 "%s: every tensor verified (%d), none out of order but the "
                 "first (rc %d)" % (side, k["verified"], rc))


def restart_case(run, tag, kill_server):
    sock = run.path("memif-%s.sock" % tag)
    vdev_s = "net_memif0,role=server,socket=%s,socket-abstract=no" % sock
    vdev_c = "net_memif0,role=client,socket=%s,socket-abstract=no" % sock
    srv = run.start(tag + "srv", vdev_s, SRV)
    run.wait_path(sock)
    cli = run.start(tag + "cli", vdev_c, CLI)
    wait_verified(run, srv, M, "before the kill")
    wait_verified(run, cli, M, "before the kill")

    if kill_server:
        victim, survivor, vdev, args, relink = srv, cli, vdev_s, SRV, True
    else:
        victim, survivor, vdev, args, relink = cli, srv, vdev_c, CLI, False
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    if kill_server:
        mwtest.check(os.path.exists(sock), "the killed server left its socket file")
    time.sleep(1.0)  # the survivor sees the link down and keeps trying
    base = verified(survivor)
    again = run.start(tag + "re", vdev, args)
    t_new = wait_verified(run, again, M, "after the restart")
    t_old = wait_verified(run, survivor, base + M, "after the restart")
    print("%s: %d tensors verified each way %.1f s after the restart"
          % (tag, M, max(t_new, t_old)), flush=True)

    rc, s = stop(run, survivor)
    check_survivor(survivor.side, rc, s, relink)
    rc2, s2 = stop(run, again)
    check_restarted(again.side, rc2, s2)
    return sock


def body(run):
    mwtest.require_root()
    restart_case(run, "k1", kill_server=True)
    restart_case(run, "k2", kill_server=False)

    # A server socket in use is refused before EAL touches anything.
    sock = run.path("memif-live.sock")
    vdev_s = "net_memif0,role=server,socket=%s,socket-abstract=no" % sock
    srv = run.start("livesrv", vdev_s, SRV)
    run.wait_path(sock)
    cli = run.start("livecli", "net_memif0,role=client,socket=%s,socket-abstract=no"
                    % sock, CLI)
    wait_verified(run, cli, 10, "live pair")
    mark = os.path.getsize(cli.logf)
    dup = run.start("livedup", vdev_s, SRV)
    rc = run.wait(dup, 30)
    with open(dup.logf) as f:
        log = f.read()
    mwtest.check(rc == 2 and "is in use" in log and "EAL" not in log,
                 "a second server on a live socket exits 2 before EAL: %s"
                 % log.strip().splitlines()[-1:])
    n = verified(cli)
    wait_verified(run, cli, n + 10, "after the refused server")
    # The refused start probed the live socket: the pair's link must not
    # have gone down since (the client logs every link change).
    with open(cli.logf) as f:
        f.seek(mark)
        since = f.read()
    mwtest.check("link down" not in since,
                 "the live pair was not disturbed by the refused start")
    rc, s = stop(run, cli)
    k = s["sink"]
    mwtest.check(rc == 0, "the live client exited 0 on SIGTERM (rc %d, "
                 "link downs over its run %d, sink %d verified, %d bad, %d out "
                 "of order, %d skipped)" % (rc, s["net"]["link_downs"],
                                            k["verified"], k["mismatched"],
                                            k["out_of_order"], k["skipped"]))
    rc, s2 = stop(run, srv)
    mwtest.check(rc == 0, "the live server exited 0")
    # The client's close can fail tensors the server had in flight; if the
    # server then reopens and the client takes more before it is gone, the
    # client skips exactly those: never more than the server failed.
    mwtest.check(k["skipped"] <= s2["gen"]["failed"],
                 "the client skipped no more tensors (%d) than the server "
                 "failed (%d)" % (k["skipped"], s2["gen"]["failed"]))


mwtest.main(body)
