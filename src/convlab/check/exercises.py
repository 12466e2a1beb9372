"""The tutorial's exercises: what each is called, what it takes, its cases and convlab's answer.

Each function exercise names the tutorial's § and signature, the names a learner's file may use
for it, a hypothesis strategy for its cases (shaped by the learner's own parameters: `padding`
and `stride` are tried only where their function takes them) and the reference answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st

from . import references as ref
from .cases import DTYPES, Case, pair, pairs, tensors


@dataclass(frozen=True)
class Exercise:
    """One exercise: `kind` is "function" (generated calls), "layer" (Conv2D) or "network" (LeNet)."""

    key: str
    section: str
    signature: str
    names: tuple[str, ...]
    kind: str
    budget: int = 0
    cases: Callable[[list[str]], st.SearchStrategy[Case]] | None = None
    expected: Callable[[Case], Any] | None = None
    timing: str = ""  # "conv" or "pool": the learner's loop is timed against convlab's fast op


def _dtypes(draw: st.DrawFn) -> tuple[str, str]:
    kind = draw(st.sampled_from(DTYPES))
    return ("int", "float") if kind == "int×float" else (kind, kind)


@st.composite
def corr2d_cases(draw: st.DrawFn, params: list[str], channels: tuple[int, int] | None = None) -> Case:
    """X (H, W) or (c_i, H, W), K (h, w) … (c_o, c_i, h, w); padding and stride if the learner takes them."""
    pad = pairs(0, 2, "padding" in params)
    pad_v, stride_v = draw(pad), draw(pairs(1, 3, "stride" in params))
    H, W = draw(st.integers(1, 6)), draw(st.integers(1, 7))
    h, w = draw(st.integers(1, min(H + 2 * pad_v[0], 5))), draw(st.integers(1, min(W + 2 * pad_v[1], 5)))
    kx, kk = _dtypes(draw)
    x_shape: tuple[int, ...]
    k_shape: tuple[int, ...]
    if channels is None:
        x_shape, k_shape = (H, W), (h, w)
    else:
        c_i = draw(st.integers(1, 3))
        c_o = draw(st.integers(1, 3)) if channels[1] else 0
        x_shape, k_shape = (c_i, H, W), ((c_o, c_i, h, w) if c_o else (c_i, h, w))
    kwargs = {}
    if "padding" in params:
        kwargs["padding"] = pair(pad_v)
    if "stride" in params:
        kwargs["stride"] = pair(stride_v)
    X, K = draw(tensors(x_shape, kx)), draw(tensors(k_shape, kk))
    return Case(["X", "K"], [X, K], kwargs, {"padding": pad_v, "stride": stride_v})


def canonical(case: Case) -> tuple[torch.Tensor, torch.Tensor]:
    """X as (c_i, H, W) and K as (c_o, c_i, h, w), whatever the exercise."""
    X, K = case.args
    if X.dim() == 2:
        return X[None], K[None, None]
    return X, (K[None] if K.dim() == 3 else K)


def conv_expected(case: Case) -> torch.Tensor:
    X, K = canonical(case)
    y = ref.conv(X, K, case.params["padding"], case.params["stride"])  # (c_o, Ho, Wo)
    return y if case.args[1].dim() == 4 else y[0]


@st.composite
def one_by_one_cases(draw: st.DrawFn, params: list[str]) -> Case:
    """X (c_i, H, W), K (c_o, c_i, 1, 1)."""
    c_i, c_o = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    kx = kk = draw(st.sampled_from(("float", "int")))  # torch.matmul refuses mixed dtypes, rightly
    X, K = draw(tensors((c_i, H, W), kx)), draw(tensors((c_o, c_i, 1, 1), kk))
    return Case(["X", "K"], [X, K], {}, {"padding": (0, 0), "stride": (1, 1)})


@st.composite
def pool2d_cases(draw: st.DrawFn, params: list[str]) -> Case:
    """X (H, W), pool_size (p_h, p_w), mode; padding (at most half the window) and stride if taken."""
    mode = draw(st.sampled_from(("max", "avg")))
    size = draw(pairs(1, 3))
    pad_v = (0, 0)
    if "padding" in params:
        pad_v = (draw(st.integers(0, size[0] // 2)), draw(st.integers(0, size[1] // 2)))
    stride_v = draw(pairs(1, 3, "stride" in params))
    H = draw(st.integers(max(1, size[0] - 2 * pad_v[0]), 6))
    W = draw(st.integers(max(1, size[1] - 2 * pad_v[1]), 7))
    kind = "float" if mode == "avg" else draw(st.sampled_from(("float", "int")))
    kwargs = {}
    if "padding" in params:
        kwargs["padding"] = pair(pad_v)
    if "stride" in params:
        kwargs["stride"] = pair(stride_v)
    X = draw(tensors((H, W), kind))
    return Case(["X", "pool_size", "mode"], [X, size, mode], kwargs, {"padding": pad_v, "stride": stride_v})


def pool_expected(case: Case) -> torch.Tensor:
    X, size, mode = case.args
    return ref.pool(X, size, mode, case.params["padding"], case.params["stride"])


@st.composite
def output_size_cases(draw: st.DrawFn, params: list[str]) -> Case:
    """n, k, padding (on each side), stride, with the window fitting the padded input."""
    n, p, s = draw(st.integers(1, 32)), draw(st.integers(0, 3)), draw(st.integers(1, 4))
    k = draw(st.integers(1, min(n + 2 * p, 11)))
    return Case(["n", "k", "padding", "stride"], [n, k, p, s], {}, {"padding": (p, p), "stride": (s, s)})


@st.composite
def layer_cases(draw: st.DrawFn, params: list[str]) -> Case:
    """Conv2D(kernel_size) with weight K and bias b, applied to X (H, W)."""
    h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(h, 6)), draw(st.integers(w, 7))
    X, K = draw(tensors((H, W), "float")), draw(tensors((h, w), "float"))
    b = draw(st.integers(-8, 8)) / 4
    return Case(["X", "K"], [X, K], {}, {"padding": (0, 0), "stride": (1, 1), "bias": b})


def layer_expected(case: Case) -> torch.Tensor:
    return conv_expected(case) + case.params["bias"]


EXERCISES = [
    Exercise(
        "corr2d", "§2.2", "corr2d(X, K) -> Y   [optional: padding=0, stride=1]", ("corr2d",), "function", 100,
        corr2d_cases, conv_expected, timing="conv",
    ),
    Exercise(
        "Conv2D", "§2.3", "Conv2D(kernel_size): .weight, .bias (nn.Parameter); forward(X) -> Y", ("Conv2D",),
        "layer", 25, layer_cases, layer_expected,
    ),
    Exercise(
        "output_size", "§3.3", "output_size(n, k, padding, stride) -> int",
        ("output_size", "conv_output_size", "out_size", "output_shape", "conv_out_size"), "function", 200,
        output_size_cases, lambda c: ref.output_size(*c.args),
    ),
    Exercise(
        "corr2d_multi_in", "§4.1", "corr2d_multi_in(X: (c_i, H, W), K: (c_i, h, w)) -> (H', W')",
        ("corr2d_multi_in",), "function", 60, lambda p: corr2d_cases(p, (1, 0)), conv_expected,
    ),
    Exercise(
        "corr2d_multi_in_out", "§4.2", "corr2d_multi_in_out(X: (c_i, H, W), K: (c_o, c_i, h, w)) -> (c_o, H', W')",
        ("corr2d_multi_in_out",), "function", 60, lambda p: corr2d_cases(p, (1, 1)), conv_expected,
    ),
    Exercise(
        "corr2d_multi_in_out_1x1", "§4.2",
        "corr2d_multi_in_out_1x1(X: (c_i, H, W), K: (c_o, c_i, 1, 1)) -> (c_o, H, W)",
        ("corr2d_multi_in_out_1x1",), "function", 60, one_by_one_cases, conv_expected,
    ),
    Exercise(
        "pool2d", "§5.1", "pool2d(X, pool_size, mode='max')   [optional: padding=0, stride=1]", ("pool2d",),
        "function", 100, pool2d_cases, pool_expected, timing="pool",
    ),
    Exercise(
        "LeNet", "§6", "an nn.Sequential (or a function or class building one) for (1, 1, 28, 28) digits",
        ("net_LeNet", "LeNet", "lenet", "net"), "network",
    ),
]  # fmt: skip

BY_KEY = {e.key: e for e in EXERCISES}
