"""Images/s of 1 vs 2 training processes (torchrun, gloo) on this machine, side by side.

Same data, model (`lenet`), global batch and epochs; the rate is the training images per
second of the epochs after the first, read from each run's metrics.csv.

    python benchmarks/distributed.py [--images 20000] [--epochs 3] [--batch 256]
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ops import hardware


def rate(nproc: int, a) -> float:
    with tempfile.TemporaryDirectory() as d:
        cmd = [
            sys.executable,
            "-m",
            "convlab",
            "train",
            "--model",
            "lenet",
            "--epochs",
            str(a.epochs),
            "--batch-size",
            str(a.batch),
            "--max-train",
            str(a.images),
            "--out",
            d + "/run",
            "--quiet",
        ]
        if nproc > 1:
            cmd += ["--nproc", str(nproc)]
        for attempt in (1, 2):  # a throughput benchmark, not a reliability test (tests/test_distributed.py)
            r = subprocess.run(cmd + (["--force"] if attempt > 1 else []), capture_output=True, text=True)
            if r.returncode == 0:
                break
            print(
                f"{nproc}-process run failed (exit {r.returncode}), attempt {attempt}:\n{r.stderr[-3000:]}",
                file=sys.stderr,
            )
        else:
            raise SystemExit(f"{nproc}-process run failed twice; see above")
        with open(d + "/run/metrics.csv") as f:
            rows = list(csv.DictReader(f))
    steady = rows[1:] or rows
    return sum(float(r["images_per_s"]) for r in steady) / len(steady)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=20000)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=256, help="global batch size")
    a = p.parse_args(argv)
    print(hardware(torch.device("cpu")) + f"; {os.cpu_count()} CPUs visible")
    one, two = rate(1, a), rate(2, a)
    print(f"\nlenet, global batch {a.batch}, {a.images} images, {a.epochs} epochs\n")
    print(f"{'processes':<12s} {'images/s':>10s} {'speed-up':>9s}")
    print(f"{'1 process':<12s} {one:10,.0f} {1.0:8.2f}×")
    print(f"{'2 processes':<12s} {two:10,.0f} {two / one:8.2f}×")


if __name__ == "__main__":
    sys.exit(main())
