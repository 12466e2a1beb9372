"""Commands that write a folder of files: `--force` leaves exactly this run's files (and any file not
convlab's), a refused request leaves no folder behind, and the small wording of `why`, `mistakes` and
`filter`. The oracle for each folder is the same command run into an empty folder."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_here

CK = "lenet-modern-fashion-mnist"
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def bar_image(path):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 11:17] = 255
    Image.fromarray(a).save(path)
    return path


def names(folder):
    return {p.name for p in folder.iterdir()}


def test_visualize_force_leaves_only_this_models_layers(tmp_path):
    """A LeNet's layer PNGs, then an MLP's with --force: the folder holds what the MLP writes into an
    empty folder, and the user's own files (one even named like a PNG of ours, but not a layer's)."""
    img = bar_image(tmp_path / "bar.png")
    maps, fresh = tmp_path / "maps", tmp_path / "fresh"
    r = run_here("visualize", img, "--checkpoint", "lenet-digits", "--out", maps)
    assert r.returncode == 0, r.stderr
    lenet = names(maps)
    (maps / "notes.txt").write_text("mine")
    (maps / "layer_mine.png").write_bytes(b"mine")
    assert run_here("visualize", img, "--checkpoint", "mlp-digits", "--out", fresh).returncode == 0
    mlp = names(fresh)
    assert len(lenet - mlp) > 3  # (the LeNet has layers the MLP has not: the test would see them)
    r = run_here("visualize", img, "--checkpoint", "mlp-digits", "--out", maps, "--force")
    assert r.returncode == 0, r.stderr
    assert names(maps) == mlp | {"notes.txt", "layer_mine.png"}
    assert (maps / "notes.txt").read_text() == "mine"


def test_mistakes_force_leaves_only_this_reports_grids_and_says_1_time(tmp_path, fashion_dir):
    mist, fresh = tmp_path / "mist", tmp_path / "fresh"
    r = run_here("mistakes", "--checkpoint", CK, "--pairs", "4", "--per-pair", "1", "--out", mist)
    assert r.returncode == 0, r.stderr
    assert len([n for n in names(mist) if n.startswith("pair")]) == 4
    (mist / "mine.png").write_bytes(b"mine")
    assert run_here("mistakes", "--checkpoint", CK, "--pairs", "1", "--per-pair", "1", "--out", fresh).returncode == 0
    r = run_here("mistakes", "--checkpoint", CK, "--pairs", "1", "--per-pair", "1", "--out", mist, "--force")
    assert r.returncode == 0, r.stderr
    assert names(mist) == names(fresh) | {"mine.png"} and len(names(fresh)) == 2
    r = run_here("mistakes", "--checkpoint", CK, "--pairs", "80", "--per-pair", "1")
    said = re.findall(r": (\d+) (times?)\b", r.stdout)
    assert ("1", "time") in said and len(said) > 30  # (Fashion-MNIST's test set has pairs confused once)
    assert all((word == "time") == (n == "1") for n, word in said), said


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--method", "gradcam", "--layer", "nosuch"], "layer"),
        (["--method", "occlusion", "--window", "40"], "window"),
        (["--method", "occlusion", "--window", "0"], "window"),
        (["--method", "occlusion", "--stride", "0"], "stride"),
        (["--method", "saliency", "--target", "nosuch"], "class"),
    ],
)
def test_a_refused_why_leaves_no_folder(tmp_path, args, words):
    img = bar_image(tmp_path / "bar.png")
    r = run_here("why", img, "--checkpoint", CK, *args, "--out", tmp_path / "w2")
    assert_user_error(r, words)
    assert not (tmp_path / "w2").exists()


def test_why_target_takes_a_class_index_and_says_what_it_explained(tmp_path):
    img = bar_image(tmp_path / "bar.png")
    common = ("--checkpoint", CK, "--method", "saliency", "--force")
    by_index = run_here("why", img, *common, "--target", "4", "--out", tmp_path / "a", "--json")
    assert by_index.returncode == 0, by_index.stderr
    assert json.loads(by_index.stdout)[0]["explained"] == FASHION[4]
    text = run_here("why", img, *common, "--target", FASHION[4], "--out", tmp_path / "b")
    assert f"explained: {FASHION[4]}" in text.stdout, text.stdout
    assert_user_error(run_here("why", img, *common, "--target", "10", "--out", tmp_path / "c"), "0..9")
    assert "index" in run_here("why", "--help").stdout


def test_filter_top_0_names_the_flag_typed(fashion_dir):
    r = run_here("filter", "--checkpoint", CK, "--layer", "0", "--channel", "0", "--top", "0")
    assert_user_error(r, "--top")


def test_a_training_run_whose_network_fails_leaves_no_empty_folder(tmp_path, fashion_dir):
    """A network whose forward fails in training only (it passes the shape check): the folder this run
    made goes; an existing empty folder the user made stays."""
    (tmp_path / "picky.py").write_text(
        "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.fc = nn.Linear(784, 10)\n\n    def forward(self, x):\n        if self.training:\n"
        "            raise ValueError('not in training')\n        return self.fc(x.flatten(1))\n"
    )
    (tmp_path / "kept").mkdir()
    for out in ("rp", "kept"):
        r = run_here("train", "--model", f"{tmp_path / 'picky.py'}:Net", "--out", tmp_path / out,
                     "--epochs", "1", "--max-train", "256", "--quiet")  # fmt: skip
        assert r.returncode == 2 and "not in training" in r.stderr, r.stderr
    assert not (tmp_path / "rp").exists() and (tmp_path / "kept").is_dir()
