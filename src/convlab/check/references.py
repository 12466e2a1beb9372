"""convlab's answers for the learner's exercises, and the answers of known mistakes.

Everything is computed in float64 with convlab's fast ops (`ops.conv2d`, `ops.max_pool2d`,
`ops.avg_pool2d`, proven equal to PyTorch's) and returned in the dtype the tutorial's loop would
give (`torch.result_type` of the inputs), so integer inputs give integer answers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import ops

Pair = tuple[int, int]


def _as(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return y.to(dtype) if dtype.is_floating_point else y.round().to(dtype)


def conv(X: torch.Tensor, K: torch.Tensor, padding: Pair = (0, 0), stride: Pair = (1, 1)) -> torch.Tensor:
    """Cross-correlation of X (c_i, H, W) with K (c_o, c_i, h, w), zero padding on each side → (c_o, Ho, Wo)."""
    y = ops.conv2d(X.double(), K.double(), padding=padding, stride=stride)
    return _as(y, torch.result_type(X, K))


def conv_padded(X: torch.Tensor, K: torch.Tensor, pads: tuple[int, int, int, int], stride: Pair) -> torch.Tensor:
    """`conv` after zero padding (left, right, top, bottom), e.g. on one side only."""
    return conv(F.pad(X, pads), K, (0, 0), stride)


def pool(
    X: torch.Tensor, size: Pair, mode: str, padding: Pair = (0, 0), stride: Pair = (1, 1), count_pad: bool = True
) -> torch.Tensor:
    """Max or average pooling of X (H, W), the tutorial's loop with padding and stride (PyTorch's rules)."""
    x = X.double()[None]
    if mode == "max":
        y = ops.max_pool2d(x, size, stride=stride, padding=padding)[0]
    else:
        y = ops.avg_pool2d(x, size, stride=stride, padding=padding, count_include_pad=count_pad)[0]
    return _as(y, X.dtype if mode == "max" else torch.result_type(X, torch.tensor(0.5)))


def pool_padded(X: torch.Tensor, size: Pair, mode: str, pads: tuple[int, int, int, int], stride: Pair, fill: float):
    """`pool` after padding (left, right, top, bottom) with `fill` (a mistake's padding)."""
    return pool(F.pad(X.double(), pads, value=fill), size, mode, (0, 0), stride)


def window_sums(X: torch.Tensor, size: Pair, padding: Pair, stride: Pair) -> torch.Tensor:
    """The sum of every pooling window (zero padding), float64."""
    return pool(X.double(), size, "avg", padding, stride) * (size[0] * size[1])


def output_size(n: int, k: int, padding: int, stride: int) -> int:
    """⌊(n + 2p − k)/s⌋ + 1, the tutorial's §3 formula with p on each side (convlab's `conv_output_size`)."""
    return ops.conv_output_size(n, k, padding, stride)
