"""The tutorial notebooks run top to bottom (any cell that errors fails CI), in both languages,
with the same code cells."""

from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
NOTEBOOKS = ["tutorial.ipynb", "tutorial.zh.ipynb"]

nbformat = pytest.importorskip("nbformat")


def code_cells(name):
    return [c.source for c in nbformat.read(DOCS / name, as_version=4).cells if c.cell_type == "code"]


def test_both_languages_have_the_same_code_cells():
    assert code_cells(NOTEBOOKS[0]) == code_cells(NOTEBOOKS[1])
    en, zh = (nbformat.read(DOCS / n, as_version=4).cells for n in NOTEBOOKS)
    assert [c.cell_type for c in en] == [c.cell_type for c in zh]


def test_notebooks_are_stored_without_outputs():
    for name in NOTEBOOKS:
        for cell in nbformat.read(DOCS / name, as_version=4).cells:
            assert cell.cell_type != "code" or (cell.outputs == [] and cell.execution_count is None), name


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(name, fashion_dir, tmp_path):
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(DOCS / name, as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 6  # the image, channels, curves, kernels and two feature-map grids render inline
    text = "".join(o.get("text", "") for o in outputs)
    assert "tensor([[19., 25.]," in text and "learned kernel" in text and "(1, 10)" in text
