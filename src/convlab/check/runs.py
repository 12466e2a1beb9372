"""Checking a learner's file (in its own process) or one object from a notebook (in this one)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from .engine import Result, Runner, check_cases, check_learning, check_timing
from .exercises import BY_KEY, EXERCISES, Exercise
from .messages import Messages
from .network import check_network
from .report import render
from .sandbox import InProcess, LearnerFileError, Sandbox

KINDS = {"function": {"function"}, "layer": {"class"}, "network": {"module", "class", "function"}}


@dataclass
class Report:
    """A finished check: `passed` is True when every exercise found passed; `text` is the report."""

    results: list[Result]
    text: str
    passed: bool

    def __repr__(self) -> str:
        return f"<convlab check: {sum(r.passed for r in self.results)} of {len(self.results)} exercise(s) pass>"


def run_exercise(ex: Exercise, name: str, runner: Runner, timeout: float, scale: float = 1.0) -> Result:
    """One exercise, all its checks, in order; later checks run only while the earlier ones pass."""
    if ex.kind == "network":
        return check_network(Result(ex, name, timeout=timeout), runner, timeout)
    result = check_cases(ex, name, runner, timeout, scale)
    if result.passed and ex.kind == "layer":
        check_learning(result, runner)
    if result.passed and ex.timing:
        check_timing(result, runner)
    return result


def select(
    names: dict[str, dict], path: str, name: str | None, as_: str | None, msg: Messages
) -> tuple[list[tuple[Exercise, str]], list[str]]:
    """Which exercises to check under which of the file's names; and the exercises not found."""
    if as_ is not None and as_ not in BY_KEY:
        raise UserError(msg("unknown", name=as_, names=", ".join(BY_KEY)))
    if name is not None:
        return [(_named(names, path, name, as_, msg), name)], []
    chosen, missing = [], []
    for ex in EXERCISES:
        found = next((n for n in ex.names if n in names and names[n]["kind"] in KINDS[ex.kind]), None)
        if found is None:
            missing.append(ex.key)
        else:
            chosen.append((ex, found))
    if not chosen:
        every = ", ".join(n for e in EXERCISES for n in e.names[:1])
        raise UserError(msg("no_names", path=path, names=every))
    return chosen, missing


def _named(names: dict[str, dict], path: str, name: str, as_: str | None, msg: Messages) -> Exercise:
    """The exercise for FILE.py:NAME: `--as`, else the exercise NAME is one of the names of."""
    if name not in names:
        raise UserError(msg("no_name", path=path, name=name, names=", ".join(sorted(names)) or "-"))
    ex = BY_KEY[as_] if as_ else next((e for e in EXERCISES if name in e.names), None)
    if ex is None:
        raise UserError(msg("unknown", name=name, names=", ".join(BY_KEY)))
    return ex


def split_target(target: str) -> tuple[str, str | None]:
    """'my_cnn.py:corr2d' → ('my_cnn.py', 'corr2d'); 'my_cnn.py' → ('my_cnn.py', None)."""
    head, sep, tail = target.rpartition(":")
    if sep and tail.isidentifier() and head:
        return head, tail
    return target, None


def check_file(
    target: str,
    as_: str | None = None,
    lang: str | None = None,
    timeout: float = 10.0,
    memory_mb: int = 2048,
    scale: float = 1.0,
) -> Report:
    """Check FILE.py (or FILE.py:NAME) in its own process. Raises UserError for a missing file or no names."""
    msg = Messages(lang)
    path, name = split_target(target)
    if Path(path).is_dir():
        raise UserError(msg("a_folder", path=path))
    if not Path(path).is_file():
        raise UserError(msg("no_file", path=path))
    if Path(path).suffix != ".py":
        raise UserError(msg("not_python", path=path))
    with Sandbox(path, timeout, memory_mb) as box:
        try:
            names = box.start()
        except LearnerFileError as e:
            return Report([], "\n".join([msg("import_failed"), *("    " + x for x in e.traceback.splitlines())]), False)
        chosen, missing = select(names, path, name, as_, msg)
        results = [run_exercise(ex, n, box, timeout, scale) for ex, n in chosen]
    return Report(results, render(path, results, missing, msg), all(r.passed for r in results))


def check(obj: Any, as_: str | None = None, lang: str | None = None, timeout: float = 10.0) -> Report:
    """Check one of the tutorial's exercises from a notebook: `check(corr2d)`, `check(net, as_="LeNet")`.

    The object runs in this process (it is already here), each call limited to `timeout`
    seconds where a timer can interrupt it (the main thread). Prints the report and returns it.
    Raises UserError when the object's name is none of the exercises' and `as_` is not given.
    """
    from torch import nn

    msg = Messages(lang)
    name = getattr(obj, "__name__", None) or ("LeNet" if isinstance(obj, nn.Module) else type(obj).__name__)
    runner = InProcess({name: obj}, timeout)
    chosen, _ = select(runner.names, "check()", name, as_, msg)
    results = [run_exercise(ex, n, runner, timeout) for ex, n in chosen]
    report = Report(
        results, "\n".join(line for r in results for line in _lines(r, msg)), all(r.passed for r in results)
    )
    print(report.text)
    return report


def _lines(result: Result, msg: Messages) -> list[str]:
    from .report import render_result

    return render_result(result, msg)


def listing(lang: str | None = None) -> str:
    """Every exercise with its §, the signature it expects and the names it is found by."""
    msg = Messages(lang)
    lines = [msg("list_header")]
    for ex in EXERCISES:
        lines.append(msg("list_row", key=ex.key, section=ex.section, signature=ex.signature))
        lines.append(msg("list_names", pad="", names=", ".join(ex.names)))
    return "\n".join(lines)
