"""Multi-process training with torchrun (gloo on CPU): agreement, resume, failures."""

import csv
import os
import signal
import subprocess
import sys

import pytest

from conftest import assert_user_error, run_cli, write_idx_folder
from convlab.checkpoint import load_state

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Fashion-MNIST's first 3,000 training and 1,000 test images as an IDX folder."""
    from conftest import fashion_folder
    from convlab.data import load_dataset

    fashion_folder()  # (the real data, not a stand-in: skipped without it, failed under CI)
    d = tmp_path_factory.mktemp("ddp")
    ds = load_dataset("fashion-mnist", progress=False)
    x, y, tx, ty = ds.train_x[:3000], ds.train_y[:3000], ds.test_x[:1000], ds.test_y[:1000]
    return write_idx_folder(d, x, y, tx, ty)


def args(data, out, epochs=3, *extra):
    return [
        "train",
        "--data",
        data,
        "--model",
        "lenet",
        "--epochs",
        str(epochs),
        "--batch-size",
        "128",
        "--seed",
        "1",
        "--out",
        out,
        "--quiet",
        *extra,
    ]


def rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_two_processes_match_one_process_of_the_same_global_batch(data, tmp_path):
    one = run_cli(*args(data, tmp_path / "one"))
    two = run_cli(*args(data, tmp_path / "two"), "--nproc", "2")
    assert one.returncode == 0 and two.returncode == 0, two.stderr
    assert two.stdout.count("final test accuracy") == 1  # only rank 0 speaks
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # one run folder
    for a, b in zip(rows(tmp_path / "one"), rows(tmp_path / "two")):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)
        assert float(a["test_acc"]) == pytest.approx(float(b["test_acc"]), abs=0.005)


def test_resume_a_two_process_run_with_two_or_one_processes(data, tmp_path):
    ref = tmp_path / "ref"
    assert run_cli(*args(data, ref, 3), "--nproc", "2").returncode == 0
    cut = tmp_path / "cut"
    # rank 0 (the only writer) dies in the middle of its 8th write (job.json, epoch 1's five files,
    # epoch 2's state.pt, then epoch 2's weights)
    r = run_cli(*args(data, cut, 3), "--nproc", "2", env={"CONVLAB_TEST_KILL_AT_WRITE": "8"})
    assert r.returncode != 0 and "a training process failed" in r.stderr
    assert load_state(cut).epoch == 2
    import shutil

    shutil.copytree(cut, tmp_path / "cut1")
    r = run_cli("train", "--resume", cut, "--nproc", "2", "--quiet")
    assert r.returncode == 0, r.stderr
    assert [(a["train_loss"], a["test_acc"]) for a in rows(cut)] == [
        (a["train_loss"], a["test_acc"]) for a in rows(ref)
    ]
    r = run_cli("train", "--resume", tmp_path / "cut1", "--quiet")  # the same run, continued by one process
    assert r.returncode == 0, r.stderr
    for a, b in zip(rows(tmp_path / "cut1"), rows(ref)):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-4)


def test_a_crashed_rank_stops_the_job(data, tmp_path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "convlab", *map(str, args(data, tmp_path / "r", 100)), "--nproc", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in proc.stdout:  # blocks until rank 0 reports its first epoch: both workers are running
        if line.startswith("epoch   1/"):
            break
    # torchrun's agent runs inside `convlab train --nproc`: the workers are its children
    workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(workers) == 2
    os.kill(int(workers[-1]), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)  # must not hang
    assert proc.returncode == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "a training process failed: rank" in err and "was killed by signal SIGKILL" in err


def test_inconsistent_arguments_across_ranks(data, tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = []
    for rank, epochs in ((0, 2), (1, 3)):
        env = {
            **os.environ,
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "convlab", *map(str, args(data, tmp_path / "x", epochs))],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for p in procs:
        out, err = p.communicate(timeout=120)
        r = subprocess.CompletedProcess(p.args, p.returncode, out, err)
        assert_user_error(r, "different arguments")
    assert not (tmp_path / "x" / "state.pt").exists()
