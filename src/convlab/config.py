"""The training recipe as a typed dataclass: every option defined once, with its help and checks.

Each field of `TrainConfig` carries its default, its help text, its allowed values or range,
and whether it may change when a run is resumed (`option(...)` metadata). Everything else is
generated from that one definition: the `convlab train` flags (`add_arguments`), the checks
(`TrainConfig.validate`), the TOML recipes (configfile.py), and the list of flags `--resume`
accepts. Adding an option is one edit here.

Options a model's recipe may set (epochs, lr, shift, flip, amp, channels_last) default to None,
"the model's recipe"; `resolve` decides them, in this one place, before a run starts: `fit`, the
command line and the playground all train the config it returns, and that is the config saved.

A run's config is saved with it (model.json, config.toml, state.pt); `--config FILE` replays
a recipe or a run folder's config exactly, with flags given beside it taking precedence.
`resolve_device` turns "auto" into CUDA, then Apple MPS, then CPU.
"""

from __future__ import annotations

import argparse
import math
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

import torch

from .errors import UserError, unknown_name
from .models import MODELS, is_user_model, recipe
from .runtime import bf16_native

T = TypeVar("T")


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | tuple[int, ...] | None = None,
    interval: str | None = None,
    resume: bool = False,
    group: str | None = None,
    metavar: str | tuple[str, ...] | None = None,
    default_text: str | None = None,
    fallback: Any = None,
) -> Any:
    """A TrainConfig field with its flag's help text and its checks.

    `interval` is written as in mathematics, e.g. "(0, 10]" or "[1, 10000]"; `choices` are the
    allowed strings (checked with a did-you-mean hint); `resume=True` marks options that may be
    changed on `--resume`; fields of one `group` are mutually exclusive on the command line.
    A field whose default is None and has a `fallback` is "the model's recipe": `resolve` takes
    the model's recipe value, else the fallback.
    """
    return field(
        default=default,
        metadata={
            "help": help,
            "choices": choices,
            "interval": interval,
            "resume": resume,
            "group": group,
            "metavar": metavar,
            "default_text": default_text,
            "fallback": fallback,
        },
    )


@dataclass
class TrainConfig:
    """Every option of a training run, each with its default, help and allowed values (`option`).

    Built by `build_config` (defaults < model recipe < recipe file < flags) and checked by
    `validate`, which raises UserError naming the option, what it allows and the value given.
    Saved with the run (config.toml, model.json) so `--config RUN_DIR` replays it."""

    # --- data ---
    dataset: str = option(
        "fashion-mnist", "known dataset (see `convlab datasets`)", group="source", metavar="NAME"
    )  # a known dataset by name...
    data: str | None = option(
        None, "your own data: IDX folder, image folder or CSV file", group="source", metavar="PATH"
    )  # ...or your own files (then `dataset` is ignored)
    data_dir: str | None = option(None, "folder searched first for known datasets (and downloaded into)", metavar="DIR")
    max_train: int = option(0, "use only the first N training images (0 = all)", interval="[0, inf)", metavar="N")
    channels: int = option(1, "image folders: 1 (grayscale) or 3 (RGB)", choices=(1, 3))
    input_size: tuple[int, int] = option((28, 28), "image folders: resize target H W", metavar=("H", "W"))
    skip_bad: bool = option(False, "image folders: skip unreadable files with a note")
    label_column: str | None = option(
        None, "CSV without a 'label' header: the label column", choices=("first", "last")
    )  # None = first
    input_style: str | None = option(
        None,
        "how a prediction prepares an image: mnist (cropped to the ink and centred in 28x28, as MNIST's digits "
        "and the playground's own classes are) or fit (resized whole)",
        choices=("mnist", "fit"),
        default_text="mnist for known digit datasets, else fit",
    )  # None: by the dataset
    # --- model ---
    model: str = option(
        "lenet", "architecture (see `convlab zoo`), or your own: FILE.py:NAME or package.module:NAME", metavar="NAME"
    )
    model_args: str | None = option(
        None, "your own model: keyword arguments as a JSON object", metavar="JSON"
    )  # e.g. '{"width": 32}', beside num_classes/in_channels/input_size taken from the data
    ops: str = option("torch", "whose conv/pool ops run the model (same results)", choices=("torch", "convlab"))
    # --- optimisation ---
    epochs: int | None = option(
        None, "passes over the training set", interval="[1, 10000]", resume=True, fallback=15
    )  # None: the model's recipe (resnet 16, vgg 15, …), else 15
    batch_size: int = option(
        128, "global batch size, split evenly across processes", interval="[2, 65536]"
    )  # at least 2 per process: batch norm needs two
    optimizer: str = option("adamw", "adamw, or sgd (Nesterov momentum when > 0)", choices=("adamw", "sgd"))
    lr: float | None = option(None, "peak learning rate", interval="(0, 10]", fallback=0.01)  # None: the recipe
    momentum: float = option(0.9, "SGD momentum (0 = plain SGD)", interval="[0, 1)")
    weight_decay: float = option(5e-4, "weight decay on conv/linear weights (not biases, norms)", interval="[0, 1)")
    schedule: str = option(
        "onecycle", "learning-rate schedule after warm-up", choices=("onecycle", "cosine", "constant")
    )  # onecycle: linear anneal to 0
    warmup: float = option(0.2, "fraction of all steps spent warming up", interval="[0, 1)")
    label_smoothing: float = option(0.1, "cross-entropy target smoothing", interval="[0, 1)")
    shift: int | None = option(
        None, "random-shift augmentation in pixels", interval="[0, 8]", fallback=0
    )  # None: the model's recipe (lenet 0, lenet-modern 1: measured +0.8 points)
    rotate: float = option(0.0, "random rotation augmentation, up to ± this many degrees", interval="[0, 180]")
    scale: float = option(0.0, "random scale augmentation, up to ± this fraction of the size", interval="[0, 0.5]")
    thickness: float = option(
        0.0, "random stroke-thickness augmentation: the fraction of images drawn thicker or thinner", interval="[0, 1]"
    )
    flip: bool | None = option(
        None,
        "random horizontal flips (refused for digits and characters)",
        default_text="the model's recipe, where the dataset's labels allow it",
        fallback=False,
    )  # None: the recipe's choice, on clothes yes, on digits and characters no
    seed: int = option(0, "random seed: initialisation, epoch order, augmentation", interval="[0, inf)")
    # --- hardware ---
    device: str = option("auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps", resume=True)
    amp: bool | None = option(
        None, "bf16 autocast", default_text="the model's recipe (where bf16 is native), else on for CUDA, off for CPU"
    )  # None: the recipe's choice, else the device's (CPU bf16 changes the last digits)
    channels_last: bool | None = option(
        None, "channels-last memory format for conv layers", fallback=False
    )  # None: the model's recipe (the larger networks: on), else off
    compile: bool = option(False, "torch.compile the model")
    threads: int = option(0, "CPU threads for PyTorch (0 = PyTorch's choice)", interval="[0, 1024]", resume=True)
    eval_batch_size: int = option(2048, "evaluation batch size", interval="[1, 1048576]", resume=True)
    sync_bn: bool = option(False, "torchrun: synchronise batch-norm statistics across processes")

    def validate(self) -> TrainConfig:
        """Check every option against its metadata (options left None are not checked); return self.

        Raises UserError naming the option, its allowed values and the value given."""
        if self.data is None and self.dataset not in known_datasets():
            raise unknown_name("dataset", self.dataset, known_datasets())
        if self.model not in MODELS and not is_user_model(self.model):
            raise unknown_name("model", self.model, MODELS)
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if value is None:
                continue
            choices = meta["choices"]
            if choices and value not in choices:
                if all(isinstance(c, str) for c in choices):
                    raise unknown_name(f.name.replace("_", " "), str(value), choices)
                raise UserError(f"{flag(f.name)} must be {' or '.join(map(str, choices))}, got {value}")
            if meta["interval"] and not in_interval(value, meta["interval"]):
                raise UserError(f"{flag(f.name)} must be in {meta['interval']}, got {value}")
        h, w = self.input_size
        if not (1 <= h <= 4096 and 1 <= w <= 4096):
            raise UserError(f"--input-size must be two sizes between 1 and 4096, got {h} {w}")
        resolve_device(self.device)
        return self

    @classmethod
    def for_model(cls, model: str, **options) -> TrainConfig:
        """The config `convlab train --model MODEL` trains with: `options`, then the model's recipe
        (resolved, see `resolve`)."""
        return resolve(cls(model=model, **options))

    def to_dict(self) -> dict:
        """Plain JSON/TOML-ready values (tuples as lists)."""
        d = asdict(self)
        d["input_size"] = list(self.input_size)
        return d

    @classmethod
    def from_dict(cls, d: dict, where: str = "config") -> TrainConfig:
        """A config from plain values (a saved run, a TOML recipe); unknown keys are refused."""
        names = {f.name for f in fields(cls)}
        for key in d:
            if key not in names:
                raise unknown_name(f"option in {where}:", key, names)
        cfg = cls(**d)
        cfg.input_size = _pair(cfg.input_size, where)
        _check_types(cfg, where)
        return cfg


def _pair(value, where: str) -> tuple[int, int]:
    try:
        h, w = value
        return int(h), int(w)
    except (TypeError, ValueError):
        raise UserError(f"{where}: input_size must be a pair [H, W], got {value!r}") from None


def _check_types(cfg: TrainConfig, where: str) -> None:
    """Values read from a file must have the option's type (an int where an int is expected...)."""
    hints = typing.get_type_hints(TrainConfig)
    for f in fields(cfg):
        value, allowed = getattr(cfg, f.name), _base_types(hints[f.name])
        if value is None and type(None) in allowed:
            continue
        if float in allowed and isinstance(value, int) and not isinstance(value, bool):
            setattr(cfg, f.name, float(value))
            continue
        ok = isinstance(value, tuple(t for t in allowed if t is not type(None)))
        if isinstance(value, bool) and bool not in allowed:
            ok = False
        if not ok:
            names = " or ".join("none" if t is type(None) else t.__name__ for t in allowed)
            raise UserError(f"{where}: {f.name} must be {names}, got {value!r}")


def _base_types(hint) -> tuple[type, ...]:
    """(int,) for int, (str, NoneType) for str | None, (tuple,) for tuple[int, int]."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return tuple(t for arg in typing.get_args(hint) for t in _base_types(arg))
    origin = typing.get_origin(hint)
    return (origin,) if origin is not None else (hint,)


def flag(name: str) -> str:
    """The command-line flag of a field: batch_size → --batch-size."""
    return "--" + name.replace("_", "-")


def in_interval(value: float, interval: str) -> bool:
    """Whether value lies in an interval written "[lo, hi)", "(0, inf)", …; NaN never does."""
    lo_s, hi_s = (s.strip() for s in interval[1:-1].split(","))
    lo, hi = float(lo_s), float(hi_s)
    if isinstance(value, float) and not math.isfinite(value):
        return False
    above = value > lo if interval[0] == "(" else value >= lo
    below = value < hi if interval[-1] == ")" else value <= hi
    return above and below


RESUME_SAFE = tuple(f.name for f in fields(TrainConfig) if f.metadata["resume"])


# --- the command line, generated from the fields -------------------------------------------


def add_arguments(parser: argparse.ArgumentParser, place: Callable[[str], Any] | None = None) -> None:
    """One flag per TrainConfig field, typed from its annotation, help and default from its metadata.

    Every flag defaults to None ("not given"), so a recipe file and `--resume` can tell which
    options the user actually set. `place(field_name)` may name the argument group a flag is
    listed under in --help (`convlab train` groups them by topic); default: `parser` itself.
    """
    hints = typing.get_type_hints(TrainConfig)
    groups: dict[str, Any] = {}
    for f in fields(TrainConfig):
        meta, hint = f.metadata, hints[f.name]
        target = _placed(parser, place, f.name)
        if meta["group"]:
            if meta["group"] not in groups:
                groups[meta["group"]] = target.add_mutually_exclusive_group()
            target = groups[meta["group"]]
        default = meta["default_text"] or _default_text(f)
        text = meta["help"]
        if meta["choices"] and all(isinstance(c, str) for c in meta["choices"]):
            text += f": {', '.join(meta['choices'])}"
        if meta["interval"] and meta["interval"] not in text:
            text += f" {meta['interval']}"
        text += f" (default {default})"
        kwargs: dict[str, Any] = {"help": text, "default": None}
        if meta["metavar"]:
            kwargs["metavar"] = meta["metavar"]
        base = [t for t in _base_types(hint) if t is not type(None)]
        if base == [bool]:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif base == [tuple]:
            kwargs.update(type=int, nargs=2)
        else:
            kwargs["type"] = base[0]
        target.add_argument(flag(f.name), **kwargs)


def _placed(parser: argparse.ArgumentParser, place: Callable[[str], Any] | None, name: str) -> Any:
    """Where `add_arguments` puts a field's flag: `place(name)` if given, else the parser."""
    return parser if place is None else place(name)


def _default_text(f) -> str:
    value = f.default if f.default is not MISSING else None
    if value is None and f.metadata["fallback"] is not None:
        return f"the model's recipe, else {_value_text(f.metadata['fallback'])}"
    return _value_text(value)


def _value_text(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, tuple):
        return " ".join(map(str, value))
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def given_options(args: argparse.Namespace) -> dict:
    """The TrainConfig options the user set on the command line (flags left at None are not)."""
    names = {f.name for f in fields(TrainConfig)}
    out = {}
    for key, value in vars(args).items():
        if key in names and value is not None:
            out[key] = tuple(value) if key == "input_size" else value
    return out


# --- resolving: the one place a run's options are decided ---------------------------------


def resolve(cfg: TrainConfig, dataset=None, recipe_defaults: bool = True) -> TrainConfig:
    """The config a run trains with: `cfg` checked, and each option left None decided once.

    An option left None takes the model's recipe (models/…: `Architecture.recipe`), else its own
    fallback (`option(fallback=...)`); `amp` else on for CUDA and off elsewhere, and on only where
    the device computes bf16 natively (`bf16_native`; an explicit `amp=True` is kept); `flip` only where
    the dataset's labels allow it (`dataset.flips` of an `ImageDataset` given, else the known
    dataset's; your own data: the recipe's choice is not applied). `recipe_defaults=False` (a resumed
    run) skips the model's recipe. `fit`, `convlab train` and the playground all call this; the
    result is saved with the run, and resolving it again gives it back unchanged.
    Returns a new TrainConfig. Raises UserError for an invalid option, or `--flip` on labels that
    mirroring changes (digits, characters).
    """
    cfg = replace(cfg).validate()
    flips, name = _dataset_flips(cfg, dataset)
    if cfg.flip and not flips and cfg.data is None:
        raise UserError(f"--flip would change labels of {name} (a mirrored character is another character)")
    base = recipe(cfg.model) if recipe_defaults else {}
    if not flips:
        base.pop("flip", None)
    for f in fields(cfg):
        if getattr(cfg, f.name) is None and f.metadata["fallback"] is not None:
            setattr(cfg, f.name, base.get(f.name, f.metadata["fallback"]))
    if cfg.amp is None:
        device = resolve_device(cfg.device)
        cfg.amp = bool(base.get("amp", device.type == "cuda")) and bf16_native(device)
    return cfg


def settled(value: T | None, name: str) -> T:
    """An option's value in a config that `resolve` returned (it leaves no option None).

    Raises TypeError (a bug, not a user mistake) for an option still None."""
    if value is None:
        raise TypeError(f"TrainConfig.{name} is None: resolve the config first (config.resolve)")
    return value


def _dataset_flips(cfg: TrainConfig, dataset) -> tuple[bool, str]:
    """Whether mirroring keeps the labels of the data `cfg` trains on, and the data's name."""
    if dataset is not None:
        return bool(dataset.flips), str(dataset.name)
    if cfg.data is not None:
        return False, Path(cfg.data).name
    return known_datasets()[cfg.dataset].flips, cfg.dataset


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
