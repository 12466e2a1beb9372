"""Multi-process training on PyTorch's own engine (torchrun / torch.distributed).

`torchrun --nproc_per_node=N -m convlab train …` starts N processes with RANK, WORLD_SIZE
and MASTER_ADDR set; `setup()` joins them into a process group (gloo on CPU, nccl on CUDA).
The batch size is global: each rank takes its slice of every batch of one shared, seeded
epoch order, and DistributedDataParallel averages the gradients, so the learning rate
means the same as in a single process with that batch size.
"""

from __future__ import annotations

import datetime
import os
import socket
import time
import uuid

import torch
import torch.distributed as dist

from .errors import UserError

PEER_TIMEOUT_ENV = "CONVLAB_PEER_TIMEOUT"  # seconds a collective waits for a silent peer
PEER_TIMEOUT_S = 60.0  # its default: a lost peer is noticed within this bound at any collective
_peers: list[tuple[str, int]] = []  # (host, pid) of every rank, by rank (filled by setup)


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def peer_timeout_s() -> float:
    """How long any collective (a step's all-reduce, evaluation's sums, a barrier) waits for a
    peer before failing: $CONVLAB_PEER_TIMEOUT seconds, default 60. gloo enforces it on every
    collective; a peer that died outright is noticed at once (its connection closes)."""
    text = os.environ.get(PEER_TIMEOUT_ENV, "")
    if not text:
        return PEER_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise UserError(f"{PEER_TIMEOUT_ENV}={text!r} is not a number of seconds above 0; e.g. {PEER_TIMEOUT_ENV}=60")
    return value


def setup(device: torch.device, timeout_s: float | None = None) -> tuple[int, int]:
    """Join the process group if launched by torchrun; return (rank, world_size).

    `timeout_s` (default `peer_timeout_s()`) bounds every collective. Each rank's host and
    process id are shared, so a survivor can say which peer is gone (`peers`)."""
    if env_world_size() <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        timeout = datetime.timedelta(seconds=timeout_s or peer_timeout_s())
        if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True":  # torchrun's store outlives restarts
            rank, world = int(os.environ["RANK"]), env_world_size()
            store = _fresh_namespace(_agent_store(timeout), rank, world, timeout.total_seconds())
            dist.init_process_group(backend, store=store, rank=rank, world_size=world, timeout=timeout)
        else:
            dist.init_process_group(backend, timeout=timeout)
        table: list = [None] * dist.get_world_size()
        dist.all_gather_object(table, (socket.gethostname(), os.getpid()))
        _peers[:] = [(str(h), int(p)) for h, p in table]
    return dist.get_rank(), dist.get_world_size()


def _agent_store(timeout: datetime.timedelta) -> dist.Store:
    return dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False, timeout=timeout)


def _fresh_namespace(store: dist.Store, rank: int, world: int, timeout_s: float) -> dist.Store:
    """A key space in torchrun's agent store that no earlier attempt of this job wrote to.

    torchrun keeps one store for all restarts of a job and gives the workers no attempt number
    they agree on (TORCHELASTIC_RESTART_COUNT is counted per agent): a restarted group that
    joins with the same keys can read the dead group's addresses and never connect (PyTorch
    issue #135712). Rank 0 draws a new token; every other rank reads it and joins under it,
    reading it again until rank 0 answers there, so a token left by an earlier attempt only
    costs a retry."""
    deadline, wait = time.monotonic() + timeout_s, datetime.timedelta(seconds=timeout_s)
    if rank == 0:
        token = uuid.uuid4().hex
        store.set("convlab/token", token)
        joins = [f"convlab/{token}/join/{r}" for r in range(1, world)]
        store.wait(joins, wait)
        for r, key in enumerate(joins, start=1):
            store.set(f"convlab/{token}/ok/{r}/{store.get(key).decode()}", "1")
        return dist.PrefixStore(f"convlab/{token}/", store)
    me = uuid.uuid4().hex  # this process's name: an answer to an earlier process is not for it
    while time.monotonic() < deadline:
        token = store.get("convlab/token").decode()
        store.set(f"convlab/{token}/join/{rank}", me)
        answered = time.monotonic() + 2.0
        while time.monotonic() < answered:  # (polled: a timed-out wait logs a C++ warning)
            if store.check([f"convlab/{token}/ok/{rank}/{me}"]):
                return dist.PrefixStore(f"convlab/{token}/", store)
            time.sleep(0.02)
        # no answer: an earlier attempt's token; read the new one
    raise dist.DistStoreError(f"timed out after {timeout_s:g} s waiting for rank 0 to start the group")


def peers() -> list[tuple[str, int]]:
    """(host, pid) of every rank of the current group, by rank; empty in one process."""
    return list(_peers)


def active() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    return rank() == 0


def all_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over ranks (identity in one process)."""
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t


def all_max(t: torch.Tensor) -> torch.Tensor:
    """Element-wise maximum over ranks (identity in one process)."""
    if active():
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t


def broadcast_object(obj):
    """Rank 0's value of a small plain object (str, number, dict of those) on every rank."""
    if not active():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def barrier() -> None:
    """Wait until every rank gets here (nothing in one process)."""
    if active():
        dist.barrier()


def cleanup() -> None:
    if active():
        dist.destroy_process_group()
