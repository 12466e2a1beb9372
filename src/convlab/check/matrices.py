"""Tensors printed as the tutorial prints them (`print(Y)` → `tensor([[19., 25.], …])`), with marks.

`show(t, marks)` formats like PyTorch's own `repr` for the small tensors of the exercises
(whole-valued floats as `19.`, others with four decimals, rows aligned) and appends `*` to the
cells where `marks` is True, so the cells that differ stand out in both tensors.
"""

from __future__ import annotations

import math
from typing import Any

import torch


def _cell(v: float | int, floating: bool, whole: bool) -> str:
    if not floating:
        return str(int(v))
    if math.isnan(v) or math.isinf(v):
        return str(v)
    return f"{v:.0f}." if whole else f"{v:.4f}"


def _block(cells: Any, indent: int, dims: int) -> str:
    if dims == 1:
        return "[" + ", ".join(cells) + "]"
    sep = "," + "\n" * (dims - 1) + " " * (indent + 1)
    return "[" + sep.join(_block(c, indent + 1, dims - 1) for c in cells) + "]"


def _texts(t: torch.Tensor, marks: torch.Tensor | None) -> list[str]:
    """Every cell as text, right-aligned to a common width, a `*` after the marked ones."""
    floating = t.is_floating_point()
    values = t.detach().double().flatten().tolist()
    whole = all(v == int(v) for v in values if math.isfinite(v))
    texts = [_cell(v, floating, whole) for v in values]
    width = max(len(s) for s in texts)
    flags = marks.flatten().tolist() if marks is not None and marks.shape == t.shape else []
    if any(flags):
        return [s.rjust(width) + ("*" if f else " ") for s, f in zip(texts, flags)]
    return [s.rjust(width) for s in texts]


def show(t: Any, marks: torch.Tensor | None = None) -> str:
    """`t` as `print(t)` shows it (without a dtype suffix); cells where `marks` is True end in `*`."""
    if not isinstance(t, torch.Tensor):
        return t["repr"] if isinstance(t, dict) and "repr" in t else repr(t)
    if t.numel() == 0:
        return f"tensor([], size={tuple(t.shape)})"
    texts = _texts(t, marks)
    if t.dim() == 0:
        return f"tensor({texts[0].strip()})"
    nested: Any = texts
    for size in reversed(t.shape[1:]):
        nested = [nested[i : i + size] for i in range(0, len(nested), size)]
    return "tensor(" + _block(nested, 7, t.dim()) + ")"


def differ(got: Any, want: Any) -> torch.Tensor | None:
    """Where two same-shaped tensors differ (beyond float32 rounding); None if they cannot be compared."""
    if not isinstance(got, torch.Tensor) or not isinstance(want, torch.Tensor) or got.shape != want.shape:
        return None
    if got.is_complex():
        return None
    return ~torch.isclose(got.double(), want.double(), rtol=1e-4, atol=1e-4, equal_nan=True)


def describe(value: Any) -> str:
    """'2×3 float32' for a tensor, repr for anything else (for the line naming the call)."""
    if isinstance(value, torch.Tensor):
        return "×".join(map(str, value.shape)) + " " + str(value.dtype).removeprefix("torch.")
    return repr(value)
