"""Training: `fit()` turns a `TrainConfig` (config.py) into a run folder of checkpoints.

`fit` reads as its steps, each a function of its own:

    setup        join the processes, load the data, build model and optimizer (or restore a run)
    train_epoch  one pass over the training batches: forward, loss, backward, step
    evaluate     test loss, accuracy and confusion (evaluate.py)
    save_epoch   the run folder's files, each written atomically
    finish       the plots, and every process waiting for the others

The whole dataset sits on the device as uint8 (`data.loader`); each step gathers a batch,
augments and normalises it, and takes one optimizer step with the learning rate from a
closed-form schedule (`schedule.py`), so resuming needs only the step number. A non-finite
loss stops the run naming the step and keeps the last good epoch. Works in one process or
under torchrun (see `distributed`).
"""

from __future__ import annotations

import os
import time
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed as dist
from . import elastic
from .config import RESUME_SAFE, TrainConfig, flag, resolve_device
from .data import ImageDataset, load_dataset
from .data.loader import MIN_BATCH_PER_PROCESS, Augment, Loader
from .errors import UserError
from .evaluate import autocast, class_report, evaluate, evaluate_checkpoint
from .fsutil import output_dir
from .models import build_model, recipe
from .predict import MNIST_STYLE_DATASETS
from .schedule import Schedule, lr_shape

RUN_FILES = (
    "model.safetensors",
    "model.json",
    "config.toml",
    "state.pt",
    "metrics.csv",
    "curves.png",
    "confusion.png",
)


class TrainingDiverged(UserError):
    """The loss became NaN or infinite."""


@dataclass
class FitResult:
    run_dir: Path | None
    history: list[dict]
    model: torch.nn.Module
    meta: dict

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
    meta: dict
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


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate at `step` of a fresh `total`-step run of `cfg` (see `schedule.lr_shape`)."""
    return lr_shape(step, total, cfg.lr, cfg.warmup, cfg.schedule)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def prepare_run_dir(out: str | Path | None, cfg: TrainConfig, force: bool) -> Path:
    """A fresh run folder; an existing one with files is never overwritten unless `force`."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = Path(cfg.data).name if cfg.data else cfg.dataset
        out = Path("runs") / f"{name}-{cfg.model}-{stamp}"
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise elastic.existing_folder(out)
        for name in RUN_FILES:  # replace only what a run writes
            (out / name).unlink(missing_ok=True)
    return output_dir(out, "run folder")


# --- the steps ---------------------------------------------------------------------------


def setup(
    cfg: TrainConfig | None,
    out: str | Path | None,
    resume: str | Path | None,
    force: bool,
    dataset: ImageDataset | None,
    log: Callable,
    progress: bool,
    overrides: dict | None,
) -> Run:
    """Join the processes, load the data, build model and optimizer; restore them when resuming."""
    state, changes = None, {}
    if resume is not None:
        state = ckpt.load_state(resume)
        cfg = TrainConfig.from_dict(state["config"], f"{resume}/state.pt")
        changes = _apply_overrides(cfg, overrides or {})
    elif overrides:
        raise TypeError("fit(overrides=...) changes a resumed run; pass the options in cfg instead")
    cfg = (cfg or TrainConfig()).validate()
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world = dist.setup(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world > 1:
        _check_same_arguments(cfg, device, world)
    if cfg.batch_size < MIN_BATCH_PER_PROCESS * world:
        raise UserError(
            f"--batch-size {cfg.batch_size} gives each of the {world} processes fewer than {MIN_BATCH_PER_PROCESS} "
            f"images per step; use at least {MIN_BATCH_PER_PROCESS * world}"
        )
    if cfg.batch_size % world:
        lower, upper = cfg.batch_size - cfg.batch_size % world, cfg.batch_size + world - cfg.batch_size % world
        raise UserError(
            f"--batch-size {cfg.batch_size} does not split evenly over {world} processes (the batch size is "
            f"global); use a multiple of {world}, e.g. {lower or upper} or {upper}"
        )
    log = log if rank == 0 else (lambda *a, **k: None)

    ds = dataset or load_dataset(
        cfg.dataset,
        cfg.data,
        cfg.data_dir,
        cfg.channels,
        cfg.input_size,
        cfg.seed,
        cfg.skip_bad,
        cfg.label_column,
        progress=progress and rank == 0,
    )
    if cfg.flip and not ds.flips and cfg.data is None:
        raise UserError(f"--flip would change labels of {ds.name} (a mirrored character is another character)")
    if cfg.flip is None:  # the recipe's choice, where mirroring keeps the label (user data: the user's call)
        cfg.flip = bool(recipe(cfg.model).get("flip", False)) and ds.flips
    train_x, train_y = ds.train_x, ds.train_y
    if cfg.max_train:
        train_x, train_y = train_x[: cfg.max_train], train_y[: cfg.max_train]
    need = MIN_BATCH_PER_PROCESS * world
    if len(train_y) < need:
        raise UserError(
            f"{len(train_y)} training image(s) are too few: a training batch needs at least "
            f"{MIN_BATCH_PER_PROCESS} per process ({need} in all); use more data or a larger --max-train"
        )
    mean, std = ds.pixel_stats()
    if state is not None:  # normalisation is part of the model: keep the saved one
        mean, std = state["normalization"]["mean"], state["normalization"]["std"]
    chosen = None
    if rank == 0:
        chosen = Path(resume) if resume is not None else prepare_run_dir(out, cfg, force)
        for stale in chosen.glob(".*.tmp"):  # temporaries of a write that was killed midway
            stale.unlink(missing_ok=True)
    run_dir = Path(dist.broadcast_object(str(chosen) if chosen else None))

    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, ds.num_classes, ds.channels, ds.size, cfg.ops)
    meta = ckpt.model_meta(
        cfg.model,
        ds.num_classes,
        ds.channels,
        ds.size,
        cfg.ops,
        ds.classes,
        mean,
        std,
        dark_background=mean < 0.5,
        input_style="mnist" if cfg.data is None and ds.name in MNIST_STYLE_DATASETS else "fit",
        dataset={
            "name": ds.name,
            "source": ds.source,
            "train": len(train_y),
            "test": len(ds.test_y),
            "notes": ds.notes,
        },
    )
    if world > 1 and cfg.sync_bn:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = make_optimizer(model, cfg)
    loader = Loader(
        train_x,
        train_y,
        cfg.batch_size,
        mean,
        std,
        device,
        shuffle=True,
        seed=cfg.seed,
        augment=Augment(cfg.shift or 0, cfg.flip, cfg.rotate, cfg.scale, cfg.thickness),
        shard=(rank, world),
        channels_last=cfg.channels_last,
        min_batch_per_process=MIN_BATCH_PER_PROCESS,
    )
    run = Run(
        cfg, device, rank, world, ds, train_x, train_y, mean, std, run_dir, model, model, optimizer, loader,
        Schedule.plan(len(loader) * cfg.epochs, cfg.lr, cfg.warmup, cfg.schedule), meta, log, progress,
    )  # fmt: skip
    if state is not None:
        _restore(run, state, changes)
    elastic.joined(run_dir, cfg.epochs, run.start_epoch)  # (torchrun: the job's id in the folder)
    if world > 1:
        run.net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        run.net = typing.cast(torch.nn.Module, torch.compile(run.net))
    log(
        f"training {cfg.model} ({cfg.ops} ops) on {ds.name}: {len(train_y)} train / {len(ds.test_y)} test "
        f"images, {cfg.epochs} epochs, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr}, device {device}"
        + (f", {world} processes" if world > 1 else "")
        + f" → {run_dir}"
    )
    run.t_start = time.perf_counter() - (run.history[-1]["elapsed_s"] if run.history else 0.0)
    return run


def _apply_overrides(cfg: TrainConfig, overrides: dict) -> dict:
    """Apply the options a resumed run may change; refuse any other, naming it."""
    refused = [k for k in overrides if k not in RESUME_SAFE]
    if refused:
        allowed = ", ".join(flag(k) for k in RESUME_SAFE)
        raise UserError(
            f"{flag(refused[0])} cannot be changed when resuming (the run keeps its saved recipe); "
            f"with --resume only {allowed} and --quiet may be given"
        )
    changes = {k: [getattr(cfg, k), v] for k, v in overrides.items() if getattr(cfg, k) != v}
    for k, (_, new) in changes.items():
        setattr(cfg, k, new)
    return changes


def _restore(run: Run, state: dict, changes: dict) -> None:
    """Load a saved run's weights, optimizer, history, RNG and schedule; extend it if --epochs changed."""
    ckpt.load_into(run.model, state["model"], str(run.run_dir / "state.pt"))
    run.optimizer.load_state_dict(state["optimizer"])
    run.history = list(state["history"])
    run.start_epoch = int(state["epoch"])
    run.config_history = list(state.get("config_history", []))
    torch.set_rng_state(state["rng"])
    steps = len(run.loader)
    if "schedule" in state:
        run.schedule = Schedule.from_list(state["schedule"])
    else:  # a run saved before schedules were stored: its schedule was the plain plan
        old_epochs = changes.get("epochs", [run.cfg.epochs])[0]
        run.schedule = Schedule.plan(steps * old_epochs, run.cfg.lr, run.cfg.warmup, run.cfg.schedule)
    note = {}
    if "epochs" in changes:
        old, new = changes["epochs"]
        if new <= run.start_epoch:
            raise UserError(
                f"--epochs {new}: the run has already completed {run.start_epoch} epochs; "
                f"give more than {run.start_epoch} to extend it"
            )
        run.schedule, how = run.schedule.extend(run.start_epoch * steps, new * steps)
        note["schedule"] = how
        run.log(f"extending the run from {old} to {new} epochs: {how}")
    if changes:
        run.config_history.append({"epoch": run.start_epoch, "changed": changes, **note})
    if run.main and run.history and _files_behind(run):  # killed between state.pt and these files
        try:
            write_run_files(run)
        except OSError as e:
            raise UserError(
                f"could not bring {run.run_dir}'s files up to epoch {run.start_epoch} ({e.strerror or e}); "
                f"state.pt is intact; free space and resume again"
            ) from None
    run.log(f"resuming {run.run_dir} after epoch {run.start_epoch} of {run.cfg.epochs}")


def _files_behind(run: Run) -> bool:
    """Whether the user-facing files lag state.pt (a run killed while writing them)."""
    import json

    folder = run.run_dir
    try:
        epoch = json.loads((folder / "model.json").read_text())["metrics"]["epoch"]
        rows = (folder / "metrics.csv").read_text().count("\n") - 1
    except (OSError, ValueError, KeyError, TypeError):
        return True
    names = ("model.safetensors", "config.toml")
    return epoch != len(run.history) or rows != len(run.history) or not all((folder / n).is_file() for n in names)


def _check_same_arguments(cfg: TrainConfig, device: torch.device, world: int) -> None:
    """Every rank must run the same job: compare each rank's config with rank 0's."""
    mine = cfg.to_dict()
    first = dist.broadcast_object(mine)
    differ = sorted(k for k in mine if mine[k] != first.get(k))
    if dist.all_max(torch.tensor(len(differ), device=device)).item():
        raise UserError(
            f"the {world} processes were started with different arguments"
            + (f" ({', '.join(differ)} differ from rank 0's)" if differ else "")
            + "; launch them with identical arguments"
        )


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
        with autocast(device, cfg.amp):
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
            f"try a lower learning rate (e.g. --lr {cfg.lr / 3:.2g})"
        )
    return {"loss": loss_sum.item() / seen.item(), "acc": correct.item() / seen.item(), "seen": seen.item()}


def save_epoch(run: Run, row: dict) -> None:
    """Record the epoch and write the run folder (rank 0): state first (what resume reads), then
    the user-facing files, each atomic. A failed write keeps the previous epoch's files."""
    run.history.append(row)
    if not run.main:
        return
    try:
        ckpt.save_state(
            run.run_dir / "state.pt",
            {
                "epoch": len(run.history),
                "model": {k: v.detach().cpu() for k, v in run.model.state_dict().items()},
                "optimizer": run.optimizer.state_dict(),
                "history": run.history,
                "config": run.cfg.to_dict(),
                "config_history": run.config_history,
                "schedule": run.schedule.to_list(),
                "rng": torch.get_rng_state(),
                "normalization": {"mean": run.mean, "std": run.std},
            },
        )
        write_run_files(run)
    except OSError as e:
        epoch = row["epoch"]
        kept = f"epoch {epoch - 1}'s checkpoint is intact" if epoch > 1 else "nothing was saved"
        raise UserError(
            f"could not write the checkpoint of epoch {epoch} to {run.run_dir} ({e.strerror or e}); {kept}; "
            f"free space and resume with --resume {run.run_dir}"
        ) from None


def write_run_files(run: Run) -> None:
    """The user-facing files of the last recorded epoch: weights (with their description),
    model.json, config.toml and metrics.csv. Called after each epoch's state.pt, and again on
    resume, so a run killed between its state and these files is made whole."""
    from .config import config_toml

    row = run.history[-1]
    run.meta["metrics"] = {k: row[k] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
    run.meta["config"] = run.cfg.to_dict()
    if run.config_history:
        run.meta["config_history"] = run.config_history
    folder = run.run_dir
    ckpt.save_weights(folder / "model.safetensors", run.model, run.meta)
    ckpt.save_json(folder / "model.json", run.meta)
    ckpt.save_text(folder / "config.toml", config_toml(run.cfg))
    ckpt.save_metrics_csv(folder / "metrics.csv", run.history)


def finish(run: Run, confusion: torch.Tensor | None) -> None:
    """Plots of the finished run (rank 0), then every process waits for the others, so none exits
    while another still writes (a rank leaving early can abort the process group's threads).

    A resumed run that had already finished (killed while drawing its plots) evaluates once to
    draw them again."""
    plots_missing = run.main and not all((run.run_dir / n).is_file() for n in ("curves.png", "confusion.png"))
    if confusion is None and run.history and dist.broadcast_object(plots_missing):
        confusion = evaluate(
            run.model, run.data.test_x, run.data.test_y, run.mean, run.std, run.data.num_classes,
            run.cfg.eval_batch_size, run.device, run.cfg.amp, run.cfg.channels_last,
        )["confusion"]  # fmt: skip
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
) -> FitResult:
    """Train a model; write checkpoints and plots to a run folder (rank 0 only).

    `resume=DIR` continues the run in DIR from its last completed epoch with its saved config;
    `overrides` may change the options marked safe to change on resume (epochs, device,
    threads, eval_batch_size; see config.RESUME_SAFE). `out=None` with `resume=None` makes
    runs/<data>-<model>-<time>/. `log` receives the per-epoch lines; `progress` shows a bar.
    `watch(run, event)` observes the run without changing it: {"type": "start"}, then one "step"
    (with its loss) per batch and one "epoch" (the metrics row) per epoch, on rank 0.
    """
    out, resume, force = elastic.start(out, resume, force)  # a torchrun restart continues its run
    run = setup(cfg, out, resume, force, dataset, log, progress, overrides)
    run.watch = watch
    cfg, confusion = run.cfg, None
    run.tell({"type": "start", "epochs": cfg.epochs, "steps_per_epoch": len(run.loader), "run_dir": str(run.run_dir),
              "start_epoch": run.start_epoch, "history": run.history})  # fmt: skip
    try:
        for epoch in range(run.start_epoch, cfg.epochs):
            t0 = time.perf_counter()
            train = train_epoch(run, epoch)
            train_time = time.perf_counter() - t0
            ev = evaluate(
                run.model, run.data.test_x, run.data.test_y, run.mean, run.std, run.data.num_classes,
                cfg.eval_batch_size, run.device, cfg.amp, cfg.channels_last,
            )  # fmt: skip
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
    except KeyboardInterrupt:
        run.log(
            f"interrupted; {run.run_dir} holds epoch {len(run.history)} of {cfg.epochs}; "
            f"continue with: convlab train --resume {run.run_dir}"
        )
        raise
    finish(run, confusion)
    return FitResult(run.run_dir, run.history, run.model.eval(), run.meta)


__all__ = [
    "FitResult",
    "Run",
    "TrainConfig",
    "TrainingDiverged",
    "autocast",
    "class_report",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "lr_at",
    "save_epoch",
    "setup",
    "train_epoch",
]
