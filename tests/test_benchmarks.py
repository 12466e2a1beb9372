"""Each benchmark script runs once in a tiny configuration, so none of them can rot.
(They are measurements, not timed tests: nothing here asserts a speed.)"""

import subprocess
import sys

import pytest

from conftest import REPO

pytestmark = pytest.mark.slow


def run(*args):
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=REPO)


def test_ops_benchmark_tiny():
    r = run("benchmarks/ops.py", "--batch", "4", "--repeats", "1", "--only", "lenet")
    assert r.returncode == 0, r.stderr
    assert "batch-last" in r.stdout and "lenet conv2" in r.stdout and "threads" in r.stdout


def test_train_benchmark_tiny(fashion_dir):
    r = run(
        "benchmarks/train.py",
        "--images",
        "512",
        "--repeats",
        "1",
        "--to-acc",
        "0.5",
        "--recipe",
        "--model lenet-modern --epochs 1 --max-train 2000",
    )
    assert r.returncode == 0, r.stderr
    assert "(c) convlab fit, convlab ops" in r.stdout and "time to 0.5" in r.stdout


def test_gpu_script_says_so_without_a_gpu():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: run benchmarks/gpu.py by hand")
    r = run("benchmarks/gpu.py")
    assert r.returncode == 1 and "no CUDA GPU" in r.stdout


def test_distributed_benchmark_tiny(fashion_dir):
    r = run("benchmarks/distributed.py", "--images", "1024", "--epochs", "1")
    assert r.returncode == 0, r.stderr
    assert "2 processes" in r.stdout


def test_web_benchmark_tiny(fashion_dir):
    r = run("benchmarks/web.py", "--requests", "5", "--clients", "3", "--seconds", "2")
    assert "1. one client" in r.stdout and "2. 3 clients" in r.stdout and "3. the same class" in r.stdout, r.stderr
    assert "training meanwhile" in r.stdout and " 0 " in r.stdout.split("2. 3 clients")[1]  # 0 errors


def test_why_benchmark_tiny(fashion_dir):
    r = run("benchmarks/why.py", "--repeats", "3")
    assert "POST /api/why gradcam" in r.stdout and "forward (baseline)" in r.stdout, r.stderr


def test_check_benchmark_tiny():
    r = run("benchmarks/check.py", "--repeats", "1", "--budget", "0.05")
    assert r.returncode == 0, r.stderr
    assert "convlab check (whole file)" in r.stdout and "import torch" in r.stdout and "LeNet" in r.stdout
