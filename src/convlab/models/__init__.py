"""The models by name: the fully connected network the tutorial starts from (§1), LeNet (the
tutorial's network) and the classic architectures that followed it.

Each family lives in its own file, readable top to bottom, with a docstring saying what idea it
introduced and how it is sized for 28×28 inputs (and 3-channel 32×32 ones). Every convolution,
pooling and 2-D batch norm comes from `convlab.layers.Layers(ops)`, so `ops="convlab"` runs the
whole network on convlab's own ops (grouped and 1×1 convolutions, "same" padding, global average
pooling included) with the same weights and results as `ops="torch"`.

    mlp.py        mlp (flattened pixels, §1)     lenet.py      lenet, lenet-modern
    googlenet.py  googlenet (Inception blocks)
    alexnet.py    alexnet                        resnet.py     resnet (ResNet-18), resnext
    vgg.py        vgg (VGG-11 blocks)            densenet.py   densenet (dense blocks)
    nin.py        nin (network in network)       regnet.py     regnet (the AnyNet design space)

An `Architecture` carries its builder, the idea it introduced, its training recipe (the
TrainConfig defaults it trains best with, kept as data beside the model) and the textbook's
Fashion-MNIST figure for it, where the textbook gives one.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..errors import UserError, unknown_name
from ..layers import Layers
from ..modelspec import refuse_args_for_zoo
from .base import Architecture, flat_size
from .user import build_user_model, is_user_model


def _registry() -> dict[str, Architecture]:
    from . import alexnet, densenet, googlenet, lenet, mlp, nin, regnet, resnet, vgg

    families = (mlp, lenet, alexnet, vgg, nin, googlenet, resnet, densenet, regnet)
    return {a.name: a for family in families for a in family.ARCHITECTURES}


MODELS: dict[str, Architecture] = _registry()


def build_model(
    name: str,
    num_classes: int = 10,
    in_channels: int = 1,
    input_size: tuple[int, int] = (28, 28),
    ops: str = "torch",
    model_args: dict | None = None,
) -> nn.Module:
    """Construct a registered model by name for `num_classes` classes of (in_channels, *input_size) images;
    a `FILE.py:NAME` or `package.module:NAME` name builds your own network (models/user.py) with
    `model_args` beside the data's arguments, checked to fit the data. Raises UserError for an unknown
    name, `model_args` for a zoo model (it takes none), or an input too small for it."""
    if is_user_model(name):
        return build_user_model(name, num_classes, in_channels, input_size, ops, model_args)
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    refuse_args_for_zoo(name, model_args)
    if ops not in ("torch", "convlab"):
        raise unknown_name("ops backend", ops, ("torch", "convlab"))
    if num_classes < 2:
        raise UserError(f"a classifier needs at least 2 classes, got {num_classes}")
    h, w = input_size
    try:  # one real forward at the asked size; the search for the smallest size only when it fails
        model = MODELS[name].build(num_classes, in_channels, (h, w), Layers(ops))
        if _forward_runs(model, in_channels, h, w):
            return model
    except (RuntimeError, ValueError):
        pass
    least = smallest_input(name, in_channels)
    raise UserError(f"input size {h}×{w} is too small for {name}: its downsampling needs at least {least}×{least}")


def _forward_runs(model: nn.Module, in_channels: int, h: int, w: int) -> bool:
    """Whether `model` takes one (in_channels, h, w) image (a too-small input empties a feature map)."""
    was = model.training
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, in_channels, h, w))
        return True
    except (RuntimeError, ValueError):
        return False
    finally:
        model.train(was)


@functools.cache
def smallest_input(name: str, in_channels: int = 1) -> int:
    """The smallest square input `name` accepts (found by building it and pushing a meta tensor through)."""
    for size in range(1, 257):
        if _fits(name, in_channels, size):
            return size
    raise UserError(f"{name} accepts no input up to 256×256")  # (no registered model does this)


def _fits(name: str, in_channels: int, size: int) -> bool:
    """Whether `name` builds and runs at size×size, on the meta device (no weights, no arithmetic)."""
    try:
        with torch.device("meta"):
            model = MODELS[name].build(2, in_channels, (size, size), Layers("torch"))
            return _forward_runs(model, in_channels, size, size)
    except (RuntimeError, ValueError, UserError):
        return False


def recipe(name: str) -> dict:
    """The TrainConfig defaults model `name` trains with (its `Architecture.recipe`; none for your own)."""
    if is_user_model(name):
        return {}
    if name not in MODELS:
        raise unknown_name("model", name, MODELS)
    return dict(MODELS[name].recipe)


__all__ = ["MODELS", "Architecture", "build_model", "flat_size", "is_user_model", "recipe", "smallest_input"]
