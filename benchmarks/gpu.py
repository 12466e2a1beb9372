"""One prepared check of the CUDA path, finishing in a few minutes on one GPU (issue #30).

  1. convlab's ops against PyTorch's on the device (forward and gradients of conv2d, max_pool2d
     with indices, max_unpool2d, avg_pool2d; float64, float32 and bf16 autocast; random cases),
     every zoo model's two backends, and the ops benchmark table on the device;
  2. `lenet-modern` training throughput with the data on the device (batch 256 and 1024; eager
     float32, channels-last, bf16 autocast, both, torch.compile) against a plain PyTorch loop;
  3. time from process start to 0.91 Fashion-MNIST test accuracy (`lenet-modern`, recipes chosen
     for the GPU) and to 0.94 with `resnet`, each as a fresh `convlab train` process.

    python benchmarks/gpu.py [--device cuda] [--tiny] [--json FILE] [--sections 1,2,3] [--skip-compile]

`--device cpu --tiny` is the dry run of the same code on a CPU (small sizes, low targets).
Needs Fashion-MNIST where convlab finds it. Exit 1 if a check failed; figures are only printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
import gpu_checks
import ops as ops_bench

from convlab.data import load_dataset
from convlab.models import build_model
from convlab.train import TrainConfig, fit

VARIANTS = {  # name: TrainConfig options (section 2)
    "eager float32": dict(amp=False, channels_last=False),
    "eager channels-last": dict(amp=False, channels_last=True),
    "eager bf16": dict(amp=True, channels_last=False),
    "eager bf16 + channels-last": dict(amp=True, channels_last=True),
    "torch.compile bf16": dict(amp=True, channels_last=False, compile=True),
}
# (what, target accuracy, convlab train arguments, seconds allowed) for section 3
RECIPES = [
    ("lenet-modern 4 ep b256", 0.91, "--model lenet-modern --epochs 4 --batch-size 256 --lr 2e-2 --shift 0"),
    ("lenet-modern 5 ep b512", 0.91, "--model lenet-modern --epochs 5 --batch-size 512 --lr 2e-2 --shift 0"),
    ("resnet 16 ep b256", 0.94, "--model resnet --batch-size 256 --lr 6e-3"),
]


def plain_loop(ds, device, batch: int, images: int, epochs: int = 2) -> float:
    """Images/s of the last of `epochs` passes of a plain PyTorch loop: lenet-modern, data on the
    device, a fresh permutation per epoch, float32, AdamW; no augmentation, no schedule."""
    torch.manual_seed(0)
    model = build_model("lenet-modern").to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    x, y = ds.train_x[:images].to(device), ds.train_y[:images].to(device)
    mean, std = ds.pixel_stats()
    rate = 0.0
    for _ in range(epochs):
        sync(device)
        t = time.perf_counter()
        order = torch.randperm(len(y), device=device)
        for i in range(0, len(y) - batch + 1, batch):
            idx = order[i : i + batch]
            loss = F.cross_entropy(model((x[idx].float() / 255 - mean) / std), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        rate = (len(y) // batch) * batch / (time.perf_counter() - t)
    return rate


def sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fit_rate(ds, device, batch: int, images: int, epochs: int, options: dict) -> dict:
    """convlab's fit() on the first `images` images: the steady images/s (best epoch after the
    first, which carries warm-up and compilation), the first epoch's seconds, the final accuracy."""
    cfg = TrainConfig(model="lenet-modern", epochs=epochs, batch_size=batch, lr=1e-2, device=str(device),
                      max_train=images, eval_batch_size=10000, **options)  # fmt: skip
    with tempfile.TemporaryDirectory() as d:
        h = fit(cfg, out=d + "/run", dataset=ds, progress=False, log=lambda *a: None).history
    steady = max(row["images_per_s"] for row in h[1:]) if len(h) > 1 else h[0]["images_per_s"]
    return {"images_per_s": steady, "first_epoch_s": h[0]["elapsed_s"], "test_acc": h[-1]["test_acc"]}


def throughput(ds, device, a) -> list[dict]:
    """Section 2: one row per (variant, batch), the plain loop first."""
    rows = []
    for batch in a.batches:
        base = plain_loop(ds, device, batch, a.images)
        rows.append({"variant": "plain PyTorch loop (float32)", "batch": batch, "images_per_s": base, "ratio": 1.0})
        print(f"  {rows[-1]['variant']:<32s} batch {batch:5d}: {base:12,.0f} images/s", flush=True)
        for name, options in VARIANTS.items():
            if options.get("compile") and a.skip_compile:
                continue
            try:
                r = fit_rate(ds, device, batch, a.images, a.epochs, options)
            except Exception as e:  # reported as a failed row; the other rows still run
                rows.append({"variant": name, "batch": batch, "error": f"{type(e).__name__}: {e}"[:400]})
                print(f"  {name:<32s} batch {batch:5d}: FAILED {rows[-1]['error']}", flush=True)
                continue
            rows.append({"variant": name, "batch": batch, **r, "ratio": r["images_per_s"] / base})
            print(
                f"  {name:<32s} batch {batch:5d}: {r['images_per_s']:12,.0f} images/s ({rows[-1]['ratio']:.2f}×); "
                f"first epoch {r['first_epoch_s']:.2f} s; test acc {r['test_acc']:.4f}",
                flush=True,
            )
    return rows


def time_to_accuracy(args: str, target: float, limit_s: float) -> dict:
    """Wall seconds from starting `python -m convlab train ARGS` to its first epoch line at ≥ target
    (the process is then stopped); None if it finished or ran past `limit_s` without reaching it."""
    row: dict = {"args": args, "target": target, "seconds": None, "epoch": None, "best": 0.0}
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "convlab", "train", *args.split(), "--out", d + "/run", "--quiet"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            if time.perf_counter() - t0 > limit_s:
                break
            if not line.startswith("epoch"):
                row.setdefault("other", []).append(line.rstrip()[:300])
                continue
            acc = float(line.split("test acc")[1].split()[0])
            row["best"] = max(row["best"], acc)
            if acc >= target:
                row.update(seconds=time.perf_counter() - t0, epoch=int(line.split()[1].split("/")[0]), acc=acc)
                break
        proc.kill()
        proc.wait()
    return row


def startup_seconds(device) -> float:
    """Seconds for a fresh Python to import torch and convlab and make the device ready: the part of
    every time-to-accuracy that no recipe can shorten."""
    code = f"import torch, convlab.train; d = torch.device({str(device)!r}); torch.ones(1, device=d).sum().item()"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def to_accuracy(device, a) -> list[dict]:
    """Section 3: each recipe as a fresh process, from process start."""
    rows = [{"what": "python + import torch, convlab + device ready", "seconds": startup_seconds(device)}]
    print(f"  {rows[0]['what']:<46s} {rows[0]['seconds']:6.2f} s", flush=True)
    for what, target, args in RECIPES:
        target = a.tiny_target if a.tiny else target
        extra = f" --device {device} --eval-batch-size 10000" + (" --epochs 1 --max-train 2000" if a.tiny else "")
        row = {"what": what, **time_to_accuracy(args + extra, target, a.limit)}
        rows.append(row)
        took = (
            f"{row['seconds']:6.2f} s (epoch {row['epoch']}, acc {row['acc']:.4f})"
            if row["seconds"]
            else (f"not reached (best {row['best']:.4f})")
        )
        print(f"  {what:<28s} to {target}: {took}", flush=True)
        for line in row.get("other", [])[-3:]:
            print(f"      {line}")
    return rows


def correctness(device, a) -> tuple[dict, bool]:
    """Section 1: the ops and models checks and the ops timing table; (results, all passed)."""
    ops_rows = gpu_checks.check_ops(device, a.cases)
    print(gpu_checks.ops_table(ops_rows), flush=True)
    for r in ops_rows:
        if "error" in r:
            print(f"  {r['op']} {r['dtype']}: {r['error']}")
    names = ["lenet-modern", "resnet"] if a.tiny else None
    model_rows = gpu_checks.check_models(device, names)
    print("\n" + gpu_checks.models_table(model_rows), flush=True)
    print("\nops benchmark on the device (forward + backward, ms)")
    timing = ops_bench.run(8 if a.tiny else 1024, 2 if a.tiny else 30, device)
    print(ops_bench.table(timing), flush=True)
    ok = not any(r["failed"] for r in ops_rows) and all(r["ok"] for r in model_rows)
    return {"ops": ops_rows, "models": model_rows, "ops_timing": timing}, ok


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda (default), cuda:N, or cpu for the dry run")
    p.add_argument("--tiny", action="store_true", help="dry run: few cases, few images, low targets")
    p.add_argument("--sections", default="1,2,3", help="which sections to run (default 1,2,3)")
    p.add_argument("--json", help="also write every figure to this JSON file")
    p.add_argument("--data-dir", help="folder searched first for Fashion-MNIST")
    p.add_argument("--skip-compile", action="store_true", help="leave out the torch.compile rows")
    p.add_argument("--limit", type=float, default=60.0, help="seconds allowed per time-to-accuracy run (default 60)")
    a = p.parse_args(argv)
    a.cases, a.images, a.epochs = (5, 1024, 2) if a.tiny else (200, 60000, 2)
    a.batches = (64,) if a.tiny else (256, 1024)
    a.tiny_target = 0.5
    a.sections = {int(s) for s in a.sections.split(",")}
    return a


def main(argv=None) -> int:
    a = parse(argv)
    device = torch.device(a.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU: nothing to check (the dry run: --device cpu --tiny)")
        return 1
    torch.backends.cudnn.benchmark = True
    results: dict = {"hardware": ops_bench.hardware(device), "cuda": torch.version.cuda, "torch": torch.__version__}
    print(results["hardware"], f"CUDA {torch.version.cuda}", flush=True)
    ok = True

    def save() -> None:  # after every section: a run stopped by its time limit keeps what it measured
        if a.json:
            with open(a.json, "w") as f:
                json.dump(results, f, indent=1, default=str)

    if 1 in a.sections:
        print("\n1. convlab's ops and models against PyTorch's on the device", flush=True)
        results["correctness"], ok = correctness(device, a)
        save()
    ds = load_dataset("fashion-mnist", data_dir=a.data_dir, progress=False)
    if 3 in a.sections:
        print("\n3. time from process start to the target accuracy", flush=True)
        results["to_accuracy"] = to_accuracy(device, a)
        save()
    if 2 in a.sections:
        print("\n2. lenet-modern training throughput, data on the device", flush=True)
        results["throughput"] = throughput(ds, device, a)
        ok = ok and not any("error" in r for r in results["throughput"])
        save()
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
