"""Shape arithmetic for sliding windows: argument normalisation, the output-size formula, validation.

Every convolution and pooling function in convlab goes through these helpers, so the
formula a learner reads in `conv_output_size` is the one the fast ops actually use.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..errors import UserError

IntPair = int | Sequence[int]


def pair(value: IntPair, name: str) -> tuple[int, int]:
    """Turn an int or a 2-sequence into a (height, width) pair of ints, as torch.nn does.

    Raises UserError (naming `name`) for a bool, a non-int, or a sequence of other than 1 or 2 ints."""
    if isinstance(value, bool):
        raise UserError(f"{name} must be an int or a pair of ints, got {value!r}")
    if isinstance(value, int):
        return (value, value)
    try:
        items = tuple(value)
    except TypeError:
        raise UserError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if len(items) == 1:
        items = items * 2
    if len(items) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise UserError(f"{name} must be an int or a pair of ints, got {value!r}")
    return (int(items[0]), int(items[1]))


def positive_pair(value: IntPair, name: str) -> tuple[int, int]:
    """A pair whose entries must be >= 1 (kernel sizes, strides, dilations); raises UserError otherwise."""
    p = pair(value, name)
    if min(p) <= 0:
        raise UserError(f"{name} must be positive, got {value!r}")
    return p


def padding_pair(value: IntPair, name: str = "padding") -> tuple[int, int]:
    """A pair of per-side paddings that must be >= 0; raises UserError otherwise."""
    p = pair(value, name)
    if min(p) < 0:
        raise UserError(f"{name} must be non-negative, got {value!r}")
    return p


def conv_output_size(
    n: int, k: int, padding: int | tuple[int, int] = 0, stride: int = 1, dilation: int = 1, ceil_mode: bool = False
) -> int:
    """Output length of a sliding window along one axis.

    The tutorial writes ⌊(n − k + p + s)/s⌋ where p is the *total* padding of both sides; here
    `padding` is the padding on *each* side (PyTorch's convention), so the same formula reads

        ⌊(n + 2·padding − d·(k − 1) − 1) / s⌋ + 1

    which equals the tutorial's with p = 2·padding and d = 1. `padding` may also be a pair
    (before, after) for asymmetric padding. With `ceil_mode` (pooling only) the division
    rounds up, but a window that would start entirely in the right padding is dropped,
    exactly as PyTorch does. Returns 0 when the window does not fit.

    Raises UserError for n, k, stride or dilation below 1, or a negative padding.
    """
    before, after = (padding, padding) if isinstance(padding, int) else padding
    if min(n, k, stride, dilation) <= 0 or min(before, after) < 0:
        raise UserError(
            f"conv_output_size needs n, k, stride, dilation >= 1 and padding >= 0, "
            f"got n={n}, k={k}, padding={padding}, stride={stride}, dilation={dilation}"
        )
    span = n + before + after - dilation * (k - 1) - 1  # room left for the window to move
    if span < 0:
        return 0
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= n + before:  # last window would start in the right padding
        out -= 1
    return out


def check_input(x, name: str, expected: str = "(N, C, H, W) or (C, H, W)"):
    """Accept a 4-D batch or a 3-D single image; return (batch (N, C, H, W), was_unbatched).

    Raises UserError for any other number of dimensions."""
    if x.dim() == 4:
        return x, False
    if x.dim() == 3:
        return x.unsqueeze(0), True
    raise UserError(f"{name}: expected a 3-D or 4-D input {expected}, got {x.dim()}-D with shape {tuple(x.shape)}")


def window_output_size(
    name: str,
    size: tuple[int, int],
    kernel: tuple[int, int],
    padding: tuple[tuple[int, int], tuple[int, int]],
    stride: tuple[int, int],
    dilation: tuple[int, int],
    ceil_mode: bool = False,
) -> tuple[int, int]:
    """(Ho, Wo) for a 2-D window; raises UserError naming the numbers when it does not fit."""
    out = []
    for axis, n, k, pad, s, d in zip(("height", "width"), size, kernel, padding, stride, dilation):
        eff = d * (k - 1) + 1
        if eff > n + pad[0] + pad[1]:
            raise UserError(
                f"{name}: kernel {kernel[0]}×{kernel[1]} (effective {axis} {eff} with dilation {d}) "
                f"is larger than the padded input {axis} {n + pad[0] + pad[1]} "
                f"(input {n} + padding {pad[0]}+{pad[1]})"
            )
        out.append(conv_output_size(n, k, pad, s, d, ceil_mode))
    return out[0], out[1]
