"""Training and evaluation: `TrainConfig`, `fit()`, `evaluate()`.

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
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import checkpoint as ckpt
from . import distributed as dist
from .data import ImageDataset, load_dataset
from .data.loader import Augment, Loader, normalize
from .errors import UserError, unknown_name
from .models import MODELS, build_model

RECIPE_SHIFT = {"lenet": 0, "lenet-modern": 1}  # measured: +0.8 points for lenet-modern, none for lenet
RUN_FILES = ("model.safetensors", "model.json", "state.pt", "metrics.csv", "curves.png", "confusion.png")


@dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"     # a known dataset (mnist, fashion-mnist, kmnist)...
    data: str | None = None            # ...or your own: IDX folder, image folder or CSV file
    data_dir: str | None = None        # folder searched first for known datasets
    model: str = "lenet"               # lenet (the seed's) | lenet-modern
    ops: str = "torch"                 # run on PyTorch's ops or convlab's own (same results)
    epochs: int = 15                   # passes over the training set
    batch_size: int = 128              # global: split across ranks under torchrun
    optimizer: str = "adamw"           # adamw | sgd (with Nesterov momentum)
    lr: float = 1e-2                   # peak learning rate
    momentum: float = 0.9              # sgd only
    weight_decay: float = 5e-4         # on weights of conv/linear layers, not biases or norms
    schedule: str = "onecycle"         # onecycle (warm up, then anneal to 0) | cosine | constant
    warmup: float = 0.2                # fraction of all steps spent warming up
    label_smoothing: float = 0.1       # cross-entropy target smoothing
    shift: int | None = None           # random-shift augmentation in pixels; None = the model's
                                       # recipe (RECIPE_SHIFT: lenet 0, lenet-modern 1)
    flip: bool = False                 # horizontal flips (refused for datasets where they change labels)
    seed: int = 0                      # model init, epoch order, augmentation
    device: str = "auto"               # auto (cuda, then mps, then cpu) | cpu | cuda | cuda:N | mps
    amp: bool = True                   # bf16 autocast on CUDA (ignored elsewhere)
    channels_last: bool = False        # channels-last memory format for conv layers
    compile: bool = False              # torch.compile the model
    eval_batch_size: int = 2048        # batch size for evaluation (under inference_mode)
    threads: int = 0                   # CPU threads for PyTorch (0 = PyTorch's default)
    sync_bn: bool = False              # SyncBatchNorm across ranks under torchrun
    channels: int = 1                  # image folders: 1 (grayscale) or 3 (RGB)
    input_size: tuple[int, int] = (28, 28)  # image folders: resize target (H, W)
    skip_bad: bool = False             # image folders: skip unreadable files with a note
    label_column: str | None = None    # CSV without a 'label' header: first | last
    max_train: int = 0                 # use only the first N training images (0 = all)

    def validate(self) -> "TrainConfig":
        if self.data is None and self.dataset not in _known_datasets():
            raise unknown_name("dataset", self.dataset, _known_datasets())
        if self.model not in MODELS:
            raise unknown_name("model", self.model, MODELS)
        checks = [
            (1 <= self.epochs <= 10_000, f"--epochs must be between 1 and 10000, got {self.epochs}"),
            (1 <= self.batch_size <= 65_536, f"--batch-size must be between 1 and 65536, got {self.batch_size}"),
            (0 < self.lr <= 10 and math.isfinite(self.lr), f"--lr must be in (0, 10], got {self.lr}"),
            (0 <= self.weight_decay < 1, f"--weight-decay must be in [0, 1), got {self.weight_decay}"),
            (0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}"),
            (0 <= self.warmup < 1, f"--warmup must be in [0, 1), got {self.warmup}"),
            (self.shift is None or 0 <= self.shift <= 8, f"--shift must be between 0 and 8 pixels, got {self.shift}"),
            (self.channels in (1, 3), f"--channels must be 1 or 3, got {self.channels}"),
            (self.eval_batch_size >= 1, f"--eval-batch-size must be positive, got {self.eval_batch_size}"),
            (self.threads >= 0, f"--threads must be ≥ 0, got {self.threads}"),
            (self.max_train >= 0, f"--max-train must be ≥ 0, got {self.max_train}"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(message)
        for name, value, allowed in (("optimizer", self.optimizer, ("adamw", "sgd")),
                                     ("schedule", self.schedule, ("onecycle", "cosine", "constant")),
                                     ("ops backend", self.ops, ("torch", "convlab"))):
            if value not in allowed:
                raise unknown_name(name, value, allowed)
        resolve_device(self.device)
        if self.shift is None:
            self.shift = RECIPE_SHIFT.get(self.model, 0)
        return self

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.input_size = tuple(cfg.input_size)
        return cfg


def _known_datasets():
    from .data.sources import KNOWN
    return KNOWN


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name!r} asked for, but no CUDA GPU is available; use --device cpu")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UserError(f"device {name!r} asked for, but Apple MPS is not available; use --device cpu")
    return device


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
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    return torch.optim.AdamW(groups, lr=cfg.lr)


def _autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


@torch.inference_mode()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, mean: float, std: float,
             num_classes: int, batch_size: int = 2048, device="cpu", amp: bool = False,
             channels_last: bool = False) -> dict:
    """Loss, accuracy and confusion matrix (true × predicted) of `model` on uint8 images x.

    Under torchrun each rank evaluates its share and the sums are gathered.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loader = Loader(x, y, batch_size, mean, std, device, shard=(dist.rank(), max(1, _world())),
                    channels_last=channels_last)
    loss = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    for xb, yb in loader:
        with _autocast(device, amp):
            out = model(xb)
        loss += F.cross_entropy(out.float(), yb, reduction="sum").double()
        confusion += torch.bincount(yb * num_classes + out.argmax(1), minlength=num_classes ** 2)
    dist.all_sum(loss)
    dist.all_sum(confusion)
    model.train(was_training)
    confusion = confusion.view(num_classes, num_classes).cpu()
    n = int(confusion.sum())
    return {"loss": loss.item() / max(n, 1), "accuracy": confusion.diag().sum().item() / max(n, 1),
            "n": n, "confusion": confusion}


def _world() -> int:
    import torch.distributed as tdist
    return tdist.get_world_size() if dist.active() else 1


def class_report(confusion: torch.Tensor, classes: list[str]) -> list[dict]:
    """Per-class precision and recall from a confusion matrix (true × predicted)."""
    c = confusion.double()
    tp = c.diag()
    precision = tp / c.sum(0).clamp(min=1)
    recall = tp / c.sum(1).clamp(min=1)
    return [{"class": k, "precision": p.item(), "recall": r.item(), "support": int(s)}
            for k, p, r, s in zip(classes, precision, recall, c.sum(1))]


def evaluate_checkpoint(ck, dataset: str | None = None, data: str | None = None,
                        data_dir: str | None = None, batch_size: int = 2048, device: str = "auto") -> dict:
    """Accuracy, loss, per-class precision/recall and confusion of a checkpoint on a test set.

    Without `dataset` or `data`, the known dataset the checkpoint was trained on is used.
    """
    c, h, w = ck.input_shape
    if dataset is None and data is None:
        dataset = ck.meta.get("dataset", {}).get("name")
        if dataset not in _known_datasets():
            raise UserError("the checkpoint was not trained on a known dataset; pass --dataset NAME or --data PATH")
    ds = load_dataset(dataset, data, data_dir, c, (h, w), progress=False)
    if ds.num_classes != len(ck.classes) or ds.size != (h, w) or ds.channels != c:
        raise UserError(f"{ds.name} has {ds.num_classes} classes of {ds.channels}×{ds.size[0]}×{ds.size[1]} images "
                        f"but the model expects {len(ck.classes)} classes of {c}×{h}×{w}")
    dev = resolve_device(device)
    model = ck.model.to(dev)
    ev = evaluate(model, ds.test_x, ds.test_y, ck.mean, ck.std, ds.num_classes, batch_size, dev)
    ev["per_class"] = class_report(ev["confusion"], ck.classes)
    ev["dataset"] = ds.name
    return ev


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
            raise UserError(f"run folder {out} already exists and is not empty; "
                            f"use --resume {out} to continue it, --force to replace it, or another --out")
        for name in RUN_FILES:  # replace only what a run writes
            (out / name).unlink(missing_ok=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create run folder {out}: {e.strerror}") from None
    return out


def fit(cfg: TrainConfig | None = None, out: str | Path | None = None, resume: str | Path | None = None,
        force: bool = False, dataset: ImageDataset | None = None, log=print, progress: bool = True) -> FitResult:
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
        if dist.all_max(torch.tensor(len(differ))).item():
            raise UserError(f"the {world} processes were started with different arguments"
                            + (f" ({', '.join(differ)} differ from rank 0's)" if differ else "")
                            + "; launch them with identical arguments")
    if cfg.batch_size < world:
        raise UserError(f"--batch-size {cfg.batch_size} is smaller than the {world} processes; "
                        f"the batch size is global, so use at least {world}")
    log = log if main else (lambda *a, **k: None)

    ds = dataset or load_dataset(cfg.dataset, cfg.data, cfg.data_dir, cfg.channels, tuple(cfg.input_size),
                                 cfg.seed, cfg.skip_bad, cfg.label_column, progress=progress and main)
    train_x, train_y = ds.train_x, ds.train_y
    if cfg.max_train:
        train_x, train_y = train_x[:cfg.max_train], train_y[:cfg.max_train]
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
    meta = ckpt.model_meta(cfg.model, ds.num_classes, ds.channels, ds.size, cfg.ops, ds.classes, mean, std,
                           dark_background=mean < 0.5,
                           dataset={"name": ds.name, "source": ds.source, "train": len(train_y),
                                    "test": len(ds.test_y), "notes": ds.notes})
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
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        net = torch.compile(net)

    if cfg.flip and not ds.flips and cfg.data is None:
        raise UserError(f"--flip would change labels of {ds.name} (a mirrored character is another character)")
    flip = cfg.flip
    loader = Loader(train_x, train_y, cfg.batch_size, mean, std, device, shuffle=True, seed=cfg.seed,
                    augment=Augment(cfg.shift, flip), shard=(rank, world), channels_last=cfg.channels_last)
    steps_per_epoch = len(loader)
    total_steps = steps_per_epoch * cfg.epochs
    if main:
        log(f"training {cfg.model} ({cfg.ops} ops) on {ds.name}: {len(train_y)} train / {len(ds.test_y)} test "
            f"images, {cfg.epochs} epochs, batch {cfg.batch_size}, {cfg.optimizer} lr {cfg.lr}, device {device}"
            + (f", {world} processes" if world > 1 else "") + f" → {run_dir}")
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
            bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", leave=False, unit="batch",
                       disable=None if (progress and main) else True)
            for i, (xb, yb) in enumerate(bar):
                step = epoch * steps_per_epoch + i
                for group in optimizer.param_groups:
                    group["lr"] = lr_at(step, total_steps, cfg)
                with _autocast(device, cfg.amp):
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
                kept = f"the last good checkpoint (epoch {epoch}) is kept in {run_dir}" if epoch else \
                    "no epoch completed, so nothing was saved"
                raise TrainingDiverged(f"training loss became non-finite at step {bad_step.item()} "
                                       f"(epoch {epoch + 1}); {kept}; try a lower learning rate "
                                       f"(e.g. --lr {cfg.lr / 3:.2g})")
            train_time = time.perf_counter() - t0
            ev = evaluate(model, ds.test_x, ds.test_y, mean, std, ds.num_classes, cfg.eval_batch_size, device,
                          cfg.amp, cfg.channels_last)
            row = {"epoch": epoch + 1, "train_loss": loss_sum.item() / seen.item(),
                   "train_acc": correct.item() / seen.item(), "test_loss": ev["loss"], "test_acc": ev["accuracy"],
                   "lr": lr_at((epoch + 1) * steps_per_epoch - 1, total_steps, cfg),
                   "images_per_s": seen.item() / train_time, "elapsed_s": time.perf_counter() - t_start}
            history.append(row)
            meta["metrics"] = {k: row[k] for k in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc")}
            meta["config"] = _config_dict(cfg)
            if main:
                try:
                    _save_epoch(run_dir, model, optimizer, cfg, meta, history, mean, std)
                except OSError as e:
                    kept = f"epoch {epoch}'s checkpoint is intact" if epoch else "nothing was saved"
                    raise UserError(f"could not write the checkpoint of epoch {epoch + 1} to {run_dir} "
                                    f"({e.strerror or e}); {kept}; free space and resume with "
                                    f"--resume {run_dir}") from None
            log(f"epoch {row['epoch']:3d}/{cfg.epochs}  loss {row['train_loss']:.4f}  "
                f"train acc {row['train_acc']:.4f}  test acc {row['test_acc']:.4f}  "
                f"{row['images_per_s']:,.0f} img/s  {row['elapsed_s']:.1f}s")
            last_confusion = ev["confusion"]
    except KeyboardInterrupt:
        if main:
            done = len(history)
            log(f"interrupted; {run_dir} holds epoch {done} of {cfg.epochs}; "
                f"continue with: convlab train --resume {run_dir}")
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
    ckpt.save_state(run_dir / "state.pt", {
        "epoch": len(history), "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "optimizer": optimizer.state_dict(), "history": history, "config": _config_dict(cfg),
        "rng": torch.get_rng_state(), "normalization": {"mean": mean, "std": std}})
    ckpt.save_weights(run_dir / "model.safetensors", model, meta)
    ckpt.save_json(run_dir / "model.json", meta)
    ckpt.save_metrics_csv(run_dir / "metrics.csv", history)



__all__ = ["TrainConfig", "fit", "evaluate", "evaluate_checkpoint", "class_report", "FitResult", "TrainingDiverged", "lr_at"]
