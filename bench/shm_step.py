#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Request/response step time as a training process sees it, through the
shared-memory channel (docs/SHM.md).

Two maskwire data planes joined by net_memif, each serving one Python
process through --shm. The 'client' process sends an activation (MS,
r=0.99, b=2) as a torch tensor and waits for the gradient; the 'server'
process answers each activation with a gradient of the same shape (signed
MS, r=0.99, b=2). Step time: the client's clock from just before send()
(which copies the tensor into the shared buffer) to the gradient's
delivery (a zero-copy torch view of the receive buffer). Prints one JSON
object (and writes it to --json).

    shm_step.py --maskwire BUILD/apps/maskwire/maskwire [--shape 64,64,32,32]
                [--steps 100] [--warmup 10] [--json FILE]

Needs root (DPDK vdevs, EAL runtime files), numpy and torch for
/usr/bin/python3. Exit 77 with a reason when it cannot run. Everything it
starts or creates (processes, memif socket, /dev/shm regions, EAL runtime
directories) is removed on exit, errors and SIGINT/SIGTERM included.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RATIO, BITS = 0.99, 2
EAL = ["--no-pci", "--no-huge", "-m", "512", "--log-level=lib.eal:warning",
       "--log-level=pmd.net.memif:warning"]
T = 60.0  # seconds any single wait may take on a loaded machine


def skip(reason):
    print("SKIP: " + reason, file=sys.stderr, flush=True)
    sys.exit(77)


def pct(sorted_v, q):
    """Nearest-rank percentile of a sorted list."""
    if not sorted_v:
        return None
    i = max(0, min(len(sorted_v) - 1, -(-q * len(sorted_v) // 100) - 1))
    return sorted_v[int(i)]


# ---- the two Python processes ------------------------------------------------
def content(shape, kind):
    """The activation (ReLU-like, about 40% zeros) or gradient (small,
    signed), generated once: generating data is not measured."""
    import torch
    g = torch.Generator().manual_seed(7 if kind == "activation" else 8)
    x = torch.randn(*shape, generator=g)
    if kind == "activation":
        return torch.relu(x + 0.25)
    return x * 1e-3


def worker_server(a):
    import maskwire
    c = maskwire.Client(a.region, timeout=T)
    grads = {}
    last = None
    try:
        print("attached", flush=True)
        for _ in range(a.warmup + a.steps):
            with c.recv(timeout=T) as rx:
                shape, tag = tuple(rx.shape), rx.tag
            if shape not in grads:
                grads[shape] = content(shape, "gradient")
            last = c.send(grads[shape], kind="gradient", tag=tag,
                          codec="ms-signed", ratio=RATIO, bits=BITS,
                          timeout=T)
        if last is not None:
            c.wait(last, timeout=T)
        if c.failures():
            print("some gradient sends failed", flush=True)
            return 1
        return 0
    finally:
        c.close()


def worker_client(a):
    import maskwire
    shape = tuple(int(d) for d in a.shape.split(","))
    act = content(shape, "activation")
    c = maskwire.Client(a.region, timeout=T)
    try:
        print("attached", flush=True)
        steps = []
        t_first = i0 = None
        for i in range(a.warmup + a.steps):
            if i == a.warmup:
                i0 = c.info()
                t_first = time.monotonic_ns()
            t0 = time.monotonic_ns()
            cookie = c.send(act, kind="activation", tag=i, codec="ms",
                            ratio=RATIO, bits=BITS, timeout=T)
            with c.recv(timeout=T) as rx:
                g = rx.tensor  # zero-copy view, valid until release
                ok = rx.tag == i and tuple(g.shape) == shape and \
                    rx.kind == "gradient"
            t1 = time.monotonic_ns()
            if not ok:
                print("step %d: unexpected reply %r" % (i, rx), flush=True)
                return 1
            c.wait(cookie, timeout=T)
            if i >= a.warmup:
                steps.append(t1 - t0)
        span = time.monotonic_ns() - t_first
        i1 = c.info()
    finally:
        c.close()
    s = sorted(steps)
    n = len(s)
    dense = n * 4
    for d in shape:
        dense *= d
    wire = (i1["wire_tx_bytes"] - i0["wire_tx_bytes"]) + \
        (i1["wire_rx_bytes"] - i0["wire_rx_bytes"])
    out = {
        "shape": list(shape), "steps": n, "warmup": a.warmup,
        "up": "ms r=%g b=%d" % (RATIO, BITS),
        "down": "ms-signed r=%g b=%d" % (RATIO, BITS),
        "step_ms": {"min": s[0] / 1e6, "p50": pct(s, 50) / 1e6,
                    "p99": pct(s, 99) / 1e6, "max": s[-1] / 1e6,
                    "mean": sum(s) / n / 1e6},
        "steps_per_s": n / (span / 1e9),
        "span_s": span / 1e9,
        "dense_bytes_per_step_up": dense // n,
        "wire_bytes_per_step": wire / n,
        "wire_tx_bytes": i1["wire_tx_bytes"] - i0["wire_tx_bytes"],
        "wire_rx_bytes": i1["wire_rx_bytes"] - i0["wire_rx_bytes"],
        "retransmits": i1["retransmits"] - i0["retransmits"],
    }
    with open(a.result, "w") as f:
        json.dump(out, f)
    return 0


# ---- orchestration ---------------------------------------------------------
class Run:
    def __init__(self, keep_tmp=False):
        self.tmp = tempfile.mkdtemp(prefix="mwshmstep.")
        self.tag = "mwss%d" % os.getpid()
        self.regions = [self.tag + "a", self.tag + "b"]
        self.prefixes = []
        self.dps = []
        self.apps = []
        self.keep_tmp = keep_tmp

    def path(self, name):
        return os.path.join(self.tmp, name)

    def popen(self, cmd, name, env=None):
        f = open(self.path(name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                             env=env, start_new_session=True)
        f.close()
        p.name, p.log = name, self.path(name + ".log")
        return p

    def start_dp(self, mw, side, vdev, ip, peer):
        prefix = self.tag + side
        self.prefixes.append(prefix)
        cmd = [mw] + EAL + ["--file-prefix", prefix, "--vdev=" + vdev,
                            "--", "--ip", ip, "--peer", peer,
                            "--shm", self.tag + side, "--idle-yield",
                            "--plain",
                            "--status-ms", "0",
                            "--stats", self.path("dp-%s.json" % side)]
        p = self.popen(cmd, "dp-" + side)
        self.dps.append(p)
        return p

    def wait_path(self, path, p, timeout=20):
        t = time.time() + timeout
        while time.time() < t:
            if os.path.exists(path):
                return
            if p.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("%s did not appear (%s: %s)" % (
            path, p.name, self.tail(p)))

    @staticmethod
    def tail(p, n=15):
        try:
            with open(p.log) as f:
                lines = [l.rstrip() for l in f
                         if not l.startswith(("EAL:", "TELEMETRY:"))]
            return " | ".join(lines[-n:])
        except OSError:
            return "(no log)"

    @staticmethod
    def stop(p, sig, grace):
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except OSError:
                pass
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()

    def cleanup(self):
        for p in self.apps:
            self.stop(p, signal.SIGTERM, 3)
        # the memif client side (started last) stops first
        for p in reversed(self.dps):
            self.stop(p, signal.SIGTERM, 10)
        for r in self.regions:
            for f in [r] + [x for x in os.listdir("/dev/shm")
                            if x.startswith(r + ".")]:
                try:
                    os.unlink("/dev/shm/" + f)
                except OSError:
                    pass
        for pre in self.prefixes:
            shutil.rmtree("/var/run/dpdk/" + pre, ignore_errors=True)
        if not self.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def orchestrate(a):
    mw = a.maskwire
    if not mw or not os.access(mw, os.X_OK):
        skip("no maskwire binary (--maskwire)")
    lib = a.lib or os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(mw)))), "dataplane", "shm",
        "libmaskwire.so")
    if not os.path.exists(lib):
        skip("no libmaskwire.so (%s)" % lib)
    if os.geteuid() != 0:
        skip("needs root (DPDK vdevs, EAL runtime files)")
    r = subprocess.run([PY, "-c", "import numpy, torch"], capture_output=True)
    if r.returncode:
        skip("%s cannot import numpy and torch" % PY)
    env = dict(os.environ, MASKWIRE_LIB=lib, PYTHONPATH=os.pathsep.join(
        [os.path.join(REPO, "python")] +
        ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
        OMP_NUM_THREADS="1")

    run = Run(a.keep_tmp)

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM,
                                                    signal.SIGINT)}
    try:
        sock = run.path("memif.sock")
        for r_ in run.regions:
            if os.path.exists("/dev/shm/" + r_):
                os.unlink("/dev/shm/" + r_)
        da = run.start_dp(mw, "a", "net_memif0,role=server,socket=%s,"
                          "socket-abstract=no" % sock, "10.0.0.1", "10.0.0.2")
        run.wait_path(sock, da)
        db = run.start_dp(mw, "b", "net_memif0,role=client,socket=%s,"
                          "socket-abstract=no" % sock, "10.0.0.2", "10.0.0.1")
        run.wait_path("/dev/shm/" + run.regions[0], da)
        run.wait_path("/dev/shm/" + run.regions[1], db)
        me = [PY, os.path.abspath(__file__)]
        common = ["--steps", str(a.steps), "--warmup", str(a.warmup)]
        srv = run.popen(me + ["--worker", "server", "--region",
                              run.regions[1]] + common, "server", env)
        run.apps.append(srv)
        result = run.path("client.json")
        cli = run.popen(me + ["--worker", "client", "--region",
                              run.regions[0], "--shape", a.shape,
                              "--result", result] + common, "client", env)
        run.apps.append(cli)
        deadline = time.time() + a.timeout
        while cli.poll() is None:
            if time.time() > deadline:
                raise RuntimeError("the client did not finish in %d s"
                                   % a.timeout)
            if srv.poll() not in (None, 0):
                raise RuntimeError("the server failed: " + run.tail(srv))
            for p in run.dps:
                if p.poll() is not None:
                    raise RuntimeError("data plane %s exited with %s: %s"
                                       % (p.name, p.returncode, run.tail(p)))
            time.sleep(0.05)
        if cli.returncode != 0:
            raise RuntimeError("the client failed (%d): %s"
                               % (cli.returncode, run.tail(cli)))
        try:
            srv.wait(timeout=T)
        except subprocess.TimeoutExpired:
            raise RuntimeError("the server did not finish")
        if srv.returncode != 0:
            raise RuntimeError("the server failed (%d): %s"
                               % (srv.returncode, run.tail(srv)))
        with open(result) as f:
            out = json.load(f)
        out.update({
            "stack": "maskwire-shm-python",
            "link": "net_memif between two maskwire processes, each serving "
                    "one Python process through --shm (default pools)",
            "idle_yield": True,
            "scheduling": "4 busy processes (2 data planes with --idle-yield, "
                          "2 Python processes) share %d CPU(s); no pinning"
                          % os.cpu_count(),
            "python": PY, "torch_threads": 1,
        })
        return out
    finally:
        run.cleanup()
        for s, h in old.items():
            signal.signal(s, h)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--maskwire", help="the maskwire binary (its build "
                   "directory also gives libmaskwire.so)")
    p.add_argument("--lib", help="libmaskwire.so (default: from the build "
                   "directory of --maskwire)")
    p.add_argument("--shape", default="64,64,32,32")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--timeout", type=float, default=300,
                   help="seconds the whole exchange may take")
    p.add_argument("--json", help="also write the result there")
    p.add_argument("--keep-tmp", action="store_true")
    # internal: the two Python processes
    p.add_argument("--worker", choices=["server", "client"],
                   help=argparse.SUPPRESS)
    p.add_argument("--region", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        import torch
        torch.set_num_threads(1)
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(1))
        return worker_server(a) if a.worker == "server" else worker_client(a)
    if a.steps < 1 or a.warmup < 0:
        p.error("--steps >= 1, --warmup >= 0")
    try:
        out = orchestrate(a)
    except KeyboardInterrupt:
        print("shm_step: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, OSError, ValueError) as e:
        print("shm_step: %s" % e, file=sys.stderr)
        return 1
    s = json.dumps(out)
    if a.json:
        with open(a.json, "w") as f:
            f.write(s + "\n")
    print(s, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
