"""Process-level settings for fast CPU training: glibc's allocator keeps freed memory; and
whether a device computes bf16 natively (`bf16_native`), which decides a recipe's autocast.

By default glibc returns large freed blocks to the OS (mmap/munmap, heap trimming). A
training step frees and reallocates the same tens of megabytes of activations every step,
so each step then pays thousands of page faults to get fresh zeroed pages back (measured
here: ~6,600 faults and ~30% of a LeNet step at batch 256). Raising the mmap and trim
thresholds keeps those blocks in the heap for reuse. It is process-wide, so it belongs to
whoever owns the process: the `convlab train` command calls it; a notebook may too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

import torch

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)
KEEP_BYTES = 1 << 30  # blocks below this come from (and return to) the heap, not the OS


def keep_freed_memory() -> bool:
    """Tell glibc malloc to reuse freed blocks instead of returning them to the OS.

    Returns True when applied; False (and changes nothing) where the C library is not glibc.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))
    except (OSError, AttributeError):
        return False


def bf16_native(device: torch.device) -> bool:
    """Whether `device` computes in bf16 in hardware, so that a recipe's bf16 autocast pays: a CUDA
    GPU that supports bf16 without emulation (compute capability 8.0 or later), or a CPU with
    AVX-512 BF16 or AMX. On an AVX2-only CPU PyTorch emulates bf16, and training steps ran slower
    than in float32 (benchmarks/amp.py, docs/performance.md); MPS runs without autocast anyway."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    return False
