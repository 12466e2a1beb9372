"""summary / explain / visualize / demo image from the command line."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_here


def test_explain_conv_prints_the_seeds_lines(cli):
    r = cli("explain", "conv", "--input", "0 1 2; 3 4 5; 6 7 8", "--kernel", "0 1; 2 3")
    assert r.returncode == 0, r.stderr
    for line in (
        "0×0 + 1×1 + 3×2 + 4×3 = 19",
        "1×0 + 2×1 + 4×2 + 5×3 = 25",
        "3×0 + 4×1 + 6×2 + 7×3 = 37",
        "4×0 + 5×1 + 7×2 + 8×3 = 43",
        "⌊(3 + 2·0 − 2) / 1⌋ + 1 = 2",
    ):
        assert line in r.stdout


def test_explain_pool_and_shapes(cli):
    r = cli("explain", "pool", "--input", "0 1 2; 3 4 5; 6 7 8", "--size", "2", "--stride", "1", "--mode", "max")
    assert "max(0, 1, 3, 4) = 4" in r.stdout and "max(4, 5, 7, 8) = 8" in r.stdout
    r = cli("explain", "shapes")
    assert "Conv2d" in r.stdout and "(1, 16, 5, 5)" in r.stdout and "(1, 10)" in r.stdout


def test_summary_json(cli):
    r = cli("summary", "--model", "lenet", "--json")
    d = json.loads(r.stdout)
    assert d["total_params"] == 61706 and d["rows"][0][2:4] == ["Conv2d", "6×28×28"]


@pytest.mark.slow
def test_visualize_writes_every_layer(cli, tmp_path):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[6:22, 10:18] = 255
    Image.fromarray(a).save(tmp_path / "x.png")
    r = cli("visualize", tmp_path / "x.png", "--out", tmp_path / "maps")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert "kernels.png" in files and "input.png" in files
    assert len([f for f in files if f.startswith("layer")]) == 16  # lenet-modern has 16 layers
    from convlab import plots

    with Image.open(tmp_path / "maps" / "layer000_conv2d.png") as im:  # 6 channels on one row
        assert im.size == plots.pixel_size(plots._figure(1.4 * 6 + 0.8, 1.4 * 1 + 0.5))
        assert np.asarray(im.convert("L")).std() > 10  # not blank
    assert "prediction:" in r.stdout


def test_demo_image_gray_and_rgb(cli, tmp_path):
    Image.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4) * 16).save(tmp_path / "g.png")
    r = cli("demo", "image", tmp_path / "g.png", "--out", tmp_path / "g-out.png")
    assert r.returncode == 0 and "gray channel" in r.stdout and "240" in r.stdout
    rgb = np.zeros((3, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    Image.fromarray(rgb).save(tmp_path / "c.png")
    r = cli("demo", "image", tmp_path / "c.png", "--out", tmp_path / "c-out.png")
    assert "red channel" in r.stdout and "blue channel" in r.stdout and (tmp_path / "c-out.png").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("explain", "conv", "--input", "1 2; 3", "--kernel", "1"), "row 2 has 1 values"),
        (("explain", "conv", "--input", "1 a", "--kernel", "1"), "'a' in row 1"),
        (("explain", "conv", "--input", "1 2; 3 4", "--kernel", "1 1 1; 1 1 1; 1 1 1"), "larger than the padded input"),
        (("explain", "pool", "--input", "1 2; 3 4", "--size", "2", "--padding", "2"), "more than half the window"),
        (("summary", "--model", "lenet6"), "did you mean"),
        (("visualize", "nothing.png"), "no such file"),
        (("demo", "image", "nothing.png"), "no such file"),
    ],
)
def test_bad_input(args, words):
    assert_user_error(run_here(*args), words)
