"""The playground end to end in a real headless Chromium driven by Playwright.

Screenshots are saved to artifacts/ (or $CONVLAB_ARTIFACTS) for a person to look at.
"""

import itertools

import numpy as np
import pytest
from PIL import Image

from conftest import open_page, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(fashion_playground):
    return fashion_playground


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

    page.click("#tab-inside")  # the explorer's error stays with the explorer
    assert page.is_hidden("#error")
    page.click("#clear")  # the true label, steps and why note go at once
    assert page.is_hidden("#truth") and page.is_hidden("#why-advice")
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
    titles = page.evaluate(
        "[...document.querySelectorAll('#kernels canvas, canvas[data-channel]')].map((c) => c.title)"
    )
    assert (
        titles[0] == "第 0 个卷积核"
        and "第 0 通道" in titles
        and not any("kernel" in t or "channel" in t for t in titles)
    )
    page.click("#tab-explore")  # an error names the field as the page does, in Chinese
    page.fill("#ex-stride", "1")
    page.fill("#ex-size", "9")
    label = page.locator("span[data-i18n=size]").inner_text()  # the page's own word for the window: 窗口
    page.wait_for_function(f"document.querySelector('#error').textContent.startsWith('{label} 9×9 大于')")


# --- every tab on a phone and on a laptop: fits, nothing cut off, every control by keyboard -------

CONTROLS = "button, select, input, textarea, summary, [role=button], [role=tab], .matrix td[tabindex]"
VISIBLE = "(e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== 'hidden'"
# Every element that gets the focus, in order (installed once per page); and how many Tab stops
# the page has now (what a walk through it needs).
LISTEN = "() => { window.stops = []; document.addEventListener('focusin', (e) => window.stops.push(e.target)); }"
TABBABLE = f"""() => [...document.querySelectorAll('{CONTROLS}, [tabindex]')].filter({VISIBLE})
    .filter((e) => e.tabIndex >= 0 && !e.disabled).length"""
# The stops of one walk until focus comes back to the first, marked as reached, where each is.
STOPS = """() => { const seen = window.stops, end = seen.indexOf(seen[0], 1);
  return seen.slice(0, end < 0 ? seen.length : end).map((e) => { e.reached = true; const r = e.getBoundingClientRect();
    return {tag: e.tagName, id: e.id, top: r.top + scrollY, left: r.left, right: r.right, height: r.height}; }); }"""
# Visible controls not reached by Tab: itself (a Tab stop), or a member of its arrow-key group.
UNREACHED = f"""() => [...document.querySelectorAll('{CONTROLS}')].filter({VISIBLE}).filter((e) => !e.disabled)
    .filter((e) => !(e.reached || (e.tabIndex < 0 && [...(e.closest('[role=tablist], table, .grid') || e)
        .querySelectorAll('*')].some((x) => x.reached))))
    // a radio group is one Tab stop (the arrow keys move inside it), as browsers make it
    .filter((e) => !(e.type === 'radio' && [...document.getElementsByName(e.name)].some((x) => x.reached)))
    .map((e) => e.id || e.dataset.channel || e.dataset.kernel || e.outerHTML.slice(0, 60))"""
# Key elements not inside the viewport's width (cut off, or only reachable by scrolling sideways).
CUT = f"""() => [...document.querySelectorAll('{CONTROLS}, #probs .bar, .probs .bar, canvas, pre, h1, h2')]
    .filter({VISIBLE}).filter((e) => {{ const r = e.getBoundingClientRect();
        return r.width > 0 && (r.left < -0.5 || r.right > innerWidth + 0.5); }})
    .map((e) => e.id || e.className || e.tagName)"""
# The header's controls: inside the header (not spilled onto the page), readable (WCAG contrast of
# their text on the header), and the control itself under the centre of its box (a tap lands on it).
HEADER = """() => {
  const lum = (c) => { const v = c.match(/[\\d.]+/g).slice(0, 3).map((x) => x / 255)
      .map((x) => (x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4));
    return 0.2126 * v[0] + 0.7152 * v[1] + 0.0722 * v[2]; };
  const bgOf = (e) => { for (; e; e = e.parentElement) { const b = getComputedStyle(e).backgroundColor;
    if (!b.endsWith(', 0)') && b !== 'transparent') return b; } return 'rgb(255, 255, 255)'; };
  const head = document.querySelector('header').getBoundingClientRect();
  return [...document.querySelectorAll('header .tab, #model, #lang, .model-pick span')].map((e) => {
    const r = e.getBoundingClientRect(), a = lum(getComputedStyle(e).color), b = lum(bgOf(e));
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return {id: e.id || e.textContent, tag: e.tagName, height: r.height,
            contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
            inside: r.left >= head.left && r.right <= head.right && r.top >= head.top && r.bottom <= head.bottom,
            tappable: e === hit || e.contains(hit)};
  });
}"""
LONG_RUN = "playground-lenet-modern-fashion-mnist-20261129-175828 (90.8%)"


def walk_by_tab(pg, start):
    """Press Tab from `start` once per Tab stop and once more (back to the start); the stops, in order."""
    pg.evaluate("window.stops = []")
    pg.focus(start)
    for _ in range(pg.evaluate(TABBABLE) + 1):
        pg.keyboard.press("Tab")
    return pg.evaluate(STOPS)


def follows_layout(stops):
    """Each next stop is below the last one (same row allowed), or up in a column to its right."""
    return [
        (a, b)
        for a, b in itertools.pairwise(stops)
        if b["top"] < a["top"] - max(4, a["height"]) and b["left"] < a["right"] - 1
    ]


def check_layout(pg, width, tab):
    """One tab at one width: fits, nothing cut off, every control reached by Tab in layout order."""
    wide = pg.evaluate("document.documentElement.scrollWidth")
    assert wide <= width, f"{tab}: scrolls sideways"
    assert pg.evaluate(CUT) == [], f"{tab}: cut off at {width} px"
    stops = walk_by_tab(pg, "#lang")  # the first control of the page
    assert pg.evaluate(UNREACHED) == [], f"{tab}: not reachable by Tab at {width} px"
    assert follows_layout(stops) == [], f"{tab}: Tab order against the layout at {width} px"
    return f"{wide} px wide, {pg.evaluate('document.documentElement.scrollHeight')} px tall, {len(stops)} Tab stops"


def check_header(pg, width):
    """The header's controls inside it, readable, tappable; a run's long name changes nothing."""
    for h in pg.evaluate(HEADER):
        assert h["inside"] and h["tappable"] and h["contrast"] >= 4.5, h
        assert width > 760 or h["tag"] == "SPAN" or h["height"] >= 40, h  # a finger's size on a phone
    header = pg.locator("header").bounding_box()["height"]
    pg.evaluate(f"""() => {{ const o = document.createElement('option'); o.value = 'x'; o.textContent = {LONG_RUN!r};
        document.querySelector('#model').append(o); }}""")
    assert pg.locator("header").bounding_box()["height"] == header
    assert pg.locator("#lang").bounding_box()["height"] < 50  # "中文" on one line, not stacked
    assert pg.evaluate("document.documentElement.scrollWidth") <= width
    pg.evaluate("document.querySelector('#model option[value=x]').remove()")


def check_units(pg):
    """Upload, a class bar and a map's unit by keyboard; a unit's receptive field beside it, on screen."""
    pg.evaluate("""() => document.querySelector('#upload').addEventListener('click', (e) => {
        window.chooser = true; e.preventDefault(); })""")  # (the file chooser itself stays shut)
    pg.focus("#upload-button")
    pg.keyboard.press("Enter")
    assert pg.evaluate("window.chooser === true")
    pg.focus("#probs .bar[data-index='3']")
    pg.keyboard.press("Enter")
    pg.wait_for_function("document.querySelector('#why-note').dataset.target === '3'")
    pg.focus(".layer canvas[data-layer='3']")
    pg.keyboard.press("ArrowRight")
    assert pg.evaluate("document.activeElement.dataset.channel") == "1"
    pg.keyboard.press("Enter")  # its centre unit: (6, 6) of 14×14 after a 2×2 pool, 6×6 input pixels
    pg.wait_for_selector(".layer[data-index='3'] #unit-box:not([hidden])")
    assert pg.locator("#rf-box").get_attribute("data-rows") == "10,15"
    assert 0 <= pg.locator("#unit-box").bounding_box()["y"] < 800  # on screen, not 1,000 px higher
    assert pg.locator("#filter-panel").is_hidden()  # a unit shows its receptive field only
    pg.locator(".layer canvas[data-layer='7']").first.click(position={"x": 2, "y": 2})  # after the second pool
    pg.wait_for_function("document.querySelector('#rf-box').dataset.rows === '0,13'")
    overlay = pg.evaluate("""(() => { const c = document.querySelector('#rf-overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++; return n; })()""")
    assert overlay > 1000  # a 14×14 of 28×28 region drawn on the 168-pixel overlay


def check_deep_network(pg):
    """A ResNet's 73 layers: the first 8 open, the rest folded; a 1×1 map a small square."""
    pg.select_option("#model", "resnet-fashion-mnist")
    pg.wait_for_function("document.querySelectorAll('#layers .layer').length === 73", timeout=60_000)
    assert pg.locator("#layers .layer[open]").count() == 8
    folded = pg.evaluate("document.documentElement.scrollHeight")
    pg.evaluate("document.querySelectorAll('#layers .layer').forEach((d) => { d.open = true; })")
    squares = pg.evaluate("""[...document.querySelectorAll('#layers canvas')]
        .filter((c) => c.width === 1 && c.height === 1).map((c) => c.getBoundingClientRect().width)""")
    assert squares and max(squares) <= 16, squares
    return f"ResNet page {folded} px tall folded, {pg.evaluate('document.documentElement.scrollHeight')} px unfolded"


def check_chinese(pg, width):
    """Chinese, remembered after a reload; the header still fits."""
    pg.click("#lang")
    assert pg.locator("h1").inner_text() == "convlab 演练场"
    pg.reload()
    pg.wait_for_selector("#layers canvas")
    assert pg.locator("h1").inner_text() == "convlab 演练场"
    check_header(pg, width)
    shot(pg, f"playground-{width}-chinese")
    pg.click("#lang")
    assert pg.locator("h1").inner_text() == "convlab playground"


@pytest.mark.parametrize("width", [375, 1366])
def test_every_tab_fits_and_works_by_keyboard(browser, server, width):
    pg = open_page(browser, server, viewport={"width": width, "height": 800})
    pg.evaluate(LISTEN)
    box = pg.locator("#draw").bounding_box()  # a stroke: every model of the catalogue reads it
    pg.mouse.move(box["x"] + 140, box["y"] + 40)
    pg.mouse.down()
    pg.mouse.move(box["x"] + 140, box["y"] + 240, steps=8)
    pg.mouse.up()
    pg.wait_for_function(
        "document.querySelectorAll('#probs .bar').length === 10 && !document.querySelector('#outputs.waiting')"
    )
    check_header(pg, width)
    check_units(pg)
    report = {"inside": check_layout(pg, width, "inside")}
    shot(pg, f"playground-{width}-inside")
    ready = {
        "explore": "#ex-output td",
        "mistakes": "#cell-images figure",
        "compare": "#cmp-layers .layer",
        "train": "#tr-dataset option",
    }
    for tab, selector in ready.items():
        pg.click(f"#tab-{tab}")
        pg.wait_for_selector(selector, state="attached", timeout=60_000)
        report[tab] = check_layout(pg, width, tab)
        if tab == "explore":  # the arithmetic on focus, not only on hover
            assert pg.locator("#ex-arith").inner_text().startswith("Y[0,0] =")
        shot(pg, f"playground-{width}-{tab}")
    pg.click("#tab-inside")
    if width > 760:
        report["deep"] = check_deep_network(pg)
    else:
        check_chinese(pg, width)
    print("", *(f"{width} px, {tab}: {line}" for tab, line in report.items()), sep="\n")
    assert pg.errors == [], pg.errors
    pg.context.close()
