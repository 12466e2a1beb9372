"""Using a trained model: class probabilities for images of any size and colour.

Each image goes through the same conversion as training data (`data.images`), and is
inverted when its background is the opposite of what the model was trained on (dark
digits-style backgrounds vs light photos), which the result reports.
"""

from __future__ import annotations

from pathlib import Path

import torch

from .checkpoint import Checkpoint
from .data.images import load_image, match_background
from .data.loader import normalize


@torch.inference_mode()
def probabilities(ck: Checkpoint, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities (B, classes) for uint8 images x (B, C, H, W) already at input size."""
    device = next(ck.model.parameters()).device
    return torch.softmax(ck.model(normalize(x.to(device), ck.mean, ck.std)).float(), dim=1).cpu()


def prepare(ck: Checkpoint, source: str | Path | bytes, name: str | None = None) -> tuple[torch.Tensor, bool]:
    """(C, H, W) uint8 as the model sees it, and whether it was inverted."""
    c, h, w = ck.input_shape
    x = load_image(source, c, (h, w), name=name)
    return match_background(x, bool(ck.meta.get("dark_background", True)))


def predict(ck: Checkpoint, images: list[str | Path], top_k: int = 3) -> list[dict]:
    """Top-k classes for each image file: [{image, prediction, inverted, top: [{class, probability}]}]."""
    prepared = [prepare(ck, p) for p in images]
    probs = probabilities(ck, torch.stack([x for x, _ in prepared]))
    k = max(1, min(top_k, len(ck.classes)))
    results = []
    for path, (_, inverted), p in zip(images, prepared, probs):
        values, idx = p.topk(k)
        top = [{"class": ck.classes[i], "probability": round(v, 6)} for v, i in zip(values.tolist(), idx.tolist())]
        results.append({"image": str(path), "prediction": top[0]["class"], "inverted": inverted, "top": top})
    return results
