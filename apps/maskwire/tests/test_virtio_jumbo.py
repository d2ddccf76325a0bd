#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Jumbo frames: two maskwire processes over net_vhost (A) and
net_virtio_user with mergeable RX buffers (B), 100 tensors each way
(MS activations one way, signed-MS gradients the other), every one
verified bit-exactly, no frame dropped:

  1. MTU 1500 over the same ports (virtio itself works);
  2. MTU 9000, RX mbufs that hold a whole frame: the data frames are
     jumbo, and no received frame is chained (nothing linearised);
  3. MTU 9000 with B's RX mbufs at 2048 bytes (--rx-seg): the port
     scatters, and every frame longer than an mbuf arrives chained and
     is linearised before parsing;
  4. --rx-seg on net_vhost, which offers no RX scatter: a configuration
     error (exit 2) with a message, at start.

B's --capture records every frame as sent and as received, so frame
sizes are checked there."""
import glob
import struct

import mwtest

N = 100
SHAPE = "16,64,16,16"  # 262144 elements: 20 data frames at MTU 9000

# virtio-user shares the process's memory with the vhost side through
# one file per memory type (DPDK's requirement for --no-huge).
mwtest.EAL_COMMON = mwtest.EAL_COMMON + ["--single-file-segments"]


def pcap_frames(path):
    """(source MAC, length) of every record of a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack("<I", data[:4])
    mwtest.check(magic == 0xa1b2c3d4, "%s is a pcap file" % path)
    off, out = 24, []
    while off + 16 <= len(data):
        incl, orig = struct.unpack("<II", data[off + 8:off + 16])
        frame = data[off + 16:off + 16 + incl]
        out.append((frame[6:12].hex(":"), orig))
        off += 16 + incl
    return out


def pair(run, tag, mtu, b_extra=()):
    """Run A (vhost) and B (virtio-user) at this MTU; return both stats
    and B's capture."""
    sock = run.path("vhost-%s.sock" % tag)
    cap = run.path("b-%s.pcap" % tag)
    common = ["--mtu", str(mtu), "--sink", str(N), "--gen", str(N),
              "--shape", SHAPE, "--idle-yield", "--status-ms", "0"]
    a = run.start("A" + tag, "net_vhost0,iface=%s,queues=1" % sock,
                  ["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--kind",
                   "activation", "--linger-ms", "2500"] + common)
    run.wait_path(sock)
    b = run.start("B" + tag, "net_virtio_user0,path=%s,mrg_rxbuf=1" % sock,
                  ["--ip", "10.0.0.2", "--peer", "10.0.0.1", "--kind",
                   "gradient", "--capture", cap] + common + list(b_extra))
    # B first: a B that cannot start leaves A waiting for its peer.
    if run.wait(b, 240) != 0:
        run.dump_logs()
        mwtest.fail("maskwire B%s exited with %d" % (tag, b.returncode))
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    for side, s, drv in (("A", sa, "net_vhost"), ("B", sb, "net_virtio_user")):
        p, net, t = s["port"], s["net"], s["transport"]
        mwtest.check(p["driver"] == drv and p["mtu"] == mtu and
                     net["max_datagram"] == mtu - 28,
                     "%s/%s: %s at MTU %d" % (tag, side, drv, mtu))
        mwtest.check(net["drops_total"] == 0 and net["rx_unknown_peer"] == 0
                     and net["rx_oversize"] == 0 and
                     net["tx_queue_full_drop"] == 0 and
                     net["tx_nombuf"] == 0,
                     "%s/%s: no frame dropped" % (tag, side))
        mwtest.check(p["imissed"] == 0 and p["ierrors"] == 0 and
                     p["rx_nombuf"] == 0,
                     "%s/%s: the port missed nothing" % (tag, side))
        mwtest.check(t["drop"]["bad_checksum"] == 0 and
                     t["drop"]["malformed"] == 0 and
                     t["drop"]["truncated"] == 0,
                     "%s/%s: no corrupt datagram reached the transport"
                     % (tag, side))
        per = net["tx_bytes"] / t["data_tx"]
        print("%s/%s: %d data frames, %.0f bytes sent per data frame, "
              "%d linearised, retransmitted %d" % (
                  tag, side, t["data_tx"], per, net["rx_linearized"],
                  t["retrans"]))
        if mtu > 8000:
            mwtest.check(per > 8000, "%s/%s: %.0f bytes per data frame: "
                         "jumbo" % (tag, side, per))
        else:
            mwtest.check(per <= mtu + 14 + 100,
                         "%s/%s: %.0f bytes per data frame" % (tag, side,
                                                               per))
    frames = pcap_frames(cap)
    mwtest.check(len(frames) == sb["net"]["rx_frames"] +
                 sb["net"]["tx_frames"],
                 "%s: the capture holds all %d frames" % (tag, len(frames)))
    longest = max(n for _, n in frames)
    mwtest.check(longest <= 14 + mtu,
                 "%s: longest frame %d bytes, within MTU %d + 14" % (
                     tag, longest, mtu))
    return sa, sb, frames


def body(run):
    mwtest.require_root()
    pmds = [glob.glob("/usr/lib/*/dpdk/pmds-*/librte_net_%s.so*" % d)
            for d in ("vhost", "virtio")]
    if not all(pmds):
        mwtest.skip("DPDK's net_vhost or net_virtio PMD is not installed "
                    "(librte_net_vhost / librte_net_virtio)")

    # 1: MTU 1500, the same ports
    sa, sb, frames = pair(run, "1500", 1500)
    for side, s in (("A", sa), ("B", sb)):
        mwtest.check(s["net"]["rx_linearized"] == 0,
                     "1500/%s: no chained frame" % side)

    # 2: MTU 9000, whole frames in one mbuf
    sa, sb, frames = pair(run, "9000", 9000)
    big = sum(1 for _, n in frames if n > 1514)
    mwtest.check(big >= sa["transport"]["data_tx"] // 2 and
                 any(n == 9014 for _, n in frames),
                 "9000: %d frames longer than 1514 bytes, full ones 9014"
                 % big)
    for side, s in (("A", sa), ("B", sb)):
        p = s["port"]
        mwtest.check(s["net"]["rx_linearized"] == 0 and
                     not p["uses"]["rx_scatter"] and
                     p["rx_buf_len"] >= 9000,
                     "9000/%s: %d-byte RX mbufs, no frame chained or "
                     "copied" % (side, p["rx_buf_len"]))

    # 3: MTU 9000, B receives into 2048-byte mbufs: chained frames
    sa, sb, frames = pair(run, "seg", 9000, ["--rx-seg", "2048"])
    pb = sb["port"]
    mwtest.check(pb["offers"]["rx_scatter"] and pb["uses"]["rx_scatter"] and
                 pb["rx_buf_len"] == 2048,
                 "seg/B: RX scatter offered and used, 2048-byte mbufs")
    amac = sa["port"]["mac"]
    chained = sum(1 for mac, n in frames if mac == amac and n > 2048)
    mwtest.check(chained > 0 and sb["net"]["rx_linearized"] == chained,
                 "seg/B: all %d received frames longer than 2048 bytes were "
                 "linearised (%d)" % (chained, sb["net"]["rx_linearized"]))

    # 4: net_vhost cannot scatter: --rx-seg below a frame is refused
    sock = run.path("vhost-bad.sock")
    a = run.start("Abad", "net_vhost0,iface=%s,queues=1" % sock,
                  ["--ip", "10.0.0.1", "--peer", "10.0.0.2", "--mtu", "9000",
                   "--rx-seg", "2048", "--gen", "1"])
    rc = run.wait(a, 60)
    with open(a.logf) as f:
        log = f.read()
    mwtest.check(rc == 2 and "does not offer RX scatter" in log,
                 "net_vhost with --rx-seg 2048 at MTU 9000: exit %d, %s" % (
                     rc, mwtest.log_tail(a.logf, 1).strip()))
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
