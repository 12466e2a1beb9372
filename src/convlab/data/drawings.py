"""A class's own classes: drawings (or photos) of each, saved as an ordinary image folder, and the
recipe that trains a small network on them in seconds.

Each drawing is prepared as MNIST's digits are (`handwriting.prepare_digit`: inverted if the
background is light, cropped to the ink, scaled to fit 20×20, centred by mass in 28×28) and saved
as an 8-bit grayscale PNG, one sub-folder per class:

    FOLDER/circle/000.png, FOLDER/circle/001.png, …, FOLDER/triangle/009.png

That is the image-folder layout `--data` reads (`formats.load_image_folder`), so

    convlab train --data FOLDER --model lenet-modern --input-style mnist --epochs 20 --batch-size 8 \\
        --shift 2 --rotate 10 --scale 0.1 --thickness 0.5

trains the same network from it (`drawings_config` is that recipe: the digits recipe's
augmentation, lenet-modern, 20 epochs of batches of 8: 80 steps for 3 classes of 10). `--input-style mnist`
makes the checkpoint prepare a new drawing the same way before predicting it.

Class names are text chosen by people: they become folder names, so they are checked (length,
no path separators or control characters, no leading dot, no two alike) and never interpreted.
"""

from __future__ import annotations

import os
import shutil
import unicodedata
from pathlib import Path

from PIL import Image

from ..errors import UserError
from .handwriting import NoDigit, prepare_digit
from .images import open_image

RUN_FOLDER = "drawings"  # where the playground keeps a class's drawings inside the run it trains (RUN/drawings)
MIN_CLASSES, MAX_CLASSES = 2, 10
MIN_PER_CLASS, MAX_PER_CLASS = 10, 50  # drawings per class
MAX_NAME = 24  # characters in a class name
MAX_IMAGE_BYTES = 512 * 1024  # one drawing or photo, encoded
MAX_IMAGE_PIXELS = 4096 * 4096  # one drawing or photo, decoded
FORBIDDEN = set('/\\:*?"<>|')  # characters no folder name on Linux, macOS or Windows may hold


class DrawingsError(UserError):
    """Classes or drawings that cannot make a dataset: the message says which and what to do."""


def check_names(names: list[str]) -> list[str]:
    """The class names, stripped; raises DrawingsError for too few or too many classes, an empty
    or too long name, one that cannot be a folder name, or two names alike (ignoring case)."""
    if not MIN_CLASSES <= len(names) <= MAX_CLASSES:
        raise DrawingsError(f"give {MIN_CLASSES} to {MAX_CLASSES} classes, got {len(names)}")
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str):
            raise DrawingsError("each class name must be text")
        name = raw.strip()
        if not name:
            raise DrawingsError("a class has no name: give every class a name")
        if len(name) > MAX_NAME:
            raise DrawingsError(f"class name {name[:MAX_NAME]!r}… is too long: at most {MAX_NAME} characters")
        bad = name.startswith(".") or any(c in FORBIDDEN or unicodedata.category(c)[0] == "C" for c in name)
        if bad:
            raise DrawingsError(
                f'class name {name!r} cannot be a folder name: no / \\ : * ? " < > |, control characters or leading dot'
            )
        if name.casefold() in (n.casefold() for n in out):
            raise DrawingsError(f"two classes are both called {name!r}: give each class its own name")
        out.append(name)
    return out


def prepare_drawing(data: bytes, where: str) -> Image.Image:
    """One drawing or photo (PNG, JPEG, …) as the 28×28 grayscale picture saved for training:
    light strokes on black, MNIST's geometry. Raises DrawingsError (too large, no ink) or the
    image reader's UserError (not an image)."""
    if len(data) > MAX_IMAGE_BYTES:
        raise DrawingsError(f"{where} is {len(data) // 1024} KiB; at most {MAX_IMAGE_BYTES // 1024} KiB per image")
    img = open_image(data, where)
    if img.width * img.height > MAX_IMAGE_PIXELS:
        raise DrawingsError(f"{where} is {img.width}×{img.height} pixels; at most 4096×4096 per image")
    try:
        x, _ = prepare_digit(img)  # (1, 28, 28) uint8
    except NoDigit:
        raise DrawingsError(f"{where} is empty (no ink): draw it again or remove it") from None
    return Image.fromarray(x[0].numpy(), mode="L")


def save_drawings(folder: str | Path, classes: list[tuple[str, list[bytes]]]) -> Path:
    """Write `classes` ([(name, [encoded image, …]), …]) as FOLDER/NAME/NNN.png and return FOLDER.

    Every class and image is checked before anything is written (`check_names`, MIN_PER_CLASS to
    MAX_PER_CLASS images each, `prepare_drawing`); the folder appears whole or not at all (written
    beside it, then renamed). Raises DrawingsError, or FileExistsError if FOLDER exists."""
    folder = Path(folder)
    names = check_names([name for name, _ in classes])
    pictures = []
    for name, images in zip(names, (imgs for _, imgs in classes)):
        if not MIN_PER_CLASS <= len(images) <= MAX_PER_CLASS:
            raise DrawingsError(
                f"class {name!r} has {len(images)} drawing(s); give each class {MIN_PER_CLASS} to {MAX_PER_CLASS}"
            )
        pictures.append([prepare_drawing(b, f"class {name!r}, drawing {i + 1}") for i, b in enumerate(images)])
    if folder.exists():
        raise FileExistsError(folder)
    partial = folder.with_name(f".{folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for name, pics in zip(names, pictures):
        (partial / name).mkdir(parents=True)
        for i, pic in enumerate(pics):
            pic.save(partial / name / f"{i:03d}.png")
    os.replace(partial, folder)
    return folder


def kept_drawings(meta) -> Path | None:
    """The drawings a checkpoint (its ModelMeta) was trained on where they are kept in its own run folder
    (RUN/drawings, as the playground saves a class's drawings, and the data its config records), else None:
    its held-out split is then its test set, as `convlab eval --data RUN/drawings` reads it."""
    if meta.path is None:
        return None
    folder = Path(meta.path).resolve().parent / RUN_FOLDER
    data = (meta.config or {}).get("data")
    if not folder.is_dir() or not isinstance(data, str) or Path(data).resolve() != folder:
        return None
    return folder


def drawings_config(folder: str | Path, epochs: int = 20, threads: int = 0):
    """The recipe for a class's drawings in `folder` (a TrainConfig, resolved): lenet-modern with
    the digits recipe's augmentation (shifts of 2 px, ±10° rotation, ±10 % scale, thicker or
    thinner strokes for half the images, no flips), batches of 16, and predictions prepared as
    the drawings were (`input_style="mnist"`). The same as the command in the module docstring."""
    from ..config import TrainConfig, resolve

    cfg = TrainConfig(data=str(folder), model="lenet-modern", input_style="mnist", epochs=epochs, batch_size=8,
                      shift=2, rotate=10.0, scale=0.1, thickness=0.5, flip=False, threads=threads)  # fmt: skip
    return resolve(cfg)
