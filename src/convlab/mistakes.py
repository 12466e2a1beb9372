"""Where a model fails: the confusion matrix, the pairs of classes it mixes up most, and for each
pair the test images it got wrong most confidently, with what it looked at (saliency).

`find_mistakes` scores every test image once (batched, under inference mode), so the whole
Fashion-MNIST test set takes seconds; `cell` lists the images of any cell of the matrix, which is
what the playground opens when a cell is clicked.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from .checkpoint import Checkpoint
from .data.loader import normalize
from .errors import UserError
from .evaluate import checkpoint_test_set
from .models.user import own_code
from .wording import counted


@dataclass
class Mistakes:
    dataset: str
    classes: list[str]
    images: torch.Tensor  # (N, C, H, W) uint8: the test set
    labels: torch.Tensor  # (N,)
    probs: torch.Tensor  # (N, classes)
    confusion: torch.Tensor  # (classes, classes): true × predicted counts

    @property
    def predicted(self) -> torch.Tensor:
        return self.probs.argmax(1)

    @property
    def accuracy(self) -> float:
        return float(self.confusion.diag().sum()) / max(1, len(self.labels))

    def pairs(self, top: int = 5) -> list[dict]:
        """The most confused (true, predicted) pairs, most frequent first."""
        off = self.confusion.clone()
        off.fill_diagonal_(0)
        order = off.flatten().argsort(descending=True)[:top]
        k = len(self.classes)
        return [
            {"true": int(i) // k, "predicted": int(i) % k, "count": int(off.flatten()[i])}
            for i in order
            if off.flatten()[i] > 0
        ]

    def cell(self, true: int, predicted: int, limit: int = 12) -> list[dict]:
        """Test images of class `true` predicted as `predicted`, most confident first."""
        k = len(self.classes)
        if not (0 <= true < k and 0 <= predicted < k):
            raise UserError(f"classes are 0..{k - 1}; got true {true}, predicted {predicted}")
        idx = torch.nonzero((self.labels == true) & (self.predicted == predicted)).flatten()
        conf = self.probs[idx, predicted]
        order = conf.argsort(descending=True)[:limit]
        return [
            {"index": int(idx[j]), "confidence": float(conf[j]), "p_true": float(self.probs[idx[j], true])}
            for j in order
        ]


def _scoring(xb: torch.Tensor) -> str:
    return f"scoring the test set (a batch of shape {tuple(xb.shape)})"


@torch.inference_mode()
def find_mistakes(
    ck: Checkpoint, dataset: str | None = None, data: str | None = None, data_dir: str | None = None, batch: int = 2048
) -> Mistakes:
    """Score every test image of the checkpoint's dataset (or `dataset`/`data`)."""
    ds = checkpoint_test_set(ck, dataset, data, data_dir)
    model = ck.model.eval()
    device = next(model.parameters()).device
    chunks = []
    for i in range(0, len(ds.test_y), batch):
        xb = normalize(ds.test_x[i : i + batch].to(device), ck.mean, ck.std)  # (B, C, H, W)
        with own_code(model, functools.partial(_scoring, xb)):  # (your network's failure: yours)
            chunks.append(torch.softmax(model(xb).float(), 1).cpu())
    probs = torch.cat(chunks)  # (N, classes)
    k = len(ck.classes)
    confusion = torch.bincount(ds.test_y * k + probs.argmax(1), minlength=k * k).view(k, k)
    return Mistakes(ds.name, list(ck.classes), ds.test_x, ds.test_y, probs, confusion)


def report(m: Mistakes, ck: Checkpoint, pairs: int = 5, per_pair: int = 8, out=None, force: bool = False) -> list[dict]:
    """The `pairs` most confused pairs, each with its `per_pair` most confident wrong test images.
    With `out` (a folder), also confusion.png and, per pair, a grid of those images with their
    saliency toward the wrong class (what the model looked at when it erred), pairN-TRUE-as-PRED.png.
    Raises UserError for one of those PNGs already in `out` without `force`. Those files of an earlier
    report in `out` that this one did not write are removed (--force replaces the whole report)."""
    from . import plots
    from .attribution import saliency
    from .fsutil import output_dir, refuse_existing, remove_stale

    rows = []
    for rank, pair in enumerate(m.pairs(pairs), 1):
        t, p = pair["true"], pair["predicted"]
        slug = "".join(c if c.isalnum() else "-" for c in f"{m.classes[t]}-as-{m.classes[p]}")
        row = {**pair, "true_class": m.classes[t], "predicted_class": m.classes[p], "examples": m.cell(t, p, per_pair)}
        rows.append((row, f"pair{rank}-{slug}.png"))
    if out is None:
        return [row for row, _ in rows]
    refuse_existing([Path(out) / "confusion.png", *(Path(out) / f for row, f in rows if row["examples"])], force)
    out = output_dir(out)
    for row, file in rows:
        examples, t, p = row["examples"], row["true"], row["predicted"]
        if examples:
            idx = torch.tensor([e["index"] for e in examples])
            maps = saliency(ck.model, normalize(m.images[idx], ck.mean, ck.std), [p] * len(idx)).maps
            titles = [f"#{e['index']} {e['confidence']:.2f}" for e in examples]
            title = f"{m.classes[t]} taken for {m.classes[p]} ({counted(row['count'], 'time')})"
            fig = plots.examples_grid(m.images[idx], maps, titles, title)
            row["file"] = str(plots.save(fig, out / file))
    plots.save(plots.confusion_matrix(m.confusion, m.classes, f"{m.dataset} test"), out / "confusion.png")
    written = ["confusion.png", *(row["file"] for row, _ in rows if "file" in row)]
    remove_stale(out, ("confusion.png", "pair[0-9]*-*-as-*.png"), written)  # an earlier report's grids
    return [row for row, _ in rows]


def confusion_text(m: Mistakes) -> str:
    """The confusion matrix as a text table of counts (rows: true class, columns: predicted)."""
    names = [c[:10] for c in m.classes]
    width = max(6, *(len(n) for n in names))
    head = " " * (width + 2) + "".join(f"{n:>{width + 1}}" for n in names)
    rows = [f"{n:<{width}}  " + "".join(f"{int(v):>{width + 1}}" for v in m.confusion[i]) for i, n in enumerate(names)]
    return "\n".join(
        [f"true \\ predicted ({m.dataset}, {len(m.labels)} test images, accuracy {m.accuracy:.4f})", head, *rows]
    )
