"""The bundled checkpoints are what the docs and the playground say: every accuracy quoted for one
is recomputed here on the real test set, by a plain loop (argmax of the model's logits against the
labels), not by convlab's evaluate."""

import json
import re

import pytest
import torch

from conftest import REPO, digits_folder, fashion_folder
from convlab.checkpoint import bundled, load_checkpoint, pretrained_path
from convlab.data import load_dataset
from convlab.models.zoo import results

pytestmark = pytest.mark.slow

LENETS = ["lenet-fashion-mnist", "lenet-modern-fashion-mnist", "lenet-digits", "lenet-modern-digits"]


def quoted_in_training_md() -> dict[str, str]:
    """docs/training.md's table of bundled models: name → the accuracy it quotes, as written."""
    text = (REPO / "docs" / "training.md").read_text()
    return dict(re.findall(r"^\| `([a-z-]+)`[^|]* \| (0\.\d+)", text, flags=re.M))


def accuracy(name: str) -> tuple[float, int]:
    """The bundled checkpoint's accuracy on its dataset's test split (the held-out split its
    training made from its seed), computed with nothing but the model and the labels."""
    ck = load_checkpoint(name)
    assert ck.meta.dataset is not None and ck.meta.config is not None
    (digits_folder if ck.meta.dataset.name == "digits" else fashion_folder)()
    ds = load_dataset(ck.meta.dataset.name, seed=int(ck.meta.config["seed"]), progress=False)
    model = ck.model.eval()
    with torch.inference_mode():
        x = (ds.test_x.float() / 255 - ck.mean) / ck.std  # (N, 1, 28, 28), as trained
        right = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(1000), ds.test_y.split(1000)))
    return right / len(ds.test_y), len(ds.test_y)


def test_the_docs_quote_every_bundled_checkpoint():
    assert set(quoted_in_training_md()) >= set(bundled()), quoted_in_training_md()


@pytest.mark.parametrize("name", LENETS)
def test_a_bundled_lenets_quoted_accuracy_is_its_accuracy(name):
    """docs/training.md's table, the checkpoint's own metrics (which the playground shows), and for
    Fashion-MNIST the zoo table (zoo.json, docs/zoo.md) and the README's sample output quote it."""
    acc, n = accuracy(name)
    decimals = 4 if n == 10000 else 3
    assert f"{acc:.{decimals}f}" == quoted_in_training_md()[name], (name, acc)
    with open(pretrained_path(name), "rb") as f:  # the playground's figure: the metadata's test_acc
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    assert json.loads(header["__metadata__"]["convlab"])["metrics"]["test_acc"] == pytest.approx(acc, abs=1e-12)
    if name.endswith("-fashion-mnist"):
        model = name.removesuffix("-fashion-mnist")
        assert results()["models"][model]["test_acc"] == pytest.approx(acc, abs=5e-5), model
    if name == "lenet-fashion-mnist":
        assert f"final test accuracy {acc:.4f} after 15 epochs" in (REPO / "README.md").read_text()


def test_lenet_digits_reproduces_from_its_recipe(tmp_path):
    """`convlab train --config lenet-digits` (40 epochs on 4,000 digits) gives the bundled weights.

    Bit for bit only where the float32 sums run in the same order: PyTorch chooses its kernels by
    CPU (AVX-512, AVX2) and splits work by thread count, and either changes the last bits (on an
    AMD EPYC, AVX2, 2 threads: at most 1.5e-5 from the bundled weights, relative 1.5e-5, the same
    test accuracy). What every CPU gives: each tensor within 1e-3 (relative) of the bundled one
    and the test accuracy within 0.4 points. Whether it was bitwise here goes to
    artifacts/reproduction.json."""
    from safetensors.torch import load_file

    from conftest import ARTIFACTS, run_cli

    digits_folder()
    out = tmp_path / "run"
    r = run_cli("train", "--config", "lenet-digits", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    ours, theirs = load_file(out / "model.safetensors"), load_file(pretrained_path("lenet-digits"))
    assert list(ours) == list(theirs)
    rel = {k: float((ours[k] - theirs[k]).norm() / theirs[k].norm()) for k in theirs}
    bitwise = all(torch.equal(ours[k], theirs[k]) for k in theirs)
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"cpu": torch.backends.cpu.get_cpu_capability(), "threads": torch.get_num_threads(), "bitwise": bitwise}
    (ARTIFACTS / "reproduction.json").write_text(json.dumps({**report, "relative_difference": rel}, indent=1))
    assert max(rel.values()) <= 1e-3, rel
    acc = json.loads((out / "model.json").read_text())["metrics"]["test_acc"]
    assert abs(acc - load_checkpoint("lenet-digits").meta.metrics.test_acc) <= 0.004, acc
