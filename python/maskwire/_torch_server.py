# SPDX-License-Identifier: BSD-3-Clause
"""The server side of maskwire.torch: Step, ServerBoundary and Server (one
server process, many devices). Import them from maskwire.torch; this
module only holds them (docs/PYTHON.md)."""
import collections
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch

from . import MW_ETIMEDOUT, Client, Peer, SendFailed, Timeout
from .torch import (DATA, GRAD, MAX_TENSORS, REPLY, _F_GRAD, _F_LABEL, _VISIT,
                    BoundaryError, Link, PeerClosed, PeerFailed, ProtocolError,
                    _codec_kw, _Crowded, _kw_for, _NewSession, _starts_session,
                    _tensors, _to_device)


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
              k: int = 0, reliable: bool = False) -> None:
        """Send tensors back to the device for this step (logits, loss,
        metrics): Boundary.reply() there. Once per step; float32 tensors
        with codec, others raw. reliable=True: without the data plane's
        deadline (--deadline-ms), whole or failed."""
        ts = _tensors("replies", tensors)
        if not ts or len(ts) > MAX_TENSORS:
            raise ValueError(f"1 to {MAX_TENSORS} tensors, not {len(ts)}")
        if self._replied:
            raise BoundaryError(f"step {self.index} was already replied to")
        kw = _codec_kw(codec, ratio, bits, k)
        self._replied = True
        self._boundary.link._send(REPLY, self.index,
                                  [(t, "logits", 0, _kw_for(t, kw))
                                   for t in ts], self._boundary.timeout,
                                  reliable)

    def release(self) -> None:
        """Give the shared buffers back now (the next recv() does it)."""
        for rx in self._rx:
            if not rx.released:
                rx.release()
        self._rx = []


class ServerBoundary:
    """The server side of a cut: recv() (or iteration) returns each step
    the device sends, in order, as a Step.

    codec, ratio, bits, k, rounding: how the data plane encodes the
    gradients it sends back (float32; maskwire.Client.send; "stochastic"
    rounding keeps signed MS's gradients unbiased, docs/CODEC.md).
    device: where the step's tensors are put (default CPU, zero-copy).
    copy: private CPU copies in place of views. timeout: seconds recv()
    waits by default (the link's).

    A training step's gradient is sent at the end of the backward pass
    that reaches its tensors (None for a tensor it does not reach). The
    next recv() raises BoundaryError if it was not.
    """

    def __init__(self, link: Link, codec: str = "dense",
                 ratio: Optional[float] = None, bits: Optional[int] = None,
                 k: int = 0, device: Union[str, torch.device, None] = None,
                 copy: bool = False, timeout: Optional[float] = -1,
                 rounding: str = "nearest"):
        self._kw = _codec_kw(codec, ratio, bits, k, rounding)
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
    ratio, bits, k, rounding, device, copy: as for ServerBoundary;
    timeout: as for Link.

    Iterating yields the devices' steps as they come, in turn: the peers
    are visited round-robin and each visit yields the peer's next step if
    it has arrived, so a device that is slow or late holds up nobody but
    itself. It ends when no device is left in the rotation (each closed
    its link or was dropped). A device silent for longer than timeout
    (killed without a word, or hung) is dropped as a failed one is, with
    maskwire.Timeout as its error, while other devices are served; the
    last device in the rotation silent that long raises maskwire.Timeout
    instead. Each Step has .peer; its gradient (and
    reply) goes to that peer. recv(peer) waits for one peer's next step.
    close() (or the end of a with block) tells every device the server
    is done.

    A device that fails is dropped, the others are served on. It fails
    when it is silent for longer than timeout (above), when a send to it
    fails (maskwire.SendFailed: a gradient or reply its
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
                 on_join: Optional[Callable[[Peer], None]] = None,
                 rounding: str = "nearest"):
        if isinstance(shm, Client):
            self.client, self._own = shm, False
        else:
            self.client, self._own = Client(shm, timeout=attach_timeout), True
        self._args = dict(codec=codec, ratio=ratio, bits=bits, k=k,
                          device=device, copy=copy, rounding=rounding)
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
                                                          **self._args)
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
                        e = Timeout(MW_ETIMEDOUT,
                                    f"no step from {self.links[i].peer} "
                                    f"for {quiet:.0f} s")
                        # the last device: nobody is served any more
                        if len(self.open) == 1:
                            raise e from None
                        self._drop(i, e)
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
