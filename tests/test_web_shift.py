"""The playground's "Shift" tab in a real headless Chromium: draw a digit, move it one pixel at a
time with the arrow keys and the buttons; both models' predictions and LeNet's maps follow, and each
layer's error is checked against an independent computation with torch.nn.functional and torch.roll
on the very pixels the page shows."""

import pytest
import torch
import torch.nn.functional as F
from starlette.testclient import TestClient

from conftest import open_page, playground, shot
from convlab.checkpoint import load_checkpoint
from convlab.web.app import create_app
from convlab.web.pictures import png_data_url

ANSWERED = """() => { const p = document.querySelector('#panel-shift');
    return p.dataset.dy === '{dy}' && p.dataset.dx === '{dx}'; }"""
SHOWN = """() => { const c = document.querySelector('#sh-input');
    return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data.filter((_, i) => i % 4 === 0)); }"""


@pytest.fixture(scope="module")
def server():
    with playground() as url:
        yield url


def wait_for(page, dy, dx):
    page.wait_for_function(ANSWERED.replace("{dy}", str(dy)).replace("{dx}", str(dx)))


def errors(page, model):
    rows = page.locator(f".sh-model[data-model='{model}'] .sh-errors tr[data-layer]")
    return [float(v) if v else None for v in rows.evaluate_all("rows => rows.map(r => r.dataset.error)")]


def shown(page) -> torch.Tensor:
    """The shifted digit the page shows (28×28 gray values painted one pixel per value)."""
    return torch.tensor(page.evaluate(SHOWN), dtype=torch.float32).view(1, 1, 28, 28)


def pooled(ck, x):
    """LeNet's first stride-2 pooling, computed from its weights with torch.nn.functional."""
    conv = ck.model[0]
    return F.avg_pool2d(torch.sigmoid(F.conv2d(x, conv.weight, conv.bias, padding=2)), 2)


def oracle_pool_error(ck, x, dy, dx):
    """max |pool(roll(x)) − roll(pool(x))| in the map's interior, over the nearer whole shifts."""
    a, b = pooled(ck, torch.roll(x, (dy, dx), (2, 3))), pooled(ck, x)
    inside = (..., slice(4, 10), slice(4, 10))  # units whose window never meets padding or rolled rows
    return min(
        float((a - torch.roll(b, (ty, tx), (2, 3)))[inside].abs().max())
        for ty in {dy // 2, -(-dy // 2)}
        for tx in {dx // 2, -(-dx // 2)}
    )


def test_the_api_refuses_bad_shifts_with_one_line():
    client = TestClient(create_app())
    img = torch.zeros(28, 28, dtype=torch.uint8)
    img[6:22, 12:15] = 255  # a 1
    image = png_data_url(img[None])
    for bad in ({"dy": 1.5}, {"dx": "2"}, {"dy": True}, {"dx": 11}):
        r = client.post("/api/shift", json={"image": image, **bad})
        assert r.status_code == 400 and "'dy' and 'dx'" in r.json()["error"], (bad, r.json())
    r = client.post("/api/shift", json={"image": png_data_url(torch.zeros(1, 28, 28, dtype=torch.uint8))})
    assert r.status_code == 422  # no ink: "draw a digit"
    r = client.post("/api/shift", json={"image": image, "dy": -3, "dx": 2}).json()
    assert [m["model"] for m in r["models"]] == ["mlp-digits", "lenet-digits"] and (r["dy"], r["dx"]) == (-3, 2)
    lenet = r["models"][1]["layers"]
    assert lenet[0]["error"] == 0 and lenet[2]["error"] > 0 and lenet[2]["jump"] == [2, 2]  # odd: no exact shift


@pytest.mark.browser
@pytest.mark.slow
def test_shift_a_drawing_one_pixel_at_a_time(browser, server):
    page = open_page(browser, server, ready=None)
    page.wait_for_function("document.querySelector('#prediction').dataset.version !== undefined")
    box = page.locator("#draw").bounding_box()
    for stroke in (((80, 60), (200, 60)), ((200, 60), (120, 240))):  # a 7
        page.mouse.move(box["x"] + stroke[0][0], box["y"] + stroke[0][1])
        page.mouse.down()
        for t in range(1, 11):
            x = stroke[0][0] + (stroke[1][0] - stroke[0][0]) * t / 10
            y = stroke[0][1] + (stroke[1][1] - stroke[0][1]) * t / 10
            page.mouse.move(box["x"] + x, box["y"] + y)
        page.mouse.up()
    page.wait_for_function("document.querySelector('#prediction').dataset.version === String(version)")
    page.click("#tab-shift")
    wait_for(page, 0, 0)
    assert page.locator(".sh-model .sh-pred").count() == 2 and page.locator(".sh-model .probs .bar").count() == 20
    lenet, mlp = load_checkpoint("lenet-digits"), load_checkpoint("mlp-digits")
    norm = lambda img: (img / 255 - lenet.meta.mean) / lenet.meta.std  # noqa: E731  (both: the digits' statistics)
    x = norm(shown(page))
    assert errors(page, "lenet-digits")[:3] == [0.0, 0.0, 0.0] and set(errors(page, "mlp-digits")) == {0.0}
    first_map = "document.querySelector(\".sh-model[data-model='lenet-digits'] .layer canvas\").toDataURL()"
    before = page.evaluate(first_map)

    steps = [("ArrowRight", 0, 1), ("ArrowRight", 0, 2), ("ArrowDown", 1, 2), ("#sh-down", 2, 2), ("#sh-left", 2, 1)]
    for key, dy, dx in steps:
        page.click(key) if key.startswith("#") else page.keyboard.press(key)
        wait_for(page, dy, dx)
        lenet_err, mlp_err = errors(page, "lenet-digits"), errors(page, "mlp-digits")
        assert lenet_err[0] == 0 and lenet_err[1] == 0, (dy, dx, lenet_err)  # stride-1 conv, sigmoid: any shift
        even = dy % 2 == 0 and dx % 2 == 0
        oracle = oracle_pool_error(lenet, x, dy, dx)
        assert (lenet_err[2] == 0) == even == (oracle == 0), (dy, dx, lenet_err[2], oracle)  # stride-2 pooling
        assert oracle > 1e-3 or even
        moved = norm(shown(page))
        with torch.no_grad():
            f, g = mlp.model(moved), mlp.model(x)
        expected = float((f - g).norm() / g.norm())
        assert mlp_err[-1] == pytest.approx(expected, rel=1e-3), (dy, dx)  # the MLP's logits: invariance error
        assert mlp_err[-1] > 0.05  # a flattened network is not invariant
    assert page.evaluate(first_map) != before  # LeNet's maps moved with the digit
    assert page.locator("#sh-by").inner_text().startswith("Shifted by 2 down, 1 right")
    shot(page, "playground-shift")
    page.click("#lang")
    assert page.locator("#tab-shift").inner_text() == "平移" and "向下平移 2" in page.locator("#sh-by").inner_text()
    page.click("#lang")
    assert page.errors == [], page.errors
    page.context.close()
