"""Two memory layouts for an (N, C, H, W) tensor, and allocation that keeps a tensor's layout.

NCHW, PyTorch's default, stores each image's maps one after another. Batch-last stores
(C, H, W, N): the batch is the innermost axis, so one pixel of one map across the whole
batch is a contiguous run of N values. For the small maps of LeNet-family networks this
turns every kernel offset's slice of the input from short rows (Wo values) into long runs
(Wo·N values), which is what makes convlab's im2col copy, its adjoint and its pooling
slices fast. The logical shape stays (N, C, H, W); only the strides differ, exactly as with
`torch.channels_last`, and every op returns its result in its input's layout.
"""

from __future__ import annotations

import torch


def is_batch_last(x: torch.Tensor) -> bool:
    """True when the 4-D tensor x is stored (C, H, W, N) (and not also plain NCHW)."""
    return x.dim() == 4 and x.shape[0] > 1 and not x.is_contiguous() and x.permute(1, 2, 3, 0).is_contiguous()


def to_batch_last(x: torch.Tensor) -> torch.Tensor:
    """x (N, C, H, W) with the same values, stored batch-last (a copy unless it already is)."""
    if x.dim() != 4 or is_batch_last(x) or x.shape[0] == 1:
        return x
    return x.permute(1, 2, 3, 0).contiguous().permute(3, 0, 1, 2)


def new_full(shape: tuple[int, int, int, int], value: float, like: torch.Tensor, batch_last: bool) -> torch.Tensor:
    """An (N, C, H, W) tensor filled with value, dtype/device of like, in the chosen layout."""
    n, c, h, w = shape
    if batch_last:
        return like.new_full((c, h, w, n), value).permute(3, 0, 1, 2)
    return like.new_full(shape, value)


def pad(x: torch.Tensor, pads: tuple[tuple[int, int], tuple[int, int]], value: float = 0.0) -> torch.Tensor:
    """x (N, C, H, W) padded by ((top, bottom), (left, right)) with value, in x's own layout
    (`F.pad` would return NCHW whatever the input)."""
    (pt, pb), (pl, pr) = pads
    bl = is_batch_last(x)
    if not (pt or pb or pl or pr):
        return x if bl else x.contiguous()
    n, c, h, w = x.shape
    out = new_full((n, c, h + pt + pb, w + pl + pr), value, x, bl)  # (N, C, Hp, Wp)
    out[:, :, pt : pt + h, pl : pl + w] = x
    return out
