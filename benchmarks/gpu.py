"""One prepared check of the CUDA path, finishing in a few minutes on one GPU.

  1. convlab's ops on CUDA against PyTorch's (forward and gradients, float32 and float64);
  2. the ops benchmark table on the GPU;
  3. training throughput (images/s) of `lenet-modern` with the data resident on the GPU,
     bf16 autocast and channels-last, with and without torch.compile;
  4. time to 0.91 Fashion-MNIST test accuracy (excluding one-time compilation).

    python benchmarks/gpu.py [--data-dir DIR] [--skip-compile]
Needs Fashion-MNIST (any folder convlab searches) and a CUDA GPU.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import itertools

import ops as ops_bench

from convlab import ops
from convlab.data import load_dataset
from convlab.train import TrainConfig, fit


def check_ops(device) -> float:
    worst = 0.0
    g = torch.Generator().manual_seed(0)
    for dtype, tol in ((torch.float64, 1e-9), (torch.float32, 1e-3)):
        x = torch.randn(8, 6, 17, 15, generator=g, dtype=dtype).to(device).requires_grad_()
        w = torch.randn(12, 3, 3, 4, generator=g, dtype=dtype).to(device).requires_grad_()
        b = torch.randn(12, generator=g, dtype=dtype).to(device).requires_grad_()
        pairs = [
            (
                lambda x=x, w=w, b=b: ops.conv2d(x, w, b, 2, (1, 2), (2, 1), 2),
                lambda x=x, w=w, b=b: F.conv2d(x, w, b, 2, (1, 2), (2, 1), 2),
            ),
            (lambda x=x: ops.max_pool2d(x, 3, 2, 1, 1, True), lambda x=x: F.max_pool2d(x, 3, 2, 1, 1, True)),
            (lambda x=x: ops.avg_pool2d(x, 3, 2, 1, True, False), lambda x=x: F.avg_pool2d(x, 3, 2, 1, True, False)),
        ]
        for ours, ref in pairs:
            y1, y2 = ours(), ref()
            gy = torch.randn_like(y2)
            g1 = torch.autograd.grad(y1, [x, w, b], gy, allow_unused=True)
            g2 = torch.autograd.grad(y2, [x, w, b], gy, allow_unused=True)
            diffs = [(y1 - y2).abs().max().item()] + [
                (a - c).abs().max().item() for a, c in zip(g1, g2) if a is not None
            ]
            worst = max(worst, max(diffs))
            assert max(diffs) < tol * max(1.0, y2.abs().max().item()), (dtype, diffs)
    return worst


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir")
    p.add_argument("--skip-compile", action="store_true")
    p.add_argument("--target", type=float, default=0.91)
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA GPU: nothing to check")
        return 1
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    print(ops_bench.hardware(device))
    print(f"1. ops on CUDA vs PyTorch: all agree (largest difference {check_ops(device):.2e})")
    print("\n2. ops benchmark on the GPU (forward + backward)")
    print(ops_bench.table(ops_bench.run(1024, 30, device)))
    ds = load_dataset("fashion-mnist", data_dir=a.data_dir, progress=False)
    print("\n3./4. training lenet-modern, data resident on the GPU, bf16 autocast")
    variants = [("eager, channels-last", dict(channels_last=True, compile=False))]
    if not a.skip_compile:
        variants.append(("torch.compile, channels-last", dict(channels_last=True, compile=True)))
    for name, kw in variants:
        for batch, epochs, lr in ((512, 4, 1e-2), (1024, 10, 2e-2)):
            cfg = TrainConfig(
                model="lenet-modern",
                epochs=epochs,
                batch_size=batch,
                lr=lr,
                device="cuda",
                amp=True,
                eval_batch_size=10000,
                **kw,
            )
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                r = fit(cfg, out=d + "/run", dataset=ds, progress=False, log=lambda *x: None)
                wall = time.perf_counter() - t0
            h = r.history
            first = h[0]["elapsed_s"]  # the first epoch carries one-time compilation
            steady = max(row["images_per_s"] for row in h[1:]) if len(h) > 1 else h[0]["images_per_s"]
            print(
                f"  {name:<30s} batch {batch:5d}: {steady:12,.0f} images/s steady; first epoch {first:.2f} s; "
                f"final acc {h[-1]['test_acc']:.4f}; {time_to_target(h, a.target)}; whole run {wall:.1f} s"
            )
    return 0


def time_to_target(history, target) -> str:
    """Epochs to reach `target` times the fastest steady epoch: the training time without
    the one-time compilation and warm-up that the first epoch carries."""
    reached = next((row for row in history if row["test_acc"] >= target), None)
    if reached is None:
        return f"{target} not reached"
    steady = [row["elapsed_s"] - prev["elapsed_s"] for prev, row in itertools.pairwise(history)]
    per_epoch = min(steady) if steady else history[0]["elapsed_s"]
    return f"{target} at epoch {reached['epoch']} ≈ {reached['epoch'] * per_epoch:.2f} s without compilation"


if __name__ == "__main__":
    sys.exit(main())
