"""nn.Modules running on convlab's own ops.

`Conv2D` is the tutorial's learnable single-channel layer (§2.3). `Conv2d`, `MaxPool2d` and
`AvgPool2d` subclass their torch.nn namesakes: same constructor, same initialisation
(so the same seed gives the same weights), same state_dict keys — only `forward` runs on
convlab's ops. A model can therefore switch between the two and load the same weights.
"""
from __future__ import annotations

import functools

import torch
from torch import nn

from . import ops


class Conv2D(nn.Module):
    """The tutorial's convolution layer: a (kh, kw) kernel and a scalar bias on 2-D input.

    `fast=False` runs the tutorial's `corr2d` loop; `fast=True` the batched `conv2d`, which
    also accepts (N, 1, H, W) batches.
    """

    def __init__(self, kernel_size: tuple[int, int], fast: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.rand(kernel_size))
        self.bias = nn.Parameter(torch.zeros(1))
        self.fast = fast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fast:
            return ops.corr2d(x, self.weight) + self.bias
        kernel = self.weight[None, None]  # (1, 1, kh, kw)
        if x.dim() == 2:  # (H, W)
            return ops.conv2d(x[None, None], kernel, self.bias)[0, 0]
        return ops.conv2d(x, kernel, self.bias)


class Conv2d(nn.Conv2d):
    """torch.nn.Conv2d whose forward is convlab's `ops.conv2d` (zero padding only).

    With `batch_last=True` (the default) it converts its input to batch-last
    (`ops.to_batch_last`, free when it already is) and so returns a batch-last result: the
    pooling layers and element-wise activations keep that layout, and every convolution
    after the first gets its fast path with no transposes. `batch_last=False` keeps the
    input's layout, for networks whose other layers (e.g. BatchNorm2d) work in NCHW.
    """

    def __init__(self, *args, batch_last: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.batch_last = batch_last
        if self.padding_mode != "zeros":
            raise ValueError(f"convlab Conv2d supports padding_mode='zeros' only, got {self.padding_mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.batch_last:
            x = ops.to_batch_last(x)
        return ops.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)


class MaxPool2d(nn.MaxPool2d):
    """torch.nn.MaxPool2d whose forward is convlab's `ops.max_pool2d`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.return_indices:
            raise ValueError("convlab MaxPool2d does not return indices; use torch.nn.MaxPool2d")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode)


class AvgPool2d(nn.AvgPool2d):
    """torch.nn.AvgPool2d whose forward is convlab's `ops.avg_pool2d`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.divisor_override is not None:
            raise ValueError("convlab AvgPool2d does not support divisor_override")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                              self.count_include_pad)


def layer_set(ops_name: str, batch_last: bool = True):
    """(Conv2d, MaxPool2d, AvgPool2d) classes for ops="torch" or ops="convlab" (whose
    Conv2d runs batch-last unless batch_last=False)."""
    if ops_name == "torch":
        return nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d
    if ops_name == "convlab":
        return (Conv2d if batch_last else functools.partial(Conv2d, batch_last=False)), MaxPool2d, AvgPool2d
    raise ValueError(f"ops must be 'torch' or 'convlab', got {ops_name!r}")
