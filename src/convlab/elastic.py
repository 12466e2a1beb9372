"""Training that survives a lost worker: torchrun's elastic restarts resume by themselves.

TorchElastic's contract (PyTorch docs, "torchrun (Elastic Launch)", Fault tolerance): when a
worker dies, `torchrun --max-restarts=N` stops the group and starts it again, and the script
loads its latest state. Here that state is the run folder: the job that creates a folder
records its rendezvous run id (`TORCHELASTIC_RUN_ID`) in `job.json`; a group started again
by the same job finds its id there and continues from the last completed epoch, as
`--resume` does (from the start when no epoch completed). Another job pointed at that
folder is refused, on every rank, before any rank joins the group.

A peer that is lost is noticed within `distributed.peer_timeout_s()` at any collective and
reported in one line: which rank, that the folder holds epoch N, and how to continue.
`convlab.launch` is `convlab train --nproc N`: torchrun run in that process, so that its failures
come back as data (rank, exit status, signal) and are said in one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import distributed as dist
from .errors import UserError

JOB_FILE = "job.json"  # {"run_id", "created", "world_size", "restarts": [{"restart", "resumed_from_epoch", "time"}]}
NOTE_ENV = "CONVLAB_RUN_NOTE"  # set by `launch`: rank 0 writes the run folder there for the final report
_run: dict = {}  # the run folder and epoch count of this process's run, for the words on failure


def job_id() -> str | None:
    """This job's rendezvous run id under torchrun (None alone, or with torchrun's default 'none',
    which every job shares and so cannot tell a restart from another job)."""
    rid = os.environ.get("TORCHELASTIC_RUN_ID")
    return rid if rid and rid != "none" else None


def restart_count() -> int:
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or 0)


def max_restarts() -> int:
    return int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0") or 0)


def existing_folder(out: Path) -> UserError:
    return UserError(
        f"run folder {out} already exists and is not empty; "
        f"use --resume {out} to continue it, --force to replace it, or another --out"
    )


def recorded_id(folder: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
        return str(json.loads((folder / JOB_FILE).read_text())["run_id"])
    return None


def start(out, resume, force: bool) -> tuple[Path | None, Path | None, bool]:
    """(out, resume, force) for this start: a group restarted by its own job resumes its folder.

    Runs on every rank before any joins the group, so all decide on the same files (no rank has
    written yet). Raises UserError (every rank the same line) for another job's folder."""
    jid = job_id()
    if resume is not None or (jid is None and dist.env_world_size() <= 1):
        return out, resume, force
    if out is None:  # a restart of a job that let convlab name its folder: find it
        found = (f.parent for f in Path("runs").glob(f"*/{JOB_FILE}") if jid and recorded_id(f.parent) == jid)
        out = next(found, None)
        if out is None:
            return None, None, force
    out = Path(out).expanduser()
    if not (out.is_dir() and any(out.iterdir())):
        return out, None, force
    if jid is not None and recorded_id(out) == jid:  # our own folder: continue it, or start again
        return (None, out, False) if (out / "state.pt").is_file() else (out, None, True)
    if not force:
        raise existing_folder(out)
    return out, None, force


def joined(run_dir: Path, epochs: int, start_epoch: int) -> None:
    """Note the run for the words on failure; rank 0 records the job in the folder."""
    _run.update(run_dir=run_dir, epochs=epochs)
    if not dist.is_main():
        return
    if os.environ.get(NOTE_ENV):
        with contextlib.suppress(OSError):
            Path(os.environ[NOTE_ENV]).write_text(json.dumps({"run_dir": str(run_dir), "epochs": epochs}))
    jid = job_id()
    if jid is None:
        return
    from .fsutil import atomic_write_text

    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    record: dict = {"run_id": jid, "created": now, "world_size": dist.world_size(), "restarts": []}
    earlier = None
    with contextlib.suppress(OSError, ValueError):
        earlier = json.loads((run_dir / JOB_FILE).read_text())
    if isinstance(earlier, dict) and earlier.get("run_id") == jid:  # restarted by torchrun
        restart = {"restart": restart_count(), "resumed_from_epoch": start_epoch, "time": now}
        record = {**earlier, "restarts": [*earlier.get("restarts", []), restart]}
    elif isinstance(earlier, dict):  # another job continues the folder (--resume): it is its job now
        record["earlier_job"] = earlier
    atomic_write_text(run_dir / JOB_FILE, json.dumps(record, indent=2) + "\n")


def held_epoch(run_dir: Path | None) -> int:
    """The last completed epoch saved in a run folder (0 when none)."""
    from .checkpoint import load_state

    with contextlib.suppress(Exception):  # the words on failure must not fail
        return load_state(run_dir).epoch if run_dir else 0
    return 0


def where_it_stands(run_dir: Path | None, epochs: int | None, resume_cmd: str) -> str:
    if run_dir is None:
        return "no run folder was made"
    done = held_epoch(run_dir)
    if not done:
        return f"{run_dir} holds no completed epoch; start it again with --force"
    return f"{run_dir} holds epoch {done} of {epochs or '?'}; continue with: {resume_cmd.format(run_dir=run_dir)}"


# --- the words on failure, on a worker ------------------------------------------------------


def under_torchrun() -> bool:
    return "TORCHELASTIC_RUN_ID" in os.environ


def is_peer_loss(e: BaseException) -> bool:
    """Whether `e` is the process group failing because a peer is gone or silent (gloo/nccl)."""
    import torch.distributed as tdist

    if dist.env_world_size() <= 1:
        return False
    if isinstance(e, tdist.DistError):
        return True
    words = ("connection closed by peer", "connection reset by peer", "broken pipe", "timed out", "gloo")
    return isinstance(e, RuntimeError) and any(w in str(e).lower() for w in words)


def lost_peers(wait_s: float = 2.0) -> list[int]:
    """Ranks on this host whose process is gone, dead or stopped (others cannot be seen from here);
    waits up to `wait_s` for one, since a dying process closes its connections before it exits."""
    deadline = time.monotonic() + wait_s
    while not (lost := _gone_here()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return lost


def _gone_here() -> list[int]:
    here, lost = socket.gethostname(), []
    for rank, (host, pid) in enumerate(dist.peers()):
        if host != here or pid == os.getpid():
            continue
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            state = "gone"
        if state in ("gone", "Z", "X", "T", "t"):  # gone, dead, or stopped
            lost.append(rank)
    return lost


def peer_loss_line(e: BaseException) -> str:
    """One line for a survivor: who is lost, how it was noticed, where the run stands."""
    lost = lost_peers()
    who = f"rank {', '.join(map(str, lost))}" if lost else "another rank"
    how = (
        f"silent for {dist.peer_timeout_s():g} s ({dist.PEER_TIMEOUT_ENV})"
        if "timed out" in str(e).lower() or "timeout" in str(e).lower()
        else "its connection closed"
    )
    if restart_count() < max_restarts():
        then = f"torchrun restarts the group (restart {restart_count() + 1} of {max_restarts()}) and it resumes"
    else:
        then = "the job stopped; " + where_it_stands(
            _run.get("run_dir"), _run.get("epochs"), "the same torchrun command with `train --resume {run_dir}`"
        )
    return f"lost training process {who} ({how}); {then}"


def report(line: str, kind: str, everyone: bool = False) -> None:
    """Say a worker's one-line failure: on stderr (rank 0 only under torchrun, unless `everyone`;
    nobody under `launch`, which says it once), and in torchrun's error file for its summary."""
    quiet = os.environ.get(NOTE_ENV) or (under_torchrun() and not everyone and _env_rank() != 0)
    if not quiet:
        print(f"convlab: error: {line}", file=sys.stderr)
    elif under_torchrun() and not os.environ.get(NOTE_ENV):
        time.sleep(1.0)  # rank 0 says it: let it, before torchrun stops the group on this exit
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path:
        note = {"message": {"message": line, "extraInfo": {"timestamp": int(time.time()), "convlab": kind}}}
        with contextlib.suppress(OSError):
            Path(path).write_text(json.dumps(note))


def _env_rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


# --- faults the tests inject ----------------------------------------------------------------


def _fault_due(name: str) -> bool:
    """Whether the fault `name` strikes now. With CONVLAB_TEST_KILL_ONCE=PREFIX each fault strikes
    once per job: it leaves the file PREFIX.NAME, so the restarted group runs on."""
    once = os.environ.get("CONVLAB_TEST_KILL_ONCE")
    marker = Path(f"{once}.{name}") if once else None
    if marker and marker.exists():
        return False
    if marker:
        marker.touch()
    return True


def kill_after_epoch(epoch: int) -> None:
    """CONVLAB_TEST_KILL_AFTER_EPOCH=N[,M…]: once epoch N is saved (all ranks past a barrier), rank
    CONVLAB_TEST_KILL_RANK (default 1) SIGKILLs itself, as an OOM kill or a preempted node would."""
    if str(epoch) not in os.environ.get("CONVLAB_TEST_KILL_AFTER_EPOCH", "").split(","):
        return
    dist.barrier()
    chosen = dist.rank() == int(os.environ.get("CONVLAB_TEST_KILL_RANK", "1"))
    if chosen and _fault_due(f"CONVLAB_TEST_KILL_AFTER_EPOCH.{epoch}"):
        os.kill(os.getpid(), signal.SIGKILL)


def kill_midway(f) -> None:
    """At the write chosen by CONVLAB_TEST_KILL_AT_WRITE (fsutil): cut the temporary file `f` to
    half and SIGKILL this process; or, with CONVLAB_TEST_KILL_RANK=R (R ≠ this rank), SIGKILL
    rank R and stay in the middle of the write until torchrun stops this process too (≤ 30 s)."""
    if not _fault_due("CONVLAB_TEST_KILL_AT_WRITE"):
        return
    f.truncate(f.tell() // 2)
    f.flush()
    victim = os.environ.get("CONVLAB_TEST_KILL_RANK")
    if not victim or int(victim) == dist.rank():
        os.kill(os.getpid(), signal.SIGKILL)
    os.kill(dist.peers()[int(victim or 0)][1], signal.SIGKILL)
    time.sleep(30)  # then finish the write; the next collective notices the loss
