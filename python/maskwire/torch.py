# SPDX-License-Identifier: BSD-3-Clause
"""maskwire.torch: a split-learning boundary for PyTorch models.

Cut a model in two and put a boundary at the cut. The device half:

    link = maskwire.torch.Link("maskwire0")          # its data plane's --shm
    cut = maskwire.torch.Boundary(link, codec="ms", ratio=0.99, bits=2)
    out = cut(device_model(x), labels=y)   # sends activation and labels
    opt.zero_grad(); out.backward(); opt.step()  # gradient from the server

The server half:

    link = maskwire.torch.Link("maskwire1")
    cut = maskwire.torch.ServerBoundary(link, codec="ms-signed")
    for step in cut:                     # until the device closes its link
        loss = lossf(server_model(*step.tensors), *step.labels)
        opt.zero_grad(); loss.backward(); opt.step()  # gradient goes back

One server, several devices: each device runs its own data plane and
process as above; the server's data plane has one --peer per device, and

    srv = maskwire.torch.Server("maskwire1", codec="ms-signed")
    for step in srv:                     # the devices' steps in turn
        loss = lossf(server_model(*step.tensors), *step.labels)
        opt.zero_grad(); loss.backward(); opt.step()  # back to step.peer

Server makes one Link (Link(client, peer=i)) and ServerBoundary per peer
over one Client; a step carries its .peer and its gradient goes back to
that peer only.

A step carries several tensors and labels. It is a training step when a
tensor the device sends requires grad (and grad mode is on): the server
gets it as a leaf that requires grad and sends its gradient back at the
end of the backward pass that reaches it. Otherwise (torch.no_grad(),
evaluation) no gradient travels; the server may answer any step with
step.reply(...), which the device reads with cut.reply().

Tensors sent are copied once into the region (maskwire.Client.send).
Received tensors are zero-copy views of the shared buffers on the server
side (valid until its next recv()); the gradient arriving at the device is
copied once out of the buffer, as autograd may keep it (as a leaf's .grad).
CUDA tensors are staged through pinned host memory: device-to-host into a
pinned tensor, then into the region; received ones from the region into
a pinned tensor, then host-to-device (not zero-copy).

Errors: maskwire.Timeout (nothing from the peer in time), PeerClosed /
PeerFailed (the peer closed its link, normally or because of an
exception), ProtocolError (the peer sent something out of sequence),
BoundaryError (this side was used out of order), maskwire.SendFailed (the
data plane could not deliver a tensor), maskwire.ResetError (the local
data plane went away), maskwire.PartialDelivery (a tensor delivered
partial at its deadline, on a Link made with strict=True). A Server
drops a device whose send failed, that failed (PeerFailed) or sent out
of sequence (ProtocolError), serves the others on, and serves a device
again when it sends a new step 0. The wire format (tags) is in
docs/PYTHON.md.
"""

import collections
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from . import (CODECS, MW_ETIMEDOUT, Client, PartialDelivery, Peer,
               Received, SendFailed, Timeout, _lookup)

__all__ = ["Link", "Boundary", "ServerBoundary", "Server", "Step",
           "BoundaryError", "ProtocolError", "PeerClosed", "PeerFailed"]

# ---- tags: one 64-bit tag per tensor names its message ------------------
# bits 63-62: 0b10 (a boundary message); 61: LABEL (DATA) or ERROR (END);
# 60: GRAD (DATA: a gradient is wanted; GRAD: carries one, else None);
# 59-56: message type; 55-48: tensors in the message; 47-40: this
# tensor's index; 39-0: step.
DATA, GRAD, REPLY, END = 1, 2, 3, 4
_TYPE_NAMES = {DATA: "step", GRAD: "gradient", REPLY: "reply", END: "end"}
_MAGIC = 2 << 62
_F_LABEL = 1 << 61
_F_ERROR = 1 << 61
_F_GRAD = 1 << 60
MAX_TENSORS = 255
MAX_STEP = (1 << 40) - 1
_STASH_MAX = 1024    # tensors that arrived ahead of the one waited for
_HUB_MAX = 4096      # tensors of other peers' links held, over all peers
_VISIT = 0.002       # Server: seconds a visit waits for a peer's step
_SLICE = 0.2         # seconds per wait, between checks of send failures


def _pack(mtype: int, step: int, index: int, count: int,
          flags: int = 0) -> int:
    return (_MAGIC | flags | mtype << 56 | count << 48 | index << 40 |
            step)


def _unpack(tag: int):
    """(type, step, index, count, flags) of a boundary tag, or None."""
    if tag >> 62 != 2:
        return None
    mtype, count = tag >> 56 & 0xF, tag >> 48 & 0xFF
    index, step = tag >> 40 & 0xFF, tag & MAX_STEP
    if mtype not in _TYPE_NAMES or not count or index >= count:
        return None
    return mtype, step, index, count, tag & (_F_LABEL | _F_GRAD)


def _describe(tag: int) -> str:
    f = _unpack(tag)
    if f is None:
        return f"tensor tag {tag:#x}"
    return (f"step {f[1]}'s {_TYPE_NAMES[f[0]]} tensor "
            f"{f[2] + 1}/{f[3]}")


class BoundaryError(Exception):
    """A boundary used out of order (a step without its backward, a
    gradient taken twice...); the message says what to do."""


class ProtocolError(BoundaryError):
    """The peer sent something this side does not expect: a tensor that
    is no boundary message, a step out of sequence (a restarted peer, or
    messages of an earlier run waiting in the data plane), or an
    inconsistent message."""


class PeerClosed(BoundaryError, ConnectionError):
    """The peer closed its link; .step is the number of steps it handled.
    ServerBoundary.recv() returns None for it at a step boundary."""

    def __init__(self, msg: str, step: int):
        super().__init__(msg)
        self.step = step


class PeerFailed(PeerClosed):
    """The peer closed its link because its program raised an
    exception (or, from a Server: the device left its index to another
    device without closing its link)."""


class _Crowded(ProtocolError):
    """Too many tensors held for other peers' links (not one peer's
    fault: a Server raises it)."""


class _NewSession(ProtocolError):
    """A peer's step 0 arrived on a link past step 0: the device started
    a new session (a restarted program). .rx: that tensor, a private
    copy, for the Server to give to the device's new link."""

    def __init__(self, msg: str, rx: Received):
        super().__init__(msg)
        self.rx = rx


def _starts_session(rx: Received) -> bool:
    """Is rx a tensor of a step 0 (what a new device link sends first)?"""
    f = _unpack(rx.tag)
    return f is not None and f[0] == DATA and f[1] == 0


def _to_host(t: torch.Tensor) -> torch.Tensor:
    """t on the CPU, for Client.send (CUDA: through pinned memory)."""
    t = t.detach()
    if t.device.type == "cpu":
        return t
    if t.device.type == "cuda":
        host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
        host.copy_(t)
        return host
    return t.cpu()


def _to_device(view: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A private copy of a received view on device."""
    if device.type == "cpu":
        return view.clone()
    if device.type == "cuda":
        return view.pin_memory().to(device, non_blocking=True)
    return view.to(device)


class _Message:
    """The tensors of one message as they arrive: index -> (flags,
    tensor, Received or None)."""

    def __init__(self):
        self.count = 0
        self.parts: Dict[int, tuple] = {}

    def complete(self) -> bool:
        return self.count and len(self.parts) == self.count

    def release(self):
        for _, _, rx in self.parts.values():
            if rx is not None and not rx.released:
                rx.release()


class Link:
    """One side's channel to the peer: a maskwire.Client on the local data
    plane's region, and the order of the boundary's messages on it.

    shm: the region name given to the data plane with --shm (or an
    attached maskwire.Client, which close() then leaves attached).
    timeout: seconds a boundary waits for the peer by default (None:
    without limit). attach_timeout: seconds to wait for the data plane.
    strict: a tensor the data plane delivered partial (its deadline
    passed, docs/PROTOCOL.md 9.1) raises maskwire.PartialDelivery;
    otherwise (default) it is used as delivered, missing elements zero,
    and counted in .partial_deliveries and .elements_lost.

    peer: None (default) talks to the data plane's first peer and takes
    whatever arrives; an index (or a maskwire.Peer) sends to that peer
    only and takes only what comes from it, so several Links over one
    shared Client serve several peers: a tensor from another peer is
    kept (as a private copy, its shared buffer given back at once) for
    that peer's Link, and so is a failed send to another peer
    (maskwire.SendFailed, raised by that peer's Link). A Peer's
    generation (a device the data plane accepted, whose index can go to
    another device later) is checked: what comes from a later device at
    the same index is not this link's, and what this link sends never
    reaches it (SendFailed, MW_ESTALE).

    Use it as a context manager: on exit it tells the peer it closed, as
    failed (PeerFailed on the peer) when an exception is leaving the block.
    One Boundary or ServerBoundary per link.
    """

    def __init__(self, shm: Union[str, Client],
                 timeout: Optional[float] = 30.0,
                 attach_timeout: Optional[float] = 30.0,
                 strict: bool = False, peer: Union[int, Peer, None] = None):
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 or None, not {timeout}")
        if isinstance(shm, Client):
            self.client, self._own = shm, False
        else:
            self.client, self._own = Client(shm, timeout=attach_timeout), True
        self.timeout = timeout
        self.owner = None
        self.steps = 0            # set by the boundary: steps it handled
        self._stash: Dict[tuple, _Message] = {}
        self._stashed = 0
        self._floor = {DATA: 0, GRAD: 0, REPLY: 0}
        self._peer_end = None     # (steps, failed) once the peer closed
        self._closed = False
        self.strict = strict
        self.partial_deliveries = 0   # tensors delivered partial (9.1)
        self.elements_lost = 0        # ... elements missing from them
        self.peer: Optional[Peer] = None
        if isinstance(peer, Peer) and peer.gen:
            self.peer = peer  # that peer, not whoever holds the index
        elif peer is not None:
            self.peer = self.client._peer(self.client._peer_index(peer))
        # maskwire.torch.Server's links leave failed sends to its
        # recv(): one device's failure must not come out of another's
        # backward() or reply()
        self._failures_on_send = True

    def __enter__(self) -> "Link":
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)

    def __repr__(self):
        to = "" if self.peer is None else f" peer={self.peer}"
        return (f"<maskwire.torch.Link {self.client.name!r}{to} "
                f"steps={self.steps}>")

    @property
    def _to(self):
        """send()'s peer argument (a Peer: its generation is checked)."""
        return self.peer

    def _mine(self, p: Peer) -> bool:
        """Is a tensor or failure from peer p this link's?"""
        me = self.peer
        return me is None or (p.index == me.index and
                              (not me.gen or not p.gen or p.gen == me.gen))

    def _hub(self, name: str) -> dict:
        """State shared by the links over one Client (by peer)."""
        return self.client.__dict__.setdefault(name, {})

    def _claim(self, owner):
        if self.owner is not None:
            raise BoundaryError("this link already has a boundary; use one "
                                "Link per Boundary/ServerBoundary")
        self.owner = owner

    def wire_bytes(self) -> int:
        """Bytes of frames the local data plane sent and received."""
        info = self.client.info()
        return info["wire_tx_bytes"] + info["wire_rx_bytes"]

    def close(self, failed: bool = False) -> None:
        """Tell the peer this side is done (failed=True: because of an
        error) unless it closed first, and detach (if the link attached).
        Waits up to 2 s for the notice to be delivered (a peer that is gone
        never confirms it); errors then are not raised."""
        self._close(failed, 2.0)

    def _close(self, failed: bool, wait: Optional[float],
               tell: bool = True) -> None:
        """close(); wait None: send the notice without waiting for it
        (a peer whose sends fail would hold the caller up); tell False:
        no notice (the peer started a new session, which it would end)."""
        if self._closed:
            return
        self._closed = True
        try:
            if tell and self._peer_end is None and not self.client.closed:
                ck = self.client.send(
                    torch.zeros(1), kind="other", codec="dense",
                    tag=_pack(END, self.steps, 0, 1,
                              _F_ERROR if failed else 0),
                    timeout=1.0 if wait else 0, peer=self._to)
                if wait:
                    self.client.wait(ck, timeout=wait)
        except Exception:
            pass  # the peer or the data plane is gone: nothing to tell
        finally:
            for m in self._stash.values():
                m.release()
            self._stash.clear()
            if self.peer is not None and not self.client.closed:
                # what still comes from it, or fails to it, is nobody's
                i = self.peer.index
                self._hub("_mw_torch_failed").pop(i, None)
                q = self._hub("_mw_torch_hub").pop(i, None)
                rejoin = self.client.__dict__.get("_mw_torch_rejoin")
                keep = collections.deque()
                for rx in q or ():
                    # a Server's: the device's new session, if it began
                    if rejoin and (keep or _starts_session(rx)):
                        keep.append(rx)
                    else:
                        rx.release()
                if keep:
                    self._hub("_mw_torch_hub")[i] = keep
                else:
                    self._hub("_mw_torch_gone")[i] = self.peer
            if self._own:
                self.client.close()

    # -- sending --

    def _raise_failures(self):
        """Raise this link's oldest failed send (maskwire.SendFailed, its
        .peer the index sent to); another peer's are kept for its link."""
        # a close's notice that failed concerns nobody: its link is
        # closed (and a device back at that index is another session)
        failed = [f for f in self.client.failures()
                  if (_unpack(f.tag or 0) or (0,))[0] != END]
        if self.peer is not None:
            hub = self._hub("_mw_torch_failed")
            gone = self._hub("_mw_torch_gone")
            for f in failed:
                if f.peer not in gone:
                    hub.setdefault(f.peer, []).append(f)
            failed = hub.pop(self.peer.index, [])
        if failed:
            e, more = failed[0], len(failed) - 1
            e.args = (f"{_describe(e.tag)} did not reach the peer: {e}" +
                      (f" ({more} more failed)" if more else ""),)
            raise e

    def _send(self, mtype: int, step: int, items: Sequence[tuple],
              timeout: Optional[float]) -> None:
        """Send one message: items are (tensor, kind, flags, codec
        kwargs)."""
        if self._closed:
            raise BoundaryError("the link is closed")
        if self._peer_end is not None:
            raise PeerClosed(f"cannot send step {step}'s "
                             f"{_TYPE_NAMES[mtype]}: the peer closed its "
                             f"link after {self._peer_end[0]} steps",
                             self._peer_end[0])
        if self._failures_on_send:
            self._raise_failures()
        n = len(items)
        for i, (t, kind, flags, kw) in enumerate(items):
            self.client.send(_to_host(t), kind=kind,
                             tag=_pack(mtype, step, i, n, flags),
                             timeout=timeout, peer=self._to, **kw)

    # -- receiving --

    def _expire(self, mtype: int, step: int) -> None:
        """Messages of mtype for steps before step are no longer awaited:
        stashed ones are dropped, later ones are a protocol error (replies
        nobody asked for are dropped)."""
        self._floor[mtype] = step
        for key in [k for k in self._stash if k[0] == mtype and k[1] < step]:
            m = self._stash.pop(key)
            self._stashed -= len(m.parts)
            m.release()

    def _recv(self, mtype: int, step: int, timeout: Optional[float],
              keep: bool) -> List[tuple]:
        """The tensors of message (mtype, step) in index order, as
        (flags, tensor, Received). keep=True: zero-copy views, released by
        the caller; else private copies (Received None)."""
        key = (mtype, step)
        msg = self._stash.pop(key, None) or _Message()
        self._stashed -= len(msg.parts)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not msg.complete():
                self._raise_failures()
                self._check_end(mtype, step, timeout)
                wait = _SLICE
                if deadline is not None:
                    wait = min(wait, deadline - time.monotonic())
                    if wait <= 0:
                        raise Timeout(MW_ETIMEDOUT, self._late(mtype, step,
                                                               timeout))
                try:
                    rx = self._next(wait)
                except Timeout:
                    continue
                if rx.partial:
                    self.partial_deliveries += 1
                    self.elements_lost += rx.elements_lost
                    if self.strict:
                        total = rx.nbytes // max(rx.array.itemsize, 1)
                        raise PartialDelivery(rx, total - rx.elements_lost,
                                              total)
                self._take(rx, key, msg, keep)
        except Timeout:
            # what arrived stays for the next call: nothing is lost
            if msg.parts:
                self._stash[key] = msg
                self._stashed += len(msg.parts)
            raise
        except BaseException:
            msg.release()
            raise
        return [msg.parts[i] for i in range(msg.count)]

    def _next(self, wait: float) -> Received:
        """The next tensor from this link's peer (any peer's when the link
        has none); Timeout after wait seconds."""
        if self.peer is None:
            return self.client.recv(timeout=wait)
        hub = self._hub("_mw_torch_hub")
        gone = self._hub("_mw_torch_gone")
        rejoin = self.client.__dict__.get("_mw_torch_rejoin")
        q = hub.get(self.peer.index)
        if q and rejoin:
            # another device's at this index are the Server's to judge
            k = next((k for k, rx in enumerate(q) if self._mine(rx.peer)),
                     None)
            if k is not None:
                rx = q[k]
                del q[k]
                return rx
        while q and not rejoin:
            rx = q.popleft()
            if self._mine(rx.peer):
                return rx
            rx.release()  # an earlier device at this index: not ours
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Timeout(MW_ETIMEDOUT, "recv")
            rx = self.client.recv(timeout=left)
            if self._mine(rx.peer):
                return rx
            g = gone.get(rx.peer.index)
            if g is not None and (not g.gen or g.gen == rx.peer.gen):
                if not (rejoin and _starts_session(rx)):
                    rx.release()  # its link was closed: nobody reads it
                    continue
                # the device came back: a new session, for the Server
                del gone[rx.peer.index]
            if sum(len(v) for v in hub.values()) >= _HUB_MAX:
                rx.release()
                raise _Crowded(
                    f"{_HUB_MAX} tensors of other peers arrived while "
                    f"{self.peer} was awaited: are their links read?")
            # a copy: a shared buffer held for a slow peer's link would
            # take RX pool room from every peer
            hub.setdefault(rx.peer.index,
                           collections.deque()).append(rx.detach())

    def _late(self, mtype, step, timeout):
        closed = ""
        if self._peer_end is not None:
            closed = f" (it closed its link after {self._peer_end[0]} steps)"
        return {
            DATA: f"step {step} did not arrive from the device within "
                  f"{timeout:g} s{closed}: is it running, attached to its "
                  f"data plane?",
            GRAD: f"no gradient for step {step} from the server within "
                  f"{timeout:g} s{closed}: did it run backward() through "
                  f"the step's tensors?",
            REPLY: f"no reply for step {step} from the server within "
                   f"{timeout:g} s{closed}: did it call step.reply()?",
        }[mtype]

    def _check_end(self, mtype, step, timeout):
        if self._peer_end is None:
            return
        steps, failed = self._peer_end
        who = "failed" if failed else "closed its link"
        if failed:
            raise PeerFailed(f"the peer {who} after {steps} steps, while "
                             f"this side waited for step {step}'s "
                             f"{_TYPE_NAMES[mtype]}", steps)
        # a normal close: what it sent before may still be on its way
        if mtype == DATA and step >= steps:
            raise PeerClosed(f"the peer closed its link after {steps} "
                             f"steps", steps)
        if mtype != DATA and step >= steps:
            raise PeerClosed(f"the peer closed its link after {steps} "
                             f"steps, before step {step}'s "
                             f"{_TYPE_NAMES[mtype]}", steps)

    def _take(self, rx: Received, key: tuple, msg: _Message,
              keep: bool) -> None:
        f = _unpack(rx.tag)
        if f is None:
            desc = repr(rx)
            rx.release()
            raise ProtocolError(f"the peer sent {desc}, which is not a "
                                f"boundary message (tag {rx.tag:#x}): is "
                                f"it using maskwire.torch?")
        mtype, step, index, count, flags = f
        if mtype == END:
            rx.release()
            self._peer_end = (step, bool(flags & _F_ERROR))
            return
        if (mtype == DATA and step == 0 and self._floor[DATA] > 0 and
                self.client.__dict__.get("_mw_torch_rejoin")):
            raise _NewSession(
                f"{_describe(rx.tag)} arrived after step "
                f"{self._floor[mtype]} was reached: the peer restarted "
                f"(a new session)", rx.detach())
        if step < self._floor[mtype]:
            rx.release()
            if mtype == REPLY:
                return  # a reply nobody waited for
            raise ProtocolError(
                f"{_describe(rx.tag)} arrived after step "
                f"{self._floor[mtype]} was reached: the peer restarted, or "
                f"messages of an earlier run were waiting in the data plane")
        target = msg
        if (mtype, step) != key:
            if self._stashed >= _STASH_MAX:
                rx.release()
                raise ProtocolError(
                    f"{_STASH_MAX} tensors arrived ahead of step {key[1]}'s "
                    f"{_TYPE_NAMES[key[0]]}: the peers are out of step")
            target = self._stash.setdefault((mtype, step), _Message())
        if index in target.parts or target.count not in (0, count):
            rx.release()
            raise ProtocolError(f"{_describe(rx.tag)} duplicates or "
                                f"contradicts one already received")
        target.count = count
        if target is msg and keep:
            target.parts[index] = (flags, rx.tensor, rx)
        else:
            t = rx.tensor.clone()
            rx.release()
            target.parts[index] = (flags, t, None)
            if target is not msg:
                self._stashed += 1


def _codec_kw(codec, ratio, bits, k) -> dict:
    _lookup(CODECS, codec, "codec")  # ValueError for unknown names
    return {"codec": codec, "ratio": ratio, "bits": bits, "k": k}


def _kw_for(t: torch.Tensor, kw: dict) -> dict:
    """The boundary's codec for float32 tensors; other dtypes go raw."""
    return kw if t.dtype == torch.float32 else {"codec": "raw"}


def _tensors(what: str, ts) -> Tuple[torch.Tensor, ...]:
    if isinstance(ts, torch.Tensor):
        ts = (ts,)
    ts = tuple(ts)
    for t in ts:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what} must be torch tensors, not "
                            f"{type(t).__name__}")
    return ts


class _Cut(torch.autograd.Function):
    """The device side's node in the autograd graph: backward receives
    the step's gradients from the server."""

    @staticmethod
    def forward(ctx, boundary, step, *tensors):
        ctx.boundary, ctx.step = boundary, step
        ctx.like = [(t.shape, t.dtype, t.device) for t in tensors]
        return torch.zeros(())

    @staticmethod
    def backward(ctx, g):
        grads = ctx.boundary._gradients(ctx.step, ctx.like, g)
        return (None, None) + tuple(grads)


class Boundary(nn.Module):
    """The device side of a cut, an nn.Module.

    boundary(*tensors, labels=None) sends the tensors (the activations at
    the cut; several are fine, up to 255 with the labels) and the labels
    as one step, and returns a zero-valued scalar. In a training step (a
    tensor requires grad, grad mode on), backward() through that scalar
    receives the server's gradients and hands them to autograd, scaled by
    the scalar's own gradient (1 for .backward(); it can be added to a
    device-side loss). Otherwise the step is evaluation only: no gradient
    comes back. reply() returns what the server answered with step.reply().

    codec, ratio, bits, k: how the data plane encodes float32 tensors of
    this boundary (maskwire.Client.send); other dtypes and the labels go
    exactly (raw, or dense for float32 labels). timeout: seconds to wait
    for the server (default: the link's).
    """

    def __init__(self, link: Link, codec: str = "dense",
                 ratio: Optional[float] = None, bits: Optional[int] = None,
                 k: int = 0, timeout: Optional[float] = -1):
        super().__init__()
        self._kw = _codec_kw(codec, ratio, bits, k)
        link._claim(self)
        self.link = link
        self.timeout = link.timeout if timeout == -1 else timeout
        self._pending = None     # training step whose gradient is due

    def extra_repr(self) -> str:
        kw = self._kw
        return (f"{self.link.client.name!r}, codec={kw['codec']!r}, "
                f"ratio={kw['ratio']}, bits={kw['bits']}, step={self.step}")

    @property
    def step(self) -> int:
        """The number of steps sent so far (the next step's number)."""
        return self.link.steps

    def forward(self, *tensors: torch.Tensor,
                labels: Union[torch.Tensor, Sequence[torch.Tensor],
                              None] = None) -> torch.Tensor:
        """Send one step: tensors (activations; a gradient is asked for
        each that requires grad while grad mode is on) and labels (never
        differentiated). Returns a zero scalar whose backward() receives
        the gradients; maskwire.Timeout, PeerClosed, PeerFailed or
        SendFailed from there when they do not come."""
        acts = _tensors("activations", tensors)
        labels = _tensors("labels", () if labels is None else labels)
        if not acts:
            raise ValueError("a step needs at least one tensor")
        if len(acts) + len(labels) > MAX_TENSORS:
            raise ValueError(f"{len(acts) + len(labels)} tensors in a step; "
                             f"at most {MAX_TENSORS}")
        if self._pending is not None:
            raise BoundaryError(
                f"step {self._pending}'s gradient was never received: call "
                f"backward() on what the boundary returned before the next "
                f"step (or compute evaluation steps under torch.no_grad())")
        step = self.link.steps
        if step > MAX_STEP:
            raise BoundaryError("step numbers exhausted; use a new link")
        need = [torch.is_grad_enabled() and t.requires_grad for t in acts]
        items = [(t, "activation", _F_GRAD if n else 0, _kw_for(t, self._kw))
                 for t, n in zip(acts, need)]
        items += [(t, "labels", _F_LABEL,
                   {"codec": "dense" if t.dtype == torch.float32 else "raw"})
                  for t in labels]
        self.link._expire(REPLY, step)
        self.link._send(DATA, step, items, self.timeout)
        self.link.steps = step + 1
        if not any(need):
            return torch.zeros(())
        self._pending = step
        self.link._expire(GRAD, step)
        return _Cut.apply(self, step, *acts)

    def _gradients(self, step, like, g):
        if self._pending != step:
            raise BoundaryError(
                f"step {step}'s gradient was already received: backward() "
                f"runs once through a boundary's step")
        parts = self.link._recv(GRAD, step, self.timeout, keep=True)
        self._pending = None
        try:
            if len(parts) != len(like):
                raise ProtocolError(f"step {step}: {len(parts)} gradients "
                                    f"for {len(like)} tensors")
            out = []
            for i, ((flags, t, _), (shape, dtype, dev)) in enumerate(
                    zip(parts, like)):
                if not flags & _F_GRAD:
                    out.append(None)
                    continue
                if t.shape != shape or t.dtype != dtype:
                    raise ProtocolError(
                        f"step {step}: gradient {i} is {t.dtype} "
                        f"{list(t.shape)}, its tensor {dtype} {list(shape)}")
                if dev.type == "cpu":  # the one copy out of the buffer
                    out.append(t.mul(g))
                else:
                    out.append(_to_device(t, dev).mul_(g.to(dev)))
            return out
        finally:
            for _, _, rx in parts:
                if rx is not None:
                    rx.release()

    def reply(self, timeout: Optional[float] = -1) -> Tuple[torch.Tensor, ...]:
        """The tensors the server sent with step.reply() for the last step
        sent, as private CPU tensors. timeout: seconds (default: the
        boundary's); maskwire.Timeout if none came."""
        if self.link.steps == 0:
            raise BoundaryError("no step sent yet")
        t = self.timeout if timeout == -1 else timeout
        parts = self.link._recv(REPLY, self.link.steps - 1, t, keep=False)
        return tuple(p[1] for p in parts)


class Step:
    """One step received by a ServerBoundary.

    .index: the step's number; .peer: the maskwire.Peer it came from
    (where its gradient and reply go); .training: True when the device
    wants gradients; .tensors: the activations, leaves that require grad where
    the device wants their gradient; .labels: the labels. Zero-copy views
    of the shared buffers (private copies with ServerBoundary(copy=True)
    or a device other than the CPU), valid until the next recv().
    """

    def __init__(self, boundary, index, parts, peer=None):
        self.index = index
        self.peer: Optional[Peer] = peer
        self._boundary = boundary
        self._rx = [rx for _, _, rx in parts if rx is not None]
        self._grads: Dict[int, torch.Tensor] = {}
        self._sent = False
        self._replied = False
        dev = boundary.device
        acts, labels, self._want = [], [], []
        for flags, t, rx in parts:
            if dev.type != "cpu":
                t = _to_device(t, dev)
            if flags & _F_LABEL:
                labels.append(t)
                continue
            if flags & _F_GRAD:
                if not t.is_floating_point():
                    raise ProtocolError(f"step {index}: a gradient is wanted "
                                        f"for a {t.dtype} tensor")
                t.requires_grad_(True)
                t.register_hook(self._hook(len(acts)))
                self._want.append(len(acts))
            acts.append(t)
        if not acts:
            raise ProtocolError(f"step {index} has labels but no tensor")
        self.tensors: Tuple[torch.Tensor, ...] = tuple(acts)
        self.labels: Tuple[torch.Tensor, ...] = tuple(labels)
        self.training = bool(self._want)
        self._engine = torch.autograd.Variable._execution_engine

    def __repr__(self):
        shapes = ", ".join(f"{list(t.shape)}" for t in self.tensors)
        return (f"<Step {self.index} {'training' if self.training else 'eval'}"
                f" from {self.peer} tensors {shapes}, {len(self.labels)} "
                f"label tensor(s)>")

    def _hook(self, i):
        def hook(g):
            if self._sent:
                raise BoundaryError(
                    f"step {self.index}: a second backward() reached the "
                    f"received tensors after their gradient was sent; sum "
                    f"the losses and call backward() once")
            if not self._grads:  # first in this backward pass
                self._engine.queue_callback(self._send_gradients)
            self._grads[i] = g if i not in self._grads else self._grads[i] + g
        return hook

    def _send_gradients(self):
        self._sent = True
        b = self._boundary
        items = []
        for i, t in enumerate(self.tensors):
            g = self._grads.get(i)
            if g is None:  # not wanted, or backward did not reach it
                items.append((torch.zeros(1), "gradient", 0,
                              {"codec": "dense"}))
            else:
                items.append((g, "gradient", _F_GRAD, _kw_for(g, b._kw)))
        b.link._send(GRAD, self.index, items, b.timeout)
        self._grads.clear()

    def reply(self, *tensors: torch.Tensor, codec: str = "dense",
              ratio: Optional[float] = None, bits: Optional[int] = None,
              k: int = 0) -> None:
        """Send tensors back to the device for this step (logits, loss,
        metrics): Boundary.reply() there. Once per step; float32 tensors
        with codec, others raw."""
        ts = _tensors("replies", tensors)
        if not ts or len(ts) > MAX_TENSORS:
            raise ValueError(f"1 to {MAX_TENSORS} tensors, not {len(ts)}")
        if self._replied:
            raise BoundaryError(f"step {self.index} was already replied to")
        kw = _codec_kw(codec, ratio, bits, k)
        self._replied = True
        self._boundary.link._send(REPLY, self.index,
                                  [(t, "logits", 0, _kw_for(t, kw))
                                   for t in ts], self._boundary.timeout)

    def release(self) -> None:
        """Give the shared buffers back now (the next recv() does it)."""
        for rx in self._rx:
            if not rx.released:
                rx.release()
        self._rx = []


class ServerBoundary:
    """The server side of a cut: recv() (or iteration) returns each step
    the device sends, in order, as a Step.

    codec, ratio, bits, k: how the data plane encodes the gradients it
    sends back (float32; maskwire.Client.send). device: where the step's
    tensors are put (default CPU, zero-copy). copy: private CPU copies in
    place of views. timeout: seconds recv() waits by default (the
    link's).

    A training step's gradient is sent at the end of the backward pass
    that reaches its tensors (None for a tensor it does not reach). The
    next recv() raises BoundaryError if it was not.
    """

    def __init__(self, link: Link, codec: str = "dense",
                 ratio: Optional[float] = None, bits: Optional[int] = None,
                 k: int = 0, device: Union[str, torch.device, None] = None,
                 copy: bool = False, timeout: Optional[float] = -1):
        self._kw = _codec_kw(codec, ratio, bits, k)
        link._claim(self)
        self.link = link
        self.device = torch.device(device or "cpu")
        self.copy = copy
        self.timeout = link.timeout if timeout == -1 else timeout
        self._current: Optional[Step] = None

    def __repr__(self):
        return (f"<maskwire.torch.ServerBoundary {self.link.client.name!r} "
                f"codec={self._kw['codec']!r} step={self.link.steps}>")

    def _finish(self):
        st, self._current = self._current, None
        if st is None:
            return
        st.release()
        if st.training and not st._sent:
            raise BoundaryError(
                f"step {st.index}: no backward() reached its tensors, so "
                f"the device got no gradient; run backward() before the "
                f"next recv()")

    def recv(self, timeout: Optional[float] = -1) -> Optional[Step]:
        """The next step, or None once the device closed its link.
        Releases the previous step's buffers. Raises maskwire.Timeout when
        no step came within timeout seconds (default: the boundary's)."""
        self._finish()
        t = self.timeout if timeout == -1 else timeout
        index = self.link.steps
        try:
            parts = self.link._recv(DATA, index, t,
                                    keep=not self.copy and
                                    self.device.type == "cpu")
        except PeerClosed as e:
            if isinstance(e, PeerFailed):
                raise
            return None
        self.link.steps = index + 1
        self.link._expire(DATA, index + 1)
        peer = self.link.peer
        if peer is None:
            peer = next((rx.peer for _, _, rx in parts if rx is not None),
                        None)
        try:
            self._current = Step(self, index, parts, peer)
        except BaseException:
            for _, _, rx in parts:
                if rx is not None:
                    rx.release()
            raise
        return self._current

    def __iter__(self):
        while True:
            st = self.recv()
            if st is None:
                return
            yield st

    def close(self) -> None:
        """Release the current step's buffers (the link stays open)."""
        st, self._current = self._current, None
        if st is not None:
            st.release()


class Server:
    """One server half serving several devices through one data plane:
    a ServerBoundary per peer over one shared Client.

    shm: the region of the server's data plane (or an attached Client).
    peers: peer indices (or Peers) to serve; default None: every device
    of the data plane, those in its table now and those that turn up
    while iterating (devices it accepts later, --accept-peers). codec,
    ratio, bits, k, device, copy: as for ServerBoundary; timeout: as for
    Link.

    Iterating yields the devices' steps as they come, in turn: the peers
    are visited round-robin and each visit yields the peer's next step if
    it has arrived, so a device that is slow or late holds up nobody but
    itself. It ends when no device is left in the rotation (each closed
    its link or was dropped); a device silent for longer than timeout
    raises maskwire.Timeout. Each Step has .peer; its gradient (and
    reply) goes to that peer. recv(peer) waits for one peer's next step.
    close() (or the end of a with block) tells every device the server
    is done.

    A device that fails is dropped, the others are served on. It fails
    when a send to it fails (maskwire.SendFailed: a gradient or reply its
    data plane could not deliver; not raised from backward() or reply()
    of any step, found when the iteration next visits the device), when
    it closed its link because of an error (PeerFailed), when it sent
    something out of sequence (ProtocolError: a restarted device), or
    when another device took its index (an accepted device's slot
    reused: PeerFailed). Dropped: its link is closed as failed (the
    device gets PeerFailed instead of waiting for its gradient), it
    leaves the rotation, on_failure(peer, error) is called if given, and
    .failed maps its index to the error. recv(peer) raises the error
    instead (the caller decides).

    Devices join while iterating: a device's step 0 arriving from an
    index (and generation) the rotation does not hold starts a new Link
    and ServerBoundary for it, and it is served from that step on, with
    nothing for the training loop to do: a device that was dropped or
    closed and came back (a restarted program: its steps start at 0
    again; an accepted device: a new generation), or, with peers=None,
    one accepted after the Server started. A device back from a failure
    leaves .failed. on_join(peer) is called if given. What comes from an
    index the Server does not serve (peers given) is left for other
    Links on the Client; with peers=None what comes from a device
    outside the rotation that is not a step 0 is given back.
    """

    def __init__(self, shm: Union[str, Client],
                 peers: Optional[Sequence[Union[int, Peer]]] = None,
                 codec: str = "dense", ratio: Optional[float] = None,
                 bits: Optional[int] = None, k: int = 0,
                 device: Union[str, torch.device, None] = None,
                 copy: bool = False, timeout: Optional[float] = 30.0,
                 attach_timeout: Optional[float] = 30.0,
                 strict: bool = False,
                 on_failure: Optional[Callable[[Peer, Exception],
                                               None]] = None,
                 on_join: Optional[Callable[[Peer], None]] = None):
        if isinstance(shm, Client):
            self.client, self._own = shm, False
        else:
            self.client, self._own = Client(shm, timeout=attach_timeout), True
        self._args = (codec, ratio, bits, k, device, copy)
        self._strict = strict
        self.timeout = timeout
        self.links: Dict[int, Link] = {}
        self.boundaries: Dict[int, ServerBoundary] = {}
        self.open: List[int] = []      # peers in the rotation
        try:
            self._all = peers is None  # serve devices that turn up
            if peers is None:
                peers = [p.peer for p in self.client.peers()
                         if p.state != "none"] or [0]
            for p in peers:
                peer = (p if isinstance(p, Peer) and p.gen else
                        self.client._peer(self.client._peer_index(p)))
                if peer.index in self.links:
                    raise ValueError(f"peer {peer} given twice")
                self._serve(peer)
        except BaseException:
            if self._own:
                self.client.close()
            raise
        self._indices = set(self.links)  # peers given: only these
        # Links over this Client keep a device's new session (its step
        # 0) for the Server instead of giving it back
        self.client.__dict__["_mw_torch_rejoin"] = True
        self.on_failure = on_failure
        self.on_join = on_join
        # peers dropped (index -> SendFailed, PeerFailed, ProtocolError)
        self.failed: Dict[int, Exception] = {}
        self._heard: Dict[int, float] = {}

    def _serve(self, peer: Peer) -> None:
        """A new Link and ServerBoundary for peer, in the rotation."""
        link = Link(self.client, timeout=self.timeout, strict=self._strict,
                    peer=peer)
        link._failures_on_send = False  # to recv(): its device
        self.links[link.peer.index] = link
        self.boundaries[link.peer.index] = ServerBoundary(link,
                                                          *self._args)
        self.open.append(link.peer.index)

    @property
    def peers(self) -> List[Peer]:
        """The peers served (the latest device at each index), in the
        order they joined."""
        return [link.peer for link in self.links.values()]

    def __repr__(self):
        return (f"<maskwire.torch.Server {self.client.name!r} "
                f"{len(self.open)}/{len(self.links)} peers open>")

    def recv(self, peer: Union[int, Peer],
             timeout: Optional[float] = -1) -> Optional[Step]:
        """The next step of one peer, or None once it closed its link."""
        i = self.client._peer_index(peer)
        st = self.boundaries[i].recv(timeout)
        if st is None and i in self.open:
            self.open.remove(i)
        return st

    def _admit(self) -> None:
        """Devices that sent a step 0 and are not in the rotation join
        it (a new Link); what else came from outside it is given back."""
        hub = self.client.__dict__.get("_mw_torch_hub")
        if not hub:
            return
        for i, q in list(hub.items()):
            if not q or not (self._all or i in self._indices):
                continue
            cur = self.links.get(i) if i in self.open else None
            foreign = [rx for rx in q
                       if cur is None or not cur._mine(rx.peer)]
            if not foreign:
                continue
            start = next((rx for rx in foreign if _starts_session(rx)),
                         None)
            if start is None:
                for rx in foreign:  # leftovers of a device gone
                    q.remove(rx)
                    rx.release()
                continue
            new = start.peer
            del hub[i]              # _drop would give it back
            if cur is not None:     # its index holds another device now
                self._drop(i, PeerFailed(
                    f"{cur.peer} left without closing its link: index "
                    f"{i} holds {new} (generation {new.gen}) now",
                    cur.steps))
            old = self.links.get(i)
            if old is not None and not old._closed:
                old._closed = True  # closed by the device: its leftovers
                self.boundaries[i].close()
                for m in old._stash.values():
                    m.release()
                old._stash.clear()
            keep = collections.deque()
            for rx in q:  # from the new device's step 0 on
                if rx.peer.gen == new.gen and (keep or rx is start):
                    keep.append(rx)
                else:
                    rx.release()
            hub[i] = keep
            self._hub_gone().pop(i, None)
            self.failed.pop(i, None)
            self._serve(new)
            self._heard[i] = time.monotonic()
            if self.on_join is not None:
                self.on_join(self.links[i].peer)

    def _hub_gone(self) -> dict:
        return self.client.__dict__.setdefault("_mw_torch_gone", {})

    def __iter__(self):
        self._heard = {i: time.monotonic() for i in self.open}
        while self.open:
            for i in list(self.open):
                self._admit()
                if i not in self.open:
                    continue
                try:
                    st = self.recv(i, timeout=_VISIT)
                except _Crowded:
                    raise
                except _NewSession as e:
                    # the device restarted: drop the old session, its
                    # step 0 starts the new one (next _admit())
                    self._drop(i, e, tell=False)
                    hub = self.client.__dict__.setdefault("_mw_torch_hub",
                                                          {})
                    hub.setdefault(i, collections.deque()).appendleft(e.rx)
                    self._hub_gone().pop(i, None)
                    continue
                except (SendFailed, PeerFailed, ProtocolError) as e:
                    self._drop(i, e)
                    continue
                except Timeout:
                    quiet = time.monotonic() - self._heard[i]
                    if self.timeout is not None and quiet > self.timeout:
                        raise Timeout(MW_ETIMEDOUT,
                                      f"no step from {self.links[i].peer} "
                                      f"for {quiet:.0f} s") from None
                    continue
                self._heard[i] = time.monotonic()
                if st is not None:
                    yield st
            if not self.open:
                self._admit()  # a device back at the very end

    def _drop(self, i: int, e: Exception, tell: bool = True) -> None:
        """Stop serving peer i, which failed: tell it (without waiting:
        it may be unreachable) unless it started anew, report it."""
        if i in self.open:
            self.open.remove(i)
        self.failed[i] = e
        self.boundaries[i].close()
        self.links[i]._close(failed=True, wait=None, tell=tell)
        if self.on_failure is not None:
            self.on_failure(self.links[i].peer, e)

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)

    def close(self, failed: bool = False) -> None:
        """Release the current steps and tell every device this side is
        done (failed=True: because of an error); detach if we attached."""
        try:
            for i, b in self.boundaries.items():
                b.close()
                self.links[i].close(failed=failed)
        finally:
            self.client.__dict__.pop("_mw_torch_rejoin", None)
            if self._own and not self.client.closed:
                self.client.close()
