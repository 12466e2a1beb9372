"""Every command that writes a file the user names keeps an existing one unless told `--force`:
refused in one line naming the file and `--force` (exit 2, nothing written, the old bytes intact),
then replaced by a real PNG (Pillow reads it) when `--force` is given (for the quick ones)."""

import numpy as np
import pytest
from PIL import Image

from conftest import assert_user_error, run_here

CK = "lenet-modern-fashion-mnist"
OLD = b"the user's own file"

# command (with {img} and {out}, a folder) -> the file it writes under {out}
CASES = {
    "demo image": (["demo", "image", "{img}", "--out", "{out}/picture.png"], "picture.png"),
    "datasets show": (["datasets", "show", "fashion-mnist", "--per-class", "1", "--out", "{out}/grid.png"], "grid.png"),
    "eval": (["eval", "--checkpoint", CK, "--out", "{out}/confusion.png"], "confusion.png"),
    "why": (["why", "{img}", "--checkpoint", CK, "--method", "saliency", "--out", "{out}"], "000-bar.png"),
    "visualize": (["visualize", "{img}", "--checkpoint", CK, "--out", "{out}"], "input.png"),
    "filter": (
        ["filter", "--checkpoint", CK, "--layer", "0", "--channel", "0", "--steps", "2", "--out", "{out}"],
        "filter-layer0-channel0.png",
    ),
    "mistakes": (["mistakes", "--checkpoint", CK, "--pairs", "1", "--out", "{out}"], "confusion.png"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_existing_output_is_kept_unless_force(case, tmp_path, fashion_dir):
    img = tmp_path / "bar.png"
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 11:17] = 255
    Image.fromarray(a).save(img)
    out = tmp_path / "out"
    out.mkdir()
    (out / CASES[case][1]).write_bytes(OLD)
    args = [a.format(img=img, out=out) for a in CASES[case][0]]
    assert_user_error(run_here(*args), "--force", CASES[case][1], "already exists")
    assert (out / CASES[case][1]).read_bytes() == OLD
    assert [p.name for p in out.iterdir()] == [CASES[case][1]]  # nothing else written either
    if case in ("eval", "filter", "mistakes"):
        return  # (each scores the whole test set: their writing is tested in test_cli_why and test_cli_train)
    r = run_here(*args, "--force")
    assert r.returncode == 0, r.stderr
    with Image.open(out / CASES[case][1]) as im:
        assert im.format == "PNG" and min(im.size) > 20


@pytest.mark.parametrize("case", ["demo image", "datasets show", "eval"])
def test_an_output_file_is_checked_before_any_work(case, tmp_path, fashion_dir):
    """--out FILE in a folder that does not exist, --out naming a folder (even with --force), and a
    name that is not .png: one line each, before the command reads anything, and nothing made."""
    img = tmp_path / "bar.png"
    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(img)
    folder = tmp_path / "out"
    folder.mkdir()
    args = [a.format(img=img, out=folder) for a in CASES[case][0]]
    at = args.index("--out") + 1
    for out, extra, words in (
        (tmp_path / "missing" / "x.png", [], ("folder", "missing", "does not exist")),
        (folder, ["--force"], ("is a folder", "--out names the file")),
        (folder / "x.json", [], ("name ending in .png",)),
    ):
        assert_user_error(run_here(*args[:at], out, *args[at + 1 :], *extra), *words)
    assert not (tmp_path / "missing").exists() and list(folder.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["demo", "image", "x.png", "--max-size", "0"], "--max-size"),
        (["demo", "image", "x.png", "--max-size", "-5"], "--max-size"),
        (["demo", "edge", "--epochs", "-1"], "--epochs"),
        (["demo", "edge", "--lr", "nan"], "--lr"),
        (["datasets", "show", "digits", "--per-class", "0", "--out", "g.png"], "--per-class"),
        (["datasets", "show", "digits", "--per-class", "100000", "--out", "g.png"], "--per-class"),
        (["predict", "x.png", "--top-k", "0"], "--top-k"),
        (["mistakes", "--pairs", "-3", "--out", "m"], "--pairs"),
        (["mistakes", "--per-pair", "0", "--out", "m"], "--per-pair"),
    ],
)
def test_counts_out_of_range_are_one_line(args, flag, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run_here(*args), flag, "out of range")
    assert list(tmp_path.iterdir()) == []
