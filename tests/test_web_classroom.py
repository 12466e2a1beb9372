"""The playground for a classroom, in a real browser: a student's tab, open before the teacher
starts, follows the training (it polls every 0.7–1.5 s; the time is printed); curves and kernels
move; a reload keeps the history and the settings; stop and resume keep every step once and the
watched image; look inside the result and compare it with a bundled model, layer by layer."""

import re
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import make_images, open_page, playground, shot, write_idx_folder

pytestmark = [pytest.mark.browser, pytest.mark.slow]
STATE = "document.querySelector('#tr-state').dataset"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = write_idx_folder(tmp_path_factory.mktemp("idx"), *make_images(4000, 4, seed=1), *make_images(256, 4, seed=2))
    runs = tmp_path_factory.mktemp("runs")
    with playground("--checkpoint", "lenet-modern-fashion-mnist", "--runs", runs, "--data", data) as url:
        yield url


def kernels(pg):
    return pg.evaluate("[...document.querySelectorAll('#tr-kernels canvas')].map((c) => c.toDataURL()).join()")


def painted(pg, canvas):
    return pg.evaluate(
        f"""() => {{ const c = document.querySelector('{canvas}');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; }}"""
    )


def compared(pg, name):
    """Wait until Compare shows model B `name`; if it never does, fail with what the page says."""
    try:
        pg.wait_for_function(f"document.querySelector('#cmp-b-pred').textContent.startsWith('{name}')")
    except PlaywrightTimeout:
        texts = {k: pg.locator(k).inner_text() for k in ("#error", "#cmp-note", "#cmp-a-pred", "#cmp-b-pred")}
        pytest.fail(f"Compare never showed {name}: {texts}, B = {pg.locator('#cmp-b').input_value()}")


def numbers(pg):
    d = pg.locator("#tr-state").evaluate("(n) => ({...n.dataset})")
    return int(d["points"]), int(d["lastStep"]), int(d["epochs"])


def stop_after_an_epoch(pg, epochs):
    pg.wait_for_function(f"Number({STATE}.epochs) >= {epochs}")
    pg.click("#tr-stop")
    pg.wait_for_function(f"{STATE}.state === 'stopped'", timeout=60_000)
    points, last, saved = numbers(pg)
    print(f"stopped after {saved} epoch(s) at step {last}: {points} steps shown")
    assert points == last and saved >= epochs  # every step once: none doubled by the stop's reply
    assert re.search(rf"{saved} epochs? saved \(test accuracy \d+\.\d %\)", pg.locator("#tr-state").inner_text())
    return last


def test_watch_a_training_follow_it_stop_resume_open_and_compare(browser, server):
    student = open_page(browser, server)  # on the Train tab before anything trains
    student.set_default_timeout(120_000)  # (a niced training on a busy 2-core machine starts slowly)
    student.click("#tab-train")
    student.wait_for_function(f"{STATE}.state === 'idle'")
    page = open_page(browser, server)
    page.set_default_timeout(120_000)
    page.click("#tab-train")
    page.wait_for_function("document.querySelectorAll('#tr-dataset option').length > 0")
    assert page.locator("#tr-off").is_hidden()
    page.select_option("#tr-dataset", "data")
    page.fill("#tr-epochs", "100")  # typed: choosing the architecture keeps it
    page.select_option("#tr-model", "lenet")
    assert page.locator("#tr-epochs").input_value() == "100"
    page.fill("#tr-probe", "7")
    page.click("#tr-start")
    page.wait_for_function(f"{STATE}.run !== ''")
    run, t0 = page.locator("#tr-state").get_attribute("data-run"), time.monotonic()
    student.wait_for_function(f"{STATE}.run === '{run}'", timeout=30_000)  # the student's tab follows
    print(f"the second tab followed the new training after {time.monotonic() - t0:.2f} s")

    # curves grow, with numbers, and kernels change while it trains
    page.wait_for_function(f"{STATE}.state === 'running' && Number({STATE}.points) > 20")
    page.wait_for_function("document.querySelectorAll('#tr-kernels canvas').length === 6")
    before, step = kernels(page), page.locator("#tr-kernels").get_attribute("data-step")
    page.wait_for_function(f"document.querySelector('#tr-kernels').dataset.step !== '{step}'")
    assert kernels(page) != before
    assert painted(page, "#tr-loss") > 0 and page.locator("#tr-layers .layer").count() > 5
    assert "left" in page.locator("#tr-progress").inner_text()
    assert re.match(r"loss \d\.\d{4} at step \d+", page.locator("#tr-numbers").inner_text())
    assert page.locator("#tr-probe-label").inner_text().startswith("#7")
    points = int(page.locator("#tr-state").get_attribute("data-points"))
    shot(page, "playground-training")

    assert student.locator("#tr-epochs").input_value() == "100"  # the running job's settings, not the defaults
    assert student.errors == []
    student.context.close()

    # a tab that has not yet heard of it (its polls answered "idle" here) and presses Start: the
    # 409 names the running training and the tab watches it, with its history and settings
    status = re.compile(r".*/api/train\?since=.*")
    page.route(status, lambda route: route.fulfill(json={"state": "idle"}))
    page.reload()
    page.wait_for_function(f"{STATE}.state === 'idle'")
    page.click("#tr-start")
    page.wait_for_function("document.querySelector('#error').textContent.includes('showing that training')")
    assert run in page.locator("#error").inner_text()
    page.unroute(status)
    page.wait_for_function(f"{STATE}.state === 'running' && Number({STATE}.points) >= {points}")
    assert page.locator("#tr-probe").input_value() == "7" and page.locator("#tr-model").input_value() == "lenet"

    # stop after an epoch: saved, resumable; resume: the history continues, each step once, same image
    stopped_at = stop_after_an_epoch(page, 1)
    assert page.locator("#tr-resume").is_visible() and page.locator("#tr-open").is_visible()
    page.click("#tr-resume")
    page.wait_for_function(f"{STATE}.state === 'running' && Number({STATE}.lastStep) > {stopped_at + 5}")
    page.wait_for_function("document.querySelector('#tr-probe-label').dataset.index === '7'")
    points, last, _ = numbers(page)
    print(f"resumed: {points} steps shown at step {last}, watching image #7")
    assert points == last
    stop_after_an_epoch(page, 2)
    page.click("#tr-open")
    page.wait_for_function("document.querySelectorAll('#probs .bar').length === 4")
    assert page.locator("#model").input_value() == run and page.locator("#panel-inside").is_visible()

    # side by side: B is another model, never the run itself; the same architecture aligns every layer
    page.click("#tab-train")
    page.click("#tr-compare")
    assert page.locator("#cmp-a").input_value() == run and page.locator("#cmp-b").input_value() != run
    page.select_option("#cmp-b", "lenet-fashion-mnist")
    compared(page, "lenet-fashion-mnist")
    page.wait_for_function("Number(document.querySelector('#cmp-layers').dataset.paired) > 0")
    rows = page.locator("#cmp-layers .cmp-row").count()
    assert int(page.locator("#cmp-layers").get_attribute("data-paired")) == rows  # LeNet and LeNet
    assert page.locator("#cmp-a-pred").inner_text().startswith(run)
    page.select_option("#cmp-b", "lenet-modern-fashion-mnist")
    compared(page, "lenet-modern")
    page.wait_for_function(
        f"Number(document.querySelector('#cmp-layers').dataset.paired) === {rows}"
        " && document.querySelectorAll('#cmp-layers .cmp-row').length > " + str(rows)
    )  # every LeNet layer finds its match; the BatchNorms stand alone
    shot(page, "playground-compare")
    assert page.errors == []
    page.context.close()
