"""The LeNet exercise: the tutorial's shape at every layer, and a loss that falls on real digits."""

from __future__ import annotations

import functools
import math
from typing import Any

from .cases import Case
from .engine import Outcome, Result, Runner
from .tasks import network_shapes

INPUT = [1, 1, 28, 28]  # the tutorial's x_LeNet
STEPS, LR, DIGITS = 100, 4e-3, 2000  # Adam on 2,000 training digits of OpenCV's sheet (200 per class)
LEARNED = math.log(10) - 0.3  # the last ten losses must average 0.3 under chance (ln 10 for 10 classes)


@functools.cache
def reference_shapes() -> list[list[int]]:
    """The shapes through convlab's `lenet` (the tutorial's network), activations left out."""
    from ..models import build_model

    rows = network_shapes({"net": build_model("lenet")}, "net", INPUT)["rows"]
    return _distinct([r["shape"] for r in rows])


def _distinct(shapes: list[list[int]]) -> list[list[int]]:
    out: list[list[int]] = []
    for s in shapes:
        if not out or out[-1] != s:
            out.append(s)
    return out


def _at(reference: list[list[int]], k: int) -> Any:
    return tuple(reference[k]) if k < len(reference) else "-"


def compare(rows: list[dict], reference: list[list[int]]) -> dict | None:
    """The first layer whose output shape departs from the tutorial's sequence of shapes, or None."""
    seen: list[list[int]] = []
    for i, row in enumerate(rows):
        if "shape" not in row:
            shape = tuple(seen[-1] if seen else INPUT)
            return {"i": i, "layer": row["layer"], "crash": True, "shape": shape, "right": _at(reference, len(seen))}
        if seen and seen[-1] == row["shape"]:
            continue
        k = len(seen)
        if k >= len(reference) or row["shape"] != reference[k]:
            return {
                "i": i,
                "layer": row["layer"],
                "crash": False,
                "got": tuple(row["shape"]),
                "right": _at(reference, k),
            }
        seen.append(row["shape"])
    if len(seen) != len(reference):
        last = rows[-1]["layer"] if rows else "-"
        got = tuple(seen[-1] if seen else INPUT)
        return {"i": len(rows) - 1, "layer": last, "crash": False, "got": got, "right": _at(reference, len(seen))}
    return None


@functools.cache
def digits() -> tuple[Any, Any]:
    from ..data import load_dataset

    ds = load_dataset("digits", progress=False)
    step = max(1, len(ds.train_x) // DIGITS)  # every class: the training split is ordered by class
    return ds.train_x[::step][:DIGITS], ds.train_y[::step][:DIGITS]


def check_network(result: Result, runner: Runner, timeout: float) -> Result:
    """Shapes layer by layer for a (1, 1, 28, 28) input, then a short training on real digits."""
    reply = runner.call("network_shapes", max(timeout, 30.0), name=result.name, shape=INPUT)
    if not reply.ok:
        result.status = "timeout" if reply.timed_out else "crash"
        result.failure = Outcome(False, Case([], []), error=reply.error, exception=reply.exception,
                                 timed_out=reply.timed_out)  # fmt: skip
        return result
    rows = reply.value["rows"]
    mismatch = compare(rows, reference_shapes())
    result.network = {"rows": rows, "mismatch": mismatch, "error": reply.value.get("error", "")}
    if mismatch:
        result.status = "net_fail"
        return result
    x, y = digits()
    reply = runner.call("network_learn", max(timeout, 120.0), name=result.name, x=x, y=y, steps=STEPS, lr=LR, seed=0)
    losses = reply.value["losses"] if reply.ok else []
    first, last = (losses[0], sum(losses[-10:]) / len(losses[-10:])) if losses else (float("nan"), float("nan"))
    params = reply.value["params"] if reply.ok else -1
    result.network["learn"] = {"n": len(x), "steps": STEPS, "lr": LR, "first": first, "last": last,
                               "params": params, "error": reply.error}  # fmt: skip
    if not losses or not last < LEARNED:
        result.status = "net_fail"
    return result
