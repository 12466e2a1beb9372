"""The playground's training jobs: one at a time per server, each `fit()` in its own process.

    GET  /api/train/options   datasets on this machine, the architectures with their recipes' defaults
    POST /api/train/start     {"dataset", "model", "epochs", "lr", "max_train", "probe"} or {"resume": RUN}
    POST /api/train/stop      stop the running job (at its next step: an epoch being evaluated is saved)
    POST /api/train/forget    {"model": RUN} takes a run trained here off the model list (its files stay)
    GET  /api/train?since=N&snap=S&stream=ID   the job's state, its events from the N-th, its newest snapshot

Every tab polls the last endpoint, so each follows whatever training the server runs now, whoever
started it. Its events are a list; `stream` names one version of that list (the process's id and
how many starts it has read: a resumed run replaces the steps after its last saved epoch). A poll
whose `stream` is not the current one gets the whole list again (`from` 0), so a page applies
each event once: the events it is sent begin at index `from`.

The job writes a normal run folder under the server's runs folder (`serve --runs`) and its
events to RUN/live.jsonl (see `live.py`); the server only reads that file, so a reload or a
second tab gets the whole history with since=0. A process that ends without an "end" line was
killed: the state says so, and that the run can be resumed from its last epoch. A run with at
least one saved epoch joins the model catalogue under its folder's name; one stopped or failed
before its first epoch leaves no folder behind.

The training process runs niced with one thread, so the class's requests come first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

from ..modelspec import display_name
from .inputs import ApiError
from .live import EVENTS
from .models import Models

MAX_EPOCHS = 100
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _killed_error(job: Job, epochs_done: int) -> str:
    """The one-line error of a training process that died without reporting: how (exit code or
    signal), after how many epochs, and whether it can be resumed."""
    rc = job.proc.returncode
    how = f"exit code {rc}"
    if rc < 0:
        how = f"signal {signal.Signals(-rc).name}" if -rc in signal.valid_signals() else f"signal {-rc}"
    resumable = (job.run_dir / "state.pt").is_file()
    then = (
        f"resume it from there, or run: convlab train --resume {job.run_dir}"
        if resumable
        else "no epoch had finished, so there is nothing to resume"
    )
    return f"the training process was killed ({how}) after {epochs_done} epoch(s); {then}"


class TrainingConflict(ApiError):
    """A start while a training runs, or a stop while none does (409 Conflict)."""


class Job:
    """One training process and what has been read of its events file."""

    def __init__(self, run_dir: Path, proc: subprocess.Popen, spec: dict):
        self.run_dir, self.proc, self.spec = run_dir, proc, spec
        self.path = run_dir / EVENTS
        self.offset = 0
        self.start: dict | None = None
        self.events: list[dict] = []  # steps and epochs, in order
        self.snapshot: dict | None = None
        self.snapshots = 0  # how many were read (the page asks only for a newer one)
        self.end: dict | None = None
        self.registered: str | None = None
        self.started_at = time.time()
        self.stop_requested = False
        self.starts = 0  # start lines read: each one is a new version of `events`
        self.session: list[dict] = []  # the steps of the newest process (its pace is the time left's)
        self.removed = False  # its folder, holding no epoch, was removed

    def read(self) -> None:
        """Parse the complete lines added to the events file since the last read."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        done = chunk.rfind(b"\n") + 1  # a line being written is read next time
        self.offset += done
        for line in chunk[:done].splitlines():
            e = json.loads(line)
            kind = e["type"]
            if kind == "start":  # (a resumed run: a new process; its history replaces the old epochs)
                self.start, self.end, self.starts, self.session = e, None, self.starts + 1, []
                kept = e["start_epoch"] * e["steps_per_epoch"]  # the steps of the epochs it resumes after
                steps = [s for s in self.events if s["type"] == "step" and s["step"] <= kept]
                self.events = steps + [{"type": "epoch", **row} for row in e.get("history", [])]
            elif kind in ("step", "epoch"):
                self.events.append(e)
                if kind == "step":
                    self.session.append(e)
            elif kind == "snapshot":
                self.snapshot, self.snapshots = e, self.snapshots + 1
            elif kind == "end":
                self.end = e

    @property
    def stream(self) -> str:
        return f"{self.proc.pid}.{self.starts}"

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def state(self) -> str:
        if self.running:
            return "running" if self.start else "preparing"
        self.read()  # the last lines written before it ended
        if self.end is None:  # no last line: stopped while starting up (before fit), or killed
            return "stopped" if self.stop_requested and self.proc.returncode in (130, -signal.SIGINT, 1) else "killed"
        return self.end["status"]

    def epochs_done(self) -> int:
        return sum(e["type"] == "epoch" for e in self.events)

    def eta_s(self) -> float | None:
        """Seconds left, from this process's pace so far (evaluation included): the steps of a
        resumed run's earlier processes ran on another clock."""
        steps = self.session
        if not self.start or len(steps) < 2 or not self.running:
            return None
        total = self.start["epochs"] * self.start["steps_per_epoch"]
        first, last = steps[0], steps[-1]
        pace = (last["t"] - first["t"]) / max(1, last["step"] - first["step"])
        return round(pace * (total - last["step"]), 1)


def _numbers(body: dict) -> dict:
    """The numbers a training request may set (epochs, lr, max_train), checked; ApiError for one out of range."""
    given = {}
    for key, kind, lo, hi in (("epochs", int, 1, MAX_EPOCHS), ("lr", float, 1e-6, 1.0),
                              ("max_train", int, 0, 10_000_000)):  # fmt: skip
        v = body.get(key)
        if v is None:
            continue
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and (kind is float or float(v).is_integer())
        if not ok or not lo <= v <= hi:
            raise ApiError(f"'{key}' must be a{'n integer' if kind is int else ' number'} from {lo:g} to {hi:g}")
        given[key] = kind(v)
    return given


class Training:
    """The training jobs of one server (at most one running)."""

    def __init__(self, models: Models, runs: str | Path = "runs", data: str | Path | None = None, nice: int = 10):
        self.models, self.runs, self.data = models, Path(runs), Path(data) if data else None
        self.nice = nice
        self.lock = threading.Lock()
        self.job: Job | None = None
        self._test_counts: dict[str, int] = {}

    # --- what can be trained ------------------------------------------------------------------
    def datasets(self) -> list[str]:
        from ..data.sources import KNOWN, locate

        first = sorted(KNOWN, key=lambda d: d != "digits")  # the digits first: the page opens on a digit model
        names = [d for d in first if locate(d) is not None]
        return names + (["data"] if self.data else [])

    def options(self) -> dict:
        from ..config import TrainConfig
        from ..models import MODELS

        models = []
        for name in [*MODELS, *self._own()]:
            cfg = TrainConfig.for_model(self._own().get(name, name))
            models.append({"name": name, "epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size})
        return {"datasets": self.datasets(), "data": self.data.name if self.data else None, "models": models,
                "max_epochs": MAX_EPOCHS}  # fmt: skip

    def _own(self) -> dict[str, str]:
        """{its name in the Train tab: FILE.py:NAME} for the network of your own named when the server
        started (`serve --model`; the file's name without its folder); empty without one."""
        own = self.models.own
        if own is None:
            return {}
        where, _, name = own.rpartition(":")
        return {f"{Path(where).name}:{name}": own}

    def _config(self, body: dict) -> dict:
        from ..config import resolve
        from ..configfile import build_config
        from ..models import MODELS

        dataset, model = body.get("dataset"), body.get("model", "lenet")
        if dataset not in self.datasets():
            raise ApiError(f"'dataset' must be one of {', '.join(self.datasets()) or '(none on this machine)'}")
        if model not in MODELS and model not in self._own():
            raise ApiError(f"'model' must be one of {', '.join([*MODELS, *self._own()])}")
        given: dict = {"model": self._own().get(model, model), "threads": 1}  # (only the code the server named)
        if model in self._own() and self.models.own_args:
            given["model_args"] = self.models.own_args  # (serve --model-args: the arguments it is built with)
        given.update(_numbers(body))
        if dataset == "data":
            given["data"] = str(self.data)
        else:
            given["dataset"] = dataset
        return resolve(build_config(**given)).to_dict()  # (its UserError: 400, as every refusal)

    # --- jobs ----------------------------------------------------------------------------------
    def _test_images(self, config: dict) -> int:
        """How many test images the dataset of `config` has (read once per dataset)."""
        from ..config import TrainConfig
        from ..data import load_dataset
        from .testdata import test_set

        key = config["data"] or config["dataset"]
        if key not in self._test_counts:
            if config["data"] is None:
                self._test_counts[key] = len(test_set(config["dataset"])[1])
            else:
                c = TrainConfig.from_dict(config, "the playground")
                ds = load_dataset(None, c.data, None, c.channels, c.input_size, c.seed, c.skip_bad, c.label_column,
                                  progress=False)  # fmt: skip
                self._test_counts[key] = len(ds.test_y)
        return self._test_counts[key]

    def _new_run(self, body: dict, probe: int) -> tuple[Path, dict]:
        """A new run's folder (not yet made) and spec; refuses a watched image the test set lacks."""
        config = self._config(body)
        n_test = self._test_images(config)
        if probe >= n_test:
            raise ApiError(f"'probe' must be a test image index from 0 to {n_test - 1} (this dataset has {n_test})")
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        data = Path(config["data"] or config["dataset"]).name
        run_dir = self.runs / f"playground-{display_name(config['model'])}-{data}-{stamp}"
        n = 1
        while run_dir.exists():
            n += 1
            run_dir = run_dir.with_name(f"{run_dir.name.rsplit('~', 1)[0]}~{n}")
        form = {"dataset": body["dataset"], "model": config["model"], "epochs": config["epochs"], "lr": config["lr"],
                "max_train": config["max_train"], "probe": probe}  # fmt: skip
        return run_dir, {"config": config, "form": form, "probe": probe}

    def _resumed_run(self, name) -> tuple[Path, dict]:
        """The folder and spec of a run resumed: the same watched image and form as before."""
        if not (isinstance(name, str) and RUN_NAME.match(name) and (self.runs / name / "state.pt").is_file()):
            raise ApiError("'resume' must name a run of this playground with a checkpoint (state.pt)")
        run_dir = self.runs / name
        try:
            before = json.loads((run_dir / "playground.json").read_text())
        except (OSError, ValueError):
            before = {}
        spec = {"resume": str(run_dir), "form": before.get("form", {}), "probe": before.get("probe", 0)}
        if self.models.own:  # a run of your own network continues with the code the server named
            spec["model"] = self.models.own
        return run_dir, spec

    def start(self, body: dict) -> dict:
        probe = body.get("probe", 0)
        if not isinstance(probe, int) or isinstance(probe, bool) or probe < 0:
            raise ApiError("'probe' must be a test image index (0 or more)")
        self.refuse_if_running()  # (first: a student's Start while the teacher trains is told so)
        resume = body.get("resume") is not None
        run_dir, spec = self._resumed_run(body["resume"]) if resume else self._new_run(body, probe)
        with self.lock:
            self.refuse_if_running()
            self.launch(run_dir, spec)
        return self.status()

    def refuse_if_running(self) -> None:
        """TrainingConflict while a job runs (call with the lock held, and once before the slow work)."""
        if self.job is not None and self.job.running:
            j = self.job
            raise TrainingConflict(
                f"a training is already running ({j.run_dir.name}); stop it first or wait for it to finish"
            )

    def launch(self, run_dir: Path, spec: dict) -> None:
        """Start the process of `spec` ({"config": ...} or {"resume": ...}) into `run_dir` as this
        server's job (call with the lock held, after `refuse_if_running`)."""
        run_dir.mkdir(parents=True, exist_ok=True)
        spec.setdefault("probe", 0)
        spec.update(out=str(run_dir), nice=self.nice, parent=os.getpid())
        spec_path = run_dir / "playground.json"
        spec_path.write_text(json.dumps(spec, indent=1))
        log = open(run_dir / "process.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "convlab.web.live", str(spec_path)],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        log.close()
        self.job = Job(run_dir, proc, spec)  # (resumed: the earlier processes' events are read too)

    def stop(self) -> dict:
        with self.lock:
            job = self.job
            if job is None or not job.running:
                raise TrainingConflict("no training is running")
            job.stop_requested = True
            job.proc.send_signal(signal.SIGINT)  # it stops at its next step and reports "stopped"
        return self.status(since=len(job.events), stream=job.stream)  # (the page has the events)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a running job when the server stops (it keeps its last completed epoch)."""
        job = self.job
        if job is not None and job.running:
            job.proc.send_signal(signal.SIGINT)
            try:
                job.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                job.proc.kill()

    def forget(self, body: dict) -> dict:
        """Take a run trained here off the model list (its folder stays where it is)."""
        name = body.get("model")
        if not isinstance(name, str) or not self.models.forget_run(name):
            raise ApiError("'model' must name a run trained in this playground that is on the model list")
        return {"forgotten": name}

    def _tidy(self, job: Job, state: str) -> None:
        """A run stopped or failed before its first epoch holds nothing: its folder goes."""
        if state in ("stopped", "failed") and not job.removed and not (job.run_dir / "state.pt").is_file():
            if "resume" not in job.spec:  # (a resumed run has its state.pt: never removed)
                shutil.rmtree(job.run_dir, ignore_errors=True)
                job.removed = True

    def status(self, since: int = 0, snap: int = -1, stream: str | None = None) -> dict:
        with self.lock:
            job = self.job
            if job is None:
                return {"state": "idle"}
            job.read()
            state = job.state()
            since = min(since, len(job.events)) if stream == job.stream else 0
            out: dict = {
                "state": state,
                "run": job.run_dir.name,
                "pid": job.proc.pid,
                "stream": job.stream,
                "from": since,
                "events": job.events[since:],
                "next": len(job.events),
                "epochs_done": job.epochs_done(),
                "eta_s": job.eta_s(),
                "elapsed_s": round(time.time() - job.started_at, 1),
                "form": job.spec.get("form", {}),
            }
            if job.start:
                out["start"] = {k: v for k, v in job.start.items() if k != "history"}
            if job.snapshot is not None and job.snapshots != snap:
                out["snapshot"], out["snap"] = job.snapshot, job.snapshots
            self._ending(job, state, out)
            return out

    def _ending(self, job: Job, state: str, out: dict) -> None:
        """What `status` adds once a job has ended: its error, whether it can resume (its folder tidied),
        and the model it became on the list (call with the lock held)."""
        if state == "failed":
            out["error"] = job.end.get("error") if job.end else None
        if state == "killed":
            out["error"] = _killed_error(job, out["epochs_done"])
        self._tidy(job, state)
        if state in ("stopped", "killed"):
            out["resumable"] = (job.run_dir / "state.pt").is_file()
            out["removed"] = job.removed
        if not job.running and job.registered is None and (job.run_dir / "model.safetensors").is_file():
            job.registered = self.models.add_run(job.run_dir)
        if job.registered and job.registered in self.models.names:
            out["model"] = job.registered
