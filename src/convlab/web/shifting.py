"""The playground's "Shift" view: the current drawing moved by (dy, dx) pixels, read by the MLP and
by the tutorial's LeNet side by side, with every layer's maps and its equivariance error.

POST /api/shift {"image", "dy", "dx"}: each model prepares the image as it was trained (a 28×28
digit), the prepared digit is shifted with background coming in (`lab.common.shift`), and each layer
of each model gets its error from the lab's own `lab.equivariance.layer_errors` (the map of the
shifted input against the shifted map, inside the border; a dense layer's invariance error) — one
piece of code for the lab's report and the page. The tutorial's §1.3 (1), one pixel at a time.
"""

from __future__ import annotations

import torch

from ..data.loader import normalize
from ..lab.common import shift
from ..lab.equivariance import layer_errors
from ..models.user import own_code
from .inputs import ApiError
from .models import LoadedModel, Models
from .pictures import layer_maps, probabilities

SHIFT_MODELS = ("mlp-digits", "lenet-digits")  # the tutorial's flattened MLP beside its LeNet
MAX_SHIFT = 10  # pixels each way: beyond this a 28×28 digit has left the image


def offsets(data: dict) -> tuple[int, int]:
    """(dy, dx) from a request's JSON: integers in [−MAX_SHIFT, MAX_SHIFT]; ApiError otherwise."""
    try:
        dy, dx = data.get("dy", 0), data.get("dx", 0)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in (dy, dx)):
            raise TypeError
    except (TypeError, AttributeError):
        raise ApiError("'dy' and 'dx' must be whole numbers of pixels") from None
    if max(abs(dy), abs(dx)) > MAX_SHIFT:
        raise ApiError(f"'dy' and 'dx' must be between -{MAX_SHIFT} and {MAX_SHIFT} pixels")
    return dy, dx


def read_model(m: LoadedModel, image: bytes, dy: int, dx: int) -> dict:
    """One model's answer on the image shifted by (dy, dx): its prediction, every layer's maps and
    every layer's error (None where the map has no inside left), and the shifted input (H, W) it read."""
    x = m._prepare(image).x[None].float()  # (1, C, H, W) in 0…255, as the model was trained
    moved = shift(x, dy, dx)  # background (0) comes in
    plain, shifted = (normalize(t, m.ck.mean, m.ck.std) for t in (x, moved))
    with m.lock, torch.inference_mode(), own_code(m.ck.model, lambda: "on the shifted image"):
        outs = m.graph.capture(shifted)
        errors = layer_errors(m.ck.model, plain, (dy, dx), m.summary.layers, moved=shifted)
    probs = probabilities(outs)
    layers = layer_maps(m.graph, outs)
    for row, out, info, err in zip(layers, outs, m.summary.layers, errors):
        row["error"] = err  # a map's equivariance error, a dense layer's invariance error
        row["jump"] = list(info.rf_jump) if info.rf_jump and out.dim() == 4 else None  # None: dense
    return {
        "model": m.name,
        "classes": m.ck.classes,
        "probabilities": [round(p, 6) for p in probs.tolist()],
        "prediction": m.ck.classes[int(probs.argmax())],
        "input": moved[0, 0].to(torch.uint8).tolist(),
        "layers": layers,
    }


def shift_request(models: Models, image: bytes, data: dict) -> dict:
    """The answer to POST /api/shift: {"dy", "dx", "models": [read_model(...) for each model]}."""
    dy, dx = offsets(data)
    return {"dy": dy, "dx": dx, "models": [read_model(models.get(name), image, dy, dx) for name in SHIFT_MODELS]}
