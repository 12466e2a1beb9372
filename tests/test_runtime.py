"""convlab.runtime: with freed memory kept, a training-like allocation churn stops paying
page faults (the kernel's own fault counter is the oracle; each case runs in a fresh
process, since the setting is process-wide)."""

import platform
import subprocess
import sys

import pytest

CHURN = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from convlab import runtime
    assert runtime.keep_freed_memory()
def churn():  # activation-sized blocks freed and reallocated, as in a training step
    a = torch.ones(5_000_000); b = torch.ones(12_000_000); del a; c = torch.ones(3_000_000); del b, c
churn()
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def faults(mode: str) -> int:
    r = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1])


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="not applicable here: glibc only"
)
@pytest.mark.slow
def test_keeping_freed_memory_cuts_page_faults():
    default, kept = faults("default"), faults("keep")
    assert kept * 4 < default, (kept, default)
