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
from pathlib import Path
from typing import ClassVar

import torch
from torch import nn

from .errors import UserError
from .graph import Call, LayerGraph, ModuleCalls, Row, layer_graph, layers_of, probe
from .receptive import Unknown, Window, fields
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


def macs_of(row: Row, values: dict) -> int:
    """Multiply-adds of one row for one input, from the tensors it ran on (`LayerGraph.values` of a
    batch of one); see `layer_macs`."""
    args = [values.get(a) if isinstance(a, torch.fx.Node) else a for a in row.node.args]
    weight = args[1] if len(args) > 1 else values.get(row.node.kwargs.get("weight"))
    return layer_macs(row.module, row.kind, args[0] if args else None, weight, values.get(row.node))


def layer_macs(module: nn.Module | None, kind: str, x, weight, y) -> int:
    """Multiply-adds of one layer for a batch of one: convolutions (transposed too), dense layers and
    matrix products, whether modules or functions (`kind`, with its input x and weight); everything
    else (activations, norms, pooling, additions) counts 0, as in torchinfo.

    A convolution does C_in/groups·kh·kw multiply-adds per output value (the weight's shape past
    its first axis); a transposed one as many per *input* value; a dense layer or a matrix product
    as many as the contracted axis is long."""
    if not isinstance(y, torch.Tensor):
        return 0
    if isinstance(module, nn.modules.conv._ConvTransposeNd) and isinstance(x, torch.Tensor):
        return x.numel() * module.weight[0].numel()
    if isinstance(module, nn.modules.conv._ConvNd):
        return y.numel() * module.weight[0].numel()
    if isinstance(module, nn.Linear):
        return y.numel() * module.in_features
    if module is None and kind in ("conv1d", "conv2d", "conv3d") and isinstance(weight, torch.Tensor):
        return y.numel() * weight[0].numel()
    if module is None and kind == "linear" and isinstance(weight, torch.Tensor):
        return y.numel() * weight.shape[-1]
    if module is None and kind in ("matmul", "mm", "bmm") and isinstance(x, torch.Tensor):
        return y.numel() * x.shape[-1]
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
    rf_size: tuple[int, int] | None  # None: the whole input (after a dense layer or global pooling), or unknown
    rf_jump: tuple[int, int] | None
    rf_start: tuple[int, int] | None
    rf_unknown: Unknown | None = None  # why there is no receptive field, where there is none


@dataclass
class Summary:
    """A per-layer table: output shape, parameters, multiply-adds, receptive field."""

    input_size: tuple[int, int, int]
    layers: list[LayerInfo] = field(default_factory=list)
    unused: list[tuple[str, int]] = field(default_factory=list)  # (name, size) of parameters no layer reads
    untraced: str = ""  # why the model has no graph (its rows then are its leaf modules, found by hooks)

    HEADER: ClassVar[list[str]] = [
        "#", "name", "layer", "output", "params", "mult-adds", "receptive field", "jump", "start",
    ]  # fmt: skip

    @property
    def total_params(self) -> int:
        """Every parameter of the model once (as `sum(p.numel() for p in model.parameters())`): a
        shared one at the first layer that reads it, the unused ones too."""
        return sum(r.params for r in self.layers) + sum(n for _, n in self.unused)

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
            if r.rf_unknown is not None:
                rf, jump, start = r.rf_unknown.short, "–", "–"
            elif r.rf_size is None or r.rf_jump is None or r.rf_start is None:
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
            [f"input: {c}×{h}×{w}", sep, line(rows[0]), sep, *body, sep, *self.notes(),
             f"total parameters: {self.total_params:,} ({mib:.2f} MiB as float32)",
             f"total multiply-adds per input: {self.total_macs:,}",
             f"activations for one input: {self.activation_bytes / 2**10:.1f} KiB (float32)"]
        )  # fmt: skip

    def notes(self) -> list[str]:
        """Why some rows have no receptive field, and which parameters no layer uses."""
        out = sorted({f"no receptive field: {r.rf_unknown.reason}" for r in self.layers if r.rf_unknown})
        listed = ", ".join(f"{name} ({n:,})" for name, n in self.unused)
        if self.unused and self.untraced:
            out.append(f"parameters held outside the layers above (counted in the total): {listed}")
        elif self.unused:
            out.append(f"parameters the forward pass never reads (counted in the total): {listed}")
        return out

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
            "unused_params": [{"name": name, "params": n} for name, n in self.unused],
            "notes": self.notes(),
        }


def summary(model: nn.Module, input_size: tuple[int, int, int]) -> Summary:
    """Summarise any model (a chain or a graph with branches) for one (C, H, W) input: each row's
    output shape, parameters, multiply-adds (`macs_of`) and receptive field (`receptive.fields`;
    where there is none, the row says why). Parameters are counted once each, at the first row that
    reads them (a module's own, or one a parent holds and a function uses); those no row reads are
    listed in `unused`; buffers are not parameters. A model `torch.fx` cannot trace (control flow
    on tensor values) is summarised module by module instead (`_summary_by_hooks`)."""
    try:
        g = layer_graph(model)
    except UserError as e:
        return _summary_by_hooks(model, input_size, str(e))
    values = g.values(probe(model, input_size))
    rfs = fields(g, input_size, values)
    s = Summary((int(input_size[0]), int(input_size[1]), int(input_size[2])))
    counted: set[int] = set()
    for row, rf in zip(g.rows, rfs):
        params = 0
        for _, p in g.parameters_read(row):
            if id(p) not in counted:
                counted.add(id(p))
                params += p.numel()
        y = values[row.node]
        shape = tuple(y.shape) if isinstance(y, torch.Tensor) else ()
        block_kind = model.get_submodule(row.block).__class__.__name__ if row.block else ""
        win = rf if isinstance(rf, Window) else None
        s.layers.append(
            LayerInfo(
                row.index, row.name, row.kind, row.block, block_kind, shape, params, macs_of(row, values),
                win.size if win else None, win.jump if win else None, win.start if win else None,
                rf if isinstance(rf, Unknown) else None,
            )
        )  # fmt: skip
    seen: set[int] = set()
    for name, p in model.named_parameters(remove_duplicate=False):
        if id(p) not in counted and id(p) not in seen:
            seen.add(id(p))
            s.unused.append((name, p.numel()))
    return s


def _summary_by_hooks(model: nn.Module, input_size: tuple[int, int, int], why: str) -> Summary:
    """The summary of a model without a graph: one row per call of a module without children, in the
    order they run (forward hooks), with its shape, parameters and multiply-adds; no receptive fields
    (nothing says how the forward moves positions between them)."""
    names = {m: n for n, m in model.named_modules()}
    calls = ModuleCalls(model, why).calls(probe(model, input_size))
    s = Summary((int(input_size[0]), int(input_size[1]), int(input_size[2])), untraced=why)
    unknown = Unknown("n/a: not traced", f"{why.split(';')[0]}; without a graph nothing says how positions move", -1)
    counted: set[int] = set()
    for i, (mod, args, out) in enumerate(calls):
        fresh = [p for p in mod.parameters() if id(p) not in counted]
        counted.update(id(p) for p in fresh)
        name, kind = names[mod], mod.__class__.__name__
        x = args[0] if args else None
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
        s.layers.append(
            LayerInfo(i, name, kind, "", "", shape, sum(p.numel() for p in fresh), layer_macs(mod, kind, x, None, out),
                      None, None, None, unknown)
        )  # fmt: skip
    for pname, p in model.named_parameters():
        if id(p) not in counted:
            counted.add(id(p))
            s.unused.append((pname, p.numel()))
    return s


def receptive_field(
    model: nn.Module, layer: int, unit: tuple[int, int], input_size: tuple[int, int, int], channel: int | None = None
) -> dict:
    """The input pixels that unit (row, col) of `layer` (a summary row) depends on; see `receptive.py`."""
    return _receptive_field(layer_graph(model), layer, unit, input_size, channel)


def graph_of(model: nn.Module) -> LayerGraph:
    return layer_graph(model)


FEATURE_MAP_FILES = ("input.png", "layer[0-9][0-9][0-9]_*.png", "kernels.png")  # what `save_feature_maps` writes


def _feature_map_names(rows: list, kernels: bool) -> list[str]:
    """The files `save_feature_maps` writes: input.png, layerNNN_KIND.png per row, kernels.png if `kernels`."""
    slugs = ["".join(ch if ch.isalnum() else "_" for ch in row.kind.lower()) for row in rows]
    names = ["input.png", *(f"layer{row.index:03d}_{slug}.png" for row, slug in zip(rows, slugs))]
    return names + (["kernels.png"] if kernels else [])


def save_feature_maps(ck, image, out_dir, image_name: str | None = None, force: bool = False) -> dict:
    """Write what a checkpoint sees for one image: input.png, one PNG per layer, kernels.png.

    Returns {"files": [...], "prediction": ..., "top": [...], "inverted": bool, "steps": [...]}. Files of
    an earlier run in `out_dir` (`FEATURE_MAP_FILES`) that this one did not write are removed.
    Raises UserError for an unreadable image, or a PNG already in `out_dir` without `force`.
    """
    from . import plots
    from .data.loader import normalize
    from .fsutil import output_dir, refuse_existing, remove_stale
    from .predict import prepare

    prep = prepare(ck, image, image_name)
    x = prep.x  # (C, H, W) uint8
    g = layers_of(ck.model)  # (a model torch.fx cannot trace: its modules' outputs, by hooks)
    found = g.capture(normalize(x[None], ck.mean, ck.std))
    named: list[Row | Call] = list(g.rows)
    rows = [(row, y) for row, y in zip(named, found) if isinstance(y, torch.Tensor) and y.dim() >= 2]  # maps only
    conv = next((row.module for row, _ in rows if isinstance(row.module, nn.Conv2d)), None)
    names = _feature_map_names([row for row, _ in rows], conv is not None)
    refuse_existing([Path(out_dir) / n for n in names], force)
    out_dir = output_dir(out_dir)
    files = [plots.save(plots.sample_grid(x[None], ["model input"], cols=1), out_dir / names[0])]
    for (row, y), name in zip(rows, names[1:]):
        title = f"layer {row.index}: {row.name} ({row.kind}) → {'×'.join(map(str, y.shape[1:]))}"
        if y.dim() == 4:
            fig = plots.channel_grid(y[0], title, diverging=isinstance(row.module, (nn.Conv2d, nn.BatchNorm2d)))
        else:
            fig = plots.vector_strip(y[0], title)
        files.append(plots.save(fig, out_dir / name))
    if conv is not None:
        files.append(plots.save(plots.kernels(conv.weight), out_dir / names[-1]))
    remove_stale(out_dir, FEATURE_MAP_FILES, files)  # an earlier model's layers (--force)
    probs = torch.softmax(rows[-1][1][0].float(), 0)
    top = probs.topk(min(3, len(ck.classes)))
    return {
        "files": [str(f) for f in files],
        "inverted": prep.inverted,
        "steps": prep.steps,
        "prediction": ck.classes[int(top.indices[0])],
        "top": [{"class": ck.classes[int(i)], "probability": float(v)} for v, i in zip(top.values, top.indices)],
    }
