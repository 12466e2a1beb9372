"""The playground for a classroom, in a real browser: start a training and watch its curves and
kernels move, reload and open a second tab mid-run and see the history, stop it, look inside the
result and compare it with a bundled model, layer by layer."""

import pytest

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


def test_watch_a_training_reconnect_stop_open_and_compare(browser, server):
    page = open_page(browser, server)
    page.click("#tab-train")
    page.wait_for_function("document.querySelectorAll('#tr-dataset option').length > 0")
    assert page.locator("#tr-off").is_hidden()
    page.select_option("#tr-dataset", "data")
    page.select_option("#tr-model", "lenet")
    page.fill("#tr-epochs", "100")
    page.click("#tr-start")

    # curves grow and kernels change while it trains
    page.wait_for_function(f"{STATE}.state === 'running' && Number({STATE}.points) > 20")
    page.wait_for_function("document.querySelectorAll('#tr-kernels canvas').length === 6")
    before, step = kernels(page), page.locator("#tr-kernels").get_attribute("data-step")
    page.wait_for_function(f"document.querySelector('#tr-kernels').dataset.step !== '{step}'")
    assert kernels(page) != before
    assert painted(page, "#tr-loss") > 0 and page.locator("#tr-layers .layer").count() > 5
    assert "left" in page.locator("#tr-progress").inner_text()
    points = int(page.locator("#tr-state").get_attribute("data-points"))
    shot(page, "playground-training")

    # a reload and a second tab reconnect to the running job, with its history
    page.reload()
    page.wait_for_function(f"Number({STATE}.points) >= {points}")
    assert page.locator("#panel-train").is_visible()
    other = open_page(browser, server)
    other.click("#tab-train")
    other.wait_for_function(f"{STATE}.state === 'running' && Number({STATE}.points) >= {points}")
    assert other.errors == []
    other.context.close()

    # stop after an epoch: saved, resumable, and its result can be opened
    page.wait_for_function(f"Number({STATE}.epochs) >= 1")
    assert painted(page, "#tr-acc") > 0
    page.click("#tr-stop")
    page.wait_for_function(f"{STATE}.state === 'stopped'", timeout=60_000)
    assert page.locator("#tr-resume").is_visible() and page.locator("#tr-open").is_visible()
    run = page.locator("#tr-state").inner_text().split()[-1]
    page.click("#tr-open")
    page.wait_for_function("document.querySelectorAll('#probs .bar').length === 4")
    assert page.locator("#model").input_value() == run and page.locator("#panel-inside").is_visible()

    # side by side: the same architecture aligns every layer; another aligns what matches
    page.click("#tab-train")
    page.click("#tr-compare")
    page.select_option("#cmp-b", "lenet-fashion-mnist")
    page.wait_for_function("document.querySelector('#cmp-b-pred').textContent.startsWith('lenet-fashion-mnist')")
    page.wait_for_function("Number(document.querySelector('#cmp-layers').dataset.paired) > 0")
    rows = page.locator("#cmp-layers .cmp-row").count()
    assert int(page.locator("#cmp-layers").get_attribute("data-paired")) == rows  # LeNet and LeNet
    assert page.locator("#cmp-a-pred").inner_text().startswith(run)
    page.select_option("#cmp-b", "lenet-modern-fashion-mnist")
    page.wait_for_function("document.querySelector('#cmp-b-pred').textContent.startsWith('lenet-modern')")
    page.wait_for_function(
        f"Number(document.querySelector('#cmp-layers').dataset.paired) === {rows}"
        " && document.querySelectorAll('#cmp-layers .cmp-row').length > " + str(rows)
    )  # every LeNet layer finds its match; the BatchNorms stand alone
    shot(page, "playground-compare")
    assert page.errors == []
    page.context.close()
