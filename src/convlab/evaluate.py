"""Evaluation: loss, accuracy, confusion matrix and per-class precision/recall.

Batches go through the same `Loader` as training (no augmentation) under `inference_mode`;
under torchrun each rank evaluates its share and the sums are gathered.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from . import distributed as dist
from .config import known_datasets, resolve_device
from .data import load_dataset
from .data.loader import Loader
from .errors import UserError
from .models.user import own_code


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast where `enabled` (a resolved config's `amp`, see `config.resolve`), on CUDA and
    CPU; MPS always runs without."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type in ("cuda", "cpu"))


def _batch_text(xb: torch.Tensor) -> str:
    return f"in evaluation (a batch of shape {tuple(xb.shape)})"


@torch.inference_mode()
def evaluate(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    mean: float,
    std: float,
    num_classes: int,
    batch_size: int = 2048,
    device="cpu",
    amp: bool = False,
    channels_last: bool = False,
) -> dict:
    """Loss, accuracy and confusion matrix (true × predicted) of `model` on uint8 images x.

    Under torchrun each rank evaluates its share and the sums are gathered.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    loader = Loader(
        x, y, batch_size, mean, std, device, shard=(dist.rank(), dist.world_size()), channels_last=channels_last
    )
    loss = torch.zeros((), dtype=torch.float64, device=device)
    confusion = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    for xb, yb in loader:
        with autocast(device, amp), own_code(model, functools.partial(_batch_text, xb)):
            out = model(xb)
        loss += F.cross_entropy(out.float(), yb, reduction="sum").double()
        confusion += torch.bincount(yb * num_classes + out.argmax(1), minlength=num_classes**2)
    dist.all_sum(loss)
    dist.all_sum(confusion)
    model.train(was_training)
    confusion = confusion.view(num_classes, num_classes).cpu()
    n = int(confusion.sum())
    return {
        "loss": loss.item() / max(n, 1),
        "accuracy": confusion.diag().sum().item() / max(n, 1),
        "n": n,
        "confusion": confusion,
    }


def class_report(confusion: torch.Tensor, classes: list[str]) -> list[dict]:
    """Per-class precision and recall from a confusion matrix (true × predicted)."""
    c = confusion.double()
    tp = c.diag()
    precision = tp / c.sum(0).clamp(min=1)
    recall = tp / c.sum(1).clamp(min=1)
    return [
        {"class": k, "precision": p.item(), "recall": r.item(), "support": int(s)}
        for k, p, r, s in zip(classes, precision, recall, c.sum(1))
    ]


def checkpoint_test_set(ck, dataset: str | None = None, data: str | None = None, data_dir: str | None = None):
    """The test split a checkpoint is evaluated on: `dataset` or `data` if given, else the known dataset it
    was trained on (with the same held-out split its training made), checked against the model's shape."""
    c, h, w = ck.input_shape
    if dataset is None and data is None:
        dataset = ck.meta.dataset_name
        if dataset not in known_datasets():
            raise UserError("the checkpoint was not trained on a known dataset; pass --dataset NAME or --data PATH")
    seed = ck.meta.seed  # the same held-out split as training made
    ds = load_dataset(dataset, data, data_dir, c, (h, w), seed=seed, progress=False)
    if ds.num_classes != len(ck.classes) or ds.size != (h, w) or ds.channels != c:
        raise UserError(
            f"{ds.name} has {ds.num_classes} classes of {ds.channels}×{ds.size[0]}×{ds.size[1]} images "
            f"but the model expects {len(ck.classes)} classes of {c}×{h}×{w}"
        )
    return ds


def evaluate_checkpoint(
    ck,
    dataset: str | None = None,
    data: str | None = None,
    data_dir: str | None = None,
    batch_size: int = 2048,
    device: str = "auto",
) -> dict:
    """Accuracy, loss, per-class precision/recall and confusion of a checkpoint on a test set.

    Without `dataset` or `data`, the known dataset the checkpoint was trained on is used.
    """
    ds = checkpoint_test_set(ck, dataset, data, data_dir)
    dev = resolve_device(device)
    model = ck.model.to(dev)
    ev = evaluate(model, ds.test_x, ds.test_y, ck.mean, ck.std, ds.num_classes, batch_size, dev)
    ev["per_class"] = class_report(ev["confusion"], ck.classes)
    ev["dataset"] = ds.name
    return ev
