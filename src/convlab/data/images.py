"""Decoding one image into the picture a person sees, then the tensor a model sees: the single
path for every image.

Used by image folders, `convlab predict`, `visualize`, `why`, `demo image`, `explain` and the web
playground's uploads, so an image is converted the same way wherever it enters. Formats are
recognised by content, not by name; the pixel count is checked from the header before anything
is decoded.

Every mode Pillow opens becomes an 8-bit picture (`as_seen`): grayscale modes ("1", "L", "LA",
"I;16…", "I", "F") give mode "L", all others (P, PA, RGB, RGBA, CMYK, YCbCr, LAB, HSV …) give
"RGB" by Pillow's own conversions. Transparency, whichever way it is carried (an alpha band,
a palette's or a single colour's `transparency`), is composited on white, as a viewer shows a
transparent picture on a white page. Deeper samples are scaled, never clipped:
  * I;16 (any byte order): the full 16-bit range, by the high byte (v >> 8): each 8-bit level
    takes 256 sixteen-bit values, as libpng's `png_set_strip_16` reads such PNGs, and an 8-bit
    picture widened to 16 bits (×256 or ×257) reads back exactly;
  * I (32-bit integers): Pillow opens 16-bit PGM/PPM files (scaled to 0..65535 by their maxval)
    and 32-bit TIFFs in this mode; values within 0..65535 are read as 16-bit, others (negative or
    larger) are stretched from their minimum to their maximum;
  * F (32-bit float): values within [0, 1] are read as 0..1 (the float convention of
    scikit-image, OpenCV and matplotlib), else values within [0, 255] as 0..255 (Pillow's own,
    `convert("F")` of an 8-bit picture), else stretched from minimum to maximum, as ImageJ and
    matplotlib's `imshow` show a float image in its own units. NaN or infinite values are refused.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .idx import DataError

FORMATS = {"PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF", "PPM"}  # PPM: Netpbm's PBM, PGM, PPM and PFM
MAX_PIXELS = 25_000_000  # refuse images larger than this (about 5000×5000) before decoding
GRAY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16L", "I;16B", "I;16N", "F"}
ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
WHITE = (255, 255, 255, 255)  # what transparent areas are composited on


class UnsupportedFormat(DataError):
    """An image in a format convlab does not read (one outside FORMATS: ICO, PSD, PCX, ...)."""


def open_image(source: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Open, check and decode an image from a path or bytes: the picture a person sees, mode "L"
    or "RGB" (`as_seen`), turned upright by its EXIF orientation.

    Raises DataError (a UserError) for a missing file, an unsupported format, more than
    MAX_PIXELS pixels, undecodable data, or a mode that cannot be shown (`as_seen`).
    """
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        with warnings.catch_warnings():  # the size is checked below, before decoding
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if img.format not in FORMATS:
            raise UnsupportedFormat(
                f"{label}: {img.format or 'unknown'} images are not supported "
                f"(use PNG, JPEG, BMP, GIF, WebP, TIFF or Netpbm)"
            )
        w, h = img.size
        if w * h > MAX_PIXELS or w == 0 or h == 0:
            raise DataError(f"{label}: image is {w}×{h} pixels; convlab reads at most {MAX_PIXELS} pixels")
        img.load()
        upright = ImageOps.exif_transpose(img)
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise DataError(f"{label}: not a readable image ({e.__class__.__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{label}: cannot decode image ({e})") from None
    return as_seen(upright, label)


def as_seen(img: Image.Image, label: str = "image") -> Image.Image:
    """The 8-bit picture a person sees, mode "L" (grayscale modes) or "RGB" (every other mode):
    deep samples scaled (`deep_to_8bit`), transparency composited on white (module docstring).

    Raises DataError naming `label` and the mode when the image cannot be shown that way.
    """
    mode = img.mode
    if mode in ("L", "RGB") and "transparency" not in img.info:
        return img
    gray = mode in GRAY_MODES
    if mode in ("I", "F") or mode.startswith("I;16"):
        img = _deep_to_l(img, label)
    try:
        if img.mode in ALPHA_MODES or "transparency" in img.info:
            img = Image.alpha_composite(Image.new("RGBA", img.size, WHITE), img.convert("RGBA"))
        return img.convert("L" if gray else "RGB")
    except ValueError as e:  # Pillow: "conversion from … to … not supported"
        raise DataError(f"{label}: cannot read an image of mode {mode} as 8-bit gray or RGB ({e})") from None


def deep_to_8bit(a: np.ndarray, mode: str) -> np.ndarray:
    """Finite (H, W) samples of mode I;16…, I or F → (H, W) uint8, by the scaling of the module
    docstring (16-bit by the high byte; F by [0, 1], [0, 255] or min–max; I by 16 bits or min–max)."""
    if mode.startswith("I;16"):
        return (a.astype(np.uint16) >> 8).astype(np.uint8)
    if mode == "I" and a.size and a.min() >= 0 and a.max() <= 65535:
        return (a >> 8).astype(np.uint8)
    v = a.astype(np.float64)
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if mode == "F" and lo >= 0 and hi <= 1:
        v = v * 255
    elif not (mode == "F" and lo >= 0 and hi <= 255):
        v = (v - lo) * (255 / (hi - lo)) if hi > lo else np.zeros_like(v)  # min–max; a constant reads as black
    return np.floor(v + 0.5).clip(0, 255).astype(np.uint8)  # rounded half up


def _deep_to_l(img: Image.Image, label: str) -> Image.Image:
    """Mode I;16…, I or F → "L", or "LA" when one sample value is marked transparent."""
    a = np.asarray(img)  # (H, W) uint16 / >u2 / int32 / float32
    if not np.isfinite(a).all():
        raise DataError(f"{label}: image of mode {img.mode} holds NaN or infinite values; convlab reads finite ones")
    out = Image.fromarray(deep_to_8bit(a, img.mode))
    key = img.info.get("transparency")
    if isinstance(key, (int, float)):
        out.putalpha(Image.fromarray(np.where(a == key, 0, 255).astype(np.uint8)))
    return out


def to_tensor(img: Image.Image, channels: int = 1, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """(C, H, W) uint8: grayscale or RGB, resized to fit `size` with the aspect ratio kept.

    The image is first read as a person sees it (`as_seen`: any mode, transparency on white),
    then scaled so its longer side fits, and centred on a canvas filled with the median colour
    of its border.
    """
    img = as_seen(img).convert("L" if channels == 1 else "RGB")
    h, w = size
    scale = min(w / img.width, h / img.height)
    new = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    resized = img.resize(new, Image.Resampling.LANCZOS if scale < 1 else Image.Resampling.BICUBIC)
    a = np.asarray(img)
    border = np.concatenate(
        [
            a[0].reshape(-1, channels),
            a[-1].reshape(-1, channels),
            a[:, 0].reshape(-1, channels),
            a[:, -1].reshape(-1, channels),
        ]
    )
    fill = tuple(int(v) for v in np.median(border, axis=0))
    canvas = Image.new(img.mode, (w, h), fill[0] if channels == 1 else fill)
    canvas.paste(resized, ((w - new[0]) // 2, (h - new[1]) // 2))
    out = np.asarray(canvas, dtype=np.uint8).reshape(h, w, channels)
    return torch.from_numpy(out.copy()).permute(2, 0, 1).contiguous()  # (C, H, W)


def load_image(
    source: str | Path | bytes, channels: int = 1, size: tuple[int, int] = (28, 28), name: str | None = None
) -> torch.Tensor:
    """Open, check and convert one image: (C, H, W) uint8, C = `channels`, (H, W) = `size`, as a
    person sees it (`open_image`, `to_tensor`). Raises DataError as `open_image` does."""
    return to_tensor(open_image(source, name), channels, size)


def match_background(x: torch.Tensor, dark_background: bool) -> tuple[torch.Tensor, bool]:
    """Invert a (C, H, W) uint8 image whose background (its border) is the opposite of the
    training data's; return the image and whether it was inverted."""
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=-1).float().mean()
    light = border.item() > 127.5
    if light == dark_background:
        return 255 - x, True
    return x, False
