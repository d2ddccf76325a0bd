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
process wants it). The server runs on CPU 0 and every device on CPU 1
(EAL -l), so the server has a core of its own.
The "peers-lcores" rows: 4 devices against a server with 1 and with 2
I/O lcores (--io-lcores, qpairs=2 on its af_packet port), run
alternately twice, with the server's sink verifying every tensor
(it regenerates, encodes and decodes each one: the server's work per
tensor is then larger than a device's, so the server is the bottleneck
that a second lcore can relieve) and without (--no-verify: the
transport alone). There device i runs on CPU i % 2 and the server's
lcore k on CPU k, so each CPU runs two devices and at most one server
lcore. (Unpinned, every data plane's main lcore would sit on CPU 0.)"""
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


def one(binary, n, seconds, lcores=1, verify=False, pin="apart"):
    """pin "apart": the server on CPU 0, every device on CPU 1; "split":
    device i on CPU i % 2, the server's lcore k on CPU k."""
    run = mwtest.Run(binary, "bpeers%d" % n)
    try:
        t = topo.Topo(run, n)
        t.build()
        dev = ["--plain", "--gen", "100000000", "--shape", SHAPE, "--kind",
               "activation", "--content-period", "1", "--drain-ms", "100",
               "--linger-ms", "100"]
        devs = [t.start_device(i, dev, eal=["-l", str(i % 2 if pin == "split"
                                                   else 1)])
                for i in range(n)]
        t.wait_running(devs)
        args = ["--plain", "--peers", t.peers_file(0), "--sink",
                "--duration", str(seconds), "--link-wait-ms", "5000"]
        if not verify:
            args.append("--no-verify")
        if lcores > 1:
            args += ["--io-lcores", str(lcores)]
        srv = t.start_server(
            args, vdev_extra=",qpairs=%d" % lcores if lcores > 1 else "",
            eal=["-l", ",".join(str(k) for k in range(lcores))])
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
    """4 devices; the server with 1, then 2 I/O lcores, twice; verifying
    and not."""
    n, seconds = 4, (3 if a.smoke else (5 if a.quick else 8))
    for verify in (True, False):
        for rnd in range(1 if a.smoke else 2):
            for lc in (1, 2):
                log("peers: %d devices, server with %d I/O lcore(s)%s, "
                    "round %d, %d s" % (n, lc, ", verifying" if verify
                                        else "", rnd + 1, seconds))
                b.add("peers-lcores", "maskwire-afpacket-bridge", peers=n,
                      io_lcores=lc, verify=verify, round=rnd + 1,
                      shape=SHAPE, codec="ms", seconds=seconds,
                      m=b.rep(lambda: one(a.maskwire, n, seconds, lc,
                                          verify, "split"), 1))
