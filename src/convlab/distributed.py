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

import torch
import torch.distributed as dist


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: torch.device, timeout_s: float = 300.0) -> tuple[int, int]:
    """Join the process group if launched by torchrun; return (rank, world_size)."""
    if env_world_size() <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
    return dist.get_rank(), dist.get_world_size()


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
