"""The arithmetic of convolution and pooling, cell by cell, as the tutorial writes it.

`explain_conv` and `explain_pool` return every output cell with its window and its terms
(`0×0 + 1×1 + 3×2 + 4×3 = 19`, `max(0, 1, 3, 4) = 4`). The values come from convlab's
fast ops and the terms from the window itself; the two are checked against each other,
so the text can never disagree with what a model computes. The web playground shows the
same objects (`to_dict`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from . import ops
from .errors import UserError
from .ops.shapes import pair


def parse_matrix(text: str, what: str = "matrix") -> torch.Tensor:
    """'0 1 2; 3 4 5' (rows split by ';' or newlines, values by spaces or commas) → 2-D tensor."""
    rows = [r for r in (part.strip() for part in text.replace("\n", ";").split(";")) if r]
    if not rows:
        raise UserError(f"{what} is empty; write rows separated by ';', e.g. \"0 1 2; 3 4 5\"")
    values = []
    for i, row in enumerate(rows):
        parsed = []
        for cell in row.replace(",", " ").split():
            try:
                parsed.append(float(cell))
            except ValueError:
                raise UserError(f"{what}: {cell!r} in row {i + 1} is not a number") from None
        values.append(parsed)
        if len(values[-1]) != len(values[0]):
            raise UserError(
                f"{what}: row {i + 1} has {len(values[-1])} values but row 1 has {len(values[0])}; "
                f"rows must have equal length"
            )
    return torch.tensor(values, dtype=torch.float64)


def load_matrix(source: str, what: str = "input") -> torch.Tensor:
    """A matrix from text, a CSV/text file, or an image file (its 0–255 grayscale values)."""
    path = Path(source)
    if len(source) < 4096 and path.is_file():
        if path.suffix.lower() in (".csv", ".txt", ".tsv"):
            return parse_matrix(path.read_text().replace("\t", " "), f"{what} ({path})")
        from .data.images import open_image

        img = open_image(path).convert("L")
        return torch.from_numpy(np.asarray(img, dtype=np.float64).copy())  # (H, W), 0–255
    return parse_matrix(source, what)


def fmt(v: float) -> str:
    """Numbers as the tutorial writes them: integers without a decimal point."""
    if math.isinf(v):
        return "−∞" if v < 0 else "∞"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def term(v: float) -> str:
    """A number as an operand: negative ones in brackets, so `3×(-2)` reads as written."""
    return f"({fmt(v)})" if v < 0 else fmt(v)


def _exact(text: str) -> Fraction | None:
    """The decimal a printed number stands for (None for ∞)."""
    try:
        return Fraction(text)
    except ValueError:
        return None


def equals(written: Fraction | None, result: str) -> str:
    """'=' when the printed operands, taken as the decimals they read as, give the printed result
    exactly; '≈' when the printing rounded (numbers are shown to 4 significant digits)."""
    shown = _exact(result)
    return "=" if written is None or shown is None or written == shown else "≈"


def _dot_text(xs: list[float], ws: list[float], value: float) -> str:
    """`x1×w1 + x2×w2 + … = y`, true as written (see `equals`)."""
    xt, wt = [term(u) for u in xs], [term(v) for v in ws]
    exact = [(_exact(fmt(u)), _exact(fmt(v))) for u, v in zip(xs, ws)]
    total = None if any(a is None or b is None for a, b in exact) else sum((a * b for a, b in exact), Fraction(0))  # type: ignore[operator]
    result = fmt(value)
    return " + ".join(f"{a}×{b}" for a, b in zip(xt, wt)) + f" {equals(total, result)} {result}"


def _mean_text(xs: list[float], value: float) -> str:
    """`(x1 + x2 + …) / n = y`, true as written (see `equals`)."""
    exact = [_exact(fmt(v)) for v in xs]
    known = [a for a in exact if a is not None]
    total = sum(known, Fraction(0)) / len(xs) if len(known) == len(exact) else None
    result = fmt(value)
    return f"({' + '.join(term(v) for v in xs)}) / {len(xs)} {equals(total, result)} {result}"


@dataclass
class Cell:
    row: int
    col: int
    window_rows: list[int]  # padded-input row of each window element (row-major)
    window_cols: list[int]
    inputs: list[float]
    weights: list[float] | None  # None for pooling
    value: float
    text: str


@dataclass
class Explanation:
    kind: str  # "conv" | "max" | "avg"
    input: torch.Tensor  # (H, W)
    padded: torch.Tensor  # (Hp, Wp) with the padding used (−∞ for max pooling)
    padding: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    kernel: torch.Tensor | None
    kernel_size: tuple[int, ...]  # (kh, kw)
    output: torch.Tensor  # (Ho, Wo)
    cells: list[Cell]
    formula: list[str]

    def text(self) -> str:
        out = [f"input {self.input.shape[0]}×{self.input.shape[1]}:", _grid(self.input)]
        if self.kernel is not None:
            out += [f"kernel {self.kernel_size[0]}×{self.kernel_size[1]}:", _grid(self.kernel)]
        if any(self.padding):
            out += [
                f"padded input (padding {self.padding[0]}×{self.padding[1]}"
                + (", −∞ so padding never wins the max" if self.kind == "max" else ", zeros")
                + "):",
                _grid(self.padded),
            ]
        out.append("each output cell:")
        out += [f"  Y[{c.row},{c.col}] = {c.text}" for c in self.cells]
        out += [f"output {self.output.shape[0]}×{self.output.shape[1]}:", _grid(self.output)]
        out += ["output size:"] + [f"  {line}" for line in self.formula]
        return "\n".join(out)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "input": self.input.tolist(),
            "padded": [[fmt(v) for v in r] for r in self.padded.tolist()],
            "padding": list(self.padding),
            "stride": list(self.stride),
            "dilation": list(self.dilation),
            "kernel": None if self.kernel is None else self.kernel.tolist(),
            "kernel_size": list(self.kernel_size),
            "output": self.output.tolist(),
            "formula": self.formula,
            "cells": [
                {
                    "row": c.row,
                    "col": c.col,
                    "rows": c.window_rows,
                    "cols": c.window_cols,
                    "value": c.value,
                    "text": c.text,
                }
                for c in self.cells
            ],
        }


def _grid(t: torch.Tensor) -> str:
    cells = [[fmt(v) for v in row] for row in t.tolist()]
    width = max(len(c) for row in cells for c in row)
    return "\n".join("    " + " ".join(c.rjust(width) for c in row) for row in cells)


def _formula(
    n: tuple[int, ...],  # (H, W) of the input, as `tuple(x.shape)` gives it
    k: tuple[int, ...],
    p: tuple[int, int],
    s: tuple[int, int],
    d: tuple[int, int],
    out: tuple[int, ...],
) -> list[str]:
    lines = []
    for axis, nn, kk, pp, ss, dd, oo in zip(("height", "width"), n, k, p, s, d, out):
        keff = f"({dd}·({kk} − 1) + 1)" if dd != 1 else f"{kk}"  # the dilated kernel's extent, in brackets
        lines.append(f"{axis}: ⌊({nn} + 2·{pp} − {keff}) / {ss}⌋ + 1 = {oo}")
    return lines


def _agree(by_hand: float, by_op: float, where: str) -> None:
    """The written-out arithmetic must equal the fast op's value: if not, convlab has a bug.

    (Not an assert: checks must survive `python -O`. Non-finite values, from inputs near the
    float limits, have no exact sum to compare.)
    """
    if math.isfinite(by_hand) and math.isfinite(by_op):
        if not math.isclose(by_hand, by_op, rel_tol=1e-9, abs_tol=1e-9):
            raise RuntimeError(f"explain: {where}: the terms sum to {by_hand!r} but the op gave {by_op!r}")


def _check_2d(x: torch.Tensor, what: str):
    if x.dim() != 2:
        raise UserError(f"{what} must be a 2-D matrix, got shape {tuple(x.shape)}")


def explain_conv(x: torch.Tensor, k: torch.Tensor, padding=0, stride=1, dilation=1) -> Explanation:
    """Cross-correlation of 2-D x with 2-D kernel k, every cell written out."""
    _check_2d(x, "input")
    _check_2d(k, "kernel")
    p, s, d = pair(padding, "padding"), pair(stride, "stride"), pair(dilation, "dilation")
    x, k = x.double(), k.double()
    y = ops.conv2d(x[None, None], k[None, None], stride=s, padding=p, dilation=d)[0, 0]  # (Ho, Wo)
    xp = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]))
    cells = []
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            rows, cols, xs, ws = [], [], [], []
            for a in range(k.shape[0]):
                for b in range(k.shape[1]):
                    r, c = i * s[0] + a * d[0], j * s[1] + b * d[1]
                    rows.append(r)
                    cols.append(c)
                    xs.append(xp[r, c].item())
                    ws.append(k[a, b].item())
            value = y[i, j].item()
            _agree(sum(u * v for u, v in zip(xs, ws)), value, f"conv cell ({i}, {j})")
            text = _dot_text(xs, ws, value)
            cells.append(Cell(i, j, rows, cols, xs, ws, value, text))
    return Explanation(
        "conv",
        x,
        xp,
        p,
        s,
        d,
        k,
        tuple(k.shape),
        y,
        cells,
        _formula(tuple(x.shape), tuple(k.shape), p, s, d, tuple(y.shape)),
    )


def explain_pool(x: torch.Tensor, size=2, mode: str = "max", padding=0, stride=None) -> Explanation:
    """Max or average pooling of 2-D x (stride defaults to the window, as in PyTorch)."""
    _check_2d(x, "input")
    if mode not in ("max", "avg"):
        raise UserError(f"mode must be 'max' or 'avg', got {mode!r}")
    ks = pair(size, "size")
    p = pair(padding, "padding")
    s = ks if stride is None else pair(stride, "stride")
    x = x.double()
    fn = ops.max_pool2d if mode == "max" else ops.avg_pool2d
    y = fn(x[None, None], ks, s, p)[0, 0]
    xp = torch.nn.functional.pad(x, (p[1], p[1], p[0], p[0]), value=float("-inf") if mode == "max" else 0.0)
    cells = []
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            rows = [i * s[0] + a for a in range(ks[0]) for _ in range(ks[1])]
            cols = [j * s[1] + b for _ in range(ks[0]) for b in range(ks[1])]
            xs = [xp[r, c].item() for r, c in zip(rows, cols)]
            value = y[i, j].item()
            listed = ", ".join(fmt(v) for v in xs)
            if mode == "max":
                _agree(max(xs), value, f"max-pool cell ({i}, {j})")
                text = f"max({listed}) = {fmt(value)}"
            else:
                _agree(sum(xs) / len(xs), value, f"avg-pool cell ({i}, {j})")
                text = _mean_text(xs, value)
            cells.append(Cell(i, j, rows, cols, xs, None, value, text))
    return Explanation(
        mode, x, xp, p, s, (1, 1), None, ks, y, cells, _formula(tuple(x.shape), ks, p, s, (1, 1), tuple(y.shape))
    )


def explain_shapes(model, input_size) -> str:
    """The tutorial's §6 loop: each layer's name and output shape."""
    from .introspect import layer_shapes

    return "\n".join(f"{name:<12s} output shape: \t{shape}" for name, shape in layer_shapes(model, input_size))
