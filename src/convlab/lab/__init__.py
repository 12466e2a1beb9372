"""The tutorial's §1 measured: why a convolutional network and not a flattened MLP.

Each experiment is a function `run(LabConfig) -> Result` returning its numbers, a figure and a
one-paragraph reading (the tutorial's claim with its §, what was measured, a verdict) in English
and Chinese; `report.py` writes them as a folder (report.md, PNG figures, results.json). The
networks trained here are the MLP, LeNet's skeleton (`lenet-modern`: it trains in 40 steps), the
tutorial's own sigmoid LeNet (`lenet`, in `shift` only: it needs 240 steps) and an
all-convolutional network ending in global average pooling; `equivariance` takes the tutorial's
own LeNet as bundled.

    params         §1 (1)–(2)  parameters and multiply-adds, MLP against LeNet, 28×28×1 … 224×224×3
    few-images     §1 (1)      train/test accuracy on 250, 1,000, 4,000 images: who overfits
    position       §1.2        trained in one region of a larger canvas, tested everywhere
    shift          §1.3 (1)    accuracy under shifts of 0…6 pixels and consistency, with and without augmentation
    equivariance   §1.3 (1)    layer by layer: is the map of a shifted input the shifted map?
    locality       §1.3 (2)    one fixed pixel permutation: LeNet loses, the MLP trains bit for bit the same
    anti-aliasing  beyond      BlurPool (Zhang 2019) before every stride: consistency and accuracy
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import UserError

if TYPE_CHECKING:
    from .common import LabConfig, Result

DATASETS = ("digits", "fashion-mnist", "mnist", "kmnist")  # 28×28 grayscale with a dark background
BUNDLED_LENETS = {"digits": "lenet-digits", "fashion-mnist": "lenet-fashion-mnist"}  # the tutorial's LeNet, trained

EXPERIMENTS: dict[str, tuple[str, str, str]] = {  # name → (module, §, what it measures)
    "params": ("params", "§1 (1)–(2)", "parameters and multiply-adds, MLP against LeNet, 28×28×1 to 224×224×3"),
    "few-images": ("fewimages", "§1 (1)", "train and test accuracy on 250, 1,000 and 4,000 images"),
    "position": ("position", "§1.2", "trained in one corner of a 40×40 canvas, tested everywhere"),
    "shift": ("shift", "§1.3 (1)", "accuracy and consistency under shifts, with and without shift augmentation"),
    "equivariance": ("equivariance", "§1.3 (1)", "each layer's error against the shifted feature map"),
    "locality": ("locality", "§1.3 (2)", "one fixed pixel permutation: LeNet against the MLP (bit for bit)"),
    "anti-aliasing": ("antialias", "beyond the tutorial", "BlurPool before every stride: consistency, accuracy"),
}


def listing() -> str:
    """The experiments, one per line: name, §, what it measures."""
    return "\n".join(f"{n:<14} {sec:<20} {what}" for n, (_, sec, what) in EXPERIMENTS.items())


TAKES_MODEL = {"shift": (28, 28), "position": (40, 40)}  # experiments that train your network beside theirs: its input


def check_model(names: list[str], spec: str, args: dict) -> None:
    """Before anything runs: your network (`FILE.py:NAME`, `package.module:NAME`) built as `train` builds
    it (`models.build_model`) for the input of each experiment in `names` that takes one, and checked to
    give 10 outputs; UserError (one line) when none of `names` takes a model, or when it does not fit."""
    from ..models import build_model

    takes = [n for n in names if n in TAKES_MODEL]
    if not takes:
        raise UserError(f"lab {names[0]} does not take --model; these do: {', '.join(TAKES_MODEL)} (or all)")
    for size in {TAKES_MODEL[n] for n in takes}:
        build_model(spec, 10, 1, size, "torch", args)


def usable(name: str) -> tuple[str, ...]:
    """The datasets experiment `name` runs on: `equivariance` reads a bundled LeNet, the others train."""
    return tuple(BUNDLED_LENETS) if name == "equivariance" else DATASETS


def check_dataset(name: str, data: str) -> None:
    """UserError (one line naming the datasets it can use) when experiment `name` cannot use `data`."""
    if data not in usable(name):
        raise UserError(f"lab {name}: cannot use dataset {data!r}; it runs on {', '.join(usable(name))}")


def experiment(name: str) -> Callable[[LabConfig], Result]:
    """The `run` function of experiment `name`; UserError with the list for an unknown one."""
    if name not in EXPERIMENTS:
        raise UserError(f"unknown experiment {name!r}; the lab has: {', '.join(EXPERIMENTS)} (or all)")
    return importlib.import_module(f".{EXPERIMENTS[name][0]}", __name__).run


def run(name: str, cfg: LabConfig | None = None) -> Result:
    """Run experiment `name` and time it."""
    from .common import LabConfig

    fn = experiment(name)
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(cfg or LabConfig())
    result.seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu
    return result


__all__ = [
    "BUNDLED_LENETS",
    "DATASETS",
    "EXPERIMENTS",
    "TAKES_MODEL",
    "check_dataset",
    "check_model",
    "experiment",
    "listing",
    "run",
    "usable",
]
