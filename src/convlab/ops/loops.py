"""The tutorial's operations as readable loops: one output cell at a time.

These are the definitions a learner can check by hand. They are slow on purpose and are
the reference the fast ops (`conv2d`, `max_pool2d`, `avg_pool2d`) are tested against.
Autograd still works through them, which is how the tutorial learns its edge kernel.
"""

from __future__ import annotations

import torch

from ..errors import UserError
from .shapes import IntPair, conv_output_size, padding_pair, positive_pair


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """2-D cross-correlation of a 2-D input X (H, W) with a 2-D kernel K (h, w) — the tutorial's §2.2.

    Returns (H−h+1, W−w+1). Raises UserError when X or K is not 2-D or K is larger than X."""
    if X.dim() != 2 or K.dim() != 2:
        raise UserError(f"corr2d: X and K must be 2-D, got shapes {tuple(X.shape)} and {tuple(K.shape)}")
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise UserError(f"corr2d: kernel {h}×{w} is larger than the input {X.shape[0]}×{X.shape[1]}")
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=torch.result_type(X, K))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i : i + h, j : j + w] * K).sum()
    return Y


def pool2d(
    X: torch.Tensor, pool_size: IntPair, mode: str = "max", padding: IntPair = 0, stride: IntPair | None = None
) -> torch.Tensor:
    """2-D max or average pooling of a 2-D input — the tutorial's §5.1, extended with padding and stride.

    Padding follows PyTorch: max pooling pads with −∞ (padding never wins), average
    pooling pads with zeros that count in the mean (`count_include_pad=True`).
    The stride defaults to 1, as in the tutorial's loop (note: `nn.MaxPool2d` and
    `max_pool2d` default the stride to the window size instead).

    Raises UserError for a mode other than "max" or "avg", an X that is not 2-D, a padding over
    half the window, or a window larger than the padded input.
    """
    if mode not in ("max", "avg"):
        raise UserError(f"pool2d: mode must be 'max' or 'avg', got {mode!r}")
    if X.dim() != 2:
        raise UserError(f"pool2d: X must be 2-D, got shape {tuple(X.shape)}")
    p_h, p_w = positive_pair(pool_size, "pool2d: pool_size")
    pad_h, pad_w = padding_pair(padding, "pool2d: padding")
    s_h, s_w = (1, 1) if stride is None else positive_pair(stride, "pool2d: stride")
    if 2 * pad_h > p_h or 2 * pad_w > p_w:
        raise UserError(f"pool2d: padding ({pad_h}, {pad_w}) is more than half the window {p_h}×{p_w}")
    fill = float("-inf") if mode == "max" else 0.0
    Xp = torch.full((X.shape[0] + 2 * pad_h, X.shape[1] + 2 * pad_w), fill, dtype=X.dtype)
    Xp[pad_h : pad_h + X.shape[0], pad_w : pad_w + X.shape[1]] = X
    out_h = conv_output_size(X.shape[0], p_h, pad_h, s_h)
    out_w = conv_output_size(X.shape[1], p_w, pad_w, s_w)
    if out_h <= 0 or out_w <= 0:
        raise UserError(f"pool2d: window {p_h}×{p_w} is larger than the padded input {tuple(Xp.shape)}")
    Y = torch.zeros((out_h, out_w), dtype=X.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = Xp[i * s_h : i * s_h + p_h, j * s_w : j * s_w + p_w]
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Multi-input-channel cross-correlation — the tutorial's §4.1: correlate each channel, then sum.

    X: (c_i, H, W), K: (c_i, h, w) → (H−h+1, W−w+1). Raises UserError when they are not 3-D with one c_i.
    """
    if X.dim() != 3 or K.dim() != 3 or X.shape[0] != K.shape[0]:
        raise UserError(
            f"corr2d_multi_in: X (c_i, H, W) and K (c_i, h, w) must share c_i, "
            f"got {tuple(X.shape)} and {tuple(K.shape)}"
        )
    out = corr2d(X[0], K[0])
    for x, k in zip(X[1:], K[1:]):
        out = out + corr2d(x, k)
    return out


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """Multi-output-channel cross-correlation — the tutorial's §4.2: one (c_i, h, w) kernel per output.

    X: (c_i, H, W), K: (c_o, c_i, h, w) → (c_o, H−h+1, W−w+1). Raises UserError when K is not 4-D.
    """
    if K.dim() != 4:
        raise UserError(f"corr2d_multi_in_out: K must be (c_o, c_i, h, w), got {tuple(K.shape)}")
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """A 1×1 convolution is a fully connected layer applied at every pixel: one matmul.

    X: (c_i, H, W), K: (c_o, c_i, 1, 1) → (c_o, H, W). Raises UserError for other shapes.
    """
    if X.dim() != 3 or K.dim() != 4 or K.shape[2:] != (1, 1) or K.shape[1] != X.shape[0]:
        raise UserError(
            f"corr2d_multi_in_out_1x1: need X (c_i, H, W) and K (c_o, c_i, 1, 1), "
            f"got {tuple(X.shape)} and {tuple(K.shape)}"
        )
    c_i, h, w = X.shape
    Y = torch.matmul(K.reshape(K.shape[0], c_i), X.reshape(c_i, h * w))  # (c_o, H·W)
    return Y.reshape(K.shape[0], h, w)
