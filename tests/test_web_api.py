"""The playground's JSON API: every endpoint and every bad input (4xx JSON, server keeps running)."""

import base64
import io
import re
from xml.etree import ElementTree

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from convlab.checkpoint import load_checkpoint
from convlab.web.app import MAX_BODY, create_app


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(load_checkpoint()))


def png(a, fmt="PNG"):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format=fmt)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def test_page_and_static_files(client):
    r = client.get("/")
    assert r.status_code == 200 and "convlab playground" in r.text and "cdn" not in r.text.lower()
    assert client.get("/static/app.js").status_code == 200
    icon = client.get("/favicon.ico")  # a browser asks for it on its own: an icon, not a 404
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(icon.content).tag == "{http://www.w3.org/2000/svg}svg"


def test_info(client):
    d = client.get("/api/info").json()
    assert d["model"] == "lenet-modern" and len(d["classes"]) == 10 and d["input_shape"] == [1, 28, 28]
    assert d["summary"]["total_params"] > 60000 and len(d["kernels"]) == 6


def test_predict_returns_probabilities_and_every_layer(client):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 8:20] = 230
    d = client.post("/api/predict", json={"image": png(a)}).json()
    assert abs(sum(d["probabilities"]) - 1) < 1e-4 and d["prediction"] in d["classes"]
    assert len(d["layers"]) == 16 and d["layers"][0]["shape"] == [6, 28, 28]
    assert len(base64.b64decode(d["layers"][0]["data"])) == 6 * 28 * 28
    assert len(d["input"]) == 28 and d["inverted"] is False
    light = client.post("/api/predict", json={"image": png(255 - a)}).json()
    assert light["inverted"] is True and light["input"] == d["input"]


def test_receptive_field(client):
    d = client.post("/api/receptive-field", json={"layer": 7, "row": 0, "col": 0}).json()
    assert d["window"] == {"rows": [-2, 13], "cols": [-2, 13]} and d["rows"] == [0, 13]


def test_explain_matches_the_seed(client):
    d = client.post(
        "/api/explain", json={"mode": "conv", "input": [[0, 1, 2], [3, 4, 5], [6, 7, 8]], "kernel": [[0, 1], [2, 3]]}
    ).json()
    assert d["output"] == [[19, 25], [37, 43]] and d["cells"][0]["text"] == "0×0 + 1×1 + 3×2 + 4×3 = 19"
    d = client.post(
        "/api/explain", json={"mode": "max", "input": [[0, 1, 2], [3, 4, 5], [6, 7, 8]], "size": 2, "stride": 1}
    ).json()
    assert d["output"] == [[4, 5], [7, 8]]
    # any stride: floor semantics as PyTorch, no "stride does not divide" refusal
    d = client.post(
        "/api/explain", json={"mode": "conv", "input": [[1] * 7] * 7, "kernel": [[1, 1], [1, 1]], "stride": 3}
    ).json()
    assert len(d["output"]) == 2


def test_sample_image(client):
    from conftest import fashion_folder

    fashion_folder()
    d = client.get("/api/sample").json()
    assert d["image"].startswith("data:image/png;base64,") and d["label"]


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        ("/api/predict", b"{not json", 400, "not valid JSON"),
        ("/api/predict", b"[1, 2]", 400, "JSON object"),
        ("/api/predict", {"image": 5}, 400, "data URL"),
        ("/api/predict", {"image": "%%%"}, 400, "not valid base64"),
        ("/api/predict", {"image": base64.b64encode(b"hello, not an image").decode()}, 400, "not a readable image"),
        ("/api/receptive-field", {"layer": 99, "row": 0, "col": 0}, 400, "does not exist"),
        ("/api/receptive-field", {"layer": "x"}, 400, "integer"),
        ("/api/explain", {"mode": "conv", "input": [[1, 2], [3]], "kernel": [[1]]}, 400, "as many numbers"),
        (
            "/api/explain",
            {"mode": "conv", "input": [[1, 2], [3, 4]], "kernel": [[1, 1, 1]] * 3},
            400,
            "larger than the padded input",
        ),
        ("/api/explain", {"mode": "conv", "input": [["a"]], "kernel": [[1]]}, 400, "only numbers"),
        ("/api/explain", {"mode": "fft", "input": [[1]]}, 400, "Operation must be"),
        ("/api/explain", {"mode": "max", "input": [[1, 2], [3, 4]], "size": 2, "padding": 2}, 400, "more than half"),
        ("/api/explain", {"mode": "conv", "input": [[1] * 100] * 100, "kernel": [[1]]}, 400, "larger than 64"),
    ],
)
def test_bad_requests_get_json_errors(client, path, body, status, words):
    r = client.post(path, content=body) if isinstance(body, bytes) else client.post(path, json=body)
    assert r.status_code == status and words in r.json()["error"]
    assert client.get("/api/info").status_code == 200  # still serving


def test_format_by_content_and_size_caps(client):
    tiff = io.BytesIO()
    Image.new("L", (28, 28)).save(tiff, format="PCX")  # TIFF and Netpbm are read; PCX is not
    r = client.post("/api/predict", json={"image": base64.b64encode(tiff.getvalue()).decode()})
    assert r.status_code == 415 and "not supported" in r.json()["error"]
    r = client.post("/api/predict", content=b"x" * (MAX_BODY + 10), headers={"content-type": "application/json"})
    assert r.status_code == 413
    big = Image.new("L", (6000, 6000))
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    r = client.post("/api/predict", json={"image": base64.b64encode(buf.getvalue()).decode()})
    assert r.status_code == 400 and "at most" in r.json()["error"]
    assert client.get("/nowhere").status_code == 404 and client.get("/api/predict").status_code == 405


def test_serve_fails_at_start_with_a_bad_checkpoint(tmp_path):
    from conftest import assert_user_error, run_here

    (tmp_path / "broken.safetensors").write_bytes(b"not a checkpoint")
    assert_user_error(run_here("serve", "--checkpoint", tmp_path / "broken.safetensors"), "not a readable safetensors")
    assert_user_error(run_here("serve", "--checkpoint", tmp_path / "missing"), "no such checkpoint")


# --- security headers, upload forms, concurrency --------------------------------------------


def _png_bytes(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def test_every_response_forbids_inline_script_and_sniffing(client):
    responses = [
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/static/style.css"),
        client.get("/api/info"),
        client.get("/nowhere"),
        client.get("/api/predict"),  # 405
        client.post("/api/predict", content=b"{bad"),  # 400
        client.post("/api/predict", content=b"x", headers={"content-type": "text/csv"}),  # 415
        client.post("/api/predict", content=b"x" * (MAX_BODY + 1), headers={"content-type": "image/png"}),  # 413
    ]
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 404, 405, 400, 415, 413]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "object-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"


def test_page_has_no_inline_script_or_handlers(client):
    """The page loads one ES module; it and every module it imports, read by following their
    `import` lines, come as JavaScript (a browser runs a module only then, under nosniff), build
    no HTML from strings and eval nothing; every module in static/ is one of them."""
    import re

    from convlab.web.app import STATIC

    html = client.get("/").text
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and all(re.fullmatch(r'<script type="module" src="/static/[a-z]+\.js">', s) for s in scripts), (
        scripts
    )
    assert not re.search(r"\son[a-z]+\s*=", html)  # no onclick=… attributes
    todo, seen = [s.split('src="')[1].rstrip('">') for s in scripts], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript"), path
        js = r.text
        assert js and "innerHTML" not in js and "insertAdjacentHTML" not in js and "document.write" not in js
        assert "eval(" not in js and "new Function" not in js and "import(" not in js
        todo += [f"/static/{name}" for name in re.findall(r'^import .*"\./([a-z0-9]+\.js)";$', js, re.MULTILINE)]
    assert seen == {f"/static/{p.name}" for p in STATIC.glob("*.js")}


def test_a_refusal_gets_the_status_of_its_type_whatever_its_words(client, monkeypatch):
    """STATUS maps error types, not messages: an unsupported format worded any way is 415; a
    message that only mentions "not supported" is a plain 400."""
    from convlab.data.idx import DataError
    from convlab.data.images import UnsupportedFormat
    from convlab.web import models

    a = np.zeros((28, 28), dtype=np.uint8)
    for error, status in ((UnsupportedFormat("ICO: convlab reads PNG, JPEG, BMP, GIF or WebP"), 415),
                          (DataError("uploaded image: a palette that is not supported"), 400)):  # fmt: skip

        def refuse(*args, error=error):
            raise error

        monkeypatch.setattr(models, "prepare", refuse)
        r = client.post("/api/predict", json={"image": png(a)})
        assert r.status_code == status and r.json()["error"] == str(error).removeprefix("uploaded image: ")
    monkeypatch.undo()
    assert client.get("/api/info?model=no-such-model").status_code == 404
    digits = TestClient(create_app())  # the playground's default: a digit model, which needs ink
    r = digits.post("/api/predict", json={"image": png(a)})
    assert r.status_code == 422 and "error" in r.json()


def test_predict_takes_json_multipart_and_raw_images_alike(client):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 8:20] = 230
    data = _png_bytes(a)
    as_json = client.post("/api/predict", json={"image": base64.b64encode(data).decode()}).json()
    as_form = client.post("/api/predict", files={"file": ("digit.png", data, "image/png")}).json()
    as_raw = client.post("/api/predict", content=data, headers={"content-type": "image/png"}).json()
    assert as_json["probabilities"] == as_form["probabilities"] == as_raw["probabilities"]
    # the content type only says how the bytes travel: the format is checked by content
    also_raw = client.post("/api/predict", content=data, headers={"content-type": "image/jpeg"})
    assert also_raw.status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "status", "words"),
    [
        ({"files": {"file": ("x.png", b"not an image at all", "image/png")}}, 400, "not a readable image"),
        ({"files": {"picture": ("x.png", b"abc", "image/png")}}, 400, "no 'file' field"),
        ({"files": {"file": ("x.png", b"", "image/png")}}, 400, "empty"),
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}, 400, "file"),
        ({"content": b"", "headers": {"content-type": "image/png"}}, 400, "empty"),
        ({"content": b"GIF89a-truncated", "headers": {"content-type": "image/gif"}}, 400, "image"),
        ({"content": b"\x00" * 100, "headers": {"content-type": "image/png"}}, 400, "not a readable image"),
        ({"content": b"a,b\n1,2", "headers": {"content-type": "text/csv"}}, 415, "multipart/form-data"),
        ({"files": {"file": ("big.png", b"\x89PNG" + b"0" * MAX_BODY, "image/png")}}, 413, "too large"),
        ({"content": b"0" * (MAX_BODY + 1), "headers": {"content-type": "image/png"}}, 413, "too large"),
    ],
)
def test_junk_and_oversize_uploads_get_clear_4xx(client, kwargs, status, words):
    r = client.post("/api/predict", **kwargs)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]
    assert client.get("/api/info").status_code == 200  # still serving


def test_a_slow_prediction_does_not_stall_other_requests():
    """Model work runs in a thread pool: while one predict is busy, /api/info still answers."""
    import asyncio
    import time

    import httpx

    from convlab.web import app as web

    ck = load_checkpoint()
    application = web.create_app(ck)
    real = web.LoadedModel.predict

    def slow(self, image):
        time.sleep(1.0)
        return real(self, image)

    async def scenario():
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            a = np.zeros((28, 28), dtype=np.uint8)
            t0 = time.perf_counter()
            slow_task = asyncio.create_task(c.post("/api/predict", json={"image": png(a)}))
            await asyncio.sleep(0.1)
            info = await c.get("/api/info")
            info_done = time.perf_counter() - t0
            r = await slow_task
            return info.status_code, info_done, r.status_code, time.perf_counter() - t0

    web.LoadedModel.predict = slow
    try:
        info_status, info_done, predict_status, predict_done = asyncio.run(scenario())
    finally:
        web.LoadedModel.predict = real
    assert info_status == 200 and predict_status == 200
    assert info_done < 0.8 < predict_done  # info answered while predict was still sleeping


# --- why, filter, mistakes -----------------------------------------------------------------


def _decoded(d):
    return np.frombuffer(base64.b64decode(d["data"]), dtype=np.uint8).reshape(d["shape"])


def test_why_maps_the_evidence_for_the_asked_class(client):
    a = np.zeros((28, 28), dtype=np.uint8)
    a[4:24, 8:20] = 230
    pred = client.post("/api/predict", json={"image": png(a)}).json()
    top = int(np.argmax(pred["probabilities"]))
    for method in ("saliency", "gradcam", "occlusion"):
        d = client.post("/api/why", json={"image": png(a), "method": method}).json()
        assert d["shape"] == [28, 28] and d["target"] == top and d["class"] == pred["prediction"]
        m = _decoded(d)
        assert m.max() == 255 and d["note"]
    other = (top + 3) % 10
    d = client.post("/api/why", json={"image": png(a), "method": "gradcam", "target": other}).json()
    assert d["target"] == other and d["class"] == pred["classes"][other]
    # multipart and a query string carry the same request
    form = client.post("/api/why?method=saliency", files={"file": ("x.png", _png_bytes(a), "image/png")}).json()
    as_json = client.post("/api/why", json={"image": png(a), "method": "saliency"}).json()
    assert form["data"] == as_json["data"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"method": "magic"}, "'method' must be one of"),
        ({"method": "gradcam", "target": "7"}, "'target' must be a class index"),
        ({"method": "gradcam", "target": True}, "'target' must be a class index"),
        ({"method": "gradcam", "target": 10}, "class 10 does not exist; the model has classes 0..9"),
    ],
)
def test_why_rejects_bad_requests(client, body, words):
    a = np.full((28, 28), 128, dtype=np.uint8)
    r = client.post("/api/why", json={"image": png(a), **body})
    assert r.status_code == 400 and words in r.json()["error"], r.text


def test_mistakes_agree_with_the_model_on_the_test_set(client):
    """The confusion matrix against a plain forward pass; every cell image is predicted as its cell says."""
    import torch

    from convlab.data import load_dataset
    from convlab.data.loader import normalize

    m = client.get("/api/mistakes").json()
    ck = load_checkpoint()
    ds = load_dataset("fashion-mnist", progress=False)
    with torch.no_grad():
        pred = torch.cat([ck.model(normalize(x, ck.mean, ck.std)).argmax(1) for x in ds.test_x.split(1000)])
    truth = torch.zeros(10, 10, dtype=torch.long)
    truth.index_put_((ds.test_y, pred), torch.ones_like(pred), accumulate=True)
    assert m["confusion"] == truth.tolist() and m["n"] == 10000
    assert abs(m["accuracy"] - (pred == ds.test_y).float().mean().item()) < 1e-6
    worst = m["pairs"][0]
    off = truth.clone().fill_diagonal_(0)
    assert worst["count"] == off.max().item() == truth[worst["true"], worst["predicted"]].item()
    cell = client.get(f"/api/mistakes/cell?true={worst['true']}&predicted={worst['predicted']}").json()
    assert cell["count"] == worst["count"] and len(cell["images"]) == min(12, worst["count"])
    conf = [im["confidence"] for im in cell["images"]]
    assert conf == sorted(conf, reverse=True)
    for im in cell["images"][:3]:
        assert int(ds.test_y[im["index"]]) == worst["true"]
        p = client.post("/api/predict", json={"image": im["image"]}).json()
        assert p["classes"].index(p["prediction"]) == worst["predicted"]


@pytest.mark.parametrize("query", ["true=0", "true=a&predicted=1", "true=0&predicted=10", "true=-1&predicted=0"])
def test_mistakes_cell_rejects_bad_queries(client, query):
    r = client.get(f"/api/mistakes/cell?{query}")
    assert r.status_code == 400 and "error" in r.json()


def test_filter_returns_the_images_that_excite_a_channel_most(client):
    import torch

    from convlab.data.loader import normalize
    from convlab.graph import layer_graph

    ck = load_checkpoint()
    d = client.post("/api/filter", json={"layer": 0, "channel": 2}).json()
    assert d["name"] == layer_graph(ck.model).rows[0].name and len(d["top"]) == 8
    acts = [b["activation"] for b in d["top"]]
    assert acts == sorted(acts, reverse=True) and d["made"].startswith("data:image/png;base64,")
    conv = layer_graph(ck.model).rows[0].module
    for b in d["top"][:2]:  # the recorded activation is what the layer gives that test image
        img = np.array(Image.open(io.BytesIO(base64.b64decode(b["image"].split(",")[1]))))
        x = normalize(torch.from_numpy(img)[None, None], ck.mean, ck.std)
        with torch.no_grad():
            assert abs(conv(x)[0, 2].max().item() - b["activation"]) < 1e-3
    for body in ({"layer": 0}, {"layer": 0, "channel": 99}, {"layer": 999, "channel": 0}):
        r = client.post("/api/filter", json=body)
        assert r.status_code == 400 and "error" in r.json(), body


EXPLORER_ERRORS = [  # (request, the field it is about: index.html's input id)
    ({"mode": "conv", "input": [[1, 2], [3]], "kernel": [[1]]}, "ex-input"),
    ({"mode": "conv", "input": [[1, 2]], "kernel": [["a"]]}, "ex-kernel"),
    ({"mode": "max", "input": [[1, 2], [3, 4]], "size": 0}, "ex-size"),
    ({"mode": "max", "input": [[1, 2], [3, 4]], "size": 3}, "ex-size"),
    ({"mode": "max", "input": [[1, 2], [3, 4]], "size": 2, "padding": 2}, "ex-padding"),
    ({"mode": "conv", "input": [[1, 2]], "kernel": [[1]], "stride": 0}, "ex-stride"),
    ({"mode": "conv", "input": [[1, 2]], "kernel": [[1]], "dilation": 17}, "ex-dilation"),
    ({"mode": "conv", "input": [[1, 2]], "kernel": [[1, 1]] * 2, "dilation": 2}, "ex-kernel"),
    ({"mode": "sum", "input": [[1]]}, "ex-mode"),
]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explorer_errors_name_each_field_by_its_label_on_the_page(client, lang):
    """The oracle is the page itself: the label index.html shows beside each field (English), and the
    Chinese explore.js gives that label's key; no code name ('size', 'kernel_size', 'mode') is said."""
    page, script = client.get("/").text, client.get("/static/explore.js").text
    for body, field in EXPLORER_ERRORS:
        key, english = re.search(
            rf'<span data-i18n="(\w+)">([^<(]+?)\s*(?:\([^<]*)?</span>\s*<(?:textarea|input|select) id="{field}"', page
        ).groups()
        label = english if lang == "en" else re.search(rf'{key}: \{{ en: "[^"]*", zh: "([^"（]+)', script).group(1)
        error = client.post(f"/api/explain?lang={lang}", json=body).json()["error"]
        assert error.startswith(label) and not re.search(r"'\w+'|kernel_size|\bsize\b", error), (body, error)
