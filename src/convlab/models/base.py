"""What every model file needs: the `Architecture` record, `flat_size` and `dense_head` for dense heads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..layers import Layers

# What the larger networks train with on a CPU (measured, benchmarks/zoo.py and docs/zoo.md): random
# shifts of 2 pixels and flips (applied only where the labels allow: clothes, not digits), bf16
# autocast and channels-last memory (together 2.2–2.4× the float32 speed of VGG, ResNet, GoogLeNet
# on this AMX CPU; lenet-modern got slower with channels-last, so LeNet's recipes keep neither).
CPU_RECIPE = {"shift": 2, "flip": True, "amp": True, "channels_last": True}

Builder = Callable[[int, int, tuple[int, int], Layers], nn.Module]  # (classes, channels, (H, W), layers)


@dataclass(frozen=True)
class Textbook:
    """The textbook's figure for a model (d2l.ai, "Modern Convolutional Neural Networks"): the input
    it trains on and its Fashion-MNIST test accuracy after 10 epochs."""

    size: int  # input side in pixels: size×size images
    accuracy: tuple[float, float] | None = None  # test accuracy 0–1: (lowest, highest) of its runs; None: not given
    note: str = ""  # what the figure is of, where that is not this network

    @property
    def input_text(self) -> str:
        """'224×224'."""
        return f"{self.size}×{self.size}"

    @property
    def accuracy_text(self) -> str | None:
        """'0.90–0.92', '0.88', or None where the textbook gives no figure."""
        if self.accuracy is None:
            return None
        lo, hi = self.accuracy
        text = f"{lo:.2f}" if lo == hi else f"{lo:.2f}–{hi:.2f}"
        return f"{text} ({self.note})" if self.note else text


@dataclass(frozen=True)
class Architecture:
    """A model family's entry in the registry: its name, how to build it, and its recipe as data."""

    name: str
    build: Builder
    idea: str  # what it introduced, in one line
    recipe: dict = field(default_factory=dict)  # TrainConfig options it trains best with
    textbook: Textbook | None = None  # the textbook's figure for it, where it gives one


def flat_size(features: nn.Module, in_channels: int, input_size: tuple[int, int]) -> int:
    """How many values `features` produce for one (in_channels, *input_size) image (sizes a dense head).

    Raises ValueError when the input is too small to leave any output."""
    p = next(features.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")  # meta while `smallest_input` probes
    was = features.training
    with torch.no_grad():
        out = features.eval()(torch.zeros(1, in_channels, *input_size, device=device))
    features.train(was)
    if out.numel() == 0:
        raise ValueError("no output: the input is too small")
    return out.numel()


def dense_head(in_features: int, width: int, num_classes: int, dropout: float = 0.5) -> list[nn.Module]:
    """AlexNet's and VGG's classifier: two ReLU dense layers of `width` units, each followed by
    dropout, then the output layer; (B, in_features) → (B, num_classes) logits. A list, so the
    layers join the network's own `nn.Sequential` (their state-dict keys follow the features')."""
    return [
        nn.Linear(in_features, width), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(width, num_classes),
    ]  # fmt: skip
