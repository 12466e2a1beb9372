"""Training: `fit()` turns a `TrainConfig` (config.py) into a run folder of checkpoints.

`fit` reads as its steps, each a function of its own:

    setup        the steps in prepare.py (join processes, load data, build the model, prepare the
                 folder, build the optimizer), each returning what it made; `Run` holds them
    train_epoch  one pass over the training batches: forward, loss, backward, step
    Run.evaluate test loss, accuracy and confusion (evaluate.py)
    save_epoch   the run folder's files, each written atomically (runfolder.py)
    finish       the plots, and every process waiting for the others

The whole dataset sits on the device as uint8 (`data.loader`); each step gathers a batch,
augments and normalises it, and takes one optimizer step with the learning rate from a
closed-form schedule (`schedule.py`), so resuming needs only the step number. A non-finite
loss stops the run naming the step and keeps the last good epoch. Works in one process or
under torchrun (see `distributed`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed as dist
from . import elastic
from .config import TrainConfig, settled
from .data import ImageDataset
from .data.loader import MIN_BATCH_PER_PROCESS, Augment, Loader
from .errors import UserError
from .evaluate import autocast, evaluate
from .fsutil import remove_if_empty
from .metadata import ModelMeta, TrainState
from .models.user import own_code
from .modelspec import CodeConsent
from .prepare import (
    build_network,
    describe_model,
    join_processes,
    load_data,
    make_optimizer,
    plan_schedule,
    prepare_folder,
    settle_config,
    wrap_network,
)
from .runfolder import files_behind, save_epoch, write_run_files
from .schedule import Schedule, lr_shape
from .wording import counted


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    run_dir: Path | None
    history: list[dict]
    model: torch.nn.Module
    meta: ModelMeta

    @property
    def final(self) -> dict:
        return self.history[-1] if self.history else {}


@dataclass
class Run:
    """Everything `setup` prepares and the other steps use."""

    cfg: TrainConfig
    device: torch.device
    rank: int
    world: int
    data: ImageDataset
    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor  # (N,)
    mean: float
    std: float
    run_dir: Path  # the same folder on every rank (rank 0 writes it)
    model: torch.nn.Module
    net: torch.nn.Module  # the model as trained: wrapped by DDP and/or torch.compile
    optimizer: torch.optim.Optimizer
    loader: Loader
    schedule: Schedule
    meta: ModelMeta  # what model.json and the weights' header say
    log: Callable
    progress: bool
    history: list[dict] = field(default_factory=list)
    start_epoch: int = 0
    config_history: list[dict] = field(default_factory=list)
    t_start: float = 0.0
    watch: Callable[[Run, dict], None] | None = None  # an observer of steps and epochs (rank 0), e.g. live.Recorder

    def tell(self, event: dict) -> None:
        """Pass an event to the observer, if any (rank 0 only)."""
        if self.watch is not None and self.main:
            self.watch(self, event)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def evaluate(self) -> dict:
        """The model's loss, accuracy and confusion on the test set as it is now (evaluate.evaluate)."""
        cfg, data = self.cfg, self.data
        return evaluate(
            self.model, data.test_x, data.test_y, self.mean, self.std, data.num_classes, cfg.eval_batch_size,
            self.device, settled(cfg.amp, "amp"), settled(cfg.channels_last, "channels_last"),
        )  # fmt: skip


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate at `step` of a fresh `total`-step run of `cfg` (see `schedule.lr_shape`)."""
    return lr_shape(step, total, settled(cfg.lr, "lr"), cfg.warmup, cfg.schedule)


def setup(
    cfg: TrainConfig | None,
    out: str | Path | None,
    resume: str | Path | None,
    force: bool,
    dataset: ImageDataset | None,
    log: Callable,
    progress: bool,
    overrides: dict | None,
    consent: CodeConsent | None = None,
) -> Run:
    """Join the processes, load the data, build model and optimizer; restore them when resuming
    (a run of your own network only with `consent`, see `prepare.settle_config`)."""
    cfg, state, changes, own = settle_config(cfg, resume, overrides, dataset, consent)
    device, rank, world = join_processes(cfg)
    log = log if rank == 0 else _silent
    ds, train_x, train_y = load_data(cfg, dataset, world, progress and rank == 0)
    mean, std = ds.pixel_stats()
    if state is not None:  # normalisation is part of the model: keep the saved one
        mean, std = state.mean, state.std
    model = build_network(cfg, ds, device, world, own)  # (first: a model that does not fit the data writes nothing)
    run_dir = prepare_folder(out, resume, cfg, force, rank)
    loader = Loader(
        train_x, train_y, cfg.batch_size, mean, std, device, shuffle=True, seed=cfg.seed,
        augment=Augment(settled(cfg.shift, "shift"), settled(cfg.flip, "flip"), cfg.rotate, cfg.scale, cfg.thickness),
        shard=(rank, world), channels_last=settled(cfg.channels_last, "channels_last"),
        min_batch_per_process=MIN_BATCH_PER_PROCESS,
    )  # fmt: skip
    run = Run(
        cfg=cfg, device=device, rank=rank, world=world, data=ds, train_x=train_x, train_y=train_y,
        mean=mean, std=std, run_dir=run_dir, model=model, net=model, optimizer=make_optimizer(model, cfg),
        loader=loader, schedule=plan_schedule(cfg, len(loader)),
        meta=describe_model(cfg, ds, len(train_y), mean, std, own.arch.code if own else None),
        log=log, progress=progress,
    )  # fmt: skip
    if state is not None:
        _restore(run, state, changes)
    elastic.joined(run_dir, settled(cfg.epochs, "epochs"), run.start_epoch)  # (torchrun: the job's id in the folder)
    run.net = wrap_network(model, cfg, device, world)
    log(
        f"training {cfg.model} ({cfg.ops} ops) on {ds.name}: {len(train_y)} train / {len(ds.test_y)} test "
        f"images, {counted(settled(cfg.epochs, 'epochs'), 'epoch')}, batch {cfg.batch_size}, {cfg.optimizer} "
        f"lr {cfg.lr}, device {device}" + (f", {world} processes" if world > 1 else "") + f" → {run_dir}"
    )
    run.t_start = time.perf_counter() - (run.history[-1]["elapsed_s"] if run.history else 0.0)
    return run


def _silent(*args, **kwargs) -> None:
    """The log of ranks other than 0."""


def _restore(run: Run, state: TrainState, changes: dict) -> None:
    """Load a saved run's weights, optimizer, history, RNG and schedule; extend it if --epochs changed."""
    ckpt.load_into(run.model, state.model, str(run.run_dir / "state.pt"))
    run.optimizer.load_state_dict(state.optimizer)
    run.history = list(state.history)
    run.start_epoch = state.epoch
    run.config_history = list(state.config_history)
    if state.rng is not None:
        torch.set_rng_state(state.rng)
    steps = len(run.loader)
    if state.schedule is not None:
        run.schedule = Schedule.from_list(state.schedule)
    else:  # a run saved before schedules were stored: its schedule was the plain plan
        old_epochs = changes.get("epochs", [run.cfg.epochs])[0]
        run.schedule = Schedule.plan(steps * old_epochs, settled(run.cfg.lr, "lr"), run.cfg.warmup, run.cfg.schedule)
    note = {}
    if "epochs" in changes:
        old, new = changes["epochs"]
        if new <= run.start_epoch:
            raise UserError(
                f"--epochs {new}: the run has already completed {counted(run.start_epoch, 'epoch')}; "
                f"give more than {run.start_epoch} to extend it"
            )
        run.schedule, how = run.schedule.extend(run.start_epoch * steps, new * steps)
        note["schedule"] = how
        run.log(f"extending the run from {old} to {new} epochs: {how}")
    if changes:
        run.config_history.append({"epoch": run.start_epoch, "changed": changes, **note})
    if run.main and run.history and files_behind(run):  # killed between state.pt and these files
        try:
            write_run_files(run)
        except OSError as e:
            raise UserError(
                f"could not bring {run.run_dir}'s files up to epoch {run.start_epoch} ({e.strerror or e}); "
                f"state.pt is intact; free space and resume again"
            ) from None
    run.log(f"resuming {run.run_dir} after epoch {run.start_epoch} of {run.cfg.epochs}")


def _batch_text(epoch: int, i: int, xb: torch.Tensor) -> str:
    """'in training (epoch 1, batch 3, of shape (4, 1, 28, 28))': where your network's forward failed."""
    return f"in training (epoch {epoch + 1}, batch {i + 1}, of shape {tuple(xb.shape)})"


def train_epoch(run: Run, epoch: int) -> dict:
    """One pass over the training batches; returns loss, accuracy and images seen (summed over ranks)."""
    cfg, device, steps = run.cfg, run.device, len(run.loader)
    run.loader.set_epoch(epoch)
    run.net.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = torch.zeros((), dtype=torch.long, device=device)
    bad_step = torch.full((), -1, dtype=torch.long, device=device)
    bar = tqdm(
        run.loader,
        desc=f"epoch {epoch + 1}/{cfg.epochs}",
        leave=False,
        unit="batch",
        disable=None if (run.progress and run.main) else True,
    )
    for i, (xb, yb) in enumerate(bar):  # xb (B, C, H, W) float, yb (B,)
        step = epoch * steps + i
        for group in run.optimizer.param_groups:
            group["lr"] = run.schedule(step)
        with autocast(device, settled(cfg.amp, "amp")):
            with own_code(run.model, functools.partial(_batch_text, epoch, i, xb)):  # (your network's failure: yours)
                out = run.net(xb)  # (B, classes)
            loss = F.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing)
        run.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        run.optimizer.step()
        d = loss.detach()
        bad_step = torch.where((bad_step < 0) & ~torch.isfinite(d), step, bad_step)
        loss_sum += d.double() * len(yb)
        correct += (out.detach().argmax(1) == yb).sum()
        seen += len(yb)
        if run.watch is not None:
            run.tell({"type": "step", "step": step + 1, "epoch": epoch + 1, "loss": d.item()})
        if run.world == 1 and i % 50 == 49 and bad_step.item() >= 0:
            break  # (under torchrun all ranks check together at the epoch's end)
    bar.close()
    for t in (loss_sum, correct, seen):
        dist.all_sum(t)
    bad = dist.all_max(bad_step).item()
    if bad >= 0:
        kept = (
            f"the last good checkpoint (epoch {epoch}) is kept in {run.run_dir}"
            if epoch
            else "no epoch completed, so nothing was saved"
        )
        raise TrainingDiverged(
            f"training loss became non-finite at step {bad} (epoch {epoch + 1}); {kept}; "
            f"try a lower learning rate (e.g. --lr {settled(cfg.lr, 'lr') / 3:.2g})"
        )
    return {"loss": loss_sum.item() / seen.item(), "acc": correct.item() / seen.item(), "seen": seen.item()}


def finish(run: Run, confusion: torch.Tensor | None) -> None:
    """Plots of the finished run (rank 0), then every process waits for the others, so none exits
    while another still writes (a rank leaving early can abort the process group's threads).

    A resumed run that had already finished (killed while drawing its plots) evaluates once to
    draw them again."""
    plots_missing = run.main and not all((run.run_dir / n).is_file() for n in ("curves.png", "confusion.png"))
    if confusion is None and run.history and dist.broadcast_object(plots_missing):
        confusion = run.evaluate()["confusion"]
    if run.main and confusion is not None:
        from . import plots

        plots.save(plots.learning_curves(run.history), run.run_dir / "curves.png")
        plots.save(
            plots.confusion_matrix(confusion, run.data.classes, f"{run.data.name} test"),
            run.run_dir / "confusion.png",
        )
    dist.barrier()


def fit(
    cfg: TrainConfig | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    force: bool = False,
    dataset: ImageDataset | None = None,
    log: Callable = print,
    progress: bool = True,
    overrides: dict | None = None,
    watch: Callable[[Run, dict], None] | None = None,
    consent: CodeConsent | None = None,
) -> FitResult:
    """Train a model; write checkpoints and plots to a run folder (rank 0 only).

    `resume=DIR` continues the run in DIR from its last completed epoch with its saved config;
    `overrides` may change the options marked safe to change on resume (epochs, device,
    threads, eval_batch_size; see config.RESUME_SAFE). `out=None` with `resume=None` makes
    runs/<data>-<model>-<time>/. `log` receives the per-epoch lines; `progress` shows a bar.
    `watch(run, event)` observes the run without changing it: {"type": "start"}, then one "step"
    (with its loss) per batch and one "epoch" (the metrics row) per epoch, on rank 0. `consent`:
    what may run when resuming a run of your own network (see `prepare.settle_config`)."""
    out, resume, force = elastic.start(out, resume, force)  # a torchrun restart continues its run
    fresh = resume is None and (out is None or not Path(out).expanduser().exists())
    run = setup(cfg, out, resume, force, dataset, log, progress, overrides, consent)
    run.watch = watch
    try:
        confusion = _epochs(run)
    except KeyboardInterrupt:
        run.log(
            f"interrupted; {run.run_dir} holds epoch {len(run.history)} of {run.cfg.epochs}; "
            f"continue with: convlab train --resume {run.run_dir}"
        )
        raise
    except Exception:
        if fresh and run.rank == 0:
            remove_if_empty(run.run_dir)  # a folder this run made and a failure left empty
        raise
    finish(run, confusion)
    return FitResult(run.run_dir, run.history, run.model.eval(), run.meta)


def _epochs(run: Run) -> torch.Tensor | None:
    """The epochs of `fit` from `run.start_epoch`, each saved as it ends; the last evaluation's confusion matrix."""
    cfg, confusion = run.cfg, None
    run.tell({"type": "start", "epochs": cfg.epochs, "steps_per_epoch": len(run.loader), "run_dir": str(run.run_dir),
              "start_epoch": run.start_epoch, "history": run.history})  # fmt: skip
    for epoch in range(run.start_epoch, settled(cfg.epochs, "epochs")):
        t0 = time.perf_counter()
        train = train_epoch(run, epoch)
        train_time = time.perf_counter() - t0
        ev = run.evaluate()
        row = {
            "epoch": epoch + 1,
            "train_loss": train["loss"],
            "train_acc": train["acc"],
            "test_loss": ev["loss"],
            "test_acc": ev["accuracy"],
            "lr": run.schedule((epoch + 1) * len(run.loader) - 1),
            "images_per_s": train["seen"] / train_time,
            "elapsed_s": time.perf_counter() - run.t_start,
        }
        save_epoch(run, row)
        elastic.kill_after_epoch(row["epoch"])  # (a fault the tests inject; nothing otherwise)
        run.tell({"type": "epoch", **row})
        run.log(
            f"epoch {row['epoch']:3d}/{cfg.epochs}  loss {row['train_loss']:.4f}  "
            f"train acc {row['train_acc']:.4f}  test acc {row['test_acc']:.4f}  "
            f"{row['images_per_s']:,.0f} img/s  {row['elapsed_s']:.1f}s"
        )
        confusion = ev["confusion"]
    return confusion


__all__ = [
    "FitResult",
    "Run",
    "TrainConfig",
    "TrainingDiverged",
    "fit",
    "lr_at",
    "setup",
    "train_epoch",
]
