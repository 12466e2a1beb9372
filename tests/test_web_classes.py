"""A class of its own (web/classes.py, classes.js): the API's refusals, and in a real Chromium the
whole lesson on one page load — three classes of simple shapes, ten drawings each drawn with the
mouse along strokes, trained in the Train tab, then new drawings recognised by that network,
whose drawings folder `convlab train --data` trains from again. The training's CPU time is
asserted always, its wall time (≤ 30 s) where the machine is not shared beyond its cores."""

import base64
import json
import os
import random
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
from helpers.shapes import SHAPES, render_png, shape_strokes
from starlette.testclient import TestClient

from conftest import ARTIFACTS, open_page, playground, shot
from convlab.web.app import create_app
from convlab.web.classes import MAX_REQUEST
from convlab.web.models import Models

ANSWERED = "document.querySelector('#prediction').dataset.version === String(version)"


def body(n=10, kinds=SHAPES):
    rng = random.Random(0)
    url = lambda png: "data:image/png;base64," + base64.b64encode(png).decode()  # noqa: E731
    return {
        "classes": [{"name": k, "images": [url(render_png(shape_strokes(k, rng))) for _ in range(n)]} for k in kinds]
    }


@pytest.fixture(scope="module")
def nine():
    return body(9)


@pytest.mark.parametrize(
    ("allow", "send", "status", "words"),
    [
        (False, {"json": {"classes": []}}, 403, ["--allow-training"]),
        (True, {"content": b"{}", "headers": {"content-length": str(MAX_REQUEST + 1)}}, 413, ["limit 12 MiB"]),
        (True, {"json": {"classes": "circle"}}, 400, ["'classes' must be a list"]),
        (True, {"json": {"classes": [{"name": "a", "images": []}] * 11}}, 400, ["at most 10 classes"]),
        (True, {"json": {"classes": [{"name": 3, "images": []}] * 2}}, 400, ["'name' (text)"]),
        (True, "nine", 400, ["has 9 drawing(s)", "10 to 50"]),
    ],
)
def test_refusals_say_what_is_wrong_and_write_nothing(tmp_path, nine, allow, send, status, words):
    app = create_app(Models(), runs=tmp_path / "runs", allow_training=allow)
    send = {"json": nine} if send == "nine" else send
    r = TestClient(app).post("/api/classes/train", **send)
    assert r.status_code == status and all(w in r.json()["error"] for w in words), r.text
    assert not (tmp_path / "runs").exists() or list((tmp_path / "runs").iterdir()) == []
    assert app.state.training.job is None


def test_drawings_wait_while_another_training_runs(tmp_path):
    import subprocess
    import sys

    from convlab.web.training import Job

    app = create_app(Models(), runs=tmp_path / "runs", allow_training=True)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    app.state.training.job = Job(tmp_path / "runs" / "playground-lenet-digits-1", proc, {})
    try:
        r = TestClient(app).post("/api/classes/train", json=body(10))
    finally:
        proc.kill()
        proc.wait()
    assert r.status_code == 409 and "already running (playground-lenet-digits-1)" in r.json()["error"], r.text
    assert not (tmp_path / "runs").exists()


# --- the lesson in a browser ------------------------------------------------------------------


def draw(page, strokes, target="#cl-pad"):
    page.locator(target).scroll_into_view_if_needed()
    box = page.locator(target).bounding_box()  # measured each time: the page may have moved
    scale = box["width"] / 280
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.up()


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), or None once it has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.slow
@pytest.mark.browser
def test_a_class_of_its_own_is_drawn_trained_and_recognises_new_drawings(browser, tmp_path):
    rng = random.Random(29)
    with playground("--runs", tmp_path / "runs") as url:
        page = open_page(browser, url, ready=ANSWERED)
        page.click("#tab-train")
        t_start = time.perf_counter()
        page.click("#cl-add-class")
        for i, kind in enumerate(SHAPES):
            page.locator(".cl-name").nth(i).fill(kind)
            page.locator("input[name=cl-pick]").nth(i).check()
            for _ in range(10):
                draw(page, shape_strokes(kind, rng))
                page.click("#cl-add")
        assert page.locator(".cl-class").evaluate_all("rows => rows.map((r) => r.dataset.count)") == ["10"] * 3
        page.locator(".cl-class[data-index='1'] .cl-example").nth(4).click()  # remove one, draw it again
        assert page.locator(".cl-class[data-index='1']").get_attribute("data-count") == "9"
        page.locator("input[name=cl-pick]").nth(1).check()
        draw(page, shape_strokes("cross", rng))
        page.click("#cl-add")
        shot(page, "classes-drawn")

        t0 = t_train = time.perf_counter()
        page.click("#cl-train")
        page.wait_for_function("document.querySelector('#cl-state').dataset.state === 'running'")
        status = json.load(urllib.request.urlopen(url + "/api/train"))
        cpu = 0.0
        while (c := cpu_seconds(status["pid"])) is not None:  # until the training process ends
            cpu = c
            time.sleep(0.1)
        page.wait_for_function(
            "['finished', 'failed', 'stopped', 'killed'].includes(document.querySelector('#cl-state').dataset.state)"
        )
        wall = time.perf_counter() - t0
        model = page.locator("#cl-state").get_attribute("data-model")
        assert model == status["run"], page.locator("#cl-state").inner_text()
        assert page.locator("#model").input_value() == model  # the page's model now
        shot(page, "classes-trained")
        # the Train tab shows the settings that trained it (data.drawings.drawings_config), not its defaults
        assert [page.locator(f"#tr-{k}").input_value() for k in ("dataset", "model", "epochs")] == [
            "drawings",
            "lenet-modern",
            "20",
        ]

        page.click("#cl-look")
        page.wait_for_function(
            "document.querySelectorAll('#kernels canvas').length === 6"
        )  # lenet-modern's first layer
        t_drawn = time.perf_counter()
        results = []
        for n in range(30):
            kind = SHAPES[n % 3]
            page.click("#clear")
            draw(page, shape_strokes(kind, rng), "#draw")
            page.wait_for_function(ANSWERED)
            results.append((kind, page.locator("#prediction").inner_text()))
        assert page.locator("#probs .bar").count() == 3  # their classes
        print(f"drawing {t_train - t_start:.0f} s, 30 predictions {time.perf_counter() - t_drawn:.0f} s")
        page.select_option("#overlay", "occlusion")
        page.wait_for_function("document.querySelector('#why-note').textContent.length > 0")
        shot(page, "classes-recognised")
        page.click("#clear")  # an empty canvas: it asks for one of its classes, not a digit
        page.wait_for_function("document.querySelector('#empty').dataset.i18n === 'drawClass'")
        # its held-out drawings: a random one with its true label, and the Mistakes tab's 3×3 matrix
        page.click("#random")
        page.wait_for_function("!document.querySelector('#truth').hidden")
        assert any(k in page.locator("#truth").inner_text() for k in SHAPES)
        page.click("#tab-mistakes")
        page.wait_for_function("document.querySelectorAll('#confusion td button').length === 9")
        assert page.locator("#error").is_hidden(), page.locator("#error").inner_text()
        assert page.errors == []
        page.context.close()

    correct = sum(kind == predicted for kind, predicted in results)
    ARTIFACTS.mkdir(exist_ok=True)
    measured = {"train_wall_s": round(wall, 1), "train_cpu_s": round(cpu, 1), "correct": correct, "of": 30}
    (ARTIFACTS / "classes.json").write_text(json.dumps({**measured, "results": results}))
    print(measured)
    assert correct >= 27, results
    assert cpu <= 20, measured  # the work itself: one thread, so an idle machine's wall time is about this
    if os.getloadavg()[0] <= os.cpu_count():  # (a machine shared beyond its cores stretches every wall time)
        assert wall <= 30, measured

    # The drawings are an ordinary image folder inside the run, and `convlab train --data` trains on it.
    folder = tmp_path / "runs" / model / "drawings"
    for kind in SHAPES:
        files = sorted((folder / kind).glob("*.png"))
        assert len(files) == 10 and all(Image.open(f).size == (28, 28) for f in files)
        assert np.asarray(Image.open(files[0])).max() == 255
    from convlab.checkpoint import load_checkpoint, resolve
    from convlab.cli import main

    out = tmp_path / "again"
    assert main(["train", "--data", str(folder), "--model", "lenet-modern", "--input-style", "mnist",
                 "--epochs", "1", "--batch-size", "8", "--out", str(out)]) == 0  # fmt: skip
    again, mine = load_checkpoint(resolve(out)), load_checkpoint(resolve(tmp_path / "runs" / model))
    assert again.classes == mine.classes == sorted(SHAPES)
    assert again.meta.input_style == mine.meta.input_style == "mnist"


# --- after the training: its held-out drawings, its empty canvas, its settings ------------------


@pytest.fixture(scope="module")
def drawn_run(tmp_path_factory):
    """A class of its own as the playground keeps it: RUN/drawings (three shapes, ten each) and the
    run trained on that folder (one epoch: what it learned does not matter here)."""
    from convlab.cli import main
    from convlab.data.drawings import save_drawings

    run = tmp_path_factory.mktemp("classes") / "playground-classes-1"
    rng = random.Random(0)
    save_drawings(run / "drawings", [(k, [render_png(shape_strokes(k, rng)) for _ in range(10)]) for k in SHAPES])
    data = str((run / "drawings").resolve())
    args = ["--model", "lenet-modern", "--input-style", "mnist", "--epochs", "1", "--batch-size", "8", "--quiet"]
    assert main(["train", "--data", data, *args, "--out", str(run), "--force"]) == 0
    return run


def drawing_files(run):
    """{class: [(28, 28) uint8 arrays of its drawings]}, read from the folder with Pillow."""
    return {k: [np.asarray(Image.open(f)) for f in sorted((run / "drawings" / k).glob("*.png"))] for k in SHAPES}


def pixels(data_url):
    import io

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_a_class_of_its_own_shows_its_held_out_drawings(drawn_run):
    import torch

    from convlab.checkpoint import load_checkpoint, resolve

    ck = load_checkpoint(resolve(drawn_run))
    client = TestClient(create_app(Models(ck)))
    files = drawing_files(drawn_run)
    for _ in range(3):  # a random test image: one of the drawings of the class it is labelled with
        s = client.get("/api/sample").json()
        assert any(np.array_equal(pixels(s["image"]), f) for f in files[s["label"]]), s["label"]
    m = client.get("/api/mistakes").json()
    assert m["classes"] == sorted(SHAPES) and 0 < m["n"] < 30
    seen = 0
    for t in range(3):
        for p in range(3):
            cell = client.get(f"/api/mistakes/cell?true={t}&predicted={p}").json()
            for im in cell["images"]:  # a drawing of class t that the network itself (run here) calls p
                x = pixels(im["image"])
                assert any(np.array_equal(x, f) for f in files[SHAPES[t]])
                xt = (torch.tensor(x, dtype=torch.float32)[None, None] / 255 - ck.mean) / ck.std
                with torch.no_grad():
                    assert int(ck.model(xt).argmax()) == p
            seen += cell["count"]
    assert seen == m["n"] == sum(map(sum, m["confusion"]))


def test_without_its_drawings_it_says_why_and_its_empty_canvas_asks_for_a_drawing(drawn_run, tmp_path):
    from convlab.checkpoint import load_checkpoint

    copy = tmp_path / "elsewhere.safetensors"  # the checkpoint alone: its drawings not beside it
    copy.write_bytes((drawn_run / "model.safetensors").read_bytes())
    client = TestClient(create_app(Models(load_checkpoint(copy))))
    for path in ("/api/sample", "/api/mistakes"):
        r = client.get(path)
        assert r.status_code == 404 and "not kept beside it" in r.json()["error"], r.text
        zh = client.get(path, headers={"Accept-Language": "zh"}).json()["error"]
        assert zh.startswith("这个模型学习的是它自己的数据（drawings）"), zh
    black = "data:image/png;base64," + base64.b64encode(render_black()).decode()
    assert client.get("/api/info").json()["reads_digits"] is False
    r = client.post("/api/predict", json={"image": black})
    assert r.status_code == 422 and r.json()["error"] == (
        "nothing drawn: the image has no ink (draw one of the model's classes)"
    )
    r = client.post("/api/predict?model=lenet-digits", json={"image": black})  # a digit model asks for a digit
    assert r.status_code == 422 and r.json()["error"].startswith("no digit found")


def render_black() -> bytes:
    import io

    buf = io.BytesIO()
    Image.new("L", (280, 280)).save(buf, format="PNG")
    return buf.getvalue()


def test_the_train_form_of_a_class_training_is_its_settings(tmp_path, monkeypatch):
    """The job's form (what the Train tab fills in) is what trains: `drawings_config`'s documented
    recipe (lenet-modern, 20 epochs), not the tab's defaults."""
    from convlab.web.training import Training

    launched = {}
    monkeypatch.setattr(Training, "launch", lambda self, run_dir, spec: launched.update(spec))
    monkeypatch.setattr(Training, "status", lambda self, *a, **k: {"state": "preparing"})
    r = TestClient(create_app(Models(), runs=tmp_path / "runs", allow_training=True)).post(
        "/api/classes/train", json=body(10)
    )
    assert r.status_code == 200, r.text
    form, config = launched["form"], launched["config"]
    assert form == {"dataset": "drawings", "model": "lenet-modern", "epochs": 20, "lr": config["lr"],
                    "max_train": 0, "probe": 0}  # fmt: skip
