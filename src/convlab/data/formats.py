"""Your own data behind one `--data PATH`: an IDX folder, an image folder, or a CSV file.

  * IDX files anywhere in the folder (down to three levels), recognised by their magic number
    and shape, however they are named or wrapped (Kaggle's archive/NAME/NAME, prefixes,
    suffixes, .gz, dots for dashes): images paired with labels by split (`discover.py`).
  * image folder: one sub-folder per class (the folder name is the class name), either
    directly or inside train/ and test/ (or val/). PNG, JPEG, BMP, GIF, WebP.
  * CSV file (.csv or .csv.gz): a header with a `label` column and one column per pixel
    (Kaggle's digit-recognizer layout); without a header the label is the first column
    (or the last, with label_column="last"). Read as the csv module and pandas read what
    spreadsheets save: UTF-8 with or without a byte-order mark, quoted fields, CRLF lines.
A source without a test split gets a seeded, stratified one, and the dataset says so. A folder
that is none of these is refused with what was found in it.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import warnings
from pathlib import Path

import numpy as np
import torch

from .dataset import ImageDataset, check_pair, stratified_split, validate
from .discover import holds_images, idx_files, pair_idx, survey
from .idx import DataError, read_idx
from .images import load_image

MAX_CLASSES = 10_000  # labels 0..9999: numbered datasets get one class name per label
TEST_DIRS = ("test", "val", "valid", "validation")


def load_path(
    path: str | Path,
    channels: int = 1,
    size: tuple[int, int] = (28, 28),
    test_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
    label_column: str | None = None,
) -> ImageDataset:
    """Recognise the layout of PATH and load it as an ImageDataset."""
    path = Path(path).expanduser()
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if re.search(r"\.csv(\.gz)?$", path.name, re.I):
            return load_csv(path, test_fraction, seed, label_column)
        raise DataError(
            f"{path}: a data file must be a CSV (.csv or .csv.gz); for images or IDX files pass their folder"
        )
    found = idx_files(path)
    if found:
        return load_idx_folder(path, test_fraction, seed, found)
    return load_image_folder(path, channels, size, test_fraction, seed, skip_bad)


# --- IDX folders ---------------------------------------------------------------------------


def load_idx_folder(folder: Path, test_fraction: float = 0.1, seed: int = 0, found=None) -> ImageDataset:
    """IDX files wherever they sit under `folder`, paired by `discover.pair_idx`."""
    pairs = pair_idx(folder, idx_files(folder) if found is None else found)

    def pair(split):
        images, labels = pairs.splits[split]
        x = read_idx(images)
        x = x.unsqueeze(1) if x.dim() == 3 else x  # (N, C, H, W)
        if x.dtype != torch.uint8:
            raise DataError(f"{images}: images must be uint8, found {x.dtype}")
        y = read_idx(labels).long()
        check_pair(x, y, str(images.parent))
        return x, y

    tx, ty = pair("train")
    notes = list(pairs.notes)
    if "test" in pairs.splits:
        vx, vy = pair("test")
    else:
        tx, ty, vx, vy = stratified_split(tx, ty, test_fraction, seed)
        notes.append(f"no test files: held out a stratified {test_fraction:.0%} of training (seed {seed})")
    return validate(ImageDataset(folder.name, _numbered_classes(ty, str(folder)), tx, ty, vx, vy, str(folder), notes))


def _numbered_classes(y: torch.Tensor, where: str) -> list[str]:
    """Class names "0", "1", … up to the largest label (refused past MAX_CLASSES: one name per class)."""
    top = int(y.max()) if len(y) else -1
    if top >= MAX_CLASSES:
        raise DataError(
            f"{where}: labels go up to {top}; convlab takes at most {MAX_CLASSES} classes (0..{MAX_CLASSES - 1})"
        )
    return [str(i) for i in range(top + 1)]


# --- image folders -------------------------------------------------------------------------


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _read_class_folders(folder: Path, classes: list[str], channels, size, skip_bad, notes):
    xs, ys = [], []
    for label, name in enumerate(classes):
        d = folder / name
        if not d.is_dir():
            continue
        files = sorted(f for f in d.iterdir() if f.is_file() and not f.name.startswith("."))
        if not files:
            raise DataError(f"{d}: class folder has no images")
        count = 0
        for f in files:
            try:
                xs.append(load_image(f, channels, size))
            except DataError as e:
                if not holds_images(folder):
                    raise not_understood(folder, "not an image folder: no file in it is an image") from None
                if not skip_bad:
                    raise DataError(f"{e} (remove it, or pass --skip-bad to skip unreadable files)") from None
                notes.append(f"skipped {f}: {e}")
                continue
            ys.append(label)
            count += 1
        if count == 0:
            raise DataError(f"{d}: class folder has no readable images")
    if not xs:
        raise DataError(f"{folder}: no images found")
    return torch.stack(xs), torch.tensor(ys, dtype=torch.long)


def load_image_folder(
    folder: Path,
    channels: int = 1,
    size: tuple[int, int] = (28, 28),
    test_fraction: float = 0.1,
    seed: int = 0,
    skip_bad: bool = False,
) -> ImageDataset:
    notes: list[str] = []
    train_dir = folder / "train"
    test_dir = next((folder / t for t in TEST_DIRS if (folder / t).is_dir()), None)
    if train_dir.is_dir():
        classes = [d.name for d in _class_dirs(train_dir)]
        if not classes:
            raise DataError(f"{train_dir}: no class folders (expected train/CLASS/image.png)")
        tx, ty = _read_class_folders(train_dir, classes, channels, size, skip_bad, notes)
        if test_dir is not None:
            extra = sorted({d.name for d in _class_dirs(test_dir)} - set(classes))
            if extra:
                raise DataError(f"{test_dir}: class folder(s) {', '.join(extra)} have no training folder")
            vx, vy = _read_class_folders(test_dir, classes, channels, size, skip_bad, notes)
        else:
            tx, ty, vx, vy = stratified_split(tx, ty, test_fraction, seed)
            notes.append(f"no test/ folder: held out a stratified {test_fraction:.0%} of training (seed {seed})")
    else:
        classes = [d.name for d in _class_dirs(folder)]
        if not classes:
            raise not_understood(folder, "empty folder" if not any(folder.iterdir()) else "no class folders")
        x, y = _read_class_folders(folder, classes, channels, size, skip_bad, notes)
        tx, ty, vx, vy = stratified_split(x, y, test_fraction, seed)
        notes.append(f"no test split: held out a stratified {test_fraction:.0%} (seed {seed})")
    return validate(ImageDataset(folder.name, classes, tx, ty, vx, vy, str(folder), notes))


def not_understood(folder: Path, what: str) -> DataError:
    """The error for a folder that is none of the layouts convlab reads: what was found in it."""
    return DataError(
        f"{folder}: {what}; {survey(folder)}. convlab reads IDX files, a CSV file (pass the file itself), "
        f"or one sub-folder of images per class (directly or inside train/ and test/)"
    )


# --- CSV -----------------------------------------------------------------------------------


def load_csv(path: Path, test_fraction: float = 0.1, seed: int = 0, label_column: str | None = None) -> ImageDataset:
    """A CSV of one image per row (module docstring) as an ImageDataset with a held-out split."""
    data, col = _read_csv(path, label_column)  # (rows, columns) float64, the label's column
    if data.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    if data.shape[1] < 2:
        raise DataError(f"{path}: each row needs a label and at least one pixel column, found {data.shape[1]} column")
    labels = data[:, col]
    pixels = np.delete(data, col, axis=1)
    side = math.isqrt(pixels.shape[1])
    if side * side != pixels.shape[1]:
        raise DataError(f"{path}: {pixels.shape[1]} pixel columns is not a square image (H×W with H = W)")
    if np.any(labels != np.round(labels)) or labels.min() < 0:
        raise DataError(f"{path}: labels must be whole numbers ≥ 0")
    if labels.max() >= MAX_CLASSES:
        raise DataError(f"{path}: labels go up to {labels.max():g}; convlab takes at most {MAX_CLASSES} classes")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(f"{path}: pixel values must be in 0..255, found {pixels.min():g}..{pixels.max():g}")
    if pixels.max() <= 1.0 and np.any(pixels != np.round(pixels)):
        pixels = pixels * 255  # 0..1 floats
    x = torch.from_numpy(np.round(pixels).astype(np.uint8).reshape(-1, 1, side, side))
    y = torch.from_numpy(labels.astype(np.int64))
    tx, ty, vx, vy = stratified_split(x, y, test_fraction, seed)
    notes = [f"CSV has no test split: held out a stratified {test_fraction:.0%} (seed {seed})"]
    return validate(
        ImageDataset(path.name.split(".")[0], _numbered_classes(y, str(path)), tx, ty, vx, vy, str(path), notes)
    )


def _read_csv(path: Path, label_column: str | None) -> tuple[np.ndarray, int]:
    """The numbers of a CSV file, (rows, columns), and the index of its label column."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:  # utf-8-sig: the byte-order mark a spreadsheet's "CSV UTF-8" starts with is not text
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            text = f.read()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: cannot read CSV ({e})") from None
    first = [c.strip() for c in next(csv.reader(io.StringIO(text)), [])]  # the csv module: quotes, CRLF
    if not first:
        raise DataError(f"{path}: empty CSV file")
    has_header = not all(_is_number(c) for c in first)
    if has_header:
        lower = [c.lower() for c in first]
        if label_column in (None, "label") and "label" in lower:
            col = lower.index("label")
        elif label_column in ("first", "last"):
            col = 0 if label_column == "first" else len(first) - 1
        else:
            raise DataError(f"{path}: header has no 'label' column (columns: {', '.join(first[:5])}, …)")
    else:
        col = len(first) - 1 if label_column == "last" else 0
    try:
        with warnings.catch_warnings():  # an empty body is reported by the caller, in our words
            warnings.simplefilter("ignore", UserWarning)
            data = np.loadtxt(
                io.StringIO(text), delimiter=",", quotechar='"', dtype=np.float64, skiprows=int(has_header), ndmin=2
            )
    except ValueError as e:
        raise DataError(f"{path}: {_loadtxt_reason(e, has_header)}") from None
    return data, col


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _loadtxt_reason(e: ValueError, has_header: bool) -> str:
    """numpy's message, rewritten to name the file's line number (numpy counts the
    rows of one message from 1 and of the other from 0, and skips the header)."""
    msg = str(e).splitlines()[0].split(";")[0].rstrip(".")
    m = re.search(r"at row (\d+)", msg)
    if not m:
        return msg
    row = int(m[1]) + (0 if "number of columns" in msg else 1)
    msg = msg.replace(m[0], f"at line {row + int(has_header)}")
    if "number of columns" in msg:
        msg = "wrong number of columns: " + msg
    else:
        msg = "non-numeric pixel value: " + msg
    return msg
