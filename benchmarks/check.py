"""How long `convlab check` takes on a file with every exercise, and how many cases each runs.

  1. the whole command as a fresh process (`convlab check tests/check_files/all_exercises.py`),
     beside the baseline every check pays: a fresh process that only imports torch;
  2. each exercise on its own (in one learner process): generated cases, shrinking calls, seconds.
Target (2-core CPU): the whole command under 30 s.

    python benchmarks/check.py [--file tests/check_files/all_exercises.py] [--repeats 3] [--budget 1]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ops import hardware

from convlab.check.messages import Messages
from convlab.check.runs import run_exercise, select
from convlab.check.sandbox import Sandbox

REPO = Path(__file__).resolve().parents[1]


def wall(cmd: list[str]) -> tuple[float, int]:
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    return time.perf_counter() - t, r.returncode


def per_exercise(path: str, budget: float) -> list[tuple[str, str, int, int, float]]:
    rows = []
    with Sandbox(path) as box:
        chosen, _ = select(box.start(), path, None, None, Messages("en"))
        for ex, name in chosen:
            t = time.perf_counter()
            r = run_exercise(ex, name, box, 10.0, budget)
            rows.append((ex.key, r.status, r.cases, r.shrinks, time.perf_counter() - t))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--file", default="tests/check_files/all_exercises.py", help="the learner's file (default: every exercise)"
    )
    p.add_argument("--repeats", type=int, default=3, help="fresh processes timed (default 3)")
    p.add_argument("--budget", type=float, default=1.0, help="scale of every exercise's cases (default 1)")
    args = p.parse_args()
    print(hardware(torch.device("cpu")))
    cmd = [sys.executable, "-m", "convlab", "check", args.file, "--lang", "en", "--budget", str(args.budget)]
    runs = [wall(cmd) for _ in range(args.repeats)]
    base = [wall([sys.executable, "-c", "import torch"])[0] for _ in range(args.repeats)]
    print(f"\n{'':34s} {'median s':>9s} {'min s':>7s}  exit")
    times, codes = [t for t, _ in runs], sorted({c for _, c in runs})
    print(f"{'convlab check (whole file)':34s} {statistics.median(times):9.1f} {min(times):7.1f}  {codes}")
    baseline = "baseline: python -c 'import torch'"
    print(f"{baseline:34s} {statistics.median(base):9.1f} {min(base):7.1f}")
    print(f"\n{'exercise':26s} {'status':8s} {'cases':>6s} {'shrinks':>8s} {'seconds':>8s}")
    for key, status, cases, shrinks, secs in per_exercise(args.file, args.budget):
        print(f"{key:26s} {status:8s} {cases:6d} {shrinks:8d} {secs:8.1f}")


if __name__ == "__main__":
    main()
