"""bf16 autocast against float32 on this CPU: training steps of `lenet-modern` and of a zoo model
whose recipe asks for bf16 (CPU_RECIPE), side by side in one process.

bf16 pays on CPUs that multiply it natively (Intel AMX, AVX-512 BF16); on AVX2-only CPUs PyTorch
emulates it. `config.resolve` chooses the recipes' bf16 by `runtime.bf16_native`; this script
measures what that choice is worth here.

    python benchmarks/amp.py [--models lenet-modern,resnet] [--batch 128] [--steps 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from convlab import runtime
from convlab.models import build_model
from convlab.runtime import bf16_native

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from ops import hardware


def steps_per_s(model, opt, x, y, amp: bool, steps: int) -> float:
    """Training steps per second: `steps` forward + backward + AdamW steps on one batch."""
    t = time.perf_counter()
    for _ in range(steps):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps / (time.perf_counter() - t)


def compare(name: str, batch: int, steps: int, repeats: int) -> dict:
    """Median images/s of float32 and bf16 autocast, alternating repeats (so drifts hit both)."""
    torch.manual_seed(0)
    model = build_model(name)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = torch.randn(batch, 1, 28, 28), torch.randint(0, 10, (batch,))
    for amp in (False, True):  # warm up both
        steps_per_s(model, opt, x, y, amp, 2)
    rates: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(repeats):
        for amp in (False, True):
            rates[amp].append(batch * steps_per_s(model, opt, x, y, amp, steps))
    f32, bf16 = statistics.median(rates[False]), statistics.median(rates[True])
    return {"model": name, "batch": batch, "float32": f32, "bf16": bf16, "ratio": bf16 / f32}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="lenet-modern,resnet", help="comma-separated (default lenet-modern,resnet)")
    p.add_argument("--batch", type=int, default=128, help="batch size (default 128, the trainer's)")
    p.add_argument("--steps", type=int, default=10, help="training steps per timed repeat (default 10)")
    p.add_argument("--repeats", type=int, default=5, help="alternating repeats (default 5)")
    a = p.parse_args(argv)
    runtime.keep_freed_memory()
    print(hardware(torch.device("cpu")))
    cap = torch.backends.cpu.get_cpu_capability()
    print(f"CPU capability {cap}; native bf16: {'yes' if bf16_native(torch.device('cpu')) else 'no'}")
    print(f"training steps (forward + backward + AdamW), median of {a.repeats} alternating repeats\n")
    head = f"{'model':<14s} {'batch':>5s} {'float32 img/s':>14s} {'bf16 img/s':>11s} {'bf16 / float32':>15s}"
    print(head + "\n" + "-" * len(head))
    for name in a.models.split(","):
        r = compare(name, a.batch, a.steps, a.repeats)
        print(f"{name:<14s} {r['batch']:5d} {r['float32']:14,.0f} {r['bf16']:11,.0f} {r['ratio']:14.2f}×")
    return 0


if __name__ == "__main__":
    sys.exit(main())
