"""convlab's operations, twice: the tutorial's readable loops and the fast batched versions.

loops.py    corr2d, pool2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1
conv.py     conv2d               (≡ torch.nn.functional.conv2d, forward and gradients)
pool.py     max_pool2d, avg_pool2d (≡ torch.nn.functional's, forward and gradients)
blur.py     blur_pool2d, blur_pool2d_loop (anti-aliased downsampling, Zhang 2019; ≡ a depthwise conv2d)
shapes.py   conv_output_size and argument checks
layout.py   NCHW and batch-last memory layouts (to_batch_last), kept by every op
windows.py  strided window views and their adjoint, shared by conv and pooling
"""

from .blur import binomial_kernel, blur_pool2d, blur_pool2d_loop
from .conv import conv2d
from .layout import is_batch_last, to_batch_last
from .loops import corr2d, corr2d_multi_in, corr2d_multi_in_out, corr2d_multi_in_out_1x1, pool2d
from .pool import avg_pool2d, max_pool2d, max_unpool2d
from .shapes import conv_output_size

__all__ = [
    "avg_pool2d",
    "binomial_kernel",
    "blur_pool2d",
    "blur_pool2d_loop",
    "conv2d",
    "conv_output_size",
    "corr2d",
    "corr2d_multi_in",
    "corr2d_multi_in_out",
    "corr2d_multi_in_out_1x1",
    "is_batch_last",
    "max_pool2d",
    "max_unpool2d",
    "pool2d",
    "to_batch_last",
]
