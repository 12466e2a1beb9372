"""Atomic file writes: a file is either the old one or the complete new one, never half.

Write to a temporary file in the same folder, flush, fsync, then `os.replace` (atomic on
POSIX and Windows), then fsync the folder so the rename itself survives a crash.

For the reliability tests, `CONVLAB_TEST_KILL_AT_WRITE=N` makes the process SIGKILL itself in
the middle of its N-th atomic write (the temporary file half written, nothing renamed), so a
test chooses exactly where a run dies instead of racing it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

_writes = 0  # atomic writes started by this process (for CONVLAB_TEST_KILL_AT_WRITE)


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "wb"):
    """Context manager yielding a file object; on success it atomically replaces `path`.

    On any exception inside the block the temporary file is removed, `path` is left as it was,
    and the exception propagates. Raises OSError when the folder is missing or not writable."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, _mode_for(path))
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            _maybe_die_midway(f)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be fsynced
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def _maybe_die_midway(f) -> None:
    """The fault the reliability tests inject: at the chosen write, cut the temporary file to
    half and die at once (SIGKILL: no cleanup, no atexit), as a power cut or OOM kill would."""
    global _writes
    _writes += 1
    target = os.environ.get("CONVLAB_TEST_KILL_AT_WRITE")
    if target and target.isdigit() and _writes == int(target):
        from .elastic import kill_midway  # (CONVLAB_TEST_KILL_RANK=R: rank R dies instead; see there)

        kill_midway(f)


def _mode_for(path: Path) -> int:
    """Keep an existing file's permissions; new files get the usual 0666 minus the umask
    (mkstemp alone would leave them readable by the owner only)."""
    try:
        return path.stat().st_mode & 0o777
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Replace `path` with `data` atomically (see `atomic_writer`). Raises OSError as it does."""
    with atomic_writer(path, "wb") as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Replace `path` with `text` (in the locale's encoding) atomically. Raises OSError as `atomic_writer`."""
    with atomic_writer(path, "w") as f:
        f.write(text)


def refuse_existing(paths, force: bool) -> None:
    """Refuse to replace files the user already has: UserError naming the first of `paths` that exists
    (and `--force`), unless `force`. Every command that writes a file the user names checks its files
    with this before writing any of them, so a refusal leaves every existing file as it was."""
    from .errors import UserError

    if force:
        return
    for p in paths:
        if Path(p).exists():
            raise UserError(f"{p} already exists; use --force to replace it, or choose another --out")


def output_file(path: str | os.PathLike, force: bool, suffix: str | None = None) -> Path:
    """`path` checked as a file the user asked a command to write (`--out FILE`), before any work.

    Raises UserError (one line) when its folder does not exist, when it names a folder, when its
    name does not end in `suffix` (".png": what the command writes), or when it exists and not `force`."""
    from .errors import UserError

    out = Path(path)
    if out.is_dir():
        example = out / ("out" + (suffix or ""))
        raise UserError(f"{out} is a folder; --out names the file to write (for example {example})")
    if not out.parent.is_dir():
        raise UserError(f"folder {out.parent} does not exist; create it first, or choose another --out")
    if suffix and out.suffix.lower() != suffix:
        raise UserError(f"--out {out} would be a {suffix[1:].upper()} file; give it a name ending in {suffix}")
    refuse_existing([out], force)
    return out


def output_dir(path: str | os.PathLike, what: str = "") -> Path:
    """`path` as an existing folder (made with its parents).

    Raises UserError (one line saying why) when it cannot be created: a file in the way, no permission."""
    from .errors import UserError

    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {what + ' ' if what else ''}{out}: {e.strerror}") from None
    return out


def remove_stale(folder: str | os.PathLike, patterns, written) -> list[Path]:
    """Remove the files in `folder` whose names match one of `patterns` (the names, or `fnmatch` patterns
    such as `layer[0-9][0-9][0-9]_*.png`, that a command writes) but are not among `written` (the names
    this run wrote): a folder overwritten with --force then holds exactly this run's files, and any other
    file in it, not convlab's, is kept. Returns the removed paths."""
    import fnmatch

    folder, keep = Path(folder), {Path(w).name for w in written}
    removed = []
    for p in sorted(folder.iterdir()):
        if p.name not in keep and p.is_file() and any(fnmatch.fnmatchcase(p.name, pat) for pat in patterns):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def remove_if_empty(folder: str | os.PathLike) -> None:
    """Remove `folder` if it is an empty folder (one a failed run created and wrote nothing into);
    anything else is left as it is."""
    with contextlib.suppress(OSError):
        Path(folder).rmdir()
