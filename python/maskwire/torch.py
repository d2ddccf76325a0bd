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
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from . import (CODECS, MW_ETIMEDOUT, ROUNDINGS, Client, PartialDelivery,
               Peer, Received, Timeout, _lookup)

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
              timeout: Optional[float], reliable: bool = False) -> None:
        """Send one message: items are (tensor, kind, flags, codec
        kwargs); reliable: without the data plane's deadline
        (Client.send)."""
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
                             timeout=timeout, peer=self._to,
                             reliable=reliable, **kw)

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


def _codec_kw(codec, ratio, bits, k, rounding="nearest") -> dict:
    _lookup(CODECS, codec, "codec")  # ValueError for unknown names
    _lookup(ROUNDINGS, rounding, "rounding")
    return {"codec": codec, "ratio": ratio, "bits": bits, "k": k,
            "rounding": rounding}


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

    codec, ratio, bits, k, rounding: how the data plane encodes float32
    tensors of this boundary (maskwire.Client.send); other dtypes and the
    labels go exactly (raw, or dense for float32 labels). timeout: seconds
    to wait for the server (default: the link's).
    """

    def __init__(self, link: Link, codec: str = "dense",
                 ratio: Optional[float] = None, bits: Optional[int] = None,
                 k: int = 0, timeout: Optional[float] = -1,
                 rounding: str = "nearest"):
        super().__init__()
        self._kw = _codec_kw(codec, ratio, bits, k, rounding)
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
                              None] = None,
                reliable: bool = False) -> torch.Tensor:
        """Send one step: tensors (activations; a gradient is asked for
        each that requires grad while grad mode is on) and labels (never
        differentiated). Returns a zero scalar whose backward() receives
        the gradients; maskwire.Timeout, PeerClosed, PeerFailed or
        SendFailed from there when they do not come. reliable=True sends
        the step's tensors without the data plane's deadline (--deadline-ms):
        whole or failed, never partial (e.g. an evaluation's)."""
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
        self.link._send(DATA, step, items, self.timeout, reliable)
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


# The server side lives in its own module; it is part of this one's API.
from ._torch_server import Server, ServerBoundary, Step  # noqa: E402,F401
