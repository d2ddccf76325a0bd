# SPDX-License-Identifier: BSD-3-Clause
"""maskwire: send and receive tensors through a local maskwire data plane.

The training process attaches to the shared-memory region its data plane
created (named on the data plane's command line) and exchanges dense
tensors with it; the data plane encodes them (MS, top-k, ...) on the wire.
Received tensors are zero-copy numpy/torch views of the shared buffers.

    import maskwire
    with maskwire.Client("maskwire0") as mw:
        mw.send(activations, kind="activation", tag=step,
                codec="ms", ratio=0.99, bits=2)
        with mw.recv(timeout=10.0) as rx:      # released on exit
            grad = rx.tensor                   # a view: copy to keep it

Timeouts are in seconds: None waits without limit, 0 never waits (raises
TryAgain when the call would wait), t > 0 waits at most t (raises Timeout).
A dead, restarted or closed data plane raises ResetError / ShutdownError
from every call; close the client and attach again.

maskwire.torch builds a split-learning boundary for PyTorch models on top
of Client (docs/PYTHON.md). libmaskwire.so is found as library_path()
says.
"""

import ctypes
from typing import (Any, Dict, List, NamedTuple, Optional, Sequence, Tuple,
                    Union)

from . import _lib

__all__ = [
    "Client", "Received", "TxBuffer", "MaskwireError", "TryAgain",
    "Timeout", "ResetError", "ShutdownError", "BusyError", "NotFound",
    "ABIError", "InvalidArgument", "LimitError", "SendFailed",
    "PartialDelivery", "Peer", "PeerInfo", "PEER_STATES", "KINDS",
    "CODECS", "DTYPES", "strerror", "library_path",
]

# ---- errors (common/mw_err.h) -------------------------------------------

ERRORS = {
    -1: "MW_EINVAL", -2: "MW_ENOSPC", -3: "MW_ENOMEM", -4: "MW_ERANGE",
    -5: "MW_ENONFINITE", -6: "MW_ETRUNC", -7: "MW_EBADMAGIC",
    -8: "MW_EVERSION", -9: "MW_EFORMAT", -10: "MW_ECOUNT", -11: "MW_EUNSUPP",
    -12: "MW_EAGAIN", -13: "MW_ELIMIT", -14: "MW_ENOENT",
    -15: "MW_ETIMEDOUT", -16: "MW_ERESET", -17: "MW_ESTATE", -18: "MW_EIO",
    -19: "MW_ECHECKSUM", -20: "MW_EDUP", -21: "MW_ECANCELED",
    -22: "MW_ESHUTDOWN", -23: "MW_EBUSY", -24: "MW_ECHANGED",
    -25: "MW_EAUTH", -26: "MW_ESTALE",
}
_E = {name: code for code, name in ERRORS.items()}
globals().update(_E)  # maskwire.MW_ECANCELED, ...

_lib_handle = None


def _L():
    global _lib_handle
    if _lib_handle is None:
        _lib_handle = _lib.load()
    return _lib_handle


def strerror(code: int) -> str:
    """Text of an mw_err code."""
    return _L().mw_strerror(int(code)).decode()


def library_path() -> str:
    """Path of the libmaskwire.so this package loaded (loading it if not
    yet). Searched in this order: $MASKWIRE_LIB (only that, when set);
    libmaskwire.so inside the installed package (copied there by pip
    install); build*/dataplane/shm/ of the source tree the package sits
    in; the system library path (ldconfig). ImportError lists what was
    tried when none loads."""
    _L()
    return _lib.loaded_path


class MaskwireError(Exception):
    """A libmaskwire call failed; .code is the negative mw_err code."""

    def __init__(self, code: int, what: str = ""):
        self.code = int(code)
        self.name = ERRORS.get(self.code, str(self.code))
        msg = f"{self.name}: {strerror(self.code)}"
        super().__init__(f"{what}: {msg}" if what else msg)


class TryAgain(MaskwireError, BlockingIOError):
    """MW_EAGAIN: a full ring or pool (timeout 0); retry later."""


class Timeout(MaskwireError, TimeoutError):
    """MW_ETIMEDOUT: nothing happened within the timeout."""


class ResetError(MaskwireError, ConnectionError):
    """MW_ERESET: the data plane died, restarted or dropped this client."""


class ShutdownError(ResetError):
    """MW_ESHUTDOWN: the data plane closed the region."""


class BusyError(MaskwireError):
    """MW_EBUSY: another client is attached to the region."""


class NotFound(MaskwireError, FileNotFoundError):
    """MW_ENOENT: no such region (or buffer/send)."""


class ABIError(MaskwireError):
    """MW_EBADMAGIC / MW_EVERSION / MW_EFORMAT: not a compatible region."""


class InvalidArgument(MaskwireError, ValueError):
    """MW_EINVAL / MW_EUNSUPP / MW_ERANGE: bad tensor or parameters."""


class LimitError(MaskwireError, ValueError):
    """MW_ELIMIT: larger than the pool can ever hold."""


class SendFailed(MaskwireError):
    """The data plane could not carry out a send; .code says why.

    Only success is exact: MW_ETIMEDOUT, MW_ERESET, MW_ESHUTDOWN or
    MW_ECANCELED mean the send was not confirmed, and the receiving
    application may still have got the tensor (its acknowledgements were
    lost or late, docs/PROTOCOL.md 8.4). A step that must not be applied
    twice is named by its tag and de-duplicated by the receiver."""

    def __init__(self, code: int, cookie: int, tag: Optional[int],
                 peer: Optional[int] = None):
        self.cookie = cookie
        self.tag = tag
        self.peer = peer  # the send's peer index (failures() gives it)
        to = "" if peer is None else f" to peer {peer}"
        super().__init__(code, f"send {cookie} (tag {tag}){to} failed")


class PartialDelivery(MaskwireError):
    """A tensor arrived incomplete: its delivery deadline passed before
    every segment did (docs/PROTOCOL.md 9.1). Code MW_ETRUNC.

    Client.recv() never raises it: it returns the Received with .partial
    set, .loss_map and .received_fraction. maskwire.torch raises it from
    a Link made with strict=True. .received is the Received holding what
    did arrive (missing elements zero; its buffer released like any
    other), .delivered and .total count elements; .tag and .kind are the
    tensor's."""

    def __init__(self, received: "Received", delivered: int, total: int):
        self.received = received
        self.tag = received.tag
        self.kind = received.kind
        self.delivered = int(delivered)
        self.total = int(total)
        super().__init__(_E["MW_ETRUNC"],
                         f"tensor tag {self.tag} ({self.kind}): "
                         f"{self.delivered} of {self.total} elements "
                         f"arrived by its deadline")


_CLASSES = {
    _E["MW_EAGAIN"]: TryAgain, _E["MW_ETIMEDOUT"]: Timeout,
    _E["MW_ERESET"]: ResetError, _E["MW_ESHUTDOWN"]: ShutdownError,
    _E["MW_EBUSY"]: BusyError, _E["MW_ENOENT"]: NotFound,
    _E["MW_EBADMAGIC"]: ABIError, _E["MW_EVERSION"]: ABIError,
    _E["MW_EFORMAT"]: ABIError, _E["MW_EINVAL"]: InvalidArgument,
    _E["MW_EUNSUPP"]: InvalidArgument, _E["MW_ERANGE"]: InvalidArgument,
    _E["MW_ELIMIT"]: LimitError,
}


def _check(rc, what=""):
    if rc < 0:
        raise _CLASSES.get(rc, MaskwireError)(rc, what)
    return rc


# ---- enums (common/mw_dtype.h, dataplane/shm/include/mw_shm.h,
# codec/include/mw_codec.h) ----

KINDS = {"activation": 0, "gradient": 1, "logits": 2, "labels": 3,
         "other": 4}
CODECS = {"dense": 0, "ms": 1, "ms-signed": 2, "topk": 3, "quant": 4,
          "raw": 5}
ROUNDINGS = {"nearest": 0, "floor": 1, "stochastic": 2}
SEND_RELIABLE = 0x1  # mw_client_meta.flags: MW_CLIENT_SEND_RELIABLE
# name -> (enum mw_dtype number, numpy dtype name, torch dtype name); the
# names are numpy's/torch's, not mw_dtype_name()'s ("float32", not "f32")
DTYPES = {
    "float32": (0, "float32", "float32"),
    "float16": (1, "float16", "float16"),
    "bfloat16": (2, "int16", "bfloat16"),  # numpy has no bfloat16: bits
    "float64": (3, "float64", "float64"),
    "uint8": (4, "uint8", "uint8"),
    "int8": (5, "int8", "int8"),
    "int16": (6, "int16", "int16"),
    "int32": (7, "int32", "int32"),
    "int64": (8, "int64", "int64"),
    "bool": (9, "bool", "bool"),
}
_CODE_TO_DTYPE = {v[0]: k for k, v in DTYPES.items()}
_KIND_NAMES = {v: k for k, v in KINDS.items()}
_CODEC_NAMES = {v: k for k, v in CODECS.items()}


PEER_STATES = {0: "none", 1: "down", 2: "connecting", 3: "up"}


class Peer(NamedTuple):
    """A peer of the data plane: .index (what send(peer=) and
    Received.peer name; 0 is the data plane's first --peer), its IPv4
    .address and UDP .port (None when the data plane publishes no peer
    table: an older one, which has only peer 0, or when the peer left
    before its address was read).

    .accepted: a peer the data plane accepted when it opened a session
    (--accept-peers), not a configured one. Its index is given to
    another device once it is reclaimed; .gen (the index's generation,
    0 from an older data plane) tells them apart: send(peer=) with a Peer
    fails with SendFailed (code MW_ESTALE) instead of reaching another
    device than the one this Peer names."""
    index: int
    address: Optional[str]
    port: Optional[int]
    gen: int = 0
    accepted: bool = False

    def __str__(self):
        if self.address is None:
            return f"peer {self.index}"
        return f"{self.address}:{self.port}"


class PeerInfo(NamedTuple):
    """One entry of the data plane's peer table, read now (Client.peers()).
    .state: "down" (no session), "connecting", "up", or "none" (no peer
    at this index). .restarts counts the times the peer came back with a
    new incarnation (it lost its state: a device restarted); compare it
    between calls. Counters are the data plane's, per peer: sends to it
    completed / failed, tensors from it delivered, their dense bytes."""
    peer: Peer
    state: str
    restarts: int
    sessions: int
    remote_incarnation: int
    last_reason: int
    tensors_tx: int
    tensors_rx: int
    tensors_failed: int
    dense_tx_bytes: int
    dense_rx_bytes: int
    srtt_s: float


def _ms(timeout):
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    return max(1, int(round(timeout * 1000)))


def _lookup(table, value, what):
    if isinstance(value, int):
        if value not in table.values():
            raise ValueError(f"unknown {what} {value}")
        return value
    try:
        return table[value]
    except KeyError:
        raise ValueError(f"unknown {what} {value!r}; one of "
                         f"{', '.join(table)}") from None


def _np():
    import numpy
    return numpy


def _torch():
    import torch
    return torch


def _dtype_name(x):
    """dtype name of a numpy array or torch tensor."""
    name = str(x.dtype).replace("torch.", "")
    if name not in DTYPES:
        raise ValueError(f"dtype {x.dtype} cannot be sent")
    return name


def _view(ptr, nbytes, dtype_name, shape, owner):
    """A numpy array over nbytes at ptr (no copy)."""
    np = _np()
    npdt = np.dtype(DTYPES[dtype_name][1])
    if nbytes == 0:
        return np.empty(shape, dtype=npdt)
    raw = (ctypes.c_ubyte * nbytes).from_address(ptr)
    raw._mw_owner = owner  # keeps the mapping's client alive
    return np.frombuffer(raw, dtype=npdt).reshape(shape)


def _torch_view(arr, dtype_name):
    t = _torch().from_numpy(arr)
    if dtype_name == "bfloat16":
        t = t.view(_torch().bfloat16)
    return t


class TxBuffer:
    """A send buffer in the region, filled in place through .array or
    .tensor, then sent with Client.send_buffer() (or freed with .free())."""

    def __init__(self, client: "Client", buf, shape: Sequence[int],
                 dtype_name: str):
        self._client = client
        self._buf = buf
        self.shape = tuple(shape)
        self.dtype = dtype_name
        self.array = _view(buf.data or 0, buf.len, dtype_name, self.shape,
                           client)
        self._tensor = None

    @property
    def tensor(self) -> Any:
        """torch view of the buffer (shares memory with .array)."""
        if self._tensor is None:
            self._tensor = _torch_view(self.array, self.dtype)
        return self._tensor

    def free(self) -> None:
        """Give the buffer back unsent."""
        if self._buf is not None:
            _check(_L().mw_client_free(self._client._c,
                                       ctypes.byref(self._buf)), "free")
            self._buf = None


class Received:
    """A delivered tensor: metadata and zero-copy views of its buffer.
    The views are valid until release() (or the end of a with block).
    .peer is the Peer it came from (index, address, port).

    Deadline delivery (docs/PROTOCOL.md 9.1): .partial is True when the
    sender's deadline passed before every segment arrived; the missing
    elements are zero, .loss_map lists them as (offset, count) element
    ranges (None if the data plane had no room to pass the map on),
    .elements_lost counts them and .received_fraction is the share that
    arrived (1.0 for a whole tensor, whose .loss_map is [])."""

    def __init__(self, client: "Client", rx, copy: bool):
        m = rx.meta
        self.tag = m.tag
        self.peer: Peer = client._peer(m.peer, m.peer_gen)
        self.kind = _KIND_NAMES.get(m.kind, m.kind)
        self.codec = _CODEC_NAMES.get(m.codec, m.codec)
        self.bits = m.bits
        self.ratio = m.ratio
        self.k = m.k
        self.dtype = _CODE_TO_DTYPE[m.dtype]
        self.shape = tuple(m.dims[i] for i in range(m.ndim))
        self.nbytes = rx.buf.len
        # Deadline delivery (PROTOCOL.md 9.1): what did not arrive, zeros.
        n = 1
        for d in self.shape:
            n *= d
        self.partial = bool(rx.partial)
        self.elements_lost = int(rx.elems_lost) if self.partial else 0
        self.received_fraction = (1.0 - self.elements_lost / n) if n else 1.0
        self.loss_map: Optional[List[Tuple[int, int]]] = [] \
            if not self.partial else None
        if self.partial and rx.loss:
            self.loss_map = [(int(rx.loss[i].off), int(rx.loss[i].cnt))
                             for i in range(rx.loss_cnt)]
        self._client = client
        self._buf = _buf_copy(rx.buf)
        self.array = _view(rx.buf.data or 0, rx.buf.len, self.dtype,
                           self.shape, client)
        self._tensor = None
        if copy:
            self.detach()

    @property
    def tensor(self) -> Any:
        """torch view (shares memory with .array)."""
        if self._tensor is None:
            self._tensor = _torch_view(self.array, self.dtype)
        return self._tensor

    @property
    def released(self) -> bool:
        """True once the buffer went back to the data plane."""
        return self._buf is None

    def release(self) -> None:
        """Give the buffer back to the data plane; views become invalid."""
        if self._buf is not None:
            buf, self._buf = self._buf, None
            _check(_L().mw_client_release(self._client._c, ctypes.byref(buf)),
                   "release")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._buf is not None and not self._client.closed:
            self.release()

    def detach(self) -> "Received":
        """Make .array/.tensor private copies and give the buffer back now
        (what recv(copy=True) does); returns self."""
        if self._buf is not None:
            self.array = self.array.copy()
            self._tensor = None
            self.release()
        return self

    def __repr__(self):
        return (f"<Received {self.kind} tag={self.tag} {self.dtype}"
                f"{list(self.shape)} via {self.codec} from {self.peer}>")


def _buf_copy(b):
    c = _lib.Buf()
    ctypes.memmove(ctypes.byref(c), ctypes.byref(b), ctypes.sizeof(b))
    return c


class Client:
    """One attachment to a data plane's region (one per process at a time).

    name: the region name given to the data plane ("maskwire0" is
    /dev/shm/maskwire0; a path with '/' is used as is).
    timeout: seconds to wait for the data plane to accept us.
    stale: seconds without a heartbeat, while waiting, that mean a hung
    data plane (ResetError); None disables the check.
    """

    def __init__(self, name: str, timeout: Optional[float] = 5.0,
                 stale: Optional[float] = None):
        if not isinstance(name, str) or not name:
            raise ValueError(f"region name must be a non-empty str, "
                             f"not {name!r}")
        L = _L()
        opts = _lib.AttachOpts()
        L.mw_client_opts_default(ctypes.byref(opts))
        opts.timeout_ms = _ms(timeout)
        opts.stale_ms = 0 if not stale else max(1, int(stale * 1000))
        c = ctypes.c_void_p()
        _check(L.mw_client_attach(name.encode(), ctypes.byref(opts),
                                  ctypes.byref(c)), f"attach {name!r}")
        self._c = c
        self.name = name
        self._peer_cache: Dict[int, Peer] = {}

    # -- lifecycle --

    @property
    def closed(self) -> bool:
        """True after close()."""
        return self._c is None

    def close(self) -> None:
        """Detach. Views of received or allocated buffers become invalid."""
        if self._c is not None:
            c, self._c = self._c, None
            _L().mw_client_detach(c)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _h(self):
        if self._c is None:
            raise ValueError("client is closed")
        return self._c

    def check(self) -> None:
        """Raise ResetError/ShutdownError if the data plane is gone."""
        _check(_L().mw_client_check(self._h()), "check")

    def info(self) -> Dict[str, int]:
        """Region and client facts as a dict."""
        i = _lib.Info()
        _L().mw_client_info(self._h(), ctypes.byref(i))
        return {f: getattr(i, f) for f, _ in i._fields_}

    # -- peers --

    def peers(self) -> List[PeerInfo]:
        """The data plane's peer table, read now: one PeerInfo per index
        (empty for a data plane without a table). The table is another
        process's memory: every entry is copied and checked; an entry that
        keeps changing is read again, a corrupt one raises ABIError."""
        L = _L()
        cap = 16
        for _ in range(8):
            arr = (_lib.Peer * cap)()
            n = L.mw_client_peers(self._h(), arr, cap)
            if n == _E["MW_EAGAIN"]:
                continue
            _check(n, "peers")
            if n > cap:
                cap = n
                continue
            out = []
            for p in arr[:n]:
                peer = Peer(p.index, ".".join(str(b) for b in p.ip), p.port,
                            p.gen, bool(p.flags & _lib.PEER_ACCEPTED))
                self._peer_cache[p.index] = peer
                out.append(PeerInfo(
                    peer, PEER_STATES.get(p.state, str(p.state)),
                    p.restarts, p.sessions, p.remote_inc, p.last_reason,
                    p.tensors_tx, p.tensors_rx, p.tensors_failed,
                    p.dense_tx_bytes, p.dense_rx_bytes, p.srtt_ns / 1e9))
            return out
        raise TryAgain(_E["MW_EAGAIN"], "peers: the table kept changing")

    def _peer(self, index: int, gen: Optional[int] = None) -> Peer:
        """The Peer of an index, of generation gen (None or 0: the
        current one; 0 is what an older data plane gives). Cached: a
        configured peer's never changes; the table is read again when an
        index shows a generation not seen yet."""
        if not gen:
            gen = None
        p = self._peer_cache.get(index)
        if p is not None and (gen is None or p.gen == gen):
            return p
        try:
            self.peers()
        except MaskwireError:
            pass
        p = self._peer_cache.get(index)
        if p is not None and (gen is None or p.gen == gen):
            return p
        if p is None:
            p = Peer(index, None, None, gen or 0)
            self._peer_cache[index] = p  # until peers() reads it
            return p
        # the index holds another generation now: that peer has left
        return Peer(index, None, None, gen, p.accepted)

    def _peer_dest(self, peer) -> Tuple[int, int]:
        """send()'s peer as (index, generation): None (the first), an
        index (generation 0: not checked), a Peer (its generation is
        checked) or "address:port" (the peer there now)."""
        if peer is None:
            return 0, 0
        if isinstance(peer, str):
            for info in self.peers():
                if str(info.peer) == peer:
                    return info.peer.index, info.peer.gen
            raise ValueError(f"no peer {peer!r} in the data plane's table")
        gen = 0
        if isinstance(peer, Peer):
            peer, gen = peer.index, peer.gen
        peer = int(peer)
        if not 0 <= peer < 1 << 16:
            raise ValueError(f"peer index {peer} out of range")
        return peer, int(gen)

    def _peer_index(self, peer) -> int:
        """send()'s peer as an index: None (the first), an index, a Peer
        or "address:port"."""
        return self._peer_dest(peer)[0]

    # -- sending --

    def alloc(self, shape: Sequence[int], dtype: Any = "float32",
              timeout: Optional[float] = None) -> TxBuffer:
        """A send buffer for a tensor of this shape and dtype (a name from
        DTYPES, or a numpy/torch dtype), to fill in place."""
        dtype_name = str(dtype).replace("torch.", "")
        if dtype_name not in DTYPES:
            dtype_name = str(_np().dtype(dtype))
        if dtype_name not in DTYPES:
            raise ValueError(f"dtype {dtype} cannot be sent")
        shape = tuple(int(d) for d in shape)
        n = _L().mw_client_elem_size(DTYPES[dtype_name][0])
        for d in shape:
            n *= d
        buf = _lib.Buf()
        _check(_L().mw_client_alloc(self._h(), n, _ms(timeout),
                                    ctypes.byref(buf)), "alloc")
        return TxBuffer(self, buf, shape, dtype_name)

    def send_buffer(self, tb: TxBuffer, kind: Union[str, int] = "other",
                    tag: int = 0, codec: Union[str, int, None] = None,
                    ratio: Optional[float] = None, k: int = 0,
                    bits: Optional[int] = None,
                    rounding: Union[str, int] = "nearest",
                    timeout: Optional[float] = None,
                    wait: bool = False, peer=None,
                    reliable: bool = False) -> int:
        """Send a filled TxBuffer (it belongs to the library afterwards).
        Returns the send's cookie; with wait=True, waits for the outcome
        (raising SendFailed on failure). peer, reliable: as for send()."""
        if tb._buf is None:
            raise ValueError("buffer already sent or freed")
        if len(tb.shape) > _lib.MAX_DIMS:
            raise ValueError(f"rank {len(tb.shape)} > {_lib.MAX_DIMS}")
        m = _lib.Meta()
        m.tag = int(tag) & ((1 << 64) - 1)
        m.ndim = len(tb.shape)
        for i, d in enumerate(tb.shape):
            if d >= 1 << 32:
                raise ValueError(f"dimension {d} too large")
            m.dims[i] = d
        m.dtype = DTYPES[tb.dtype][0]
        m.kind = _lookup(KINDS, kind, "kind")
        if codec is None:
            codec = "dense" if tb.dtype == "float32" else "raw"
        m.codec = _lookup(CODECS, codec, "codec")
        sparse = m.codec in (CODECS["ms"], CODECS["ms-signed"],
                             CODECS["topk"])
        if bits is None:
            bits = {CODECS["ms"]: 2, CODECS["ms-signed"]: 2,
                    CODECS["quant"]: 3}.get(m.codec, 0)
        m.bits = int(bits)
        m.rounding = _lookup(ROUNDINGS, rounding, "rounding")
        m.k = int(k)
        m.peer, m.peer_gen = self._peer_dest(peer)
        m.ratio = float(ratio if ratio is not None else
                        (0.99 if sparse and not k else 0.0))
        m.flags = SEND_RELIABLE if reliable else 0
        cookie = _check(_L().mw_client_send(
            self._h(), ctypes.byref(tb._buf), ctypes.byref(m),
            _ms(timeout)), "send")
        tb._buf = None
        if wait:
            self.wait(cookie, timeout)
        return cookie

    def send(self, x: Any, kind: Union[str, int] = "other", tag: int = 0,
             codec: Union[str, int, None] = None,
             ratio: Optional[float] = None, k: int = 0,
             bits: Optional[int] = None,
             rounding: Union[str, int] = "nearest",
             timeout: Optional[float] = None, wait: bool = False,
             peer=None, reliable: bool = False) -> int:
        """Copy a numpy array or torch tensor into the region and send it.
        peer: where to (None: the data plane's first peer), an index, a
        Peer (e.g. a Received's .peer) or "address:port"; an index the
        data plane has no peer for fails the send (SendFailed, MW_ENOENT).
        A Peer's generation is checked: if its index names another peer
        now (an accepted device left and another took its index) the send
        fails with SendFailed code MW_ESTALE. A bare index is not checked,
        and is refused for an accepted peer's index (MW_ESTALE): pass the
        Peer (rx.peer, Client.peers()) to send to an accepted device.
        codec: "dense" (default for float32), "ms", "ms-signed", "topk",
        "quant", "raw" (default for other dtypes). bits defaults to 2 for
        MS, 3 for quant; ratio to 0.99 for sparse codecs.
        reliable=True: no deadline for this tensor even from a data plane
        started with --deadline-ms (it is delivered whole or fails), e.g.
        an evaluation's tensors; InvalidArgument (MW_EUNSUPP) from a
        data plane too old to honour it.
        Returns the cookie (see wait()); wait=True waits for the outcome.
        A full ring/pool raises TryAgain (timeout 0) or Timeout."""
        np = _np()
        if type(x).__module__.startswith("torch"):
            t = x.detach().cpu().contiguous()
            dtype_name = _dtype_name(t)
            if dtype_name == "bfloat16":
                t = t.view(_torch().int16)
            arr = t.numpy()
        else:
            arr = np.asarray(x)
            dtype_name = _dtype_name(arr)
        tb = self.alloc(arr.shape, dtype_name, timeout)
        try:
            if arr.size:
                np.copyto(tb.array, arr.view(tb.array.dtype),
                          casting="no")
            return self.send_buffer(tb, kind, tag, codec, ratio, k, bits,
                                    rounding, timeout, wait, peer, reliable)
        finally:
            if tb._buf is not None:
                tb.free()

    def wait(self, cookie: int, timeout: Optional[float] = None) -> None:
        """Wait for a send's outcome; raises SendFailed if it failed.
        A failure already taken by failures() is not raised again."""
        st = ctypes.c_int()
        _check(_L().mw_client_wait(self._h(), int(cookie), _ms(timeout),
                                   ctypes.byref(st)), "wait")
        if st.value:
            raise SendFailed(st.value, cookie, None)

    def failures(self) -> List[SendFailed]:
        """Sends that failed and were not waited for, oldest first: a list
        of SendFailed (with .cookie, .tag, .peer, .code: .peer is the
        index the send named, so a server of many devices can tell which
        one a failure concerns). Take them now and then:
        untaken failures eventually make send() wait (back-pressure)."""
        out = []
        f = _lib.Failure()
        while _check(_L().mw_client_poll_failure(self._h(), ctypes.byref(f)),
                     "poll_failure"):
            out.append(SendFailed(f.status, f.cookie, f.tag, f.peer))
        return out

    # -- receiving --

    def recv(self, timeout: Optional[float] = None,
             copy: bool = False) -> Received:
        """The next delivered tensor, as a Received whose .array/.tensor
        are views of the shared buffer until release(). copy=True returns
        private copies and releases the buffer at once."""
        rx = _lib.Rx()
        _check(_L().mw_client_recv(self._h(), ctypes.byref(rx), _ms(timeout)),
               "recv")
        return Received(self, rx, copy)
