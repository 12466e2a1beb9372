"""How a layer moves positions: its role (a window, a resampling, a pointwise step, a merge…), the
geometry of a window layer (kernel, stride, padding, dilation), whether a module or a function
(`nn.Conv2d` or `F.conv2d`), and which input units a resampling layer reads. `receptive.py`
builds receptive fields from these.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from .graph import Row
from .layers import GlobalAvgPool2d
from .ops.conv import resolve_conv_padding

UNARY_MODULES = (
    nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.SELU, nn.CELU, nn.SiLU,
    nn.Mish, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh, nn.Softplus, nn.Softsign, nn.Tanhshrink, nn.Threshold,
    nn.Softmax, nn.LogSoftmax, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
    nn.FeatureAlphaDropout, nn.Identity, nn.BatchNorm2d, nn.BatchNorm1d, nn.SyncBatchNorm, nn.GroupNorm,
    nn.InstanceNorm2d, nn.LocalResponseNorm,
)  # fmt: skip
PAD_MODULES = (nn.ZeroPad2d, nn.ConstantPad2d, nn.ReflectionPad2d, nn.ReplicationPad2d, nn.CircularPad2d)
RESAMPLE_MODULES = (nn.Upsample, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)  # Upsample's subclasses included
UNARY_FUNCTIONS = {
    "relu", "relu6", "sigmoid", "tanh", "gelu", "dropout", "dropout2d", "silu", "leaky_relu", "elu", "hardswish",
    "mish", "softmax", "log_softmax", "contiguous", "clone", "abs", "neg", "exp", "pow", "sqrt", "batch_norm",
}  # fmt: skip
MERGE_FUNCTIONS = {"add", "mul", "sub", "truediv", "cat", "maximum", "minimum"}
FLAT_FUNCTIONS = {"flatten", "view", "reshape"}  # (N, C, H, W) → (N, C·H·W): each unit keeps its window
WHOLE_FUNCTIONS = {"mean", "sum", "amax", "linear", "matmul"}
WINDOW_FUNCTIONS = {"conv2d", "max_pool2d", "avg_pool2d", "pad"}
RESAMPLE_FUNCTIONS = {"interpolate", "upsample", "adaptive_avg_pool2d", "adaptive_max_pool2d"}
ARGUMENTS = {  # the positional parameters of the functions read here, in order
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding"),
    "pad": ("input", "pad", "mode", "value"),
}

Geometry = tuple[tuple[int, int], tuple[int, int], tuple[tuple[int, int], tuple[int, int]], tuple[int, int]]


def _two(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[-1]))


def geometry(module: nn.Module | None, in_hw: tuple[int, int] | None = None) -> Geometry | None:
    """((kh, kw), (sh, sw), ((top, bottom), (left, right)), (dh, dw)) of a windowed layer, else None."""
    if isinstance(module, nn.Conv2d):
        k, s, d = _two(module.kernel_size), _two(module.stride), _two(module.dilation)
        padding = module.padding if isinstance(module.padding, str) else _two(module.padding)
        return k, s, resolve_conv_padding(padding, k, s, d), d
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = _two(module.kernel_size)
        s = _two(module.stride or module.kernel_size)
        p = _two(module.padding)
        d = _two(module.dilation) if isinstance(module, nn.MaxPool2d) else (1, 1)
        return k, s, ((p[0], p[0]), (p[1], p[1])), d
    if isinstance(module, PAD_MODULES):
        left, right, top, bottom = module.padding
        return (1, 1), (1, 1), ((top, bottom), (left, right)), (1, 1)
    return None


def function_geometry(kind: str, a: dict) -> Geometry | None:
    """The geometry of a functional window op, from its bound arguments (`arguments`)."""
    if kind == "conv2d":
        k, s, d = _two(tuple(a["weight"].shape[2:])), _two(a.get("stride", 1)), _two(a.get("dilation", 1))
        padding = a.get("padding", 0)
        return k, s, resolve_conv_padding(padding if isinstance(padding, str) else _two(padding), k, s, d), d
    if kind in ("max_pool2d", "avg_pool2d"):
        k = _two(a["kernel_size"])
        s = _two(a.get("stride") or k)
        p = _two(a.get("padding", 0))
        return k, s, ((p[0], p[0]), (p[1], p[1])), _two(a.get("dilation", 1))
    if kind == "pad":
        pad = list(a["pad"]) + [0] * 4
        return (1, 1), (1, 1), ((pad[2], pad[3]), (pad[0], pad[1])), (1, 1)
    return None


def arguments(row: Row, values: dict) -> dict:
    """A function row's arguments by name, with graph nodes replaced by their values."""
    names = ARGUMENTS.get(row.kind, ())
    args = fx.node.map_arg(row.node.args, lambda n: values.get(n))
    kwargs = fx.node.map_arg(row.node.kwargs, lambda n: values.get(n))
    return {**dict(zip(names, args)), **{k: v for k, v in kwargs.items() if v is not None}}


def is_pad(row: Row) -> bool:
    return isinstance(row.module, PAD_MODULES) or (row.module is None and row.kind == "pad")


def is_global_pool(module: nn.Module | None) -> bool:
    return isinstance(module, GlobalAvgPool2d) or (
        isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and module.output_size in (1, (1, 1))
    )


def row_role(row: Row) -> str:
    """How a row treats positions: 'window', 'resample', 'unary', 'merge', 'flat', 'whole', or 'other'."""
    if row.module is not None:
        if geometry(row.module) is not None:
            return "window"
        if isinstance(row.module, nn.Linear) or is_global_pool(row.module):
            return "whole"
        if isinstance(row.module, RESAMPLE_MODULES):
            return "resample"
        if isinstance(row.module, UNARY_MODULES):
            return "unary"
        return "flat" if isinstance(row.module, nn.Flatten) else "other"
    for role, kinds in (
        ("window", WINDOW_FUNCTIONS), ("resample", RESAMPLE_FUNCTIONS), ("unary", UNARY_FUNCTIONS),
        ("merge", MERGE_FUNCTIONS), ("flat", FLAT_FUNCTIONS), ("whole", WHOLE_FUNCTIONS),
    ):  # fmt: skip
        if row.kind in kinds:
            return role
    return "other"


def resampler(row: Row, values: dict):
    """The row's resampling as a function of one (N, C, H, W) tensor (adaptive max pooling by the
    average over the same windows: it reads the same inputs)."""
    m = row.module
    if isinstance(m, nn.AdaptiveMaxPool2d):
        return lambda x: F.adaptive_avg_pool2d(x, m.output_size)
    if m is not None:
        return m
    fn: Callable = F.adaptive_avg_pool2d if row.kind == "adaptive_max_pool2d" else row.node.target  # type: ignore[assignment]
    rest = fx.node.map_arg(row.node.args[1:], lambda n: values.get(n))
    kwargs = dict(fx.node.map_arg(row.node.kwargs, lambda n: values.get(n)))
    kwargs.pop("return_indices", None)
    return lambda x: fn(x, *rest, **kwargs)


def reads(fn, in_hw: tuple[int, int]) -> list[list[tuple[int, int]]]:
    """For each axis, the (first, last) input unit each output unit of resampling `fn` reads: the
    non-zero gradient of one output line (with positive random weights) on a random input."""
    x = torch.rand(1, 1, *in_hw, dtype=torch.float64, requires_grad=True)
    y = fn(x)[0, 0]  # (Ho, Wo)
    out: list[list[tuple[int, int]]] = []
    for axis in range(2):
        spans = []
        for i in range(y.shape[axis]):
            line = y[i] if axis == 0 else y[:, i]
            (g,) = torch.autograd.grad((line * torch.rand_like(line).add(0.5)).sum(), x, retain_graph=True)
            hit = torch.nonzero(g[0, 0].abs().sum(1 - axis)).flatten()
            spans.append((int(hit.min()), int(hit.max())))
        out.append(spans)
    return out
