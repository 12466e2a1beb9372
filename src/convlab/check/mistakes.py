"""The catalogue of known mistakes: each recognises itself in a failing case.

A mistake is tried on the smallest failing case: it recomputes the answer a learner who made that
mistake would get (the kernel flipped, the padding on one side, the wrong divisor, …) and matches
it against the learner's output. The first match is the diagnosis; its message (in English and
Chinese, `messages.py`) names the mistake and puts the learner's numbers into it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch

from . import references as ref
from .cases import Case
from .exercises import canonical

CONV = {"corr2d", "Conv2D", "corr2d_multi_in", "corr2d_multi_in_out", "corr2d_multi_in_out_1x1"}
MULTI = {"corr2d_multi_in", "corr2d_multi_in_out"}


@dataclass
class Evidence:
    """A failing case: the exercise's key, the case, convlab's answer, the learner's, and what else we saw."""

    exercise: str
    case: Case
    expected: Any
    got: Any
    info: dict = field(default_factory=dict)


def close(got: Any, want: Any) -> bool:
    """Same shape and the same values (to float32 rounding); numbers compare as numbers."""
    if isinstance(want, torch.Tensor):
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.is_complex():
            return False
        return bool(torch.allclose(got.double(), want.double(), rtol=1e-4, atol=1e-4, equal_nan=True))
    return isinstance(got, int | float) and not isinstance(got, bool) and math.isclose(got, want, abs_tol=1e-9)


def _any_close(got: Any, candidates: Iterable[Callable[[], Any]]) -> bool:
    for make in candidates:
        try:
            if close(got, make()):
                return True
        except (RuntimeError, ValueError, IndexError):  # a candidate that cannot exist for this case
            continue
    return False


def _conv_like(ev: Evidence, X: torch.Tensor, K: torch.Tensor, padding=None, stride=None) -> torch.Tensor:
    """The exercise's answer for other X, K, padding or stride (same output layout as the exercise)."""
    p = ev.case.params
    y = ref.conv(X, K, p["padding"] if padding is None else padding, p["stride"] if stride is None else stride)
    y = y if ev.case.args[1].dim() == 4 else y[0]
    return y + p.get("bias", 0.0)


def in_place(ev: Evidence) -> dict | None:
    mutated = ev.info.get("mutated", [])
    return {"arg": ev.case.names[mutated[0]]} if mutated else None


def int_truncated(ev: Evidence) -> dict | None:
    want = ev.expected
    if not isinstance(want, torch.Tensor) or not want.is_floating_point() or torch.equal(want, want.trunc()):
        return None
    if not any(isinstance(a, torch.Tensor) and not a.is_floating_point() for a in ev.case.args):
        return None
    return {"dtype": "torch.int64"} if _any_close(ev.got, [want.trunc, want.floor]) else None


def flipped(ev: Evidence) -> dict | None:
    X, K = canonical(ev.case)
    return {} if _any_close(ev.got, [lambda: _conv_like(ev, X, K.flip(-1, -2))]) else None


def transposed(ev: Evidence) -> dict | None:
    want, got = ev.expected, ev.got
    if not isinstance(want, torch.Tensor) or want.dim() < 2 or want.shape[-1] == want.shape[-2]:
        return None
    swapped = want.transpose(-1, -2)
    return {} if isinstance(got, torch.Tensor) and got.shape == swapped.shape else None


def _pads(ev: Evidence) -> list[tuple[int, int, int, int]]:
    ph, pw = ev.case.params["padding"]
    return [(pw, 0, ph, 0), (2 * pw, 0, 2 * ph, 0), (0, pw, 0, ph), (0, 2 * pw, 0, 2 * ph)] if ph or pw else []


def one_side_padding(ev: Evidence) -> dict | None:
    s = ev.case.params["stride"]
    if ev.exercise in CONV:
        X, K = canonical(ev.case)
        makes = [lambda q=q: _conv_like(ev, torch.nn.functional.pad(X, q), K, (0, 0), s) for q in _pads(ev)]
    else:
        X, size, mode = ev.case.args
        fill = -math.inf if mode == "max" else 0.0
        makes = [lambda q=q: ref.pool_padded(X, size, mode, q, s, fill) for q in _pads(ev)]
    return {"padding": ev.case.params["padding"]} if _any_close(ev.got, makes) else None


def _pool_like(ev: Evidence, **change: Any) -> torch.Tensor:
    X, size, mode = ev.case.args
    p = {"padding": ev.case.params["padding"], "stride": ev.case.params["stride"], "mode": mode, **change}
    return ref.pool(X, size, p["mode"], p["padding"], p["stride"], p.get("count_pad", True))


def _other(ev: Evidence, **change: Any) -> torch.Tensor:
    if ev.exercise in CONV:
        X, K = canonical(ev.case)
        return _conv_like(ev, X, K, change.get("padding"), change.get("stride"))
    return _pool_like(ev, **change)


def padding_ignored(ev: Evidence) -> dict | None:
    if ev.case.params["padding"] == (0, 0):
        return None
    return {} if _any_close(ev.got, [lambda: _other(ev, padding=(0, 0))]) else None


def stride_ignored(ev: Evidence) -> dict | None:
    if ev.case.params["stride"] == (1, 1):
        return None
    want = ev.expected
    unstrided = _other(ev, stride=(1, 1))
    corner = unstrided[..., : want.shape[-2], : want.shape[-1]]  # right size, windows one cell apart
    return {"stride": ev.case.params["stride"]} if _any_close(ev.got, [lambda: unstrided, lambda: corner]) else None


def channels_not_summed(ev: Evidence) -> dict | None:
    X, K = canonical(ev.case)
    p = ev.case.params
    per = [ref.conv(X[c : c + 1], K[:, c : c + 1], p["padding"], p["stride"]) for c in range(X.shape[0])]
    layout = (lambda y: y) if ev.case.args[1].dim() == 4 else (lambda y: y[0])
    first, last = layout(per[0]), layout(per[-1])
    mean = layout(torch.stack([y.double() for y in per]).mean(0))
    stacked = torch.stack([layout(y) for y in per])
    return (
        {"c_i": X.shape[0]}
        if _any_close(ev.got, [lambda: first, lambda: last, lambda: mean, lambda: stacked])
        else None
    )


def channel_axes(ev: Evidence) -> dict | None:
    X, K = canonical(ev.case)
    c_o, c_i = K.shape[:2]
    if c_o == 1 or c_i == 1:
        return None
    mixed = K.reshape(c_i, c_o).T.reshape(c_o, c_i, 1, 1)
    return {} if _any_close(ev.got, [lambda: _conv_like(ev, X, mixed)]) else None


def bias_missing(ev: Evidence) -> dict | None:
    b = ev.case.params.get("bias", 0.0)
    return {"bias": b} if b and close(ev.got, ev.expected - b) else None


def weight_not_parameter(ev: Evidence) -> dict | None:
    if ev.info.get("weight_is_param", True):
        return None
    return {"params": ", ".join(ev.info.get("params", [])) or "-"}


def max_pad_zero(ev: Evidence) -> dict | None:
    X, size, mode = ev.case.args
    if mode != "max" or ev.case.params["padding"] == (0, 0):
        return None
    ph, pw = ev.case.params["padding"]
    zero = ref.pool_padded(X, size, mode, (pw, pw, ph, ph), ev.case.params["stride"], 0.0)
    return {} if close(ev.got, zero) else None


def avg_count(ev: Evidence) -> dict | None:
    X, size, mode = ev.case.args
    if mode != "avg":
        return None
    if _any_close(ev.got, [lambda: _pool_like(ev, count_pad=False)]):
        return {"divisor": "the window's cells inside the input", "right": size[0] * size[1]}
    sums = ref.window_sums(X, size, ev.case.params["padding"], ev.case.params["stride"])
    for d in sorted({size[0] + size[1], size[0], size[1], size[0] * size[1] - 1, size[0] * size[1] + 1, 1, 4}):
        if d != size[0] * size[1] and close(ev.got, sums / d):
            return {"divisor": d, "right": size[0] * size[1]}
    return None


def mode_swapped(ev: Evidence) -> dict | None:
    mode = ev.case.args[2]
    other = "avg" if mode == "max" else "max"
    return {"mode": mode, "other": other} if _any_close(ev.got, [lambda: _pool_like(ev, mode=other)]) else None


def _size_variants(n: int, k: int, p: int, s: int) -> dict[str, float]:
    return {
        "not_floored": (n + 2 * p - k) / s + 1,
        "padding_once": (n + p - k) // s + 1,
        "no_plus_one": (n + 2 * p - k) // s,
        "ceil": -(-(n + 2 * p - k) // s) + 1,
        "no_stride": n + 2 * p - k + 1,
    }


def size_formula(ev: Evidence) -> dict | None:
    """Which wrong formula the learner's output-size function computes."""
    n, k, p, s = ev.case.args
    for variant, value in _size_variants(n, k, p, s).items():
        if close(ev.got, value) and not close(ev.got, ev.expected):
            return {"variant": variant, "n": n, "k": k, "p": p, "s": s, "right": ev.expected, "got": ev.got}
    return None


def output_shape(ev: Evidence) -> dict | None:
    """The output has the wrong height or width: the formula, with this case's numbers, per axis."""
    want, got = ev.expected, ev.got
    if not isinstance(want, torch.Tensor) or not isinstance(got, torch.Tensor) or got.dim() != want.dim():
        return None
    if got.shape[:-2] != want.shape[:-2] or got.shape[-2:] == want.shape[-2:]:
        return None
    X = ev.case.args[0]
    k = canonical(ev.case)[1].shape[-2:] if ev.exercise in CONV else ev.case.args[1]
    p, s = ev.case.params["padding"], ev.case.params["stride"]
    axes = []
    for axis in (0, 1):
        n, w, g = X.shape[-2 + axis], want.shape[-2 + axis], got.shape[-2 + axis]
        if w != g:
            axes.append({"axis": axis, "n": n, "k": k[axis], "p": p[axis], "s": s[axis], "right": w, "got": g})
    return {"axes": axes}


CATALOGUE: list[tuple[str, set[str], Callable[[Evidence], dict | None]]] = [
    ("in_place", CONV | {"pool2d"}, in_place),
    ("weight_not_parameter", {"Conv2D"}, weight_not_parameter),
    ("int_truncated", CONV | {"pool2d"}, int_truncated),
    ("flipped", CONV, flipped),
    ("transposed", CONV | {"pool2d"}, transposed),
    ("channels_not_summed", MULTI, channels_not_summed),
    ("channel_axes", {"corr2d_multi_in_out_1x1", "corr2d_multi_in_out"}, channel_axes),
    ("bias_missing", {"Conv2D"}, bias_missing),
    ("one_side_padding", CONV | {"pool2d"}, one_side_padding),
    ("max_pad_zero", {"pool2d"}, max_pad_zero),
    ("padding_ignored", CONV | {"pool2d"}, padding_ignored),
    ("stride_ignored", CONV | {"pool2d"}, stride_ignored),
    ("avg_count", {"pool2d"}, avg_count),
    ("mode_swapped", {"pool2d"}, mode_swapped),
    ("size_formula", {"output_size"}, size_formula),
    ("output_shape", CONV | {"pool2d"}, output_shape),
]


def _explains(test: Callable[[Evidence], dict | None], ev: Evidence) -> dict | None:
    try:
        return test(ev)
    except (RuntimeError, ValueError, IndexError, TypeError):  # the learner's output fits no variant
        return None


def diagnose(ev: Evidence, witness: Evidence | None = None) -> tuple[str, dict] | None:
    """The known mistake that explains this failure: (its key, the numbers for its message).

    Tiny shrunk cases can match a mistake by coincidence, so a mistake that also explains the
    `witness` (the failure first found, before shrinking) comes first; else the first that matches.
    """
    matches = [(key, test) for key, exercises, test in CATALOGUE if ev.exercise in exercises]
    found = [(key, test, fields) for key, test in matches if (fields := _explains(test, ev)) is not None]
    if witness is not None:
        for key, test, fields in found:
            if _explains(test, witness) is not None:
                return key, fields
    return (found[0][0], found[0][2]) if found else None
