#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""The paper's own stack as a baseline for bench/run.py: MS encoded in
PyTorch (torch.topk, the mask as a float32 tensor, as the released code
does), pickled, sent over ZeroMQ REQ/REP on a new socket per step; the
server unpickles, decodes and answers (a short "ok", or with --respond the
dense float32 gradient, which is what the released code sends back).

    zmq_ms.py server --bind tcp://IP:PORT [--respond] [--stats FILE]
    zmq_ms.py client --connect tcp://IP:PORT --shape A,B,.. --count N
                     [--ratio R] [--bits B] [--rate R] [--respond]
                     [--stats FILE]

Latency: the client stamps time.monotonic_ns() (CLOCK_MONOTONIC) before
encoding; the server reports now - stamp after decoding (one-way), the
client reports the step time (stamp to the reply unpickled). The client
sends an empty "end" message last. PyTorch runs with one thread.
"""
import argparse
import json
import os
import pickle
import sys
import time

import torch
import zmq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ms import ms_decode, ms_encode  # noqa: E402


def summary(v):
    if not v:
        return None
    v = sorted(v)
    n = len(v)

    def pct(q):
        r = int(q * n)
        if r < q * n:
            r += 1
        return v[max(r, 1) - 1]
    return {"count": n, "min": v[0], "p50": pct(0.5), "p90": pct(0.9),
            "p99": pct(0.99), "max": v[-1], "mean": sum(v) / n}


def write_stats(path, obj):
    text = json.dumps(obj)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def server(a):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.REP)
    sock.bind(a.bind)
    lat, count, dense, wire_rx, wire_tx = [], 0, 0, 0, 0
    first_sent = last_rx = 0
    grad = None
    while True:
        msg = sock.recv()
        if msg == b"end":
            sock.send(b"bye")
            break
        m = pickle.loads(msg)
        x = ms_decode(m["mask"], m["values"], m["t"], m["bits"], m["shape"])
        last_rx = time.monotonic_ns()
        if not count:
            first_sent = m["stamp"]
        lat.append(last_rx - m["stamp"])
        count += 1
        dense += x.numel() * 4
        wire_rx += len(msg)
        if a.respond:
            if grad is None or grad.shape != x.shape:
                g = torch.Generator().manual_seed(2)
                grad = (torch.rand(x.shape, generator=g) - 0.5) * 0.02
            out = pickle.dumps({"grad": grad, "stamp": m["stamp"]})
        else:
            out = b"ok"
        wire_tx += len(out)
        sock.send(out)
    sock.close(linger=0)
    ctx.term()
    span = (last_rx - first_sent) / 1e9 if last_rx > first_sent else 0
    write_stats(a.stats, {
        "role": "server", "respond": a.respond, "count": count,
        "dense_bytes": dense, "wire_rx_bytes": wire_rx,
        "wire_tx_bytes": wire_tx, "span_s": span,
        "tensors_per_s": count / span if span else 0,
        "dense_gbit_s": dense * 8 / span / 1e9 if span else 0,
        "wire_gbit_s": wire_rx * 8 / span / 1e9 if span else 0,
        "latency_ns": summary(lat)})


def client(a):
    shape = tuple(int(d) for d in a.shape.replace("x", ",").split(","))
    g = torch.Generator().manual_seed(1)
    u = torch.rand(shape, generator=g)
    # The data plane generator's activations: ReLU-like, 40% zeros.
    x = torch.where(torch.rand(shape, generator=g) < 0.4,
                    torch.zeros(shape), u * 6.0)
    ctx = zmq.Context()
    step, wire_tx = [], 0
    t0 = time.monotonic_ns()
    gap = int(1e9 / a.rate) if a.rate > 0 else 0

    def request(payload):
        # The released code opens a socket per batch.
        s = ctx.socket(zmq.REQ)
        s.connect(a.connect)
        s.send(payload)
        r = s.recv()
        s.close(linger=0)
        return r

    for i in range(a.count):
        if gap:
            wait = t0 + i * gap - time.monotonic_ns()
            if wait > 0:
                time.sleep(wait / 1e9)
        stamp = time.monotonic_ns()
        mask, values, t = ms_encode(x, a.ratio, a.bits)
        msg = pickle.dumps({"mask": mask, "values": values, "t": t,
                            "bits": a.bits, "shape": shape, "stamp": stamp})
        wire_tx += len(msg)
        r = request(msg)
        if a.respond:
            m = pickle.loads(r)
            if m["stamp"] != stamp:
                sys.exit("zmq_ms.py: reply out of order")
        step.append(time.monotonic_ns() - stamp)
    request(b"end")
    t1 = time.monotonic_ns()
    ctx.term()
    write_stats(a.stats, {
        "role": "client", "count": a.count, "elements": x.numel(),
        "rate": a.rate, "respond": a.respond, "elapsed_s": (t1 - t0) / 1e9,
        "wire_tx_bytes": wire_tx, "step_ns": summary(step)})


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--bind")
    p.add_argument("--connect")
    p.add_argument("--shape", default="16,64,8,8")
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--ratio", type=float, default=0.99)
    p.add_argument("--bits", type=int, default=2)
    p.add_argument("--rate", type=float, default=0)
    p.add_argument("--respond", action="store_true")
    p.add_argument("--stats")
    a = p.parse_args()
    torch.set_num_threads(1)
    if a.role == "server":
        server(a)
    else:
        client(a)


if __name__ == "__main__":
    main()
