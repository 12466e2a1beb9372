"""The model zoo on Fashion-MNIST: train every architecture with its recipe on this machine, and
record what `convlab zoo` shows — test accuracy, epochs, wall time, and training throughput
against the textbook's loop for the same model.

For each model, in one process:
  1. `fit()` with `TrainConfig.for_model(name)` (the recipe kept beside the model) on all 60,000
     training images; the test accuracy of the last epoch, the epoch count, the training wall time
     and the time to reach 0.91 and 0.94 are recorded;
  2. throughput, side by side on the same images: (a) the textbook's loop — a per-sample Dataset,
     a DataLoader and plain PyTorch (float32) — and (b) convlab's `fit()` with the recipe
     (bf16 and channels-last where the recipe asks for them); images/s of each and the ratio.
The results go to `src/convlab/models/zoo.json` (the file `convlab zoo` reads) with the hardware
and versions; nothing in the table is typed by hand.

    python benchmarks/zoo.py [--models resnet,vgg] [--out FILE] [--runs DIR] [--tiny]

`--tiny` (the test suite's check) trains on 512 images for one epoch and writes to --out only.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from datetime import date
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops import hardware, set_allocator
from train import convlab_fit, reference_loop

from convlab.config import TrainConfig
from convlab.data import load_dataset
from convlab.fsutil import atomic_write_text
from convlab.introspect import summary
from convlab.models import MODELS
from convlab.train import fit

RESULTS = Path(__file__).resolve().parents[1] / "src" / "convlab" / "models" / "zoo.json"
TARGETS = (0.91, 0.94, 0.95)


def train_one(name: str, ds, runs: Path, tiny: bool) -> dict:
    cfg = TrainConfig.for_model(name, dataset="fashion-mnist", **({"epochs": 1, "max_train": 512} if tiny else {}))
    t0 = time.perf_counter()
    result = fit(cfg, out=runs / name, force=True, dataset=ds, progress=False)
    wall = time.perf_counter() - t0
    history = result.history
    reached = {
        str(target): next(
            ({"epoch": h["epoch"], "seconds": round(h["elapsed_s"], 1)} for h in history if h["test_acc"] >= target),
            None,
        )
        for target in TARGETS
    }
    return {
        "test_acc": history[-1]["test_acc"],
        "best_test_acc": max(h["test_acc"] for h in history),
        "epochs": len(history),
        "train_seconds": round(history[-1]["elapsed_s"], 1),
        "wall_seconds": round(wall, 1),
        "reached": reached,
        "config": cfg.to_dict(),
        "run": str(runs / name),
    }


def throughput(name: str, ds, images: int) -> dict:
    cfg = TrainConfig.for_model(name)
    options = {"amp": cfg.amp, "channels_last": cfg.channels_last}
    textbook = reference_loop(ds, images, 128, 1e-3, 0, model_name=name)
    ours = convlab_fit(ds, images, 128, 1e-3, 0, "torch", model_name=name, **options)
    return {
        "textbook_images_per_s": round(textbook),
        "convlab_images_per_s": round(ours),
        "ratio": round(ours / textbook, 2),
    }


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated (default: all)")
    p.add_argument("--out", default=str(RESULTS), help=f"results file (default {RESULTS})")
    p.add_argument("--runs", default="runs/zoo", help="where each model's run folder goes (default runs/zoo)")
    p.add_argument("--images", type=int, default=3072, help="images per throughput measurement (default 3072)")
    p.add_argument("--tiny", action="store_true", help="a one-epoch, 512-image smoke run")
    a = p.parse_args(argv)
    names = [n for n in a.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        p.error(f"unknown model(s): {', '.join(unknown)}")
    allocator = set_allocator(False)
    machine = hardware(torch.device("cpu"))
    print(machine)
    print(allocator)
    ds = load_dataset("fashion-mnist", progress=False)
    out = Path(a.out)
    results = json.loads(out.read_text()) if out.is_file() and not a.tiny else {"models": {}}
    results.update(
        machine=machine,
        torch=torch.__version__,
        python=platform.python_version(),
        date=str(date.today()),
        dataset="fashion-mnist (60,000 train / 10,000 test)",
    )
    print(f"{'model':<14}{'params':>11}{'mult-adds':>14}{'test acc':>10}{'epochs':>8}{'train s':>9}"
          f"{'textbook img/s':>16}{'convlab img/s':>15}{'ratio':>7}")  # fmt: skip
    for name in names:
        s = summary(
            MODELS[name].build(10, 1, (28, 28), __import__("convlab.layers").layers.Layers("torch")), (1, 28, 28)
        )
        row = {"params": s.total_params, "macs": s.total_macs}
        row.update(train_one(name, ds, Path(a.runs), a.tiny))
        row.update(throughput(name, ds, 256 if a.tiny else a.images))
        results["models"][name] = row
        print(f"{name:<14}{row['params']:>11,}{row['macs']:>14,}{row['test_acc']:>10.4f}{row['epochs']:>8}"
              f"{row['train_seconds']:>9.1f}{row['textbook_images_per_s']:>16,}{row['convlab_images_per_s']:>15,}"
              f"{row['ratio']:>6.2f}×", flush=True)  # fmt: skip
        atomic_write_text(out, json.dumps(results, indent=1) + "\n")  # after every model: partial results survive
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
