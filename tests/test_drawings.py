"""A class's own drawings saved as an image folder (`data.drawings`): what is written is what
Pillow reads back (28×28 grayscale, ink centred, one folder per class), every refusal is one
clear message and writes nothing, and `--data` reads the folder with the classes named."""

import io
import random

import numpy as np
import pytest
from helpers.shapes import SHAPES, render_png, shape_strokes
from PIL import Image

from convlab.data import drawings
from convlab.data.drawings import DrawingsError, check_names, save_drawings
from convlab.data.formats import load_path


def examples(n=10, seed=0, kinds=SHAPES):
    rng = random.Random(seed)
    return [(k, [render_png(shape_strokes(k, rng)) for _ in range(n)]) for k in kinds]


def test_drawings_become_an_image_folder_that_data_reads(tmp_path):
    folder = save_drawings(tmp_path / "d", examples())
    for kind in SHAPES:
        files = sorted((folder / kind).iterdir())
        assert [f.name for f in files] == [f"{i:03d}.png" for i in range(10)]
        for f in files:
            im = Image.open(f)
            assert im.format == "PNG" and im.mode == "L" and im.size == (28, 28)
            a = np.asarray(im, dtype=float)
            ys, xs = np.nonzero(a)
            assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (19, 20, 21)  # MNIST's 20-pixel box
            cy, cx = (a * np.arange(28)[:, None]).sum() / a.sum(), (a * np.arange(28)).sum() / a.sum()
            assert abs(cy - 13.5) < 1 and abs(cx - 13.5) < 1  # centred by mass
    ds = load_path(folder)
    assert ds.classes == sorted(SHAPES) and len(ds.train_y) + len(ds.test_y) == 30
    assert not list(tmp_path.glob(".*"))  # no partial folder left beside it


def test_a_light_photo_is_inverted_like_a_drawing(tmp_path):
    strokes = shape_strokes("cross", random.Random(3))
    dark = Image.open(io.BytesIO(render_png(strokes)))
    buf = io.BytesIO()
    Image.fromarray(255 - np.asarray(dark)).convert("RGB").save(buf, "JPEG", quality=95)  # dark ink on paper
    a = drawings.prepare_drawing(buf.getvalue(), "photo")
    b = drawings.prepare_drawing(render_png(strokes), "drawing")
    assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).mean() < 12


@pytest.mark.parametrize(
    ("names", "words"),
    [
        (["one"], ["2 to 10 classes, got 1"]),
        ([f"c{i}" for i in range(11)], ["2 to 10 classes, got 11"]),
        (["circle", " "], ["has no name"]),
        (["circle", "x" * 25], ["too long", "24 characters"]),
        (["circle", "a/b"], ["cannot be a folder name"]),
        (["circle", ".hidden"], ["cannot be a folder name"]),
        (["circle", "tab\there"], ["cannot be a folder name"]),
        (["Circle", "circle "], ["both called"]),
    ],
)
def test_class_names_are_checked(names, words):
    with pytest.raises(DrawingsError) as e:
        check_names(names)
    assert all(w in str(e.value) for w in words), e.value


def test_names_are_text_of_any_script():
    assert check_names([" 圆 ", "&amp; x's", "triángulo"]) == ["圆", "&amp; x's", "triángulo"]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda c: c[0][1].pop(), ["'circle' has 9 drawing(s)", "10 to 50"]),
        (lambda c: c[1][1].extend(c[1][1][:1] * 41), ["'cross' has 51", "10 to 50"]),
        (lambda c: c[2][1].__setitem__(4, render_png([])), ["'triangle', drawing 5 is empty"]),
        (lambda c: c[2][1].__setitem__(0, b"\x89PNG" + b"0" * drawings.MAX_IMAGE_BYTES), ["KiB per image"]),
        (lambda c: c[0][1].__setitem__(0, b"not an image"), ["drawing 1"]),
    ],
)
def test_a_refused_drawing_writes_nothing(tmp_path, change, words):
    classes = examples()
    change(classes)
    with pytest.raises(drawings.UserError) as e:
        save_drawings(tmp_path / "d", classes)
    assert all(w in str(e.value) for w in words), e.value
    assert list(tmp_path.iterdir()) == []


def test_the_recipe_is_the_documented_command(tmp_path):
    from convlab.cli import _train_config, build_parser

    command = drawings.__doc__.split("    convlab ", 1)[1].split("\n\n")[0].replace("\\\n", " ").split()
    argv = [str(tmp_path) if a == "FOLDER" else a for a in command]
    cfg, _ = _train_config(build_parser().parse_args(argv))
    assert cfg.to_dict() == drawings.drawings_config(tmp_path).to_dict()
