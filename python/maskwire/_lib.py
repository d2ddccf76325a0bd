# SPDX-License-Identifier: BSD-3-Clause
"""ctypes binding of libmaskwire (dataplane/shm/include/maskwire.h)."""

import ctypes
import ctypes.util
import glob
import os

MAX_DIMS = 8
PEER_ACCEPTED = 0x1  # mw_client_peer.flags: MW_CLIENT_PEER_ACCEPTED


class Meta(ctypes.Structure):
    """struct mw_client_meta"""
    _fields_ = [
        ("tag", ctypes.c_uint64),
        ("dims", ctypes.c_uint32 * MAX_DIMS),
        ("ndim", ctypes.c_uint8),
        ("dtype", ctypes.c_uint8),
        ("kind", ctypes.c_uint8),
        ("codec", ctypes.c_uint8),
        ("bits", ctypes.c_uint8),
        ("rounding", ctypes.c_uint8),
        ("peer", ctypes.c_uint16),
        ("k", ctypes.c_uint64),
        ("ratio", ctypes.c_double),
        ("peer_gen", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
    ]


class Buf(ctypes.Structure):
    """struct mw_client_buf"""
    _fields_ = [
        ("data", ctypes.c_void_p),
        ("len", ctypes.c_uint64),
        ("off", ctypes.c_uint64),
    ]


class Range(ctypes.Structure):
    """struct mw_client_range"""
    _fields_ = [("off", ctypes.c_uint64), ("cnt", ctypes.c_uint64)]


class Rx(ctypes.Structure):
    """struct mw_client_rx"""
    _fields_ = [("meta", Meta), ("buf", Buf),
                ("partial", ctypes.c_uint32), ("loss_cnt", ctypes.c_uint32),
                ("elems_lost", ctypes.c_uint64),
                ("loss", ctypes.POINTER(Range))]


class Failure(ctypes.Structure):
    """struct mw_client_failure"""
    _fields_ = [
        ("cookie", ctypes.c_int64),
        ("tag", ctypes.c_uint64),
        ("status", ctypes.c_int32),
        ("kind", ctypes.c_uint16),
        ("peer", ctypes.c_uint16),
    ]


class Info(ctypes.Structure):
    """struct mw_client_info"""
    _fields_ = [
        ("dp_generation", ctypes.c_uint64),
        ("app_gen", ctypes.c_uint64),
        ("region_size", ctypes.c_uint64),
        ("heartbeat", ctypes.c_uint64),
        ("slot_size", ctypes.c_uint32),
        ("tx_slots", ctypes.c_uint32),
        ("rx_slots", ctypes.c_uint32),
        ("tx_free_slots", ctypes.c_uint32),
        ("ring_size", ctypes.c_uint32),
        ("inflight", ctypes.c_uint32),
        ("held", ctypes.c_uint32),
        ("failures", ctypes.c_uint32),
        ("bad_deliveries", ctypes.c_uint64),
        ("wire_seq", ctypes.c_uint64),
        ("wire_tx_frames", ctypes.c_uint64),
        ("wire_tx_bytes", ctypes.c_uint64),
        ("wire_rx_frames", ctypes.c_uint64),
        ("wire_rx_bytes", ctypes.c_uint64),
        ("tensors_tx", ctypes.c_uint64),
        ("tensors_rx", ctypes.c_uint64),
        ("tensors_failed", ctypes.c_uint64),
        ("retransmits", ctypes.c_uint64),
        ("dense_tx_bytes", ctypes.c_uint64),
        ("dense_rx_bytes", ctypes.c_uint64),
        ("sends_partial", ctypes.c_uint64),
    ]


class Peer(ctypes.Structure):
    """struct mw_client_peer"""
    _fields_ = [
        ("index", ctypes.c_uint32),
        ("ip", ctypes.c_uint8 * 4),
        ("port", ctypes.c_uint16),
        ("state", ctypes.c_uint8),
        ("flags", ctypes.c_uint8),
        ("restarts", ctypes.c_uint32),
        ("sessions", ctypes.c_uint32),
        ("remote_inc", ctypes.c_uint32),
        ("last_reason", ctypes.c_int32),
        ("gen", ctypes.c_uint32),
        ("tensors_tx", ctypes.c_uint64),
        ("tensors_rx", ctypes.c_uint64),
        ("tensors_failed", ctypes.c_uint64),
        ("dense_tx_bytes", ctypes.c_uint64),
        ("dense_rx_bytes", ctypes.c_uint64),
        ("srtt_ns", ctypes.c_uint64),
    ]


class AttachOpts(ctypes.Structure):
    """struct mw_client_opts"""
    _fields_ = [("timeout_ms", ctypes.c_int32), ("stale_ms", ctypes.c_uint32)]


assert ctypes.sizeof(Meta) == 72
assert Peer.gen.offset == 28
assert ctypes.sizeof(Peer) == 80


# the path load() loaded, for maskwire.library_path()
loaded_path = None


def build_tree_libs(root):
    """libmaskwire.so of the build directories build*/ under a source
    tree: build/ first, then the others in name order."""
    paths = glob.glob(os.path.join(root, "build*", "dataplane", "shm",
                                   "libmaskwire.so"))

    def key(path):
        tree = os.path.relpath(path, root).split(os.sep)[0]
        return (tree != "build", tree)
    return sorted(paths, key=key)


def _candidates():
    env = os.environ.get("MASKWIRE_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    # copied into the package by pip install (python/setup.py)
    bundled = os.path.join(here, "libmaskwire.so")
    if os.path.exists(bundled):
        yield bundled
    # a build directory of the source tree this package sits in
    yield from build_tree_libs(os.path.dirname(os.path.dirname(here)))
    found = ctypes.util.find_library("maskwire")
    if found:
        yield found


def load():
    """Load libmaskwire.so: $MASKWIRE_LIB, else the copy inside the
    package, else <source>/build*/, else the system library path."""
    global loaded_path
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path)
            break
        except OSError as e:
            tried.append(f"{path}: {e}")
    else:
        raise ImportError(
            "libmaskwire.so not found; build it (meson/ninja), install "
            "the package from a built tree, or set MASKWIRE_LIB to its "
            "path" + ("".join("\n  " + t for t in tried)))
    P = ctypes.POINTER
    sig = {
        "mw_strerror": (ctypes.c_char_p, [ctypes.c_int]),
        "mw_client_opts_default": (None, [P(AttachOpts)]),
        "mw_client_attach": (ctypes.c_int, [ctypes.c_char_p, P(AttachOpts),
                                            P(ctypes.c_void_p)]),
        "mw_client_detach": (None, [ctypes.c_void_p]),
        "mw_client_check": (ctypes.c_int, [ctypes.c_void_p]),
        "mw_client_alloc": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64,
                                           ctypes.c_int, P(Buf)]),
        "mw_client_free": (ctypes.c_int, [ctypes.c_void_p, P(Buf)]),
        "mw_client_send": (ctypes.c_int64, [ctypes.c_void_p, P(Buf),
                                            P(Meta), ctypes.c_int]),
        "mw_client_wait": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64,
                                          ctypes.c_int, P(ctypes.c_int)]),
        "mw_client_poll_failure": (ctypes.c_int, [ctypes.c_void_p,
                                                  P(Failure)]),
        "mw_client_recv": (ctypes.c_int, [ctypes.c_void_p, P(Rx),
                                          ctypes.c_int]),
        "mw_client_release": (ctypes.c_int, [ctypes.c_void_p, P(Buf)]),
        "mw_client_info": (ctypes.c_int, [ctypes.c_void_p, P(Info)]),
        "mw_client_peers": (ctypes.c_int, [ctypes.c_void_p, P(Peer),
                                           ctypes.c_uint]),
        "mw_client_elem_size": (ctypes.c_uint, [ctypes.c_uint]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    loaded_path = path
    return lib
