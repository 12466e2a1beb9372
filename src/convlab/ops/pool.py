"""Max and average pooling from tensor primitives, batched and differentiable.

Max pooling copies the windows once into (N, C, Ho, Wo, kh·kw) and takes `max` over the
last axis (first maximum wins, NaN propagates, as in PyTorch); it keeps only the winning
offset (one byte per output) and its backward scatters the gradient to those positions.
Average pooling walks the kh·kw kernel offsets with strided slices of the padded input —
no window buffer — sums them and divides by PyTorch's divisor (window clipped to the
padded input, or to the real input when `count_include_pad=False`); its backward adds
the gradient back through the same slices.
`max_pool2d(..., return_indices=True)` also returns where each maximum came from (the flat
index in its input plane, PyTorch's convention), and `max_unpool2d` puts values back there:
its inverse, scattering into a zero map.
No PyTorch pooling routine is called.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable

from ..errors import UserError
from .layout import is_batch_last, new_full, pad
from .shapes import IntPair, check_input, padding_pair, positive_pair, window_output_size
from .windows import offset_slice, sum_windows, windows


def _pool_geometry(name, x, kernel_size, stride, padding, dilation, ceil_mode):
    """Validate pooling arguments; return kernel, stride, dilation, pads (with ceil-mode
    extra on the bottom/right) and the output size."""
    kernel = positive_pair(kernel_size, f"{name}: kernel_size")
    stride_ = (
        kernel
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else positive_pair(stride, f"{name}: stride")
    )
    dil = positive_pair(dilation, f"{name}: dilation")
    per_side = padding_pair(padding, f"{name}: padding")
    for p, k in zip(per_side, kernel):  # PyTorch's rule: at most half the (undilated) window
        if 2 * p > k:
            raise UserError(f"{name}: padding {p} is more than half the window ({k} wide); use padding ≤ {k // 2}")
    size = tuple(x.shape[2:])
    both_sides = ((per_side[0], per_side[0]), (per_side[1], per_side[1]))
    out = window_output_size(name, size, kernel, both_sides, stride_, dil, ceil_mode)
    # ceil_mode may let the last window run past the padded input: pad the far side further
    pads = []
    for n, p, k, s, d, o in zip(size, per_side, kernel, stride_, dil, out):
        need = (o - 1) * s + d * (k - 1) + 1
        pads.append((p, max(p, need - n - p)))
    return kernel, stride_, dil, tuple(pads), out


def _winners(arg, kernel, stride, dilation, out_hw):
    """(rows, cols) in the padded input of the element each output took its maximum from: the
    window's top-left plus the winning offset `arg` (an index into the kh·kw window)."""
    dev = arg.device
    ho, wo = out_hw
    a, b = arg // kernel[1], arg % kernel[1]  # the winning offset's row and column in the window
    rows = torch.arange(ho, device=dev).view(ho, 1) * stride[0] + a * dilation[0]  # (N, C, Ho, Wo)
    cols = torch.arange(wo, device=dev).view(1, wo) * stride[1] + b * dilation[1]
    return rows, cols


class _MaxPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, dilation, pads, out_hw, want_indices=False):
        xp = pad(x, pads, float("-inf"))  # (N, C, Hp, Wp), in x's layout
        n, c = x.shape[:2]
        kk = kernel[0] * kernel[1]
        batch_last = is_batch_last(xp)
        win = windows(xp, kernel, stride, dilation, out_hw)  # (N, C, kh, kw, Ho, Wo) view
        if batch_last:  # one copy, (kh·kw, C, Ho, Wo, N), so the result stays batch-last
            best, arg = win.permute(2, 3, 1, 4, 5, 0).reshape(kk, c, *out_hw, n).max(dim=0)
            best, arg = best.permute(3, 0, 1, 2), arg.permute(3, 0, 1, 2)  # (N, C, Ho, Wo) views
        else:  # one copy, (N, C, kh·kw, Ho, Wo)
            best, arg = win.reshape(n, c, kk, *out_hw).max(dim=2)  # first maximum wins; NaN propagates
        ctx.save_for_backward(arg.to(torch.uint8) if kk <= 256 else arg.to(torch.int32))
        ctx.meta = (x.shape, xp.shape[2:], kernel, stride, dilation, pads, out_hw, batch_last)
        if not want_indices:
            return best
        rows, cols = _winners(arg, kernel, stride, dilation, out_hw)
        (pt, _), (pl, _) = pads
        indices = (rows - pt) * x.shape[3] + (cols - pl)  # (N, C, Ho, Wo): flat index in the input plane
        ctx.mark_non_differentiable(indices)
        return best, indices

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out, grad_indices=None):
        (arg,) = ctx.saved_tensors
        x_shape, (hp, wp), kernel, stride, dilation, pads, (ho, wo), batch_last = ctx.meta
        n, c = x_shape[:2]
        rows, cols = _winners(arg.long(), kernel, stride, dilation, (ho, wo))
        index = rows * wp + cols  # (N, C, Ho, Wo): flat index in the padded input
        gxp = new_full((n, c, hp, wp), 0.0, grad_out, batch_last)  # (N, C, Hp, Wp)
        # (N, C, Hp·Wp) view (the two spatial axes merge in either layout)
        gxp.view(n, c, hp * wp).scatter_add_(2, index.reshape(n, c, -1), grad_out.reshape(n, c, -1))
        (pt, _), (pl, _) = pads
        return gxp[:, :, pt : pt + x_shape[2], pl : pl + x_shape[3]], None, None, None, None, None, None


def max_pool2d(
    x: torch.Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
):
    """Max pooling with the semantics of `torch.nn.functional.max_pool2d` (x: (N,C,H,W) or (C,H,W)).

    With `return_indices`, also the flat index (row · W + col) in its input plane of every maximum,
    the argument `max_unpool2d` takes.

    Raises UserError for an input that is not 3-D or 4-D, a kernel, stride or dilation below 1, a
    negative padding or one over half the window, and a window larger than the padded input."""
    xb, unbatched = check_input(x, "max_pool2d")
    kernel, stride_, dil, pads, out = _pool_geometry(
        "max_pool2d", xb, kernel_size, stride, padding, dilation, ceil_mode
    )
    if not return_indices:
        y = _MaxPool2d.apply(xb, kernel, stride_, dil, pads, out)
        return y.squeeze(0) if unbatched else y
    y, idx = _MaxPool2d.apply(xb, kernel, stride_, dil, pads, out, True)
    return (y.squeeze(0), idx.squeeze(0)) if unbatched else (y, idx)


def unpool_output_size(x_hw, kernel, stride, padding, output_size) -> tuple[int, int]:
    """(H, W) of `max_unpool2d`'s result: (n − 1)·s − 2·p + k by default, or `output_size` (its last two
    entries), which must lie strictly within one stride of that default, as PyTorch requires.

    Raises UserError for an output_size without a height and width, or outside that range."""
    default = [(n - 1) * s - 2 * p + k for n, k, s, p in zip(x_hw, kernel, stride, padding)]
    if output_size is None:
        return default[0], default[1]
    size = [int(v) for v in output_size][-2:]
    if len(size) != 2:
        raise UserError(f"max_unpool2d: output_size must give a height and a width, got {output_size!r}")
    for axis, got, d, s in zip(("height", "width"), size, default, stride):
        if not d - s < got < d + s:
            raise UserError(
                f"max_unpool2d: output {axis} {got} is not within one stride of {d}; use {d - s + 1}..{d + s - 1}"
            )
    return size[0], size[1]


def max_unpool2d(
    x: torch.Tensor,
    indices: torch.Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    output_size=None,
) -> torch.Tensor:
    """The inverse of max pooling (`torch.nn.functional.max_unpool2d`): each value of x goes back to
    the position `indices` recorded (flat in its output plane); every other position is 0.

    Raises UserError for indices that are not int64 of x's shape, an index outside the output
    plane, and the refusals of `unpool_output_size`."""
    xb, unbatched = check_input(x, "max_unpool2d")
    if indices.shape != x.shape or indices.dtype != torch.long:
        raise UserError(
            f"max_unpool2d: indices must be int64 with the input's shape {tuple(x.shape)}, "
            f"got {indices.dtype} {tuple(indices.shape)} (use max_pool2d(..., return_indices=True))"
        )
    ib = indices.unsqueeze(0) if unbatched else indices
    kernel = positive_pair(kernel_size, "max_unpool2d: kernel_size")
    stride_ = kernel if stride is None else positive_pair(stride, "max_unpool2d: stride")
    pad_ = padding_pair(padding, "max_unpool2d: padding")
    ho, wo = unpool_output_size(tuple(xb.shape[2:]), kernel, stride_, pad_, output_size)
    n, c = xb.shape[:2]
    flat_idx = ib.reshape(n, c, -1)  # (N, C, H·W)
    if flat_idx.numel() and (int(flat_idx.min()) < 0 or int(flat_idx.max()) >= ho * wo):
        raise UserError(f"max_unpool2d: an index is outside the {ho}×{wo} output")
    out = xb.new_zeros(n, c, ho * wo).scatter(2, flat_idx, xb.reshape(n, c, -1))  # (N, C, Ho·Wo)
    out = out.view(n, c, ho, wo)
    return out.squeeze(0) if unbatched else out


def avg_divisor(size, kernel, stride, padding, out, count_include_pad, like):
    """PyTorch's averaging divisor for every output cell, (Ho, Wo)."""
    counts = []
    for n, k, s, p, o in zip(size, kernel, stride, padding, out):
        start = torch.arange(o, device=like.device) * s - p  # window start in input coordinates
        end = torch.clamp(start + k, max=n + p)
        if count_include_pad:
            counts.append(end - start)
        else:
            counts.append(torch.clamp(end, max=n) - torch.clamp(start, min=0))
    return (counts[0][:, None] * counts[1][None, :]).to(like.dtype)  # (Ho, Wo)


class _AvgPool2d(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, kernel, stride, pads, out_hw, divisor):
        xp = pad(x, pads)  # (N, C, Hp, Wp), in x's layout
        y = sum_windows(xp, kernel, stride, (1, 1), out_hw).div_(divisor)  # (N, C, Ho, Wo)
        ctx.save_for_backward(divisor)
        ctx.meta = (x.shape, xp.shape[2:], kernel, stride, pads, out_hw, is_batch_last(xp))
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        (divisor,) = ctx.saved_tensors
        x_shape, padded_hw, kernel, stride, pads, out_hw, batch_last = ctx.meta
        share = grad_out / divisor  # each input in a window gets an equal share
        gxp = new_full(tuple(x_shape[:2]) + tuple(padded_hw), 0.0, grad_out, batch_last)  # (N, C, Hp, Wp)
        for a in range(kernel[0]):
            for b in range(kernel[1]):
                rows, cols = offset_slice(a, b, stride, (1, 1), out_hw)
                gxp[:, :, rows, cols].add_(share)
        (pt, _), (pl, _) = pads
        return gxp[:, :, pt : pt + x_shape[2], pl : pl + x_shape[3]], None, None, None, None, None


def avg_pool2d(
    x: torch.Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> torch.Tensor:
    """Average pooling with the semantics of `torch.nn.functional.avg_pool2d` (`divisor_override`:
    divide every window's sum by this number instead of the window's size).

    Raises UserError as `max_pool2d` does, and for a divisor_override that is not a non-zero int."""
    xb, unbatched = check_input(x, "avg_pool2d")
    kernel, stride_, _, pads, out = _pool_geometry("avg_pool2d", xb, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, int) or divisor_override == 0:
            raise UserError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
        divisor = torch.full(out, float(divisor_override), dtype=xb.dtype, device=xb.device)
    else:
        divisor = avg_divisor(
            tuple(xb.shape[2:]), kernel, stride_, (pads[0][0], pads[1][0]), out, count_include_pad, xb
        )
    y = _AvgPool2d.apply(xb, kernel, stride_, pads, out, divisor)
    return y.squeeze(0) if unbatched else y
