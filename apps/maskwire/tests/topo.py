# SPDX-License-Identifier: BSD-3-Clause
"""One server data plane and N device data planes, each in its own
network namespace, on a Linux bridge (an ordinary switch) in a namespace
of its own: af_packet (or af_xdp) on veth pairs. Everything is created
by Topo.build() and removed with the run's namespaces (mwtest.Workdir)."""
import os
import random
import shutil
import signal
import struct
import subprocess
import time

import mwtest

SERVER_IP = "10.9.0.1"
UDP_PORT = 47000


def device_ip(i):
    return "10.9.%d.%d" % (1 + i // 200, 10 + i % 200)


def jain(xs):
    """Jain's fairness index of xs (1: all equal)."""
    s, q = sum(xs), sum(x * x for x in xs)
    return s * s / (len(xs) * q) if q else 0.0


def sh(*c):
    subprocess.run(list(c), check=True)


class Topo:
    def __init__(self, run, n, port="af_packet"):
        self.run, self.n, self.port = run, n, port
        t = "%d" % (os.getpid() % 100000)
        self.br_ns = run.tag + "br"
        self.srv_ns = run.tag + "s"
        self.dev_ns = [run.tag + "d%d" % i for i in range(n)]
        self.extra_ns = []
        # interface names: at most 15 characters
        self.srv_if, self.srv_br = "mws%s" % t, "mwS%s" % t
        self.dev_if = ["mw%dd%s" % (i, t) for i in range(n)]
        self.dev_br = ["mw%dD%s" % (i, t) for i in range(n)]

    def _ns(self, name):
        try:
            self.run.add_netns(name)
        except (subprocess.CalledProcessError, OSError) as e:
            mwtest.skip("cannot create network namespaces: %s" % e)

    def _leg(self, ns, inner, outer):
        """A veth from namespace ns (inner) to the bridge (outer)."""
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "link", "set", outer, "netns", self.br_ns)
        sh("ip", "netns", "exec", ns, "sysctl", "-qw",
           "net.ipv6.conf.%s.disable_ipv6=1" % inner)
        sh("ip", "-n", ns, "link", "set", inner, "up")
        sh("ip", "-n", self.br_ns, "link", "set", outer, "master", "br0")
        sh("ip", "-n", self.br_ns, "link", "set", outer, "up")

    def build(self):
        mwtest.require_root()
        if not shutil.which("ip"):
            mwtest.skip("iproute2 'ip' not found")
        self._ns(self.br_ns)
        sh("ip", "-n", self.br_ns, "link", "add", "br0", "type", "bridge")
        sh("ip", "netns", "exec", self.br_ns, "sysctl", "-qw",
           "net.ipv6.conf.all.disable_ipv6=1")
        sh("ip", "-n", self.br_ns, "link", "set", "br0", "up")
        self._ns(self.srv_ns)
        self._leg(self.srv_ns, self.srv_if, self.srv_br)
        for i in range(self.n):
            self._ns(self.dev_ns[i])
            self._leg(self.dev_ns[i], self.dev_if[i], self.dev_br[i])

    def add_host(self, name):
        """One more namespace on the bridge; returns (ns, interface)."""
        ns = self.run.tag + name
        t = "%d" % (os.getpid() % 100000)
        inner, outer = "mw%s%s" % (name[:2], t), "mw%s%sB" % (name[:1], t)
        self._ns(ns)
        self._leg(ns, inner, outer)
        self.extra_ns.append(ns)
        return ns, inner

    def vdev(self, iface):
        if self.port == "af_xdp":
            return "net_af_xdp0,iface=%s,start_queue=0,queue_count=1" % iface
        return "net_af_packet0,iface=%s,framecnt=8192,qdisc_bypass=1" % iface

    def mac(self, ns, iface):
        out = subprocess.run(["ip", "-n", ns, "-o", "link", "show", iface],
                             check=True, capture_output=True, text=True).stdout
        return out.split("link/ether ")[1].split()[0]

    def start_server(self, args, vdev_extra="", eal=()):
        return self.run.start("server", self.vdev(self.srv_if) + vdev_extra,
                              ["--ip", SERVER_IP, "--idle-yield",
                               "--status-ms", "2000"] + args,
                              netns=self.srv_ns, eal=eal)

    def start_device(self, i, args, side=None, eal=()):
        return self.run.start(side or "dev%d" % i, self.vdev(self.dev_if[i]),
                              ["--ip", device_ip(i), "--peer", SERVER_IP,
                               "--idle-yield", "--status-ms", "300"] + args,
                              netns=self.dev_ns[i], eal=eal)

    def wait_running(self, procs, timeout=90):
        """Wait until every data plane in procs runs its poll loop (its
        first status line is in its log): on a loaded machine EAL takes
        seconds to start, and a server started before its devices would
        measure them from different moments."""
        t0 = time.monotonic()
        for p in procs:
            while True:
                with open(p.logf) as f:
                    if "[maskwire]" in f.read():
                        break
                if p.poll() is not None or time.monotonic() - t0 > timeout:
                    self.run.dump_logs()
                    mwtest.fail("%s did not start its poll loop" % p.side)
                time.sleep(0.1)

    def peers_file(self, extra=0):
        """The server's --peers file: the N devices, then `extra`
        configured peers that never appear (10.9.250.x)."""
        path = self.run.path("peers.txt")
        with open(path, "w") as f:
            f.write("# the devices\n")
            for i in range(self.n):
                f.write("%s:%d\n" % (device_ip(i), UDP_PORT))
            for j in range(extra):
                f.write("10.9.%d.%d   # absent\n" % (250 + j // 200, 10 + j % 200))
        return path


def stop(p, sig=signal.SIGTERM, timeout=20):
    if p.poll() is None:
        p.send_signal(sig)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


# ---- frames for the HELLO flood ----------------------------------------

def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_CRC_T = _crc32c_table()


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _CRC_T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def hello_v1(inc):
    """A plain (version 1) HELLO from incarnation inc, generation 1, to an
    unknown peer (PROTOCOL.md 4.2, 5.1), CRC32C filled."""
    h = struct.pack("!HBBHHIIIII", 0x4D57, 1, 1, 52, 0, inc, 1, 0, 0, 0)
    body = struct.pack("!HHIIIQ", 1472, 0, 8, 1 << 20, 0, 1 << 28)
    pkt = h + body
    crc = crc32c(pkt)
    return pkt[:24] + struct.pack("!I", crc) + pkt[28:]


def udp_frame(dst_mac, src_mac, src_ip, dst_ip, sport, dport, payload):
    ip2b = lambda a: bytes(int(x) for x in a.split("."))
    mac2b = lambda m: bytes(int(x, 16) for x in m.split(":"))
    udp_len = 8 + len(payload)
    pseudo = ip2b(src_ip) + ip2b(dst_ip) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + payload
    ck = _csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", ck) + udp[8:]
    iph = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, 64,
                      17, 0, ip2b(src_ip), ip2b(dst_ip))
    iph = iph[:10] + struct.pack("!H", _csum(iph)) + iph[12:]
    return mac2b(dst_mac) + mac2b(src_mac) + b"\x08\x00" + iph + udp


def flood_payload(r, k):
    """The k-th datagram of a flood: a valid plain HELLO, except the first
    twenty and every tenth: garbage (empty, random bytes, a HELLO with a
    bad CRC32C, a truncated HELLO)."""
    hello = hello_v1(r.randrange(1, 1 << 31))
    if k >= 20 and k % 10:
        return hello
    kind = k % 4
    if kind == 0:
        return b""
    if kind == 1:
        return bytes(r.randrange(256) for _ in range(r.randrange(1, 120)))
    if kind == 2:
        return hello[:30] + bytes([hello[30] ^ 0x40]) + hello[31:]
    return hello[:40]


def flood_file(path, n, dst_mac, dst_ip, seed):
    """n datagrams (flood_payload()) from n distinct spoofed sources
    (10.200.x.y, random ports and MACs), one record each: 2-byte length
    + frame."""
    r = random.Random(seed)
    with open(path, "wb") as f:
        for k in range(n):
            src_ip = "10.200.%d.%d" % (k // 250, 1 + k % 250)
            mac = "02:%02x:%02x:%02x:%02x:%02x" % tuple(r.randrange(256) for _ in range(5))
            fr = udp_frame(dst_mac, mac, src_ip, dst_ip, r.randrange(1024, 65535),
                           UDP_PORT, flood_payload(r, k))
            f.write(struct.pack("!H", len(fr)) + fr)


SENDER = r"""
import socket, struct, sys, time
path, iface = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((iface, 0))
data = open(path, "rb").read()
off = n = 0
while off < len(data):
    (l,) = struct.unpack("!H", data[off:off + 2])
    s.send(data[off + 2:off + 2 + l])
    off += 2 + l
    n += 1
    if n % 200 == 0:
        time.sleep(0.005)
print("sent", n)
"""


def send_flood(ns, iface, path):
    """Send the frames of flood_file() from namespace ns; returns the
    count sent."""
    out = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c",
                          SENDER, path, iface], check=True,
                         capture_output=True, text=True).stdout
    return int(out.split()[-1])
