"""A whole image dataset held as tensors, and the checks every source goes through.

Every source (known datasets, IDX folders, image folders, CSV files) ends as an
`ImageDataset`: uint8 images (N, C, H, W), int64 labels, class names, and notes on what
was done to it (a split made, files skipped). `validate` is the single gate: image and
label counts agree, labels are in range, and every class appears in training.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .idx import DataError


@dataclass
class ImageDataset:
    """A labelled image dataset held in memory as tensors: uint8 pixels 0–255, int64 labels indexing
    `classes`, a train and a test (or held-out) split. Read once by `convlab.data.load_dataset`."""

    name: str
    classes: list[str]
    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor  # (M, C, H, W) uint8
    test_y: torch.Tensor  # (M,) int64
    source: str = ""
    notes: list[str] = field(default_factory=list)
    flips: bool = False  # horizontal flips are label-preserving (clothes yes, digits no)

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.train_x.shape[2:]
        return h, w

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def class_counts(self, split: str = "train") -> list[int]:
        y = self.train_y if split == "train" else self.test_y
        return torch.bincount(y, minlength=self.num_classes).tolist()

    def pixel_stats(self) -> tuple[float, float]:
        """Mean and standard deviation of the training pixels scaled to [0, 1]."""
        x = self.train_x.float().div_(255)
        return x.mean().item(), x.std().item()

    def samples(self, per_class: int = 4, split: str = "train") -> tuple[torch.Tensor, list[str]]:
        """The first `per_class` images of each class: (K·per_class, C, H, W) and their names."""
        x, y = (self.train_x, self.train_y) if split == "train" else (self.test_x, self.test_y)
        idx = torch.cat([torch.nonzero(y == c).flatten()[:per_class] for c in range(self.num_classes)])
        return x[idx], [self.classes[int(c)] for c in y[idx]]

    def describe(self) -> str:
        counts = self.class_counts("train")
        lines = [
            f"{self.name}: {len(self.train_y)} training and {len(self.test_y)} test images, "
            f"{self.channels}×{self.size[0]}×{self.size[1]}, {self.num_classes} classes (from {self.source})"
        ]
        lines.append("  per class (train): " + ", ".join(f"{c}={n}" for c, n in zip(self.classes, counts)))
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def check_pair(images: torch.Tensor, labels: torch.Tensor, where: str) -> None:
    """Images (N, C, H, W) uint8 and labels (N,) must agree in count."""
    if images.dim() != 4:
        raise DataError(f"{where}: images must be (N, C, H, W) or (N, H, W), got shape {tuple(images.shape)}")
    if labels.dim() != 1:
        raise DataError(f"{where}: labels must be one-dimensional, got shape {tuple(labels.shape)}")
    if len(images) != len(labels):
        raise DataError(f"{where}: {len(images)} images but {len(labels)} labels; the files do not belong together")


def validate(ds: ImageDataset) -> ImageDataset:
    """Check counts and labels of both splits; return the dataset for chaining."""
    for split, x, y in (("train", ds.train_x, ds.train_y), ("test", ds.test_x, ds.test_y)):
        check_pair(x, y, f"{ds.source} ({split})")
        if len(y) == 0:
            raise DataError(f"{ds.source}: the {split} split is empty")
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= ds.num_classes:
            raise DataError(
                f"{ds.source} ({split}): labels must be in 0..{ds.num_classes - 1} "
                f"for {ds.num_classes} classes, found {lo}..{hi}"
            )
    if ds.test_x.shape[1:] != ds.train_x.shape[1:]:
        raise DataError(
            f"{ds.source}: train images are {tuple(ds.train_x.shape[1:])} but test images are "
            f"{tuple(ds.test_x.shape[1:])}"
        )
    missing = [c for c, n in zip(ds.classes, ds.class_counts("train")) if n == 0]
    if missing:
        raise DataError(f"{ds.source}: no training images for class(es) {', '.join(missing)}")
    return ds


def stratified_split(x: torch.Tensor, y: torch.Tensor, test_fraction: float, seed: int):
    """Seeded split keeping each class's proportion: (train_x, train_y, test_x, test_y)."""
    g = torch.Generator().manual_seed(seed)
    test_parts: list[torch.Tensor] = []
    for c in torch.unique(y).tolist():
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = round(len(idx) * test_fraction)
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)  # keep at least one on each side
        else:
            k = 0
        test_parts.append(idx[:k])
    test_idx = torch.cat(test_parts) if test_parts else torch.zeros(0, dtype=torch.long)
    mask = torch.zeros(len(y), dtype=torch.bool)
    mask[test_idx] = True
    return x[~mask], y[~mask], x[mask], y[mask]
