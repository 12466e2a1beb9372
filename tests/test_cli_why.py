"""`convlab why`, `filter` and `mistakes` from the command line, each checked against another
path to the same answer: `predict`, the model's own activations taken with a hook here, and
`eval`'s confusion matrix."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from convlab import cli

CK = "lenet-modern-fashion-mnist"


def bar_image(path):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 11:17] = 255
    Image.fromarray(a).save(path)
    return path


def run_here(capsys, *args) -> tuple[int, str, str]:
    """The command in this process (the model loads once for all of them): exit code, stdout, stderr."""
    code = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err.strip()


def test_why_explains_the_predicted_class_and_writes_one_labelled_png(capsys, tmp_path):
    img = bar_image(tmp_path / "bar.png")
    code, out, err = run_here(capsys, "why", img, "--checkpoint", CK, "--method", "saliency,gradcam",
                              "--out", tmp_path / "why", "--json")  # fmt: skip
    assert code == 0, err
    (row,) = json.loads(out)
    code, out, err = run_here(capsys, "predict", img, "--checkpoint", CK, "--json")
    assert row["prediction"] == json.loads(out)[0]["prediction"]
    assert set(row["notes"]) == {"saliency", "gradcam"}
    with Image.open(row["file"]) as im:
        assert im.size[0] > 200 and np.asarray(im.convert("L")).std() > 10


def test_why_notes_belong_to_their_own_image(capsys, tmp_path):
    """A blank image's Grad-CAM map is empty, a bar's is not: explained together, each image's notes
    are the ones it gets when explained alone (on the page, too: one image at a time)."""
    bar = bar_image(tmp_path / "bar.png")
    blank = tmp_path / "blank.png"
    Image.fromarray(np.zeros((28, 28), dtype=np.uint8)).save(blank)
    notes = {}
    for images in ([bar], [blank], [bar, blank]):
        code, out, err = run_here(capsys, "why", *images, "--checkpoint", CK, "--method", "gradcam",
                                  "--out", tmp_path / f"why{len(notes)}", "--json")  # fmt: skip
        assert code == 0, err
        notes[len(notes)] = [row["notes"]["gradcam"] for row in json.loads(out)]
    (bar_alone,), (blank_alone,), together = notes[0], notes[1], notes[2]
    assert "This map is empty" in blank_alone and "empty" not in bar_alone
    assert together == [bar_alone, blank_alone]
    code, out, err = run_here(capsys, "why", bar, blank, "--checkpoint", CK, "--method", "gradcam",
                              "--out", tmp_path / "why")  # fmt: skip
    lines = out.splitlines()  # the text: each image's notes under it
    assert "empty" not in lines[1] and "This map is empty" in lines[3], out


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("why", "{img}", "--method", "magic"), "attribution method"),
        (("why", "{img}", "--out", "{taken}"), "cannot create"),
        (("why", "{img}", "--method", "occlusion", "--window", "40"), "window"),
        (("filter", "--layer", "99", "--channel", "0"), "layers 0.."),
    ],
)
def test_why_filter_and_mistakes_refuse_bad_input_in_one_line(capsys, tmp_path, args, words):
    img = bar_image(tmp_path / "bar.png")
    (tmp_path / "taken").write_text("keep me")
    args = [a.format(img=img, taken=tmp_path / "taken") for a in args]
    code, _, err = run_here(capsys, *args, "--checkpoint", CK)
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith("convlab: error:") and words in err.lower(), err
    assert (tmp_path / "taken").read_text() == "keep me"


@pytest.mark.slow
def test_filter_names_the_test_images_the_channel_answers_most(fashion_dir, cli, tmp_path):
    from convlab.checkpoint import load_checkpoint
    from convlab.data import load_dataset
    from convlab.data.loader import normalize

    r = cli("filter", "--checkpoint", CK, "--layer", "0", "--channel", "2", "--top", "3", "--steps", "8",
            "--out", tmp_path, "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    ck = load_checkpoint(CK)
    conv = next(m for m in ck.model.modules() if isinstance(m, torch.nn.Conv2d))  # layer 0
    ds = load_dataset("fashion-mnist", progress=False)
    with torch.no_grad():
        best = conv(normalize(ds.test_x, ck.mean, ck.std))[:, 2].amax((1, 2))  # (N,) each image's strongest unit
    top = best.topk(3)
    assert [t["index"] for t in out["top"]] == top.indices.tolist()
    assert [t["activation"] for t in out["top"]] == pytest.approx(top.values.tolist(), rel=1e-4)
    assert (tmp_path / "filter-layer0-channel2.png").is_file()


@pytest.mark.slow
def test_mistakes_agree_with_eval_and_write_their_grids(fashion_dir, cli, tmp_path):
    r = cli("mistakes", "--checkpoint", CK, "--pairs", "2", "--per-pair", "3", "--out", tmp_path / "m", "--json")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    ev = json.loads(cli("eval", "--checkpoint", CK, "--json").stdout)
    assert m["confusion"] == ev["confusion"] and m["accuracy"] == pytest.approx(ev["accuracy"])
    c = np.array(m["confusion"])
    np.fill_diagonal(c, 0)
    assert [p["count"] for p in m["pairs"]] == sorted(c.flatten().tolist(), reverse=True)[:2]
    assert all(len(p["examples"]) == 3 and (tmp_path / "m" / p["file"].split("/")[-1]).is_file() for p in m["pairs"])
    assert (tmp_path / "m" / "confusion.png").is_file()
