"""2-D convolution (cross-correlation) from tensor primitives, batched and differentiable.

Forward: the padded input is viewed as windows (no copy), copied into an im2col buffer,
and multiplied by the weight (G, Og, Cg·kh·kw). Two layouts of that buffer, chosen by the
input's memory layout and map size: per image (`_Conv2dPerImage`) and batch-last in row
chunks (`_Conv2dBatchLast`).
Backward is written out by hand instead of left to autograd on the strided view (which
would build a dense gradient for every window): the weight gradient reuses the saved
im2col buffer, and the input gradient folds (W^T · grad) back onto the grid with one
strided add per kernel offset. Same semantics as `torch.nn.functional.conv2d`; no
PyTorch convolution routine is called. The result is stored in the input's layout.
"""

from __future__ import annotations

import contextlib

import torch
from torch.autograd.function import once_differentiable

from ..errors import UserError
from .layout import is_batch_last, new_full, pad, to_batch_last
from .shapes import IntPair, check_input, padding_pair, positive_pair, window_output_size
from .windows import fold, fold_into, windows

Padding = IntPair | str


def resolve_conv_padding(
    padding: Padding, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) for int, pair, "valid" or "same" (PyTorch's rule:
    total d·(k−1), the odd one extra at the bottom/right; "same" needs stride 1).

    Raises UserError for "same" with a stride other than 1, an unknown string, or a negative padding."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise UserError(f"conv2d: padding='same' needs stride 1, got stride {stride}")
            sides = []
            for k, d in zip(kernel, dilation):
                total = d * (k - 1)
                sides.append((total // 2, total - total // 2))
            return sides[0], sides[1]
        raise UserError(f"conv2d: padding must be an int, a pair, 'same' or 'valid', got {padding!r}")
    ph, pw = padding_pair(padding)
    return (ph, ph), (pw, pw)


PER_IMAGE_MIN_AREA = 256  # Ho·Wo from which an NCHW input is convolved per image (measured, benchmarks/ops.py)
CHUNK_BYTES = 1 << 26  # a batch-last im2col buffer above this is built in row chunks (measured, benchmarks/ops.py)


class _Conv2dPerImage(torch.autograd.Function):
    """NCHW input with large maps: one im2col copy (N, G, K, L), K = Cg·kh·kw, L = Ho·Wo.

    The copy reads rows nearly contiguously and the product lands in (N, O, Ho, Wo)
    directly; the buffer is saved for the weight gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups, out_hw):
        n = x.shape[0]
        o, cg, kh, kw = weight.shape
        ho, wo = out_hw
        k = cg * kh * kw
        xp = pad(x, pads)  # (N, C, Hp, Wp)
        cols = windows(xp, (kh, kw), stride, dilation, out_hw).reshape(n, groups, k, ho * wo)  # (N, G, K, L)
        out = torch.matmul(weight.reshape(groups, o // groups, k), cols).view(n, o, ho, wo)  # (N, O, Ho, Wo)
        if bias is not None:
            out += bias.view(1, o, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.meta = (x.shape, xp.shape[2:], stride, pads, dilation, groups, bias is not None)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        cols, weight = ctx.saved_tensors
        x_shape, padded_hw, stride, pads, dilation, groups, has_bias = ctx.meta
        n, c, h, w = x_shape
        o, cg, kh, kw = weight.shape
        ho, wo = grad_out.shape[2:]
        wmat = weight.reshape(groups, o // groups, cg * kh * kw)  # (G, Og, K)
        g = grad_out.reshape(n, groups, o // groups, ho * wo)  # (N, G, Og, L)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            gcols = torch.matmul(wmat.transpose(1, 2), g).view(n, c, kh, kw, ho, wo)  # W^T·grad
            (pt, _), (pl, _) = pads
            grad_x = fold(gcols, padded_hw, stride, dilation)[:, :, pt : pt + h, pl : pl + w]
        if ctx.needs_input_grad[1]:
            grad_w = torch.matmul(g, cols.transpose(-1, -2)).sum(0).reshape(weight.shape)  # Σ grad·colsᵀ
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = grad_out.sum((0, 2, 3))
        return grad_x, grad_w, grad_b, None, None, None, None, None


class _Conv2dBatchLast(torch.autograd.Function):
    """Batch-last input (or small NCHW maps, transposed in and out): im2col (G, K, Ho·Wo·N).

    The buffer is copied from the windows view, in which every kernel offset is a run of
    Wo·N contiguous values, and one GEMM per group writes the (O, Ho, Wo, N) result. When the
    buffer would exceed CHUNK_BYTES it is built R output rows at a time instead, each chunk's
    GEMM writing its rows of the result in place, and backward copies each chunk again
    rather than keeping them all; a buffer built whole is kept for the weight gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups, out_hw):
        keep_nchw = not is_batch_last(x)
        xp = pad(to_batch_last(x), pads)  # (N, C, Hp, Wp), stored (C, Hp, Wp, N)
        o = weight.shape[0]
        wmat = weight.reshape(groups, o // groups, -1)  # (G, Og, K)
        parts = []
        for _, cols in _row_chunks(xp, weight.shape, stride, dilation, groups, out_hw):
            parts.append(_gemm(wmat, cols))  # (G, Og, R·Wo·N): rows [r0, r1) of the result
        whole = cols if len(parts) == 1 else None  # one chunk: keep it for the weight gradient
        out = (parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)).view(o, *out_hw, x.shape[0])  # (O, Ho, Wo, N)
        if bias is not None:
            out += bias.view(o, 1, 1, 1)
        ctx.save_for_backward(xp, weight, whole)
        ctx.meta = (x.shape, stride, pads, dilation, groups, bias is not None, keep_nchw)
        out = out.permute(3, 0, 1, 2)  # (N, O, Ho, Wo), batch-last
        return out.contiguous() if keep_nchw else out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        xp, weight, whole = ctx.saved_tensors
        x_shape, stride, pads, dilation, groups, has_bias, keep_nchw = ctx.meta
        n, _, h, w = x_shape
        o, cg, kh, kw = weight.shape
        og, k = o // groups, cg * kh * kw
        ho, wo = grad_out.shape[2:]
        wmat = weight.reshape(groups, og, k)  # (G, Og, K)
        g = grad_out.permute(1, 2, 3, 0).reshape(groups, og, ho, wo * n)  # (G, Og, Ho, Wo·N); free if batch-last
        need_x, need_w = ctx.needs_input_grad[:2]
        grid = new_full(tuple(xp.shape), 0.0, xp, True) if need_x else None  # (N, C, Hp, Wp)
        grad_w = weight.new_zeros(groups, og, k) if need_w else None
        chunks = (
            [(slice(0, ho), whole)]
            if whole is not None
            else _row_chunks(xp, weight.shape, stride, dilation, groups, (ho, wo), copy=need_w)
        )
        for rows, cols in chunks:
            r = rows.stop - rows.start
            for gi in range(groups):
                gr = g[gi, :, rows].flatten(1)  # (Og, R·Wo·N)
                if grad_w is not None and cols is not None:
                    grad_w[gi].addmm_(gr, cols[gi].t())  # Σ over chunks of grad·colsᵀ
                if grid is not None:
                    gcols = (wmat[gi].t() @ gr).view(cg, kh, kw, r, wo, n).permute(5, 0, 1, 2, 3, 4)
                    top = rows.start * stride[0]  # first padded row these outputs read
                    fold_into(grid[:, gi * cg : (gi + 1) * cg, top:], gcols, stride, dilation)
        grad_x = grad_b = None
        if grid is not None:
            (pt, _), (pl, _) = pads
            grad_x = grid[:, :, pt : pt + h, pl : pl + w]
            if keep_nchw:
                grad_x = grad_x.contiguous()
        if has_bias and ctx.needs_input_grad[2]:
            grad_b = g.sum((2, 3)).reshape(o)
        return grad_x, None if grad_w is None else grad_w.view(weight.shape), grad_b, None, None, None, None, None


def _gemm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(G, M, K) @ (G, K, L); one group (the usual case) as a plain GEMM, which is faster."""
    return torch.mm(a[0], b[0]).unsqueeze(0) if a.shape[0] == 1 else torch.bmm(a, b)


def _row_chunks(xp, weight_shape, stride, dilation, groups, out_hw, copy=True):
    """Yield (output rows, im2col chunk (G, K, R·Wo·N)) over the output rows of a
    batch-last conv, R rows at a time (the chunk is None when copy=False)."""
    n = xp.shape[0]
    _, cg, kh, kw = weight_shape
    ho, wo = out_hw
    k = cg * kh * kw
    win = windows(xp, (kh, kw), stride, dilation, out_hw).permute(1, 2, 3, 4, 5, 0)  # (C, kh, kw, Ho, Wo, N)
    per_row = k * wo * n * xp.element_size()
    step = max(1, min(ho, CHUNK_BYTES // per_row))
    buf = None
    for r0 in range(0, ho, step):
        rows = slice(r0, min(ho, r0 + step))
        if not copy:
            yield rows, None
            continue
        r = rows.stop - r0
        if buf is None or buf.shape[-1] != r * wo * n:
            buf = xp.new_empty((groups, k, r * wo * n))
        buf.view(groups, cg, kh, kw, r, wo, n).copy_(win[:, :, :, rows].reshape(groups, cg, kh, kw, r, wo, n))
        yield rows, buf


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: Padding = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """Batched 2-D cross-correlation with the semantics of `torch.nn.functional.conv2d`.

    x: (N, C, H, W) or (C, H, W); weight: (O, C/groups, kh, kw); bias: (O,) or None.
    Returns (N, O, Ho, Wo) (or (O, Ho, Wo) for an unbatched input).

    Raises UserError (naming the shapes) for an input that is not 3-D or 4-D, a weight that is not
    4-D, `groups` not a positive int, input channels other than C/groups × groups, out_channels not
    divisible by groups, a bias not of shape (O,), a stride or dilation below 1, an unknown padding
    (or "same" with a stride), and a dilated kernel larger than the padded input.
    """
    xb, unbatched = check_input(x, "conv2d")
    if weight.dim() != 4:
        raise UserError(
            f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kh, kw), got shape {tuple(weight.shape)}"
        )
    if not isinstance(groups, int) or groups <= 0:
        raise UserError(f"conv2d: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = weight.shape
    c = xb.shape[1]
    if c != cg * groups:
        raise UserError(
            f"conv2d: input has {c} channels but the weight expects {cg}×{groups} groups "
            f"= {cg * groups} (weight shape {tuple(weight.shape)})"
        )
    if o % groups:
        raise UserError(f"conv2d: out_channels {o} is not divisible by groups {groups}")
    if bias is not None and tuple(bias.shape) != (o,):
        raise UserError(f"conv2d: bias must have shape ({o},), got {tuple(bias.shape)}")
    stride_ = positive_pair(stride, "conv2d: stride")
    dilation_ = positive_pair(dilation, "conv2d: dilation")
    pads = resolve_conv_padding(padding, (kh, kw), stride_, dilation_)
    out_hw = window_output_size("conv2d", tuple(xb.shape[2:]), (kh, kw), pads, stride_, dilation_)
    per_image = not is_batch_last(xb) and out_hw[0] * out_hw[1] >= PER_IMAGE_MIN_AREA
    conv = _Conv2dPerImage if per_image else _Conv2dBatchLast
    device = xb.device.type
    autocast = torch.is_autocast_enabled(device)
    if autocast:  # as autocast treats F.conv2d: compute in its dtype
        dtype = torch.get_autocast_dtype(device)
        xb, weight = xb.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast(device, enabled=False) if autocast else contextlib.nullcontext():
        out = conv.apply(xb, weight, bias, stride_, pads, dilation_, groups, out_hw)
    return out.squeeze(0) if unbatched else out
