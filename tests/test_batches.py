"""Every batch size works with every model and data size: a last batch too small to train on is
folded into the one before it, every process gets the same number of images per step, and
evaluation sees every test image exactly once."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import make_images
from convlab.data.dataset import ImageDataset
from convlab.data.loader import MIN_BATCH_PER_PROCESS, Loader, batch_bounds
from convlab.models import MODELS
from convlab.train import TrainConfig, fit

HELPER = Path(__file__).parent / "helpers" / "batch_matrix.py"


@pytest.mark.parametrize("world", [1, 2, 3])
def test_training_batches_fold_a_small_tail_and_split_evenly(world):
    for n in range(2 * world, 70):
        for bs in range(MIN_BATCH_PER_PROCESS * world, 33, world):
            bounds = batch_bounds(n, bs, world, MIN_BATCH_PER_PROCESS)
            sizes = [b - a for a, b in bounds]
            assert bounds[0][0] == 0 and all(bounds[i][1] == bounds[i + 1][0] for i in range(len(bounds) - 1))
            assert all(s % world == 0 and s // world >= MIN_BATCH_PER_PROCESS for s in sizes), (n, bs, sizes)
            assert n - world < sum(sizes) <= n  # at most world - 1 images left out of an epoch
            assert all(s <= bs + MIN_BATCH_PER_PROCESS * world for s in sizes)  # a fold adds only a small tail


def test_evaluation_batches_cover_every_image_once():
    for n in range(1, 40):
        for bs in range(1, 12):
            assert sum(b - a for a, b in batch_bounds(n, bs)) == n


@pytest.mark.parametrize("world", [2, 3])
def test_every_process_gets_the_same_images_per_step(world):
    x, y = make_images(37, 4)
    shares = [
        [len(yb) for _, yb in Loader(x, y, 6, 0.0, 1.0, shuffle=True, shard=(r, world), min_batch_per_process=2)]
        for r in range(world)
    ]
    assert all(s == shares[0] for s in shares)
    seen = torch.cat([yb for r in range(world) for _, yb in Loader(x, y, 6, 0.0, 1.0, shard=(r, world))])
    assert len(seen) == 37  # evaluation: every image exactly once


def small_dataset(n_train, n_test=20):
    x, y = make_images(n_train, 4, seed=1)
    tx, ty = make_images(n_test, 4, seed=2)
    return ImageDataset("bars", ["a", "b", "c", "d"], x, y, tx, ty, "generated")


QUICK = ("lenet", "lenet-modern", "resnet")  # the fast tier; the full suite takes every model


@pytest.mark.parametrize(
    "model", [m if m in QUICK else pytest.param(m, marks=pytest.mark.slow) for m in sorted(MODELS)]
)
@pytest.mark.parametrize("n", [17, 18, 3])  # N mod 8 = 1, 2, and a single short batch
def test_every_model_trains_on_awkward_sizes_in_one_process(model, n, tmp_path):
    ds = small_dataset(n)
    r = fit(
        TrainConfig(model=model, epochs=1, batch_size=8, seed=0),
        out=tmp_path / "run",
        dataset=ds,
        progress=False,
        log=lambda *a: None,
    )
    assert r.final["epoch"] == 1 and torch.isfinite(torch.tensor(r.final["train_loss"]))


def test_too_few_images_is_a_clear_error(tmp_path):
    from convlab.errors import UserError

    with pytest.raises(UserError, match="too few"):
        fit(TrainConfig(epochs=1), out=tmp_path / "r", dataset=small_dataset(1), progress=False, log=lambda *a: None)


@pytest.mark.slow
def test_every_model_trains_on_awkward_sizes_in_two_processes(tmp_path):
    """One torchrun job (2 processes) trains every model on N mod 8 ∈ {1, 2} with global batch 8."""
    out = tmp_path / "results.json"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(HELPER)]
    r = subprocess.run([*cmd, str(tmp_path), str(out)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(out.read_text())
    assert {(row["model"], row["n"]) for row in results} == {(m, n) for m in MODELS for n in (17, 18)}
    for row in results:
        assert row["equal_shares"] and row["finite"], row
        assert row["test_seen"] == 20  # evaluation saw every test image once, across both processes
