"""prepare.py: the training images a run takes (`--max-train`), checked by hand-made label orders."""

from __future__ import annotations

import torch

from convlab.config import TrainConfig
from convlab.data.dataset import ImageDataset
from convlab.prepare import load_data


def _dataset(labels: list[int]) -> ImageDataset:
    y = torch.tensor(labels)
    x = torch.arange(len(labels), dtype=torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 4, 4).contiguous()
    return ImageDataset("toy", ["a", "b", "c"], x, y, x[:3], y[:3])


def test_max_train_takes_the_first_images_where_they_hold_every_class():
    ds = _dataset([0, 1, 2] * 20)  # shuffled order: the first 30 hold every class
    _, x, y = load_data(TrainConfig(max_train=30, batch_size=8), ds, 1, False)
    assert torch.equal(y, ds.train_y[:30]) and torch.equal(x, ds.train_x[:30])


def test_max_train_spreads_over_a_set_sorted_by_class():
    ds = _dataset([0] * 50 + [1] * 50 + [2] * 50)  # sorted by class, as the digits sheet is
    _, x, y = load_data(TrainConfig(max_train=30, batch_size=8), ds, 1, False)
    assert y.bincount().tolist() == [10, 10, 10]  # evenly spread: 10 of each, by hand
    assert torch.equal(x[:, 0, 0, 0].long(), torch.linspace(0, 149, 30).round().long())  # the images with them
