"""Looking inside a model: each layer's shape, a summary table with receptive fields, feature maps.

Everything here works on the model's graph (`graph.LayerGraph`), so it holds for LeNet's chain
and for networks with branches alike: rows in execution order, grouped by the block they sit in,
each with its output shape, parameters, multiply-adds and receptive field (`receptive.py`: the
textbook recurrence, with the union of windows where branches meet). `receptive_field` gives the
exact pixels one unit depends on; `capture` every layer's output for an input.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import ClassVar

import torch
from torch import nn

from .graph import layer_graph, probe
from .receptive import Window, windows
from .receptive import receptive_field as _receptive_field


def layer_shapes(model: nn.Module, input_size: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """The tutorial's loop (§6): push one random input through each top-level block, record its output
    shape (for LeNet, every layer; for ResNet, the stem, each stage, the head)."""
    x = probe(model, input_size)
    rows: list[tuple[str, tuple[int, ...]]] = []
    hooks = [
        child.register_forward_hook(lambda m, i, o: rows.append((m.__class__.__name__, tuple(o.shape))))
        for child in model.children()
    ]
    was = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    finally:
        model.train(was)
        for h in hooks:
            h.remove()
    return rows


def capture(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Every layer's output (one per graph row) for input x (B, C, H, W), in eval mode."""
    return layer_graph(model).capture(x)


def macs_of(module: nn.Module | None, output: torch.Tensor) -> int:
    """Multiply-adds of one layer for one input: convolutions and dense layers (the rest is cheap)."""
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output[0].numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


@dataclass
class LayerInfo:
    index: int
    name: str
    kind: str
    block: str
    block_kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    rf_size: tuple[int, int] | None  # None: the whole input (after flatten/dense/global pooling)
    rf_jump: tuple[int, int] | None
    rf_start: tuple[int, int] | None


@dataclass
class Summary:
    """A per-layer table: output shape, parameters, multiply-adds, receptive field."""

    input_size: tuple[int, int, int]
    layers: list[LayerInfo] = field(default_factory=list)

    HEADER: ClassVar[list[str]] = [
        "#", "name", "layer", "output", "params", "mult-adds", "receptive field", "jump", "start",
    ]  # fmt: skip

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

    @property
    def last_feature_map(self) -> LayerInfo | None:
        """The last layer with a spatial (C, H, W) output before any global pooling: its receptive
        field is the network's."""
        return next((r for r in reversed(self.layers) if len(r.output_shape) == 4 and r.rf_size), None)

    def rows(self) -> list[list[str]]:
        out = []
        for r in self.layers:
            if r.rf_size is None or r.rf_jump is None or r.rf_start is None:
                rf = jump = start = "all"
            else:
                rf = f"{r.rf_size[0]}×{r.rf_size[1]}"
                jump = f"{r.rf_jump[0]}×{r.rf_jump[1]}"
                start = f"({r.rf_start[0]}, {r.rf_start[1]})"
            out.append(
                [str(r.index), r.name, r.kind, "×".join(map(str, r.output_shape[1:])), f"{r.params:,}",
                 f"{r.macs:,}", rf, jump, start]
            )  # fmt: skip
        return out

    def blocks(self) -> list[dict]:
        """Consecutive rows of one block: [{"block", "kind", "first", "last", "params", "macs"}]."""
        out: list[dict] = []
        for r in self.layers:
            if out and out[-1]["block"] == r.block:
                out[-1]["last"] = r.index
                out[-1]["params"] += r.params
                out[-1]["macs"] += r.macs
            else:
                out.append(
                    {"block": r.block, "kind": r.block_kind, "first": r.index, "last": r.index,
                     "params": r.params, "macs": r.macs}
                )  # fmt: skip
        return out

    def __str__(self) -> str:
        rows = [self.HEADER, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.HEADER))]

        def line(r):
            return "  ".join(c.rjust(w) if i in (0, 4, 5) else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))

        sep = "-" * len(line(rows[0]))
        c, h, w = self.input_size
        body, block = [], None
        for info, row in zip(self.layers, rows[1:]):
            if info.block != block and info.block:
                body.append(f"  [{info.block}: {info.block_kind}]")
            block = info.block
            body.append(line(row))
        mib = self.total_params * 4 / 2**20
        return "\n".join(
            [f"input: {c}×{h}×{w}", sep, line(rows[0]), sep, *body, sep,
             f"total parameters: {self.total_params:,} ({mib:.2f} MiB as float32)",
             f"total multiply-adds per input: {self.total_macs:,}",
             f"activations for one input: {self.activation_bytes / 2**10:.1f} KiB (float32)"]
        )  # fmt: skip

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
            "blocks": self.blocks(),
            "total_params": self.total_params,
            "total_macs": self.total_macs,
        }


def summary(model: nn.Module, input_size: tuple[int, int, int]) -> Summary:
    """Summarise any model (a chain or a graph with branches) for one (C, H, W) input."""
    g = layer_graph(model)
    outs = g.capture(probe(model, input_size))
    wins: list[Window | None] = windows(g)
    s = Summary((int(input_size[0]), int(input_size[1]), int(input_size[2])))
    counted: set[int] = set()
    for row, y, win in zip(g.rows, outs, wins):
        params = 0
        if row.module is not None and id(row.module) not in counted:
            counted.add(id(row.module))
            params = sum(p.numel() for p in row.module.parameters(recurse=False))
        block_kind = model.get_submodule(row.block).__class__.__name__ if row.block else ""
        spatial = win is not None and y.dim() == 4
        s.layers.append(
            LayerInfo(
                row.index, row.name, row.kind, row.block, block_kind, tuple(y.shape), params, macs_of(row.module, y),
                win.size if spatial and win else None, win.jump if spatial and win else None,
                win.start if spatial and win else None,
            )
        )  # fmt: skip
    return s


def receptive_field(
    model: nn.Module, layer: int, unit: tuple[int, int], input_size: tuple[int, int, int], channel: int | None = None
) -> dict:
    """The input pixels that unit (row, col) of `layer` (a summary row) depends on; see `receptive.py`."""
    return _receptive_field(layer_graph(model), layer, unit, input_size, channel)


def save_feature_maps(ck, image, out_dir, image_name: str | None = None) -> dict:
    """Write what a checkpoint sees for one image: input.png, one PNG per layer, kernels.png.

    Returns {"files": [...], "prediction": ..., "top": [...], "inverted": bool, "steps": [...]}.
    """
    from . import plots
    from .data.loader import normalize
    from .fsutil import output_dir
    from .predict import prepare

    out_dir = output_dir(out_dir)
    prep = prepare(ck, image, image_name)
    x = prep.x  # (C, H, W) uint8
    g = layer_graph(ck.model)
    outs = g.capture(normalize(x[None], ck.mean, ck.std))
    files = [plots.save(plots.sample_grid(x[None], ["model input"], cols=1), out_dir / "input.png")]
    for row, y in zip(g.rows, outs):
        title = f"layer {row.index}: {row.name} ({row.kind}) → {'×'.join(map(str, y.shape[1:]))}"
        if y.dim() == 4:
            fig = plots.channel_grid(y[0], title, diverging=isinstance(row.module, (nn.Conv2d, nn.BatchNorm2d)))
        else:
            fig = plots.vector_strip(y[0], title)
        slug = "".join(ch if ch.isalnum() else "_" for ch in row.kind.lower())
        files.append(plots.save(fig, out_dir / f"layer{row.index:03d}_{slug}.png"))
    conv = next((r.module for r in g.rows if isinstance(r.module, nn.Conv2d)), None)
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
