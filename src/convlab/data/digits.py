"""OpenCV's handwritten digits: one 2000×1000 sheet of 5,000 digits, read into an MNIST-like dataset.

The sheet (`digits.png`, in OpenCV's sample data; Debian ships it in `opencv-doc`) holds 50 rows
of 100 cells of 20×20 pixels; every five rows are one digit, 0 to 9, so each class has 500
images. Each cell is a whole MNIST-style image scaled down from 28×28, so scaling it back up
(bilinear, in one batched call) gives MNIST's geometry: light strokes on black, the digit about
20 pixels tall and centred by mass. A seeded, stratified split that never changes keeps 400 of
each class for training and 100 for testing (4,000 / 1,000).

The decoded pixels are pinned by SHA-256, so a sheet of the wrong size, a truncated file or an
altered one is refused with one line naming the file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .dataset import ImageDataset, stratified_split, validate
from .idx import DataError
from .images import open_image

SHEET = "digits.png"
SHEET_SIZE = (2000, 1000)  # (width, height) in pixels
CELL = 20  # pixels per cell side
PER_CLASS = 500
TEST_PER_CLASS = 100
SPLIT_SEED = 2026  # fixed: the held-out 1,000 digits never change, whatever the training seed
PIXELS_SHA256 = "f331411c6b9042ee1588ce7897122ce97b987dbfcde229ea12a26a4ad6e25cd7"  # decoded 8-bit gray


def read_sheet(path: str | Path, sha256: str | None = PIXELS_SHA256) -> np.ndarray:
    """The sheet's 8-bit grayscale pixels (1000, 2000), checked for size and, with `sha256`, content."""
    path = Path(path)
    img = open_image(path)
    if img.size != SHEET_SIZE:
        raise DataError(
            f"{path}: a digits sheet is {SHEET_SIZE[0]}×{SHEET_SIZE[1]} pixels, this image is "
            f"{img.size[0]}×{img.size[1]}; use OpenCV's samples/data/digits.png"
        )
    pixels = np.asarray(img.convert("L"), dtype=np.uint8)  # (1000, 2000)
    if sha256 is not None:
        digest = hashlib.sha256(pixels.tobytes()).hexdigest()
        if digest != sha256:
            raise DataError(
                f"{path}: pixels differ from OpenCV's digits.png (SHA-256 {digest[:12]}…, expected "
                f"{sha256[:12]}…); the file is altered or another image; delete it so a fresh copy is used"
            )
    return pixels


def cells(pixels: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 cells at 28×28 in MNIST's geometry: images (5000, 1, 28, 28) uint8, labels (5000,)."""
    rows, cols = pixels.shape[0] // CELL, pixels.shape[1] // CELL  # 50, 100
    grid = torch.from_numpy(pixels.copy()).view(rows, CELL, cols, CELL).permute(0, 2, 1, 3)  # (50, 100, 20, 20)
    small = grid.reshape(rows * cols, 1, CELL, CELL).float()  # (5000, 1, 20, 20), row-major order
    big = F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)  # (5000, 1, 28, 28)
    images = big.round().clamp(0, 255).to(torch.uint8)
    labels = torch.arange(rows * cols) // (PER_CLASS)  # five rows of 100 per digit
    return images, labels


def load_digits(path: str | Path, sha256: str | None = PIXELS_SHA256) -> ImageDataset:
    """The digits dataset from the sheet at `path`: 4,000 training and 1,000 test images."""
    x, y = cells(read_sheet(path, sha256))
    tx, ty, vx, vy = stratified_split(x, y, TEST_PER_CLASS / PER_CLASS, SPLIT_SEED)
    notes = [
        f"OpenCV's {SHEET}: 5,000 cells of 20×20 scaled to 28×28; a fixed stratified split "
        f"({PER_CLASS - TEST_PER_CLASS} train / {TEST_PER_CLASS} test per class, seed {SPLIT_SEED})"
    ]
    classes = [str(i) for i in range(10)]
    return validate(ImageDataset("digits", classes, tx, ty, vx, vy, str(path), notes, flips=False))
