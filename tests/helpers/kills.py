"""What the kill tests share (tests/test_reliability.py, tests/test_elastic.py): the small
learnable data they train on, the bitwise comparison of a resumed run with an uninterrupted one,
and the figures each writes to artifacts/ for docs/reliability.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from conftest import ARTIFACTS, make_images, write_idx_folder
from convlab.checkpoint import load_state

EXACT = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr")  # not the timing columns


def bars_folder(tmp_path_factory, name: str, n_train: int, n_test: int = 256) -> Path:
    """An IDX folder of `make_images` bars (4 classes): n_train training and n_test test images."""
    folder = tmp_path_factory.mktemp(name)
    return write_idx_folder(folder, *make_images(n_train, 4, seed=3), *make_images(n_test, 4, seed=4))


def figures_fixture(name: str, figures: dict):
    """A module-scoped autouse fixture that writes `figures` to artifacts/NAME once its tests ran."""

    @pytest.fixture(scope="module", autouse=True)
    def report():
        yield
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / name).write_text(json.dumps(figures, indent=2))

    return report


def metrics(run: Path) -> list[dict]:
    with open(run / "metrics.csv") as f:
        return [{k: r[k] for k in EXACT} for r in csv.DictReader(f)]


def assert_same_training_state(run: Path, reference: Path):
    """Weights, optimizer state (moments, step counts), RNG and exact metrics: bitwise equal."""
    a, b = load_state(run), load_state(reference)
    assert a.epoch == b.epoch
    assert a.model.keys() == b.model.keys()
    for k in a.model:
        assert torch.equal(a.model[k], b.model[k]), k
    assert_equal_nested(a.optimizer, b.optimizer)
    assert torch.equal(a.rng, b.rng)
    assert metrics(run) == metrics(reference)


def assert_equal_nested(x, y, where="optimizer"):
    assert type(x) is type(y), where
    if isinstance(x, torch.Tensor):
        assert torch.equal(x, y), where
    elif isinstance(x, dict):
        assert x.keys() == y.keys(), where
        for k in x:
            assert_equal_nested(x[k], y[k], f"{where}.{k}")
    elif isinstance(x, (list, tuple)):
        assert len(x) == len(y), where
        for i, (u, v) in enumerate(zip(x, y)):
            assert_equal_nested(u, v, f"{where}[{i}]")
    else:
        assert x == y, where
