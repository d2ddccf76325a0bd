#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Property tests for the transport core, run through maskwire-sim.

usage: check_sim.py SIM_BINARY CASE
Each case runs the simulator over several seeds and checks properties of
its JSON output; on failure it prints the command line (with its seed).
"""
import sys

import simrun
from simrun import check

SIM = sys.argv[1]
SMALL = ["--shape", "8,16,8,8", "--tensors", "6"]
MEDIUM = ["--shape", "32,32,16,16", "--tensors", "12"]


def run(args):
    return simrun.run(SIM, args)


def all_delivered(cmd, rc, o, steps, extra=0):
    check(o is not None and rc == 0, cmd, "exit status / JSON", o)
    if o is None:
        return
    check(o["ok"] and not o["stalled"], cmd, "ok, not stalled", o)
    check(o["tensors_failed"] == 0, cmd, "no failures", o)
    check(o["tensors_delivered"] == 3 * steps + extra, cmd,
          "every tensor delivered", o)
    check(o["tensors_verified"] == o["tensors_delivered"], cmd,
          "every delivered tensor bit-exact", o)
    check(o["order_errors"] == 0, cmd, "in order", o)
    check(o["corrupt_dropped"] == o["corrupted_by_link"], cmd,
          "every corrupted packet dropped and counted", o)


def case_exact():
    for loss in (0, 0.01, 0.05, 0.1, 0.2, 0.3):
        for seed in range(1, 7):
            a = SMALL + ["--loss", loss, "--reorder", 0.1, "--dup", 0.02,
                         "--corrupt", 0.01, "--seed", seed]
            cmd, rc, o, _ = run(a)
            all_delivered(cmd, rc, o, 6)


def case_efficiency():
    retr = lost = 0
    for seed in range(1, 7):
        cmd, rc, o, _ = run(MEDIUM + ["--loss", 0.05, "--seed", seed])
        all_delivered(cmd, rc, o, 12)
        if o is None:
            continue
        lost_s = o["data_lost_by_link"] + o["data_corrupted_by_link"]
        check(lost_s > 50, cmd, "enough losses to measure", o)
        check(o["retransmitted"] <= 1.1 * lost_s, cmd,
              "retransmitted <= 1.1 x segments lost", o)
        retr += o["retransmitted"]
        lost += lost_s
    print("5%% loss: retransmitted %d, lost %d, ratio %.3f" %
          (retr, lost, retr / max(lost, 1)))


def case_reorder_efficiency():
    # Reordering must not be mistaken for loss for long: the loss detector
    # learns the reordering window from the losses that turn out spurious.
    retr = lost = 0
    for seed in range(1, 7):
        cmd, rc, o, _ = run(MEDIUM + ["--loss", 0.05, "--reorder", 0.2,
                                      "--dup", 0.02, "--corrupt", 0.01,
                                      "--seed", seed])
        all_delivered(cmd, rc, o, 12)
        if o is None:
            continue
        lost_s = o["data_lost_by_link"] + o["data_corrupted_by_link"]
        check(lost_s > 50, cmd, "enough losses to measure", o)
        check(o["reordered"] > 200, cmd, "enough reordering", o)
        check(o["retransmitted"] <= 1.25 * lost_s, cmd,
              "retransmitted <= 1.25 x segments lost under reordering", o)
        retr += o["retransmitted"]
        lost += lost_s
    check(retr <= 1.15 * lost, [SIM, "(all seeds)"],
          "retransmitted <= 1.15 x lost over all seeds")
    print("5%% loss, 20%% reorder: retransmitted %d, lost %d, ratio %.3f" %
          (retr, lost, retr / max(lost, 1)))


def case_simultaneous_open():
    # Both sides submit at t = 0 and close together at the end: one
    # session, opened by one HELLO and one HELLO_ACK per side, closed by
    # crossing CLOSEs; no reset, nothing dropped.
    for seed in range(1, 4):
        cmd, rc, o, _ = run(SMALL + ["--both-open", "--seed", seed])
        all_delivered(cmd, rc, o, 6, extra=1)
        if o is None:
            continue
        check(o["session_resets"] == 0, cmd, "no session reset", o)
        check(o["drops"] == {}, cmd, "no drops", o)
        check(o["hello_tx"] == 4, cmd, "one HELLO + one HELLO_ACK a side", o)
        check(o["close_tx"] == 2 and o["close_rx"] == 2 and
              o["sessions_closed"] == 2, cmd, "simultaneous close", o)
    # Over a lossy, reordering link the open still converges without reset.
    for seed in range(1, 7):
        cmd, rc, o, _ = run(SMALL + ["--both-open", "--seed", seed,
                                     "--loss", 0.05, "--reorder", 0.2])
        all_delivered(cmd, rc, o, 6, extra=1)
        if o is not None:
            check(o["session_resets"] == 0, cmd, "no session reset", o)


def case_heavy_loss():
    for seed in range(1, 5):
        cmd, rc, o, _ = run(MEDIUM + ["--loss", 0.3, "--seed", seed,
                                      "--reorder", 0.05])
        all_delivered(cmd, rc, o, 12)


def case_bursty():
    for seed in range(1, 5):
        cmd, rc, o, _ = run(MEDIUM + ["--loss", 0.05, "--burst", 8,
                                      "--seed", seed])
        all_delivered(cmd, rc, o, 12)


def case_link_cut():
    for seed in range(1, 4):
        cmd, rc, o, _ = run(SMALL + ["--link-down-at", 0.1,
                                     "--link-down-for", 600000,
                                     "--seed", seed])
        check(o is not None and not o["stalled"], cmd, "no hang", o)
        if o is None:
            continue
        check(o["tensors_failed"] > 0, cmd, "failures reported", o)
        check(o["fail_reasons"].get("timed out", 0) > 0, cmd,
              "reason: timed out", o)
        check(o["verify_errors"] == 0 and o["order_errors"] == 0, cmd,
              "whatever was delivered is exact", o)
    # A cut shorter than the retry budget loses nothing.
    cmd, rc, o, _ = run(SMALL + ["--link-down-at", 0.1, "--link-down-for", 100])
    all_delivered(cmd, rc, o, 6)


def case_restart():
    # Plain: the new incarnation is newer. Secure: it is random, and the
    # restart is taken once the new endpoint proves it live (PROTOCOL.md
    # 12.3); the run is still a function of the seed.
    for sec in ([], ["--sec", "encrypt"]):
        for seed in range(1, 5):
            a = MEDIUM + ["--restart-at", 3, "--seed", seed, "--loss",
                          0.02] + sec
            cmd, rc, o, _ = run(a)
            check(o is not None and rc == 0 and o["ok"], cmd,
                  "exact and in order across a restart", o)
            if o is None:
                continue
            check(o["peer_restarts"] >= 1, cmd, "restart detected", o)
            check(o["tensors_delivered"] > 0, cmd, "traffic resumed", o)
            if sec and seed == 1:
                _, _, o2, _ = run(a)
                check(o2 == o, cmd, "same seed, same run", o2)


def case_codecs():
    for codec in ("ms", "dense", "topk", "quant", "ms-signed"):
        for mtu in (1500, 9000, 576):
            cmd, rc, o, _ = run(SMALL + ["--codec", codec, "--grad-codec",
                                         codec, "--mtu", mtu, "--loss", 0.05,
                                         "--bits", 3, "--ratio", 0.9])
            all_delivered(cmd, rc, o, 6)


def case_stall():
    # Endpoints descheduled for 5 ms now and then (a loaded host): the
    # timer fires although nothing is lost. Each such timeout must be
    # found spurious and its window reduction undone, so the transfer
    # finishes sooner (virtual time) than without the undo.
    dense = ["--shape", "32,32,16,16", "--tensors", 40, "--codec", "dense",
             "--grad-codec", "dense", "--queue-kb", 16384,
             "--stall-prob", 0.1, "--stall-ms", 5]
    t_undo = t_plain = 0.0
    rto = spurious = 0
    for seed in range(1, 5):
        cmd, rc, o, _ = run(dense + ["--seed", seed])
        all_delivered(cmd, rc, o, 40)
        cmd2, rc2, o2, _ = run(dense + ["--seed", seed, "--no-undo"])
        all_delivered(cmd2, rc2, o2, 40)
        if o is None or o2 is None:
            continue
        check(o["stalls"] > 0 and o["data_lost_by_link"] == 0, cmd,
              "stalls happen, the link loses nothing", o)
        check(o["retransmitted"] == o["timeout_retransmits"] ==
              o["duplicates"], cmd, "every resend a timeout's probe", o)
        check(o2["spurious_rtos"] == 0, cmd2, "no undo when disabled", o2)
        rto += o["rto_events"]
        spurious += o["spurious_rtos"]
        t_undo += o["virtual_time_s"]
        t_plain += o2["virtual_time_s"]
    check(rto > 0 and spurious >= 0.75 * rto, [SIM, "(all seeds)"],
          "stalls cause timeouts, found spurious (%d of %d)" % (spurious, rto))
    check(t_undo < 0.9 * t_plain, [SIM, "(all seeds)"],
          "undo: at least 10%% faster (%.4f s vs %.4f s)" % (t_undo, t_plain))
    print("stalls: %d timeouts, %d spurious; %.4f s with undo, %.4f s "
          "without" % (rto, spurious, t_undo, t_plain))
    # Random loss with stalls: recovery stays efficient.
    retr = lost = 0
    for seed in range(1, 7):
        cmd, rc, o, _ = run(MEDIUM + ["--loss", 0.05, "--seed", seed,
                                      "--stall-prob", 0.1, "--stall-ms", 3])
        all_delivered(cmd, rc, o, 12)
        if o is None:
            continue
        lost_s = o["data_lost_by_link"] + o["data_corrupted_by_link"]
        check(o["retransmitted"] <= 1.1 * lost_s, cmd,
              "retransmitted <= 1.1 x segments lost under stalls", o)
        retr += o["retransmitted"]
        lost += lost_s
    print("5%% loss with stalls: retransmitted %d, lost %d, ratio %.3f" %
          (retr, lost, retr / max(lost, 1)))


def case_deterministic():
    a = SMALL + ["--loss", 0.1, "--reorder", 0.2, "--dup", 0.05,
                 "--corrupt", 0.02, "--seed", 42]
    c1, _, _, out1 = run(a)
    _, _, _, out2 = run(a)
    check(out1 == out2 and out1, c1, "same seed, same output")
    _, _, _, out3 = run(a[:-1] + [43])
    check(out1 != out3, c1, "another seed, another run")
    # Stalls are drawn from the seed too.
    a = a + ["--stall-prob", 0.1, "--stall-ms", 2]
    c1, _, _, out1 = run(a)
    _, _, _, out2 = run(a)
    check(out1 == out2 and out1, c1, "stalls: same seed, same output")


def case_deadline():
    # Deadline delivery (PROTOCOL.md 9.1) on a 1 ms one-way link, so that
    # a retransmission often misses a 3 ms deadline: every tensor comes,
    # complete or partial, by its deadline (virtual time) unless an
    # earlier one had nothing arrived yet; its loss map is exactly the
    # elements the simulator saw no accepted segment for, those are zero
    # and the rest bit-exact; the sender hears "partial" for exactly
    # those tensors.
    partial = 0
    # 16 seeds: at 20% loss some of them (8, 9) are where a tensor decided
    # partial while waiting for its predecessor used to be reported to
    # its sender as complete
    for loss in (0.05, 0.1, 0.2):
        for seed in range(1, 17):
            # integrity mode: the checker reads the segments off the wire
            a = SMALL[:2] + ["--tensors", 20, "--loss", loss, "--delay-us",
                             1000, "--deadline-ms", 3, "--seed", seed,
                             "--sec", "integrity"]
            cmd, rc, o, _ = run(a)
            all_delivered(cmd, rc, o, 20)
            if o is None:
                continue
            d = o["deadline"]
            check(d["lossmap_errors"] == 0, cmd, "loss map exact", o)
            check(d["deadline_misses"] == 0, cmd, "by the deadline", o)
            check(d["partial_mismatch"] == 0, cmd,
                  "sender told partial for exactly those tensors", o)
            check(d["partial_rx"] == d["partial_checked"] == d["partial_tx"],
                  cmd, "partial counted on both sides", o)
            check((d["partial_rx"] == 0) == (d["elems_lost"] == 0), cmd,
                  "elements lost counted", o)
            partial += d["partial_rx"]
    check(partial > 0, ["deadline"], "some tensors delivered partial")
    print("partial deliveries over 48 runs: %d" % partial)


def case_deadline_noloss():
    # Without loss a deadline changes nothing: every tensor whole and
    # bit-exact, the same packets and the same virtual time as without.
    for seed in range(1, 5):
        base = SMALL[:2] + ["--tensors", 20, "--delay-us", 1000,
                            "--reorder", 0.1, "--seed", seed,
                            "--sec", "integrity"]
        cmd, rc, o, _ = run(base + ["--deadline-ms", 3])
        _, _, r, _ = run(base)
        all_delivered(cmd, rc, o, 20)
        if o is None or r is None:
            continue
        check(o["deadline"]["partial_rx"] == 0 and
              o["deadline"]["partial_tx"] == 0, cmd, "nothing partial", o)
        for k in ("packets_sent", "wire_bytes", "virtual_time_s",
                  "dense_bytes_delivered", "tensors_verified"):
            check(o[k] == r[k], cmd, "same %s as without deadline" % k, o)


def case_tail_copy():
    # Tail copies (PROTOCOL.md 8.3) on a 10 ms one-way path at 10% random
    # loss, one step at a time (activation up, gradient down): a lost
    # last packet (or its ACK) then costs a frame instead of a timeout.
    # Over the seeds, "on-loss" (the default) has at most 4/5 of the
    # timeouts of "off" and finishes sooner (seeds 1-12: 186 against 247,
    # 21.2 against 23.3 virtual seconds; seeds 1-20: 0.75x the timeouts;
    # six seeds were too few: 0.68x with full DATA headers, 0.85x with
    # compact ones); everything still arrives bit-exact; a lossless path
    # gets no copies, and "always" copies there too.
    base = MEDIUM[:2] + ["--tensors", 20, "--pipeline", 1, "--delay-us",
                         10000, "--cc", "rate"]
    tot = {"off": [0, 0.0, 0], "on-loss": [0, 0.0, 0]}
    for seed in range(1, 13):
        for pol in tot:
            cmd, rc, o, _ = run(base + ["--loss", 0.1, "--seed", seed,
                                        "--tail-copy", pol])
            all_delivered(cmd, rc, o, 20)
            if o is None:
                continue
            tot[pol][0] += o["rto_events"]
            tot[pol][1] += o["virtual_time_s"]
            tot[pol][2] += o["tail_copies"]
            if pol == "off":
                check(o["tail_copies"] == 0, cmd, "no copies when off", o)
    for pol, (rto, t, n) in tot.items():
        print("10%% loss, tail copies %s: %d timeouts, %d copies, %.3f s"
              % (pol, rto, n, t))
    check(tot["on-loss"][2] > 0, ["tail-copy"], "copies sent under loss")
    check(tot["on-loss"][0] * 5 <= tot["off"][0] * 4, ["tail-copy"],
          "at most 4/5 of the timeouts with copies")
    check(tot["on-loss"][1] < tot["off"][1], ["tail-copy"],
          "sooner with copies")
    for pol, want in (("on-loss", False), ("always", True)):
        cmd, rc, o, _ = run(base + ["--seed", 1, "--tail-copy", pol])
        all_delivered(cmd, rc, o, 20)
        if o is not None:
            check((o["tail_copies"] > 0) == want, cmd,
                  "lossless: copies only when always", o)


globals()["case_" + sys.argv[2].replace("-", "_")]()
print("%s: %s" % (sys.argv[2], "FAILED" if simrun.failures else "ok"))
sys.exit(1 if simrun.failures else 0)
