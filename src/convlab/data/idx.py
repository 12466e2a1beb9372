"""The IDX format (MNIST, Fashion-MNIST, KMNIST): read and write, gzipped or raw.

Layout: two zero bytes, a dtype code, the number of dimensions, one big-endian uint32 per
dimension, then the values in big-endian row-major order. The reader checks every part
and never allocates more than the header promises and the file holds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import torch

from ..errors import UserError
from ..fsutil import atomic_writer

DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
CODES = {v.newbyteorder("=").str: k for k, v in DTYPES.items()}
MAX_BYTES = 2 << 30  # refuse headers that promise more than 2 GiB of values


class DataError(UserError):
    """A data file or folder that is missing, malformed or inconsistent."""


def _open(path: Path):
    with open(path, "rb") as f:
        head = f.read(2)
    return gzip.open(path, "rb") if head == b"\x1f\x8b" else open(path, "rb")


def _read_exact(f, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise DataError(f"{path}: truncated IDX file: expected {n} bytes of {what}, found {len(data)}")
    return data


def read_idx(path: str | Path, sha256: str | None = None) -> torch.Tensor:
    """Read an IDX file (raw or gzip, detected by content) into a tensor of its dtype.

    With `sha256`, the decompressed file (header and values) must have that digest.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with _open(path) as f:
            magic = _read_exact(f, 4, path, "magic number")
            if magic[0] != 0 or magic[1] != 0 or magic[2] not in DTYPES or magic[3] == 0:
                raise DataError(
                    f"{path}: not an IDX file (magic number {magic.hex()}, expected "
                    f"0000 + dtype code 08/09/0b/0c/0d/0e + number of dimensions)"
                )
            dtype, ndim = DTYPES[magic[2]], magic[3]
            dims = struct.unpack(f">{ndim}I", _read_exact(f, 4 * ndim, path, "dimensions"))
            count = math.prod(dims)  # exact: a hostile header cannot overflow it
            nbytes = count * dtype.itemsize
            if nbytes > MAX_BYTES:
                raise DataError(
                    f"{path}: header claims dimensions {dims} ({nbytes} bytes), "
                    f"more than convlab reads ({MAX_BYTES} bytes)"
                )
            body = _read_exact(f, nbytes, path, f"values for dimensions {dims}")
            if f.read(1):
                raise DataError(
                    f"{path}: trailing bytes after the {count} values the header declares (dimensions {dims})"
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None
    if sha256 is not None:
        digest = hashlib.sha256(magic + struct.pack(f">{ndim}I", *dims) + body).hexdigest()
        if digest != sha256:
            raise DataError(
                f"{path}: contents differ from the published file (SHA-256 {digest[:12]}…, "
                f"expected {sha256[:12]}…); delete it so a fresh copy is fetched"
            )
    array = np.frombuffer(body, dtype=dtype).reshape(dims)
    return torch.from_numpy(array.astype(dtype.newbyteorder("="), copy=True))


def read_header(path: str | Path) -> tuple[np.dtype, tuple[int, ...]]:
    """(dtype, dimensions) from an IDX header, without reading the values."""
    path = Path(path)
    try:
        with _open(path) as f:
            magic = _read_exact(f, 4, path, "magic number")
            if magic[:2] != b"\0\0" or magic[2] not in DTYPES or magic[3] == 0:
                raise DataError(f"{path}: not an IDX file (magic number {magic.hex()})")
            dims: tuple[int, ...] = struct.unpack(f">{magic[3]}I", _read_exact(f, 4 * magic[3], path, "dimensions"))
            return DTYPES[magic[2]], dims
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: corrupt or truncated gzip data ({e})") from None


def write_idx(path: str | Path, tensor: torch.Tensor | np.ndarray, compress: bool | None = None) -> None:
    """Write an IDX file atomically; gzip when `compress` or when the name ends in .gz."""
    path = Path(path)
    array = tensor.numpy() if isinstance(tensor, torch.Tensor) else np.asarray(tensor)
    key = array.dtype.newbyteorder("=").str
    if key not in CODES:
        raise DataError(f"IDX cannot store dtype {array.dtype}; use uint8, int8, int16, int32, float32 or float64")
    code = CODES[key]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    body = header + array.astype(DTYPES[code], copy=False).tobytes()
    if compress if compress is not None else path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            gz.write(body)
        body = buf.getvalue()
    with atomic_writer(path) as f:
        f.write(body)
