"""The training loop's view of its local maskwire: send, receive, counters."""
import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(_here, "..", "..", "python"))
import maskwire  # noqa: E402


class MaskwireLink:
    """Send/receive dense torch tensors through a maskwire data plane."""

    def __init__(self, shm, attach_timeout=30.0):
        self.client = maskwire.Client(shm, timeout=attach_timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()

    def _raise_failures(self):
        failed = self.client.failures()
        if failed:
            raise failed[0]

    def send(self, tensor, kind, tag, codec="dense", ratio=None, bits=None):
        """Queue a tensor for the peer (the data plane encodes it)."""
        self._raise_failures()
        self.client.send(tensor, kind=kind, tag=tag, codec=codec,
                         ratio=ratio if ratio else None,
                         bits=bits if bits else None)

    def recv(self, timeout):
        """The next tensor from the peer, as a private torch tensor, and its
        metadata (tag, kind)."""
        while True:
            self._raise_failures()
            try:
                rx = self.client.recv(timeout=min(timeout, 1.0), copy=True)
                break
            except maskwire.Timeout:
                timeout -= 1.0
                if timeout <= 0:
                    raise
        return rx.tensor, {"tag": rx.tag, "kind": rx.kind}

    def wire_bytes(self):
        """Bytes the local data plane has put on and taken off the wire, or
        None when the data plane does not publish them."""
        info = self.client.info()
        if "wire_tx_bytes" in info:
            return info["wire_tx_bytes"] + info["wire_rx_bytes"]
        return None
