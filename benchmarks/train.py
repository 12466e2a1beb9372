"""Training throughput: a d2l-style reference loop vs convlab's trainer, side by side.

In one process, on the same Fashion-MNIST images, the tutorial's `lenet`, batch 256, AdamW:
  (a) reference: a per-sample `Dataset` + `DataLoader` feeding a plain loop (the recipe of
      the textbook's helpers);
  (b) convlab's `fit()` with PyTorch's ops;
  (c) convlab's `fit()` with convlab's own ops.
Each is timed over the same images (train steps only) and repeated; the table gives the
median images/s and the ratios. `--to-acc` then measures, as a fresh `convlab train`
process, the wall time from process start (data loading included) to the first epoch
whose test accuracy reaches the target.

All three share the process, so they share its allocator: by default the one `convlab
train` sets (freed memory kept, `convlab.runtime`); `--default-allocator` leaves the C
library's default, to measure that lever (run the script both ways).

    python benchmarks/train.py [--images 20000] [--repeats 3] [--to-acc 0.91] [--default-allocator]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

from convlab.data import load_dataset
from convlab.models import build_model
from convlab.train import TrainConfig, fit

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ops import hardware, set_allocator


class PerSampleDataset(torch.utils.data.Dataset):
    """What the textbook's loaders do: one Python call per image."""

    def __init__(self, x, y, mean, std):
        self.x, self.y, self.mean, self.std = x, y, mean, std

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return (self.x[i].float() / 255 - self.mean) / self.std, self.y[i]


def reference_loop(ds, n, batch, lr, seed, model_name="lenet") -> float:
    """(a): images/s of one epoch over the first n images: the textbook's loop, plain PyTorch
    (float32, default memory format), for any registered model."""
    torch.manual_seed(seed)
    model = build_model(model_name)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    mean, std = ds.pixel_stats()
    loader = torch.utils.data.DataLoader(
        PerSampleDataset(ds.train_x[:n], ds.train_y[:n], mean, std), batch_size=batch, shuffle=True
    )
    t = time.perf_counter()
    for xb, yb in loader:
        loss = F.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return n / (time.perf_counter() - t)


def convlab_fit(ds, n, batch, lr, seed, ops, model_name="lenet", **options) -> float:
    """(b)/(c): images/s of one epoch of `fit()` over the first n images (`options`: other TrainConfig
    fields, e.g. a model recipe's amp and channels_last)."""
    cfg = TrainConfig(
        model=model_name,
        ops=ops,
        epochs=1,
        batch_size=batch,
        lr=lr,
        seed=seed,
        max_train=n,
        schedule="constant",
        warmup=0.0,
        label_smoothing=0.0,
        **options,
    )
    with tempfile.TemporaryDirectory() as d:
        r = fit(cfg, out=d + "/run", dataset=ds, progress=False, log=lambda *a: None)
    return r.final["images_per_s"]


def time_to_accuracy(target: float, args: list[str]) -> tuple[float | None, int, float]:
    """Wall seconds from starting `convlab train ARGS` to the first epoch line at ≥ target."""
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "convlab", "train", *args, "--out", d + "/run", "--quiet"],
            stdout=subprocess.PIPE,
            text=True,
        )
        best = 0.0
        for line in proc.stdout:
            if line.startswith("epoch"):
                acc = float(line.split("test acc")[1].split()[0])
                best = max(best, acc)
                if acc >= target:
                    elapsed = time.perf_counter() - t0
                    proc.kill()
                    return elapsed, int(line.split()[1].split("/")[0]), acc
        proc.wait()
    return None, 0, best


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20000, help="training images per timed epoch (default 20000)")
    p.add_argument("--batch", type=int, default=256, help="batch size (default 256)")
    p.add_argument("--repeats", type=int, default=3, help="repeats per variant (default 3)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--to-acc", type=float, default=0.91, help="target test accuracy for the time-to-accuracy run")
    p.add_argument(
        "--recipe",
        default="--model lenet-modern --epochs 4 --batch-size 256 --lr 2e-2 --shift 0",
        help="convlab train arguments for the time-to-accuracy run",
    )
    p.add_argument("--skip-accuracy", action="store_true", help="only the throughput table")
    p.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave the C library's allocator settings alone (default: keep freed memory)",
    )
    a = p.parse_args(argv)
    allocator = set_allocator(a.default_allocator)
    print(hardware(torch.device("cpu")))
    print(allocator)
    ds = load_dataset("fashion-mnist", progress=False)
    n = min(a.images, len(ds.train_y))
    runs = {
        "(a) reference: per-sample Dataset + DataLoader": [],
        "(b) convlab fit, torch ops": [],
        "(c) convlab fit, convlab ops": [],
    }
    for r in range(a.repeats):  # interleaved, so machine-load drifts hit every variant alike
        runs["(a) reference: per-sample Dataset + DataLoader"].append(reference_loop(ds, n, a.batch, a.lr, r))
        runs["(b) convlab fit, torch ops"].append(convlab_fit(ds, n, a.batch, a.lr, r, "torch"))
        runs["(c) convlab fit, convlab ops"].append(convlab_fit(ds, n, a.batch, a.lr, r, "convlab"))
    med = {k: statistics.median(v) for k, v in runs.items()}
    base = med["(a) reference: per-sample Dataset + DataLoader"]
    b = med["(b) convlab fit, torch ops"]
    print(f"\nlenet, batch {a.batch}, {n} images per epoch, median of {a.repeats}\n")
    print(f"{'variant':<48s} {'images/s':>10s} {'vs (a)':>7s} {'time vs (b)':>12s}")
    for k, v in med.items():
        print(f"{k:<48s} {v:10,.0f} {v / base:6.2f}× {b / v:11.2f}×")
    if not a.skip_accuracy:
        secs, epoch, acc = time_to_accuracy(a.to_acc, a.recipe.split())
        if secs is None:
            print(f"\ntime to {a.to_acc}: not reached (best {acc:.4f}) with: convlab train {a.recipe}")
        else:
            print(
                f"\ntime to {a.to_acc} test accuracy from process start (data loading included): "
                f"{secs:.1f} s (epoch {epoch}, accuracy {acc:.4f}) with: convlab train {a.recipe}"
            )


if __name__ == "__main__":
    sys.exit(main())
