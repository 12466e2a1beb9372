"""Checking one exercise: generated cases against convlab's answer, then learning and timing.

`check_exercise(exercise, name, runner)` returns a `Result` holding everything the report
prints: how many cases ran, the smallest failing case with both answers, the learner's
traceback, the diagnosis, and (for layers and networks) what training did.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import torch

from .cases import Case, crop, search
from .exercises import Exercise
from .mistakes import Evidence, close, diagnose
from .sandbox import Reply

# §2.4's task with the bias trained too: a smaller step than its 3e-2 (which diverges with a bias), more steps
EDGE_EPOCHS, EDGE_LR, EDGE_TOLERANCE = 40, 1e-2, 0.1
TIMING_BATCH = 16  # images in the timed batch


class Runner(Protocol):
    names: dict[str, dict]

    def call(self, task: str, timeout: float | None = None, **args: Any) -> Reply: ...


@dataclass
class Outcome:
    """One case: did the learner's answer agree with convlab's?"""

    ok: bool
    case: Case
    expected: Any = None
    got: Any = None
    info: dict = field(default_factory=dict)
    error: str = ""
    exception: str = ""
    timed_out: bool = False


@dataclass
class Result:
    """One exercise checked; `status` is pass, fail, crash, timeout, learn_fail or net_fail."""

    exercise: Exercise
    name: str
    status: str = "pass"
    cases: int = 0
    shrinks: int = 0
    failure: Outcome | None = None
    diagnosis: tuple[str, dict] | None = None
    timeout: float = 0.0
    learned: dict | None = None
    network: dict | None = None
    timing: dict | None = None

    @property
    def passed(self) -> bool:
        return self.status == "pass"


def _outcome(reply: Reply, case: Case, expected: Any, extra_ok: bool = True) -> Outcome:
    if reply.timed_out:
        return Outcome(False, case, expected, timed_out=True)
    if not reply.ok:
        return Outcome(False, case, expected, error=reply.error, exception=reply.exception or "Exception")
    value = reply.value
    info = {k: v for k, v in value.items() if k != "out"}
    ok = close(value["out"], expected) and not info.get("mutated") and info.get("weight_is_param", True)
    return Outcome(ok and extra_ok, case, expected, value["out"], info)


def evaluator(exercise: Exercise, name: str, runner: Runner, timeout: float):
    """The function hypothesis calls with each case: the learner's answer against convlab's."""
    assert exercise.expected is not None

    def evaluate(case: Case) -> Outcome:
        expected = exercise.expected(case)  # type: ignore[misc]
        if exercise.kind == "layer":
            X, K = case.args
            reply = runner.call(
                "conv_forward", timeout, name=name, kernel_size=list(K.shape), weight=K, bias=case.params["bias"], X=X
            )
        else:
            reply = runner.call("call", timeout, name=name, args=case.args, kwargs=case.kwargs)
        return _outcome(reply, case, expected)

    return evaluate


def check_cases(exercise: Exercise, name: str, runner: Runner, timeout: float, scale: float = 1.0) -> Result:
    """Generated cases until one fails (then shrunk to the smallest) or the budget is spent."""
    assert exercise.cases is not None
    params = runner.names.get(name, {}).get("params", [])
    budget = max(1, round(exercise.budget * scale))
    evaluate = evaluator(exercise, name, runner, timeout)
    found = search(exercise.cases(params), evaluate, budget)
    result = Result(exercise, name, cases=found.cases, shrinks=found.shrinks, timeout=timeout)
    failure: Outcome | None = found.failure
    if failure is None:
        return result
    if not failure.timed_out:
        failure, spent = crop(failure, evaluate)
        result.shrinks += spent
    result.failure = failure
    if failure.timed_out:
        result.status = "timeout"
    elif failure.error:
        result.status = "crash"
    else:
        result.status = "fail"
        ev = Evidence(exercise.key, failure.case, failure.expected, failure.got, failure.info)
        first = found.first
        witness = (
            None
            if first is None or first.error
            else Evidence(exercise.key, first.case, first.expected, first.got, first.info)
        )
        result.diagnosis = diagnose(ev, witness)
    return result


def edge_task() -> tuple[torch.Tensor, torch.Tensor]:
    """§2.4: a 6×8 image of ones with a dark band in columns 2–5, and its edges under K = [1, −1]."""
    from ..ops import corr2d

    X = torch.ones((6, 8))
    X[:, 2:6] = 0
    return X, corr2d(X, torch.tensor([[1.0, -1.0]]))


def check_learning(result: Result, runner: Runner) -> None:
    """The learner's Conv2D must learn the edge kernel back from the image and its edges."""
    X, Y = edge_task()
    reply = runner.call("conv_learn", max(result.timeout, 30.0), name=result.name, X=X, Y=Y,
                        epochs=EDGE_EPOCHS, lr=EDGE_LR, seed=0)  # fmt: skip
    if not reply.ok:
        result.status = "timeout" if reply.timed_out else "crash"
        result.failure = Outcome(False, Case(["X", "Y"], [X, Y]), error=reply.error, exception=reply.exception,
                                 timed_out=reply.timed_out)  # fmt: skip
        return
    kernel = reply.value["kernel"]
    result.learned = {"epochs": EDGE_EPOCHS, "lr": EDGE_LR, "kernel": kernel.tolist()}
    target = torch.tensor([1.0, -1.0])
    if kernel.numel() != 2 or (kernel - target).abs().max() > EDGE_TOLERANCE:
        result.status = "learn_fail"
        if not reply.value["weight_is_param"]:
            result.diagnosis = ("weight_not_parameter", {"params": ", ".join(reply.value["params"]) or "-"})


def check_timing(result: Result, runner: Runner) -> None:
    """The learner's loop against convlab's fast op, on one image and on a batch (best of a few runs)."""
    reply = runner.call("timing", max(result.timeout, 60.0), name=result.name, kind=result.exercise.timing,
                        batch=TIMING_BATCH)  # fmt: skip
    if reply.ok:
        result.timing = {**reply.value, "size": TIMING_BATCH, "kind": result.exercise.timing}
