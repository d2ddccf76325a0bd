#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""Compact DATA between real data planes (docs/PROTOCOL.md 5.6), in secure
mode (the default) over net_memif, 100 tensors each way ([16,64,8,8], about
34 segments a tensor):

- with one side at --compact off (an endpoint without the capability):
  neither side sends compact DATA, everything arrives bit-exact;
- with both at the default: both send it, everything arrives bit-exact,
  and each side needs fewer DATA packets per tensor than with full
  headers only (the same tensors, the same plan but for the header)."""
import mwtest

N = 100


def run_pair(run, sock, b_extra):
    a, b = mwtest.memif_pair(run, N, [], b_extra, sock=sock)
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    return sa["transport"], sb["transport"]


def body(run):
    mwtest.require_root()
    ta, tb = run_pair(run, "full.sock", ["--compact", "off"])
    print("one side off: A sent %d DATA (%d compact), B %d (%d compact)"
          % (ta["data_tx_new"], ta["data_tx_compact"], tb["data_tx_new"],
             tb["data_tx_compact"]))
    mwtest.check(ta["compact"] is True and tb["compact"] is False,
                 "A announces compact DATA, B does not")
    mwtest.check(ta["data_tx_compact"] == 0 and tb["data_tx_compact"] == 0 and
                 ta["data_rx_compact"] == 0 and tb["data_rx_compact"] == 0,
                 "no compact DATA either way when one side is off")
    ca, cb = run_pair(run, "compact.sock", [])
    print("both on: A sent %d DATA (%d compact), B %d (%d compact)"
          % (ca["data_tx_new"], ca["data_tx_compact"], cb["data_tx_new"],
             cb["data_tx_compact"]))
    mwtest.check(ca["data_tx_compact"] > 0 and cb["data_tx_compact"] > 0 and
                 ca["data_rx_compact"] > 0 and cb["data_rx_compact"] > 0,
                 "compact DATA both ways when both announce it")
    for side, c, f in (("A", ca, ta), ("B", cb, tb)):
        mwtest.check(c["data_tx_new"] < f["data_tx_new"],
                     "%s: fewer DATA packets for the same tensors (%d < %d)"
                     % (side, c["data_tx_new"], f["data_tx_new"]))
        mwtest.check(c["security"] == "encrypt", "%s: secure mode" % side)
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
