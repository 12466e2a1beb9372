"""Decoding one image into the tensor a model sees: the single path for every image.

Used by image folders, `convlab predict`, `convlab visualize` and the web playground, so an
image is converted the same way wherever it enters. Formats are recognised by content,
not by name; the pixel count is checked from the header before anything is decoded.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from .idx import DataError

FORMATS = {"PNG", "JPEG", "BMP", "GIF", "WEBP"}
MAX_PIXELS = 25_000_000  # refuse images larger than this (about 5000×5000) before decoding


class UnsupportedFormat(DataError):
    """An image in a format convlab does not read (one outside FORMATS: TIFF, ICO, PSD, ...)."""


def open_image(source: str | Path | bytes, name: str | None = None) -> Image.Image:
    """Open and fully decode an image from a path or bytes, with format and size checks."""
    label = name or (str(source) if not isinstance(source, bytes) else "image")
    try:
        with warnings.catch_warnings():  # the size is checked below, before decoding
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        if img.format not in FORMATS:
            raise UnsupportedFormat(
                f"{label}: {img.format or 'unknown'} images are not supported (use PNG, JPEG, BMP, GIF or WebP)"
            )
        w, h = img.size
        if w * h > MAX_PIXELS or w == 0 or h == 0:
            raise DataError(f"{label}: image is {w}×{h} pixels; convlab reads at most {MAX_PIXELS} pixels")
        img.load()
    except FileNotFoundError:
        raise DataError(f"{label}: no such file") from None
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise DataError(f"{label}: not a readable image ({e.__class__.__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(f"{label}: cannot decode image ({e})") from None
    return ImageOps.exif_transpose(img)


def to_tensor(img: Image.Image, channels: int = 1, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """(C, H, W) uint8: grayscale or RGB, resized to fit `size` with the aspect ratio kept.

    Transparent images are composited onto white. The image is scaled so its longer side
    fits, and centred on a canvas filled with the median colour of its border.
    """
    if img.mode in ("RGBA", "LA", "P") and (img.mode != "P" or "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    img = img.convert("L" if channels == 1 else "RGB")
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
    """Open, check and convert one image: (C, H, W) uint8."""
    return to_tensor(open_image(source, name), channels, size)


def match_background(x: torch.Tensor, dark_background: bool) -> tuple[torch.Tensor, bool]:
    """Invert a (C, H, W) uint8 image whose background (its border) is the opposite of the
    training data's; return the image and whether it was inverted."""
    border = torch.cat([x[:, 0], x[:, -1], x[:, :, 0], x[:, :, -1]], dim=-1).float().mean()
    light = border.item() > 127.5
    if light == dark_background:
        return 255 - x, True
    return x, False
