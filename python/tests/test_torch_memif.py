#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The boundary is exact across two real data planes.

A small model (tinysplit.py: three tensors at the cut, one of them unused
by the server, labels, an evaluation step every seven) is trained for 20
steps (a) in one process and (b) cut in two, the server half in another
process, through maskwire.torch and two `maskwire` data planes joined by
net_memif (--shm), dense codec: every parameter of both halves, every loss
and every evaluation's logits are bit-identical.

Then with signed MS (r = 0.9, b = 2, stochastic rounding) on both
directions: every activation the server receives and every gradient that
arrives at the device equal, bit for bit, maskwire-codec's
decode(encode(x)) of what the other side sent (so the rounding travels
from the Boundary through the shared-memory descriptor to the encoder).

Usage: test_torch_memif.py MASKWIRE MASKWIRE-CODEC (env: MASKWIRE_LIB,
PYTHONPATH with python/ and apps/maskwire/tests/); the test runs itself
with --server SHM OUT CODEC for the server half. Exit 77 when it cannot
run (not root, no numpy or torch, binaries missing).
"""
import os
import subprocess
import sys

import mwtest

try:
    import numpy  # noqa: F401 (maskwire's arrays)
    import torch
    import maskwire.torch as mwt
except ImportError as e:
    mwtest.skip("needs numpy, torch and the maskwire package: %s" % e)
import test_shm_memif  # start_pair(), expected() (maskwire-codec: argv[2])
import tinysplit

STEPS = 20
MS_STEPS = 6
T = 60.0  # seconds any wait may take on a loaded 2-core machine
CODECS = {"dense": {"codec": "dense"},
          "ms": {"codec": "ms-signed", "ratio": 0.9, "bits": 2,
                 "rounding": "stochastic"}}


def server_main(shm, out, codec):
    """The server half: trains until the device closes, saves its model,
    the step count and what it received and sent."""
    torch.set_num_threads(1)
    record = []
    with mwt.Link(shm, timeout=T) as link:
        print("ready", flush=True)
        srv = tinysplit.server(link, record=record, **CODECS[codec])
    torch.save({"state": srv.state_dict(), "steps": link.steps,
                "record": record}, out)


def run_split(run, names, codec, steps, record=None):
    """The device half here, the server half in a process of its own:
    (device model, replies, server model, server's record)."""
    out = run.path("server-%s.pt" % codec)
    log = open(run.path("server-%s.log" % codec), "w+")
    p = subprocess.Popen([sys.executable, os.path.abspath(__file__),
                          "--server", names[1], out, codec],
                         stdout=subprocess.PIPE, stderr=log, text=True)
    try:
        line = p.stdout.readline()
        if line.strip() != "ready":
            p.wait(timeout=T)
            log.seek(0)
            mwtest.fail("the server half did not start: %r\n%s"
                        % (line, log.read()))
        with mwt.Link(names[0], timeout=T) as link:
            dev, replies = tinysplit.device(link, steps, record=record,
                                            **CODECS[codec])
        rc = p.wait(timeout=T)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    log.seek(0)
    mwtest.check(rc == 0, "%s: the server half exited %d %s"
                 % (codec, rc, log.read()[-2000:]))
    res = torch.load(out)
    mwtest.check(res["steps"] == steps, "%s: the server served %d steps"
                 % (codec, res["steps"]))
    srv = tinysplit.Server()
    srv.load_state_dict(res["state"])
    return dev, replies, srv, res["record"]


def exact_dense(run, names):
    ref_dev, ref_srv, ref_replies = tinysplit.one_process(STEPS)
    init_dev, init_srv = tinysplit.build()
    mwtest.check(tinysplit.differing(ref_dev, init_dev) and
                 tinysplit.differing(ref_srv, init_srv),
                 "%d steps in one process changed both halves" % STEPS)
    dev, replies, srv, _ = run_split(run, names, "dense", STEPS)
    bad = tinysplit.differing(dev, ref_dev) + tinysplit.differing(srv, ref_srv)
    n = len(dev.state_dict()) + len(srv.state_dict())
    mwtest.check(not bad, "dense: all %d parameter tensors of both halves "
                 "bit-identical to the one-process run (differing: %s)"
                 % (n, bad))
    same = [tinysplit.same_bits(a, b) for a, b in zip(replies, ref_replies)]
    mwtest.check(len(replies) == STEPS and all(same),
                 "dense: all %d losses and evaluation logits bit-identical"
                 % STEPS)
    mwtest.check(tinysplit.same_bits(dev.aux.weight, init_dev.aux.weight),
                 "the tensor the server ignores got no gradient, as in one "
                 "process")


def exact_ms(run, names):
    sent = []
    _, _, _, got = run_split(run, names, "ms", MS_STEPS, record=sent)
    kw = CODECS["ms"]
    train = [i for i in range(MS_STEPS) if not tinysplit.is_eval(i)]
    mwtest.check(len(sent) == len(got) == len(train),
                 "ms: %d training steps recorded on both sides" % len(train))
    lossy = 0
    for i, (dv, sv) in enumerate(zip(sent, got)):
        # dv: device's sent a, b and arrived gradients; sv: the server's
        for what, x, y in (("activation a", dv[0], sv[0]),
                           ("activation b", dv[1], sv[1]),
                           ("gradient of a", sv[2], dv[2]),
                           ("gradient of b", sv[3], dv[3])):
            want = test_shm_memif.expected(run, x.numpy(), kw["codec"],
                                           ratio=kw["ratio"], bits=kw["bits"],
                                           rounding=kw["rounding"])
            if not tinysplit.same_bits(y, torch.from_numpy(want)):
                mwtest.fail("ms: step %d's %s is not decode(encode(x))"
                            % (train[i], what))
            lossy += not tinysplit.same_bits(x, y)
    mwtest.check(lossy > 0, "ms: %d of %d tensors were changed by the codec"
                 % (lossy, 4 * len(sent)))
    mwtest.check(True, "ms: every activation the server got and every "
                 "gradient the device got equal decode(encode(sent))")


def body(run):
    mwtest.require_root()
    mwtest.need_binary(test_shm_memif.CODEC_CLI, "maskwire-codec")
    torch.set_num_threads(1)
    names = [run.tag + "a", run.tag + "b"]
    mwtest.unlink_shm(names)
    try:
        test_shm_memif.start_pair(run, names, run.path("memif.sock"))
        exact_dense(run, names)
        exact_ms(run, names)
    except BaseException:
        run.dump_logs()
        raise
    finally:
        mwtest.unlink_shm(names)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--server":
        server_main(*sys.argv[2:])
    else:
        mwtest.main(body)
