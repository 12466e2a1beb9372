"""The convolution explorer's request: an input matrix, a kernel or a pooling window, padding,
stride and dilation, checked as data and handed to `explain` (itself checked against `ops`).

    POST /api/explain  {"mode": conv|max|avg, "input", "kernel", "padding", "stride", "dilation", "size"}

Its refusals speak the page's words: each field by the label the learner sees beside it (`LABELS`,
index.html's; web/messages.py says them in Chinese), and the sizes that do not fit are refused here,
before the ops would name their own arguments (`kernel_size`, "effective height").
"""

from __future__ import annotations

import torch

from .inputs import ApiError

MAX_MATRIX = 64  # explorer: at most 64×64 inputs
MAX_VALUE = 1e6  # explorer: |values| bounded so every product stays finite
MAX_SIZE = 16  # explorer: padding, stride, dilation and window at most 16

# The page's label of each field (index.html; the same words as explore.js's strings).
LABELS = {
    "input": "Input matrix",
    "kernel": "Kernel",
    "size": "Window",
    "padding": "Padding",
    "stride": "Stride",
    "dilation": "Dilation",
}


def matrix(data: dict, key: str) -> torch.Tensor:
    """`data[key]` as a (rows, cols) float64 tensor: a non-empty list of equal rows of numbers."""
    v, field = data.get(key), LABELS[key]
    if not (isinstance(v, list) and v and all(isinstance(r, list) and r for r in v)):
        raise ApiError(f"{field} is empty: write rows of numbers separated by ;")
    if len({len(r) for r in v}) != 1:
        raise ApiError(f"{field}: every row must have as many numbers as the first")
    if len(v) > MAX_MATRIX or len(v[0]) > MAX_MATRIX:
        raise ApiError(f"{field} is larger than {MAX_MATRIX}×{MAX_MATRIX}")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for r in v for x in r):
        raise ApiError(f"{field} must contain only numbers")
    t = torch.tensor(v, dtype=torch.float64)
    if t.abs().max() > MAX_VALUE:
        raise ApiError(f"{field}: every number must lie within ±{MAX_VALUE:g}")
    return t


def ints(data: dict, key: str, default: int | None, least: int = 1) -> tuple[int, int] | None:
    """`data[key]` (or `default`) as a (height, width) pair of whole numbers `least`..16, from one
    number or a pair of them; None stays None."""
    v = data.get(key, default)
    if v is None:
        return None
    v = v if isinstance(v, list) else [v, v]
    ok = all(isinstance(i, int) and not isinstance(i, bool) and least <= i <= MAX_SIZE for i in v)
    if not (ok and 1 <= len(v) <= 2):
        raise ApiError(f"{LABELS[key]} must be a whole number from {least} to {MAX_SIZE} (or two: height, width)")
    return (v[0], v[-1])


def _pair(v: tuple[int, int]) -> str:
    """'2' for (2, 2), '2×1' for (2, 1): a field's value as the learner typed it."""
    return str(v[0]) if v[0] == v[1] else f"{v[0]}×{v[1]}"


def _fits(x: torch.Tensor, span: tuple[int, int], padding: tuple[int, int], what: str) -> None:
    """Refuse (ApiError, in the page's words) a window of `span` (H, W) larger than the padded input;
    `what` names it: "Kernel 5×5", or with its dilation "Kernel 2×2 (3×3 with Dilation)"."""
    padded = (x.shape[0] + 2 * padding[0], x.shape[1] + 2 * padding[1])
    if span[0] > padded[0] or span[1] > padded[1]:
        raise ApiError(
            f"{what} is larger than the padded input {padded[0]}×{padded[1]}: "
            f"make it smaller, or add {LABELS['padding']}"
        )


def _conv(data: dict, x: torch.Tensor, padding: tuple[int, int]) -> dict:
    from ..explain import explain_conv

    k, stride, dilation = matrix(data, "kernel"), ints(data, "stride", 1), ints(data, "dilation", 1)
    assert dilation is not None
    span = ((k.shape[0] - 1) * dilation[0] + 1, (k.shape[1] - 1) * dilation[1] + 1)
    what = f"{LABELS['kernel']} {k.shape[0]}×{k.shape[1]}"
    if span != tuple(k.shape):
        what += f" ({span[0]}×{span[1]} with {LABELS['dilation']})"
    _fits(x, span, padding, what)
    return explain_conv(x, k, padding, stride, dilation).to_dict()


def _pool(data: dict, x: torch.Tensor, padding: tuple[int, int], mode: str) -> dict:
    from ..explain import explain_pool

    window, stride = ints(data, "size", 2), ints(data, "stride", None)
    assert window is not None
    most = (window[0] // 2, window[1] // 2)
    if padding[0] > most[0] or padding[1] > most[1]:
        raise ApiError(
            f"{LABELS['padding']} {_pair(padding)} is more than half the {LABELS['size']} "
            f"{window[0]}×{window[1]}: use at most {_pair(most)}"
        )
    _fits(x, window, padding, f"{LABELS['size']} {window[0]}×{window[1]}")
    return explain_pool(x, window, mode, padding, stride).to_dict()


def explain_request(data: dict) -> dict:
    """The explorer's answer (`explain.Explanation.to_dict`). Raises ApiError for malformed fields
    and sizes that do not fit, naming each field by its label on the page; anything else the ops
    refuse (their UserError) passes through."""
    mode = data.get("mode", "conv")
    if mode not in ("conv", "max", "avg"):
        raise ApiError("Operation must be cross-correlation, max pooling or average pooling")
    x, padding = matrix(data, "input"), ints(data, "padding", 0, least=0)
    assert padding is not None
    return _conv(data, x, padding) if mode == "conv" else _pool(data, x, padding, mode)
