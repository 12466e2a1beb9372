"""Generated cases (hypothesis, with a fixed seed and budget) and the search for the smallest failure.

A `Case` holds the arguments of one call, named as the tutorial names them. `search` runs a
check over `budget` generated cases; when one fails, hypothesis shrinks it to the smallest
input that still fails (fewer rows, smaller kernels, values nearer 0, float before integer).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.errors import HypothesisException

SEED = 2026  # fixed: the same file gets the same cases and the same report every time
SHRINK_CALLS, SHRINK_SECONDS = 40, 2.0  # hypothesis shrinks values for this long; then `crop` shrinks shapes
DTYPES = ("float", "int", "int×float")  # X and K both float, both integer, integer X with a float K


@dataclass
class Case:
    """One call: positional `args` named by `names`, keyword `kwargs`; `params` are the numbers behind them."""

    names: list[str]
    args: list[Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)

    def inputs(self) -> list[tuple[str, Any]]:
        return [*zip(self.names, self.args), *self.kwargs.items()]

    def size(self) -> str:
        """The first tensor's shape as '6×8', for messages."""
        t = next((a for a in self.args if isinstance(a, torch.Tensor)), None)
        return "×".join(map(str, t.shape)) if t is not None else ", ".join(map(str, self.args))


def tensors(shape: Sequence[int], kind: str) -> st.SearchStrategy[torch.Tensor]:
    """Small values with negatives: integers from −4 to 4 (int64), or multiples of ¼ from −4 to 4 (float32)."""
    n = 1
    for s in shape:
        n *= s
    if kind == "int":
        return st.lists(st.integers(-4, 4), min_size=n, max_size=n).map(lambda v: torch.tensor(v).reshape(*shape))
    return st.lists(st.integers(-16, 16), min_size=n, max_size=n).map(
        lambda v: (torch.tensor(v, dtype=torch.float32) / 4).reshape(*shape)
    )


def pair(value: tuple[int, int]) -> int | tuple[int, int]:
    """An int when both entries agree (what most learners' code expects), the pair otherwise."""
    return value[0] if value[0] == value[1] else value


@st.composite
def pairs(draw: st.DrawFn, low: int, high: int, enabled: bool = True) -> tuple[int, int]:
    if not enabled:
        return (low, low)
    return (draw(st.integers(low, high)), draw(st.integers(low, high)))


class Abort(BaseException):
    """Stops the search at once (a time limit, or enough shrinking): hypothesis does not catch a BaseException."""


@dataclass
class Search:
    """What a search found: how many cases ran, and the smallest failure (None if all passed)."""

    cases: int = 0  # generated cases run until the first failure (all of them when none fails)
    shrinks: int = 0  # calls spent shrinking the failure
    failure: Any = None
    first: Any = None  # the first failure, before shrinking: a second witness for the diagnosis
    started: float = 0.0  # when the first failure was found


def search(strategy: st.SearchStrategy, evaluate: Callable[[Any], Any], budget: int) -> Search:
    """Run `evaluate(case)` on `budget` generated cases; shrink the first failure to the smallest.

    `evaluate` returns an outcome with `.ok` and `.timed_out`; a timeout ends the search at once.
    """
    found = Search()

    @hypothesis_seed(SEED)
    @settings(
        max_examples=budget,
        database=None,
        deadline=None,
        derandomize=False,
        verbosity=Verbosity.quiet,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def run(case: Any) -> None:
        if found.failure is None:
            found.cases += 1
        else:
            found.shrinks += 1
            if found.shrinks > SHRINK_CALLS or time.monotonic() - found.started > SHRINK_SECONDS:
                raise Abort  # keep the smallest failure found so far
        outcome = evaluate(case)
        if outcome.ok:
            return
        found.failure = outcome  # the last failure hypothesis replays is the smallest
        if found.first is None:
            found.first, found.started = outcome, time.monotonic()
        if outcome.timed_out:
            raise Abort
        raise AssertionError("differs")

    try:
        run()
    except (Abort, AssertionError, HypothesisException):
        pass
    return found


def _crops(case: Case) -> list[Case]:
    """Smaller cases: one tensor argument without its first or last slice along one axis; or, for
    channels, input channel c dropped from X (c_i, H, W) and K (…, c_i, h, w) together."""
    out = []
    for a, arg in enumerate(case.args):
        if not isinstance(arg, torch.Tensor):
            continue
        for dim in range(arg.dim()):
            if arg.shape[dim] > 1:
                for part in (arg.narrow(dim, 1, arg.shape[dim] - 1), arg.narrow(dim, 0, arg.shape[dim] - 1)):
                    out.append(Case(case.names, [*case.args[:a], part.clone(), *case.args[a + 1 :]], case.kwargs,
                                    case.params))  # fmt: skip
    X, K = [*case.args, None, None][:2]
    if isinstance(X, torch.Tensor) and isinstance(K, torch.Tensor) and X.dim() == 3 and K.dim() >= 3:
        axis = K.dim() - 3
        for c in range(X.shape[0]) if X.shape[0] > 1 else []:
            keep = [i for i in range(X.shape[0]) if i != c]
            smaller = [X[keep].clone(), K.index_select(axis, torch.tensor(keep)).clone(), *case.args[2:]]
            out.append(Case(case.names, smaller, case.kwargs, case.params))
    return out


def crop(failure: Any, evaluate: Callable[[Any], Any], calls: int = 60) -> tuple[Any, int]:
    """Greedily make the failing case smaller (rows, columns, channels) while it fails the same way.

    Hypothesis shrinks values well but rarely shapes, whose change shifts every value after them;
    this pass removes slices directly. Cases convlab cannot answer (a kernel larger than its input)
    are skipped. Returns the smallest failure and the calls spent.
    """
    spent, improved = 0, True
    while improved and spent < calls:
        improved = False
        for candidate in _crops(failure.case):
            if spent >= calls:
                break
            try:
                outcome = evaluate(candidate)
            except (ValueError, RuntimeError, IndexError):  # convlab's answer does not exist for it
                continue
            spent += 1
            if not outcome.ok and not outcome.timed_out and bool(outcome.error) == bool(failure.error):
                failure, improved = outcome, True
                break
    return failure, spent
