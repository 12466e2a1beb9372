"""Where the suite's time goes: a pytest plugin that measures each test's wall time and CPU time
(this process and every subprocess it waited for: the CLI, torchrun and its workers, browsers),
and prints a table by file and the slowest tests at the end.

    PYTHONPATH=scripts .venv/bin/python -m pytest -p test_times tests/test_reliability.py
    TEST_TIMES_JSONL=times.jsonl ...   (also one JSON line per test, to add up runs of single files)

CPU seconds are the figure to compare on a shared machine: wall time there grows with the other
work running, CPU time much less. On an idle 2-core machine a test's wall time is about its CPU
time, or half of it where PyTorch keeps both cores busy, plus whatever it waits for (timeouts,
sleeps). docs/ci.md uses it.
"""

from __future__ import annotations

import json
import os
import resource
import time
from collections import defaultdict

import pytest

_rows: list[dict] = []


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    wall, cpu = time.monotonic(), _cpu()
    yield
    row = {"id": item.nodeid, "wall_s": time.monotonic() - wall, "cpu_s": _cpu() - cpu}
    row["slow"] = item.get_closest_marker("slow") is not None
    _rows.append(row)
    if path := os.environ.get("TEST_TIMES_JSONL"):
        with open(path, "a") as f:
            f.write(json.dumps(row) + "\n")


def pytest_terminal_summary(terminalreporter):
    if not _rows:
        return
    by_file: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for r in _rows:
        f = by_file[r["id"].split("::")[0]]
        f[0] += 1
        f[1] += r["wall_s"]
        f[2] += r["cpu_s"]
    write = terminalreporter.write_line
    write(f"\n{'file':<40s} {'tests':>6s} {'wall s':>8s} {'CPU s':>8s}")
    for name, (n, wall, cpu) in sorted(by_file.items(), key=lambda kv: -kv[1][2]):
        write(f"{name:<40s} {n:>6d} {wall:>8.1f} {cpu:>8.1f}")
    total_wall, total_cpu = sum(r["wall_s"] for r in _rows), sum(r["cpu_s"] for r in _rows)
    write(f"{'all':<40s} {len(_rows):>6d} {total_wall:>8.1f} {total_cpu:>8.1f}")
    write("\nthe 15 tests with the most CPU time (s):")
    for r in sorted(_rows, key=lambda r: -r["cpu_s"])[:15]:
        write(f"{r['cpu_s']:>8.1f} CPU {r['wall_s']:>8.1f} wall  {r['id']}")
