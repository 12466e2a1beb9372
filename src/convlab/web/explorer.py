"""The convolution explorer's request: an input matrix, a kernel or a pooling window, padding,
stride and dilation, checked as data and handed to `explain` (itself checked against `ops`).

    POST /api/explain  {"mode": conv|max|avg, "input", "kernel", "padding", "stride", "dilation", "size"}
"""

from __future__ import annotations

import torch

from .inputs import ApiError

MAX_MATRIX = 64  # explorer: at most 64×64 inputs
MAX_VALUE = 1e6  # explorer: |values| bounded so every product stays finite


def matrix(data: dict, key: str) -> torch.Tensor:
    """`data[key]` as a (rows, cols) float64 tensor: a non-empty list of equal rows of numbers."""
    v = data.get(key)
    if not (isinstance(v, list) and v and all(isinstance(r, list) and r for r in v)):
        raise ApiError(f"'{key}' must be a non-empty list of rows")
    if len({len(r) for r in v}) != 1:
        raise ApiError(f"'{key}' rows must have equal length")
    if len(v) > MAX_MATRIX or len(v[0]) > MAX_MATRIX:
        raise ApiError(f"'{key}' is larger than {MAX_MATRIX}×{MAX_MATRIX}")
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for r in v for x in r):
        raise ApiError(f"'{key}' must contain only numbers")
    t = torch.tensor(v, dtype=torch.float64)
    if t.abs().max() > MAX_VALUE:
        raise ApiError(f"'{key}' values must lie within ±{MAX_VALUE:g}")
    return t


def ints(data: dict, key: str, default: int | None) -> tuple[int, ...] | None:
    """`data[key]` (or `default`) as one integer 0..16 or a pair of them; None stays None."""
    v = data.get(key, default)
    if v is None:
        return None
    v = v if isinstance(v, list) else [v]
    if not (1 <= len(v) <= 2 and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 16 for i in v)):
        raise ApiError(f"'{key}' must be an integer 0..16 or a pair of them")
    return tuple(v)


def explain_request(data: dict) -> dict:
    """The explorer's answer (`explain.Explanation.to_dict`). Raises ApiError for malformed fields;
    the ops' own UserErrors (a kernel larger than the padded input, ...) pass through."""
    from ..explain import explain_conv, explain_pool

    mode = data.get("mode", "conv")
    x = matrix(data, "input")
    if mode == "conv":
        e = explain_conv(x, matrix(data, "kernel"), ints(data, "padding", 0), ints(data, "stride", 1),
                         ints(data, "dilation", 1))  # fmt: skip
    elif mode in ("max", "avg"):
        e = explain_pool(x, ints(data, "size", 2), mode, ints(data, "padding", 0), ints(data, "stride", None))
    else:
        raise ApiError("'mode' must be conv, max or avg")
    return e.to_dict()
