"""Using a trained model: class probabilities for images of any size and colour.

Each image is turned into what the model was trained on, one of two ways, chosen by the
checkpoint's `input_style`:
  * "mnist" (models of handwritten digits: `digits`, `mnist`): MNIST's own recipe — inverted if
    the paper is light, cropped to the ink, scaled into a 20×20 box, centred by mass in 28×28
    (`data.handwriting`);
  * "fit" (everything else): the same conversion as training images (`data.images`): resized
    with its aspect ratio kept, and inverted when its background is the opposite of the
    training data's.
The result says what was done (`Prepared.steps`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .checkpoint import Checkpoint
from .data.handwriting import NoDigit, prepare_digit
from .data.images import load_image, match_background, open_image
from .data.loader import normalize
from .data.sources import KNOWN
from .models.user import own_code


@dataclass
class Prepared:
    """An image as the model will see it, and the steps that made it so."""

    x: torch.Tensor  # (C, H, W) uint8, what the model sees
    steps: list[str] = field(default_factory=list)  # what was done to the image, in words

    @property
    def inverted(self) -> bool:
        """Whether the image's colours were inverted (dark strokes on light made light on dark)."""
        return any(step.startswith("inverted") for step in self.steps)


def input_style(ck: Checkpoint) -> str:
    """ "mnist" for models of MNIST-style digits, else "fit" (see the module docstring)."""
    if ck.meta.input_style is not None:
        return ck.meta.input_style
    return "mnist" if reads_digits(ck) else "fit"


def reads_digits(ck: Checkpoint) -> bool:
    """Whether the model learned handwritten digits (a known dataset of them), rather than drawings
    of classes of your own (`--input-style mnist` on your data: the playground's classes)."""
    known = KNOWN.get(ck.meta.dataset_name or "")
    return known is not None and known.mnist_style


@torch.inference_mode()
def probabilities(ck: Checkpoint, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities (B, classes) for uint8 images x (B, C, H, W) already at input size."""
    device = next(ck.model.parameters()).device
    with own_code(ck.model, lambda: f"on images of shape {tuple(x.shape)}"):  # (your network's failure: yours)
        out = ck.model(normalize(x.to(device), ck.mean, ck.std))
    return torch.softmax(out.float(), dim=1).cpu()


def prepare(ck: Checkpoint, source: str | Path | bytes, name: str | None = None) -> Prepared:
    """The image as the model sees it, (C, H, W) uint8, and the steps taken.

    Raises UserError (convlab.data.images) for a file that is missing or not an image Pillow reads;
    NoDigit for an image without ink where the model reads drawings the MNIST way (a digit model asks
    for a digit, a model of your own drawn classes for one of its classes)."""
    c, h, w = ck.input_shape
    if input_style(ck) == "mnist" and c == 1 and (h, w) == (28, 28):
        try:
            x, steps = prepare_digit(open_image(source, name))
        except NoDigit as e:
            if reads_digits(ck):
                raise
            raise NoDigit("nothing drawn: the image has no ink (draw one of the model's classes)") from e
        return Prepared(x, steps)
    x, inverted = match_background(load_image(source, c, (h, w), name=name), ck.meta.dark_background)
    return Prepared(x, ["inverted: light background, unlike the training images"] if inverted else [])


def predict(ck: Checkpoint, images: list[str | Path], top_k: int = 3) -> list[dict]:
    """Top-k classes for each image file: [{image, prediction, inverted, steps, top: [{class, probability}]}].

    Probabilities are softmax values in [0, 1]. Raises UserError as `prepare` does."""
    prepared = [prepare(ck, p) for p in images]
    probs = probabilities(ck, torch.stack([p.x for p in prepared]))
    k = max(1, min(top_k, len(ck.classes)))
    results = []
    for path, prep, p in zip(images, prepared, probs):
        values, idx = p.topk(k)
        top = [{"class": ck.classes[i], "probability": round(v, 6)} for v, i in zip(values.tolist(), idx.tolist())]
        results.append(
            {
                "image": str(path),
                "prediction": top[0]["class"],
                "inverted": prep.inverted,
                "steps": prep.steps,
                "top": top,
            }
        )
    return results
