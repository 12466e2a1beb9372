"""Process-level settings for fast CPU training: glibc's allocator keeps freed memory.

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
