"""The suite's own guards: under CI a skipped test fails; the real-data guards find data where
convlab finds it; CI repeats the equivalence tests with PyTorch held to AVX2."""

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO, fashion_folder

TESTS = Path(__file__).resolve().parent

SKIPPING = """
import pytest

@pytest.fixture
def data():
    pytest.skip("no data here")

def test_needs_data(data):
    pass

def test_gpu_only():
    pytest.skip("not applicable here: no GPU")
"""


def _pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess:
    """pytest over `folder` with only the strict-CI hooks (and every module collected)."""
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(TESTS)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "helpers.strict_ci",
            "-p",
            "no:cacheprovider",
            "-q",
            "-ra",
            "--continue-on-collection-errors",
            str(folder),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=folder,
        timeout=120,
    )


def test_a_skipped_test_fails_under_ci_and_only_skips_elsewhere(tmp_path):
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    (tmp_path / "test_missing_package.py").write_text('import pytest\npytest.importorskip("no_such_package_x")\n')
    here = _pytest(tmp_path, None)
    assert here.returncode == 0 and "3 skipped" in here.stdout, here.stdout
    ci = _pytest(tmp_path, "true")
    assert ci.returncode != 0, ci.stdout
    assert "skipped under CI, where every test must run: Skipped: no data here" in ci.stdout
    assert "no_such_package_x" in ci.stdout  # a module skipped at import fails too
    assert "SKIPPED [1] test_skipping.py" in ci.stdout and "1 skipped" in ci.stdout  # "not applicable here"


def test_ci_runs_strict_and_repeats_the_equivalence_tests_on_avx2():
    ci, test_sh = (REPO / ".ci/run").read_text(), (REPO / "scripts/test.sh").read_text()
    assert 'export CI="${CI:-true}"' in ci and "scripts/test.sh" in ci
    assert "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2" in test_sh
    for f in ("tests/test_ops.py", "tests/test_layers.py", "tests/test_models.py"):
        assert f in test_sh


def test_the_data_guard_finds_fashion_mnist_where_convlab_does(tmp_path, monkeypatch):
    real = fashion_folder()
    copy = tmp_path / "fashion-mnist"
    copy.mkdir()
    for f in real.iterdir():
        (copy / f.name).symlink_to(f)
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path))  # convlab's own cache comes before the system's
    assert fashion_folder() == copy
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path / "empty"))
    from convlab.data.sources import locate

    assert fashion_folder() == locate("fashion-mnist") == real
