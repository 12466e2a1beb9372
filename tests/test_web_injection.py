"""Untrusted names stay text: a model whose class names are script payloads (from folder names
and from a shared checkpoint's metadata) is served, predicted with and inspected in a real
headless Chromium; the names show literally and no payload runs."""

import json
import warnings

import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save_file

from conftest import make_images, open_page, playground, shot
from convlab.data import load_dataset
from convlab.train import TrainConfig, fit

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FOLDER_NAMES = [  # legal folder names
    "<img src=x onerror=document.title='PWNED'>",
    "\"><svg onload=document.title='PWNED'>",
    "$x^2$ & <b>bold",
]
SCRIPT = "<script>document.title='PWNED'</script>"  # has a '/', so it can only come from a checkpoint


@pytest.fixture(scope="module")
def hostile_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    x, y = make_images(90, 3, seed=5)
    for c, name in enumerate(FOLDER_NAMES):
        (root / "data" / name).mkdir(parents=True)
        for i in torch.nonzero(y == c).flatten().tolist():
            Image.fromarray(x[i, 0].numpy()).save(root / "data" / name / f"{i}.png")
    ds = load_dataset(data=root / "data")
    assert sorted(ds.classes) == sorted(FOLDER_NAMES)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(TrainConfig(data=str(root / "data"), epochs=1, batch_size=16), out=root / "run", progress=False,
            log=lambda *a: None)  # fmt: skip
    layout = [str(w.message) for w in caught if "layout" in str(w.message) or "Glyph" in str(w.message)]
    assert layout == [], layout  # the confusion matrix with these names still renders
    assert (root / "run" / "confusion.png").stat().st_size > 0
    # a shared checkpoint whose metadata says something worse
    with safe_open(str(root / "run" / "model.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["convlab"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta["classes"][ds.classes.index(FOLDER_NAMES[2])] = SCRIPT
    save_file(tensors, root / "shared.safetensors", metadata={"convlab": json.dumps(meta)})
    return root / "shared.safetensors", meta["classes"]


def test_class_names_are_shown_literally_and_never_run(browser, hostile_checkpoint):
    path, classes = hostile_checkpoint
    with playground("--checkpoint", path) as url:
        page = open_page(browser, url)
        console = []
        page.on("console", lambda m: console.append(m.text))
        box = page.locator("#draw").bounding_box()
        page.mouse.move(box["x"] + 60, box["y"] + 140)
        page.mouse.down()
        page.mouse.move(box["x"] + 220, box["y"] + 140, steps=8)
        page.mouse.up()
        page.wait_for_function("document.querySelectorAll('#probs .bar').length === 3")
        page.wait_for_timeout(300)  # let any payload that got in fire
        shown = page.locator("#probs .name").all_inner_texts()
        assert sorted(shown) == sorted(classes)  # literally, '<', '>' and quotes included
        assert page.title() == "convlab playground"  # no payload changed it
        injected = page.evaluate("document.querySelectorAll('#probs img, #probs svg, #probs script, #probs b').length")
        assert injected == 0
        assert page.locator("#prediction").inner_text() in classes
        assert "Conv2d" in page.locator("#summary").inner_text()
        shot(page, "playground-hostile-names")
        assert page.errors == [], page.errors
        page.context.close()
