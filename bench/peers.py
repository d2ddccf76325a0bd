# SPDX-License-Identifier: BSD-3-Clause
"""bench/run.py's "peers" section: one server data plane and N device data
planes (N = 1, 2, 4, 8, 16), each in its network namespace on a Linux
bridge, net_af_packet on veths (apps/maskwire/tests/topo.py builds and
removes the topology). Every device sends MS activations as fast as its
window allows; the server sinks them (no verification: the transport is
measured, not the checker) for --duration. Per N: aggregate goodput
(dense-equivalent and wire), the Jain index of the per-device tensors,
and the server's CPU per tensor: the server process's CPU time (user +
system, wait4()) over the tensors it delivered. It includes its polling
while nothing arrives (--idle-yield gives the core away only when another
process wants it); all processes share this machine's two cores.
The "lcores" rows: 4 devices against a server with 1 and with 2 I/O
lcores (--io-lcores, qpairs=2 on its af_packet port), run alternately
twice; each row gives the server's aggregate figures."""
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "apps", "maskwire",
                                "tests"))
import mwtest  # noqa: E402
import topo  # noqa: E402

SHAPE = "16,64,8,8"


def one(binary, n, seconds, lcores=1):
    run = mwtest.Run(binary, "bpeers%d" % n)
    try:
        t = topo.Topo(run, n)
        t.build()
        dev = ["--plain", "--gen", "100000000", "--shape", SHAPE, "--kind",
               "activation", "--content-period", "1", "--drain-ms", "100",
               "--linger-ms", "100"]
        devs = [t.start_device(i, dev) for i in range(n)]
        t.wait_running(devs)
        args = ["--plain", "--peers", t.peers_file(0), "--sink",
                "--no-verify", "--duration", str(seconds),
                "--link-wait-ms", "5000"]
        if lcores > 1:
            vdev = t.vdev(t.srv_if) + ",qpairs=%d" % lcores
            srv = run.start("server", vdev,
                            ["--ip", topo.SERVER_IP, "--idle-yield",
                             "--status-ms", "2000", "--io-lcores",
                             str(lcores)] + args, netns=t.srv_ns)
        else:
            srv = t.start_server(args)
        _, status, ru = os.wait4(srv.pid, 0)
        srv.returncode = os.waitstatus_to_exitcode(status)
        for d in devs:
            topo.stop(d, signal.SIGTERM)
        s = run.stats(srv)
        el = s["maskwire"]["elapsed_s"]
        rx = [p["tensors_rx"] for p in s["peers"]]
        tens = sum(rx)
        cpu = ru.ru_utime + ru.ru_stime
        return {
            "tensors_per_s": tens / el if el else None,
            "dense_gbit_s": s["net"]["dense_bytes_rx"] * 8 / el / 1e9 if el else None,
            "wire_gbit_s": s["rates"]["wire_gbit_s"],
            "jain": topo.jain(rx) if tens else None,
            "min_over_mean": min(rx) / (tens / n) if tens else None,
            "server_cpu_us_per_tensor": cpu / tens * 1e6 if tens else None,
            "retrans": s["transport"]["retrans"],
            "handoff": s["net"]["handoff_out"],
        }
    except SystemExit as e:  # mwtest.fail/skip inside
        print("peers n=%d: %s" % (n, e), file=sys.stderr)
        return None
    finally:
        run.cleanup()


def peers_section(a, b, log):
    ns = [1, 2] if a.smoke else [1, 2, 4, 8, 16]
    seconds = 3 if a.smoke else (5 if a.quick else 8)
    for n in ns:
        log("peers: %d device(s), af_packet on a bridge, %d s" % (n, seconds))
        b.add("peers", "maskwire-afpacket-bridge", peers=n, shape=SHAPE,
              codec="ms", seconds=seconds,
              m=b.rep(lambda: one(a.maskwire, n, seconds), 1))


def lcores_section(a, b, log):
    """4 devices; the server with 1, then 2 I/O lcores, twice."""
    n, seconds = 4, (3 if a.smoke else (5 if a.quick else 8))
    for rnd in range(1 if a.smoke else 2):
        for lc in (1, 2):
            log("peers: %d devices, server with %d I/O lcore(s), round %d, "
                "%d s" % (n, lc, rnd + 1, seconds))
            b.add("peers-lcores", "maskwire-afpacket-bridge", peers=n,
                  io_lcores=lc, round=rnd + 1, shape=SHAPE, codec="ms",
                  seconds=seconds,
                  m=b.rep(lambda: one(a.maskwire, n, seconds, lc), 1))
