"""The README a newcomer reads: short, its architecture map matching the tree, its links alive."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
SRC = REPO / "src" / "convlab"


def architecture_block() -> str:
    section = README.split("## How it is built", 1)[1]
    return section.split("```", 2)[1]


def test_readme_is_short_enough_to_read_to_the_end():
    assert len(README.splitlines()) <= 200


def test_architecture_map_lists_every_module_and_only_real_ones():
    block = architecture_block()
    named = set(re.findall(r"[\w.-]+\.py", block)) | set(re.findall(r"(?:^ *|· )([\w-]+/)", block, re.M))
    modules = {p.name for p in SRC.rglob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    folders = {f"{p.name}/" for p in SRC.iterdir() if p.is_dir() and not p.name.startswith("__")}
    folders |= {"src/", "convlab/", "tests/", "benchmarks/", "docs/", "static/"}
    missing = sorted((modules | {f for f in folders if (SRC / f).is_dir()}) - named)
    assert missing == [], f"not in the README's map: {missing}"
    invented = sorted(n for n in named if n.endswith(".py") and n not in modules)
    assert invented == [], f"in the map but not in the tree: {invented}"
    for folder in named - {"src/", "convlab/"}:
        if folder.endswith("/"):
            assert (SRC / folder).is_dir() or (REPO / folder).is_dir() or (SRC / "web" / folder).is_dir(), folder


def test_links_point_at_files_that_exist():
    for target in re.findall(r"\]\(([^)#]+)\)", README):
        if not target.startswith("http"):
            assert (REPO / target).exists(), target
    for page in (REPO / "docs").glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if not target.startswith("http"):
                assert (page.parent / target).exists() or (REPO / target).exists(), (page.name, target)


@pytest.mark.slow
def test_the_python_snippet_runs_as_written(tmp_path, fashion_dir):
    code = README.split("## From Python", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("[37., 43.]]") == 2 and "total parameters: 61,706" in r.stdout
    assert (tmp_path / "runs" / "notebook" / "model.safetensors").exists()
