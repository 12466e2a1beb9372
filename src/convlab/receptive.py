"""Receptive fields through any graph: the window a layer sees, and the exact pixels one unit sees.

Along one axis, a window layer with kernel k, stride s, padding p and dilation d maps the window
of its input units to its own by the standard recurrence, starting from the image (r = 1, j = 1,
start = 0):

    r_out = r_in + (k − 1)·d·j_in      size of the window one output unit sees
    j_out = j_in·s                     jump: input pixels between neighbouring units
    start_out = start_in − p·j_in      input coordinate of the first unit's top-left

so unit i of a layer sees input rows start + i·j … start + i·j + r − 1 (`Window`). Padding layers
are windows of size 1 (a reflected or replicated border is still drawn outside the image, as a
convolution's padding is). Where branches meet — a residual addition, a concatenation — a unit
sees the union of its inputs' windows. A flatten keeps each unit's window; a dense layer or a
global pooling sees the whole input (None).

Resampling layers — adaptive pooling, upsampling — are read off the layer itself: which input
units each output unit reads along each axis (the non-zero gradients of the linear map, the
average standing in for the maximum). Windows of one size at a fixed step are a pooling window
like any other; otherwise the window is the smallest one covering every unit's, as at a merge,
when neighbouring units sit a whole number of pixels apart. Where no window exists — units half
a pixel apart, a layer convlab does not know, anything after such a layer — the row carries an
`Unknown` with the reason instead.

That window is the theoretical one. `exact_pixels` finds the pixels one unit really depends on by
walking back from it through the graph with a mask per node (channels × positions): a
convolution spreads each active position over its kernel's footprint (a transposed convolution
with a kernel of ones) within its channel group, pooling does the same per channel, a
concatenation hands each input only its own channels, an addition hands its mask to both
inputs, a padding or resampling layer hands it back through its own gradient, and positions that
fall in a layer's zero padding are dropped (zeros carry nothing back). The tests check it against
the pixels whose gradient is non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import torch
import torch.nn.functional as F
from torch import nn

from .errors import UserError
from .geometry import Geometry, arguments, function_geometry, geometry, is_pad, reads, resampler, row_role
from .graph import LayerGraph, Row, probe


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


@dataclass(frozen=True)
class Unknown:
    """No receptive field for this row: `short` for a table cell, `reason` in full, `layer` the row
    where it began (rows after it inherit it)."""

    short: str
    reason: str
    layer: int


Field = Window | Unknown | None  # None: the unit sees the whole input


def _resampled(w: Window, spans: list[list[tuple[int, int]]], n_in: tuple[int, int], name: str, index: int) -> Field:
    """The window after a resampling layer reading input units `spans` (see the module docstring)."""
    size, jump, start = [], [], []
    for a in range(2):
        lo = [s[0] for s in spans[a]]
        width = {s[1] - s[0] for s in spans[a]}
        steps = {lo[i + 1] - lo[i] for i in range(len(lo) - 1)} or {1}
        if len(width) == 1 and len(steps) == 1 and min(steps) >= 1:  # one window size at one step: a pooling
            k, step = width.pop() + 1, steps.pop()
            size.append(w.size[a] + (k - 1) * w.jump[a])
            jump.append(w.jump[a] * step)
            start.append(w.start[a] + lo[0] * w.jump[a])
            continue
        j = Fraction(w.jump[a] * n_in[a], len(lo))
        if j.denominator != 1:
            return Unknown(
                "n/a: uneven windows",
                f"{name}: its windows ({n_in[a]} → {len(lo)} along an axis) differ in size or step, and a window "
                f"covering each would put neighbouring units {j} input pixels apart, not a whole number",
                index,
            )
        first = min(w.start[a] + s[0] * w.jump[a] - i * int(j) for i, s in enumerate(spans[a]))
        last = max(w.start[a] + s[1] * w.jump[a] + w.size[a] - 1 - i * int(j) for i, s in enumerate(spans[a]))
        size.append(last - first + 1)
        jump.append(int(j))
        start.append(first)
    return Window((size[0], size[1]), (jump[0], jump[1]), (start[0], start[1]))


def fields(graph: LayerGraph, input_size: tuple[int, ...], values: dict | None = None) -> list[Field]:
    """Each row's theoretical receptive field for one (C, H, W) input: a `Window`, None (the whole
    input), or `Unknown` with the reason. `values`: the graph's node values for that input, if
    already computed (`LayerGraph.values`)."""
    if values is None:
        values = graph.values(probe(graph.model, input_size))
    image = Window((1, 1), (1, 1), (0, 0))
    out: list[Field] = []
    for row in graph.rows:
        ins = [image if i < 0 else out[i] for i in row.inputs]
        out.append(_field(row, ins, values, graph))
    return out


def _input_dims(row: Row, values: dict, graph: LayerGraph) -> int:
    i = row.inputs[0] if row.inputs else -1
    x = values[graph.rows[i].node] if i >= 0 else next(v for n, v in values.items() if n.op == "placeholder")
    return x.dim() if isinstance(x, torch.Tensor) else 0


def _refusal(row: Row, ins: list[Field], role: str, name: str, values: dict, graph: LayerGraph) -> Unknown | None:
    """Why `row`'s positions cannot be followed, before looking at its window: after a layer that
    cannot be followed, a layer convlab does not know, or a dense layer on more than 2 axes."""
    unknown = next((f for f in ins if isinstance(f, Unknown)), None)
    if unknown is not None:
        return Unknown(f"n/a: after layer {unknown.layer}", unknown.reason, unknown.layer)
    if role == "other":
        what = row.module.__class__.__name__ if row.module is not None else row.kind
        return Unknown(f"n/a: {what} unknown", f"{name}: convlab does not know how {what} moves positions", row.index)
    if role == "whole" and row.kind in ("Linear", "linear") and _input_dims(row, values, graph) > 2:
        return Unknown(
            "n/a: dense per position",
            f"{name}: a dense layer on a {_input_dims(row, values, graph)}-D tensor acts on its last axis alone; "
            "convlab does not follow which axes hold positions there",
            row.index,
        )
    return None


def _window_field(row: Row, w: Window, values: dict) -> Window:
    """The window after a convolution or pooling layer whose input window is w."""
    geom = geometry(row.module) if row.module is not None else function_geometry(row.kind, arguments(row, values))
    (k, s, pads, d) = geom  # type: ignore[misc]
    return Window(
        (w.size[0] + (k[0] - 1) * d[0] * w.jump[0], w.size[1] + (k[1] - 1) * d[1] * w.jump[1]),
        (w.jump[0] * s[0], w.jump[1] * s[1]),
        (w.start[0] - pads[0][0] * w.jump[0], w.start[1] - pads[1][0] * w.jump[1]),
    )


def _resample_field(row: Row, w: Window, values: dict, graph: LayerGraph, name: str) -> Field:
    """The window after a resampling layer (padding, upsampling), read from the layer run on a
    one-channel stand-in; Unknown when it cannot run so."""
    i = row.inputs[0]
    x = values[graph.rows[i].node] if i >= 0 else next(v for n, v in values.items() if n.op == "placeholder")
    in_hw = (int(x.shape[-2]), int(x.shape[-1]))
    try:  # the layer runs here on a one-channel stand-in; a layer that needs more says so in its cell
        spans = reads(resampler(row, values), in_hw)
    except (RuntimeError, ValueError, TypeError) as e:
        return Unknown(
            f"n/a: {row.kind}", f"{name}: cannot read its windows ({str(e).splitlines()[0][:80]})", row.index
        )
    return _resampled(w, spans, in_hw, name, row.index)


def _field(row: Row, ins: list[Field], values: dict, graph: LayerGraph) -> Field:
    role = row_role(row)
    name = f"layer {row.index} ({row.kind})"
    refused = _refusal(row, ins, role, name, values, graph)
    if refused is not None:
        return refused
    if role == "whole" or not ins or any(f is None for f in ins):
        return None
    windows = [f for f in ins if isinstance(f, Window)]
    w = windows[0]
    if role in ("unary", "merge", "flat"):
        for other in windows[1:]:
            w = w.union(other)
        return w
    y = values.get(row.node)
    if not isinstance(y, torch.Tensor) or y.dim() != 4:
        return Unknown(f"n/a: {row.kind} output", f"{name}: its output is not a (N, C, H, W) feature map", row.index)
    if role == "window":
        return _window_field(row, w, values)
    return _resample_field(row, w, values, graph, name)


def windows(graph: LayerGraph, input_size: tuple[int, ...]) -> list[Window | None]:
    """Each row's window (None: the whole input, or no window; see `fields` for which and why)."""
    return [f if isinstance(f, Window) else None for f in fields(graph, input_size)]


def exact_pixels(
    graph: LayerGraph,
    layer: int,
    unit: tuple[int, int],
    input_size: tuple[int, int, int],
    channel: int | None = None,
) -> torch.Tensor:
    """(H, W) bool: the input pixels that output unit (row, col) of `layer` — in `channel`, or in any
    channel when None — depends on (see the module docstring). Raises UserError for a layer after
    one whose positions convlab cannot follow."""
    values = graph.values(probe(graph.model, input_size))
    shapes = [tuple(values[r.node].shape[1:]) for r in graph.rows]  # type: ignore[attr-defined]
    target = shapes[layer]
    if len(target) != 3:
        return torch.ones(input_size[1:], dtype=torch.bool)
    mask = torch.zeros(target, dtype=torch.bool)
    mask[slice(None) if channel is None else channel, unit[0], unit[1]] = True
    demand: dict[int, torch.Tensor] = {layer: mask}
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
        in_shapes = [tuple(input_size) if i < 0 else shapes[i] for i in row.inputs]
        for i, need in zip(row.inputs, _needs(row, m, in_shapes, values)):
            give(i, need)
    return image.any(0)


def _groups(row: Row, values: dict, in_shapes: list) -> int:
    """How many channel groups a window layer has: a convolution's `groups`; pooling, one per channel."""
    if isinstance(row.module, nn.Conv2d):
        return row.module.groups
    if row.kind == "conv2d" and row.module is None:
        return int(arguments(row, values).get("groups", 1))
    return in_shapes[0][0]  # pooling: each channel alone


def _needs(row: Row, m: torch.Tensor, in_shapes: list, values: dict) -> list[torch.Tensor]:
    """The mask each input of `row` must supply for its output mask m (C, H, W)."""
    role = row_role(row)
    if role in ("whole", "flat") or any(len(s) != 3 for s in in_shapes) or m.dim() != 3:
        return [torch.ones(s, dtype=torch.bool) for s in in_shapes]
    if role in ("window", "resample"):
        return [_spatial_needs(row, role, m, in_shapes, values)]
    return _channel_needs(row, role, m, in_shapes)


def _spatial_needs(row: Row, role: str, m: torch.Tensor, in_shapes: list, values: dict) -> torch.Tensor:
    """The input mask of a window or resampling layer for its output mask m (C, H, W)."""
    if role == "window" and not is_pad(row):
        geom = geometry(row.module) if row.module is not None else function_geometry(row.kind, arguments(row, values))
        return _through_window(geom, _groups(row, values, in_shapes), m, in_shapes[0])  # type: ignore[arg-type]
    return _through_gradient(resampler(row, values), m, in_shapes[0])


def _channel_needs(row: Row, role: str, m: torch.Tensor, in_shapes: list) -> list[torch.Tensor]:
    """The mask each input of a layer that keeps positions (element-wise, concatenation, sum) must
    supply for its output mask m (C, H, W); UserError for any other layer."""
    if role == "unary":
        return [m]
    if role == "merge" and row.kind == "cat":
        starts = [sum(s[0] for s in in_shapes[:k]) for k in range(len(in_shapes))]
        return [m[a : a + s[0]] for a, s in zip(starts, in_shapes)]
    if role == "merge":
        return [m.expand(s) if m.shape != s else m for s in in_shapes]
    raise UserError(f"cannot follow positions through layer {row.index} ({row.kind}, at {row.name})")


def _through_window(geom: Geometry, groups: int, m: torch.Tensor, in_shape) -> torch.Tensor:
    """The input mask (C_in, H, W) a window layer needs for its output mask m (C_out, Ho, Wo)."""
    (kh, kw), (sh, sw), ((pt, pb), (pl, pr)), (dh, dw) = geom
    c_in, h, w = in_shape
    c_out = m.shape[0]
    per_group = m.reshape(groups, c_out // groups, *m.shape[1:]).any(1).float()  # (G, Ho, Wo)
    ones = torch.ones(groups, 1, kh, kw)
    spread = F.conv_transpose2d(per_group[None], ones, stride=(sh, sw), dilation=(dh, dw), groups=groups)[0]
    hp, wp = h + pt + pb, w + pl + pr  # the padded input; the transposed output may fall short of it
    canvas = torch.zeros(groups, max(hp, spread.shape[1]), max(wp, spread.shape[2]))
    canvas[:, : spread.shape[1], : spread.shape[2]] = spread
    inside = canvas[:, pt : pt + h, pl : pl + w] > 0  # (G, H, W): padding positions dropped
    return inside.repeat_interleave(c_in // groups, dim=0)  # every channel of a group sees the same


def _through_gradient(fn, m: torch.Tensor, in_shape) -> torch.Tensor:
    """The input mask (C, H, W) a channel-wise linear layer (padding, resampling) needs for its output
    mask m (C, Ho, Wo): the non-zero gradient of the masked output, with positive random weights."""
    x = torch.rand(1, *in_shape, dtype=torch.float64, requires_grad=True)
    y = fn(x)[0]
    (g,) = torch.autograd.grad((y * m * torch.rand_like(y).add(0.5)).sum(), x)
    return g[0] != 0


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
    window = fields(graph, input_size)[layer]
    if isinstance(window, Unknown):
        raise UserError(f"layer {layer} has no receptive field: {window.reason}")
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


__all__ = ["Unknown", "Window", "exact_pixels", "fields", "geometry", "receptive_field", "row_role", "windows"]
