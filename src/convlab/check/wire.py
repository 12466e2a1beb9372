"""Messages between convlab and the learner's process: a length, then `torch.save` bytes.

Both sides load with `weights_only=True`, so a message can hold tensors, numbers, strings,
lists and dicts, and nothing that runs code when it is read.
"""

from __future__ import annotations

import io
import os
import select
import struct
import time
from typing import Any

import torch

HEADER = struct.Struct("<Q")


class Timeout(Exception):
    """The other side did not answer in time."""


class Closed(Exception):
    """The other side closed its end (the process ended)."""


def encode(obj: Any) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    return HEADER.pack(len(data)) + data


def send(fd: int, obj: Any) -> None:
    view = memoryview(encode(obj))
    while view:
        view = view[os.write(fd, view) :]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    chunks, left = [], n
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise Timeout
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise Closed
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(fd: int, timeout: float | None = None) -> Any:
    """One message from fd; Timeout if none arrives within `timeout` seconds, Closed at end of file."""
    deadline = None if timeout is None else time.monotonic() + timeout
    (n,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    return torch.load(io.BytesIO(_read_exact(fd, n, deadline)), weights_only=True)
