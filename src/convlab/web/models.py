"""The models behind the playground: every bundled checkpoint and any given at start, loaded on
first use, each with its own lock, summary and test images.

`Models` is the catalogue the page's model switcher shows (names, datasets, accuracies, read
from the checkpoints' metadata without loading weights); `LoadedModel` answers the API for one
model: its description, predictions with every layer's maps, receptive fields and random test
images of its dataset.
"""

from __future__ import annotations

import base64
import io
import random
import threading
from pathlib import Path

import torch

from ..checkpoint import DEFAULT, Checkpoint, bundled, load_checkpoint, pretrained_path, read_checkpoint, resolve
from ..data.handwriting import NoDigit
from ..data.loader import normalize
from ..errors import UserError
from ..graph import layer_graph
from ..introspect import receptive_field, summary
from ..predict import input_style, prepare
from .inputs import ApiError

PLAYGROUND_DEFAULT = "lenet-modern-digits"  # the playground opens on a digit model: you draw digits


def quantize(t: torch.Tensor) -> dict:
    """A layer's output as base64 uint8 with one scale for the whole layer (compact, fast)."""
    t = t.detach().float()
    lo, hi = t.min().item(), t.max().item()
    q = ((t - lo) / (hi - lo) * 255).round().to(torch.uint8) if hi > lo else torch.zeros_like(t, dtype=torch.uint8)
    return {"min": lo, "max": hi, "data": base64.b64encode(q.contiguous().numpy().tobytes()).decode()}


def layer_row(r, shape) -> dict:
    """A layer as the page names it: row number, kind, module path, block, output shape (C, H, W)."""
    return {"index": r.index, "name": r.kind, "path": r.name, "block": r.block, "shape": list(shape[1:])}


def layer_maps(graph, outs: list[torch.Tensor]) -> list[dict]:
    """Every layer's output for the first image of a batch, as the page draws it."""
    return [{**layer_row(r, y.shape), **quantize(y[0])} for r, y in zip(graph.rows, outs)]


def first_conv_kernels(model: torch.nn.Module) -> list | None:
    """The first convolution's kernels, first input channel: (out, kh, kw) as lists, or None."""
    conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
    return None if conv is None else conv.weight.detach()[:, 0].float().tolist()


def png_data_url(x: torch.Tensor) -> str:
    """A (C, H, W) uint8 image as a PNG data URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(x.permute(1, 2, 0).squeeze(-1).numpy()).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


_test_sets: dict[str, tuple] = {}
_test_sets_lock = threading.Lock()


def test_set(name: str | None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """(images, labels, classes) of a known dataset's test split, loaded once per process."""
    from ..data import load_dataset
    from ..data.sources import KNOWN, locate

    with _test_sets_lock:
        if name not in _test_sets:
            if name not in KNOWN or locate(name) is None:
                raise ApiError(f"the model's dataset ({name}) is not available on this machine", 404)
            try:
                ds = load_dataset(name, progress=False)
            except UserError as e:
                raise ApiError(str(e), 404) from None
            _test_sets[name] = (ds.test_x, ds.test_y, ds.classes)
        return _test_sets[name]


class LoadedModel:
    """One checkpoint in the playground: its model (behind a lock), layers and summary."""

    def __init__(self, name: str, ck: Checkpoint):
        self.name, self.ck = name, ck
        self.lock = threading.RLock()
        self.graph = layer_graph(ck.model)
        self.summary = summary(ck.model, ck.input_shape)
        self.style = input_style(ck)
        self._filters: dict[tuple[int, int], dict] = {}
        self._mistakes = None

    def warm(self) -> LoadedModel:
        """One forward pass now, so the first visitor does not wait for first-call set-up."""
        with self.lock, torch.inference_mode():
            self.graph.capture(torch.zeros(1, *self.ck.input_shape))
        return self

    @property
    def dataset(self) -> str | None:
        return self.ck.meta.get("dataset", {}).get("name")

    def info(self) -> dict:
        arch = self.ck.meta["architecture"]
        return {
            "name": self.name,
            "model": arch["name"],
            "classes": self.ck.classes,
            "input_shape": list(self.ck.input_shape),
            "input_style": self.style,
            "dataset": self.dataset,
            "metrics": self.ck.meta.get("metrics", {}),
            "summary": self.summary.to_dict(),
            "layers": [layer_row(r, r.output_shape) for r in self.summary.layers],
            "kernels": first_conv_kernels(self.ck.model),
        }

    def _prepare(self, image: bytes):
        """The uploaded image prepared as the model was trained; 422 when a digit model finds no ink."""
        try:
            return prepare(self.ck, image, "uploaded image")
        except NoDigit as e:
            raise ApiError(str(e), 422) from None
        except UserError as e:
            raise ApiError(str(e).replace("uploaded image: ", ""), 415 if "not supported" in str(e) else 400) from None

    def predict(self, image: bytes) -> dict:
        prep = self._prepare(image)
        x = prep.x  # (C, H, W) uint8
        with self.lock, torch.inference_mode():
            outs = self.graph.capture(normalize(x[None], self.ck.mean, self.ck.std))
        probs = torch.softmax(outs[-1][0].float(), 0)
        return {
            "model": self.name,
            "probabilities": [round(p, 6) for p in probs.tolist()],
            "classes": self.ck.classes,
            "prediction": self.ck.classes[int(probs.argmax())],
            "inverted": prep.inverted,
            "steps": prep.steps,
            "input": x[0].tolist() if x.shape[0] == 1 else x.permute(1, 2, 0).tolist(),
            "layers": layer_maps(self.graph, outs),
        }

    def receptive_field(self, data: dict) -> dict:
        try:
            layer, row, col = int(data["layer"]), int(data["row"]), int(data["col"])
            channel = None if data.get("channel") is None else int(data["channel"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ApiError("give integer 'layer', 'row' and 'col' (and optionally 'channel')") from None
        try:
            with self.lock:
                return receptive_field(self.ck.model, layer, (row, col), self.ck.input_shape, channel)
        except UserError as e:
            raise ApiError(str(e)) from None

    def why(self, image: bytes, method: str, target) -> dict:
        """An attribution map of the prepared image: (H·W) values scaled to 0–255, with its note."""
        from ..attribution import METHODS, attribute

        if method not in METHODS:
            raise ApiError(f"'method' must be one of {', '.join(METHODS)}")
        if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
            raise ApiError("'target' must be a class index")
        x = normalize(self._prepare(image).x[None], self.ck.mean, self.ck.std)
        try:
            with self.lock:
                a = attribute(self.ck.model, x, method, target)
        except UserError as e:
            raise ApiError(str(e)) from None
        m = a.maps[0].clamp_min(0)
        return {"method": method, "target": a.targets[0], "class": self.ck.classes[a.targets[0]], "note": a.note_for(0),
                "shape": list(m.shape), **quantize(m)}  # fmt: skip

    def filter(self, data: dict) -> dict:
        """What a channel looks for: the test crops that excite it most, and an image made to."""
        from ..filters import maximize, to_uint8, top_images

        try:
            layer, channel = int(data["layer"]), int(data["channel"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ApiError("give integer 'layer' and 'channel'") from None
        key = (layer, channel)
        if key not in self._filters:
            x, y, classes = test_set(self.dataset)
            try:
                with self.lock:
                    best = top_images(self.ck, layer, channel, x, 8)
                    made = to_uint8(maximize(self.ck, layer, channel, steps=96))
            except UserError as e:
                raise ApiError(str(e)) from None
            self._filters[key] = {
                "layer": layer, "channel": channel, "name": self.graph.rows[layer].name,
                "top": [{"index": b.index, "label": classes[int(y[b.index])], "activation": round(b.activation, 4),
                         "crop": png_data_url(b.crop), "image": png_data_url(x[b.index])} for b in best],
                "made": png_data_url(made),
            }  # fmt: skip
        return self._filters[key]

    def mistakes(self) -> dict:
        """The confusion matrix of the model on its test set, and its most confused pairs."""
        m = self._mistakes_once()
        return {"dataset": m.dataset, "classes": m.classes, "accuracy": m.accuracy, "n": len(m.labels),
                "confusion": m.confusion.tolist(), "pairs": m.pairs(5)}  # fmt: skip

    def mistakes_cell(self, true: str | None, predicted: str | None) -> dict:
        """The test images of one cell of the confusion matrix, most confident first."""
        m = self._mistakes_once()
        try:
            t, p = int(true or ""), int(predicted or "")
        except ValueError:
            raise ApiError("give integer 'true' and 'predicted' class indices") from None
        try:
            rows = m.cell(t, p, 12)
        except UserError as e:
            raise ApiError(str(e)) from None
        return {"true": t, "predicted": p, "count": int(m.confusion[t, p]),
                "images": [{**r, "image": png_data_url(m.images[r["index"]])} for r in rows]}  # fmt: skip

    def _mistakes_once(self):
        from ..mistakes import find_mistakes

        with self.lock:
            if self._mistakes is None:
                test_set(self.dataset)  # a clear 404 when the dataset is not on this machine
                try:
                    self._mistakes = find_mistakes(self.ck)
                except UserError as e:
                    raise ApiError(str(e), 404) from None
            return self._mistakes

    def sample(self) -> dict:
        x, y, classes = test_set(self.dataset)
        i = random.randrange(len(y))
        return {"image": png_data_url(x[i]), "label": classes[int(y[i])], "index": i}


def checkpoint_name(ck: Checkpoint) -> str:
    """A short name for a checkpoint given by path: its run folder's name, or its file's stem."""
    path = Path(ck.meta.get("path", "checkpoint"))
    name = path.parent.name if path.name == "model.safetensors" else path.stem
    return name


class Models:
    """The playground's catalogue: every bundled checkpoint, plus one given at start (`--checkpoint`),
    which is then the default. Weights load on first use."""

    def __init__(self, given: Checkpoint | None = None, given_name: str | None = None):
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._given: dict[str, Checkpoint] = {}
        self.default = PLAYGROUND_DEFAULT if PLAYGROUND_DEFAULT in bundled() else DEFAULT
        if given is not None:
            name = given_name or checkpoint_name(given)
            self._given[name] = given
            self.default = name

    def add_run(self, run_dir: str | Path) -> str:
        """Add a run folder's checkpoint (a training just done in the playground) under its name."""
        ck = load_checkpoint(resolve(run_dir))
        name = Path(run_dir).name
        with self._lock:
            self._given[name] = ck
            self._loaded.pop(name, None)
        return name

    @property
    def names(self) -> list[str]:
        return [*self._given, *(n for n in bundled() if n not in self._given)]

    def get(self, name: str | None) -> LoadedModel:
        name = name or self.default
        with self._lock:
            if name not in self._loaded:
                if name in self._given:
                    ck = self._given[name]
                elif name in bundled():
                    ck = load_checkpoint(name)
                else:
                    raise ApiError(f"unknown model {name!r}; known: {', '.join(self.names)}", 404)
                self._loaded[name] = LoadedModel(name, ck)
            return self._loaded[name]

    def catalog(self) -> dict:
        """What the model switcher lists, from metadata only."""
        rows = []
        for name in self.names:
            if name in self._given:
                meta = self._given[name].meta
            else:
                meta = read_checkpoint(pretrained_path(name), tensors=False)[1]
            rows.append(
                {
                    "name": name,
                    "model": meta["architecture"]["name"],
                    "dataset": meta.get("dataset", {}).get("name"),
                    "classes": meta["classes"],
                    "test_acc": meta.get("metrics", {}).get("test_acc"),
                    "bundled": name not in self._given,
                }
            )
        return {"default": self.default, "models": rows}


def models_for(checkpoint: str | Path | None) -> Models:
    """The catalogue for `convlab serve [--checkpoint X]`: a bundled name picks the default,
    a path adds that checkpoint (loaded now, so a bad one fails at start)."""
    if checkpoint is None:
        return Models()
    if str(checkpoint) in bundled():
        load_checkpoint(checkpoint)  # fail now if it cannot load
        models = Models()
        models.default = str(checkpoint)
        return models
    ck = load_checkpoint(resolve(checkpoint))
    return Models(ck)
