#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The TX delay line (--delay-ms, --delay-frames): a long path emulated by
the data planes themselves, over net_memif.

1. Both sides hold every frame they send D = 4 ms: every tensor arrives
   bit-exact, every frame went through the line (delayed == released, no
   overflow), and the smoothed RTT each side measured is at least 2D (a
   frame can never come back sooner; an upper bound would be a timing
   assertion on a shared machine and is not made).
2. A line of 8 frames, too short for the window: frames beyond it are
   dropped and counted (overflow), as a full queue drops them, and
   retransmission still delivers every tensor bit-exact."""

import mwtest

N = 60
D_MS = 4


def check_line(side, s, overflow):
    d = s["fault"]["delay"]
    mwtest.check(d["ms"] == D_MS and d["delayed"] > 0 and
                 d["delayed"] == d["released"],
                 "%s: every frame it sent went through the %g ms line "
                 "(%d delayed, %d released, at most %d on the way)"
                 % (side, d["ms"], d["delayed"], d["released"],
                    d["max_held"]))
    if overflow:
        mwtest.check(d["overflow"] > 0 and d["max_held"] <= d["frames"],
                     "%s: a full line dropped %d frames (line of %d)"
                     % (side, d["overflow"], d["frames"]))
    else:
        mwtest.check(d["overflow"] == 0, "%s: nothing overflowed" % side)


def body(run):
    mwtest.require_root()
    opts = ["--delay-ms", str(D_MS)]
    a, b = mwtest.memif_pair(run, N, opts, opts, sock="m1.sock")
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    for side, s in (("A", sa), ("B", sb)):
        check_line(side, s, False)
        srtt = s["transport"]["peers"][0]["srtt_us"]
        mwtest.check(srtt >= 2 * D_MS * 1000,
                     "%s: smoothed RTT %.0f us >= 2 x %d ms"
                     % (side, srtt, D_MS))

    short = opts + ["--delay-frames", "8"]
    a, b = mwtest.memif_pair(run, N, short, short, sock="m2.sock")
    sa, sb = mwtest.verify_pair(run, a, b, N, lossy=False)
    for side, s in (("A", sa), ("B", sb)):
        check_line(side, s, True)
        mwtest.check(s["transport"]["retrans"] > 0,
                     "%s: the drops were repaired (%d retransmitted)"
                     % (side, s["transport"]["retrans"]))
    mwtest.check(not run.leftover_runtime_dirs(), "no EAL runtime files left")


mwtest.main(body)
