"""Anti-aliased downsampling (BlurPool): blur with a fixed binomial kernel, then subsample.

"Making Convolutional Networks Shift-Invariant Again" (Zhang, ICML 2019): a stride throws away
all but one position in s, so a pattern one pixel to the side can land on a different sample and
the map after a stride is not a shifted copy of the map before (aliasing). Low-pass filtering
before subsampling, as signal processing prescribes, keeps the two close. BlurPool is a depthwise
convolution of every channel with the same normalised binomial kernel (the outer product of a row
of Pascal's triangle: [1, 2, 1]/4 ⊗ [1, 2, 1]/4 for size 3) at the given stride, after padding by
(k − 1)/2 (the odd one extra at the bottom/right) with reflected borders, as in the paper's code;
so it equals `torch.nn.functional.conv2d(F.pad(x, mode="reflect"), kernel, stride=s, groups=C)`.

`blur_pool2d_loop` is the definition, one output cell at a time; `blur_pool2d` is the fast one:
the kernel is separable, so it blurs the rows (k strided slices, each scaled and added) and then
the columns (k more), 2k multiply-adds per output instead of k², and autograd differentiates the
slices. Shift-equivariant pooling and strided convolution are built from it in `layers.py`:
max pooling with stride 1 then BlurPool (Zhang's MaxBlurPool), convolution with stride 1 then it.
"""

from __future__ import annotations

import math

import torch

from ..errors import UserError
from .layout import pad

PADDING_MODES = ("reflect", "zeros")


def binomial_row(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Row `size` of Pascal's triangle, normalised to sum 1: (size,). [1, 2, 1]/4 for size 3."""
    if not 1 <= size <= 16:
        raise UserError(f"blur_pool2d: filter size must be 1–16, got {size}")
    return torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=dtype) / 2 ** (size - 1)


def binomial_kernel(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The 2-D blur kernel (size, size): the outer product of `binomial_row` with itself (sums to 1)."""
    row = binomial_row(size, dtype)
    return row[:, None] * row[None, :]


def blur_padding(size: int) -> tuple[int, int]:
    """(before, after) padding of each spatial side for a size-k blur: (k − 1)/2, the odd one after."""
    return (size - 1) // 2, size // 2


def _reflect_index(n: int, before: int, after: int, device) -> torch.Tensor:
    """Indices of a length-n axis padded by reflection (the edge itself not repeated, as F.pad)."""
    if before >= n or after >= n:
        raise UserError(f"blur_pool2d: reflect padding of {max(before, after)} needs a map larger than {n}")
    i = torch.arange(-before, n + after, device=device).abs()  # mirror at 0
    return torch.where(i > n - 1, 2 * (n - 1) - i, i)  # mirror at n − 1


def pad_blur(x: torch.Tensor, size: int, padding_mode: str) -> torch.Tensor:
    """x (N, C, H, W) padded for a size-k blur: (N, C, H + k − 1, W + k − 1)."""
    if padding_mode not in PADDING_MODES:
        raise UserError(f"blur_pool2d: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
    before, after = blur_padding(size)
    if padding_mode == "zeros":
        return pad(x, ((before, after), (before, after)))
    rows = _reflect_index(x.shape[2], before, after, x.device)
    cols = _reflect_index(x.shape[3], before, after, x.device)
    return x[:, :, rows][:, :, :, cols]


def _check(x: torch.Tensor, stride: int) -> None:
    if x.dim() != 4:
        raise UserError(f"blur_pool2d: input must be (N, C, H, W) or (C, H, W), got shape {tuple(x.shape)}")
    if stride < 1:
        raise UserError(f"blur_pool2d: stride must be ≥ 1, got {stride}")


def blur_pool2d(x: torch.Tensor, filt_size: int = 3, stride: int = 2, padding_mode: str = "reflect") -> torch.Tensor:
    """BlurPool of x (N, C, H, W) or (C, H, W) → (N, C, ⌈H/s⌉, ⌈W/s⌉): each channel blurred by the
    normalised binomial kernel of `filt_size`, sampled every `stride` pixels. Differentiable.
    Raises UserError for a bad shape, size, stride or padding mode."""
    squeeze = x.dim() == 3
    x = x[None] if squeeze else x
    _check(x, stride)
    row = binomial_row(filt_size, x.dtype).to(x.device)
    xp = pad_blur(x, filt_size, padding_mode)  # (N, C, Hp, Wp)
    ho = (xp.shape[2] - filt_size) // stride + 1
    wo = (xp.shape[3] - filt_size) // stride + 1
    y = row[0] * xp[:, :, 0 : stride * (ho - 1) + 1 : stride, :]  # (N, C, Ho, Wp): the rows blurred
    for a in range(1, filt_size):
        y = y + row[a] * xp[:, :, a : a + stride * (ho - 1) + 1 : stride, :]
    z = row[0] * y[:, :, :, 0 : stride * (wo - 1) + 1 : stride]  # (N, C, Ho, Wo): then the columns
    for b in range(1, filt_size):
        z = z + row[b] * y[:, :, :, b : b + stride * (wo - 1) + 1 : stride]
    return z[0] if squeeze else z


def blur_pool2d_loop(
    x: torch.Tensor, filt_size: int = 3, stride: int = 2, padding_mode: str = "reflect"
) -> torch.Tensor:
    """The definition of `blur_pool2d`, one output cell at a time: x (C, H, W) → (C, ⌈H/s⌉, ⌈W/s⌉),
    each cell the sum of its k×k window times the binomial kernel. Slow on purpose: the reference."""
    if x.dim() != 3:
        raise UserError(f"blur_pool2d_loop: input must be (C, H, W), got shape {tuple(x.shape)}")
    _check(x[None], stride)
    K = binomial_kernel(filt_size, x.dtype)
    xp = pad_blur(x[None], filt_size, padding_mode)[0]  # (C, Hp, Wp)
    ho = (xp.shape[1] - filt_size) // stride + 1
    wo = (xp.shape[2] - filt_size) // stride + 1
    Y = torch.zeros((x.shape[0], ho, wo), dtype=x.dtype)
    for c in range(x.shape[0]):
        for i in range(ho):
            for j in range(wo):
                Y[c, i, j] = (xp[c, i * stride : i * stride + filt_size, j * stride : j * stride + filt_size] * K).sum()
    return Y
