"""2-D convolution (cross-correlation) from tensor primitives, batched and differentiable.

Forward: the padded input is viewed as windows (no copy), copied once into an im2col
buffer (laid out per image or batch-wide, whichever is faster for the map size), and
multiplied by the weight (G, Og, Cg·kh·kw).
Backward is written out by hand instead of left to autograd on the strided view (which
would build a dense gradient for every window): the weight gradient reuses the saved
im2col buffer, and the input gradient folds (W^T · grad) back onto the grid with one
strided add per kernel offset. Same semantics as `torch.nn.functional.conv2d`; no
PyTorch convolution routine is called.
"""
from __future__ import annotations

from typing import Union

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from .shapes import IntPair, check_input, padding_pair, positive_pair, window_output_size
from .windows import fold, windows

Padding = Union[IntPair, str]


def resolve_conv_padding(padding: Padding, kernel: tuple[int, int], stride: tuple[int, int],
                         dilation: tuple[int, int]) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) for int, pair, "valid" or "same" (PyTorch's rule:
    total d·(k−1), the odd one extra at the bottom/right; "same" needs stride 1)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
            sides = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                sides.append((total // 2, total - total // 2))
            return sides[0], sides[1]
        raise ValueError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = padding_pair(padding)
    return (ph, ph), (pw, pw)


PER_IMAGE_MIN_AREA = 256  # Ho·Wo from which per-image GEMMs beat one wide GEMM (measured, benchmarks/ops.py)


class _Conv2d(torch.autograd.Function):
    """Two layouts of the one im2col copy, chosen by output area:

    per-image (N, G, K, L) for large maps: the copy reads rows nearly contiguously and the
    product lands in (N, O, Ho, Wo) directly; wide (G, K, N·L) for small maps, where
    per-image GEMMs would be too small: one GEMM per group over the whole batch.
    (K = Cg·kh·kw, L = Ho·Wo.)
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups, out_hw):
        n, c, h, w = x.shape
        o, cg, kh, kw = weight.shape
        (pt, pb), (pl, pr) = pads
        xp = F.pad(x, (pl, pr, pt, pb)) if (pt or pb or pl or pr) else x.contiguous()  # (N, C, Hp, Wp)
        ho, wo = out_hw
        k = cg * kh * kw
        win = windows(xp, (kh, kw), stride, dilation, out_hw)  # (N, C, kh, kw, Ho, Wo) view
        wmat = weight.reshape(groups, o // groups, k)  # (G, Og, K)
        per_image = ho * wo >= PER_IMAGE_MIN_AREA
        if per_image:
            cols = win.reshape(n, groups, k, ho * wo)  # (N, G, K, L): the one copy
            out = torch.matmul(wmat, cols).view(n, o, ho, wo)  # (N, G, Og, L) = (N, O, Ho, Wo)
        else:
            cols = win.permute(1, 2, 3, 0, 4, 5).reshape(groups, k, n * ho * wo)  # (G, K, N·L): the one copy
            out = torch.bmm(wmat, cols).view(o, n, ho, wo).permute(1, 0, 2, 3)  # (N, O, Ho, Wo) view
        if bias is not None:
            out = out + bias.view(1, o, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.meta = (x.shape, xp.shape[2:], stride, pads, dilation, groups, bias is not None, per_image)
        return out.contiguous()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        x_shape, padded_hw, stride, pads, dilation, groups, has_bias, per_image = ctx.meta
        n, c, h, w = x_shape
        o, cg, kh, kw = weight.shape
        ho, wo = grad_out.shape[2:]
        wmat = weight.reshape(groups, o // groups, cg * kh * kw)  # (G, Og, K)
        if per_image:
            g = grad_out.reshape(n, groups, o // groups, ho * wo)  # (N, G, Og, L)
        else:
            g = grad_out.permute(1, 0, 2, 3).reshape(groups, o // groups, n * ho * wo)  # (G, Og, N·L)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            gcols = torch.matmul(wmat.transpose(1, 2), g)  # W^T·grad, in the layout of cols
            if per_image:
                gcols = gcols.view(n, c, kh, kw, ho, wo)
            else:
                gcols = gcols.view(c, kh, kw, n, ho, wo).permute(3, 0, 1, 2, 4, 5)  # (N, C, kh, kw, Ho, Wo)
            gxp = fold(gcols, padded_hw, stride, dilation)  # (N, C, Hp, Wp)
            (pt, _), (pl, _) = pads
            grad_x = gxp[:, :, pt:pt + h, pl:pl + w]
        if ctx.needs_input_grad[1]:
            gw = torch.matmul(g, cols.transpose(-1, -2))  # grad·colsᵀ without re-laying out cols
            grad_w = (gw.sum(0) if per_image else gw).reshape(weight.shape)
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None, None


def conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None,
           stride: IntPair = 1, padding: Padding = 0, dilation: IntPair = 1,
           groups: int = 1) -> torch.Tensor:
    """Batched 2-D cross-correlation with the semantics of `torch.nn.functional.conv2d`.

    x: (N, C, H, W) or (C, H, W); weight: (O, C/groups, kh, kw); bias: (O,) or None.
    Returns (N, O, Ho, Wo) (or (O, Ho, Wo) for an unbatched input).
    """
    xb, unbatched = check_input(x, "conv2d")
    if weight.dim() != 4:
        raise ValueError(f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kh, kw), "
                         f"got shape {tuple(weight.shape)}")
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"conv2d: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = weight.shape
    c = xb.shape[1]
    if c != cg * groups:
        raise ValueError(f"conv2d: input has {c} channels but the weight expects {cg}×{groups} groups "
                         f"= {cg * groups} (weight shape {tuple(weight.shape)})")
    if o % groups:
        raise ValueError(f"conv2d: out_channels {o} is not divisible by groups {groups}")
    if bias is not None and tuple(bias.shape) != (o,):
        raise ValueError(f"conv2d: bias must have shape ({o},), got {tuple(bias.shape)}")
    stride_ = positive_pair(stride, "conv2d: stride")
    dilation_ = positive_pair(dilation, "conv2d: dilation")
    pads = resolve_conv_padding(padding, (kh, kw), stride_, dilation_)
    out_hw = window_output_size("conv2d", tuple(xb.shape[2:]), (kh, kw), pads, stride_, dilation_)
    out = _Conv2d.apply(xb, weight, bias, stride_, pads, dilation_, groups, out_hw)
    return out.squeeze(0) if unbatched else out
