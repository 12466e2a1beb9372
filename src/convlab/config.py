"""The training recipe as a typed dataclass: every option, its default and why, and its checks.

`TrainConfig` is saved with every run (model.json and state.pt) and is what `--resume` reads
back; `resolve_device` turns "auto" into CUDA, then Apple MPS, then CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from .errors import UserError, unknown_name
from .models import MODELS

RECIPE_SHIFT = {"lenet": 0, "lenet-modern": 1}  # measured: +0.8 points for lenet-modern, none for lenet


@dataclass
class TrainConfig:
    dataset: str = "fashion-mnist"  # a known dataset (mnist, fashion-mnist, kmnist)...
    data: str | None = None  # ...or your own: IDX folder, image folder or CSV file
    data_dir: str | None = None  # folder searched first for known datasets
    model: str = "lenet"  # lenet (the tutorial's) | lenet-modern
    ops: str = "torch"  # run on PyTorch's ops or convlab's own (same results)
    epochs: int = 15  # passes over the training set
    batch_size: int = 128  # global: split across ranks under torchrun
    optimizer: str = "adamw"  # adamw | sgd (with Nesterov momentum)
    lr: float = 1e-2  # peak learning rate
    momentum: float = 0.9  # sgd only (Nesterov when > 0; 0 = plain SGD)
    weight_decay: float = 5e-4  # on weights of conv/linear layers, not biases or norms
    schedule: str = "onecycle"  # onecycle (warm up, then anneal to 0) | cosine | constant
    warmup: float = 0.2  # fraction of all steps spent warming up
    label_smoothing: float = 0.1  # cross-entropy target smoothing
    shift: int | None = None  # random-shift augmentation in pixels; None = the model's
    # recipe (RECIPE_SHIFT: lenet 0, lenet-modern 1)
    flip: bool = False  # horizontal flips (refused for datasets where they change labels)
    seed: int = 0  # model init, epoch order, augmentation
    device: str = "auto"  # auto (cuda, then mps, then cpu) | cpu | cuda | cuda:N | mps
    amp: bool | None = None  # bf16 autocast: None = CUDA only; True = CUDA and CPU (faster
    # on AMX/AVX-512-BF16 CPUs; fp32 numbers change in the last digits)
    channels_last: bool = False  # channels-last memory format for conv layers
    compile: bool = False  # torch.compile the model
    eval_batch_size: int = 2048  # batch size for evaluation (under inference_mode)
    threads: int = 0  # CPU threads for PyTorch (0 = PyTorch's default)
    sync_bn: bool = False  # SyncBatchNorm across ranks under torchrun
    channels: int = 1  # image folders: 1 (grayscale) or 3 (RGB)
    input_size: tuple[int, int] = (28, 28)  # image folders: resize target (H, W)
    skip_bad: bool = False  # image folders: skip unreadable files with a note
    label_column: str | None = None  # CSV without a 'label' header: first | last
    max_train: int = 0  # use only the first N training images (0 = all)

    def validate(self) -> TrainConfig:
        if self.data is None and self.dataset not in known_datasets():
            raise unknown_name("dataset", self.dataset, known_datasets())
        if self.model not in MODELS:
            raise unknown_name("model", self.model, MODELS)
        checks = [
            (1 <= self.epochs <= 10_000, f"--epochs must be between 1 and 10000, got {self.epochs}"),
            (1 <= self.batch_size <= 65_536, f"--batch-size must be between 1 and 65536, got {self.batch_size}"),
            (0 < self.lr <= 10 and math.isfinite(self.lr), f"--lr must be in (0, 10], got {self.lr}"),
            (0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}"),
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
        for name, value, allowed in (
            ("optimizer", self.optimizer, ("adamw", "sgd")),
            ("schedule", self.schedule, ("onecycle", "cosine", "constant")),
            ("ops backend", self.ops, ("torch", "convlab")),
        ):
            if value not in allowed:
                raise unknown_name(name, value, allowed)
        resolve_device(self.device)
        if self.shift is None:
            self.shift = RECIPE_SHIFT.get(self.model, 0)
        return self

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        cfg = cls(**{k: v for k, v in d.items() if k in names})
        cfg.input_size = tuple(cfg.input_size)
        return cfg


def known_datasets():
    from .data.sources import KNOWN

    return KNOWN


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
