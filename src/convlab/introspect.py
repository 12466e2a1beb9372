"""Looking inside a model: layer shapes, a summary table with receptive fields, feature maps.

Receptive fields follow the standard recurrence along each axis, for a layer with kernel
k, stride s, padding p and dilation d, starting from the input (r = 1, j = 1, start = 0):

    r_out = r_in + (k − 1)·d·j_in      size of the window one output unit sees
    j_out = j_in·s                     jump: input pixels between neighbouring units
    start_out = start_in − p·j_in      input coordinate of the first unit's top-left

so unit i of a layer sees input rows start + i·j … start + i·j + r − 1. That window is the
theoretical one (the summary's columns); `receptive_field` also gives the exact pixels,
which can be fewer when the window reaches into a layer's zero padding. A flatten or
dense layer sees the whole input.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .errors import UserError

ELEMENTWISE = (
    nn.ReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.GELU,
    nn.LeakyReLU,
    nn.ELU,
    nn.SiLU,
    nn.Softmax,
    nn.Dropout,
    nn.Dropout2d,
    nn.Identity,
    nn.BatchNorm2d,
    nn.BatchNorm1d,
    nn.SyncBatchNorm,
)


def layers_of(model: nn.Module) -> list[nn.Module]:
    """The leaf layers of a (possibly nested) nn.Sequential, in order."""
    if not isinstance(model, nn.Sequential):
        raise UserError(f"convlab can analyse nn.Sequential models; got {model.__class__.__name__}")
    out = []
    for m in model:
        out += layers_of(m) if isinstance(m, nn.Sequential) else [m]
    return out


def layer_shapes(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """The tutorial's loop (§6): push one random input through each layer, record its output shape."""
    return [
        (layer.__class__.__name__, tuple(y.shape))
        for layer, y in zip(layers_of(model), capture(model, _probe(model, input_size)))
    ]


def _probe(model: nn.Module, input_size) -> torch.Tensor:
    """A random (1, C, H, W) input on the model's device and dtype."""
    p = next(model.parameters(), None)
    return torch.rand(
        (1, *tuple(input_size)),
        dtype=p.dtype if p is not None else torch.float32,
        device=p.device if p is not None else "cpu",
    )


@torch.no_grad()
def capture(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output for input x (B, C, H, W), in eval mode."""
    was_training = model.training
    model.eval()
    outs = []
    for layer in layers_of(model):
        x = layer(x)
        outs.append(x)
    model.train(was_training)
    return outs


def _geometry(layer: nn.Module):
    """(kernel, stride, padding, dilation) pairs for a windowed layer, else None."""

    def two(v):
        return (v, v) if isinstance(v, int) else tuple(v)

    if isinstance(layer, nn.Conv2d):
        pad = layer.padding
        if isinstance(pad, str):  # "same"/"valid"
            pad = (
                tuple(d * (k - 1) // 2 for k, d in zip(layer.kernel_size, layer.dilation)) if pad == "same" else (0, 0)
            )
        return two(layer.kernel_size), two(layer.stride), two(pad), two(layer.dilation)
    if isinstance(layer, nn.MaxPool2d):
        return two(layer.kernel_size), two(layer.stride or layer.kernel_size), two(layer.padding), two(layer.dilation)
    if isinstance(layer, nn.AvgPool2d):
        return two(layer.kernel_size), two(layer.stride or layer.kernel_size), two(layer.padding), (1, 1)
    return None


@dataclass
class LayerInfo:
    index: int
    name: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    rf_size: tuple[int, int] | None  # None: the whole input (after flatten/dense)
    rf_jump: tuple[int, int] | None
    rf_start: tuple[int, int] | None


@dataclass
class Summary:
    """A per-layer table: output shape, parameters, multiply-adds, receptive field."""

    input_size: tuple[int, int, int]
    layers: list[LayerInfo] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.layers)

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.layers)

    @property
    def activation_bytes(self) -> int:
        """Float32 memory of every layer's output for one input."""
        return 4 * sum(int(torch.tensor(r.output_shape[1:]).prod()) for r in self.layers)

    def rows(self) -> list[list[str]]:
        out = []
        for r in self.layers:
            if r.rf_size is None:
                rf = jump = start = "all"
            else:
                rf = f"{r.rf_size[0]}×{r.rf_size[1]}"
                jump = f"{r.rf_jump[0]}×{r.rf_jump[1]}"
                start = f"({r.rf_start[0]}, {r.rf_start[1]})"
            out.append(
                [
                    str(r.index),
                    r.name,
                    "×".join(map(str, r.output_shape[1:])),
                    f"{r.params:,}",
                    f"{r.macs:,}",
                    rf,
                    jump,
                    start,
                ]
            )
        return out

    HEADER: ClassVar[list[str]] = ["#", "layer", "output", "params", "mult-adds", "receptive field", "jump", "start"]

    def __str__(self) -> str:
        rows = [self.HEADER, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER))]

        def line(r):
            return "  ".join(c.rjust(w) if i in (0, 3, 4) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

        sep = "-" * len(line(rows[0]))
        c, h, w = self.input_size
        params_mb = self.total_params * 4 / 2**20
        return "\n".join(
            [f"input: {c}×{h}×{w}", sep, line(rows[0]), sep]
            + [line(r) for r in rows[1:]]
            + [
                sep,
                f"total parameters: {self.total_params:,} ({params_mb:.2f} MiB as float32)",
                f"total multiply-adds per input: {self.total_macs:,}",
                f"activations for one input: {self.activation_bytes / 2**10:.1f} KiB (float32)",
            ]
        )

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in self.HEADER)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in self.rows())
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>parameters {self.total_params:,} · multiply-adds {self.total_macs:,}</p>"
        )

    def to_dict(self) -> dict:
        return {
            "input_size": list(self.input_size),
            "header": self.HEADER,
            "rows": self.rows(),
            "total_params": self.total_params,
            "total_macs": self.total_macs,
        }


def summary(model: nn.Module, input_size: tuple[int, int, int]) -> Summary:
    """Summarise an nn.Sequential of conv/pool/dense/activation/norm layers for one (C, H, W) input."""
    layers = layers_of(model)
    for i, layer in enumerate(layers):
        if not (_geometry(layer) or isinstance(layer, (*ELEMENTWISE, nn.Flatten, nn.Linear))):
            raise UserError(
                f"cannot analyse layer {i} ({layer.__class__.__name__}); supported: Conv2d, MaxPool2d, "
                f"AvgPool2d, Linear, Flatten, batch norm, dropout and element-wise activations"
            )
    outs = capture(model, _probe(model, input_size))
    s = Summary(tuple(input_size))
    rf, jump, start = (1, 1), (1, 1), (0, 0)
    whole = False
    for i, (layer, y) in enumerate(zip(layers, outs)):
        params = sum(p.numel() for p in layer.parameters(recurse=False))
        macs = 0
        geo = _geometry(layer)
        if isinstance(layer, nn.Conv2d):
            k = layer.kernel_size
            macs = y.numel() * (layer.in_channels // layer.groups) * k[0] * k[1]
        elif isinstance(layer, nn.Linear):
            macs = layer.in_features * layer.out_features
        if isinstance(layer, (nn.Flatten, nn.Linear)):
            whole = True
        elif geo and not whole:
            (k, st, p, d) = geo
            rf = tuple(r + (kk - 1) * dd * j for r, kk, dd, j in zip(rf, k, d, jump))
            start = tuple(a - pp * j for a, pp, j in zip(start, p, jump))
            jump = tuple(j * ss for j, ss in zip(jump, st))
        s.layers.append(
            LayerInfo(
                i,
                layer.__class__.__name__,
                tuple(y.shape),
                params,
                macs,
                None if whole else rf,
                None if whole else jump,
                None if whole else start,
            )
        )
    return s


def receptive_field(model: nn.Module, layer: int, unit: tuple[int, int], input_size: tuple[int, int, int]) -> dict:
    """The input pixels that output unit (row, col) of layer `layer` depends on.

    Walks back from the unit through every windowed layer, keeping per axis the exact set
    of positions touched and dropping those that fall in a layer's padding (zeros carry
    nothing back). Returns `rows`/`cols` as inclusive [first, last] bounds of that set
    (None if the unit sees only padding), the theoretical `window` of the textbook
    recurrence (which may extend past the image), and how many of its rows/columns lie
    outside the image.
    """
    s = summary(model, input_size)
    if not 0 <= layer < len(s.layers):
        raise UserError(f"layer {layer} does not exist; the model has layers 0..{len(s.layers) - 1}")
    info = s.layers[layer]
    _, h, w = input_size
    if info.rf_size is None:
        return {
            "rows": [0, h - 1],
            "cols": [0, w - 1],
            "window": {"rows": [0, h - 1], "cols": [0, w - 1]},
            "padding": {"rows": 0, "cols": 0},
            "size": [h, w],
            "whole_input": True,
        }
    oh, ow = info.output_shape[-2:]
    r, c = unit
    if not (0 <= r < oh and 0 <= c < ow):
        raise UserError(f"unit ({r}, {c}) is outside layer {layer}'s {oh}×{ow} output")
    layers = layers_of(model)
    in_sizes = [tuple(input_size[1:])] + [tuple(x.output_shape[-2:]) for x in s.layers[:-1]]
    rows, cols = {r}, {c}
    for li in range(layer, -1, -1):
        geo = _geometry(layers[li])
        if geo is None:
            continue
        k, st, p, d = geo
        n_in = in_sizes[li]
        rows = {i * st[0] - p[0] + m * d[0] for i in rows for m in range(k[0])} & set(range(n_in[0]))
        cols = {j * st[1] - p[1] + m * d[1] for j in cols for m in range(k[1])} & set(range(n_in[1]))
    top = info.rf_start[0] + r * info.rf_jump[0]
    left = info.rf_start[1] + c * info.rf_jump[1]
    bottom, right = top + info.rf_size[0] - 1, left + info.rf_size[1] - 1

    def outside(lo, hi, n):
        return max(0, -lo) + max(0, hi - (n - 1))

    return {
        "rows": [min(rows), max(rows)] if rows and cols else None,
        "cols": [min(cols), max(cols)] if rows and cols else None,
        "window": {"rows": [top, bottom], "cols": [left, right]},
        "padding": {"rows": outside(top, bottom, h), "cols": outside(left, right, w)},
        "size": list(info.rf_size),
        "whole_input": False,
    }


def save_feature_maps(ck, image, out_dir, image_name: str | None = None) -> dict:
    """Write what a checkpoint sees for one image: input.png, one PNG per layer, kernels.png.

    Returns {"files": [...], "prediction": ..., "top": [...], "inverted": bool, "steps": [...]}.
    """
    from pathlib import Path

    from . import plots
    from .data.loader import normalize
    from .predict import prepare

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {out_dir}: {e.strerror}") from None
    prep = prepare(ck, image, image_name)
    x = prep.x  # (C, H, W) uint8
    outs = capture(ck.model, normalize(x[None], ck.mean, ck.std))
    files = [plots.save(plots.sample_grid(x[None], ["model input"], cols=1), out_dir / "input.png")]
    for i, (layer, y) in enumerate(zip(layers_of(ck.model), outs)):
        name = layer.__class__.__name__
        title = f"layer {i}: {name} → {'×'.join(map(str, y.shape[1:]))}"
        if y.dim() == 4:
            fig = plots.channel_grid(y[0], title, diverging=isinstance(layer, (nn.Conv2d, nn.BatchNorm2d)))
        else:
            fig = plots.vector_strip(y[0], title)
        files.append(plots.save(fig, out_dir / f"layer{i:02d}_{name.lower()}.png"))
    conv = next((m for m in layers_of(ck.model) if isinstance(m, nn.Conv2d)), None)
    if conv is not None:
        files.append(plots.save(plots.kernels(conv.weight), out_dir / "kernels.png"))
    probs = torch.softmax(outs[-1][0].float(), 0)
    top = probs.topk(min(3, len(ck.classes)))
    return {
        "files": [str(f) for f in files],
        "inverted": prep.inverted,
        "steps": prep.steps,
        "prediction": ck.classes[int(top.indices[0])],
        "top": [{"class": ck.classes[int(i)], "probability": float(v)} for v, i in zip(top.values, top.indices)],
    }
