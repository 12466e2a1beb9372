"""The tutorial's demonstrations, runnable: the walkthrough of §2–§6 and the edge kernel of §2.4."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import ops
from .layers import Conv2d


def edge_image() -> torch.Tensor:
    """The tutorial's 6×8 image: ones with a dark vertical band in columns 2–5."""
    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    return X


@dataclass
class EdgeResult:
    """What `learn_edge_kernel` learned, and its loss at every epoch."""

    kernel: list[float]  # the learned 1×2 kernel
    losses: list[tuple[int, float]]  # (epoch, squared-error loss)


def learn_edge_kernel(epochs: int = 10, lr: float = 3e-2, seed: int = 0) -> EdgeResult:
    """The tutorial's §2.4: recover K = [1, −1] from X and Y = corr2d(X, K) by gradient descent.

    A 1×2 convolution without bias, running on convlab's ops, updated by plain SGD on the
    summed squared error; the loss is recorded every epoch.
    """
    torch.manual_seed(seed)
    X = edge_image()
    Y = ops.corr2d(X, torch.tensor([[1.0, -1.0]]))
    conv = Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    X4, Y4 = X.reshape(1, 1, 6, 8), Y.reshape(1, 1, 6, 7)  # (B, C, H, W)
    losses = []
    for epoch in range(1, epochs + 1):
        loss = ((conv(X4) - Y4) ** 2).sum()
        conv.zero_grad()
        loss.backward()
        with torch.no_grad():
            grad = conv.weight.grad
            assert grad is not None  # backward() just filled it
            conv.weight -= lr * grad
        losses.append((epoch, loss.item()))
    return EdgeResult(conv.weight.detach().reshape(2).tolist(), losses)


def _matrix(t: torch.Tensor) -> str:
    rows = t.tolist() if t.dim() == 2 else [t.tolist()]
    return "\n".join("    " + " ".join(f"{v:6g}" for v in row) for row in rows)


def walkthrough() -> str:
    """The tutorial's §2–§6 as text: every example computed by convlab's ops."""
    from .introspect import layer_shapes
    from .models import build_model

    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    out = [
        "§2.1–2.2  cross-correlation corr2d(X, K)",
        "  X =",
        _matrix(X),
        "  K =",
        _matrix(K),
        "  corr2d(X, K) =",
        _matrix(ops.corr2d(X, K)),
    ]
    edge = learn_edge_kernel()
    out += ["", "§2.4  learning the edge kernel K = [1, -1] from the 6×8 image"]
    out += [f"  epoch {e}, loss {loss:.3f}" for e, loss in edge.losses if e % 2 == 0]
    out += [f"  learned kernel: [{edge.kernel[0]:.4f}, {edge.kernel[1]:.4f}]"]
    out += ["", "§3  padding and stride: output = ⌊(n + 2p − k + s)/s⌋ (p per side)"]
    for n, k, p, s in [(8, 3, 1, 1), (8, 3, 1, 2), (8, 5, 2, 1), (28, 5, 2, 1)]:
        out.append(f"  n={n:2d} k={k} p={p} s={s}  →  {ops.conv_output_size(n, k, p, s)}")
    Xc = torch.stack([X, X + 1])
    Kc = torch.stack([K, K + 1])
    out += ["", "§4.1  two input channels: sum of per-channel correlations", _matrix(ops.corr2d_multi_in(Xc, Kc))]
    Ko = torch.stack([Kc, Kc + 1, Kc + 2])
    out += [f"§4.2  three output channels: shape {tuple(ops.corr2d_multi_in_out(Xc, Ko).shape)}"]
    K1 = torch.arange(6.0).reshape(3, 2, 1, 1)
    out += [
        f"§4.3  1×1 convolution = per-pixel matmul: equal to the loop: "
        f"{torch.allclose(ops.corr2d_multi_in_out_1x1(Xc, K1), ops.corr2d_multi_in_out(Xc, K1))}"
    ]
    out += [
        "",
        "§5  pooling 2×2, stride 1",
        "  max =",
        _matrix(ops.pool2d(X, (2, 2), "max")),
        "  avg =",
        _matrix(ops.pool2d(X, (2, 2), "avg")),
    ]
    out += ["", "§6  LeNet output shapes for a 1×28×28 input"]
    out += [f"  {name:<10s} output shape: {shape}" for name, shape in layer_shapes(build_model("lenet"), (1, 28, 28))]
    return "\n".join(out)


def image_as_matrix(path, out, max_size: int = 28, force: bool = False) -> str:
    """The tutorial's §1.1: an image as numbers — a 0–255 matrix (grayscale) or one per RGB channel —
    and as a picture saved to `out`. Images larger than `max_size` pixels are shrunk to fit.

    Raises UserError for a file that is missing or not an image, or an existing `out` without `force`."""
    from PIL import Image

    from . import plots
    from .data.images import open_image
    from .fsutil import output_file

    output_file(out, force, ".png")
    img = open_image(path)
    rgb = np.asarray(img.convert("RGB"))
    gray = bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())  # no colour anywhere
    img = img.convert("L" if gray else "RGB")
    note = ""
    if max(img.size) > max_size:
        old = img.size
        img.thumbnail((max_size, max_size), Image.Resampling.LANCZOS)
        note = f" (shrunk from {old[0]}×{old[1]}; use --max-size to change)"
    a = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy())
    x = a[None] if gray else a.permute(2, 0, 1)  # (C, H, W)
    plots.save(plots.image_figure(x, str(path)), out)
    lines = [
        f"{path}: {'grayscale' if gray else 'RGB'} {img.width}×{img.height}{note}, "
        f"tensor shape {tuple(x.shape)} (channels, height, width), 0 = dark, 255 = bright"
    ]
    for c, name in enumerate(["gray"] if gray else ["red", "green", "blue"]):
        lines.append(f"{name} channel:")
        lines += [" ".join(f"{v:3d}" for v in row) for row in x[c].tolist()]
    return "\n".join(lines)
