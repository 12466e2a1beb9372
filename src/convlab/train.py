"""Training: `fit()` turns a `TrainConfig` (config.py) into a run folder of checkpoints.

The whole dataset sits on the device as uint8 (`data.loader`); each step gathers a batch,
augments and normalises it, and takes one optimizer step with the learning rate set from
a closed-form schedule (so resuming needs only the step number). After every epoch the
run folder gets an atomic checkpoint; a non-finite loss stops the run naming the step and
keeps the last good epoch. Works in one process or under torchrun (see `distributed`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed as dist
from .config import RECIPE_SHIFT, TrainConfig, resolve_device  # noqa: F401 (public API)
from .data import ImageDataset, load_dataset
from .data.loader import Augment, Loader
from .errors import UserError
from .evaluate import autocast, class_report, evaluate, evaluate_checkpoint
from .models import build_model

RUN_FILES = ("model.safetensors", "model.json", "state.pt", "metrics.csv", "curves.png", "confusion.png")


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


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Learning rate at `step` of `total`: linear warm-up, then the chosen anneal."""
    warm = int(cfg.warmup * total)
    if step < warm:
        return cfg.lr * (0.1 + 0.9 * step / warm)
    if cfg.schedule == "constant":
        return cfg.lr
    t = (step - warm) / max(1, total - warm)
    if cfg.schedule == "cosine":
        return cfg.lr * 0.5 * (1 + math.cos(math.pi * t))
    return cfg.lr * (1 - t)  # onecycle: linear anneal to zero


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
            raise UserError(
                f"run folder {out} already exists and is not empty; "
                f"use --resume {out} to continue it, --force to replace it, or another --out"
            )
        for name in RUN_FILES:  # replace only what a run writes
            (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create run folder {out}: {e.strerror}") from None
    return out


def fit(
    cfg: TrainConfig | None = None,
    out: str | Path | None = None,
    resume: str | Path | None = None,
    force: bool = False,
    dataset: ImageDataset | None = None,
    log=print,
    progress: bool = True,
) -> FitResult:
    """Train a model; write checkpoints and plots to a run folder (rank 0 only).

    `resume=DIR` continues the run in DIR from its last completed epoch, with its saved config.
    `out=None` with `resume=None` makes runs/<data>-<model>-<time>/. `log` receives the
    per-epoch lines; `progress` shows a tqdm bar per epoch.
    """
    state = None
    if resume is not None:
        state = ckpt.load_state(resume)
        cfg = TrainConfig.from_dict(state["config"])
        out = Path(resume)
    cfg = (cfg or TrainConfig()).validate()
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world = dist.setup(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    main = rank == 0
    if world > 1:  # every rank must run the same job
        mine = _config_dict(cfg)
        first = dist.broadcast_object(mine)
        differ = sorted(k for k in mine if mine[k] != first.get(k))
        if dist.all_max(torch.tensor(len(differ), device=device)).item():
            raise UserError(
                f"the {world} processes were started with different arguments"
                + (f" ({', '.join(differ)} differ from rank 0's)" if differ else "")
                + "; launch them with identical arguments"
            )
    if cfg.batch_size < world:
        raise UserError(
            f"--batch-size {cfg.batch_size} is smaller than the {world} processes; "
            f"the batch size is global, so use at least {world}"
        )
    log = log if main else (lambda *a, **k: None)

    ds = dataset or load_dataset(
        cfg.dataset,
        cfg.data,
        cfg.data_dir,
        cfg.channels,
        tuple(cfg.input_size),
        cfg.seed,
        cfg.skip_bad,
        cfg.label_column,
        progress=progress and main,
    )
    if cfg.flip and not ds.flips and cfg.data is None:
        raise UserError(f"--flip would change labels of {ds.name} (a mirrored character is another character)")
    train_x, train_y = ds.train_x, ds.train_y
    if cfg.max_train:
        train_x, train_y = train_x[: cfg.max_train], train_y[: cfg.max_train]
    mean, std = ds.pixel_stats()
    if state is not None:  # normalisation is part of the model: keep the saved one
        mean, std = state["normalization"]["mean"], state["normalization"]["std"]
    run_dir = None
    if main:
        run_dir = Path(out) if state is not None else prepare_run_dir(out, cfg, force)
        for stale in run_dir.glob(".*.tmp"):  # temporaries of a write that was killed midway
            stale.unlink(missing_ok=True)
    run_dir = Path(dist.broadcast_object(str(run_dir) if run_dir else None))

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
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, cfg)
    history: list[dict] = []
    start_epoch = 0
    if state is not None:
        ckpt.load_into(model, state["model"], str(run_dir / "state.pt"))
        optimizer.load_state_dict(state["optimizer"])
        history = list(state["history"])
        start_epoch = int(state["epoch"])
        torch.set_rng_state(state["rng"])
        log(f"resuming {run_dir} after epoch {start_epoch} of {cfg.epochs}")
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        net = torch.compile(net)

    loader = Loader(
        train_x,
        train_y,
        cfg.batch_size,
        mean,
        std,
        device,
        shuffle=True,
        seed=cfg.seed,
        augment=Augment(cfg.shift, cfg.flip),
        shard=(rank, world),
        channels_last=cfg.channels_last,
    )
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * cfg.epochs
    if main:
        log(
            f"training {cfg.model} ({cfg.ops} ops) on {ds.name}: {len(train_y)} train / {len(ds.test_y)} test "
            f"images, {cfg.epochs} epochs, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr}, device {device}"
            + (f", {world} processes" if world > 1 else "")
            + f" → {run_dir}"
        )
    t_start = time.perf_counter() - (history[-1]["elapsed_s"] if history else 0.0)
    try:
        for epoch in range(start_epoch, cfg.epochs):
            loader.set_epoch(epoch)
            net.train()
            t0 = time.perf_counter()
            loss_sum = torch.zeros((), dtype=torch.float64, device=device)
            correct = torch.zeros((), dtype=torch.long, device=device)
            seen = torch.zeros((), dtype=torch.long, device=device)
            bad_step = torch.full((), -1, dtype=torch.long, device=device)
            bar = tqdm(
                loader,
                desc=f"epoch {epoch + 1}/{cfg.epochs}",
                leave=False,
                unit="batch",
                disable=None if (progress and main) else True,
            )
            for i, (xb, yb) in enumerate(bar):
                step = epoch * steps_per_epoch + i
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, cfg)
                with autocast(device, cfg.amp):
                    out = net(xb)
                    loss = F.cross_entropy(out.float(), yb, label_smoothing=cfg.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                d = loss.detach()
                bad_step = torch.where((bad_step < 0) & ~torch.isfinite(d), step, bad_step)
                loss_sum += d.double() * len(yb)
                correct += (out.detach().argmax(1) == yb).sum()
                seen += len(yb)
                if world == 1 and i % 50 == 49 and bad_step.item() >= 0:
                    break  # (under torchrun all ranks check together at the epoch's end)
            bar.close()
            for t in (loss_sum, correct, seen):
                dist.all_sum(t)
            bad_step = dist.all_max(bad_step)
            if bad_step.item() >= 0:
                kept = (
                    f"the last good checkpoint (epoch {epoch}) is kept in {run_dir}"
                    if epoch
                    else "no epoch completed, so nothing was saved"
                )
                raise TrainingDiverged(
                    f"training loss became non-finite at step {bad_step.item()} "
                    f"(epoch {epoch + 1}); {kept}; try a lower learning rate "
                    f"(e.g. --lr {cfg.lr / 3:.2g})"
                )
            train_time = time.perf_counter() - t0
            ev = evaluate(
                model,
                ds.test_x,
                ds.test_y,
                mean,
                std,
                ds.num_classes,
                cfg.eval_batch_size,
                device,
                cfg.amp,
                cfg.channels_last,
            )
            row = {
                "epoch": epoch + 1,
                "train_loss": loss_sum.item() / seen.item(),
                "train_acc": correct.item() / seen.item(),
                "test_loss": ev["loss"],
                "test_acc": ev["accuracy"],
                "lr": lr_at((epoch + 1) * steps_per_epoch - 1, total_steps, cfg),
                "images_per_s": seen.item() / train_time,
                "elapsed_s": time.perf_counter() - t_start,
            }
            history.append(row)
            meta["metrics"] = {k: row[k] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
            meta["config"] = _config_dict(cfg)
            if main:
                try:
                    _save_epoch(run_dir, model, optimizer, cfg, meta, history, mean, std)
                except OSError as e:
                    kept = f"epoch {epoch}'s checkpoint is intact" if epoch else "nothing was saved"
                    raise UserError(
                        f"could not write the checkpoint of epoch {epoch + 1} to {run_dir} "
                        f"({e.strerror or e}); {kept}; free space and resume with "
                        f"--resume {run_dir}"
                    ) from None
            log(
                f"epoch {row['epoch']:3d}/{cfg.epochs}  loss {row['train_loss']:.4f}  "
                f"train acc {row['train_acc']:.4f}  test acc {row['test_acc']:.4f}  "
                f"{row['images_per_s']:,.0f} img/s  {row['elapsed_s']:.1f}s"
            )
            last_confusion = ev["confusion"]
    except KeyboardInterrupt:
        if main:
            done = len(history)
            log(
                f"interrupted; {run_dir} holds epoch {done} of {cfg.epochs}; "
                f"continue with: convlab train --resume {run_dir}"
            )
        raise
    if main and history and start_epoch < cfg.epochs:
        from . import plots

        plots.save(plots.learning_curves(history), run_dir / "curves.png")
        plots.save(plots.confusion_matrix(last_confusion, ds.classes, f"{ds.name} test"), run_dir / "confusion.png")
    return FitResult(run_dir, history, model.eval(), meta)


def _config_dict(cfg: TrainConfig) -> dict:
    d = asdict(cfg)
    d["input_size"] = list(cfg.input_size)
    return d


def _save_epoch(run_dir: Path, model, optimizer, cfg, meta, history, mean, std) -> None:
    """State first (what resume reads), then the user-facing files; each atomic."""
    ckpt.save_state(
        run_dir / "state.pt",
        {
            "epoch": len(history),
            "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "history": history,
            "config": _config_dict(cfg),
            "rng": torch.get_rng_state(),
            "normalization": {"mean": mean, "std": std},
        },
    )
    ckpt.save_weights(run_dir / "model.safetensors", model, meta)
    ckpt.save_json(run_dir / "model.json", meta)
    ckpt.save_metrics_csv(run_dir / "metrics.csv", history)


__all__ = [
    "FitResult",
    "TrainConfig",
    "TrainingDiverged",
    "class_report",
    "evaluate",
    "evaluate_checkpoint",
    "fit",
    "lr_at",
]
