"""Split learning over two maskwire data planes.

One process per side, each attached to its own local maskwire through the
shared-memory channel, the model cut in two by maskwire.torch:

  client (device): first layers; its Boundary sends the activations (MS by
                   default) and labels up; backward() brings the gradient.
  server:          the rest of the model; its ServerBoundary hands it each
                   step's activations as a leaf and sends their gradient
                   down (signed MS or dense) when backward() is done; it
                   replies with the step's loss and correct count, or with
                   the logits on evaluation steps.

Usage:
  splitlearn.py server --shm NAME [options]
  splitlearn.py client --shm NAME [options]

Both sides must be given the same --seed, --batch and codec options.

Several clients (--clients N on the server, --shard I/N on client I): one
server process and one server data plane (one --peer per client), each
client its own data plane, process, and I-th shard of the training
images. The server trains its half on each client's steps in turn
(maskwire.torch.Server visits the clients round-robin and takes each
one's next step if it has arrived), not on a batch merged from all
clients: every server step is then the same as in the one-client run
(same batch size, same learning rate, the same number of server steps
per epoch over the same total data), and no client waits for the slowest
one to fill a merged batch (nor, visiting only arrived steps, for a late
or slow one at all). Each client's
gradient goes back to that client only. The client halves are not
averaged: each keeps its own first layer (a few hundred parameters).

Several server processes (--ddp R/S --ddp-init tcp://HOST:PORT on each):
each with its own data plane and its own clients, all keeping one server
half with torch.distributed (DistributedDataParallel over gloo): every
training step's parameter gradients are averaged over the S processes
(one step of a client on each, at the same time), so the S copies stay
equal. Each process trains on its own clients' steps in turn as above;
DDP's join() lets a process whose clients finished first stop early.
maskwire must be importable: installed (pip install ./python), or
PYTHONPATH=python from the repository (scripts/run-demo.sh does that).
"""
import argparse
import contextlib
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

import maskwire.torch as mwt

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402
import splitnet  # noqa: E402

# Codec presets: (codec name, ratio, bits, rounding). "topk-eq" keeps as
# many values as fit in MS's bytes at r=0.99, b=2: MS spends 0.25 + 0.04 =
# 0.29 bytes per element; (index, value) pairs cost 8 bytes, so
# k = 0.03625 n. "ms-signed-sr": signed MS with stochastic rounding, whose
# gradients are unbiased (docs/CODEC.md, docs/EXPERIMENT.md).
PRESETS = {
    "dense": ("dense", 0.0, 0, "nearest"),
    "ms": ("ms", 0.99, 2, "nearest"),
    "ms-signed": ("ms-signed", 0.99, 2, "nearest"),
    "ms-signed-sr": ("ms-signed", 0.99, 2, "stochastic"),
    "topk-eq": ("topk", 1.0 - 0.29 / 8.0, 0, "nearest"),
    "quant3": ("quant", 0.0, 3, "nearest"),
}


def codec_args(spec):
    """'ms' | 'ms:0.99:2' | 'ms-signed:0.99:2:stochastic' | 'topk:0.96375'
    | 'quant::3' -> dict (0: the codec's default)."""
    if spec in PRESETS:
        name, ratio, bits, rounding = PRESETS[spec]
    else:
        parts = spec.split(":")
        name = parts[0]
        ratio = float(parts[1]) if len(parts) > 1 and parts[1] else 0.0
        bits = int(parts[2]) if len(parts) > 2 and parts[2] else 2
        rounding = parts[3] if len(parts) > 3 and parts[3] else "nearest"
    return {"codec": name, "ratio": ratio or None, "bits": bits or None,
            "rounding": rounding}


def progress(prefix, i, n, extra=""):
    """A progress bar on stderr: redrawn in place on a terminal, one line
    per 10% otherwise (logs)."""
    tty = sys.stderr.isatty()
    if not tty and i != n and i % max(1, n // 10):
        return
    width = 30
    done = int(width * i / max(1, n))
    line = f"{prefix} [{'#' * done}{'.' * (width - done)}] {i}/{n} {extra}"
    if tty:
        sys.stderr.write("\r" + line + ("\n" if i == n else ""))
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def batches(n, batch, rng):
    idx = rng.permutation(n)
    for s in range(0, n - batch + 1, batch):
        yield idx[s:s + batch]


def serve_step(step, model, opt, lossf, train_model=None):
    """One step of the server half: train on it (its gradient goes back
    to the step's device) or answer an evaluation step with the logits.
    train_model: what trains (a DDP wrapper of model), default model.
    Returns 1 for a training step."""
    act, = step.tensors
    y, = step.labels
    if step.training:
        t0 = time.perf_counter()
        out = (train_model or model)(act)
        loss = lossf(out, y)
        opt.zero_grad()
        loss.backward()        # the gradient goes down from here
        opt.step()
        correct = (out.argmax(1) == y).sum().item()
        # the server's compute time goes back too, so that the client
        # can tell its step's waiting from the server's computing; these
        # figures are never zero-filled at a deadline
        ms = 1e3 * (time.perf_counter() - t0)
        step.reply(torch.tensor([loss.item(), float(correct), ms]),
                   reliable=True)
        return 1
    model.eval()
    with torch.no_grad():
        step.reply(model(act), reliable=True)
    model.train()
    return 0


def run_server_many(args):
    """--clients N: the clients' steps in turn; with --ddp, one of
    several server processes keeping one model."""
    torch.manual_seed(args.seed)
    model = splitnet.server_model()
    ddp, who = None, "server"
    if args.ddp:
        rank, world = args.ddp
        who = f"server {rank}"
        torch.distributed.init_process_group(
            "gloo", init_method=args.ddp_init, rank=rank, world_size=world)
        # no buffers to broadcast: forward then needs no collective, so
        # evaluation steps (model itself) need no partner
        ddp = nn.parallel.DistributedDataParallel(model,
                                                  broadcast_buffers=False)
    opt = splitnet.optimizer(model.parameters(), args.lr)
    lossf = nn.CrossEntropyLoss()
    served = {}

    def dropped(peer, e):
        # a client that failed (its program, or a gradient or reply that
        # could not reach it): the server stops serving it and trains on
        # with the others; it rejoins if it starts again
        print(f"{who}: client {peer}: dropped: {e}", flush=True)

    def joined(peer):
        print(f"{who}: client {peer}: joined", flush=True)

    with mwt.Server(args.shm, timeout=4 * args.timeout, on_failure=dropped,
                    on_join=joined,
                    **codec_args(args.grad_codec)) as srv:
        if len(srv.peers) != args.clients:
            raise SystemExit(f"{who}: the data plane has {len(srv.peers)} "
                             f"peers, --clients says {args.clients}")
        with ddp.join() if ddp else contextlib.nullcontext():
            for step in srv:
                k = str(step.peer)
                served[k] = served.get(k, 0) + serve_step(
                    step, model, opt, lossf, ddp)
        table = {str(p.peer): p for p in srv.client.peers()}
    if ddp:
        # one model: every process holds the same parameters
        flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
        digest = float(flat.double().abs().sum())
        gathered = [None] * args.ddp[1]
        torch.distributed.all_gather_object(gathered, digest)
        same = all(g == gathered[0] for g in gathered)
        print(f"{who}: parameters |sum| {digest:.6f}, "
              f"{'equal on' if same else 'DIFFER across'} all "
              f"{args.ddp[1]} server processes", flush=True)
        torch.distributed.destroy_process_group()
    for k, n in served.items():
        p = table.get(k)
        if p is None:  # an accepted client whose index another holds now
            print(f"{who}: client {k}: {n} training steps", flush=True)
            continue
        print(f"{who}: client {k}: {n} training steps, dense "
              f"{human(p.dense_rx_bytes)} up / {human(p.dense_tx_bytes)} "
              f"down, restarts {p.restarts}", flush=True)
    print(f"{who}: {sum(served.values())} training steps served for "
          f"{len(served)} clients"
          + (f", {len(srv.failed)} dropped" if srv.failed else ""),
          flush=True)


def run_server(args, link):
    torch.manual_seed(args.seed)
    model = splitnet.server_model()
    opt = splitnet.optimizer(model.parameters(), args.lr)
    lossf = nn.CrossEntropyLoss()
    cut = mwt.ServerBoundary(link, **codec_args(args.grad_codec))
    served = 0
    # the first step waits for the client to start and load the data
    step = cut.recv(timeout=4 * args.timeout)
    while step is not None:
        served += serve_step(step, model, opt, lossf)
        step = cut.recv()
    print(f"server: {served} training steps served, "
          f"{link.partial_deliveries} tensors delivered partial "
          f"({link.elements_lost} elements lost)", flush=True)


def run_client(args, link):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    xtr, ytr = fmnist.load("train")
    xte, yte = fmnist.load("test")
    if args.train_limit:
        xtr, ytr = xtr[:args.train_limit], ytr[:args.train_limit]
    shard, nshards = args.shard
    if nshards > 1:
        # the I-th of N contiguous shards (the file's order is mixed)
        lo, hi = shard * len(xtr) // nshards, (shard + 1) * len(xtr) // nshards
        xtr, ytr = xtr[lo:hi], ytr[lo:hi]
    if args.test_limit:
        xte, yte = xte[:args.test_limit], yte[:args.test_limit]
    xtr, ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xte, yte = torch.from_numpy(xte), torch.from_numpy(yte)
    model = splitnet.client_model()
    opt = splitnet.optimizer(model.parameters(), args.lr)
    cut = mwt.Boundary(link, **codec_args(args.act_codec))
    history = []
    step_times = []
    wait_times = []
    t_start = time.time()
    wire0 = link.wire_bytes()
    wire_tx0, wire_rx0 = wire_split(link)
    for epoch in range(1, args.epochs + 1):
        model.train()
        t0 = time.time()
        nb = len(xtr) // args.batch
        loss_sum = correct = seen = dense_bytes = 0
        w0 = link.wire_bytes()
        for i, idx in enumerate(batches(len(xtr), args.batch, rng), 1):
            ts = time.perf_counter()
            xb, yb = xtr[idx], ytr[idx]
            act = model(xb)
            tf = time.perf_counter()
            out = cut(act, labels=yb)   # activation and labels go up
            opt.zero_grad()
            out.backward()              # the server's gradient comes down
            to = time.perf_counter()
            opt.step()
            to = time.perf_counter() - to
            loss, right, server_ms = cut.reply()[0].tolist()
            step_times.append(time.perf_counter() - ts)
            # what is left of the step without the two models' compute
            # (the client's forward pass and optimiser step, the server's
            # whole step): both transfers, both data planes, the client's
            # backward pass
            wait_times.append(step_times[-1] - (tf - ts) - to -
                              server_ms / 1e3)
            loss_sum += loss * len(idx)
            correct += int(right)
            seen += len(idx)
            # dense equivalent: activation + labels up, gradient + stats down
            dense_bytes += 2 * act.numel() * 4 + yb.numel() * 8 + 8
            progress(f"epoch {epoch}", i, nb,
                     f"loss {loss_sum / seen:.3f} {i / (time.time() - t0):.1f} steps/s")
        train_time = time.time() - t0
        wire = link.wire_bytes() - w0
        acc = evaluate(args, cut, model, xte, yte)
        rec = {
            "epoch": epoch,
            "train_loss": round(loss_sum / seen, 4),
            "train_acc": round(correct / seen, 4),
            "test_acc": round(acc, 4),
            "steps": nb,
            "steps_per_s": round(nb / train_time, 2),
            "wire_bytes_per_step": int(wire / nb),
            "dense_bytes_per_step": int(dense_bytes / nb),
        }
        if wire:
            rec["wire_vs_dense"] = round(dense_bytes / wire, 2)
        history.append(rec)
        print(epoch_line(rec), flush=True)
    total_wire = link.wire_bytes() - wire0
    wire_tx, wire_rx = wire_split(link)
    summary = {"role": "client", "act_codec": args.act_codec,
               "shard": f"{shard}/{nshards}",
               # this client's data plane: frames up (sent) and down
               "wire_bytes_up": wire_tx - wire_tx0,
               "wire_bytes_down": wire_rx - wire_rx0,
               "grad_codec": args.grad_codec, "epochs": args.epochs,
               "train_images": len(xtr), "test_images": len(xte),
               "batch": args.batch, "seed": args.seed,
               "final_test_acc": history[-1]["test_acc"] if history else None,
               "wire_bytes_total": total_wire,
               "wall_s": round(time.time() - t_start, 1),
               "loss": args.loss, "deadline_ms": args.deadline_ms,
               "delay_ms": args.delay_ms,
               "step_ms_p50": round(1e3 * float(np.percentile(step_times, 50)), 2)
               if step_times else None,
               "step_ms_p99": round(1e3 * float(np.percentile(step_times, 99)), 2)
               if step_times else None,
               "wait_ms_p50": round(1e3 * float(np.percentile(wait_times, 50)), 2)
               if wait_times else None,
               "wait_ms_p99": round(1e3 * float(np.percentile(wait_times, 99)), 2)
               if wait_times else None,
               # every step's time, in order (the first ones warm up), and
               # its time without the models' compute (wait_times above)
               "step_ms": [round(1e3 * t, 2) for t in step_times],
               "wait_ms": [round(1e3 * t, 2) for t in wait_times],
               # tensors the data plane delivered partial (9.1), here
               "partial_deliveries": link.partial_deliveries,
               "elements_lost": link.elements_lost,
               "history": history}
    print(f"done: test accuracy {100 * summary['final_test_acc']:.2f}% after "
          f"{args.epochs} epoch(s), {human(total_wire)} on the wire in total, "
          f"{summary['wall_s']} s", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
            f.write("\n")
    return summary


def wire_split(link):
    """Bytes of frames the local data plane sent and received."""
    info = link.client.info()
    return info["wire_tx_bytes"], info["wire_rx_bytes"]


def shard_arg(text):
    """'I/N' -> (I, N)."""
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"shard {i} of {n}: need 0 <= I < N")
    return i, n


def human(nbytes):
    if nbytes is None:
        return "n/a"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if nbytes >= div:
            return f"{nbytes / div:.2f} {unit}"
    return f"{nbytes} B"


def epoch_line(r):
    wire = r["wire_bytes_per_step"]
    ratio = ""
    if r.get("wire_vs_dense"):
        x = r["wire_vs_dense"]
        # frames carry headers and ACKs: dense tensors cost a bit more
        ratio = f" ({x}x less)" if x >= 1 else f" ({1 / x:.2f}x more)"
    return (f"epoch {r['epoch']}: train loss {r['train_loss']:.4f} "
            f"acc {100 * r['train_acc']:.2f}% | test acc "
            f"{100 * r['test_acc']:.2f}% | wire {human(wire)}/step vs dense "
            f"{human(r['dense_bytes_per_step'])}/step{ratio} | "
            f"{r['steps_per_s']} steps/s")


def evaluate(args, cut, model, xte, yte):
    """Test accuracy: evaluation steps (no gradient), the server replies
    with the logits. Both go reliably, deadline or not (--deadline-ms):
    the test measures the model, not the link."""
    model.eval()
    correct = 0
    nb = (len(xte) + args.batch - 1) // args.batch
    with torch.no_grad():
        for i in range(nb):
            xb = xte[i * args.batch:(i + 1) * args.batch]
            yb = yte[i * args.batch:(i + 1) * args.batch]
            cut(model(xb), labels=yb, reliable=True)
            logits, = cut.reply()
            correct += int((logits.argmax(1) == yb).sum())
            progress("  eval", i + 1, nb)
    model.train()
    return correct / len(xte)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("role", choices=["client", "server"])
    ap.add_argument("--shm", required=True, help="shared-memory channel name of the local maskwire")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--train-limit", type=int, default=0, help="use the first N training images (0: all)")
    ap.add_argument("--test-limit", type=int, default=0, help="use the first N test images (0: all)")
    ap.add_argument("--act-codec", default="ms", help="activations: " + "|".join(PRESETS) + " or codec:ratio:bits[:rounding]")
    ap.add_argument("--grad-codec", default="dense", help="gradients: " + "|".join(PRESETS) + " or codec:ratio:bits[:rounding]")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the peer")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    ap.add_argument("--loss", type=float, default=0.0,
                    help="frame loss the data planes inject (--tx-drop; "
                         "scripts/run-demo.sh passes it to them): recorded")
    ap.add_argument("--deadline-ms", type=int, default=0,
                    help="delivery deadline the data planes use "
                         "(--deadline-ms; set by scripts/run-demo.sh): "
                         "recorded; partial tensors are trained on, "
                         "missing elements zero")
    ap.add_argument("--delay-ms", type=float, default=0.0,
                    help="one-way delay the data planes add (--delay-ms; "
                         "set by scripts/run-demo.sh): recorded")
    ap.add_argument("--json", help="client: write the run's summary (per-epoch records) to this file")
    ap.add_argument("--clients", type=int, default=1,
                    help="server: devices served through its data plane (its --peer options, in order)")
    ap.add_argument("--ddp", type=shard_arg, default=None,
                    help="server with --clients: process R of S keeping one model (R/S; torch.distributed, gloo)")
    ap.add_argument("--ddp-init", default="tcp://127.0.0.1:29511",
                    help="server --ddp: torch.distributed init_method, the same on every server process")
    ap.add_argument("--shard", type=shard_arg, default=(0, 1),
                    help="client: train on shard I of N of the training images (I/N, default 0/1)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.role == "server" and (args.clients > 1 or args.ddp):
        run_server_many(args)
        return
    with mwt.Link(args.shm, timeout=args.timeout) as link:
        if args.role == "server":
            run_server(args, link)
        else:
            run_client(args, link)


if __name__ == "__main__":
    main()
