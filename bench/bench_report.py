# SPDX-License-Identifier: BSD-3-Clause
"""bench/run.py's report: the markdown tables (results.md) and the plots
(*.png) from a run's results dictionary. Imported by run.py; also usable
alone on a results.json:

    /usr/bin/python3 bench/bench_report.py OUT/results.json   # markdown
"""
import json
import os
import sys

# the parameters run.py measures with (kept in one place: run.py's)
from run import BITS, FRAME, RATIO, log


def fmt(x, nd=2):
    if x is None:
        return "-"
    if isinstance(x, float):
        if abs(x) >= 100:
            return "%.0f" % x
        if abs(x) >= 10:
            return "%.1f" % x
        return ("%%.%df" % nd) % x
    return str(x)


def ratio(a, b):
    if a is None or b is None or not b:
        return "-"
    return "%.2fx" % (a / b)


def find(rows, **kw):
    for r in rows:
        if all(r.get(k) == v for k, v in kw.items()) and not r.get("failed"):
            return r
    return None


def markdown(res):
    rows = res["rows"]
    m = res["machine"]
    out = ["# maskwire benchmark", "",
           "Command: `%s`; %s; %s CPUs (%s), %s GiB, Linux %s, DPDK %s; "
           "load average %s at start, %s at end; %s s." % (
               res["command"], res["started"], m.get("cpus"), m.get("cpu"),
               m.get("mem_gib"), m.get("kernel"), m.get("dpdk"),
               "/".join("%.1f" % x for x in m["load_start"]),
               "/".join("%.1f" % x for x in m.get("load_end", [0, 0, 0])),
               res.get("elapsed_s")),
           "", "MS: r = %g, b = %d. Medians of %d runs where repeated. "
           "Latency: one-way per tensor (send stamp before encode to "
           "decoded at the receiver), ms." % (
               RATIO, BITS, res["params"]["reps"]), ""]

    def transfer(mode, title):
        out.extend(["## " + title, "",
                    "| shape | codec | stack | tensors/s | dense-eq Gbit/s | "
                    "wire Gbit/s | p50 ms | p99 ms | max ms | maskwire / TCP "
                    "goodput |", "|---|---|---|---|---|---|---|---|---|---|"])
        for r in rows:
            if r["section"] != "transfer" or r.get("mode") != mode:
                continue
            t = find(rows, section="transfer", mode=mode, shape=r["shape"],
                     codec=r["codec"], stack="tcp-veth")
            rat = ratio(r.get("dense_gbit_s"), t and t.get("dense_gbit_s")) \
                if r["stack"] == "maskwire-memif" else ""
            if r["stack"] == "pytorch-zmq":
                mw = find(rows, section="transfer", mode=mode,
                          shape=r["shape"], codec="ms",
                          stack="maskwire-memif")
                rat = "maskwire %s" % ratio(mw and mw.get("dense_gbit_s"),
                                            r.get("dense_gbit_s"))
            if r.get("failed"):
                out.append("| %s | %s | %s | failed | | | | | | |" % (
                    r["shape"], r["codec"], r["stack"]))
                continue
            out.append("| %s | %s | %s%s | %s | %s | %s | %s | %s | %s | %s |"
                       % (r["shape"], r["codec"], r["stack"],
                          " @%s/s" % fmt(r["offered_per_s"])
                          if mode == "fixed" else "",
                          fmt(r.get("tensors_per_s")),
                          fmt(r.get("dense_gbit_s")),
                          fmt(r.get("wire_gbit_s")), fmt(r.get("lat_p50_ms")),
                          fmt(r.get("lat_p99_ms")), fmt(r.get("lat_max_ms")),
                          rat))
        out.append("")

    def warm_note(rs):
        """Which tensors the latency figures of rs leave out, and how
        long the first one took (bench/run.py WARMUP_*)."""
        rs = [r for r in rs if not r.get("failed") and r.get("warmup")]
        if not rs:
            return
        out.extend(["Latency figures (and, at full rate, goodput) leave "
                    "out each run's first tensors (the warm-up: sent and "
                    "delivered like the others). Per row, how many, and the "
                    "first tensor's latency: %s." % (
                        "; ".join("%s %s %s%s: %s, %s ms" % (
                            r["stack"], r["shape"], r.get("codec", ""),
                            " " + r["mode"] if r.get("mode") else "",
                            fmt(r["warmup"]), fmt(r.get("lat_first_ms")))
                            for r in rs)), ""])

    transfer("full", "1. Tensor transfer at full rate")
    warm_note([r for r in rows if r["section"] == "transfer" and
               r.get("mode") == "full"])
    transfer("fixed", "1b. Tensor transfer at a fixed offered rate "
             "(%d%% of maskwire's full rate)" % int(res["params"].get(
                 "fixed_frac", 0.5) * 100))
    warm_note([r for r in rows if r["section"] == "transfer" and
               r.get("mode") == "fixed"])

    out.extend(["## 1c. Request/response step time (activation up MS, "
                "gradient down signed MS; PyTorch+ZeroMQ: gradient dense as "
                "in the released code)", "",
                "| shape | stack | steps/s | p50 ms | p99 ms | max ms | "
                "maskwire p50 / this p50 |", "|---|---|---|---|---|---|---|"])
    for r in rows:
        if r["section"] != "step":
            continue
        mw = find(rows, section="step", shape=r["shape"],
                  stack="maskwire-memif")
        out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            r["shape"], r["stack"],
            fmt(1e3 / r["lat_p50_ms"]) if r.get("lat_p50_ms") else "-",
            fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
            fmt(r.get("lat_max_ms")),
            ratio(mw and mw.get("lat_p50_ms"), r.get("lat_p50_ms"))
            if r["stack"] != "maskwire-memif" else ""))
    out.append("")
    warm_note([r for r in rows if r["section"] == "step"])

    c = find(rows, section="ceiling")
    out.extend(["## 3. Ceiling of the port type", "",
                "| what | frames/s | wire Gbit/s |", "|---|---|---|"])
    if c:
        out.append("| testpmd txonly -> rxonly, net_memif, %d-byte frames | "
                   "%s | %s |" % (FRAME, fmt(c.get("pps")),
                                  fmt(c.get("wire_gbit_s"))))
    for r in rows:
        if r["section"] == "transfer" and r.get("mode") == "full" and \
                r["stack"] == "maskwire-memif" and r.get("pps"):
            out.append("| maskwire %s %s (data frames A->B) | %s | %s (%s of "
                       "ceiling) |" % (r["shape"], r["codec"], fmt(r["pps"]),
                                       fmt(r.get("wire_gbit_s")),
                                       ratio(r["pps"], c and c.get("pps"))))
    out.append("")

    out.extend(["## 4. Loss (%s, MS)" % next(
        (r["shape"] for r in rows if r["section"] == "loss"), "-"), "",
        "| loss per frame/packet | stack | dense-eq Gbit/s | p50 ms | "
        "p99 ms | retransmissions | runs stopped at the time budget | "
        "maskwire / TCP goodput | goodput / same stack lossless |",
        "|---|---|---|---|---|---|---|---|---|"])
    for r in rows:
        if r["section"] != "loss":
            continue
        t = find(rows, section="loss", loss=r["loss"], stack="tcp-veth")
        z = find(rows, section="loss", loss=0.0, stack=r["stack"])
        out.append("| %g%% | %s | %s | %s | %s | %s | %s of %s | %s | %s |" % (
            r["loss"] * 100, r["stack"], fmt(r.get("dense_gbit_s")),
            fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
            fmt(r.get("retrans")) if r["stack"] != "tcp-veth" else "-",
            r.get("incomplete", 0), r.get("reps", 0),
            ratio(r.get("dense_gbit_s"), t and t.get("dense_gbit_s"))
            if r["stack"] != "tcp-veth" else "",
            ratio(r.get("dense_gbit_s"), z and z.get("dense_gbit_s"))
            if r["loss"] else ""))
    out.append("")

    out.extend(["## 5. Tensor size (dense bytes)", "",
                "| dense size | codec | stack | tensors/s | dense-eq Gbit/s | "
                "p50 ms | p99 ms | maskwire / TCP goodput |",
                "|---|---|---|---|---|---|---|---|"])
    for r in rows:
        if r["section"] != "size":
            continue
        t = find(rows, section="size", dense_bytes=r["dense_bytes"],
                 codec=r["codec"], stack="tcp-veth")
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            human(r["dense_bytes"]), r["codec"], r["stack"],
            fmt(r.get("tensors_per_s")), fmt(r.get("dense_gbit_s")),
            fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
            ratio(r.get("dense_gbit_s"), t and t.get("dense_gbit_s"))
            if r["stack"] != "tcp-veth" else ""))
    out.append("")
    mrow = find(rows, section="mtu")
    out.extend(["## 5b. MTU (%s; maskwire on net_vhost/net_virtio_user "
                "and on net_af_packet over the veth, TCP on the veth)" % (
                    mrow["shape"] if mrow else "-"), "",
                "| MTU | codec | stack | tensors/s | dense-eq Gbit/s | "
                "wire Gbit/s | p50 ms | p99 ms | goodput vs MTU 1500 | "
                "wire bytes/tensor, both ways | / MS ideal |",
                "|---|---|---|---|---|---|---|---|---|---|---|"])
    for r in rows:
        if r["section"] != "mtu":
            continue
        base = find(rows, section="mtu", mtu=1500, codec=r["codec"],
                    stack=r["stack"])
        both, ideal = r.get("wire_both_bytes_per_tensor"), \
            r.get("ms_ideal_bytes")
        out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                   % (r["mtu"], r["codec"], r["stack"],
                      fmt(r.get("tensors_per_s")),
                      fmt(r.get("dense_gbit_s")), fmt(r.get("wire_gbit_s")),
                      fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
                      ratio(r.get("dense_gbit_s"),
                            base and base.get("dense_gbit_s"))
                      if r["mtu"] != 1500 else "",
                      "%.0f" % both if both else "-",
                      "%.4f" % (both / ideal) if both and ideal else "-"))
    out.append("")
    crow = find(rows, section="cut")
    if crow:
        out.extend(["## 5c. Cut-through (%s MS; on and off interleaved, "
                    "same run; step: MS up, signed MS down; fixed: %s "
                    "tensors/s offered)" % (crow["shape"], fmt(
                        (find(rows, section="cut", mode="fixed") or
                         {}).get("offered_per_s"))), "",
                    "| mode | stack | tensors/s | p50 ms | p99 ms | "
                    "max ms | p50 / TCP p50 |",
                    "|---|---|---|---|---|---|---|"])
        for r in rows:
            if r["section"] != "cut":
                continue
            t = find(rows, section="cut", mode=r["mode"], stack="tcp-veth")
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (
                r["mode"], r["stack"], fmt(r.get("tensors_per_s")),
                fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
                fmt(r.get("lat_max_ms")),
                ratio(r.get("lat_p50_ms"), t and t.get("lat_p50_ms"))
                if r["stack"] != "tcp-veth" else ""))
        out.append("")
        warm_note([r for r in rows if r["section"] == "cut"])
    srow = find(rows, section="security")
    if srow:
        out.extend(["## 7. Secure mode (%s; PROTOCOL.md 12; plain, "
                    "encrypt and integrity runs interleaved, same run)" %
                    srow["shape"], "",
                    "| MTU | stack | codec | mode | AES-256-GCM | "
                    "tensors/s | dense-eq Gbit/s | p50 ms | p99 ms | "
                    "goodput vs plain |",
                    "|---|---|---|---|---|---|---|---|---|---|"])
        for r in rows:
            if r["section"] != "security":
                continue
            base = find(rows, section="security", mtu=r["mtu"],
                        stack=r["stack"], codec=r["codec"], sec="plain")
            lib = "" if r["sec"] == "plain" else \
                (r.get("crypto") or "-").replace("-aes-256-gcm", "")
            out.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
                       % (r["mtu"], r["stack"], r["codec"], r["sec"], lib,
                          fmt(r.get("tensors_per_s")),
                          fmt(r.get("dense_gbit_s")),
                          fmt(r.get("lat_p50_ms")), fmt(r.get("lat_p99_ms")),
                          ratio(r.get("dense_gbit_s"),
                                base and base.get("dense_gbit_s"))
                          if r["sec"] != "plain" else ""))
        out.append("")
    prow = find(rows, section="peers")
    if prow:
        out.extend(["## 8. Many peers (one server, N devices, each a data "
                    "plane in its namespace on a Linux bridge, net_af_packet "
                    "on veths; MS %s; the server on CPU 0, the devices on "
                    "CPU 1, --idle-yield)" % prow["shape"], "",
                    "| devices | tensors/s | dense-eq Gbit/s | wire Gbit/s "
                    "| Jain | min/mean | server CPU us/tensor |",
                    "|---|---|---|---|---|---|---|"])
        for r in rows:
            if r["section"] != "peers":
                continue
            out.append("| %d | %s | %s | %s | %s | %s | %s |" % (
                r["peers"], fmt(r.get("tensors_per_s"), 0),
                fmt(r.get("dense_gbit_s")), fmt(r.get("wire_gbit_s"), 3),
                fmt(r.get("jain"), 4), fmt(r.get("min_over_mean")),
                fmt(r.get("server_cpu_us_per_tensor"), 1)))
        out.append("")
    lrows = [r for r in rows if r["section"] == "peers-lcores"]
    if lrows:
        out.extend(["### 8b. One and two I/O lcores (4 devices; device i on "
                    "CPU i % 2, server lcore k on CPU k; runs alternate; "
                    "verify: the server's sink checks every tensor)", "",
                    "| sink | round | I/O lcores | tensors/s | dense-eq "
                    "Gbit/s | Jain | min/mean | frames handed over | "
                    "2 lcores / 1 lcore |",
                    "|---|---|---|---|---|---|---|---|---|"])
        for r in lrows:
            one = find(rows, section="peers-lcores", verify=r["verify"],
                       round=r["round"], io_lcores=1)
            out.append("| %s | %d | %d | %s | %s | %s | %s | %s | %s |" % (
                "verify" if r["verify"] else "no verify", r["round"],
                r["io_lcores"], fmt(r.get("tensors_per_s"), 0),
                fmt(r.get("dense_gbit_s")), fmt(r.get("jain"), 4),
                fmt(r.get("min_over_mean")), fmt(r.get("handoff"), 0),
                ratio(r.get("tensors_per_s"), one and one.get("tensors_per_s"))
                if r["io_lcores"] > 1 else ""))
        out.append("")
    if res["notes"]:
        out.extend(["Notes:", ""] + ["- " + n for n in res["notes"]] + [""])
    return "\n".join(out)


def human(b):
    for u in ("B", "KiB", "MiB", "GiB"):
        if b < 1024:
            return "%d %s" % (b, u)
        b //= 1024
    return "%d TiB" % b


def plots(res, out):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        res["notes"].append("matplotlib missing: no plots")
        return []
    rows = [r for r in res["rows"] if not r.get("failed")]
    made = []

    def save(fig, name):
        p = os.path.join(out, name)
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append(name)

    stacks = ["maskwire-memif", "tcp-veth", "pytorch-zmq"]
    tr = [r for r in rows if r["section"] == "transfer" and
          r.get("mode") == "full"]
    keys = []
    for r in tr:
        k = (r["shape"], r["codec"])
        if k not in keys:
            keys.append(k)
    if keys:
        fig, axs = plt.subplots(1, 2, figsize=(13, 4.5))
        w = 0.27
        for i, s in enumerate(stacks):
            xs, gs, ls = [], [], []
            for j, k in enumerate(keys):
                r = find(tr, shape=k[0], codec=k[1], stack=s)
                if r:
                    xs.append(j + (i - 1) * w)
                    gs.append(r.get("dense_gbit_s") or 0)
                    ls.append(r.get("lat_p99_ms") or 0)
            axs[0].bar(xs, gs, w, label=s)
            axs[1].bar(xs, ls, w, label=s)
        for ax, t in ((axs[0], "dense-equivalent goodput, Gbit/s"),
                      (axs[1], "one-way latency p99 at full rate, ms")):
            ax.set_xticks(range(len(keys)))
            ax.set_xticklabels(["%s\n%s" % k for k in keys], fontsize=7,
                               rotation=30, ha="right")
            ax.set_title(t)
            ax.legend(fontsize=8)
        axs[1].set_yscale("log")
        save(fig, "transfer.png")

    st = [r for r in rows if r["section"] == "step"]
    if st:
        shapes = []
        for r in st:
            if r["shape"] not in shapes:
                shapes.append(r["shape"])
        fig, ax = plt.subplots(figsize=(8, 4.5))
        sst = ["maskwire-memif", "tcp-veth", "maskwire-shm-python",
               "pytorch-zmq"]
        w = 0.2
        for i, s in enumerate(sst):
            xs, ys = [], []
            for j, sh in enumerate(shapes):
                r = find(st, shape=sh, stack=s)
                if r and r.get("lat_p50_ms"):
                    xs.append(j + (i - 1.5) * w)
                    ys.append(r["lat_p50_ms"])
            if xs:
                ax.bar(xs, ys, w, label=s)
        ax.set_xticks(range(len(shapes)))
        ax.set_xticklabels(shapes)
        ax.set_yscale("log")
        ax.set_title("request/response step time p50, ms")
        ax.legend()
        save(fig, "step.png")

    lo = [r for r in rows if r["section"] == "loss"]
    if lo:
        fig, axs = plt.subplots(1, 2, figsize=(11, 4))
        for s in sorted({r["stack"] for r in lo}):
            rs = sorted([r for r in lo if r["stack"] == s],
                        key=lambda r: r["loss"])
            axs[0].plot([r["loss"] * 100 for r in rs],
                        [r.get("dense_gbit_s") for r in rs], "o-", label=s)
            axs[1].plot([r["loss"] * 100 for r in rs],
                        [r.get("lat_p99_ms") for r in rs], "o-", label=s)
        axs[0].set_title("goodput (dense-eq Gbit/s) vs loss %")
        axs[1].set_title("p99 latency (ms) vs loss %")
        axs[1].set_yscale("log")
        for ax in axs:
            ax.legend()
        save(fig, "loss.png")

    sz = [r for r in rows if r["section"] == "size"]
    if sz:
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for s in ("maskwire-memif", "tcp-veth"):
            for codec in ("dense", "ms"):
                rs = sorted([r for r in sz if r["stack"] == s and
                             r["codec"] == codec],
                            key=lambda r: r["dense_bytes"])
                if rs:
                    ax.plot([r["dense_bytes"] for r in rs],
                            [r.get("dense_gbit_s") for r in rs], "o-",
                            label="%s %s" % (s, codec))
        ax.set_xscale("log", base=2)
        ax.set_xlabel("dense tensor bytes")
        ax.set_title("dense-equivalent goodput (Gbit/s) vs tensor size")
        ax.legend(fontsize=8)
        save(fig, "size.png")
    return made


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(markdown(json.load(f)))
