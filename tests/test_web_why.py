"""Why and where it fails, in a real browser: the attribution overlay follows the drawing, the
method and the class asked about; a channel shows the test crops that excite it; the mistakes tab
opens a confusion cell whose images, clicked, are predicted as the cell says."""

import pytest

from conftest import open_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
READY = "document.querySelectorAll('#probs .bar').length === 10"


@pytest.fixture
def server(fashion_playground):
    return fashion_playground


@pytest.fixture
def page(browser, server):
    pg = open_page(browser, server, ready=READY)
    yield pg
    assert pg.errors == [], pg.errors
    pg.context.close()


def overlay(pg):
    """The overlay canvas's pixels and how much of it is painted."""
    return pg.evaluate(
        """() => { const c = document.querySelector('#why-overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0; for (let i = 3; i < d.length; i += 4) painted += d[i] > 0;
        return { url: c.toDataURL(), painted: painted / (d.length / 4) }; }"""
    )


def answered(pg, method, target=None):
    cond = f"document.querySelector('#why-note').dataset.method === '{method}'"
    if target is not None:
        cond += f" && document.querySelector('#why-note').dataset.target === '{target}'"
    pg.wait_for_function(cond)


def draw_bar(page, x0, y0, x1, y1):
    box = page.locator("#draw").bounding_box()
    page.mouse.move(box["x"] + x0, box["y"] + y0)
    page.mouse.down()
    page.mouse.move(box["x"] + x1, box["y"] + y1, steps=10)
    page.mouse.up()


def test_overlay_follows_method_class_and_drawing(page):
    draw_bar(page, 140, 40, 140, 250)  # a fixed drawing: the test is the same every time
    page.wait_for_function("document.querySelector('#prediction').textContent !== '–'")
    assert overlay(page)["painted"] == 0  # "none" until asked
    page.select_option("#overlay", "gradcam")
    answered(page, "gradcam")
    predicted = page.locator("#probs .bar.top").get_attribute("data-index")
    assert page.locator("#why-note").get_attribute("data-target") == predicted
    cam = overlay(page)
    assert cam["painted"] > 0.05
    shot(page, "playground-why-gradcam")

    page.select_option("#overlay", "saliency")
    answered(page, "saliency")
    assert overlay(page)["url"] != cam["url"]

    other = "0" if predicted != "0" else "1"  # "why not this class?": click its bar
    page.click(f"#probs .bar[data-index='{other}']")
    answered(page, "saliency", other)
    assert page.locator(f"#probs .bar[data-index='{other}']").get_attribute("class").split().count("target") == 1
    page.click(f"#probs .bar[data-index='{other}']")  # a second click: back to the prediction
    answered(page, "saliency", predicted)

    before = overlay(page)["url"]
    draw_bar(page, 20, 20, 260, 260)
    page.wait_for_function(
        f"document.querySelector('#why-overlay').toDataURL() !== {before!r}"
    )  # a new drawing, a new map
    page.select_option("#overlay", "none")
    page.wait_for_function("document.querySelector('#why-note').textContent === ''")
    assert overlay(page)["painted"] == 0


def test_a_channel_shows_what_it_looks_for(page):
    page.locator(".layer canvas[data-layer='0'][data-channel='3']").click(position={"x": 4, "y": 4})
    page.click("#unit-channel")  # the unit's box, beside it, offers its channel
    page.wait_for_function("!document.querySelector('#filter-panel').hidden")
    assert page.locator("#filter-panel").get_attribute("data-channel") == "3"
    assert page.locator("#filter-crops img").count() == 8
    page.wait_for_function("document.querySelector('#filter-made').naturalWidth > 0")
    shot(page, "playground-filter")
    version = page.locator("#prediction").get_attribute("data-version")
    page.locator("#filter-crops img").first.click()  # the whole test image it came from
    page.wait_for_function(f"document.querySelector('#prediction').dataset.version !== '{version}'")


def test_mistakes_tab_opens_the_most_confused_pair(page):
    page.click("#tab-mistakes")
    page.wait_for_function("document.querySelectorAll('#cell-images figure').length > 0", timeout=60_000)
    assert page.locator("#confusion button").count() == 100
    active = page.locator("#confusion button.active")
    t, p = int(active.get_attribute("data-t")), int(active.get_attribute("data-p"))
    assert t != p and int(active.inner_text()) > 0
    counts = [int(b) for b in page.locator("#confusion button").all_inner_texts()]
    off = [c for i, c in enumerate(counts) if i // 10 != i % 10]
    assert int(active.inner_text()) == max(off)
    assert sum(counts) == 10000
    shot(page, "playground-mistakes")
    classes = page.locator("#confusion th[title]").evaluate_all("ths => ths.map(th => th.title)")[:10]
    version = page.locator("#prediction").get_attribute("data-version")
    page.locator("#cell-images figure").first.click()  # back to "look inside" with that image
    page.wait_for_function(f"document.querySelector('#prediction').dataset.version !== '{version}'")
    assert page.locator("#panel-inside").is_visible() and not page.locator("#panel-mistakes").is_visible()
    assert page.locator("#prediction").inner_text() == classes[p]
