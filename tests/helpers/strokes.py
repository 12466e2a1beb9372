"""Strokes traced from real digits: the skeleton of a 28×28 digit (Zhang–Suen thinning) walked
into polylines, so a test can draw a held-out digit with the mouse as a person would."""

from __future__ import annotations

import numpy as np

NEIGHBOURS = [(-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1)]  # p2 … p9, clockwise


def thin(ink: np.ndarray) -> np.ndarray:
    """Zhang–Suen thinning of a boolean image to one-pixel-wide lines."""
    img = ink.astype(np.uint8).copy()
    while True:
        changed = False
        for step in (0, 1):
            p = np.pad(img, 1)
            n = [p[1 + dy : p.shape[0] - 1 + dy, 1 + dx : p.shape[1] - 1 + dx] for dy, dx in NEIGHBOURS]
            p2, _, p4, _, p6, _, p8, _ = n
            count = sum(n)
            ring = [*n, p2]
            transitions = sum((ring[k] == 0) & (ring[k + 1] == 1) for k in range(8))
            if step == 0:
                c = (p2 * p4 * p6 == 0) & (p4 * p6 * p8 == 0)
            else:
                c = (p2 * p4 * p8 == 0) & (p2 * p6 * p8 == 0)
            remove = (img == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & c
            if remove.any():
                img[remove] = 0
                changed = True
        if not changed:
            return img.astype(bool)


def trace(skeleton: np.ndarray, min_points: int = 3) -> list[list[tuple[float, float]]]:
    """Polylines (x, y) covering a skeleton: each walk starts at an end point where there is one."""
    left = {(int(y), int(x)) for y, x in zip(*np.nonzero(skeleton))}

    def around(point):
        y, x = point
        orth = [(y + dy, x + dx) for dy, dx in NEIGHBOURS[::2] if (y + dy, x + dx) in left]
        diag = [(y + dy, x + dx) for dy, dx in NEIGHBOURS[1::2] if (y + dy, x + dx) in left]
        return orth + diag  # orthogonal steps first: smoother lines

    done: set[tuple[int, int]] = set()

    def joined(point, exclude):
        """A skeleton pixel already drawn next to `point`: a stroke ends there, so nothing is left open."""
        y, x = point
        near = [(y + dy, x + dx) for dy, dx in NEIGHBOURS if (y + dy, x + dx) in done]
        return next((q for q in near if q not in exclude), None)

    strokes = []
    while left:
        ends = [p for p in left if len(around(p)) == 1]
        point = min(ends) if ends else min(left)
        path = [point]
        left.discard(point)
        while nxt := around(point):
            point = nxt[0]
            path.append(point)
            left.discard(point)
        first = joined(path[0], set(path[:2]))  # a branch from a drawn junction starts at it
        last = joined(path[-1], set(path[-2:]))  # a loop closes on its start, a branch meets its junction
        if (
            len(path) > 2
            and last is None
            and path[0] in {(path[-1][0] + dy, path[-1][1] + dx) for dy, dx in NEIGHBOURS}
        ):
            last = path[0]
        path = ([first] if first else []) + path + ([last] if last else [])
        done.update(path)
        if len(path) >= min_points or not strokes:
            strokes.append([(x + 0.5, y + 0.5) for y, x in path])
    return strokes


def digit_strokes(digit: np.ndarray, threshold: int = 96) -> list[list[tuple[float, float]]]:
    """The strokes of a 28×28 uint8 digit (light on dark), in its pixel coordinates."""
    return trace(thin(digit >= threshold))
