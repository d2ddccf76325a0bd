"""Fashion-MNIST from Debian's dataset-fashion-mnist: reads the IDX files directly."""
import gzip
import os
import struct

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


class IdxError(ValueError):
    pass


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise IdxError(f"{path}: truncated IDX header")
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
              0x0D: ">f4", 0x0E: ">f8"}
    if zero != 0 or dtype_code not in dtypes or ndim == 0:
        raise IdxError(f"{path}: not an IDX file (magic {data[:4].hex()})")
    hdr = 4 + 4 * ndim
    if len(data) < hdr:
        raise IdxError(f"{path}: truncated IDX dimensions")
    dims = struct.unpack(">" + "I" * ndim, data[4:hdr])
    dt = np.dtype(dtypes[dtype_code])
    need = int(np.prod(dims)) * dt.itemsize
    if len(data) - hdr != need:
        raise IdxError(f"{path}: expected {need} data bytes, found {len(data) - hdr}")
    return np.frombuffer(data, dtype=dt, offset=hdr).reshape(dims)


def load(split, root=None):
    """Return (images float32 [N,1,28,28] normalised, labels int64 [N])."""
    root = root or os.environ.get("FMNIST_DIR", DEFAULT_DIR)
    prefix = "train" if split == "train" else "t10k"
    imgs = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    if imgs.shape[0] != labels.shape[0]:
        raise IdxError(f"{root}: {imgs.shape[0]} images but {labels.shape[0]} labels")
    x = imgs.astype(np.float32)[:, None, :, :] / 255.0
    x = (x - 0.2860) / 0.3530
    return x, labels.astype(np.int64)
