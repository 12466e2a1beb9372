"""Under CI (the environment variable CI set, as `.ci/run` sets it) a skipped test is a failed test.

A test that needs data, a browser or an optional package skips on a developer's machine that lacks
it, and says what to install. In CI that would leave the check silently not run while the run stays
green, so there the skip is turned into a failure with the same reason. Only a skip whose reason
starts with `NOT_APPLICABLE` stays a skip: a test that does not apply to this platform at all (a
GPU is present, the C library is not glibc), not one whose tools are missing.

tests/conftest.py imports these hooks; `pytest -p helpers.strict_ci` loads them alone.
"""

from __future__ import annotations

import os

import pytest

NOT_APPLICABLE = "not applicable here"


def strict() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def _reason(longrepr) -> str:
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (file, line, "Skipped: reason")
        return str(longrepr[2])
    return str(longrepr)


def _fail_if_skipped(report) -> None:
    if not (report.skipped and strict()) or hasattr(report, "wasxfail"):
        return
    reason = _reason(report.longrepr)
    if NOT_APPLICABLE in reason:
        return
    report.outcome = "failed"
    report.longrepr = f"skipped under CI, where every test must run: {reason}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    _fail_if_skipped(report)
    return report


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector):
    report = yield  # a module-level pytest.importorskip skips the whole module here
    _fail_if_skipped(report)
    return report
