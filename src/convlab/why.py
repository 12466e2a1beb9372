"""`convlab why`: the top classes of each image, and its attribution maps laid over it, one PNG each.

The images are prepared exactly as `predict` prepares them (`predict.prepare`), so the maps
explain the very input the model classified.
"""

from __future__ import annotations

from pathlib import Path

import torch

from . import plots
from .attribution import METHODS, attribute
from .checkpoint import Checkpoint
from .data.loader import normalize
from .fsutil import output_dir, refuse_existing
from .predict import prepare, probabilities


def explain_images(
    ck: Checkpoint,
    images: list[str | Path],
    methods: tuple[str, ...] = METHODS,
    out: str | Path = "why",
    target: str | None = None,
    layer: str | None = None,
    window: int = 4,
    stride: int = 2,
    top_k: int = 3,
    force: bool = False,
) -> list[dict]:
    """For each image: its top classes, each method's map, one labelled PNG in `out`
    (`out/NNN-STEM.png`), and each method's note for that image (what was computed where, and what is
    true of that image's map alone). `target`: the class to explain, by name or by index (0-based; a
    name wins); None explains each image's predicted class. Raises UserError for an existing PNG
    without `force`, an unknown target, layer, window or stride (before `out` is made)."""
    prepared = [prepare(ck, p) for p in images]
    names = [Path(str(path)).stem or f"image{i}" for i, path in enumerate(images)]
    files = [Path(out) / f"{i:03d}-{name}.png" for i, name in enumerate(names)]
    refuse_existing(files, force)
    x_u8 = torch.stack([p.x for p in prepared])  # (B, C, H, W) uint8
    x = normalize(x_u8, ck.mean, ck.std)
    probs = probabilities(ck, x_u8)
    targets = None if target is None else [class_index(ck.classes, target)] * len(images)
    results: dict[str, object] = {}
    for method in methods:
        options: dict = {}
        if method == "gradcam":
            options["layer"] = layer
        if method == "occlusion":
            options.update(window=window, stride=stride)
        results[method] = attribute(ck.model, x, method, targets, **options)
    out = output_dir(out)  # (only now: a refused request leaves no folder behind)
    rows = []
    k = max(1, min(top_k, len(ck.classes)))
    for i, (path, prep) in enumerate(zip(images, prepared)):
        values, idx = probs[i].topk(k)
        top = [{"class": ck.classes[j], "probability": round(float(v), 6)} for v, j in zip(values, idx.tolist())]
        explained = ck.classes[results[methods[0]].targets[i]]  # type: ignore[attr-defined]
        maps = [(f"{m}: {explained}", results[m].maps[i]) for m in methods]  # type: ignore[attr-defined]
        file = plots.save(plots.attribution_figure(prep.x, maps, f"{names[i]}: {top[0]['class']}"), files[i])
        rows.append(
            {"image": str(path), "prediction": top[0]["class"], "explained": explained, "top": top, "steps": prep.steps,
             "file": str(file), "notes": {m: results[m].note_for(i) for m in methods}}  # type: ignore[attr-defined]
        )  # fmt: skip
    return rows


def class_index(classes: list[str], target: str) -> int:
    """The index of class `target` in `classes`: its name, else (when no class is so named) its index
    written as a number, 0 to len(classes) - 1. Raises UserError for neither."""
    if target in classes:
        return classes.index(target)
    if target.isascii() and target.isdigit() and int(target) < len(classes):
        return int(target)
    from .errors import UserError, unknown_name

    raise UserError(f"{unknown_name('class', target, classes)}, or a class index 0..{len(classes) - 1}")
