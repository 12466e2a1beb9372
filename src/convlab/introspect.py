"""Looking inside a model: layer output shapes (more instruments build on this)."""
from __future__ import annotations

import torch
from torch import nn


def layer_shapes(model: nn.Sequential, input_size: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
    """The seed's loop (§6): push one random input through each layer, record its output shape."""
    x = torch.rand((1,) + tuple(input_size))
    rows = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            rows.append((layer.__class__.__name__, tuple(x.shape)))
    model.train(was_training)
    return rows
