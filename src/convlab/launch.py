"""`convlab train --nproc N …`: torchrun (`torch.distributed.run`) run in this process.

It is `torchrun --standalone --nproc_per_node=N -m convlab train …` with the same arguments
(less `--nproc`), but torchrun's failures come back here as data — each failed rank, its exit
status or signal, and the one line a worker left in torchrun's error file — and are said in
one line instead of torchrun's traceback: a user mistake once (exit 2), a lost or failed rank
by name with where the run folder stands and the command that continues it (exit 1). A bug
in a rank keeps the traceback that rank printed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from . import elastic


def launch(nproc: int, argv: list[str], max_restarts: int = 0) -> int:
    """Run `convlab ARGV` (without --nproc, --max-restarts) in `nproc` processes, restarting them
    up to `max_restarts` times when one fails (each restart resumes the run); the exit status."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    for name in list(logging.root.manager.loggerDict):  # torchrun's own log lines: said here instead
        if name.startswith(("torch.distributed.elastic", "torch.distributed.run")):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    with tempfile.TemporaryDirectory(prefix="convlab-launch-") as tmp:
        note = Path(tmp) / "run.json"
        os.environ[elastic.NOTE_ENV] = str(note)  # rank 0 writes its run folder there
        try:
            launcher = ["--standalone", f"--nproc_per_node={nproc}", f"--max-restarts={max_restarts}"]
            run(parse_args([*launcher, "-m", "convlab", *launcher_flags_removed(argv)]))
        except ChildFailedError as e:
            line, status = summary(e.failures, note, nproc)
            print(f"convlab: error: {line}", file=sys.stderr)
            return status
        except SignalException:
            print("convlab: interrupted", file=sys.stderr)
            return 130
        finally:
            os.environ.pop(elastic.NOTE_ENV, None)
    return 0


def launcher_flags_removed(argv: list[str], flags=("--nproc", "--max-restarts")) -> list[str]:
    """The worker's arguments: `argv` without the launcher's own flags and their values."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a in flags:
            skip = True
        elif not a.startswith(tuple(f + "=" for f in flags)):
            rest.append(a)
    return rest


def _said(failure) -> tuple[str | None, str | None]:
    """(kind, line) a worker left in its error file (elastic.report), or (None, None)."""
    message = failure.error_file_data.get("message") if isinstance(failure.error_file_data, dict) else None
    if isinstance(message, dict) and isinstance(message.get("extraInfo"), dict):
        kind = message["extraInfo"].get("convlab")
        if kind:
            return str(kind), str(message.get("message", ""))
    return None, None


def summary(failures: dict, note: Path, nproc: int) -> tuple[str, int]:
    """One line and the exit status for the failed ranks ({rank: ProcessFailure})."""
    said = {rank: _said(f) for rank, f in failures.items()}
    users = sorted(r for r, (kind, _) in said.items() if kind == "user")
    if users:
        return str(said[users[0]][1]), 2
    # the cause: a rank that failed by itself, before the ranks that lost it and those torchrun stopped
    rank = min(failures, key=lambda r: (said[r][0] == "peer", failures[r].exitcode == -signal.SIGTERM, r))
    f = failures[rank]
    if said[rank][0] == "peer":
        what = str(said[rank][1]).split(";")[0]
    elif f.exitcode < 0:
        what = f"rank {rank} was killed by signal {f.signal_name()} (pid {f.pid})"
    else:
        what = f"rank {rank} exited with status {f.exitcode} (pid {f.pid})" + (
            "; its traceback is above" if f.exitcode == 1 else ""
        )
    try:
        run = json.loads(note.read_text())
    except (OSError, ValueError):
        run = {}
    run_dir = Path(run["run_dir"]) if run.get("run_dir") else None
    where = elastic.where_it_stands(run_dir, run.get("epochs"), f"convlab train --resume {{run_dir}} --nproc {nproc}")
    return f"a training process failed: {what}; the job was stopped; {where}", 1
