"""A training the playground watches: `fit()` in its own process, its progress as a file.

The server (`web/training.py`) starts `python -m convlab.web.live SPEC.json`. This process runs
the same `fit()` as `convlab train` into a normal run folder (resumable, usable by every command)
and, through fit's `watch` hook, appends one JSON line per event to RUN/live.jsonl:

    {"type": "start", "epochs", "steps_per_epoch", "start_epoch", "history", "classes", "probe", "lr", "t"}
    {"type": "step", "step", "epoch", "loss", "t"}                  one per batch
    {"type": "epoch", "epoch", "train_acc", "test_acc", ..., "t"}    one per epoch (the metrics row)
    {"type": "snapshot", "step", "kernels", "layers", "probabilities", "t"}   every few seconds
    {"type": "end", "status": finished|stopped|failed, "error"?, "epochs_saved", "t"}

A snapshot is the first layer's kernels and every layer's maps of one test image (the probe),
computed in eval mode without gradients: watching does not change the run (the same weights,
bit for bit, as without it; tests check). A file, not a pipe, so a reloaded page, a second tab
or a restarted server reads the whole history; a killed process leaves no "end" line, which is
how the server knows.

SIGINT (the page's Stop) is taken at the next training step, not where it lands: a stop during
the end-of-epoch evaluation lets that evaluation finish and the epoch be saved first, and a stop
during the last epoch's evaluation lets the run finish. Before training starts (loading the data)
it stops at once. The "end" line says how many epochs the run folder holds.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import torch

from ..data.loader import normalize
from ..errors import UserCodeError, UserError
from ..graph import layers_of

SNAPSHOT_EVERY_S = 1.5  # seconds between snapshots of kernels and maps (and one per epoch)
EVENTS = "live.jsonl"


class Recorder:
    """fit's observer: appends the run's events to `path`, with snapshots of test image `probe`."""

    def __init__(self, path: str | Path, probe: int = 0, every_s: float = SNAPSHOT_EVERY_S):
        self.path, self.probe_index, self.every_s = Path(path), probe, every_s
        self.file = open(self.path, "a", encoding="utf-8")  # appended: a resumed run adds to its history
        self.t0 = time.perf_counter()
        self.last_snapshot = -1e9
        self.probe: torch.Tensor | None = None  # (1, C, H, W) normalised
        self.run = None  # fit's Run, once it has started

    def write(self, event: dict) -> None:
        self.file.write(json.dumps({**event, "t": round(time.perf_counter() - self.t0, 3)}) + "\n")
        self.file.flush()

    def __call__(self, run, event: dict) -> None:
        kind = event["type"]
        if kind == "start":
            from .pictures import png_data_url

            self.run = run
            x = run.data.test_x
            if not 0 <= self.probe_index < len(x):
                raise UserError(f"probe must be a test image index 0..{len(x) - 1}, got {self.probe_index}")
            img = x[self.probe_index]  # (C, H, W) uint8
            self.probe = normalize(img[None], run.mean, run.std)
            label = run.data.classes[int(run.data.test_y[self.probe_index])]
            probe = {"index": self.probe_index, "label": label, "image": png_data_url(img)}
            self.write({**event, "classes": run.data.classes, "probe": probe, "model": run.cfg.model,
                        "dataset": run.data.name, "lr": run.cfg.lr, "max_train": run.cfg.max_train})  # fmt: skip
            self.snapshot(run, run.start_epoch * event["steps_per_epoch"])
        elif kind == "step":
            self.write(event)
            if time.perf_counter() - self.last_snapshot >= self.every_s:
                self.snapshot(run, event["step"])
        elif kind == "epoch":
            self.write(event)
            self.snapshot(run, event["epoch"] * len(run.loader))
        else:
            self.write(event)

    def snapshot(self, run, step: int) -> None:
        """Kernels and every layer's maps of the probe, as the page draws them after a prediction."""
        from .pictures import first_conv_kernels, is_map, layer_maps, probabilities

        graph = layers_of(run.model)  # (a network torch.fx cannot trace: its modules' outputs, by hooks)
        x = self.probe.to(run.device)  # type: ignore[union-attr]  # (1, C, H, W)
        with torch.no_grad():  # capture runs in eval mode and restores train mode
            outs = graph.capture(x.contiguous(memory_format=torch.channels_last) if run.cfg.channels_last else x)
        outs = [y.cpu() if is_map(y) else y for y in outs]  # (a bool, None or tuple row: not drawn)
        probs = probabilities(outs)
        self.write(
            {
                "type": "snapshot",
                "step": step,
                "kernels": first_conv_kernels(run.model),
                "probabilities": [round(p, 5) for p in probs.tolist()],
                "layers": layer_maps(graph, outs),
            }
        )
        self.last_snapshot = time.perf_counter()

    def end(self, status: str, error: str | None = None) -> None:
        saved = len(self.run.history) if self.run is not None else 0  # the epochs the run folder holds
        self.write({"type": "end", "status": status, **({"error": error} if error else {}), "epochs_saved": saved})
        self.file.close()


class StopAtStep:
    """SIGINT's handler while the playground trains: before training starts it interrupts at once;
    afterwards it asks `check` (called at each step) to interrupt, so an epoch being evaluated
    and saved is never cut short."""

    def __init__(self, rec: Recorder):
        self.rec, self.requested = rec, False

    def __call__(self, signum, frame) -> None:
        if self.rec.run is None:
            raise KeyboardInterrupt
        self.requested = True

    def check(self, event: dict) -> None:
        if self.requested and event["type"] == "step":
            raise KeyboardInterrupt


def run_spec(spec: dict) -> int:
    """Train as `spec` says: {"config": {...}} or {"resume": DIR}, "out", "probe". Returns the exit code."""
    from ..config import TrainConfig
    from ..modelspec import CodeConsent
    from ..train import fit

    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    rec = Recorder(out / EVENTS, int(spec.get("probe", 0)))
    log_file = open(out / "train.log", "a", encoding="utf-8")

    def log(line: str) -> None:
        log_file.write(line + "\n")
        log_file.flush()

    parent = spec.get("parent")
    stop = StopAtStep(rec)
    before = signal.signal(signal.SIGINT, stop)

    def watch(run, event):
        if parent and os.getppid() != parent:  # the server is gone: stop as Ctrl-C would
            raise KeyboardInterrupt
        stop.check(event)
        rec(run, event)

    try:
        if spec.get("resume"):
            own = CodeConsent(model=spec["model"]) if spec.get("model") else None  # (the server's --model)
            fit(resume=spec["resume"], log=log, progress=False, watch=watch, consent=own)
        else:
            fit(TrainConfig.from_dict(spec["config"], "the playground"), out=out, force=True, log=log,
                progress=False, watch=watch)  # fmt: skip
    except KeyboardInterrupt:
        rec.end("stopped")
        return 130
    except (UserError, UserCodeError) as e:  # (your network's code failing: its traceback in the log)
        if isinstance(e, UserCodeError):
            log(e.user_traceback())
        log(f"error: {e}")
        rec.end("failed", str(e))
        return 2
    finally:
        signal.signal(signal.SIGINT, before)
    rec.end("finished")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(Path(argv[0]).read_text())
    if spec.get("nice"):
        os.nice(int(spec["nice"]))  # the class's requests come first
    return run_spec(spec)


if __name__ == "__main__":
    sys.exit(main())
