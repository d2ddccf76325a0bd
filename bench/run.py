#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""maskwire data plane benchmark: maskwire next to its baselines, measured
side by side in one run on this machine.

    bench/run.py [--quick | --smoke] [--build DIR] [--out DIR] [--reps N]

Sections (see docs/BENCH.md):
  transfer   maskwire over net_memif (two processes) vs the same codec over
             kernel TCP on a veth between two network namespaces, vs the
             paper's stack (PyTorch MS + pickle + ZeroMQ REQ/REP): full
             rate, a fixed offered rate, and request/response step time
             (plus the step time seen by two Python processes on the
             shared-memory channel: bench/shm_step.py)
  ceiling    dpdk-testpmd txonly -> rxonly over net_memif, same frame size
  loss       0/1/5/10% frame loss: maskwire fault injection vs TCP with a
             tc BPF drop program on the veth
  size       tensor size 64 KiB .. 64 MiB (dense bytes)
  mtu        MTU 1500 vs 9000: maskwire over net_vhost/net_virtio_user (the
             vdev pair that takes jumbo frames here; net_af_packet on the
             veth at 1500 too) vs TCP on the veth at the same MTU, with
             wire bytes per tensor against MS's ideal
  security   secure mode (docs/PROTOCOL.md 12) against plain in the same
             run: dense tensors, encrypt / integrity / plain interleaved,
             at MTU 1500 (net_memif) and 9000 (net_vhost/net_virtio_user)
  peers      one server and 1, 2, 4, 8, 16 devices on a Linux bridge
             (net_af_packet on veths): aggregate goodput, fairness and the
             server's CPU per tensor (bench/peers.py)

The rows before "security" run --plain (the protocol they were measured
with); "security" is where the cost of the AEAD is read.

Writes OUT/results.json, OUT/results.md and OUT/*.png (default out/bench).
Needs root (namespaces, DPDK vdevs). Exit 77 with a reason when it cannot
run. Runs are repeated --reps times and medians reported; the machine is
shared and noisy, so read ratios measured in the same run.
"""
import argparse
import base64
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

SHAPES = [(256, 64, 16, 16), (64, 64, 32, 32), (32, 64, 56, 56)]
CODECS = ["dense", "ms", "ms-signed"]
RATIO, BITS = 0.99, 2
EAL = ["--no-pci", "--no-huge", "-m", "512", "--log-level=lib.eal:warning",
       "--log-level=pmd.net.memif:warning"]
# --accept-zero-cksum: both sides announce UDP checksum 0 and get it
# (PROTOCOL.md 2), as a deployment that wants the fast path would.
MW_COMMON = ["--status-ms", "0", "--no-verify", "--accept-zero-cksum",
             "--content-period", "1", "--stamp", "--link-wait-ms", "5000"]
# Latency rows (a fixed offered rate, the request/response step) start
# with this many tensors that are sent and delivered like the others but
# left out of the latency figures, in every stack (maskwire and TCP
# --warmup; shm_step.py --warmup): a run's first tensors find buffers,
# mappings and rings not yet touched (60-150 ms for the first 16 MiB
# tensor on this VM, in both stacks) and, at a fixed rate, the tensors
# behind them queue until that backlog drains. The first tensor's
# latency is reported apart (lat_first_ms).
WARMUP_FIXED, WARMUP_STEP = 30, 5
# Full-rate goodput rows (transfer, size, MTU, security) start with this
# many tensors more, left out of goodput and latency in both stacks: a
# window of 8 fresh 16 MiB staging buffers and the receiver's buffers
# cost about 0.5 s of first touches on this VM, more than a short dense
# run's whole transfer (goodput then counts the tensors delivered after
# the last warm-up tensor's delivery, over the time since: the delivery
# rate once the pipe is full, in both stacks).
WARMUP_FULL = 10
# maskwire data frames at MTU 1500: 14 (Ethernet) + 1500.
FRAME = 1514


T0 = time.time()


def log(*a):
    print("[bench %5.1fs]" % (time.time() - T0), *a, file=sys.stderr,
          flush=True)


def skip(reason):
    print("SKIP: " + reason, file=sys.stderr)
    sys.exit(77)


def elems(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def shape_str(shape):
    return ",".join(str(d) for d in shape)


def shape_name(shape):
    return "x".join(str(d) for d in shape)


def kind_of(codec):
    return "gradient" if codec == "ms-signed" else "activation"


def wire_estimate(codec, n):
    """Payload bytes per tensor, for choosing tensor counts."""
    if codec == "dense":
        return 4 * n
    k = max(1, int(n * (1 - RATIO)))
    return (n * BITS + 7) // 8 + 4 * k


def goodput(shape, n, span, wire, warm=None):
    """Tensors/s, dense and wire Gbit/s of n tensors of shape delivered in
    span seconds, wire bytes per tensor. warm: (tensors, seconds) delivered
    after the warm-up, which replace n and span when both are non-zero."""
    if warm and warm[0] and warm[1]:
        n, span = warm
    tps = n / span if span else None
    if not tps:
        return None, None, None
    return tps, tps * elems(shape) * 4 * 8 / 1e9, tps * wire * 8 / 1e9


def ms_ideal(n, k=0):
    """MS's own size for n elements: the b-bit mask and k float32 values
    (k as mw_codec_k() derives it from the ratio when not given)."""
    k = k or max(1, int(n * (1 - RATIO)))
    return (n * BITS + 7) // 8 + 4 * k


def median(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


class Bench:
    def __init__(self, a):
        self.a = a
        self.tmp = tempfile.mkdtemp(prefix="mwbench.")
        self.procs = []
        self.ns = []
        self.prefixes = []
        self.seq = 0
        tag = str(os.getpid() % 100000)
        self.nsa, self.nsb = "mwb%sa" % tag, "mwb%sb" % tag
        self.va, self.vb = "mwb%sa" % tag, "mwb%sb" % tag
        self.ipa, self.ipb = "10.213.0.1", "10.213.0.2"
        self.bpf = {}
        self.rows = []
        self.notes = []

    # ---- process and namespace management ------------------------------
    def popen(self, cmd, out, netns=None, cpu=None):
        if cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(cpu)] + cmd
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        f = open(out, "w")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT,
                             start_new_session=True)
        p.logf = f
        p.logpath = out
        self.procs.append(p)
        return p

    def wait(self, p, timeout):
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log("timeout: %s" % " ".join(p.args[:12]))
            self.stop(p, signal.SIGINT, 3)
            rc = None
        p.logf.close()
        if p in self.procs:
            self.procs.remove(p)
        return rc

    def stop(self, p, sig=signal.SIGINT, grace=5):
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def sh(self, *cmd, check=True):
        r = subprocess.run(list(cmd), capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.strip()))
        return r

    def setup_netns(self, mtu=1500):
        if self.ns:
            self.sh("ip", "-n", self.nsa, "link", "set", self.va, "mtu",
                    str(mtu))
            self.sh("ip", "-n", self.nsb, "link", "set", self.vb, "mtu",
                    str(mtu))
            return
        for n in (self.nsa, self.nsb):
            self.sh("ip", "netns", "add", n)
            self.ns.append(n)
        self.sh("ip", "link", "add", self.va, "type", "veth", "peer", "name",
                self.vb)
        self.sh("ip", "link", "set", self.va, "netns", self.nsa)
        self.sh("ip", "link", "set", self.vb, "netns", self.nsb)
        for n, v, ip in ((self.nsa, self.va, self.ipa),
                         (self.nsb, self.vb, self.ipb)):
            self.sh("ip", "-n", n, "addr", "add", ip + "/24", "dev", v)
            self.sh("ip", "-n", n, "link", "set", v, "mtu", str(mtu), "up")
            self.sh("ip", "-n", n, "link", "set", "lo", "up")

    def set_loss(self, ppm):
        """tc BPF drop on both veth ends (egress); ppm 0 removes it."""
        for n, v in ((self.nsa, self.va), (self.nsb, self.vb)):
            self.sh("tc", "-n", n, "qdisc", "del", "dev", v, "clsact",
                    check=False)
            if ppm:
                self.sh("tc", "-n", n, "qdisc", "add", "dev", v, "clsact")
                self.sh("tc", "-n", n, "filter", "add", "dev", v, "egress",
                        "bpf", "da", "obj", self.bpf_obj(ppm), "sec",
                        "classifier")

    def bpf_obj(self, ppm):
        if ppm not in self.bpf:
            o = os.path.join(self.tmp, "loss-%d.o" % ppm)
            inc = "/usr/include/%s-linux-gnu" % platform.machine()
            self.sh("clang", "-O2", "-target", "bpf", "-I", inc,
                    "-DLOSS_PPM=%d" % ppm, "-c",
                    os.path.join(HERE, "loss.bpf.c"), "-o", o)
            self.bpf[ppm] = o
        return self.bpf[ppm]

    def cleanup(self):
        for p in list(self.procs):
            self.stop(p, signal.SIGTERM, 3)
            p.logf.close()
        self.procs = []
        for n in self.ns:
            self.sh("ip", "netns", "del", n, check=False)
        self.ns = []
        for pre in self.prefixes:
            shutil.rmtree("/var/run/dpdk/" + pre, ignore_errors=True)
        if not self.a.keep_tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def keep_logs(self, d):
        """Copy a failed run's directory under OUT/failed."""
        dst = os.path.join(self.a.out, "failed", os.path.basename(d))
        shutil.rmtree(dst, ignore_errors=True)
        try:
            shutil.copytree(d, dst, ignore=shutil.ignore_patterns("*.sock"))
        except OSError:
            return d
        return dst

    def fresh(self, what):
        self.seq += 1
        d = os.path.join(self.tmp, "%03d-%s" % (self.seq, what))
        os.makedirs(d)
        return d

    def wait_path(self, path, p, timeout=15):
        t = time.time() + timeout
        while time.time() < t:
            if os.path.exists(path):
                return True
            if p.poll() is not None:
                return False
            time.sleep(0.02)
        return False

    @staticmethod
    def load(path):
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # ---- maskwire --------------------------------------------------------
    def keyfile(self):
        """A throwaway pre-shared key (mode 0600) for the secure rows."""
        path = os.path.join(self.tmp, "bench.key")
        if not os.path.exists(path):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.write(fd, base64.b64encode(os.urandom(32)) + b"\n")
            os.close(fd)
        return path

    def maskwire(self, shape, codec, count, rate=0, loss=0.0, respond=False,
                 port="memif", mtu=1500, seed=1, budget=None, retry=True,
                 sec="plain", cc="reno", crypto=None, compact=True,
                 cut=True, warmup=0):
        """One maskwire run: A generates, B receives (and answers when
        respond). Returns a measurement dict or None. With budget (s), a
        run still going then is stopped and measured as incomplete.
        sec: "plain" (the rows before secure mode), "encrypt" or
        "integrity" (PROTOCOL.md 12, a throwaway key). cc: the
        congestion controller of both sides (docs/CC.md). crypto: the
        AES-256-GCM library of both sides (--crypto), None: the
        default. compact: False runs both sides with --compact off (full
        DATA headers only, PROTOCOL.md 5.6). cut: False runs both sides
        with --cut-through off (segments sent after the encode). warmup:
        that many tensors more, sent first and left out of the latency
        figures (WARMUP_FIXED)."""
        d = self.fresh("mw-%s-%s-%s" % (port, codec, sec))
        pa, pb = "mwb%da%d" % (os.getpid(), self.seq), \
            "mwb%db%d" % (os.getpid(), self.seq)
        self.prefixes += [pa, pb]
        if port == "memif":
            sock = os.path.join(d, "memif.sock")
            vdev_b = "--vdev=net_memif0,role=server,socket=%s," \
                     "socket-abstract=no" % sock
            vdev_a = vdev_b.replace("role=server", "role=client")
            ip_a, ip_b, ns_a, ns_b = "10.0.0.1", "10.0.0.2", None, None
        elif port == "virtio":
            # net_vhost (B, the server side of the socket) and
            # net_virtio_user with mergeable RX buffers (A): the pair
            # that carries jumbo frames (docs/DATAPLANE.md)
            sock = os.path.join(d, "vhost.sock")
            vdev_b = "--vdev=net_vhost0,iface=%s,queues=1" % sock
            vdev_a = "--vdev=net_virtio_user0,path=%s,mrg_rxbuf=1" % sock
            ip_a, ip_b, ns_a, ns_b = "10.0.0.1", "10.0.0.2", None, None
        else:
            fs = ",framesz=16384,blocksz=16384" if mtu > 2000 else ""
            fc = 2048 if mtu > 2000 else 8192
            vdev_a = "--vdev=net_af_packet0,iface=%s,framecnt=%d," \
                     "qdisc_bypass=1%s" % (self.va, fc, fs)
            vdev_b = "--vdev=net_af_packet0,iface=%s,framecnt=%d," \
                     "qdisc_bypass=1%s" % (self.vb, fc, fs)
            ip_a, ip_b = "10.214.0.1", "10.214.0.2"
            ns_a, ns_b = self.nsa, self.nsb
        fault = []
        if loss:
            fault = ["--tx-drop", str(loss), "--fault-seed", str(seed)]
        gen = ["--shape", shape_str(shape), "--codec", codec, "--kind",
               kind_of(codec), "--ratio", str(RATIO), "--bits", str(BITS)]
        count += warmup
        common = MW_COMMON + ["--mtu", str(mtu), "--cc", cc] + fault + \
            (["--warmup", str(warmup)] if warmup else []) + \
            ([] if compact else ["--compact", "off"]) + \
            ([] if cut else ["--cut-through", "off"])
        if sec == "plain":
            common += ["--plain"]
        else:
            common += ["--key", self.keyfile()] + \
                (["--integrity"] if sec == "integrity" else []) + \
                (["--crypto", crypto] if crypto else [])
        # virtio-user shares its memory with the vhost side: one file
        # per memory type
        eal = EAL + (["--single-file-segments"] if port == "virtio" else [])
        if respond:
            b_app = ["--respond", "--sink", str(count), "--shape",
                     shape_str(shape), "--codec", "ms-signed", "--kind",
                     "gradient", "--ratio", str(RATIO), "--bits", str(BITS)]
            a_app = gen + ["--gen", str(count), "--sink", str(count),
                           "--lockstep"]
        else:
            b_app = ["--sink", str(count)]
            a_app = gen + ["--gen", str(count)]
            if rate:
                a_app += ["--rate", "%.3f" % rate]
        b = self.popen([self.a.maskwire] + eal + ["-l", "1", "--file-prefix",
                       pb, vdev_b, "--", "--ip", ip_b, "--peer", ip_a,
                       "--stats", os.path.join(d, "b.json")] + common + b_app +
                      # The receiver outlives the sender: a net_memif
                      # process reading after its peer unmapped the shared
                      # region crashes inside the PMD (seen in DPDK 22.11).
                      ["--linger-ms", "600"],
                       os.path.join(d, "b.log"), netns=ns_b)
        if port in ("memif", "virtio") and not self.wait_path(sock, b):
            self.wait(b, 5)
            log("maskwire receiver did not start (%s)" % b.logpath)
            return None
        a = self.popen([self.a.maskwire] + eal + ["-l", "0", "--file-prefix",
                       pa, vdev_a, "--", "--ip", ip_a, "--peer", ip_b,
                       "--stats", os.path.join(d, "a.json")] + common + a_app +
                      ["--linger-ms", "100"],
                       os.path.join(d, "a.log"), netns=ns_a)
        ra = self.wait(a, budget or 30 + count * 0.5)
        incomplete = ra is None and budget is not None
        if incomplete:
            self.stop(b)
            ra = 0
        rb = self.wait(b, 10)  # the receiver stops last
        sa, sb = self.load(os.path.join(d, "a.json")), \
            self.load(os.path.join(d, "b.json"))
        if incomplete and not (sb and sb["sink"]["delivered"]):
            sb = None
        crashed = [w for w, rc in (("A", ra), ("B", rb))
                   if rc is not None and rc < 0]
        sig = -min([rc for rc in (ra, rb) if rc is not None] or [0])
        if crashed and sa and sb and sb["sink"]["delivered"] == count and \
                (not respond or sa["sink"]["delivered"] == count):
            # Stats are written before the port is closed: the run itself
            # completed; the crash happened while shutting down.
            self.notes.append(
                "maskwire %s (%s %s %s) died with signal %d after writing "
                "complete stats; logs in %s" % (
                    "/".join(crashed), port, shape_name(shape), codec,
                    sig, self.keep_logs(d)))
            ra = rb = 0
        if crashed and retry:
            # net_memif in DPDK 22.11 can crash a process whose peer
            # disconnects while it polls; such a run is repeated once.
            self.notes.append(
                "maskwire %s (%s %s %s) died with signal %d before writing "
                "its stats; run repeated; logs in %s" % (
                    "/".join(crashed), port, shape_name(shape), codec,
                    sig, self.keep_logs(d)))
            return self.maskwire(shape, codec, count - warmup, rate=rate,
                                 loss=loss, respond=respond, port=port,
                                 mtu=mtu, seed=seed, budget=budget,
                                 retry=False, sec=sec, cc=cc, crypto=crypto,
                                 compact=compact, cut=cut, warmup=warmup)
        if ra != 0 or rb != 0 or not sa or not sb:
            log("maskwire run failed (rc %s/%s), logs in %s" % (
                ra, rb, self.keep_logs(d)))
            self.notes.append("maskwire %s %s %s failed (rc %s/%s)" % (
                port, shape_name(shape), codec, ra, rb))
            return None
        lat = (sa if respond else sb)["sink"]["latency_ns"]
        one_way = sb["sink"]["latency_ns"]
        if not lat or not one_way:
            return None
        span = budget if incomplete else one_way["span_ns"] / 1e9
        n = sb["sink"]["delivered"]
        # Ethernet bytes and frames A sent (incl. retransmissions), per
        # delivered tensor; every frame both ways: data, ACKs, HELLOs,
        # ARP, all headers
        wire = sa["net"]["tx_bytes"] / n if n else 0
        both = (sa["net"]["tx_bytes"] + sb["net"]["tx_bytes"]) / n if n else 0
        frames = sa["net"]["tx_frames"] / n if n else 0
        # goodput after the warm-up, as the latency figures
        warm = (one_way.get("after_warmup_tensors", 0),
                one_way.get("after_warmup_span_ns", 0) / 1e9) \
            if warmup and not incomplete and not respond else None
        tps, dense_gbit_s, wire_gbit_s = goodput(shape, n, span, wire, warm)
        tx = sa["transport"]
        g = sa["gen"]
        return {
            "tensors": n,
            "tensors_per_s": tps,
            "dense_gbit_s": dense_gbit_s,
            "wire_gbit_s": wire_gbit_s,
            "wire_bytes_per_tensor": wire if n else None,
            "wire_both_bytes_per_tensor": both if n else None,
            "ms_ideal_bytes": ms_ideal(elems(shape), g.get("k"))
            if g.get("codec") == "ms" else None,
            "pps": tps * frames if tps else None,
            "lat_p50_ms": lat["p50"] / 1e6, "lat_p99_ms": lat["p99"] / 1e6,
            "lat_max_ms": lat["max"] / 1e6,
            "lat_first_ms": lat.get("first_ns", 0) / 1e6,
            "warmup": warmup,
            "retrans": tx.get("retrans"),
            "incomplete": incomplete,
        }

    # ---- kernel TCP (the same codec) --------------------------------------
    def tcp(self, shape, codec, count, rate=0, respond=False, budget=None,
            warmup=0):
        d = self.fresh("tcp-%s" % codec)
        count += warmup
        wu = ["--warmup", str(warmup)] if warmup else []
        port = 5300 + self.seq
        rs, ss = os.path.join(d, "recv.json"), os.path.join(d, "send.json")
        r_cmd = [self.a.tcp, "recv", "--listen", "%s:%d" % (self.ipb, port),
                 "--stats", rs] + wu
        if respond:
            r_cmd += ["--respond", "--codec", "ms-signed", "--ratio",
                      str(RATIO), "--bits", str(BITS)]
        r = self.popen(r_cmd, os.path.join(d, "recv.log"), netns=self.nsb,
                       cpu=1)
        s_cmd = [self.a.tcp, "send", "--connect", "%s:%d" % (self.ipb, port),
                 "--shape", shape_str(shape), "--codec", codec, "--ratio",
                 str(RATIO), "--bits", str(BITS), "--count", str(count),
                 "--stats", ss] + wu
        if rate:
            s_cmd += ["--rate", "%.3f" % rate]
        if respond:
            s_cmd += ["--lockstep"]
        s = self.popen(s_cmd, os.path.join(d, "send.log"), netns=self.nsa,
                       cpu=0)
        rc_s = self.wait(s, budget or 60 + count * 2)
        rc_r = self.wait(r, 10)
        sr, st = self.load(rs), self.load(ss)
        incomplete = rc_s is None and budget is not None and not respond \
            and rc_r == 0 and sr and sr["count"] > 0
        if incomplete:
            # Stopped at the time budget: goodput over the budget (below).
            rc_s, st = 0, {}
        if rc_s != 0 or rc_r != 0 or not sr or st is None:
            log("tcp run failed (rc %s/%s), logs in %s" % (
                rc_s, rc_r, self.keep_logs(d)))
            self.notes.append("tcp %s %s failed" % (shape_name(shape), codec))
            return None
        lat = st["step_ns"] if respond else sr["latency_ns"]
        n = sr["count"]
        wire = sr["wire_rx_bytes"] / n if n else 0
        # goodput after the warm-up, as maskwire's
        warm = (sr.get("after_warmup_tensors", 0),
                sr.get("after_warmup_span_s", 0)) \
            if warmup and not incomplete and not respond else None
        tps, dense_gbit_s, wire_gbit_s = goodput(
            shape, n, budget if incomplete else sr["span_s"], wire, warm)
        return {
            "tensors": n, "tensors_per_s": tps,
            "dense_gbit_s": dense_gbit_s, "wire_gbit_s": wire_gbit_s,
            "wire_bytes_per_tensor": wire if n else None,
            "lat_p50_ms": lat["p50"] / 1e6, "lat_p99_ms": lat["p99"] / 1e6,
            "lat_max_ms": lat["max"] / 1e6,
            "lat_first_ms": lat.get("first_ns", 0) / 1e6,
            "warmup": warmup,
            "incomplete": bool(incomplete),
        }

    # ---- PyTorch + pickle + ZeroMQ ---------------------------------------
    def zmq(self, shape, count, respond=False):
        d = self.fresh("zmq")
        port = 5300 + self.seq
        ss, cs = os.path.join(d, "server.json"), os.path.join(d, "client.json")
        z = os.path.join(HERE, "zmq_ms.py")
        srv = self.popen([PY, z, "server", "--bind",
                          "tcp://%s:%d" % (self.ipb, port), "--stats", ss] +
                         (["--respond"] if respond else []),
                         os.path.join(d, "server.log"), netns=self.nsb, cpu=1)
        cli = self.popen([PY, z, "client", "--connect",
                          "tcp://%s:%d" % (self.ipb, port), "--shape",
                          shape_str(shape), "--count", str(count), "--ratio",
                          str(RATIO), "--bits", str(BITS), "--stats", cs] +
                         (["--respond"] if respond else []),
                         os.path.join(d, "client.log"), netns=self.nsa, cpu=0)
        rc_c = self.wait(cli, 60 + count * 5)
        if rc_c != 0:
            self.stop(srv, signal.SIGTERM)
        rc_s = self.wait(srv, 15)
        sv, cl = self.load(ss), self.load(cs)
        if rc_c != 0 or rc_s != 0 or not sv or not cl:
            log("zmq run failed (rc %s/%s), logs in %s" % (
                rc_c, rc_s, self.keep_logs(d)))
            self.notes.append("zmq %s failed" % shape_name(shape))
            return None
        lat = cl["step_ns"] if respond else sv["latency_ns"]
        n = sv["count"]
        return {
            "tensors": n, "tensors_per_s": sv["tensors_per_s"],
            "dense_gbit_s": sv["dense_gbit_s"],
            "wire_gbit_s": sv["wire_gbit_s"],
            "wire_bytes_per_tensor": sv["wire_rx_bytes"] / n if n else None,
            "lat_p50_ms": lat["p50"] / 1e6, "lat_p99_ms": lat["p99"] / 1e6,
            "lat_max_ms": lat["max"] / 1e6,
        }

    # ---- the shared-memory channel from Python (bench/shm_step.py) -------
    def shm_python(self, shape, count, warmup):
        """Step time as a training process sees it: two Python processes
        on the maskwire data planes' shared-memory channel (--shm)."""
        d = self.fresh("shm-py")
        js = os.path.join(d, "result.json")
        p = self.popen([PY, os.path.join(HERE, "shm_step.py"), "--maskwire",
                        self.a.maskwire, "--shape", shape_str(shape),
                        "--steps", str(count), "--warmup", str(warmup),
                        "--timeout", str(60 + count * 2), "--json", js],
                       os.path.join(d, "shm_step.log"))
        rc = self.wait(p, 120 + count * 2)
        st = self.load(js)
        if rc != 0 or not st:
            log("shm python run failed (rc %s), logs in %s" % (
                rc, self.keep_logs(d)))
            self.notes.append("maskwire-shm-python %s failed"
                              % shape_name(shape))
            return None
        n, span = st["steps"], st["span_s"]
        return {
            "tensors": n, "tensors_per_s": st["steps_per_s"],
            "dense_gbit_s": n * elems(shape) * 4 * 8 / span / 1e9,
            "wire_gbit_s": st["wire_tx_bytes"] * 8 / span / 1e9,
            "wire_bytes_per_tensor": st["wire_tx_bytes"] / n,
            "lat_p50_ms": st["step_ms"]["p50"],
            "lat_p99_ms": st["step_ms"]["p99"],
            "lat_max_ms": st["step_ms"]["max"],
            "warmup": warmup,
        }

    # ---- testpmd ceiling --------------------------------------------------
    def testpmd(self, seconds):
        # On a loaded host the pair may link up too late for a sample in
        # a short run: once more, longer, before the row is given up.
        r = self.testpmd_once(seconds)
        if r is None:
            log("testpmd: trying once more, %d s" % (seconds + 3))
            r = self.testpmd_once(seconds + 3)
        return r

    def testpmd_once(self, seconds):
        d = self.fresh("testpmd")
        sock = os.path.join(d, "memif.sock")
        pr, pt = "mwb%dtr%d" % (os.getpid(), self.seq), \
            "mwb%dtt%d" % (os.getpid(), self.seq)
        self.prefixes += [pr, pt]
        vdev = "--vdev=net_memif0,role=%s,socket=" + sock + \
            ",socket-abstract=no"
        common = ["--stats-period", "1", "--nb-cores=1",
                  "--total-num-mbufs=16384"]
        rx = self.popen([self.a.testpmd] + EAL +
                        ["-l", "0,1", "--main-lcore", "0", "--file-prefix",
                         pr, vdev % "server", "--",
                         "--forward-mode=rxonly"] + common,
                        os.path.join(d, "rx.log"))
        if not self.wait_path(sock, rx):
            self.stop(rx)
            self.wait(rx, 5)
            return None
        time.sleep(0.5)
        tx = self.popen([self.a.testpmd] + EAL +
                        ["-l", "0,1", "--main-lcore", "1", "--file-prefix",
                         pt, vdev % "client", "--", "--forward-mode=txonly",
                         "--txpkts=%d" % FRAME] + common,
                        os.path.join(d, "tx.log"))
        time.sleep(seconds)
        self.stop(tx)
        self.wait(tx, 5)
        time.sleep(0.3)
        self.stop(rx)  # the receiver stops last
        self.wait(rx, 5)
        pps = []
        with open(os.path.join(d, "rx.log"), errors="replace") as f:
            for line in f:
                if "Rx-pps:" in line:
                    try:
                        pps.append(int(line.split()[1]))
                    except (IndexError, ValueError):
                        pass
        # Drop the samples before the link came up and the last partial
        # one.
        while pps and pps[0] == 0:
            pps.pop(0)
        pps = pps[:-1] if len(pps) > 2 else pps
        pps = [p for p in pps if p > 0]
        if not pps:
            log("testpmd: no Rx-pps sample after the link came up, logs "
                "in %s" % self.keep_logs(d))
            return None
        p = statistics.median(pps)
        return {"pps": p, "wire_gbit_s": p * FRAME * 8 / 1e9,
                "samples": len(pps)}

    # ---- repeat and median ----------------------------------------------
    def rep(self, fn, reps, **kw):
        runs = []
        for i in range(reps):
            r = fn(**kw) if "seed" not in fn.__code__.co_varnames else \
                fn(seed=i + 1, **kw)
            if r:
                runs.append(r)
        if not runs:
            return None
        keys = runs[0].keys()
        out = {k: median([r.get(k) for r in runs]) for k in keys
               if k != "incomplete"}
        out["reps"] = len(runs)
        out["incomplete"] = sum(1 for r in runs if r.get("incomplete"))
        return out

    def add(self, section, stack, **kw):
        m = kw.pop("m")
        row = {"section": section, "stack": stack}
        row.update(kw)
        row.update(m or {"failed": True})
        self.rows.append(row)
        return m


# ---- the plan ---------------------------------------------------------------
def warmups(a):
    """Warm-up tensors of the fixed-rate and the step rows."""
    return (2, 2) if a.smoke else (WARMUP_FIXED, WARMUP_STEP)


def warmup_full(a):
    """Warm-up tensors of the full-rate goodput rows."""
    return 2 if a.smoke else WARMUP_FULL


def counts(a, codec, n, base_s=1.0):
    """Tensors for a run of roughly base_s seconds at the expected rate."""
    if a.smoke:
        return 12
    # dense: ~12 Gbit/s once warm (about 4 when the first tensors'
    # warm-up counted, before WARMUP_FULL); MS: encode-bound
    per_s = 1.5e9 / wire_estimate(codec, n) if codec == "dense" else \
        3e9 / (4 * n)
    c = int(per_s * base_s * (0.5 if a.quick else 1.0))
    return max(5, min(c, 1500))


def mtu_section(a, b):
    """5b: MTU 1500 vs 9000. maskwire over net_vhost/net_virtio_user at
    both (DPDK 22.11's net_memif and net_af_packet report 1518-byte
    frames at most, so net_af_packet on the veth runs at 1500 only), and
    again with full DATA headers only (--compact off), TCP on the veth at
    the same MTU."""
    mshape = (16, 64, 8, 8) if a.smoke else (64, 64, 32, 32)
    for mtu in (1500, 9000):
        b.setup_netns(mtu)
        for codec in (["ms"] if a.smoke else ["dense", "ms"]):
            c = counts(a, codec, elems(mshape), 0.7)
            log("mtu %d %s x%d" % (mtu, codec, c))
            if mtu <= 1500:
                b.add("mtu", "maskwire-afpacket",
                      shape=shape_name(mshape), codec=codec, mtu=mtu,
                      m=b.rep(b.maskwire, 1, shape=mshape, codec=codec,
                              count=c, port="afpacket", mtu=mtu,
                              warmup=warmup_full(a)))
            # compact DATA headers (the default) and full ones only
            # (--compact off), run by run interleaved, the order
            # alternating (runs on this kind of VM speed up as they go)
            runs = {True: [], False: []}
            for i in range(1 if a.smoke else a.reps):
                for cp in ((True, False) if i % 2 == 0 else (False, True)):
                    m = b.maskwire(shape=mshape, codec=codec, count=c,
                                   port="virtio", mtu=mtu, seed=i + 1,
                                   compact=cp, warmup=warmup_full(a))
                    if m:
                        runs[cp].append(m)
            for cp, name in ((True, "maskwire-virtio"),
                             (False, "maskwire-virtio-full")):
                ms = runs[cp]
                m = {k: median([x.get(k) for x in ms]) for k in ms[0]
                     if k != "incomplete"} if ms else None
                if m:
                    m["reps"] = len(ms)
                b.add("mtu", name, shape=shape_name(mshape), codec=codec,
                      mtu=mtu, m=m)
            b.add("mtu", "tcp-veth", shape=shape_name(mshape),
                  codec=codec, mtu=mtu,
                  m=b.rep(b.tcp, 1, shape=mshape, codec=codec, count=c,
                          warmup=warmup_full(a)))


def cut_section(a, b):
    """5c: cut-through (docs/DATAPLANE.md) on and off, and TCP, run by run
    interleaved, the order alternating: the request/response step and
    the fixed offered rate of the transfer rows (82 tensors/s for
    64x64x32x32, the rate of the 2026-12-01 full run), where an MS
    tensor's encode starts with the link idle."""
    shape = (16, 64, 8, 8) if a.smoke else (64, 64, 32, 32)
    reps = 1 if a.smoke else a.reps
    steps = 10 if a.smoke else 25
    rate, count = (20.0, 8) if a.smoke else (82.0, 200)
    wu_fixed, wu_step = warmups(a)
    for mode in ("step", "fixed"):
        runs = {"on": [], "off": [], "tcp": []}
        kw = dict(shape=shape, codec="ms")
        kw.update({"count": steps, "respond": True, "warmup": wu_step}
                  if mode == "step" else
                  {"count": count, "rate": rate, "warmup": wu_fixed})
        for i in range(reps):
            log("cut-through %s %s (%d/%d)" % (mode, shape_name(shape),
                                               i + 1, reps))
            for cut in (("on", "off") if i % 2 == 0 else ("off", "on")):
                m = b.maskwire(cut=cut == "on", **kw)
                if m:
                    runs[cut].append(m)
            m = b.tcp(**kw)
            if m:
                runs["tcp"].append(m)
        for key, stack in (("on", "maskwire-memif"),
                           ("off", "maskwire-memif-nocut"),
                           ("tcp", "tcp-veth")):
            ms = runs[key]
            m = {k: median([x.get(k) for x in ms]) for k in ms[0]
                 if k != "incomplete"} if ms else None
            if m:
                m["reps"] = len(ms)
            b.add("cut", stack, shape=shape_name(shape), codec="ms",
                  mode=mode, offered_per_s=rate if mode == "fixed" else None,
                  m=m)


def security_section(a, b):
    """7: secure mode (PROTOCOL.md 12) against plain, same run, run by
    run interleaved: dense tensors (every byte on the wire, the most to
    encrypt) and MS (the codec of the activations), at MTU 1500
    (net_memif) and at 9000 (net_vhost/net_virtio_user, the port type
    here that takes jumbo frames), plain / encrypt / integrity."""
    sshape = (16, 64, 8, 8) if a.smoke else (64, 64, 32, 32)
    reps = 1 if a.smoke else a.reps
    ports = [("memif", 1500)] if a.smoke else \
        [("memif", 1500), ("virtio", 9000)]
    for port, mtu in ports:
        for codec in (["dense"] if a.smoke else ["dense", "ms"]):
            # long enough that the first window's growth is a small
            # part of the span: the AEAD's cost is a steady-state one
            c = counts(a, codec, elems(sshape), 2.0)
            # (mode, library): the default library, and each other one
            # this build has beside it, in the same rounds
            modes = [("plain", None), ("encrypt", None),
                     ("integrity", None)] + \
                [("encrypt", lib) for lib in a.crypto_others.get(mtu, [])]
            runs = {m: [] for m in modes}
            for i in range(reps):
                for sec, lib in modes:
                    log("security %s mtu %d %s %s%s x%d (%d/%d)" % (
                        port, mtu, codec, sec, " " + lib if lib else "",
                        c, i + 1, reps))
                    m = b.maskwire(shape=sshape, codec=codec, count=c,
                                   port=port, mtu=mtu, seed=i + 1, sec=sec,
                                   crypto=lib, warmup=warmup_full(a))
                    if m:
                        runs[(sec, lib)].append(m)
            for (sec, lib), ms in runs.items():
                m = None
                if ms:
                    m = {k: median([x.get(k) for x in ms]) for k in ms[0]
                         if k != "incomplete"}
                    m["reps"] = len(ms)
                b.add("security", "maskwire-" + port,
                      shape=shape_name(sshape), codec=codec, mtu=mtu,
                      sec=sec, crypto=lib or a.crypto_default.get(mtu),
                      m=m)


def run(a):
    b = Bench(a)
    started = time.time()
    results = {"command": " ".join(["bench/run.py"] + sys.argv[1:]),
               "started": datetime.datetime.utcnow().isoformat() + "Z",
               "machine": machine(a), "params": {"ratio": RATIO,
                                                 "bits": BITS,
                                                 "reps": a.reps}}
    try:
        b.setup_netns()
        shapes = [(16, 64, 8, 8)] if a.smoke else SHAPES
        codecs = CODECS
        reps = a.reps
        wu_fixed, wu_step = warmups(a)

        def want(section):
            return not a.only or section in a.only

        # 1+2: transfer at full rate, then at a fixed offered rate
        if want("transfer"):
            full = {}
            for shape in shapes:
                n = elems(shape)
                for codec in codecs:
                    c = counts(a, codec, n, 0.6)
                    log("transfer %s %s x%d" % (shape_name(shape), codec, c))
                    m = b.add("transfer", "maskwire-memif", shape=shape_name(shape),
                              codec=codec, mode="full",
                              m=b.rep(b.maskwire, reps, shape=shape, codec=codec,
                                      count=c, warmup=warmup_full(a)))
                    b.add("transfer", "tcp-veth", shape=shape_name(shape),
                          codec=codec, mode="full",
                          m=b.rep(b.tcp, reps, shape=shape, codec=codec, count=c,
                                  warmup=warmup_full(a)))
                    full[(shape, codec)] = m
                if not a.no_zmq:
                    zc = 3 if a.smoke else (4 if a.quick else 8)
                    b.add("transfer", "pytorch-zmq", shape=shape_name(shape),
                          codec="ms", mode="full",
                          m=b.rep(b.zmq, 1, shape=shape, count=zc))
            for shape in shapes:
                n = elems(shape)
                for codec in codecs:
                    m = full.get((shape, codec))
                    if not m or not m.get("tensors_per_s"):
                        continue
                    rate = round(m["tensors_per_s"] * a.fixed_frac, 2)
                    c = max(8, min(int(rate * (1.5 if a.quick else 3)), 600))
                    if a.smoke:
                        c = 8
                    log("fixed rate %s %s %.1f/s x%d" % (shape_name(shape), codec,
                                                         rate, c))
                    for stack, fn in (("maskwire-memif", b.maskwire),
                                      ("tcp-veth", b.tcp)):
                        b.add("transfer", stack, shape=shape_name(shape),
                              codec=codec, mode="fixed", offered_per_s=rate,
                              m=b.rep(fn, 1, shape=shape, codec=codec, count=c,
                                      rate=rate, warmup=wu_fixed))

        # request/response: activation up (MS), gradient down (signed MS)
        if want("step"):
            for shape in shapes:
                c = 10 if a.smoke else (10 if a.quick else 25)
                log("request/response %s x%d" % (shape_name(shape), c))
                b.add("step", "maskwire-memif", shape=shape_name(shape),
                      codec="ms/ms-signed",
                      m=b.rep(b.maskwire, reps, shape=shape, codec="ms", count=c,
                              respond=True, warmup=wu_step))
                b.add("step", "tcp-veth", shape=shape_name(shape),
                      codec="ms/ms-signed",
                      m=b.rep(b.tcp, reps, shape=shape, codec="ms", count=c,
                              respond=True, warmup=wu_step))
                if not a.no_shm_py:
                    # two Python processes on the shared-memory channel; the
                    # data planes share the cores with them (--idle-yield)
                    b.add("step", "maskwire-shm-python", shape=shape_name(shape),
                          codec="ms/ms-signed",
                          m=b.rep(b.shm_python, 1, shape=shape, count=c,
                                  warmup=wu_step))
                if not a.no_zmq:
                    b.add("step", "pytorch-zmq", shape=shape_name(shape),
                          codec="ms/dense",
                          m=b.rep(b.zmq, 1, shape=shape, count=3 if a.smoke or
                                  a.quick else 6, respond=True))

        # 3: the ceiling of the port type
        if want("ceiling"):
            log("ceiling: testpmd txonly -> rxonly over net_memif")
            b.add("ceiling", "testpmd-memif", frame_bytes=FRAME,
                  m=b.rep(b.testpmd, 1 if a.smoke else reps,
                          # memif's link takes ~2 s to come up: shorter runs
                          # may see no full one-second sample at all.
                          seconds=5 if a.smoke else 6))

        # 4: loss
        if want("loss"):
            lshape = (16, 64, 8, 8) if a.smoke else (64, 64, 32, 32)
            losses = [0.05] if a.smoke else [0.0, 0.01, 0.05, 0.10]
            have_clang = shutil.which("clang") is not None
            for loss in losses:
                c = 12 if a.smoke else (8 if a.quick else 12)
                budget = 20 if a.smoke else (8 if a.quick else 12)
                log("loss %.0f%% x%d" % (loss * 100, c))
                # both controllers (docs/CC.md): reno reads every loss
                # as congestion, rate does not
                for cc in ("reno", "rate"):
                    b.add("loss", "maskwire-memif" +
                          ("" if cc == "reno" else "-rate"),
                          shape=shape_name(lshape), codec="ms", loss=loss,
                          m=b.rep(b.maskwire, 1 if a.smoke else reps,
                                  shape=lshape, codec="ms", count=c,
                                  loss=loss, budget=budget, cc=cc))
                if not have_clang:
                    b.notes.append("no clang: TCP loss runs skipped")
                    continue
                b.set_loss(int(loss * 1e6))
                b.add("loss", "tcp-veth", shape=shape_name(lshape), codec="ms",
                      loss=loss,
                      m=b.rep(b.tcp, 1 if a.smoke else reps, shape=lshape,
                              codec="ms", count=c, budget=budget))
                b.set_loss(0)

        # 5: tensor size, then MTU
        if want("size"):
            sizes = [1 << 16] if a.smoke else \
                [1 << 16, 1 << 18, 1 << 20, 1 << 22, 1 << 24, 1 << 26]
            for size in sizes:
                shape = (size // 4,)
                for codec in ("dense", "ms"):
                    c = counts(a, codec, size // 4, 0.7)
                    log("size %d KiB %s x%d" % (size >> 10, codec, c))
                    for stack, fn in (("maskwire-memif", b.maskwire),
                                      ("tcp-veth", b.tcp)):
                        b.add("size", stack, shape=shape_name(shape),
                              dense_bytes=size, codec=codec,
                              m=b.rep(fn, 1, shape=shape, codec=codec, count=c,
                                      warmup=warmup_full(a)))
        # 6: MTU
        if want("mtu"):
            mtu_section(a, b)
        if want("cut"):
            cut_section(a, b)
        # 7: secure mode against plain
        if want("security"):
            security_section(a, b)
        # 8: many peers
        if want("peers"):
            from peers import lcores_section, peers_section
            peers_section(a, b, log)
            lcores_section(a, b, log)
    finally:
        b.cleanup()
    results["elapsed_s"] = round(time.time() - started, 1)
    results["machine"]["load_end"] = os.getloadavg()
    results["rows"] = b.rows
    results["notes"] = b.notes
    return results


def machine(a):
    m = {"kernel": platform.release(), "cpus": os.cpu_count(),
         "load_start": os.getloadavg()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    m["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            m["mem_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    r = subprocess.run(["pkg-config", "--modversion", "libdpdk"],
                       capture_output=True, text=True)
    m["dpdk"] = r.stdout.strip() or None
    return m


def crypto_libraries(a, build):
    """a.crypto_default[mtu]: the AES-256-GCM library the data plane
    takes by default here at MTU 1500 and 9000; a.crypto_others[mtu]: the
    other fast ones this build has (not OpenSSL's, the slowest), for the
    security rows. From maskwire-bench-crypto's JSON, which lists what
    runs here."""
    a.crypto_default, a.crypto_others = {}, {}
    exe = os.path.join(build or "", "bench", "maskwire-bench-crypto")
    if not build or not os.access(exe, os.X_OK):
        return
    r = subprocess.run([exe, "--quick", "--json-only"], capture_output=True,
                       text=True)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        return
    for mtu, key in ((1500, "default"), (9000, "default_jumbo")):
        a.crypto_default[mtu] = j[key]
        names = []
        for row in j["rows"]:
            n = row["backend"]
            if n not in names and n not in ("none", j[key]) and \
                    not n.startswith("openssl"):
                names.append(n)
        a.crypto_others[mtu] = names


# ---- report -----------------------------------------------------------------
def main():
    from bench_report import markdown, plots

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="fewer tensors and one repetition")
    p.add_argument("--smoke", action="store_true",
                   help="tiny run of every section (for the test suite)")
    p.add_argument("--build", help="meson build directory (default: "
                   "build-bench or build next to this script's repo)")
    p.add_argument("--maskwire")
    p.add_argument("--tcp")
    p.add_argument("--testpmd", default=shutil.which("dpdk-testpmd"))
    p.add_argument("--out", default=os.path.join(REPO, "out", "bench"))
    p.add_argument("--reps", type=int, default=None)
    p.add_argument("--only", type=lambda v: set(v.split(",")), default=None,
                   help="run only these sections (comma-separated: transfer "
                        "(with the fixed-rate rows), step, ceiling, loss, "
                        "size, mtu, cut, security, peers)")
    p.add_argument("--fixed-frac", type=float, default=0.5,
                   help="fixed offered rate as a fraction of maskwire's "
                   "full rate (0.5)")
    p.add_argument("--no-zmq", action="store_true",
                   help="skip the PyTorch+ZeroMQ baseline")
    p.add_argument("--keep-tmp", action="store_true")
    a = p.parse_args()
    if a.reps is None:
        a.reps = 1 if (a.quick or a.smoke) else 3
    if a.smoke:
        a.quick = True
    build = a.build
    if not build:
        for cand in ("build-bench", "build"):
            if os.path.isdir(os.path.join(REPO, cand)):
                build = os.path.join(REPO, cand)
                break
    if build:
        a.maskwire = a.maskwire or os.path.join(build, "apps", "maskwire",
                                                "maskwire")
        a.tcp = a.tcp or os.path.join(build, "bench", "maskwire-bench-tcp")
    crypto_libraries(a, build)

    if os.geteuid() != 0:
        skip("needs root (network namespaces, DPDK vdevs)")
    if not a.maskwire or not os.access(a.maskwire, os.X_OK):
        skip("no maskwire binary (DPDK not found at build time?)")
    if not a.tcp or not os.access(a.tcp, os.X_OK):
        skip("no maskwire-bench-tcp binary")
    if not a.testpmd:
        skip("dpdk-testpmd not installed")
    if not shutil.which("ip"):
        skip("no iproute2")
    probe = "mwbprobe%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", probe],
                      capture_output=True).returncode:
        skip("cannot create network namespaces")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    for mod in ("zmq", "torch"):
        r = subprocess.run([PY, "-c", "import " + mod], capture_output=True)
        if r.returncode:
            a.no_zmq = True
            log("python3 cannot import %s: PyTorch+ZeroMQ baseline skipped"
                % mod)
    if a.smoke:
        a.no_zmq = True
    a.no_shm_py = False
    lib = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(a.maskwire)))), "dataplane", "shm", "libmaskwire.so")
    if not os.path.exists(lib):
        a.no_shm_py = True
        log("no %s: maskwire-shm-python step rows skipped" % lib)
    elif subprocess.run([PY, "-c", "import numpy, torch"],
                        capture_output=True).returncode:
        a.no_shm_py = True
        log("python3 cannot import numpy and torch: maskwire-shm-python "
            "step rows skipped")

    def on_signal(sig, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    shutil.rmtree(os.path.join(a.out, "failed"), ignore_errors=True)
    res = run(a)
    res["params"]["fixed_frac"] = a.fixed_frac
    os.makedirs(a.out, exist_ok=True)
    res["plots"] = plots(res, a.out)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    md = markdown(res)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md + "\n")
    print(md)
    log("wrote %s/results.{json,md} and %d plots in %.0f s" % (
        a.out, len(res["plots"]), res["elapsed_s"]))
    failed = [r for r in res["rows"] if r.get("failed")]
    return 1 if failed and a.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
