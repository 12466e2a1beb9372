"""train / eval / predict as a user runs them, including every bad input (exit 2, nothing lost)."""

import json

import pytest
from PIL import Image

from conftest import assert_user_error, run_here
from convlab.data import load_dataset

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, fashion_dir_module):
    from conftest import run_cli

    out = tmp_path_factory.mktemp("cli") / "run"
    r = run_cli("train", "--model", "lenet-modern", "--epochs", "1", "--max-train", "3000", "--out", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "final test accuracy" in r.stdout and str(out) in r.stdout and "after 1 epoch (" in r.stdout
    return out


@pytest.fixture(scope="module")
def fashion_dir_module():
    from conftest import fashion_folder

    return fashion_folder()


@pytest.fixture(scope="module")
def test_images(tmp_path_factory, fashion_dir_module):
    """Two real test images as PNG: one as stored (dark background), one inverted and enlarged."""
    ds = load_dataset("fashion-mnist", progress=False)
    d = tmp_path_factory.mktemp("imgs")
    a = ds.test_x[0, 0].numpy()  # an ankle boot
    Image.fromarray(a).save(d / "boot.png")
    Image.fromarray(255 - a).resize((112, 112)).convert("RGB").save(d / "boot-light.jpg")
    return d


def test_eval_json(trained_run, cli):
    r = cli("eval", "--checkpoint", trained_run, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["n"] == 10000 and 0.6 <= out["accuracy"] <= 1.0 and len(out["per_class"]) == 10


def test_eval_text_and_confusion_png(trained_run, cli, tmp_path):
    r = cli("eval", "--checkpoint", trained_run / "model.safetensors", "--out", tmp_path / "c.png")
    assert r.returncode == 0 and "precision" in r.stdout and (tmp_path / "c.png").stat().st_size > 1000


def test_predict_json_and_inversion(trained_run, test_images, cli):
    r = cli(
        "predict",
        test_images / "boot.png",
        test_images / "boot-light.jpg",
        "--checkpoint",
        trained_run,
        "--json",
        "--top-k",
        "2",
    )
    assert r.returncode == 0, r.stderr
    a, b = json.loads(r.stdout)
    assert a["inverted"] is False and b["inverted"] is True
    assert len(a["top"]) == 2 and abs(sum(t["probability"] for t in a["top"])) <= 1.0
    r = cli("predict", test_images / "boot-light.jpg", "--checkpoint", trained_run)
    assert "(inverted: light background, unlike the training images)" in r.stdout and "))" not in r.stdout


def test_pretrained_default_predicts(test_images, cli):
    r = cli("predict", test_images / "boot.png", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)[0]["prediction"] == "Ankle boot"


def test_bad_inputs(trained_run, test_images, cli, tmp_path):
    cases = [
        (("train", "--model", "lenet5"), "did you mean 'lenet'"),
        (("train", "--dataset", "mnits"), "did you mean 'mnist'"),
        (("train", "--epochs", "0"), "--epochs"),
        (("train", "--batch-size", "-3"), "--batch-size"),
        (("train", "--lr", "0"), "--lr"),
        (("train", "--resume", tmp_path), "no training state"),
        (("predict", tmp_path / "missing.png", "--checkpoint", trained_run), "no such file"),
        (("eval", "--checkpoint", tmp_path / "nothing"), "no such checkpoint"),
    ]
    (tmp_path / "notes.png").write_text("hello")
    cases.append((("predict", tmp_path / "notes.png", "--checkpoint", trained_run), "not a readable image"))
    pickle_file = tmp_path / "model.pt"
    pickle_file.write_bytes(b"\x80\x04K\x01.")
    cases.append((("eval", "--checkpoint", pickle_file), "safetensors only"))
    # weights that do not fit: a lenet checkpoint's tensors under a lenet-modern description
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(trained_run / "model.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["convlab"])
    meta["architecture"]["name"] = "lenet"
    save_file(
        load_file(trained_run / "model.safetensors"),
        tmp_path / "bad.safetensors",
        metadata={"convlab": json.dumps(meta)},
    )
    cases.append((("eval", "--checkpoint", tmp_path / "bad.safetensors"), "do not fit the architecture"))
    for args, words in cases:
        assert_user_error(run_here(*args), words)  # in this process: 11 refusals, no 11 PyTorch imports


def test_existing_run_is_kept_without_force(trained_run, cli):
    before = {p.name: p.read_bytes() for p in trained_run.iterdir()}
    r = cli("train", "--epochs", "1", "--max-train", "256", "--out", trained_run)
    assert_user_error(r, "already exists", "--resume", "--force")
    assert {p.name: p.read_bytes() for p in trained_run.iterdir()} == before


def test_own_image_folder_and_csv_train_end_to_end(tmp_path, cli, fashion_dir_module):
    """A user's PNG folder (real Fashion-MNIST images of three classes) and a Kaggle-style CSV."""
    ds = load_dataset("fashion-mnist", progress=False)
    folder = tmp_path / "clothes"
    lines = ["label," + ",".join(f"pixel{i}" for i in range(784))]
    for label, name in ((1, "trouser"), (7, "sneaker"), (8, "bag")):
        (folder / name).mkdir(parents=True)
        idx = (ds.train_y == label).nonzero().flatten()[:150]
        for i in idx.tolist():
            Image.fromarray(ds.train_x[i, 0].numpy()).save(folder / name / f"{i}.png")
            lines.append(f"{[1, 7, 8].index(label)}," + ",".join(map(str, ds.train_x[i, 0].flatten().tolist())))
    (tmp_path / "clothes.csv").write_text("\n".join(lines) + "\n")
    for data, out in ((folder, tmp_path / "run-folder"), (tmp_path / "clothes.csv", tmp_path / "run-csv")):
        r = cli(
            "train",
            "--data",
            data,
            "--model",
            "lenet-modern",
            "--epochs",
            "3",
            "--batch-size",
            "32",
            "--out",
            out,
            "--quiet",
        )
        assert r.returncode == 0, r.stderr
        r = cli("eval", "--checkpoint", out, "--data", data, "--json")
        assert r.returncode == 0, r.stderr
        result = json.loads(r.stdout)
        assert result["n"] == 45 and result["accuracy"] >= 0.9  # three easy classes, 10 % held out
    assert json.loads((tmp_path / "run-folder" / "model.json").read_text())["classes"] == ["bag", "sneaker", "trouser"]
