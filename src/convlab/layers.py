"""nn.Modules running on convlab's own ops.

`Conv2D` is the tutorial's learnable single-channel layer (§2.3). `Conv2d`, `MaxPool2d` and
`AvgPool2d` subclass their torch.nn namesakes: same constructor, same initialisation (so the
same seed gives the same weights), same state_dict keys — only `forward` runs on convlab's
ops. A model can therefore switch between the two and load the same weights. `BatchNorm2d`
is torch's own, taught to keep convlab's batch-last layout. `BlurPool2d` is anti-aliased
downsampling (Zhang 2019), on `ops.blur_pool2d` or PyTorch's depthwise convolution.
"""

from __future__ import annotations

import torch
from torch import nn

from . import ops
from .errors import UserError


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

    It converts its input to batch-last (`ops.to_batch_last`, free when it already is) and so
    returns a batch-last result: the pooling layers, `BatchNorm2d` below and element-wise
    activations keep that layout, and every convolution after the first gets its fast path
    with no transposes. (For NCHW in and out, call `ops.conv2d` directly.)
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise UserError(f"convlab Conv2d supports padding_mode='zeros' only, got {self.padding_mode!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.conv2d(
            ops.to_batch_last(x), self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups
        )


class MaxPool2d(nn.MaxPool2d):
    """torch.nn.MaxPool2d whose forward is convlab's `ops.max_pool2d` (with `return_indices`, it also
    returns where each maximum came from, for `MaxUnpool2d`)."""

    def forward(self, x: torch.Tensor):
        return ops.max_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )


class MaxUnpool2d(nn.MaxUnpool2d):
    """torch.nn.MaxUnpool2d whose forward is convlab's `ops.max_unpool2d`: max pooling undone."""

    def forward(self, x: torch.Tensor, indices: torch.Tensor, output_size=None) -> torch.Tensor:
        return ops.max_unpool2d(x, indices, self.kernel_size, self.stride, self.padding, output_size)


class AvgPool2d(nn.AvgPool2d):
    """torch.nn.AvgPool2d whose forward is convlab's `ops.avg_pool2d`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.avg_pool2d(
            x, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad,
            self.divisor_override,
        )  # fmt: skip


class BatchNorm2d(nn.BatchNorm2d):
    """torch.nn.BatchNorm2d that keeps a batch-last input batch-last.

    PyTorch's kernel would copy a batch-last input to NCHW and return NCHW. Stored (C, H, W, N),
    the input is already each channel's N·H·W values in a row: viewed as a (1, C, H·W, N) batch
    it goes through the same kernel, with the same statistics, running averages and
    gradients, and comes back batch-last without a copy. NCHW input runs unchanged.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not ops.is_batch_last(x):
            return super().forward(x)
        n, c, h, w = x.shape
        y = super().forward(x.permute(1, 2, 3, 0).reshape(1, c, h * w, n))  # (1, C, H·W, N) view
        return y.view(c, h, w, n).permute(3, 0, 1, 2)  # (N, C, H, W), batch-last


class GlobalAvgPool2d(nn.AdaptiveAvgPool2d):
    """Average over all positions of each channel: (N, C, H, W) → (N, C, 1, 1) — NiN's and
    GoogLeNet's classifier head. With ops="convlab" it is convlab's `avg_pool2d` with a window as
    large as the map; with ops="torch", PyTorch's adaptive average pooling to 1×1."""

    def __init__(self, ops_name: str = "torch"):
        super().__init__(1)
        self.ops_name = ops_name

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ops_name == "convlab":
            return ops.avg_pool2d(x, tuple(x.shape[-2:]))
        return super().forward(x)


class BlurPool2d(nn.Module):
    """Anti-aliased downsampling ("Making Convolutional Networks Shift-Invariant Again", Zhang 2019):
    every channel blurred by a fixed normalised binomial kernel of `filt_size`, then sampled every
    `stride` pixels, after reflect (or zero) padding of (k − 1)/2. (N, C, H, W) → (N, C, ⌈H/s⌉, ⌈W/s⌉).
    No parameters. ops="convlab" runs `ops.blur_pool2d`; ops="torch" PyTorch's depthwise `conv2d`
    (groups=C) with the same kernel. Put after a stride-1 max pooling it is Zhang's MaxBlurPool."""

    kernel: torch.Tensor

    def __init__(self, channels: int, filt_size: int = 3, stride: int = 2, padding_mode: str = "reflect",
                 ops_name: str = "torch"):  # fmt: skip
        super().__init__()
        self.channels, self.filt_size, self.stride, self.padding_mode = channels, filt_size, stride, padding_mode
        self.ops_name = ops_name
        kernel = ops.binomial_kernel(filt_size)[None, None].expand(channels, 1, filt_size, filt_size)
        self.register_buffer("kernel", kernel.contiguous(), persistent=False)  # (C, 1, k, k), not in state_dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.ops_name == "convlab":
            return ops.blur_pool2d(x, self.filt_size, self.stride, self.padding_mode)
        before, after = ops.blur.blur_padding(self.filt_size)  # (N, C, H + k − 1, W + k − 1)
        if self.padding_mode == "reflect" and min(x.shape[-2:]) > max(before, after):  # PyTorch's own reflection:
            xp = nn.functional.pad(x, (before, after, before, after), mode="reflect")  # its backward ~2× faster
        else:
            xp = ops.blur.pad_blur(x, self.filt_size, self.padding_mode)
        return nn.functional.conv2d(xp, self.kernel.to(x.dtype), stride=self.stride, groups=self.channels)

    def extra_repr(self) -> str:
        return f"{self.channels}, filt_size={self.filt_size}, stride={self.stride}, padding_mode={self.padding_mode!r}"


class Layers:
    """The windowed layers of one backend: `Layers("torch")` or `Layers("convlab")`.

    Model files build every convolution, pooling and 2-D batch norm through one of these, so the
    same architecture runs on PyTorch's ops or convlab's with the same weights and state_dict
    keys; everything else (ReLU, Linear, Flatten, dropout, additions, concatenation) is PyTorch's.
    """

    def __init__(self, ops_name: str):
        if ops_name == "torch":
            self.Conv2d, self.MaxPool2d, self.AvgPool2d = nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d
            self.BatchNorm2d = nn.BatchNorm2d
        elif ops_name == "convlab":
            self.Conv2d, self.MaxPool2d, self.AvgPool2d = Conv2d, MaxPool2d, AvgPool2d
            self.BatchNorm2d = BatchNorm2d
        else:
            raise UserError(f"ops must be 'torch' or 'convlab', got {ops_name!r}")
        self.name = ops_name

    def GlobalAvgPool2d(self) -> GlobalAvgPool2d:
        """Global average pooling on this backend: (N, C, H, W) → (N, C, 1, 1)."""
        return GlobalAvgPool2d(self.name)

    def BlurPool2d(self, channels: int, filt_size: int = 3, stride: int = 2) -> BlurPool2d:
        return BlurPool2d(channels, filt_size, stride, ops_name=self.name)


def layer_set(ops_name: str):
    """(Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d) classes for ops="torch" or ops="convlab"."""
    L = Layers(ops_name)
    return L.Conv2d, L.MaxPool2d, L.AvgPool2d, L.BatchNorm2d


_SWAPS: dict[type, type[nn.Module]] = {
    nn.Conv2d: Conv2d, nn.MaxPool2d: MaxPool2d, nn.AvgPool2d: AvgPool2d, nn.BatchNorm2d: BatchNorm2d,
}  # fmt: skip


def _is_global_pool(m: nn.Module) -> bool:
    return type(m) is nn.AdaptiveAvgPool2d and m.output_size in (1, (1, 1), [1, 1])


def to_convlab_ops(model: nn.Module) -> list[str]:
    """Run any nn.Module on convlab's ops: every `nn.Conv2d`, `nn.MaxPool2d`, `nn.AvgPool2d`,
    `nn.BatchNorm2d` and `nn.AdaptiveAvgPool2d` to 1×1 in its tree becomes this module's layer
    of the same configuration, carrying the same parameters and buffers (the same tensors: tied
    weights stay tied). The module tree is changed in place, not the source. Returns the names of
    the modules swapped. Raises UserError for a convolution convlab cannot run (padding_mode)."""
    swapped = []
    for name, parent in list(model.named_modules()):
        for child_name, child in list(parent.named_children()):
            new = _convlab_twin(child)
            if new is not None:
                setattr(parent, child_name, new)
                swapped.append(f"{name}.{child_name}" if name else child_name)
    return swapped


def _convlab_twin(m: nn.Module) -> nn.Module | None:
    """A convlab layer sharing `m`'s state, or None when convlab has no op for it."""
    if _is_global_pool(m):
        return GlobalAvgPool2d("convlab").train(m.training)
    cls = _SWAPS.get(type(m))
    if cls is None:
        return None
    if isinstance(m, nn.Conv2d) and m.padding_mode != "zeros":
        raise UserError(f"convlab Conv2d supports padding_mode='zeros' only, got {m.padding_mode!r}")
    new = object.__new__(cls)
    new.__dict__ = dict(m.__dict__)  # the same parameters, buffers, hooks and settings
    return new
