"""Receptive fields through any graph: the window a layer sees, and the exact pixels one unit sees.

Along one axis, a window layer with kernel k, stride s, padding p and dilation d maps the window
of its input units to its own by the standard recurrence, starting from the image (r = 1, j = 1,
start = 0):

    r_out = r_in + (k − 1)·d·j_in      size of the window one output unit sees
    j_out = j_in·s                     jump: input pixels between neighbouring units
    start_out = start_in − p·j_in      input coordinate of the first unit's top-left

so unit i of a layer sees input rows start + i·j … start + i·j + r − 1 (`Window`). Where branches
meet — a residual addition, a concatenation — a unit sees the union of its inputs' windows.
A flatten, a dense layer or a global pooling sees the whole input (None).

That window is the theoretical one. `exact_pixels` finds the pixels one unit really depends on by
walking back from it through the graph with a mask per node (channels × positions): a
convolution spreads each active position over its kernel's footprint (a transposed convolution
with a kernel of ones) within its channel group, pooling does the same per channel, a
concatenation hands each input only its own channels, an addition hands its mask to both
inputs, and positions that fall in a layer's zero padding are dropped (zeros carry nothing back).
The tests check it against the pixels whose gradient is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError
from .graph import LayerGraph, Row
from .layers import GlobalAvgPool2d

UNARY_MODULES = (
    nn.ReLU, nn.Sigmoid, nn.Tanh, nn.GELU, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Softmax, nn.Dropout,
    nn.Dropout2d, nn.Identity, nn.BatchNorm2d, nn.BatchNorm1d, nn.SyncBatchNorm, nn.GroupNorm,
)  # fmt: skip
UNARY_FUNCTIONS = {"relu", "sigmoid", "tanh", "gelu", "dropout", "silu", "leaky_relu", "contiguous", "clone"}
MERGE_FUNCTIONS = {"add", "mul", "sub", "cat"}
WHOLE_FUNCTIONS = {"flatten", "view", "reshape", "mean", "linear", "adaptive_avg_pool2d"}


@dataclass(frozen=True)
class Window:
    size: tuple[int, int]
    jump: tuple[int, int]
    start: tuple[int, int]

    def union(self, other: Window) -> Window:
        """The window covering both (inputs meeting at an addition or concatenation)."""
        sizes, starts = [], []
        for a in range(2):
            lo = min(self.start[a], other.start[a])
            hi = max(self.start[a] + self.size[a], other.start[a] + other.size[a])
            starts.append(lo)
            sizes.append(hi - lo)
        jump = (max(self.jump[0], other.jump[0]), max(self.jump[1], other.jump[1]))
        return Window((sizes[0], sizes[1]), jump, (starts[0], starts[1]))


def geometry(module: nn.Module | None, in_hw: tuple[int, int] | None = None):
    """((kh, kw), (sh, sw), ((top, bottom), (left, right)), (dh, dw)) of a windowed layer, else None."""
    from .ops.conv import resolve_conv_padding

    def two(v):
        return (v, v) if isinstance(v, int) else (int(v[0]), int(v[1]))

    if isinstance(module, nn.Conv2d):
        k, s, d = two(module.kernel_size), two(module.stride), two(module.dilation)
        pads = resolve_conv_padding(module.padding if isinstance(module.padding, str) else two(module.padding), k, s, d)
        return k, s, pads, d
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        k = two(module.kernel_size)
        s = two(module.stride or module.kernel_size)
        p = two(module.padding)
        d = two(module.dilation) if isinstance(module, nn.MaxPool2d) else (1, 1)
        return k, s, ((p[0], p[0]), (p[1], p[1])), d
    return None


def is_global_pool(module: nn.Module | None) -> bool:
    return isinstance(module, GlobalAvgPool2d) or (
        isinstance(module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d) and module.output_size in (1, (1, 1))
    )


def row_role(row: Row) -> str:
    """How a row treats positions: 'window', 'unary', 'merge', 'whole', or 'other'."""
    if row.module is not None:
        if geometry(row.module) is not None:
            return "window"
        if isinstance(row.module, UNARY_MODULES):
            return "unary"
        if isinstance(row.module, nn.Flatten | nn.Linear) or is_global_pool(row.module):
            return "whole"
        if isinstance(row.module, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
            return "whole"  # its windows depend on the input's size (torchvision's AlexNet head): taken as all of it
        return "other"
    if row.kind in UNARY_FUNCTIONS:
        return "unary"
    if row.kind in MERGE_FUNCTIONS:
        return "merge"
    if row.kind in WHOLE_FUNCTIONS:
        return "whole"
    return "other"


def windows(graph: LayerGraph) -> list[Window | None]:
    """Each row's theoretical receptive field (None: the whole input). Unknown layers raise."""
    image = Window((1, 1), (1, 1), (0, 0))
    out: list[Window | None] = []

    def of(i: int) -> Window | None:
        return image if i < 0 else out[i]

    for row in graph.rows:
        ins = [w for w in (of(i) for i in row.inputs) if w is not None]
        role = row_role(row)
        if role == "whole" or len(ins) < len(row.inputs) or not ins:
            out.append(None)
        elif role == "window":
            (k, s, pads, d), w = geometry(row.module), ins[0]
            out.append(
                Window(
                    tuple(w.size[a] + (k[a] - 1) * d[a] * w.jump[a] for a in range(2)),  # type: ignore[arg-type]
                    (w.jump[0] * s[0], w.jump[1] * s[1]),
                    (w.start[0] - pads[0][0] * w.jump[0], w.start[1] - pads[1][0] * w.jump[1]),
                )
            )
        elif role in ("unary", "merge"):
            merged = ins[0]
            for w in ins[1:]:
                merged = merged.union(w)
            out.append(merged)
        else:
            raise UserError(
                f"cannot analyse layer {row.index} ({row.kind}, at {row.name}): convlab follows receptive fields "
                f"through convolutions, pooling, norms, activations, additions, concatenations and dense layers"
            )
    return out


def exact_pixels(
    graph: LayerGraph,
    layer: int,
    unit: tuple[int, int],
    input_size: tuple[int, int, int],
    channel: int | None = None,
) -> torch.Tensor:
    """(H, W) bool: the input pixels that output unit (row, col) of `layer` — in `channel`, or in any
    channel when None — depends on (see the module docstring)."""
    shapes = [s[1:] for s in graph.shapes(input_size)]  # per row (C, H, W) or (F,)
    target = shapes[layer]
    if len(target) != 3:
        return torch.ones(input_size[1:], dtype=torch.bool)
    demand: dict[int, torch.Tensor] = {}
    mask = torch.zeros(target, dtype=torch.bool)
    r, c = unit
    if channel is None:
        mask[:, r, c] = True
    else:
        mask[channel, r, c] = True
    demand[layer] = mask
    image = torch.zeros(input_size, dtype=torch.bool)

    def give(i: int, m: torch.Tensor) -> None:
        nonlocal image
        if i < 0:
            image = image | m
        else:
            demand[i] = demand[i] | m if i in demand else m

    for row in reversed(graph.rows[: layer + 1]):
        m = demand.pop(row.index, None)
        if m is None or not m.any():
            continue
        in_shapes = [input_size if i < 0 else shapes[i] for i in row.inputs]
        role = row_role(row)
        if role == "whole" or any(len(s) != 3 for s in in_shapes) or m.dim() != 3:
            for i, s in zip(row.inputs, in_shapes):
                give(i, torch.ones(s, dtype=torch.bool))
        elif role == "window":
            give(row.inputs[0], _through_window(row.module, m, in_shapes[0]))
        elif role == "unary":
            give(row.inputs[0], m)
        elif role == "merge" and row.kind == "cat":
            start = 0
            for i, s in zip(row.inputs, in_shapes):
                give(i, m[start : start + s[0]])
                start += s[0]
        elif role == "merge":
            for i, s in zip(row.inputs, in_shapes):
                give(i, m.expand(s) if m.shape != s else m)
        else:
            raise UserError(f"cannot analyse layer {row.index} ({row.kind}, at {row.name})")
    return image.any(0)


def _through_window(module: nn.Module, m: torch.Tensor, in_shape) -> torch.Tensor:
    """The input mask (C_in, H, W) a window layer needs for its output mask m (C_out, Ho, Wo)."""
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = geometry(module)
    c_in, h, w = in_shape
    groups = module.groups if isinstance(module, nn.Conv2d) else c_in  # pooling: each channel alone
    c_out = m.shape[0]
    per_group = m.reshape(groups, c_out // groups, *m.shape[1:]).any(1).float()  # (G, Ho, Wo)
    ones = torch.ones(groups, 1, kh, kw)
    spread = F.conv_transpose2d(per_group[None], ones, stride=(sh, sw), dilation=(dh, dw), groups=groups)[0]
    hp, wp = h + pt + pb, w + pl + pr  # the padded input; the transposed output may fall short of it
    canvas = torch.zeros(groups, max(hp, spread.shape[1]), max(wp, spread.shape[2]))
    canvas[:, : spread.shape[1], : spread.shape[2]] = spread
    inside = canvas[:, pt : pt + h, pl : pl + w] > 0  # (G, H, W): padding positions dropped
    return inside.repeat_interleave(c_in // groups, dim=0)  # every channel of a group sees the same


def receptive_field(
    graph: LayerGraph,
    layer: int,
    unit: tuple[int, int],
    input_size: tuple[int, int, int],
    channel: int | None = None,
) -> dict:
    """What unit (row, col) of `layer` sees: `rows`/`cols`, the inclusive bounds of the exact pixel set
    (None if it sees only padding), `pixels` (how many), the theoretical `window`, how much of
    that window lies outside the image (`padding`), and its `size`."""
    if not 0 <= layer < len(graph.rows):
        raise UserError(f"layer {layer} does not exist; the model has layers 0..{len(graph.rows) - 1}")
    _, h, w = input_size
    shape = graph.shapes(input_size)[layer][1:]
    window = windows(graph)[layer]
    if window is None or len(shape) != 3:
        return {
            "rows": [0, h - 1], "cols": [0, w - 1], "pixels": h * w,
            "window": {"rows": [0, h - 1], "cols": [0, w - 1]},
            "padding": {"rows": 0, "cols": 0}, "size": [h, w], "whole_input": True,
        }  # fmt: skip
    c, oh, ow = shape
    r, col = unit
    if not (0 <= r < oh and 0 <= col < ow):
        raise UserError(f"unit ({r}, {col}) is outside layer {layer}'s {oh}×{ow} output")
    if channel is not None and not 0 <= channel < c:
        raise UserError(f"channel {channel} does not exist; layer {layer} has channels 0..{c - 1}")
    pixels = exact_pixels(graph, layer, (r, col), input_size, channel)
    ys, xs = torch.nonzero(pixels, as_tuple=True)
    top, left = window.start[0] + r * window.jump[0], window.start[1] + col * window.jump[1]
    bottom, right = top + window.size[0] - 1, left + window.size[1] - 1

    def outside(lo: int, hi: int, n: int) -> int:
        return max(0, -lo) + max(0, hi - (n - 1))

    seen = len(ys) > 0
    return {
        "rows": [int(ys.min()), int(ys.max())] if seen else None,
        "cols": [int(xs.min()), int(xs.max())] if seen else None,
        "pixels": int(pixels.sum()),
        "window": {"rows": [top, bottom], "cols": [left, right]},
        "padding": {"rows": outside(top, bottom, h), "cols": outside(left, right, w)},
        "size": list(window.size),
        "whole_input": False,
    }


__all__ = ["Window", "exact_pixels", "geometry", "receptive_field", "row_role", "windows"]
