"""Every declared dependency is installed where the suite runs: a missing one would otherwise
only show as skipped tests (attributions and OpInfo samples were once skipped that way in CI)."""

import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
EXTRAS = ("web", "export", "test")  # what scripts/setup.sh installs besides the core (dev is checked by check.sh)
REQUIREMENTS = [*PROJECT["dependencies"], *(r for e in EXTRAS for r in PROJECT["optional-dependencies"][e])]


@pytest.mark.parametrize("requirement", REQUIREMENTS)
def test_declared_dependency_is_installed(requirement):
    name = re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0]
    try:
        version(name)
    except PackageNotFoundError:
        pytest.fail(f"{name} is declared in pyproject.toml but not installed: bash scripts/setup.sh")
