"""convlab's first-principles ops vs PyTorch's, forward + backward, side by side.

For every convolution and pooling shape in `lenet` and `lenet-modern` (plus two larger
shapes) this times one forward and backward pass of PyTorch's op (NCHW input, its default)
and of convlab's, with the input stored NCHW and batch-last (the layout convlab's `lenet`
runs in), in the same process, alternating them. It prints the median of the repeats,
the ratios, and the memory each keeps for its backward pass (autograd's saved-tensor hooks).

    python benchmarks/ops.py [--batch 256] [--repeats 30] [--device cpu|cuda] [--threads N]
                             [--default-allocator]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from convlab import __version__, ops, runtime

CASES = [  # (name, kind, input (C, H, W), kwargs)
    ("lenet conv1 1→6 5×5 p2 (no input grad)", "conv", (1, 28, 28), dict(out=6, k=5, padding=2, first=True)),
    ("lenet avgpool1 2×2", "avg", (6, 28, 28), dict(k=2)),
    ("lenet conv2 6→16 5×5", "conv", (6, 14, 14), dict(out=16, k=5, padding=0)),
    ("lenet avgpool2 2×2", "avg", (16, 10, 10), dict(k=2)),
    ("modern maxpool1 2×2", "max", (6, 28, 28), dict(k=2)),
    ("modern maxpool2 2×2", "max", (16, 10, 10), dict(k=2)),
    ("large conv 64→64 3×3 p1 32×32", "conv", (64, 32, 32), dict(out=64, k=3, padding=1, batch=64)),
    ("large maxpool 3×3 s2 p1 64×32×32", "max", (64, 32, 32), dict(k=3, stride=2, padding=1, batch=64)),
]


def hardware(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return (
        f"{cpu}, {torch.get_num_threads()} threads{gpu}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, convlab {__version__}"
    )


def set_allocator(default: bool) -> str:
    """Keep freed memory, as `convlab train` does (unless default): the header line saying which."""
    kept = not default and runtime.keep_freed_memory()
    return f"allocator: {'freed memory kept (convlab.runtime, as convlab train does)' if kept else 'C library default'}"


def make(kind, shape, kw, batch, device, batch_last=False):
    g = torch.Generator().manual_seed(0)
    b = kw.get("batch", batch)
    x = torch.randn((b, *shape), generator=g).to(device)
    if batch_last:
        x = ops.to_batch_last(x)
    # a model's first layer needs no gradient for its input: time it the way training runs it
    x.requires_grad_(not kw.get("first", False))
    if kind == "conv":
        w = (torch.randn(kw["out"], shape[0], kw["k"], kw["k"], generator=g) * 0.1).to(device).requires_grad_()
        bias = torch.zeros(kw["out"], device=device, requires_grad=True)
        return [t for t in (x, w, bias) if t.requires_grad], (lambda f: lambda: f(x, w, bias, padding=kw["padding"]))
    pool = dict(kernel_size=kw["k"], stride=kw.get("stride", kw["k"]), padding=kw.get("padding", 0))
    return [x], (lambda f: lambda: f(x, **pool))


def step(fn, inputs, gy=None):
    y = fn()
    y.backward(torch.ones_like(y) if gy is None else gy)
    for t in inputs:
        t.grad = None


def saved_bytes(fn) -> int:
    """Bytes autograd keeps alive between forward and backward."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = fn()
    del y
    return total


def timed(fn, inputs, device, repeats):
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    sync()
    t = time.perf_counter()
    step(fn, inputs)
    sync()
    return time.perf_counter() - t


def run(batch: int, repeats: int, device: torch.device, only=None) -> list[dict]:
    rows = []
    for name, kind, shape, kw in CASES:
        if only and only not in name:
            continue
        ours_op = {"conv": ops.conv2d, "avg": ops.avg_pool2d, "max": ops.max_pool2d}[kind]
        inputs, bind = make(kind, shape, kw, batch, device)
        inputs_bl, bind_bl = make(kind, shape, kw, batch, device, batch_last=True)
        variants = {
            "torch": (bind({"conv": F.conv2d, "avg": F.avg_pool2d, "max": F.max_pool2d}[kind]), inputs),
            "nchw": (bind(ours_op), inputs),
            "bl": (bind_bl(ours_op), inputs_bl),
        }
        for _ in range(3):  # warm up all
            for fn, ins in variants.values():
                step(fn, ins)
        times = {k: [] for k in variants}
        for _ in range(repeats):  # alternate, so drifts in machine load hit all alike
            for k, (fn, ins) in variants.items():
                times[k].append(timed(fn, ins, device, repeats))
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {"case": name, "batch": kw.get("batch", batch), "torch_ms": 1e3 * med["torch"]}
        for k in ("nchw", "bl"):
            row[f"{k}_ms"], row[f"{k}_ratio"] = 1e3 * med[k], med[k] / med["torch"]
        for k, (fn, _) in variants.items():
            row[f"{k}_saved_mib"] = saved_bytes(fn) / 2**20
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    head = (
        f"{'case':<40s} {'batch':>5s} {'torch ms':>9s} {'convlab NCHW':>17s} {'convlab batch-last':>19s}"
        f"  saved MiB (torch / NCHW / batch-last)"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['case']:<40s} {r['batch']:5d} {r['torch_ms']:9.2f} "
            f"{r['nchw_ms']:9.2f} ({r['nchw_ratio']:4.2f}×) {r['bl_ms']:10.2f} ({r['bl_ratio']:4.2f}×)"
            f"  {r['torch_saved_mib']:.1f} / {r['nchw_saved_mib']:.1f} / {r['bl_saved_mib']:.1f}"
        )
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=256, help="batch size for the LeNet shapes (default 256)")
    p.add_argument("--repeats", type=int, default=30, help="timed repeats per case (default 30)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")
    p.add_argument("--only", help="run only cases whose name contains this")
    p.add_argument(
        "--default-allocator",
        action="store_true",
        help="leave the C library's allocator settings alone (default: keep freed memory)",
    )
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    allocator = set_allocator(a.default_allocator)
    print(hardware(device))
    print(allocator)
    print(f"forward + backward, median of {a.repeats} alternating repeats\n")
    print(table(run(a.batch, a.repeats, device, a.only)))


if __name__ == "__main__":
    sys.exit(main())
