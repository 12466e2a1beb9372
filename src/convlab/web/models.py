"""The models behind the playground: every bundled checkpoint and any given at start, loaded on
first use, each with its own lock, summary and test images.

`Models` is the catalogue the page's model switcher shows (names, datasets, accuracies, read
from the checkpoints' metadata without loading weights); `LoadedModel` answers the API for one
model: its description, predictions with every layer's maps, receptive fields and random test
images of its dataset.
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, ParamSpec, TypeVar

import torch

from ..checkpoint import Checkpoint, load_checkpoint, read_checkpoint, resolve
from ..data.drawings import kept_drawings
from ..data.loader import normalize
from ..errors import UserError
from ..graph import layers_of
from ..introspect import Summary, receptive_field, summary
from ..models.pretrained import DEFAULT, PLAYGROUND_DEFAULT, bundled, pretrained_path
from ..models.user import own_code
from ..modelspec import CodeConsent, parse_args_json
from ..predict import input_style, prepare, reads_digits
from .inputs import ApiError
from .pictures import first_conv_kernels, layer_maps, layer_row, png_data_url, probabilities, quantize
from .testdata import DatasetUnavailable, test_set

if TYPE_CHECKING:
    from ..mistakes import Mistakes
    from ..predict import Prepared

P = ParamSpec("P")
T = TypeVar("T")
PANEL_TOP = 8  # "what this channel looks for": the page shows two rows of four test crops
PANEL_STEPS = 96  # and makes its image in fewer steps than `convlab filter`, to answer within a second


GRADCAM_ADVICE = (  # docs/why.md, "What we noticed": lenet-modern localises 47 %, GoogLeNet 99.5 %
    "Grad-CAM is unreliable on this model: a dense layer mixes the positions of its last feature map, "
    "so the map may light the empty background. Trust occlusion and saliency more here."
)


def dense_head(s: Summary) -> bool:
    """Whether a dense layer reads a feature map larger than 1×1 (LeNet's 16×5×5 flattened into 400),
    so that it mixes positions and Grad-CAM's spatially averaged weights ignore where it looks
    (docs/why.md); a network with global pooling before its head (ResNet) has no such head."""
    shapes = [r.output_shape[1:] for r in s.layers]  # (C, H, W) or (features,)
    return any(len(a) == 3 and a[1] * a[2] > 1 and len(b) == 1 for a, b in itertools.pairwise(shapes))


class UnknownModel(ApiError):
    """A model name that is neither bundled nor given at start (404 Not Found)."""


def yours(doing: str) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """A LoadedModel method whose forward passes run the model's code: where that is your own network
    (`--model FILE.py:NAME`), its failure is yours (`own_code`: a UserCodeError saying it failed
    `doing`, which the API answers with one line and its status; the traceback goes to the server's log)."""

    def wrap(method: Callable[P, T]) -> Callable[P, T]:
        @functools.wraps(method)
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            with own_code(args[0].ck.model, lambda: doing):  # type: ignore[attr-defined]  # (args[0]: self)
                return method(*args, **kwargs)

        return run

    return wrap


class LoadedModel:
    """One checkpoint in the playground: its model (behind a lock), layers and summary."""

    def __init__(self, name: str, ck: Checkpoint):
        self.name, self.ck = name, ck
        self.lock = threading.RLock()
        with own_code(ck.model, lambda: "while summarising its layers"):
            self.graph = layers_of(ck.model)  # (untraceable: its modules' outputs, by hooks)
            self.summary = summary(ck.model, ck.input_shape)
        self.style = input_style(ck)
        self.dense_head = dense_head(self.summary)
        self.drawings = kept_drawings(ck.meta)  # a class of its own: its held-out drawings are its test set
        self._held_out: tuple[torch.Tensor, torch.Tensor, list[str]] | None = None
        self._filters: dict[tuple[int, int], dict] = {}
        self._mistakes: Mistakes | None = None

    @yours("on a blank image")
    def warm(self) -> LoadedModel:
        """One forward pass now, so the first visitor does not wait for first-call set-up."""
        with self.lock, torch.inference_mode():
            self.graph.capture(torch.zeros(1, *self.ck.input_shape))
        return self

    @property
    def dataset(self) -> str | None:
        return self.ck.meta.dataset_name

    def test_images(self) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
        """(images (N, C, H, W) uint8, labels (N,), classes) of the model's test set: a known dataset's,
        or the held-out split of the drawings kept in its run (the split its training made)."""
        if self.drawings is None:
            return test_set(self.dataset)
        with self.lock:
            if self._held_out is None:
                from ..evaluate import checkpoint_test_set

                ds = checkpoint_test_set(self.ck, data=str(self.drawings))
                self._held_out = (ds.test_x, ds.test_y, ds.classes)
            return self._held_out

    def info(self) -> dict:
        arch = self.ck.meta.architecture
        return {
            "name": self.name,
            "model": arch.name,
            "classes": self.ck.classes,
            "input_shape": list(self.ck.input_shape),
            "input_style": self.style,
            "reads_digits": reads_digits(self.ck),  # else drawings of its own classes (or photos)
            "dataset": self.dataset,
            "metrics": self.ck.meta.metrics.to_dict() if self.ck.meta.metrics else {},
            "summary": self.summary.to_dict(),
            "layers": [layer_row(r, r.output_shape) for r in self.summary.layers],
            "kernels": first_conv_kernels(self.ck.model),
        }

    def _prepare(self, image: bytes) -> Prepared:
        """The uploaded image prepared as the model was trained. Its refusals keep their types
        (`app.STATUS`: 415 for a format not read, 422 when a digit model finds no ink)."""
        try:
            return prepare(self.ck, image, "uploaded image")
        except UserError as e:  # the same error, without the name the page never gave
            e.args = (str(e).replace("uploaded image: ", ""),)
            raise

    @yours("on the uploaded image")
    def predict(self, image: bytes) -> dict:
        prep = self._prepare(image)
        x = prep.x  # (C, H, W) uint8
        with self.lock, torch.inference_mode():
            outs = self.graph.capture(normalize(x[None], self.ck.mean, self.ck.std))
            layers = layer_maps(self.graph, outs)  # (under the lock: an untraced model's rows are its latest run's)
        probs = probabilities(outs)
        return {
            "model": self.name,
            "probabilities": [round(p, 6) for p in probs.tolist()],
            "classes": self.ck.classes,
            "prediction": self.ck.classes[int(probs.argmax())],
            "inverted": prep.inverted,
            "steps": prep.steps,
            "input": x[0].tolist() if x.shape[0] == 1 else x.permute(1, 2, 0).tolist(),
            "layers": layers,
        }

    @yours("while finding a receptive field")
    def receptive_field(self, data: dict) -> dict:
        try:
            layer, row, col = int(data["layer"]), int(data["row"]), int(data["col"])
            channel = None if data.get("channel") is None else int(data["channel"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ApiError("give integer 'layer', 'row' and 'col' (and optionally 'channel')") from None
        with self.lock:
            return receptive_field(self.ck.model, layer, (row, col), self.ck.input_shape, channel)

    @yours("while explaining a prediction")
    def why(self, image: bytes, method: str, target) -> dict:
        """An attribution map of the prepared image: (H·W) values scaled to 0–255, with its note."""
        from ..attribution import METHODS, attribute

        if method not in METHODS:
            raise ApiError(f"'method' must be one of {', '.join(METHODS)}")
        if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
            raise ApiError("'target' must be a class index")
        x = normalize(self._prepare(image).x[None], self.ck.mean, self.ck.std)
        with self.lock:
            a = attribute(self.ck.model, x, method, target)
        m = a.maps[0].clamp_min(0)
        advice = GRADCAM_ADVICE if method == "gradcam" and self.dense_head else ""
        return {"method": method, "target": a.targets[0], "class": self.ck.classes[a.targets[0]], "note": a.note_for(0),
                "advice": advice, "shape": list(m.shape), **quantize(m)}  # fmt: skip

    @yours("while finding what a channel looks for")
    def filter(self, data: dict) -> dict:
        """What a channel looks for (`filters.describe_channel`): the test crops that excite it most,
        each with its whole image, and an image made to excite it."""
        from ..filters import describe_channel

        try:
            layer, channel = int(data["layer"]), int(data["channel"])
        except (KeyError, TypeError, ValueError, OverflowError):
            raise ApiError("give integer 'layer' and 'channel'") from None
        key = (layer, channel)
        if key not in self._filters:
            test = self.test_images()  # (read once, outside the model's lock)
            with self.lock:
                r = describe_channel(self.ck, layer, channel, lambda: test, PANEL_TOP, PANEL_STEPS)
            self._filters[key] = {
                "layer": r.layer, "channel": r.channel, "name": r.name,
                "top": [{"index": b.index, "label": label, "activation": round(b.activation, 4),
                         "crop": png_data_url(b.crop), "image": png_data_url(image)}
                        for b, label, image in zip(r.top, r.labels, r.images)],
                "made": png_data_url(r.made),
            }  # fmt: skip
        return self._filters[key]

    def mistakes(self) -> dict:
        """The confusion matrix of the model on its test set, and its most confused pairs."""
        m = self._mistakes_once()
        return {"dataset": m.dataset, "classes": m.classes, "accuracy": m.accuracy, "n": len(m.labels),
                "confusion": m.confusion.tolist(), "pairs": m.pairs(5)}  # fmt: skip

    def mistakes_cell(self, true: str | None, predicted: str | None) -> dict:
        """The test images of one cell of the confusion matrix, most confident first."""
        try:
            t, p = int(true or ""), int(predicted or "")
        except ValueError:
            raise ApiError("give integer 'true' and 'predicted' class indices") from None
        m = self._mistakes_once()  # (after the fields: a malformed request is refused at once)
        rows = m.cell(t, p, 12)
        return {"true": t, "predicted": p, "count": int(m.confusion[t, p]),
                "images": [{**r, "image": png_data_url(m.images[r["index"]])} for r in rows]}  # fmt: skip

    @yours("while scoring the test set")
    def _mistakes_once(self):
        from ..mistakes import find_mistakes

        with self.lock:
            if self._mistakes is None:
                self.test_images()  # a clear 404 when the dataset is not on this machine (or not kept)
                try:
                    self._mistakes = find_mistakes(self.ck, data=None if self.drawings is None else str(self.drawings))
                except UserError as e:
                    raise DatasetUnavailable(str(e)) from None
            return self._mistakes

    def sample(self) -> dict:
        x, y, classes = self.test_images()
        i = random.randrange(len(y))
        return {"image": png_data_url(x[i]), "label": classes[int(y[i])], "index": i}


def checkpoint_name(ck: Checkpoint) -> str:
    """A short name for a checkpoint given by path: its run folder's name, or its file's stem."""
    path = Path(ck.meta.path or "checkpoint")
    name = path.parent.name if path.name == "model.safetensors" else path.stem
    return name


class Models:
    """The playground's catalogue: every bundled checkpoint, plus one given at start (`--checkpoint`),
    which is then the default. Weights load on first use. `own` is your own network's
    `FILE.py:NAME`, named on the server's command line (`serve --model`): the Train tab offers it,
    and runs trained from it load with its code (never code that a request or a run folder names);
    `own_args` are its `--model-args` (a JSON object), which the Train tab builds it with."""

    def __init__(
        self,
        given: Checkpoint | None = None,
        given_name: str | None = None,
        own: str | None = None,
        own_args: str | None = None,
    ):
        self.own = own
        self.own_args = own_args
        self._loaded: dict[str, LoadedModel] = {}
        self._lock = threading.Lock()
        self._given: dict[str, Checkpoint] = {}
        self._runs: set[str] = set()  # the runs trained in the playground (add_run): these may be forgotten
        self.default = PLAYGROUND_DEFAULT if PLAYGROUND_DEFAULT in bundled() else DEFAULT
        if given is not None:
            name = given_name or checkpoint_name(given)
            self._given[name] = given
            self.default = name

    def add_run(self, run_dir: str | Path) -> str:
        """Add a run folder's checkpoint (a training just done in the playground) under its name."""
        ck = load_checkpoint(resolve(run_dir), consent=CodeConsent(model=self.own) if self.own else None)
        name = Path(run_dir).name
        with self._lock:
            self._given[name] = ck
            self._runs.add(name)
            self._loaded.pop(name, None)
        return name

    def forget_run(self, name: str) -> bool:
        """Take a run added with `add_run` off the list (its files stay); False if it is not one."""
        with self._lock:
            if name not in self._runs:
                return False
            self._runs.discard(name)
            self._given.pop(name, None)
            self._loaded.pop(name, None)
            return True

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
                    raise UnknownModel(f"unknown model {name!r}; known: {', '.join(self.names)}")
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
                    "model": meta.architecture.name,
                    "dataset": meta.dataset_name,
                    "classes": meta.classes,
                    "test_acc": meta.metrics.test_acc if meta.metrics else None,
                    "bundled": name not in self._given,
                    "run": name in self._runs,  # trained in the playground: the Train tab can take it off the list
                }
            )
        return {"default": self.default, "models": rows}


def models_for(
    checkpoint: str | Path | None, consent: CodeConsent | None = None, model_args: str | None = None
) -> Models:
    """The catalogue for `convlab serve [--checkpoint X] [--model FILE.py:NAME [--model-args JSON]]`: a
    bundled name picks the default, a path adds that checkpoint (loaded now, so a bad one fails at start;
    a network of your own code only as `consent` allows — requests never name code to run). `--model`
    names your own network for the Train tab (imported now: a missing file or NAME fails at start),
    built there with `model_args` (a JSON object). Raises UserError for `model_args` without `--model`
    (a checkpoint's network keeps the arguments it was trained with)."""
    own = _own_network(consent.model) if consent is not None and consent.model else None
    if model_args and own is None:
        raise UserError(
            "--model-args goes with --model FILE.py:NAME (your network for the Train tab); a checkpoint's "
            "network keeps the arguments it was trained with: drop --model-args"
        )
    parse_args_json(model_args)  # (a malformed object fails at start)
    if checkpoint is None:
        return Models(own=own, own_args=model_args)
    if str(checkpoint) in bundled():
        load_checkpoint(checkpoint)  # fail now if it cannot load
        models = Models(own=own, own_args=model_args)
        models.default = str(checkpoint)
        return models
    ck = load_checkpoint(resolve(checkpoint), consent=consent)
    return Models(ck, own=own, own_args=model_args)


def _own_network(spec: str) -> str:
    """`spec` with its file's path made absolute (the training process starts elsewhere), after
    importing it once (UserError for a missing file or NAME)."""
    from ..models.user import import_code, locate

    path, _, _, name = locate(spec)
    import_code(spec)
    return f"{path}:{name}" if path is not None else spec
