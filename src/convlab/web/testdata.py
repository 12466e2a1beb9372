"""The test images the playground shows (random test images, "what a channel looks for", the
Mistakes tab): a known dataset's test split, read once per process. A class of your own has its
held-out drawings instead (`LoadedModel.test_images`, from its run folder: `data.drawings.kept_drawings`).
"""

from __future__ import annotations

import threading

import torch

from ..errors import UserError
from .inputs import ApiError


class DatasetUnavailable(ApiError):
    """The model's dataset is not on this machine, so no test images (404 Not Found)."""


_test_sets: dict[str, tuple] = {}
_test_sets_lock = threading.Lock()


def test_set(name: str | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images, labels, classes) of a known dataset's test split, loaded once per process. Raises
    DatasetUnavailable for one not on this machine, or data of your own (which it cannot know)."""
    from ..data import load_dataset
    from ..data.sources import KNOWN, locate

    with _test_sets_lock:
        if name not in _test_sets:
            if name not in KNOWN:
                raise DatasetUnavailable(
                    f"the model learned from data of its own ({name}) that is not kept beside it, so there are "
                    "no test images to show (a class of your own keeps its drawings in its run folder)"
                )
            if locate(name) is None:
                raise DatasetUnavailable(f"the model's dataset ({name}) is not available on this machine")
            try:
                ds = load_dataset(name, progress=False)
            except UserError as e:
                raise DatasetUnavailable(str(e)) from None
            _test_sets[name] = (ds.test_x, ds.test_y, ds.classes)
        return _test_sets[name]
