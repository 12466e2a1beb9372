"""What the page draws of a model, as JSON-ready values: every layer's maps quantised to uint8,
the first convolution's kernels, images as PNG data URLs. The catalogue (models.py) and the
training process the page watches (live.py) both draw with these, so neither imports the other.
"""

from __future__ import annotations

import base64
import io

import torch


def quantize(t: torch.Tensor) -> dict:
    """A layer's output as base64 uint8 with one scale for the whole layer (compact, fast)."""
    t = t.detach().float()
    lo, hi = t.min().item(), t.max().item()
    q = ((t - lo) / (hi - lo) * 255).round().to(torch.uint8) if hi > lo else torch.zeros_like(t, dtype=torch.uint8)
    return {"min": lo, "max": hi, "data": base64.b64encode(q.contiguous().numpy().tobytes()).decode()}


def layer_row(r, shape) -> dict:
    """A layer as the page names it: row number, kind, module path, block, output shape (C, H, W)."""
    return {"index": r.index, "name": r.kind, "path": r.name, "block": r.block, "shape": list(shape[1:])}


def is_map(y) -> bool:
    """Whether a layer's output is a tensor the page can draw: not a bool (`x.size(1) == 1` before a
    `torch._assert`), None (the assert itself), a tuple (a module returning two tensors) or a number."""
    return isinstance(y, torch.Tensor) and y.dim() >= 1


def layer_maps(graph, outs: list) -> list[dict]:
    """Every layer's output for the first image of a batch, as the page draws it; a row whose value
    is not a tensor is left out (each map keeps its row's index)."""
    return [{**layer_row(r, y.shape), **quantize(y[0])} for r, y in zip(graph.rows, outs) if is_map(y)]


def probabilities(outs: list) -> torch.Tensor:
    """The class probabilities (K,) of the first image: the softmax of the last row that is a tensor."""
    logits = next(y for y in reversed(outs) if is_map(y))
    return torch.softmax(logits[0].float(), 0)


def first_conv_kernels(model: torch.nn.Module) -> list | None:
    """The first convolution's kernels, first input channel: (out, kh, kw) as lists, or None."""
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return None if conv is None else conv.weight.detach()[:, 0].float().tolist()


def png_data_url(x: torch.Tensor) -> str:
    """A (C, H, W) uint8 image as a PNG data URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(x.permute(1, 2, 0).squeeze(-1).numpy()).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
