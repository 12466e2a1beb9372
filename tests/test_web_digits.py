"""Drawing that gets recognised: the playground opens on the digit model, and digits drawn with
the mouse along strokes traced from real held-out digits are read correctly."""

import json

import pytest
import torch
from helpers.strokes import digit_strokes

from conftest import ARTIFACTS, open_page, playground, shot
from convlab.data import load_dataset
from convlab.data.sources import locate

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ANSWERED = "document.querySelector('#prediction').dataset.version === String(version)"


@pytest.fixture(scope="module")
def digits():
    if locate("digits") is None:
        pytest.skip("digits.png not installed (bash scripts/setup.sh)")
    return load_dataset("digits", progress=False)


@pytest.fixture(scope="module")
def server():
    with playground() as url:  # no --checkpoint: the playground's own default
        yield url


def draw(page, strokes, box, scale):
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.down()
        for x, y in stroke[1:] or stroke:
            page.mouse.move(box["x"] + x * scale, box["y"] + y * scale)
        page.mouse.up()
    page.wait_for_function(ANSWERED)


def test_opens_on_the_digit_model_and_asks_for_a_digit(browser, server, digits):
    page = open_page(browser, server, ready=ANSWERED)
    assert page.locator("#model").input_value() == "lenet-modern-digits"
    names = page.locator("#model option").evaluate_all("options => options.map(o => o.value)")
    assert {"lenet-digits", "lenet-modern-digits", "lenet-fashion-mnist", "lenet-modern-fashion-mnist"} <= set(names)
    assert page.locator("#empty").is_visible() and page.locator("#prediction").inner_text() == "–"
    shot(page, "playground-digits-empty")
    page.select_option("#model", "lenet-modern-fashion-mnist")  # a clothes model predicts even a blank canvas,
    page.wait_for_function("document.querySelectorAll('#probs .bar').length === 10")
    assert "means nothing" in page.locator("#empty").inner_text()  # saying that it means nothing
    page.select_option("#model", "lenet-modern-digits")
    page.wait_for_function("document.querySelector('#empty').dataset.i18n === 'drawDigit'")
    assert page.locator("#empty").is_visible() and page.locator("#prediction").inner_text() == "–"
    assert page.errors == []
    page.context.close()


def test_digits_drawn_along_real_strokes_are_recognised(browser, server, digits):
    """10 held-out digits of each class, skeletonised into polylines and drawn with the mouse."""
    idx = torch.cat([torch.nonzero(digits.test_y == c).flatten()[:10] for c in range(10)])
    page = open_page(browser, server, ready=ANSWERED)
    box = page.locator("#draw").bounding_box()
    scale = box["width"] / 28
    results = []
    for i in idx.tolist():
        page.click("#clear")
        draw(page, digit_strokes(digits.test_x[i, 0].numpy()), box, scale)
        results.append((int(digits.test_y[i]), page.locator("#prediction").inner_text()))
        if len(results) == 34:
            shot(page, "playground-digit-drawn")
    correct = sum(str(truth) == predicted for truth, predicted in results)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "drawn-digits.json").write_text(
        json.dumps({"correct": correct, "of": len(results), "results": results})
    )
    assert page.locator("#steps").inner_text().endswith("centred by mass in 28×28")
    assert page.errors == []
    page.context.close()
    assert correct >= 90, results
