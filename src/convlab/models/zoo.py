"""The zoo table: every model's size and cost beside what it reached on Fashion-MNIST here.

Parameters, multiply-adds and the receptive field of the last feature map are computed from the
model itself (`introspect.summary`); accuracy, epochs, wall time and throughput come from the
results file that `benchmarks/zoo.py` writes after training every model with its recipe on this
machine (`zoo.json` beside this module); the textbook's figure is the one its Fashion-MNIST
chapter reports for the same architecture at its own input size. Nothing here is typed by hand
but those references.
"""

from __future__ import annotations

import json
from importlib import resources

from ..data.sources import KNOWN
from . import MODELS, build_model
from .pretrained import bundled


def results() -> dict:
    """The recorded results (`benchmarks/zoo.py`), or an empty record if none were written."""
    path = resources.files("convlab") / "models" / "zoo.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"models": {}}


def table() -> list[dict]:
    """One row per registered model."""
    from ..introspect import summary

    recorded = results().get("models", {})
    rows = []
    for name, arch in MODELS.items():
        s = summary(build_model(name), (1, 28, 28))
        last = s.last_feature_map
        r = recorded.get(name, {})
        rows.append(
            {
                "model": name,
                "idea": arch.idea,
                "params": s.total_params,
                "macs": s.total_macs,
                "receptive_field": list(last.rf_size) if last and last.rf_size else None,
                "test_acc": r.get("test_acc"),
                "epochs": r.get("epochs"),
                "train_seconds": r.get("train_seconds"),
                "images_per_s": r.get("convlab_images_per_s"),
                "vs_textbook_loop": r.get("ratio"),
                "bundled": [b for b in bundled() if b.startswith(f"{name}-") and b[len(name) + 1 :] in KNOWN],
                "textbook_input": arch.textbook.input_text if arch.textbook else None,
                "textbook_acc": arch.textbook.accuracy_text if arch.textbook else None,
            }
        )
    return rows


def _cells(r: dict) -> list[str]:
    """One model's row of the table as text ('—' where there is no figure)."""
    rf = "×".join(map(str, r["receptive_field"])) if r["receptive_field"] else "all"
    acc = f"{r['test_acc']:.4f}" if r["test_acc"] is not None else "—"
    train = f"{r['train_seconds'] / 60:.1f} min" if r["train_seconds"] is not None else "—"
    book = f"{r['textbook_input']}, {r['textbook_acc'] or '—'}" if r["textbook_input"] else "—"
    return [r["model"], f"{r['params']:,}", f"{r['macs']:,}", rf, acc, str(r["epochs"] or "—"), train,
            f"{r['images_per_s']:,}" if r["images_per_s"] else "—",
            f"{r['vs_textbook_loop']:.2f}×" if r["vs_textbook_loop"] else "—",
            ", ".join(r["bundled"]) or "—", book]  # fmt: skip


def render(rows: list[dict], machine: str = "", markdown: bool = False) -> str:
    """The table as aligned text, or as a Markdown table (docs/zoo.md quotes it)."""
    header = ["model", "params", "mult-adds", "RF", "test acc", "epochs", "train", "img/s", "vs textbook loop",
              "bundled", "textbook (input, acc)"]  # fmt: skip
    lines = [header, *map(_cells, rows)]
    note = "Fashion-MNIST test accuracy with each model's recipe (benchmarks/zoo.py)"
    note += f"; trained on {machine}" if machine else ""
    if markdown:
        cells = ["| " + " | ".join(row) + " |" for row in lines]
        cells.insert(1, "|" + "|".join("---" if i in (0, 9, 10) else "--:" for i in range(len(header))) + "|")
        return "\n".join([*cells, "", note + "."])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(c.rjust(w) if 0 < i < 9 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in lines
    ]
    text.insert(1, "-" * len(text[0]))
    return "\n".join([*text, "", note])
