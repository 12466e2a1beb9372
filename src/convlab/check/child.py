"""The learner's process: import their file under limits, then answer convlab's requests.

Run as `python -m convlab.check.child FILE.py IN_FD OUT_FD MEMORY_MB`. The first message says
whether the file imported (and what names it holds) or shows the learner's traceback; then
each request `{"task": ..., "args": {...}}` gets `{"ok": True, "value": ...}` or
`{"ok": False, "error": <the learner's traceback>, "exception": <its type>}`.
"""

from __future__ import annotations

import importlib.util
import resource
import sys
import traceback
from pathlib import Path

CPU_SECONDS = 900  # a backstop only: the parent enforces the time limit of every call


def learner_traceback(exc: BaseException, path: str) -> str:
    """The traceback of the learner's exception, keeping only the frames in their own file."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == path]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(exc), exc)).rstrip()


def limit_memory(megabytes: int) -> None:
    """Cap the address space at what the process already maps plus `megabytes`."""
    with open("/proc/self/status") as f:
        size_kb = next(int(line.split()[1]) for line in f if line.startswith("VmSize"))
    cap = size_kb * 1024 + megabytes * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))


def load(path: str) -> dict:
    """Import the learner's file as a module named after it; its globals."""
    folder = str(Path(path).parent)
    sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def serve(path: str, fd_in: int, fd_out: int, memory_mb: int) -> None:
    import torch

    from . import tasks, wire

    torch.set_num_threads(1)
    limit_memory(memory_mb)
    try:
        ns = load(path)
    except BaseException as e:  # the learner's file failed to import: their traceback is the answer
        wire.send(fd_out, {"ok": False, "error": learner_traceback(e, path), "exception": type(e).__name__})
        return
    wire.send(fd_out, {"ok": True, "value": tasks.describe(ns)})
    while True:
        try:
            request = wire.receive(fd_in)
        except wire.Closed:
            return
        try:
            value = tasks.TASKS[request["task"]](ns, **request["args"])
            reply = {"ok": True, "value": value}
        except Exception as e:  # the learner's code failed on this case: that is the result
            reply = {"ok": False, "error": learner_traceback(e, path), "exception": type(e).__name__}
        wire.send(fd_out, reply)


if __name__ == "__main__":
    serve(str(Path(sys.argv[1]).resolve()), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
