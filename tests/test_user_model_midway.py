"""Your own network whose forward fails only after the fit check — on the last, short training batch,
or on a batch of the end-of-epoch evaluation — is reported as the fit check reports it: your
traceback (your file's frames only), one line naming what was being done, exit 2; while an error
raised inside convlab's own code (its ops swapped into your network) stays a bug with its whole
traceback (exit 1). Oracle: the batches counted by hand (100 images in batches of 32: 32, 32, 32, 4;
10,000 test images in batches of 3,000: the last one 1,000)."""

from __future__ import annotations

import pytest

from conftest import run_here

NET = '''
import torch
from torch import nn


class Picky(nn.Module):
    """A small network that refuses one batch size."""

    def __init__(self, num_classes=10, in_channels=1, refuse=4):
        super().__init__()
        self.refuse = refuse
        self.conv = nn.Conv2d(in_channels, 4, 5, stride=4)
        self.head = nn.Linear(4 * 6 * 6, num_classes)

    def forward(self, x):
        if x.shape[0] == self.refuse:
            raise ValueError(f"Picky takes no batch of {self.refuse}")  # (the line the traceback shows)
        return self.head(torch.flatten(self.conv(x), 1))


class Strict(Picky):
    """Traceable into a graph (the playground draws what it traces): takes batches of 32 at most."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__(num_classes, in_channels)
        self.register_buffer("rows", torch.zeros(32, num_classes))

    def forward(self, x):
        return self.head(torch.flatten(self.conv(x), 1)) + self.rows.narrow(0, 0, x.size(0))  # (the line that fails)
'''

TRAIN = ["train", "--dataset", "fashion-mnist", "--max-train", "100", "--batch-size", "32", "--epochs", "1", "--quiet"]


def _net(tmp_path):
    path = tmp_path / "picky.py"
    path.write_text(NET)
    return path


@pytest.mark.parametrize(
    ("refuse", "where"),
    [
        ("4", "in training (epoch 1, batch 4, of shape (4, 1, 28, 28)): Picky.forward raised"),
        ("1000", "in evaluation (a batch of shape (1000, 1, 28, 28)): Picky.forward raised"),
    ],
)
def test_a_forward_failing_midway_is_the_users_error(refuse, where, tmp_path, fashion_dir):
    path = _net(tmp_path)
    args = [*TRAIN, "--model", f"{path}:Picky", "--model-args", f'{{"refuse": {refuse}}}', "--eval-batch-size", "3000"]
    r = run_here(*args, "--out", tmp_path / "run")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert f'File "{path}", line' in r.stderr and "(the line the traceback shows)" in r.stderr
    assert "convlab/" not in r.stderr and "torch/" not in r.stderr and "bug in convlab" not in r.stderr
    assert lines[-2] == f"ValueError: Picky takes no batch of {refuse}"
    assert lines[-1] == f"convlab: error: Picky failed {where} (ValueError: Picky takes no batch of {refuse})"


def test_an_error_inside_convlab_during_your_networks_forward_stays_a_bug(tmp_path, fashion_dir, monkeypatch):
    from convlab import layers

    real = layers.ops.conv2d

    def broken(x, weight, *args, **kwargs):  # a bug planted in convlab's op: on the short batch it gets a list
        return real(x, weight.tolist() if x.shape[0] == 4 else weight, *args, **kwargs)

    monkeypatch.setattr(layers.ops, "conv2d", broken)
    path = _net(tmp_path)
    r = run_here(*TRAIN, "--model", f"{path}:Picky", "--model-args", '{"refuse": 0}', "--ops", "convlab",
                 "--out", tmp_path / "run")  # fmt: skip
    assert r.returncode == 1, r.stderr
    assert "convlab/ops/" in r.stderr and "convlab/train.py" in r.stderr  # the whole traceback
    assert r.stderr.strip().splitlines()[-1].startswith("convlab: internal error: this is a bug in convlab")


def test_the_playground_reports_your_networks_failure_as_yours(tmp_path, fashion_dir):
    """A training the page started (web/live.py, here in this process): it ends "failed" with the same
    line, and its log keeps your traceback."""
    import json

    from convlab.config import TrainConfig
    from convlab.web.live import EVENTS, run_spec

    path = _net(tmp_path)
    cfg = TrainConfig.for_model(f"{path}:Strict", dataset="fashion-mnist", max_train=100, batch_size=32, epochs=1,
                                eval_batch_size=3000)  # fmt: skip
    out = tmp_path / "run"
    assert run_spec({"config": cfg.to_dict(), "out": str(out)}) == 2
    end = json.loads((out / EVENTS).read_text().splitlines()[-1])
    assert end["status"] == "failed"
    assert end["error"].startswith("Strict failed in evaluation (a batch of shape (3000, 1, 28, 28))")
    log = (out / "train.log").read_text()
    assert f'File "{path}", line' in log and "(the line that fails)" in log and "convlab/" not in log


def test_the_failing_layer_is_named(tmp_path):
    """A forward that gives its own Linear a wrong shape on a batch of 4: the line names that layer."""
    import torch

    from convlab.errors import UserCodeError
    from convlab.models import build_model
    from convlab.models.user import own_code

    path = tmp_path / "halves.py"
    path.write_text(
        NET
        + """

class Halves(Picky):
    def forward(self, x):
        h = torch.flatten(self.conv(x), 1)
        return self.head(h.reshape(2, -1) if x.shape[0] == 4 else h)
"""
    )
    model = build_model(f"{path}:Halves", 10, 1, (28, 28))
    with pytest.raises(UserCodeError, match=r"^Halves failed here: layer 'head' \(Linear\) raised \(RuntimeError: "):
        with own_code(model, lambda: "here"):
            model(torch.zeros(4, 1, 28, 28))
