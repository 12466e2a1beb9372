"""OpenCV's handwritten digits: the real sheet found offline, read into MNIST's geometry, split
the same way every time; bad sheets refused with one line and nothing cached; drawings and
photos prepared the MNIST way."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ARTIFACTS, assert_user_error, run_cli
from convlab.data import load_dataset
from convlab.data.digits import PIXELS_SHA256, SHEET_SIZE, load_digits, read_sheet
from convlab.data.handwriting import NoDigit, prepare_digit
from convlab.data.idx import DataError
from convlab.data.sources import fetch, locate, status


@pytest.fixture(scope="module")
def sheet():
    folder = locate("digits")
    if folder is None:
        pytest.skip("digits.png not installed (bash scripts/setup.sh takes it out of opencv-doc)")
    return folder / "digits.png"


@pytest.fixture(scope="module")
def digits(sheet):
    return load_digits(sheet)


def test_the_real_sheet_is_found_offline_and_described(sheet):
    row = status("digits")
    assert row["found"] and (row["train"], row["test"]) == (4000, 1000)
    assert "OpenCV" in row["title"] and "Apache" in row["license"]
    r = run_cli("datasets")
    assert r.returncode == 0 and "digits" in r.stdout and "(4000 train / 1000 test)" in r.stdout


def test_cells_labelled_by_row_in_mnist_geometry(digits):
    assert digits.train_x.shape == (4000, 1, 28, 28) and digits.test_x.shape == (1000, 1, 28, 28)
    assert digits.classes == [str(i) for i in range(10)]
    assert digits.class_counts("train") == [400] * 10 and digits.class_counts("test") == [100] * 10
    x = torch.cat([digits.train_x, digits.test_x]).float()[:, 0]  # (5000, 28, 28)
    mass = x.sum((1, 2))
    cy = (x.sum(2) * torch.arange(28)).sum(1) / mass
    cx = (x.sum(1) * torch.arange(28)).sum(1) / mass
    assert abs(cy.mean() - 13.5) < 1 and abs(cx.mean() - 13.5) < 1  # centred by mass, as MNIST
    rows = (x > 64).any(2).float()
    height = rows.shape[1] - rows.argmax(1) - rows.flip(1).argmax(1)
    assert 17 <= height.float().mean() <= 23  # the digit about 20 pixels tall
    assert digits.flips is False


def test_the_split_never_changes(sheet, digits):
    again = load_dataset("digits", progress=False)
    assert torch.equal(again.test_x, digits.test_x) and torch.equal(again.train_y, digits.train_y)
    seeded = load_dataset("digits", seed=7, progress=False)  # the training seed does not move it
    assert torch.equal(seeded.test_x, digits.test_x)


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda a: a[:500], "is 2000×500"),  # wrong size
        (lambda a: np.where(np.arange(a.size).reshape(a.shape) == 12345, 255 - a, a), "pixels differ"),  # altered
    ],
)
def test_a_wrong_sheet_is_refused_naming_the_file(sheet, tmp_path, make, words):
    a = np.asarray(Image.open(sheet).convert("L"))
    bad = tmp_path / "digits" / "digits.png"
    bad.parent.mkdir()
    Image.fromarray(make(a).astype(np.uint8)).save(bad)
    with pytest.raises(DataError, match=words) as info:
        load_dataset("digits", data_dir=tmp_path, progress=False)
    assert str(bad) in str(info.value)
    r = run_cli("train", "--dataset", "digits", "--data-dir", tmp_path, "--epochs", "1")
    assert_user_error(r, words)


def test_a_truncated_sheet_is_refused(sheet, tmp_path):
    (tmp_path / "digits").mkdir()
    (tmp_path / "digits" / "digits.png").write_bytes(sheet.read_bytes()[:30000])
    r = run_cli("train", "--dataset", "digits", "--data-dir", tmp_path, "--epochs", "1")
    assert_user_error(r, "digits.png")


def test_download_verifies_the_pixels_and_keeps_nothing_wrong(sheet, tmp_path, http_server, monkeypatch):
    monkeypatch.setenv("CONVLAB_DATA", str(tmp_path / "cache"))  # not the machine's own copy
    real = sheet.read_bytes()
    img = Image.open(sheet).convert("L")
    shifted = np.roll(np.asarray(img), 1, axis=1)  # the right size, the wrong pixels
    import io

    buf = io.BytesIO()
    Image.fromarray(shifted).save(buf, format="PNG")
    http_server.routes["/bad/digits.png"] = ("ok", buf.getvalue())
    http_server.routes["/good/digits.png"] = ("ok", real)
    with pytest.raises(DataError, match="pixels differ"):
        fetch("digits", tmp_path / "a", progress=False, mirrors=(http_server.url + "/bad/",))
    assert not (tmp_path / "a" / "digits" / "digits.png").exists()  # nothing cached from it
    folder = fetch(
        "digits", tmp_path / "b", progress=False, mirrors=(http_server.url + "/bad/", http_server.url + "/good/")
    )
    assert (folder / "digits.png").read_bytes() == real
    assert read_sheet(folder / "digits.png").shape == (SHEET_SIZE[1], SHEET_SIZE[0])
    assert len(PIXELS_SHA256) == 64


def test_no_download_when_the_sheet_is_installed(sheet, tmp_path, http_server):
    shutil.copy(sheet, tmp_path / "digits.png")
    fetch("digits", tmp_path, progress=False, mirrors=(http_server.url + "/",))
    assert http_server.log == []


# --- drawings and photos, the MNIST way ------------------------------------------------------


def paper_photo(digit: np.ndarray, size: int, at: tuple[int, int], shape=(240, 320), seed=0) -> Image.Image:
    """A 28×28 light-on-dark digit as dark ink on light, unevenly lit, slightly noisy paper."""
    rng = np.random.default_rng(seed)
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 205 + 25 * np.sin(xx / 85.0 + seed) * np.cos(yy / 65.0) + rng.normal(0, 3, shape)
    ink = np.asarray(Image.fromarray(digit.astype(np.uint8)).resize((size, size), Image.BICUBIC), np.float32) / 255
    y, x = at
    paper[y : y + size, x : x + size] *= 1 - 0.85 * ink
    return Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8))


def test_a_photographed_digit_becomes_the_training_digit(digits):
    for i, (size, at) in enumerate([(60, (10, 20)), (120, (100, 150)), (200, (20, 60))]):
        d = digits.test_x[i * 100, 0].numpy()
        x, steps = prepare_digit(paper_photo(d, size, at, seed=i))
        assert x.shape == (1, 28, 28) and x.dtype == torch.uint8
        corr = torch.corrcoef(torch.stack([x[0].flatten().float(), torch.from_numpy(d).flatten().float()]))[0, 1]
        assert corr > 0.6, (i, corr)
        assert steps[0] == "inverted: light background" and "centred by mass" in steps[-1]


def test_an_empty_canvas_or_blank_paper_has_no_digit():
    for img in (Image.new("L", (280, 280), 0), Image.new("L", (200, 150), 230)):
        with pytest.raises(NoDigit, match="no digit found"):
            prepare_digit(img)


# --- the bundled digit models -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "target"), [("lenet-modern-digits", 0.985), ("lenet-digits", 0.975), ("mlp-digits", 0.98)]
)
def test_bundled_digit_models_reach_their_targets(digits, name, target):
    r = run_cli("eval", "--checkpoint", name, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["dataset"] == "digits" and out["n"] == 1000 and out["accuracy"] >= target


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet-modern-digits", "lenet-digits"])
def test_photographed_held_out_digits_are_recognised(digits, tmp_path, name):
    """200 held-out digits (20 per class) as dark ink on unevenly lit paper, photographed at
    several sizes and positions and saved as JPEG, read by `convlab predict`."""
    rng = np.random.default_rng(5)
    idx = torch.cat([torch.nonzero(digits.test_y == c).flatten()[10:30] for c in range(10)])
    files = []
    for k, i in enumerate(idx.tolist()):
        size = int(rng.integers(50, 200))
        at = (int(rng.integers(0, 240 - size)), int(rng.integers(0, 320 - size)))
        files.append(tmp_path / f"{k:03d}-{int(digits.test_y[i])}.jpg")
        paper_photo(digits.test_x[i, 0].numpy(), size, at, seed=k).save(files[-1], quality=90)
    r = run_cli("predict", *files, "--checkpoint", name, "--json")
    assert r.returncode == 0, r.stderr
    results = json.loads(r.stdout)
    correct = sum(Path(row["image"]).stem.split("-")[1] == row["prediction"] for row in results)
    assert all(row["inverted"] and "centred by mass in 28×28" in row["steps"][-1] for row in results)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"photo-digits-{name}.json").write_text(json.dumps({"correct": correct, "of": len(results)}))
    assert correct >= 0.95 * len(results), correct
    r = run_cli("predict", files[0], "--checkpoint", name)
    assert "inverted: light background; cropped to the ink" in r.stdout  # the output says what was done


@pytest.mark.slow
def test_visualize_prepares_a_digit_photo_the_same_way(digits, tmp_path):
    paper_photo(digits.test_x[0, 0].numpy(), 150, (40, 80), seed=3).save(tmp_path / "zero.jpg")
    r = run_cli("visualize", tmp_path / "zero.jpg", "--checkpoint", "lenet-modern-digits", "--out", tmp_path / "maps")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("prediction: 0 (inverted: light background; cropped to the ink")
    seen = np.asarray(Image.open(tmp_path / "maps" / "input.png"))
    assert seen.size > 0 and (tmp_path / "maps" / "kernels.png").exists()
