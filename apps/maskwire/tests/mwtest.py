# SPDX-License-Identifier: BSD-3-Clause
"""The harness of maskwire's tests that run data planes: the DPDK tests
here and the capture replays in pcap-tests/ (through pcap-tests/ptlib.py).
Run data planes on vdevs, read their JSON stats, check and report, clean
up (temp dirs, EAL runtime dirs, network namespaces, links) whatever
happens. Exit code 77 tells meson the test was skipped."""

import base64
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
EAL_COMMON = ["--no-pci", "--no-huge", "-m", "512"]


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print("ok: " + msg, flush=True)


class Checker:
    """Collects failures so one run reports all of them (check() stops
    at the first)."""

    def __init__(self):
        self.bad = 0

    def eq(self, what, got, want):
        if got == want:
            print("ok: %s = %s" % (what, got))
        else:
            print("MISMATCH: %s: got %s, want %s" % (what, got, want))
            self.bad += 1

    def true(self, what, cond, detail=""):
        if cond:
            print("ok: " + what)
        else:
            print("MISMATCH: %s %s" % (what, detail))
            self.bad += 1

    def finish(self):
        sys.stdout.flush()
        if self.bad:
            fail("%d check(s) failed" % self.bad)
        print("PASS", flush=True)


def require_root():
    if os.geteuid() != 0:
        skip("needs root (DPDK vdevs, EAL runtime files under /var/run/dpdk)")


def need_binary(path, what):
    if not path or not os.access(path, os.X_OK):
        skip("%s not built: %s" % (what, path))


def unlink_shm(names):
    """Remove shared-memory regions /dev/shm/NAME left by a run."""
    for n in names:
        try:
            os.unlink("/dev/shm/" + n)
        except OSError:
            pass


def pcap_frames(path):
    """The frames of a classic pcap file (the data plane's --capture), in
    order; raises ValueError if it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24 or struct.unpack("<I", data[:4])[0] != 0xa1b2c3d4:
        raise ValueError("%s is not a classic pcap file" % path)
    off, out = 24, []
    while off + 16 <= len(data):
        incl, = struct.unpack("<I", data[off + 8:off + 12])
        out.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return out


def load_json(path):
    with open(path) as f:
        return json.load(f)


def log_tail(path, n=25):
    """The last n lines of a data plane's log, without EAL's chatter."""
    try:
        with open(path) as f:
            lines = [l for l in f if not l.startswith(("EAL:", "TELEMETRY:"))]
        return "".join(lines[-n:])
    except OSError:
        return ""


class Workdir:
    """A temp dir and what a test starts in it: data planes, each with a
    unique EAL file prefix under tag, network namespaces and links; all
    removed by cleanup()."""

    def __init__(self, tmp_prefix, tag):
        self.tmp = tempfile.mkdtemp(prefix=tmp_prefix)
        self.tag = tag
        self.procs = []
        self.prefixes = []
        self.netns = []
        self.links = []

    def cleanup_on_signal(self):
        """SIGTERM or SIGINT (meson's timeout, ^C): clean up, exit 1."""
        def on_signal(sig, frame):
            self.cleanup()
            sys.exit(1)

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def prefix(self, side):
        p = "%s%s" % (self.tag, side)
        self.prefixes.append(p)
        return p

    def path(self, name):
        return os.path.join(self.tmp, name)

    def keyfile(self):
        """This run's throwaway pre-shared key (mode 0600), made once: the
        data planes of a test run encrypted unless it says --plain."""
        if not getattr(self, "_key", None):
            path = self.path("test.key")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
            os.close(fd)
            self._key = path
        return self._key

    def maskwire(self, binary, side, vdev, app_args, log, netns=None,
                 eal=()):
        """Start a data plane on vdev, stdout and stderr to the file log;
        returns its Popen. Encrypted with keyfile() unless app_args give
        --key or --plain. eal: more EAL arguments (e.g. -l 1)."""
        if "--key" not in app_args and "--plain" not in app_args:
            app_args = app_args + ["--key", self.keyfile()]
        cmd = [binary] + EAL_COMMON + list(eal) + [
            "--file-prefix", self.prefix(side), "--vdev=" + vdev, "--"
        ] + app_args
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        print("run: " + " ".join(cmd), flush=True)
        p = subprocess.Popen(cmd, stdout=open(log, "w"),
                             stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def add_netns(self, name):
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.netns.append(name)

    def veth_netns(self, ns_a, ns_b, va, vb):
        """Two network namespaces joined by a veth pair va (in ns_a) - vb
        (in ns_b), links up, no kernel address and no IPv6 on them (the
        data planes own the link). Skips the test when namespaces cannot
        be made; everything is removed at cleanup."""
        if not shutil.which("ip"):
            skip("iproute2 'ip' not found")
        try:
            self.add_netns(ns_a)
            self.add_netns(ns_b)
        except (subprocess.CalledProcessError, OSError) as e:
            skip("cannot create network namespaces: %s" % e)
        self.links.append(va)  # gone with its namespace; covers a failure between
        sh = lambda *c: subprocess.run(list(c), check=True)
        sh("ip", "link", "add", va, "type", "veth", "peer", "name", vb)
        sh("ip", "link", "set", va, "netns", ns_a)
        sh("ip", "link", "set", vb, "netns", ns_b)
        for ns, dev in ((ns_a, va), (ns_b, vb)):
            sh("ip", "netns", "exec", ns, "sysctl", "-qw",
               "net.ipv6.conf.%s.disable_ipv6=1" % dev)
            sh("ip", "netns", "exec", ns, "ip", "link", "set", dev, "up")

    def cleanup(self):
        # Stop in reverse start order: the receiver, started first, last.
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns],
                           stderr=subprocess.DEVNULL)
        for link in self.links:
            subprocess.run(["ip", "link", "del", link],
                           stderr=subprocess.DEVNULL)
        for pre in self.prefixes:
            shutil.rmtree("/var/run/dpdk/" + pre, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def leftover_runtime_dirs(self):
        return [p for p in self.prefixes if os.path.exists("/var/run/dpdk/" + p)]


class Run(Workdir):
    """One DPDK test: the maskwire binary under test, its data planes
    each with JSON stats and a log in the temp dir."""

    def __init__(self, binary, name):
        need_binary(binary, "maskwire binary")
        super().__init__("mw-%s-" % name, "mwt%d%s" % (os.getpid(), name[:6]))
        self.binary = binary

    def start(self, side, vdev, app_args, netns=None, eal=()):
        """Start one maskwire; stats go to a file, stderr to a log."""
        stats = self.path("%s.json" % side)
        log = self.path("%s.log" % side)
        p = self.maskwire(self.binary, side, vdev,
                          app_args + ["--stats", stats], log, netns, eal)
        p.side, p.stats, p.logf = side, stats, log
        return p

    def wait_path(self, path, timeout=20):
        """Wait for a file (a memif server's socket) to appear."""
        for _ in range(int(timeout * 20)):
            if os.path.exists(path):
                return
            time.sleep(0.05)
        self.dump_logs()
        fail("%s did not appear" % path)

    def wait(self, p, timeout):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.dump_logs()
            fail("maskwire %s did not exit within %d s" % (p.side, timeout))
        return rc

    def stats(self, p):
        try:
            return load_json(p.stats)
        except (OSError, ValueError) as e:
            self.dump_logs()
            fail("no JSON stats from %s: %s" % (p.side, e))

    def dump_logs(self):
        for p in self.procs:
            if not os.path.exists(p.logf):
                continue
            print("---- %s log (tail) ----" % p.side)
            sys.stdout.write(log_tail(p.logf))
        sys.stdout.flush()


def main(body):
    """Run body(run) with cleanup on any exit, including SIGTERM/SIGINT."""
    binary = sys.argv[1] if len(sys.argv) > 1 else "maskwire"
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    run = Run(binary, name.replace("test_", ""))
    run.cleanup_on_signal()
    try:
        body(run)
    finally:
        run.cleanup()
    print("PASS", flush=True)


def memif_pair(run, n, a_extra, b_extra, shape="16,64,8,8",
               sock="memif.sock"):
    """A (memif server, 10.0.0.1, activations) and B (client, 10.0.0.2,
    gradients), each generating n tensors and sinking the other's n;
    a_extra/b_extra are added to each one's options. Returns (a, b)."""
    path = run.path(sock)
    common = ["--sink", str(n), "--gen", str(n), "--shape", shape,
              "--idle-yield", "--status-ms", "0"]
    a = run.start("A", "net_memif0,role=server,socket=%s,socket-abstract=no"
                  % path, ["--ip", "10.0.0.1", "--peer", "10.0.0.2",
                           "--kind", "activation", "--linger-ms", "2500"] +
                  common + a_extra)
    run.wait_path(path)
    b = run.start("B", "net_memif0,role=client,socket=%s,socket-abstract=no"
                  % path, ["--ip", "10.0.0.2", "--peer", "10.0.0.1",
                           "--kind", "gradient"] + common + b_extra)
    return a, b


def verify_pair(run, a, b, n, lossy):
    """Both sides exited 0 and each sink verified n tensors bit-exactly."""
    for p in (a, b):
        rc = run.wait(p, 240)
        if rc != 0:
            run.dump_logs()
            fail("maskwire %s exited with %d" % (p.side, rc))
    sa, sb = run.stats(a), run.stats(b)
    for side, s in (("A", sa), ("B", sb)):
        g, k, t = s["gen"], s["sink"], s["transport"]
        check(s["maskwire"]["end"] == "done", "%s ended on its own" % side)
        check(g["done"] == n and g["failed"] == 0,
              "%s: %d tensors acknowledged, none failed" % (side, n))
        check(k["delivered"] == n and k["verified"] == n,
              "%s: sink verified %d/%d tensors bit-exact" % (side, k["verified"], n))
        check(k["mismatched"] == 0 and k["out_of_order"] == 0,
              "%s: no mismatch, in order" % side)
        check(t["tensors_failed"] == 0, "%s: transport failed nothing" % side)
        if lossy:
            f = s["fault"]["tx"]
            check(f["dropped"] > 0 and f["held"] > 0 and f["duplicated"] > 0,
                  "%s: faults happened (dropped %d, held %d, duplicated %d)"
                  % (side, f["dropped"], f["held"], f["duplicated"]))
            check(t["retrans"] > 0, "%s: %d segments retransmitted" % (side, t["retrans"]))
    if lossy:
        check(sa["transport"]["data_rx_dup"] > 0 or sb["transport"]["data_rx_dup"] > 0,
              "duplicates reached a receiver and were ignored")
    return sa, sb


def print_stats(label, s):
    print("==== %s stats ====" % label)
    print(json.dumps(s, indent=1))
    sys.stdout.flush()
