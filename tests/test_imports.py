"""Imports follow the README's one-way flow (data → models → config → train/evaluate → checkpoint →
predict, web): each rule below is a dependency that once ran backwards."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "convlab"


def imported(module: str) -> set[str]:
    """Every convlab module `module` imports, at the top or inside a function, as dotted names."""
    path = SRC / (module.replace(".", "/") + ".py")
    package = module.rsplit(".", 1)[0].split(".") if "." in module else []
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            target = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names |= {target} | {f"{target}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            names |= {a.name.removeprefix("convlab.") for a in node.names}
    return names


@pytest.mark.parametrize(
    ("module", "not_imported"),
    [
        ("models.zoo", "checkpoint"),  # models come before checkpoints
        ("train", "predict"),  # a dataset's properties live with the data
        ("prepare", "predict"),
        ("web.live", "web.models"),  # the training process does not load the catalogue
    ],
)
def test_imports_run_one_way(module, not_imported):
    assert not {n for n in imported(module) if n == not_imported or n.startswith(not_imported + ".")}


def test_train_does_not_re_export_evaluation():
    import convlab.train

    assert not {"class_report", "evaluate_checkpoint"} & set(dir(convlab.train))
    assert not {"evaluate", "autocast", "evaluate_checkpoint"} & set(convlab.train.__all__)
