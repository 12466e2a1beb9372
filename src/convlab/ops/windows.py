"""Sliding windows as strided views, and their adjoint (adding windows back onto the grid).

`windows` is im2col without copying: a view of the padded input in which every output
position (i, j) sees its kh×kw window. `fold` is the exact adjoint used by every
backward pass: each kernel offset (a, b) adds its slice of the window gradient back onto
the positions that offset touched, one strided slice per offset (kh·kw adds in all).
"""

from __future__ import annotations

import torch

from .layout import is_batch_last, new_full


def windows(
    xp: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], out: tuple[int, int]
) -> torch.Tensor:
    """View of padded input xp (N, C, Hp, Wp) as (N, C, kh, kw, Ho, Wo) windows, no copy.

    Element [n, c, a, b, i, j] is xp[n, c, i·sh + a·dh, j·sw + b·dw].
    """
    n_str, c_str, h_str, w_str = xp.stride()
    (kh, kw), (sh, sw), (dh, dw), (ho, wo) = kernel, stride, dilation, out
    return xp.as_strided(
        (xp.shape[0], xp.shape[1], kh, kw, ho, wo),
        (n_str, c_str, h_str * dh, w_str * dw, h_str * sh, w_str * sw),
        xp.storage_offset(),
    )


def offset_slice(
    a: int, b: int, stride: tuple[int, int], dilation: tuple[int, int], out: tuple[int, int]
) -> tuple[slice, slice]:
    """The (rows, cols) of the padded grid that kernel offset (a, b) reads for all outputs."""
    (sh, sw), (dh, dw), (ho, wo) = stride, dilation, out
    return (slice(a * dh, a * dh + sh * (ho - 1) + 1, sh), slice(b * dw, b * dw + sw * (wo - 1) + 1, sw))


def fold(
    cols: torch.Tensor, padded_size: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    """Adjoint of `windows`: sum (N, C, kh, kw, Ho, Wo) window values back onto a new NCHW
    (N, C, Hp, Wp) grid."""
    grid = cols.new_zeros(tuple(cols.shape[:2]) + tuple(padded_size))  # (N, C, Hp, Wp)
    return fold_into(grid, cols, stride, dilation)


def fold_into(
    grid: torch.Tensor, cols: torch.Tensor, stride: tuple[int, int], dilation: tuple[int, int]
) -> torch.Tensor:
    """Add (N, C, kh, kw, Ho, Wo) window values onto grid (N, C, ≥Hp, Wp) in place, one
    strided slice per kernel offset; grid may be a view whose top row is the first row read."""
    kh, kw, ho, wo = cols.shape[2:]
    for a in range(kh):
        for b in range(kw):
            rows, cols_ = offset_slice(a, b, stride, dilation, (ho, wo))
            grid[:, :, rows, cols_].add_(cols[:, :, a, b])  # (a view's add_: no copy back)
    return grid


def sum_windows(
    xp: torch.Tensor, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], out: tuple[int, int]
) -> torch.Tensor:
    """Sum of every window, (N, C, Ho, Wo) in xp's layout, as kh·kw strided-slice adds
    (no im2col buffer)."""
    n, c = xp.shape[:2]
    total = new_full((n, c, out[0], out[1]), 0.0, xp, is_batch_last(xp))  # (N, C, Ho, Wo)
    for a in range(kernel[0]):
        for b in range(kernel[1]):
            rows, cols = offset_slice(a, b, stride, dilation, out)
            total.add_(xp[:, :, rows, cols])
    return total
