"""The playground end to end in a real headless Chromium driven by Playwright.

Screenshots are saved to artifacts/ (or $CONVLAB_ARTIFACTS) for a person to look at.
"""

import numpy as np
import pytest
from PIL import Image

from conftest import open_page, playground, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def server():
    with playground("--checkpoint", "lenet-modern-fashion-mnist") as url:  # draws anything, not only digits
        yield url


@pytest.fixture
def page(browser, server):
    pg = open_page(browser, server)
    yield pg
    assert pg.errors == [], pg.errors
    pg.context.close()


def layer0_pixels(pg):
    return pg.evaluate("document.querySelector('#layers canvas').toDataURL()")


def test_draw_a_stroke_updates_prediction_and_maps(page):
    before = layer0_pixels(page)
    box = page.locator("#draw").bounding_box()
    page.mouse.move(box["x"] + 140, box["y"] + 40)
    page.mouse.down()
    for y in range(40, 250, 15):
        page.mouse.move(box["x"] + 140, box["y"] + y)
    page.mouse.up()
    page.wait_for_function(f"document.querySelector('#layers canvas').toDataURL() !== {before!r}")
    assert page.locator("#prediction").inner_text() != "–"
    assert page.locator("#probs .bar").count() == 10
    shot(page, "playground-drawn")
    page.click("#undo")
    page.wait_for_function(f"document.querySelector('#layers canvas').toDataURL() === {before!r}")


def test_upload_an_image(page, tmp_path):
    a = np.full((60, 60), 255, dtype=np.uint8)
    a[10:50, 25:35] = 0  # a dark bar on white: must be inverted
    Image.fromarray(a).save(tmp_path / "light.png")
    page.set_input_files("#upload", str(tmp_path / "light.png"))
    page.wait_for_function("document.querySelector('#steps').textContent.startsWith('inverted')")
    shot(page, "playground-upload")


def test_click_a_unit_shows_its_receptive_field(page):
    canvas = page.locator(".layer canvas[data-layer='7']").first  # after the second max pool
    canvas.click(position={"x": 2, "y": 2})
    page.wait_for_function("document.querySelector('#rf-box').dataset.rows !== undefined")
    assert page.locator("#rf-box").get_attribute("data-rows") == "0,13"
    overlay = page.evaluate("""(() => { const c = document.querySelector('#rf-overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()""")
    assert overlay > 1000  # a 14×14 of 28×28 region drawn on the 168-pixel overlay
    shot(page, "playground-receptive-field")


def test_explorer_controls_change_output_and_arithmetic(page):
    page.click("#tab-explore")
    page.wait_for_selector("#ex-output td")
    assert page.locator("#ex-output td").count() == 4
    page.hover("#ex-output td[data-r='0'][data-c='0']")
    assert "0×0 + 1×1 + 3×2 + 4×3 = 19" in page.locator("#ex-arith").inner_text()
    assert page.locator("#ex-padded td.win").count() == 4
    page.fill("#ex-padding", "1")
    page.fill("#ex-stride", "2")
    page.wait_for_function("document.querySelector('#ex-formula').textContent.includes('2·1')")
    assert "⌊(3 + 2·1 − 2) / 2⌋ + 1 = 2" in page.locator("#ex-formula").inner_text()
    page.hover("#ex-output td[data-r='1'][data-c='1']")
    assert "4×0 + 5×1 + 7×2 + 8×3 = 43" in page.locator("#ex-arith").inner_text()
    page.fill("#ex-stride", "3")  # 3 does not divide 5-2: floor, like PyTorch
    page.wait_for_function("document.querySelector('#ex-formula').textContent.includes('/ 3')")
    assert page.locator("#ex-output td").count() == 4
    page.select_option("#ex-mode", "max")
    page.fill("#ex-padding", "0")
    page.fill("#ex-stride", "1")
    page.wait_for_function(
        "document.querySelector('#ex-arith').textContent === '' && "
        "document.querySelectorAll('#ex-output td').length === 4"
    )
    page.hover("#ex-output td[data-r='0'][data-c='0']")
    assert "max(0, 1, 3, 4) = 4" in page.locator("#ex-arith").inner_text()
    page.fill("#ex-size", "9")
    page.wait_for_selector("#error:not([hidden])")
    assert "larger than the padded input" in page.locator("#error").inner_text()
    shot(page, "playground-explorer")


def test_language_switch_is_remembered(page):
    page.click("#lang")
    assert page.locator("h1").inner_text() == "convlab 演练场"
    page.reload()
    page.wait_for_selector("#layers canvas")
    assert page.locator("h1").inner_text() == "convlab 演练场"
    shot(page, "playground-chinese")
    page.click("#lang")
    assert page.locator("h1").inner_text() == "convlab playground"


def test_true_label_clear_explorer_fields_and_chinese_server_text(page, tmp_path):
    """One page load, several checks: the empty canvas says so; a test image shows its true label and
    Grad-CAM its advice; the explorer hides the fields pooling does not read and clears its output on
    an error; Clear clears; in Chinese the server's text (summary, steps) is Chinese; an upload is
    shown on the canvas as the model sees it."""
    empty = "document.querySelector('#empty')"
    page.wait_for_function(f"!{empty}.hidden && {empty}.textContent.includes('canvas is empty')")
    page.click("#random")
    page.wait_for_selector("#truth:not([hidden])")
    label, prediction = page.locator("#truth").get_attribute("data-label"), page.locator("#prediction").inner_text()
    assert f"True label: {label}" in page.locator("#truth").inner_text()
    assert page.locator("#truth").get_attribute("data-right") == str(label == prediction).lower()
    page.select_option("#overlay", "gradcam")  # a LeNet: its dense head mixes positions
    page.wait_for_selector("#why-advice:not([hidden])")
    assert "Trust occlusion and saliency" in page.locator("#why-advice").inner_text()

    page.click("#tab-explore")
    page.wait_for_selector("#ex-output td")
    page.select_option("#ex-mode", "max")
    assert page.is_hidden("#ex-kernel") and page.is_hidden("#ex-dilation") and page.is_visible("#ex-size")
    page.fill("#ex-size", "9")  # larger than the input: an error, and no output of other numbers
    page.wait_for_selector("#error:not([hidden])")
    assert page.locator("#ex-output td").count() == 0 and page.locator("#ex-formula").inner_text() == ""
    page.fill("#ex-size", "2")
    page.fill("#ex-stride", "")
    page.wait_for_function("document.querySelector('#error').textContent === 'Stride is empty: write a whole number.'")

    page.click("#tab-inside")
    page.click("#clear")  # the error banner, true label, steps and why note go at once
    assert page.is_hidden("#error") and page.is_hidden("#truth") and page.is_hidden("#why-advice")
    assert page.locator("#steps").inner_text() == ""

    page.click("#lang")
    page.wait_for_function("[...document.querySelectorAll('#summary th')].some((th) => th.textContent === '名称')")
    a = np.full((60, 60), 255, dtype=np.uint8)
    a[10:50, 25:35] = 0  # a dark bar on white: inverted, then shown as the model sees it
    Image.fromarray(a).save(tmp_path / "light.png")
    page.set_input_files("#upload", str(tmp_path / "light.png"))
    page.wait_for_function("document.querySelector('#steps').textContent.startsWith('已反色')")
    centre, corner = page.evaluate("""(() => { const c = document.querySelector('#draw').getContext('2d');
        return [c.getImageData(140, 140, 1, 1).data[0], c.getImageData(5, 5, 1, 1).data[0]]; })()""")
    assert centre > 128 and corner < 64  # a light bar on black: the prepared image, not the photo
    shot(page, "playground-chinese-upload")
