# SPDX-License-Identifier: BSD-3-Clause
"""A small model cut in two, trained the same way in one process and
through a maskwire.torch boundary: the tests of the boundary compare the
two (test_torch.py over the loopback data plane, test_torch_memif.py over
two real data planes).

The device half returns three tensors: a (non-negative, after ReLU and
pooling), b (signed) and c, which the server half never uses (so its
gradient is None on both sides). Every seventh step is evaluation only:
the server replies with the logits; training steps reply with the loss.
"""

import torch
import torch.nn.functional as F
from torch import nn

import maskwire.torch as mwt

SEED = 7
BATCH = 8


class Device(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.lin = nn.Linear(64, 8)
        self.aux = nn.Linear(64, 2)

    def forward(self, x):
        a = F.max_pool2d(F.relu(self.conv(x)), 2)   # [B, 4, 4, 4]
        return a, self.lin(x.flatten(1)), self.aux(x.flatten(1))


class Server(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 4 * 4 + 8, 10)

    def forward(self, a, b):
        return self.fc(torch.cat([F.relu(self.conv(a)).flatten(1), b], 1))


def build():
    """Both halves, initialised from SEED as one model would be."""
    torch.manual_seed(SEED)
    return Device(), Server()


def optimizer(model):
    return torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9,
                           weight_decay=5e-4)


def batch(i):
    g = torch.Generator().manual_seed(1000 + i)
    return (torch.randn(BATCH, 1, 8, 8, generator=g),
            torch.randint(0, 10, (BATCH,), generator=g))


def is_eval(i):
    return i % 7 == 6


def one_process(steps):
    """The uncut model trained for steps: (device, server, replies)."""
    dev, srv = build()
    od, osrv = optimizer(dev), optimizer(srv)
    replies = []
    for i in range(steps):
        x, y = batch(i)
        if is_eval(i):
            with torch.no_grad():
                a, b, _ = dev(x)
                replies.append(srv(a, b))
            continue
        a, b, _ = dev(x)
        loss = F.cross_entropy(srv(a, b), y)
        od.zero_grad()
        osrv.zero_grad()
        loss.backward()
        od.step()
        osrv.step()
        replies.append(loss.detach().reshape(1))
    return dev, srv, replies


def device(link, steps, codec="dense", ratio=None, bits=None, record=None,
           dev=None, rounding="nearest"):
    """The device half (dev, else build()'s) through a Boundary on link:
    (device, replies). record: a list that gets (sent a, sent b, grad of
    a, grad of b) per training step."""
    dev = dev if dev is not None else build()[0]
    od = optimizer(dev)
    cut = mwt.Boundary(link, codec=codec, ratio=ratio, bits=bits,
                       rounding=rounding)
    replies = []
    for i in range(steps):
        x, y = batch(i)
        if is_eval(i):
            with torch.no_grad():
                cut(*dev(x), labels=y)
            replies.append(cut.reply()[0])
            continue
        a, b, c = dev(x)
        if record is not None:
            got = [a.detach().clone(), b.detach().clone(), None, None]
            a.register_hook(lambda g: got.__setitem__(2, g.clone()))
            b.register_hook(lambda g: got.__setitem__(3, g.clone()))
            record.append(got)
        out = cut(a, b, c, labels=y)
        if i % 2:  # the reply first: the gradient waits in the link
            replies.append(cut.reply()[0])
        od.zero_grad()
        out.backward()
        od.step()
        if not i % 2:
            replies.append(cut.reply()[0])
    return dev, replies


def server(link, codec="dense", ratio=None, bits=None, record=None,
           srv=None, rounding="nearest"):
    """The server half (srv, else build()'s) through a ServerBoundary on
    link, until the device closes: the server model. record: a list that
    gets (received a, received b, gradient of a, gradient of b) per
    training step. build() seeds torch's global generator: threads build
    first, then train."""
    srv = srv if srv is not None else build()[1]
    osrv = optimizer(srv)
    cut = mwt.ServerBoundary(link, codec=codec, ratio=ratio, bits=bits,
                             rounding=rounding)
    for step in cut:
        a, b, c = step.tensors
        y, = step.labels
        if not step.training:
            with torch.no_grad():
                step.reply(srv(a, b))
            continue
        loss = F.cross_entropy(srv(a, b), y)
        osrv.zero_grad()
        loss.backward()          # sends the gradients of a, b (c: None)
        osrv.step()
        if record is not None:
            record.append((a.detach().clone(), b.detach().clone(),
                           a.grad.clone(), b.grad.clone()))
        step.reply(loss.detach().reshape(1))
    return srv


def same_bits(x, y):
    """Bit-identical tensors (NaN and -0 included)."""
    return (x.dtype == y.dtype and x.shape == y.shape and
            x.detach().contiguous().numpy().tobytes() ==
            y.detach().contiguous().numpy().tobytes())


def differing(m1, m2):
    """Names of parameters and buffers of m1 and m2 that differ in a
    bit."""
    s1, s2 = m1.state_dict(), m2.state_dict()
    return [k for k in s1 if not same_bits(s1[k], s2[k])]
