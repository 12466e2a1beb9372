"""What a checkpoint says about itself, as dataclasses: `ModelMeta` (model.json, and the same JSON
in model.safetensors' header) and `TrainState` (state.pt).

Each has one reader (`ModelMeta.from_dict`, `TrainState.from_dict`) that checks every field a
file may get wrong and names it, and a `to_dict` that writes the same layout convlab has always
written, so run folders and bundled checkpoints from earlier versions load unchanged. Keys a
reader does not know are kept (`ModelMeta.extra`) and written back as they were.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import UserError

FORMAT = "convlab-model"
_KINDS = {dict: "a dict", list: "a list", int: "an integer", str: "text"}


class MetadataError(UserError):
    """A checkpoint's metadata with a field missing, of the wrong type or out of range."""


def _fail(where: str, name: str, problem: str) -> MetadataError:
    return MetadataError(f"{where}: convlab metadata is malformed or inconsistent: '{name}' {problem}")


def _section(d: dict, key: str, where: str, kind: type, required: bool = True) -> Any:
    """d[key], checked to be a `kind` (a missing optional section is None)."""
    if key not in d or d[key] is None:
        if required:
            raise _fail(where, key, "is missing")
        return None
    if not isinstance(d[key], kind) or (isinstance(d[key], bool) and kind is not bool):
        raise _fail(where, key, f"must be {_KINDS[kind]}, got {type(d[key]).__name__}")
    return d[key]


def _number(d: dict, key: str, where: str, name: str | None = None) -> float:
    value = d.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(where, name or key, f"must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ModelCode:
    """The code of a network of your own (`--model FILE.py:NAME`) as it was when the run trained:
    where it was, what to call in it, its SHA-256 and a copy of its text. Recorded, never run
    because it is recorded (models/user.py decides, from the command line, what may run)."""

    name: str  # the class or function in the file that builds the model
    sha256: str  # of the file's bytes, as hex
    text: str  # the file's text (the run's own copy, run only with --trust-model-code)
    path: str | None = None  # FILE.py as given (absolute), or None for a module
    module: str | None = None  # package.module, or None for a file
    args: dict = field(default_factory=dict)  # --model-args: keyword arguments beside the data's

    @property
    def spec(self) -> str:
        """`FILE.py:NAME` or `package.module:NAME`, as given on the command line."""
        return f"{self.path or self.module}:{self.name}"

    @classmethod
    def from_dict(cls, d: dict, where: str) -> ModelCode:
        name, sha, text = d.get("name"), d.get("sha256"), d.get("text")
        if not isinstance(name, str) or not name.isidentifier():
            raise _fail(where, "architecture.code.name", f"must be a Python name, got {name!r}")
        if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
            raise _fail(where, "architecture.code.sha256", "must be 64 hex digits")
        if not isinstance(text, str):
            raise _fail(where, "architecture.code.text", "must be the file's text")
        path, module = d.get("path"), d.get("module")
        if not isinstance(path, str) and not isinstance(module, str):
            raise _fail(where, "architecture.code", "must give a 'path' or a 'module'")
        args = _section(d, "args", where, dict, required=False) or {}
        return cls(name, sha, text, path if isinstance(path, str) else None,
                   module if isinstance(module, str) else None, dict(args))  # fmt: skip

    def to_dict(self) -> dict:
        d = {"name": self.name, "sha256": self.sha256, "path": self.path, "module": self.module, "args": self.args}
        return {k: v for k, v in d.items() if v is not None} | {"text": self.text}


@dataclass(frozen=True)
class ArchitectureMeta:
    """Which model to build, and for what: `models.build_model`'s arguments."""

    name: str  # a name in models.MODELS, or NAME of your own code (then `code` is set)
    num_classes: int
    in_channels: int  # 1 or 3
    input_size: tuple[int, int]  # (H, W) in pixels
    ops: str = "torch"  # whose conv/pool ops run it ("torch" or "convlab")
    code: ModelCode | None = None  # a network of your own: its recorded code (absent for the zoo's)

    @classmethod
    def from_dict(cls, d: dict, where: str) -> ArchitectureMeta:
        name, channels, classes = d.get("name"), d.get("in_channels"), d.get("num_classes")
        size, ops = d.get("input_size"), d.get("ops", "torch")
        if not isinstance(name, str):
            raise _fail(where, "architecture.name", f"must be a model name, got {name!r}")
        if channels not in (1, 3) or isinstance(channels, bool):
            raise _fail(where, "architecture.in_channels", f"must be 1 or 3, got {channels!r}")
        if not isinstance(classes, int) or isinstance(classes, bool):
            raise _fail(where, "architecture.num_classes", f"must be an integer, got {classes!r}")
        if not (isinstance(size, list) and len(size) == 2 and all(_pixels(n) for n in size)):
            raise _fail(where, "architecture.input_size", f"must be [H, W] of 1 to 4096 pixels, got {size!r}")
        if not isinstance(ops, str):
            raise _fail(where, "architecture.ops", f"must be 'torch' or 'convlab', got {ops!r}")
        code = _section(d, "code", where, dict, required=False)
        return cls(name, classes, channels, (size[0], size[1]), ops,
                   ModelCode.from_dict(code, where) if code is not None else None)  # fmt: skip

    def to_dict(self) -> dict:
        d = {"name": self.name, "num_classes": self.num_classes, "in_channels": self.in_channels,
             "input_size": list(self.input_size), "ops": self.ops}  # fmt: skip
        if self.code is not None:
            d["code"] = self.code.to_dict()
        return d


def _pixels(n) -> bool:
    return isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4096


@dataclass(frozen=True)
class DatasetMeta:
    """The data a model learned from (what `convlab eval` tests it on by default)."""

    name: str | None = None  # a known dataset's name, or your data's folder/file name
    source: str | None = None  # where it was read from
    train: int | None = None  # training images used
    test: int | None = None  # test images
    notes: list[str] | None = None  # what was done to read it

    @classmethod
    def from_dict(cls, d: dict, where: str) -> DatasetMeta:
        values = {}
        for key, kind in (("name", str), ("source", str), ("train", int), ("test", int), ("notes", list)):
            values[key] = _section(d, key, where, kind, required=False)
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


@dataclass(frozen=True)
class EpochMetrics:
    """The figures of the epoch whose weights these are (a row of metrics.csv)."""

    epoch: int | None = None
    train_loss: float | None = None
    train_acc: float | None = None  # fraction correct, 0 to 1
    test_loss: float | None = None
    test_acc: float | None = None  # fraction correct, 0 to 1

    @classmethod
    def from_dict(cls, d: dict, where: str) -> EpochMetrics:
        values: dict[str, Any] = {}
        for key in ("epoch", "train_loss", "train_acc", "test_loss", "test_acc"):
            if d.get(key) is not None:
                values[key] = _number(d, key, where, f"metrics.{key}")
        if "epoch" in values:
            values["epoch"] = int(values["epoch"])
        return cls(**values)

    def to_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if v is not None}


_KNOWN = {"format", "version", "architecture", "classes", "normalization", "dark_background", "versions",
          "input_style", "dataset", "metrics", "config", "config_history"}  # fmt: skip


@dataclass
class ModelMeta:
    """A checkpoint's description: enough to rebuild its model and prepare its inputs."""

    architecture: ArchitectureMeta
    classes: list[str]  # class names, in output order
    mean: float  # normalisation of [0, 1] pixels: (x - mean) / std
    std: float
    dark_background: bool = True  # the training images' background (inputs are inverted to match)
    input_style: str | None = None  # "mnist" (prepared as MNIST digits), "fit", or None: by the dataset
    dataset: DatasetMeta | None = None
    metrics: EpochMetrics | None = None
    config: dict | None = None  # the TrainConfig it was trained with (TrainConfig.to_dict)
    config_history: list[dict] | None = None  # options changed on resume
    versions: dict = field(default_factory=dict)  # convlab, torch and python that wrote it
    extra: dict = field(default_factory=dict)  # keys this version does not know, kept as written
    path: str | None = None  # the file it was read from (not written)

    @property
    def dataset_name(self) -> str | None:
        return self.dataset.name if self.dataset else None

    @property
    def seed(self) -> int:
        """The training seed (it also chose the held-out split of data without one); 0 if unknown."""
        seed = (self.config or {}).get("seed", 0)
        return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0

    @classmethod
    def from_dict(cls, meta: Any, where: str) -> ModelMeta:
        """The one reader: raises MetadataError naming the field that is missing, mistyped or inconsistent."""
        if not isinstance(meta, dict):
            raise _fail(where, "metadata", f"must be a JSON object, got {type(meta).__name__}")
        if meta.get("format") != FORMAT:
            raise _fail(where, "format", f"must be {FORMAT!r}, got {meta.get('format')!r}")
        arch = ArchitectureMeta.from_dict(_section(meta, "architecture", where, dict), where)
        classes = _section(meta, "classes", where, list)
        if not all(isinstance(c, str) for c in classes) or len(classes) != arch.num_classes:
            raise _fail(where, "classes", f"must be {arch.num_classes} names (architecture.num_classes)")
        norm = _section(meta, "normalization", where, dict)
        mean, std = _number(norm, "mean", where, "normalization.mean"), _number(norm, "std", where, "normalization.std")
        if std <= 0:
            raise _fail(where, "normalization.std", f"must be positive, got {std}")
        dataset, metrics = (_section(meta, k, where, dict, required=False) for k in ("dataset", "metrics"))
        return cls(
            arch, list(classes), mean, std,
            dark_background=bool(meta.get("dark_background", True)),
            input_style=meta.get("input_style") if meta.get("input_style") in ("mnist", "fit") else None,
            dataset=DatasetMeta.from_dict(dataset, where) if dataset is not None else None,
            metrics=EpochMetrics.from_dict(metrics, where) if metrics is not None else None,
            config=_section(meta, "config", where, dict, required=False),
            config_history=_section(meta, "config_history", where, list, required=False),
            versions=_section(meta, "versions", where, dict, required=False) or {},
            extra={k: v for k, v in meta.items() if k not in _KNOWN},
        )  # fmt: skip

    def to_dict(self) -> dict:
        """The JSON layout of model.json and the safetensors header."""
        d: dict[str, Any] = {
            "format": FORMAT,
            "version": 1,
            "architecture": self.architecture.to_dict(),
            "classes": list(self.classes),
            "normalization": {"mean": self.mean, "std": self.std},
            "dark_background": self.dark_background,
            "versions": self.versions,
        }
        if self.input_style is not None:
            d["input_style"] = self.input_style
        if self.dataset is not None:
            d["dataset"] = self.dataset.to_dict()
        d.update(self.extra)
        for key in ("metrics", "config", "config_history"):
            value = getattr(self, key)
            if value is not None:
                d[key] = value.to_dict() if isinstance(value, EpochMetrics) else value
        return d


@dataclass
class TrainState:
    """state.pt: everything a run needs to continue after its last completed epoch."""

    epoch: int  # epochs completed
    model: dict[str, torch.Tensor]  # the weights (state_dict)
    optimizer: dict  # the optimizer's state_dict
    config: dict  # the resolved TrainConfig (TrainConfig.to_dict)
    mean: float  # normalisation, part of the model
    std: float
    history: list[dict] = field(default_factory=list)  # one metrics row per epoch
    config_history: list[dict] = field(default_factory=list)  # options changed on resume
    schedule: list | None = None  # the learning-rate schedule (Schedule.to_list); None: runs saved before
    rng: torch.Tensor | None = None  # torch's CPU generator state

    @classmethod
    def from_dict(cls, state: Any, where: str) -> TrainState:
        """The one reader of state.pt: raises MetadataError naming the field that is wrong."""
        if not isinstance(state, dict):
            raise _fail(where, "state", f"must be a dict, got {type(state).__name__}")
        epoch = _section(state, "epoch", where, int)
        norm = _section(state, "normalization", where, dict)
        rng = state.get("rng")
        if rng is not None and not isinstance(rng, torch.Tensor):
            raise _fail(where, "rng", "must be a tensor (torch.get_rng_state())")
        return cls(
            epoch, _section(state, "model", where, dict), _section(state, "optimizer", where, dict),
            _section(state, "config", where, dict),
            _number(norm, "mean", where, "normalization.mean"), _number(norm, "std", where, "normalization.std"),
            history=list(_section(state, "history", where, list, required=False) or []),
            config_history=list(_section(state, "config_history", where, list, required=False) or []),
            schedule=_section(state, "schedule", where, list, required=False), rng=rng,
        )  # fmt: skip

    def to_dict(self) -> dict:
        """The dict saved as state.pt (loaded with weights_only=True: tensors, numbers, strings)."""
        return {
            "epoch": self.epoch,
            "model": self.model,
            "optimizer": self.optimizer,
            "history": self.history,
            "config": self.config,
            "config_history": self.config_history,
            "schedule": self.schedule,
            "rng": self.rng,
            "normalization": {"mean": self.mean, "std": self.std},
        }
