"""Where the learner's code runs: its own process (the command line) or the notebook's (check()).

`Sandbox` starts `python -m convlab.check.child FILE.py` with a memory limit, sends it one task
at a time and waits at most `timeout` seconds for the answer; a call that runs longer kills the
process (the next call starts a fresh one). Nothing from the learner's file is imported here.
`InProcess` runs the same tasks on objects the learner already holds (a notebook's `corr2d`),
with the same time limit where a timer signal can interrupt them.
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import tasks, wire


@dataclass
class Reply:
    """One task's outcome: a value, the learner's traceback, or the time limit reached."""

    ok: bool
    value: Any = None
    error: str = ""  # the learner's traceback
    exception: str = ""  # its type, e.g. "IndexError"
    timed_out: bool = False


class LearnerFileError(Exception):
    """The learner's file could not be imported; `traceback` is theirs."""

    def __init__(self, traceback: str):
        super().__init__(traceback)
        self.traceback = traceback


class Sandbox:
    """The learner's file in a child process with a memory limit; calls with a time limit."""

    def __init__(self, path: str | Path, timeout: float = 10.0, memory_mb: int = 2048):
        self.path, self.timeout, self.memory_mb = str(Path(path).resolve()), timeout, memory_mb
        self.proc: subprocess.Popen | None = None
        self.log = tempfile.TemporaryFile()  # what the learner's file prints
        self.names: dict[str, dict] = {}

    def start(self) -> dict[str, dict]:
        """Start the process; the names the file defines. Raises LearnerFileError if it fails to import."""
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        cmd = [sys.executable, "-m", "convlab.check.child", self.path, str(req_r), str(rep_w), str(self.memory_mb)]
        self.proc = subprocess.Popen(
            cmd, pass_fds=(req_r, rep_w), stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT
        )
        os.close(req_r)
        os.close(rep_w)
        self.fd_out, self.fd_in = req_w, rep_r
        try:
            limit = max(60.0, self.timeout)  # importing PyTorch alone can take 20 s on a busy machine
            hello = wire.receive(self.fd_in, timeout=limit)
        except (wire.Timeout, wire.Closed):
            self.close()
            raise LearnerFileError(
                self._log_tail()
                or f"the file did not finish importing within {limit:.0f} s (an endless loop outside any function?)"
            ) from None
        if not hello["ok"]:
            self.close()
            raise LearnerFileError(hello["error"])
        self.names = hello["value"]
        return self.names

    def call(self, task: str, timeout: float | None = None, **args: Any) -> Reply:
        """Run one task in the learner's process; a fresh process if the last one was stopped."""
        if self.proc is None:
            self.start()
        try:
            wire.send(self.fd_out, {"task": task, "args": args})
            reply = wire.receive(self.fd_in, timeout=timeout or self.timeout)
        except wire.Timeout:
            self.close()
            return Reply(False, timed_out=True)
        except (wire.Closed, BrokenPipeError):
            code = self.proc.wait() if self.proc else None
            self.close()
            why = f"the process ended (exit status {code})" + (": out of memory?" if code == -9 else "")
            return Reply(False, error=self._log_tail() or why, exception="ProcessEnded")
        return Reply(reply["ok"], reply.get("value"), reply.get("error", ""), reply.get("exception", ""))

    def _log_tail(self, lines: int = 15) -> str:
        self.log.seek(0)
        return "\n".join(self.log.read().decode(errors="replace").splitlines()[-lines:])

    def close(self) -> None:
        if self.proc is None:
            return
        for fd in (self.fd_out, self.fd_in):
            os.close(fd)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.proc = None

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
        self.log.close()


class _Alarm(BaseException):
    """Raised inside the learner's code when the time limit is reached (not an Exception they may catch)."""


class InProcess:
    """The same tasks on objects already in this process (a notebook); time-limited in the main thread."""

    def __init__(self, namespace: dict[str, Any], timeout: float = 10.0):
        self.ns, self.timeout = namespace, timeout
        self.names = tasks.describe(namespace)

    def call(self, task: str, timeout: float | None = None, **args: Any) -> Reply:
        import torch

        limit = timeout or self.timeout
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # small tensors: one thread is faster, as in the learner's own process
        timed = threading.current_thread() is threading.main_thread()
        if timed:
            old = signal.signal(signal.SIGALRM, _raise_alarm)
            signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            args = copy.deepcopy(args)  # the learner's code must not change convlab's copy of a case
            return Reply(True, tasks.TASKS[task](self.ns, **args))
        except _Alarm:
            return Reply(False, timed_out=True)
        except Exception as e:  # the learner's code failed on this case: that is the result
            return Reply(False, error=_their_traceback(e), exception=type(e).__name__)
        finally:
            torch.set_num_threads(threads)
            if timed:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old)


def _their_traceback(exc: BaseException) -> str:
    """The traceback without convlab's own frames (the ones that called the learner's code)."""
    import traceback

    here = str(Path(__file__).parent)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    lines = ["Traceback (most recent call last):\n", *traceback.format_list(frames)]
    return "".join(lines + traceback.format_exception_only(type(exc), exc)).rstrip()


def _raise_alarm(signum: int, frame: object) -> None:
    raise _Alarm
