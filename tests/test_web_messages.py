"""The playground's server text in Chinese: the page's requests, errors included, asked with
`Accept-Language: zh`, leave no English sentence behind; and the catalogue's two tables agree."""

import base64
import io
import re
import string

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from convlab.introspect import summary
from convlab.web.app import create_app
from convlab.web.messages import EN, ZH, language, localize, translate
from convlab.web.models import Models, dense_head

ZH_HEADERS = {"Accept-Language": "zh-CN,zh;q=0.9"}
# Three English words in a row is a sentence left untranslated; names, units and identifiers are
# single words (Conv2d, MaxPool2d, Grad-CAM, base64), quoted fields ('image'), lists of them
# (a comma or a hyphen ends a run: "saliency, gradcam" names methods, "lenet-modern-digits" a model).
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[\s()'’:;—]+[A-Za-z]{2,}){2,}\b")
ALLOWED = ("PNG, JPEG, BMP, GIF, WebP, TIFF", "-F file=@IMAGE")  # format names, a curl flag


def png(a):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


DATA = {
    "image",
    "data",
    "classes",
    "class",
    "prediction",
    "name",
    "model",
    "dataset",
    "method",
    "input_style",
    "kind",
    "block",
    "rows",
}


def texts(answer, key=None):
    """Every string in a JSON answer but those under keys that hold data (names, images, classes):
    what the page shows as the server's words."""
    if key in DATA:
        return
    if isinstance(answer, dict):
        for k, v in answer.items():
            yield from texts(v, k)
    elif isinstance(answer, list):
        for v in answer:
            yield from texts(v, key)
    elif isinstance(answer, str):
        yield answer


def english_left(text):
    for allowed in ALLOWED:
        text = text.replace(allowed, "")
    return ENGLISH_RUN.search(text)


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(Models()))


def digit():
    a = np.full((100, 80), 255, dtype=np.uint8)  # dark ink on paper: inverted, cropped, centred
    a[20:80, 35:45] = 0
    return png(a)


def requests(client):
    """(what, response) for the page's requests in Chinese, the refusals among them."""
    img = digit()
    get = lambda path: client.get(path, headers=ZH_HEADERS)  # noqa: E731
    post = lambda path, body: client.post(path, json=body, headers=ZH_HEADERS)  # noqa: E731
    yield "info", get("/api/info")
    yield "predict", post("/api/predict", {"image": img})
    yield "predict light photo (fashion)", post("/api/predict?model=lenet-modern-fashion-mnist", {"image": img})
    for method in ("saliency", "gradcam", "occlusion"):  # the page's three
        yield f"why {method}", post("/api/why", {"image": img, "method": method})
    yield "explain conv", post("/api/explain", {"mode": "conv", "input": [[0, 1, 2]] * 3, "kernel": [[1, -1]]})
    yield "explain pool", post("/api/explain", {"mode": "max", "input": [[0, 1, 2]] * 3, "size": 2})
    # refusals
    yield "empty canvas", post("/api/predict", {"image": png(np.zeros((28, 28), np.uint8))})
    yield "not an image", post("/api/predict", {"image": base64.b64encode(b"hello").decode()})
    yield "bad base64", post("/api/predict", {"image": "!!!"})
    yield "no JSON", client.post("/api/explain", content=b"{", headers=ZH_HEADERS)
    yield "unknown model", get("/api/info?model=nope")
    yield "bad method", post("/api/why", {"image": img, "method": "magic"})
    yield "bad target", post("/api/why", {"image": img, "target": "seven"})
    yield "rf fields", post("/api/receptive-field", {"layer": "x"})
    yield "rf layer", post("/api/receptive-field", {"layer": 99, "row": 0, "col": 0})
    yield "rf unit", post("/api/receptive-field", {"layer": 7, "row": 40, "col": 0})
    yield "rf channel", post("/api/receptive-field", {"layer": 7, "row": 0, "col": 0, "channel": 99})
    yield "cell fields", get("/api/mistakes/cell?true=a&predicted=b")
    yield "stride 0", post("/api/explain", {"mode": "conv", "input": [[1, 2]], "kernel": [[1]], "stride": 0})
    yield "kernel too large", post("/api/explain", {"mode": "conv", "input": [[1, 2]], "kernel": [[1, 1, 1]]})
    yield "pool padding", post("/api/explain", {"mode": "max", "input": [[1, 2]] * 4, "size": 2, "padding": 2})
    yield "ragged", post("/api/explain", {"mode": "conv", "input": [[1, 2], [3]], "kernel": [[1]]})
    yield "not numbers", post("/api/explain", {"mode": "conv", "input": [["a"]], "kernel": [[1]]})
    yield "bad mode", post("/api/explain", {"mode": "sum", "input": [[1]]})
    yield "bad padding", post("/api/explain", {"mode": "conv", "input": [[1]], "kernel": [[1]], "padding": -1})
    yield "training from another computer", post("/api/train/start", {})  # (the test client is not local)
    yield "not found", get("/api/nothing")
    yield "method not allowed", get("/api/predict")


def test_every_server_text_the_page_shows_is_chinese_in_chinese_mode(client):
    seen, left = 0, []
    for what, r in requests(client):
        assert r.status_code < 500, (what, r.text)
        for text in texts(r.json()):
            seen += 1
            if english_left(text):
                left.append(f"{what}: {text}")
    assert not left, "\n".join(left)
    assert seen >= 30  # steps, notes, the summary's header, formulas and every refusal above


def test_chinese_answers_carry_chinese_and_english_answers_stay_english(client):
    img = digit()
    zh = client.post("/api/predict", json={"image": img}, headers=ZH_HEADERS).json()
    en = client.post("/api/predict", json={"image": img}).json()
    assert en["steps"][0] == "inverted: light background" and zh["steps"][0] == "已反色：背景是浅色的"
    # the numbers inside a step survive translation: "cropped to the ink (10×60 pixels) ... (3×20)"
    numbers = re.compile(r"\d+×\d+")
    assert numbers.findall(zh["steps"][1]) == numbers.findall(en["steps"][1]) == ["10×60", "20×20", "3×20"]
    q = client.post("/api/explain?lang=zh", json={"mode": "conv", "input": [[1, 2, 3]] * 4, "kernel": [[1, 1]]}).json()
    assert q["formula"] == ["高：⌊(4 + 2·0 − 1) / 1⌋ + 1 = 4", "宽：⌊(3 + 2·0 − 2) / 1⌋ + 1 = 2"]
    conv = client.post("/api/explain?lang=zh", json={"mode": "conv", "input": [[0, 1]], "kernel": [[-1]]}).json()
    assert [c["text"] for c in conv["cells"]] == ["0×(-1) = 0", "1×(-1) = -1"]  # negative operands in brackets
    summary = client.get("/api/info", headers=ZH_HEADERS).json()["summary"]
    assert summary["header"][:3] == ["#", "名称", "层"]
    assert summary["rows"][-1][:3] == ["15", "15", "Linear"] and summary["rows"][-1][6:] == ["全部"] * 3


def test_gradcam_advice_only_where_a_dense_head_mixes_positions(client):
    img = digit()
    lenet = client.post("/api/why", json={"image": img, "method": "gradcam"}).json()
    assert "Trust occlusion and saliency" in lenet["advice"]
    assert client.post("/api/why", json={"image": img, "method": "occlusion"}).json()["advice"] == ""
    conv = [torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU()]
    head = [torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 3)]  # LeNet's head: a dense layer over 6×6 positions
    pooled = [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 3)]  # ResNet's: global pooling
    assert dense_head(summary(torch.nn.Sequential(*conv, *head), (1, 8, 8)))
    assert not dense_head(summary(torch.nn.Sequential(*conv, *pooled), (1, 8, 8)))


def test_the_two_tables_have_the_same_messages_and_fields():
    fields = lambda s: sorted(f for _, f, _, _ in string.Formatter().parse(s) if f)  # noqa: E731
    assert list(EN) == list(ZH)
    for key in EN:
        assert fields(EN[key]) == fields(ZH[key]), key
    # every template, filled in, translates to its own Chinese (no template hides behind another)
    for key, template in EN.items():
        values = {f: f"v{i}" for i, f in enumerate(fields(template))}
        assert translate(template.format(**values), "zh") == ZH[key].format(**values), key


def test_language_of_a_request_and_text_left_alone():
    assert language("zh-CN,zh;q=0.9,en;q=0.8", None) == "zh" and language("en-GB,zh;q=0.5", None) == "en"
    assert language("zh-CN", "en") == "en" and language(None, "zh") == "zh" and language(None, None) == "en"
    assert translate("a sentence the catalogue does not know", "zh") == "a sentence the catalogue does not know"
    assert localize({"prediction": "name", "note": "name"}, "zh") == {"prediction": "name", "note": "名称"}
