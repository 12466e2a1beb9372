"""Simple shapes as a person draws them with the mouse: strokes (polylines) of a circle, a cross or
a triangle at a random size and position on a square canvas, every point jittered by hand."""

from __future__ import annotations

import io
import math
import random

from PIL import Image, ImageDraw

SHAPES = ("circle", "cross", "triangle")


def shape_strokes(kind: str, rng: random.Random, canvas: float = 280) -> list[list[tuple[float, float]]]:
    """The strokes of one `kind` drawing: half-size 22–40 % of the canvas, anywhere it fits with a
    margin for the pen, each point moved up to 2.5 % of the canvas by hand."""
    s = rng.uniform(0.22, 0.40) * canvas
    margin = 0.06 * canvas + s
    cx, cy = rng.uniform(margin, canvas - margin), rng.uniform(margin, canvas - margin)

    def j(x: float, y: float) -> tuple[float, float]:
        d = 0.025 * canvas
        return x + rng.uniform(-d, d), y + rng.uniform(-d, d)

    def line(a, b, n=8):
        return [j(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(n + 1)]

    if kind == "circle":
        start = rng.uniform(0, 2 * math.pi)
        pts = [(cx + s * math.cos(start + 2 * math.pi * k / 24), cy + s * math.sin(start + 2 * math.pi * k / 24))
               for k in range(25)]  # fmt: skip
        return [[j(x, y) for x, y in pts]]
    if kind == "cross":
        return [line((cx - s, cy - s), (cx + s, cy + s)), line((cx + s, cy - s), (cx - s, cy + s))]
    if kind == "triangle":
        a, b, c = (cx, cy - s), (cx + s, cy + 0.8 * s), (cx - s, cy + 0.8 * s)
        return [line(a, b)[:-1] + line(b, c)[:-1] + line(c, a)]
    raise ValueError(kind)


def render_png(strokes, canvas: int = 280, width: int = 20) -> bytes:
    """The strokes drawn by Pillow as the page's pen draws them (white, 20 px, on black): PNG bytes."""
    im = Image.new("L", (canvas, canvas), 0)
    d = ImageDraw.Draw(im)
    for s in strokes:
        d.line(s, fill=255, width=width, joint="curve")
        for x, y in (s[0], s[-1]):
            d.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()
