"""Downloading one file: mirrors in turn, a progress bar, a checksum, an atomic rename.

The file is streamed to a temporary name in the destination folder and only renamed into
place once complete and verified; a mismatching file is deleted and the next mirror tried.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tqdm import tqdm

from .idx import DataError

CHUNK = 1 << 16


def file_digest(path: Path, algorithm: str = "md5") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fetch(url: str, tmp: Path, md5: str | None, progress: bool, timeout: float) -> None:
    h = hashlib.md5()
    with urllib.request.urlopen(url, timeout=timeout) as r, open(tmp, "wb") as f:
        total = r.headers.get("Content-Length")
        total = int(total) if total and total.isdigit() else None
        got = 0
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1], disable=not progress, leave=False
        ) as bar:
            while block := r.read(CHUNK):
                f.write(block)
                h.update(block)
                got += len(block)
                bar.update(len(block))
        f.flush()
        os.fsync(f.fileno())
    if total is not None and got != total:
        raise DataError(f"{url}: transfer interrupted after {got} of {total} bytes")
    if md5 and h.hexdigest() != md5:
        raise DataError(f"{url}: checksum mismatch (md5 {h.hexdigest()}, expected {md5}); the bad file was removed")


def download(
    urls: list[str],
    dest: Path,
    md5: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    verify: Callable[[Path], None] | None = None,
) -> Path:
    """Download `dest` from the first mirror that delivers a complete, verified file.

    `verify(path)`, if given, checks the downloaded temporary file before it is renamed into
    place (raising DataError to reject it and try the next mirror)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        try:
            _fetch(url, Path(tmp), md5, progress, timeout)
            if verify is not None:
                verify(Path(tmp))
            os.replace(tmp, dest)
            return dest
        except (urllib.error.URLError, http.client.HTTPException, OSError, DataError) as e:
            if isinstance(e, http.client.IncompleteRead):
                reason = f"transfer interrupted after {len(e.partial)} bytes"
            elif isinstance(e, urllib.error.URLError):
                reason = str(e.reason)
            else:
                reason = str(e) or e.__class__.__name__
            failures.append(f"{url}: {reason}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    raise DataError(f"could not download {dest.name} ({'; '.join(failures)})")
