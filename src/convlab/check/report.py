"""The report: each exercise's result as lines of text, in the learner's language.

The structure is the same in every language (one table of sentences per language, the
tensors and tracebacks as they are), so the English and the Chinese report have the same lines.
"""

from __future__ import annotations

from typing import Any

from .engine import Outcome, Result
from .matrices import describe, differ, show
from .messages import Messages
from .mistakes import close


def _indent(text: str, pad: str = "    ") -> list[str]:
    return [pad + line for line in text.splitlines()]


def _inputs(outcome: Outcome) -> list[str]:
    lines = []
    for name, value in outcome.case.inputs():
        text = show(value)
        lines += _indent(f"{name} = {text}" if "\n" not in text else f"{name} =\n{text}")
    return lines


def _section(result: Result) -> str:
    """The heading's "§5.1", or "pool2d, §5.1" for code checked under another name (`--as pool2d`)."""
    ex = result.exercise
    return ex.section if result.name in ex.names else f"{ex.key}, {ex.section}"


def _call(result: Result, outcome: Outcome) -> str:
    args = ", ".join(f"{n}: {describe(v)}" for n, v in outcome.case.inputs())
    return f"{result.name}({args})"


def _diagnosis(result: Result, msg: Messages) -> list[str]:
    if result.diagnosis is None:
        return ["  " + msg("no_diagnosis")]
    key, fields = result.diagnosis
    if key == "output_shape":
        texts = [msg("output_shape", **{**a, "axis": msg("rows" if a["axis"] == 0 else "columns")})
                 for a in fields["axes"]]  # fmt: skip
        return ["  " + msg("diagnosis", text=t) for t in texts]
    if key == "size_formula":
        return ["  " + msg("diagnosis", text=msg(fields["variant"], **fields))]
    return ["  " + msg("diagnosis", text=msg(key, **fields))]


def _failure(result: Result, msg: Messages) -> list[str]:
    f = result.failure
    assert f is not None
    head = dict(name=result.name, section=_section(result), n=result.cases)
    if result.status == "timeout":
        return [msg("timeout", **head, seconds=result.timeout, size=f.case.size())]
    if result.status == "crash":
        lines = [msg("crash", **head, exception=f.exception), *_inputs(f), "  " + msg("traceback")]
        return lines + _indent(f.error) + ["  " + msg("checking", call=_call(result, f))]
    if close(
        f.got, f.expected
    ):  # the answers agree; what failed is what the diagnosis says (a weight, an input changed)
        return [msg("fail_same", **head), *_inputs(f), *_diagnosis(result, msg)]
    marks = differ(f.got, f.expected)
    lines = [msg("fail", **head), *_inputs(f), "  " + msg("expected"), *_indent(show(f.expected, marks))]
    lines += ["  " + msg("yours"), *_indent(show(f.got, marks))]
    if marks is not None and bool(marks.any()):
        lines.append("  " + msg("legend"))
    return lines + _diagnosis(result, msg)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}" if seconds < 0.01 else f"{seconds * 1000:.1f}"


def _timing(t: dict, msg: Messages) -> str:
    (yours, fast), (yours_b, fast_b) = t["one"], t["batch"]
    return msg("timing", yours=_ms(yours), fast=_ms(fast), ratio=f"{yours / fast:.0f}×",
               op="conv2d" if t["kind"] == "conv" else "max_pool2d", batch=t["size"],
               yours_b=_ms(yours_b), fast_b=_ms(fast_b), ratio_b=f"{yours_b / fast_b:.0f}×")  # fmt: skip


def _network_rows(rows: list[dict], bad: dict | None, msg: Messages) -> list[str]:
    """One line per layer: its output shape, and the tutorial's where the first one departs."""
    lines = []
    for i, row in enumerate(rows):
        note = f"   ({bad['right']})" if bad and bad["i"] == i and not bad["crash"] else ""
        shape = tuple(row["shape"]) if "shape" in row else "-"
        lines.append(msg("net_row", i=i, layer=row["layer"], shape=shape, note=note))
    return lines


def _network(result: Result, msg: Messages) -> list[str]:
    net: dict[str, Any] = result.network or {}
    head = dict(name=result.name, section=_section(result))
    lines = [msg("net_pass" if result.passed else "net_fail", **head), "  " + msg("net_shapes")]
    bad = net.get("mismatch")
    lines += _network_rows(net.get("rows", []), bad, msg)
    if bad and bad["crash"]:
        lines += ["  " + msg("net_crash", **bad), *_indent(net.get("error", ""))]
    elif bad:
        lines.append("  " + msg("net_mismatch", **bad))
    learn = net.get("learn")
    if learn and learn["first"] == learn["first"]:
        lines.append("  " + msg("net_learned", **learn))
        if not result.passed:
            lines.append("  " + msg("net_no_learn", **learn))
    elif learn and learn["params"] == 0:
        lines.append("  " + msg("net_no_params"))
    elif learn:
        lines += _indent(learn["error"])
    return lines


def render_result(result: Result, msg: Messages) -> list[str]:
    """The lines for one exercise."""
    ex = result.exercise
    if ex.kind == "network" and result.network is not None:
        return _network(result, msg)
    if result.failure is not None and result.status != "learn_fail":
        return _failure(result, msg)
    head = dict(name=result.name, section=_section(result))
    lines = [msg("pass" if result.passed else "learn_fail", **head, cases=result.cases)]
    if result.learned is not None:
        a, b = (result.learned["kernel"] + [float("nan")] * 2)[:2]
        lines.append("  " + msg("learned", epochs=result.learned["epochs"], lr=result.learned["lr"], a=a, b=b))
    if result.status == "learn_fail" and result.diagnosis:
        lines += _diagnosis(result, msg)
    if result.timing is not None:
        lines.append("  " + _timing(result.timing, msg))
    return lines


def render(file: str, results: list[Result], missing: list[str], msg: Messages) -> str:
    """The whole report for a file: a header, each exercise, what was not found, the count that passed."""
    lines = [msg("header", file=file, n=len(results)), ""]
    for r in results:
        lines += [*render_result(r, msg), ""]
    if missing:
        lines.append(msg("missing", names=", ".join(missing)))
    lines.append(msg("summary", passed=sum(r.passed for r in results), total=len(results)))
    return "\n".join(lines)
