"""What a `--data` folder holds: IDX files found by their headers wherever they sit, paired into
splits, and, for a folder that is not understood, a survey of what was found in it.

IDX files come in many wrappings: MNIST's own names (`train-images-idx3-ubyte.gz`), unpacked,
with dots for dashes (`train-images.idx3-ubyte`), with prefixes or suffixes
(`emnist-letters-train-images-idx3-ubyte`), or, as Kaggle's archives hold them, each inside a
folder of its own name (`archive/train-images-idx3-ubyte/train-images-idx3-ubyte`). So a file
is an IDX file by its magic number (`idx.read_header`), an image file by its shape (N, H, W) or
(N, C, H, W) and a label file by its shape (N,); its split by its name or its folders' names
("train", "t10k"/"test"/"val"); and images and labels are paired by split, or by count when the
names say nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .idx import DataError, read_header

MAX_DEPTH = 3  # folders below PATH that are searched (archive/name/file is depth 2)
MAX_FILES = 20_000  # files looked at, at most, before giving up on a survey
IDX_NAME = re.compile(r"idx\d|ubyte|(train|t10k|test)[-_.]?(images|labels)", re.I)
TEST_WORDS = re.compile(r"t10k|test|val", re.I)
TRAIN_WORDS = re.compile(r"train", re.I)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm", ".ppm", ".pbm", ".pnm"}
IMAGE_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"BM", b"GIF8", b"RIFF", b"II*\0", b"MM\0*")  # and Netpbm's P1…P7


@dataclass
class IdxFile:
    path: Path
    dims: tuple[int, ...]

    @property
    def role(self) -> str:
        return "labels" if len(self.dims) == 1 else "images" if len(self.dims) in (3, 4) else "other"


@dataclass
class IdxPairs:
    """(images, labels) for "train" and, if found, "test"; notes say what was left aside."""

    splits: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def walk(folder: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """Regular files under `folder` (hidden ones skipped), down to `depth` folders, sorted."""
    files: list[Path] = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(".") or len(files) >= MAX_FILES:
            continue
        if p.is_dir() and depth > 0:
            files += walk(p, depth - 1)
        elif p.is_file():
            files.append(p)
    return files


def _sniff(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def idx_files(folder: Path) -> list[IdxFile]:
    """Every IDX file under `folder`, by magic number. A file named like one (idx3, ubyte,
    train-images …) that is not one is an error, named with what is wrong with it."""
    found = []
    for f in walk(folder):
        if f.suffix.lower() in IMAGE_SUFFIXES:
            continue
        head = _sniff(f)
        named = bool(IDX_NAME.search(f.name))
        if not named and not (head[:2] == b"\0\0" or (head[:2] == b"\x1f\x8b" and not f.name.endswith(".csv.gz"))):
            continue
        try:
            found.append(IdxFile(f, read_header(f)[1]))
        except DataError:
            if named:
                raise
    return found


def split_of(path: Path, root: Path) -> str | None:
    """ "train", "test" or None, from the file's name, else from its folders' names."""
    for part in reversed(path.relative_to(root).parts):
        test, train = TEST_WORDS.search(part), TRAIN_WORDS.search(part)
        if test and not train:
            return "test"
        if train and not test:
            return "train"
    return None


def _one(files: list[IdxFile], what: str, where: Path, notes: list[str]) -> IdxFile:
    """The file of a split and role; copies of it (same dimensions) are set aside with a note."""
    shapes = {f.dims for f in files}
    if len(shapes) > 1:
        listed = "; ".join(f"{f.path.relative_to(where)} {list(f.dims)}" for f in files)
        raise DataError(f"{where}: more than one IDX file of {what} with different shapes ({listed}); keep one")
    for f in files[1:]:
        notes.append(f"{f.path.relative_to(where)}: same shape as {files[0].path.relative_to(where)}, not read")
    return files[0]


def _pair_by_count(unsplit: list[IdxFile], groups: dict[tuple[str | None, str], list[IdxFile]]) -> None:
    """Files whose names say neither train nor test: pair images and labels by their count, the
    larger pair as train, the next as test (written into `groups`)."""
    by_count: dict[int, dict[str, list[IdxFile]]] = {}
    for f in unsplit:
        by_count.setdefault(f.dims[0], {}).setdefault(f.role, []).append(f)
    pairs = sorted((n, g) for n, g in by_count.items() if "images" in g and "labels" in g)[::-1]
    for split, (_, g) in zip(("train", "test"), pairs):
        groups[(split, "images")], groups[(split, "labels")] = g["images"], g["labels"]


def pair_idx(folder: Path, found: list[IdxFile]) -> IdxPairs:
    """Pair IDX image and label files into splits (module docstring). Raises DataError, naming
    what was found, when they cannot be paired."""
    out = IdxPairs()
    groups: dict[tuple[str | None, str], list[IdxFile]] = {}
    for f in found:
        groups.setdefault((split_of(f.path, folder), f.role), []).append(f)
    unsplit = groups.get((None, "images"), []) + groups.get((None, "labels"), [])
    if unsplit and any(s for s, _ in groups):
        out.notes += [f"{f.path.relative_to(folder)}: its name says neither train nor test, not read" for f in unsplit]
    elif unsplit:
        _pair_by_count(unsplit, groups)
    for split in ("train", "test"):
        images, labels = groups.get((split, "images")), groups.get((split, "labels"))
        if images and labels:
            x = _one(images, f"{split} images", folder, out.notes)
            y = _one(labels, f"{split} labels", folder, out.notes)
            out.splits[split] = (x.path, y.path)
    if "train" not in out.splits:
        listed = "; ".join(f"{f.path.relative_to(folder)} {f.role} {list(f.dims)}" for f in found)
        raise DataError(
            f"{folder}: found IDX files ({listed}) but no pair of training images (N, H, W) and labels (N,); "
            f"name them train-images… and train-labels…"
        )
    return out


def survey(folder: Path) -> str:
    """What `folder` holds, in one phrase, for an error about a folder that is not understood:
    how many files and sub-folders, and how many of the files are images, IDX, CSV or other."""
    files = walk(folder)
    kinds: Counter[str] = Counter()
    for f in files:
        kinds[_kind(f)] += 1
    subdirs = sum(1 for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    parts = ", ".join(f"{n} {k}" for k, n in kinds.most_common(4)) + (", …" if len(kinds) > 4 else "")
    examples = ", ".join(str(f.relative_to(folder)) for f in files[:3])
    return f"found {subdirs} sub-folder(s) and {len(files)} file(s) under it" + (
        f": {parts} (e.g. {examples})" if files else ""
    )


def holds_images(folder: Path) -> bool:
    """Whether any file under `folder` is an image, by its first bytes."""
    return any(_kind(f) == "image(s)" for f in walk(folder))


def _kind(f: Path) -> str:
    head = _sniff(f)
    if any(head.startswith(s) for s in IMAGE_SIGNATURES) or (head[:1] == b"P" and head[1:2].isdigit()):
        return "image(s)"
    if head[:2] in (b"\0\0", b"\x1f\x8b") or IDX_NAME.search(f.name):
        try:
            read_header(f)
            return "IDX file(s)"
        except DataError:
            pass
    if re.search(r"\.csv(\.gz)?$", f.name, re.I):
        return "CSV file(s)"
    return f"'{f.suffix.lower()}' file(s)" if f.suffix else "file(s) without a suffix"
