"""Data in: known datasets, your own files, and batches on the device.

idx.py       the IDX format (read/write, validated)
sources.py   mnist / fashion-mnist / kmnist: discovery, download, checksums
download.py  one verified, atomic download with mirrors and progress
formats.py   --data PATH: IDX folders, image folders, CSV files
discover.py  what a --data folder holds: IDX files by magic number, paired; a survey for errors
images.py    decoding one image, in any Pillow mode, the same way everywhere
dataset.py   ImageDataset and the checks every source passes
loader.py    in-memory batches, normalisation and batched augmentation
"""

from __future__ import annotations

from pathlib import Path

from .dataset import ImageDataset
from .idx import DataError


def load_dataset(
    dataset: str | None = None,
    data: str | Path | None = None,
    data_dir: str | Path | None = None,
    channels: int = 1,
    size: tuple[int, int] = (28, 28),
    seed: int = 0,
    skip_bad: bool = False,
    label_column: str | None = None,
    progress: bool = True,
) -> ImageDataset:
    """The one entry point: a known dataset by name, or a user's PATH (IDX, image folder, CSV).

    `channels` and `size` (H, W) apply to image folders; `seed` draws the held-out split where the
    data has no test split. Raises DataError (a UserError) for data that is missing, malformed or
    inconsistent, and UserError for an unknown dataset name."""
    if data is not None:
        from .formats import load_path

        return load_path(data, channels, size, seed=seed, skip_bad=skip_bad, label_column=label_column)
    from .sources import load_known

    return load_known(dataset or "fashion-mnist", data_dir, progress)


__all__ = ["DataError", "ImageDataset", "load_dataset"]
