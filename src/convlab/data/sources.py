"""Known datasets (MNIST, Fashion-MNIST, KMNIST, OpenCV's digits): where they live, how to get
them, what they hold.

Discovery order for a known dataset, first match wins:
  1. an explicit data directory (`--data-dir DIR`: DIR or DIR/NAME);
  2. $CONVLAB_DATA/NAME, else the user cache ~/.cache/convlab/NAME;
  3. system folders where a distribution packages the data (Debian's dataset-fashion-mnist:
     /usr/share/datasets/fashion-mnist; opencv-doc: /usr/share/doc/opencv-doc/examples/data);
  4. download from the official mirrors, in turn, into the folder of step 1 or 2.
Nothing touches the network unless steps 1–3 found nothing. The MNIST family comes as four IDX
files; `digits` as one sheet of 5,000 digits (`data/digits.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import unknown_name
from .dataset import ImageDataset, validate
from .download import download
from .idx import DataError, read_header, read_idx

SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


@dataclass(frozen=True)
class KnownDataset:
    name: str
    title: str
    classes: tuple[str, ...]
    mirrors: tuple[str, ...]
    md5: dict  # official MD5 of each .gz file as published (verifies downloads)
    license: str
    homepage: str
    flips: bool  # horizontal flip preserves the label
    system_dirs: tuple[str, ...] = ()
    content_sha256: dict = field(default_factory=dict)  # SHA-256 of the decompressed IDX bytes
    files: tuple[str, ...] = ()  # the files that make up the dataset (default: the four IDX files)
    sheet: bool = False  # one image of digits (OpenCV's digits.png) instead of IDX files
    source: str = ""  # what the data is and where it comes from, for `convlab datasets`
    mnist_style: bool = False  # handwritten digits: a model of them gets its inputs prepared the MNIST way


KNOWN = {
    "mnist": KnownDataset(
        "mnist",
        "MNIST handwritten digits",
        tuple(str(i) for i in range(10)),
        ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
        {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
        "CC BY-SA 3.0, as stated on the dataset's home page",
        "http://yann.lecun.com/exdb/mnist/",
        False,
        ("/usr/share/datasets/mnist",),
        mnist_style=True,
    ),
    "fashion-mnist": KnownDataset(
        "fashion-mnist",
        "Fashion-MNIST (Zalando article images)",
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        (
            "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
            "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
        ),
        {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
        "MIT (Zalando SE)",
        "https://github.com/zalandoresearch/fashion-mnist",
        True,
        ("/usr/share/datasets/fashion-mnist",),
        {
            "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        },
    ),
    "kmnist": KnownDataset(
        "kmnist",
        "Kuzushiji-MNIST (cursive Japanese characters)",
        ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist/", "https://codh.rois.ac.jp/kmnist/dataset/kmnist/"),
        {
            "train-images-idx3-ubyte.gz": "bdb82020997e1d708af4cf47b453dcf7",
            "train-labels-idx1-ubyte.gz": "e144d726b3acfaa3e44228e80efcd344",
            "t10k-images-idx3-ubyte.gz": "5c965bf0a639b31b8f53240b1b52f4d7",
            "t10k-labels-idx1-ubyte.gz": "7320c461ea6c1c855c0b718fb2a4b134",
        },
        "CC BY-SA 4.0 (ROIS-DS Center for Open Data in the Humanities)",
        "https://github.com/rois-codh/kmnist",
        False,
        ("/usr/share/datasets/kmnist",),
    ),
}
FILES = tuple(f for pair in SPLIT_FILES.values() for f in pair)

KNOWN["digits"] = KnownDataset(
    "digits",
    "OpenCV's handwritten digits (5,000 digits, 500 per class, MNIST-style)",
    tuple(str(i) for i in range(10)),
    ("https://raw.githubusercontent.com/opencv/opencv/4.x/samples/data/",),
    {"digits.png": None},  # verified by its decoded pixels instead (data/digits.py), like Fashion-MNIST's
    "Apache-2.0 (OpenCV's sample data)",
    "https://github.com/opencv/opencv/blob/4.x/samples/data/digits.png",
    False,
    ("/usr/share/doc/opencv-doc/examples/data",),
    files=("digits.png",),
    sheet=True,
    mnist_style=True,
    source="Debian's opencv-doc (scripts/setup.sh takes just this file out of it)",
)


def files_of(info: KnownDataset) -> tuple[str, ...]:
    return info.files or FILES


def known(name: str) -> KnownDataset:
    if name not in KNOWN:
        raise unknown_name("dataset", name, KNOWN)
    return KNOWN[name]


def user_cache() -> Path:
    env = os.environ.get("CONVLAB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "convlab"


def candidate_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Folders searched for NAME's files, in order."""
    dirs = []
    if data_dir is not None:
        dirs += [Path(data_dir).expanduser() / name, Path(data_dir).expanduser()]
    dirs.append(user_cache() / name)
    dirs += [Path(d) for d in known(name).system_dirs]
    return dirs


def _file_in(folder: Path, gz_name: str) -> Path | None:
    """The file in `folder`: gzipped or unpacked, with a dot for the dash before "idx", directly
    or inside a folder of its own name (Kaggle's archives: train-images-idx3-ubyte/train-images-idx3-ubyte)."""
    names: tuple[str, ...] = (gz_name, gz_name[:-3]) if gz_name.endswith(".gz") else (gz_name,)
    names += tuple(n.replace("-idx", ".idx") for n in names if "-idx" in n)
    for n in names:
        for candidate in (folder / n, folder / n / n):
            if candidate.is_file():
                return candidate
    return None


def _present(folder: Path, gz_name: str) -> Path:
    """The file of a folder that `locate` found (it holds all four)."""
    path = _file_in(folder, gz_name)
    if path is None:
        raise DataError(f"{folder}: {gz_name} disappeared while reading the dataset")
    return path


def locate(name: str, data_dir: str | Path | None = None) -> Path | None:
    """The first folder that holds all the files of NAME, or None."""
    files = files_of(known(name))
    for folder in candidate_dirs(name, data_dir):
        if all(_file_in(folder, f) for f in files):
            return folder
    return None


def fetch(
    name: str, data_dir: str | Path | None = None, progress: bool = True, mirrors: tuple[str, ...] | None = None
) -> Path:
    """Find NAME locally or download it; return the folder holding its files."""
    info = known(name)
    folder = locate(name, data_dir)
    if folder is not None:
        return folder
    target = (Path(data_dir).expanduser() if data_dir is not None else user_cache()) / name
    try:
        for f in files_of(info):
            if not (target / f).is_file():
                verify = _verify_sheet if info.sheet else None
                download([m + f for m in (mirrors or info.mirrors)], target / f, info.md5[f], progress, verify=verify)
    except DataError as e:
        looked = ", ".join(str(d) for d in candidate_dirs(name, data_dir))
        where = (
            "on Debian/Ubuntu run scripts/setup.sh (it takes digits.png out of opencv-doc)"
            if info.sheet
            else f"on Debian/Ubuntu install dataset-{name}"
        )
        raise DataError(
            f"{name} not found (looked in {looked}) and the download failed: {e}. "
            f"Put the file(s) from {info.homepage} in {target}, pass --data-dir, or {where}"
        ) from None
    return target


def _verify_sheet(path: Path) -> None:
    """A downloaded sheet must have OpenCV's pixels (checked before it is kept)."""
    from .digits import read_sheet

    read_sheet(path)


def status(name: str, data_dir: str | Path | None = None) -> dict:
    """What `convlab datasets` shows for NAME: where it is (no download) and its sizes."""
    info = known(name)
    folder = locate(name, data_dir)
    row: dict[str, Any] = {
        "name": name,
        "title": info.title,
        "classes": list(info.classes),
        "license": info.license,
        "source": info.source or info.homepage,
        "found": str(folder) if folder else None,
        "train": None,
        "test": None,
        "looked_in": [str(d) for d in candidate_dirs(name, data_dir)],
    }
    if folder and info.sheet:
        from .digits import PER_CLASS, TEST_PER_CLASS

        row["train"], row["test"] = 10 * (PER_CLASS - TEST_PER_CLASS), 10 * TEST_PER_CLASS
    elif folder:
        for split, (img, _) in SPLIT_FILES.items():
            try:
                row[split] = read_header(_present(folder, img))[1][0]
            except DataError as e:
                row["error"] = str(e)
    return row


def load_known(name: str, data_dir: str | Path | None = None, progress: bool = True) -> ImageDataset:
    """Load a known dataset (finding or downloading it) as an ImageDataset."""
    info = known(name)
    folder = fetch(name, data_dir, progress)
    if info.sheet:
        from .digits import load_digits

        return load_digits(_present(folder, info.files[0]))
    split = {}
    for s, (img, lab) in SPLIT_FILES.items():
        x, y = (read_idx(_present(folder, f), info.content_sha256.get(f)) for f in (img, lab))
        split[s] = (x.unsqueeze(1) if x.dim() == 3 else x, y.long())  # (N, 1, 28, 28)
    ds = ImageDataset(name, list(info.classes), *split["train"], *split["test"], source=str(folder), flips=info.flips)
    return validate(ds)
