"""Your own network in `convlab export` and in the playground, in-process and without training
(weights as built, saved with their code).

- A forward that fails in the export is your error: your traceback, one line, exit 2, nothing written.
- In the playground API it is a 422 with one line (English and Chinese), its traceback in the
  server's log; the server keeps answering.
- A network torch.fx cannot trace (a shape-dependent Python `if`) is still shown, module by module
  (forward hooks); a traced graph with rows that are not tensors (`torch._assert`'s bool and None, a
  module returning a tuple) draws its tensors and skips the rest, on the page and in the live
  training's snapshots.

Oracles: PyTorch run directly on the same weights (`F.conv2d`, the model's own output) and forward
hooks written here; the batch the export traces (2, by its code).
"""

from __future__ import annotations

import base64
import io
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from conftest import run_here

NETS = '''
import torch
from torch import nn


class Moody(nn.Module):
    """Refuses the export's traced batch of 2, and bright pixels (a drawing on the page; not the
    summary's random probe in [0, 1)), with a shape-dependent `if`, which torch.fx cannot trace."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 5, stride=4)
        self.head = nn.Linear(4 * 6 * 6, num_classes)

    def forward(self, x):
        if x.shape[0] == 2 or x.amax() > 1.5:
            raise ValueError("Moody refuses this input")  # (the line the traceback shows)
        return self.head(torch.flatten(self.conv(x), 1))


class Split(nn.Module):
    """A module without children (a leaf of the graph) that returns a tuple."""

    def forward(self, x):
        return x[:, :2], x[:, 2:]


class Branchy(nn.Module):
    """Shape-dependent `if`s (untraceable), and a leaf returning a tuple."""

    def __init__(self, num_classes=10, in_channels=1):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 4, 5, stride=4)
        self.split = Split()
        self.head = nn.Linear(4 * 6 * 6, num_classes)

    def forward(self, x):
        if x.shape[-1] != 28:
            raise ValueError("28×28 only")
        a, b = self.split(self.conv(x))
        return self.head(torch.flatten(torch.cat([a, b], 1), 1))


class Asserting(Branchy):
    """Traceable: `torch._assert` (a bool row, then a None row) and the tuple-returning leaf."""

    def forward(self, x):
        torch._assert(x.shape[1] == 1, "one channel")
        a, b = self.split(self.conv(x))
        return self.head(torch.flatten(torch.cat([a, b], 1), 1))
'''

CLASSES = [str(i) for i in range(10)]


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    path = tmp_path_factory.mktemp("nets") / "nets.py"
    path.write_text(NETS)
    return path


def checkpoint(nets, name):
    """Your network `name` as built (seeded), as a Checkpoint that records its code."""
    from convlab.checkpoint import Checkpoint, model_meta
    from convlab.models import build_model
    from convlab.models.user import record

    spec = f"{nets}:{name}"
    torch.manual_seed(0)
    model = build_model(spec, 10, 1, (28, 28)).eval()
    meta = model_meta(name, 10, 1, (28, 28), "torch", CLASSES, 0.5, 0.25, dark_background=True, input_style="fit",
                      code=record(spec))  # fmt: skip
    return Checkpoint(model, meta)


def png(a: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def stroke() -> np.ndarray:
    a = np.zeros((28, 28), dtype=np.uint8)
    a[6:22, 12:16] = 255  # a light bar on black, as the model's data
    return a


def client_for(ck, name):
    from starlette.testclient import TestClient

    from convlab.web.app import create_app
    from convlab.web.models import Models

    return TestClient(create_app(Models(ck, name)))


# --- export -----------------------------------------------------------------------------------


def test_export_of_a_network_failing_in_its_forward_is_your_error(nets, tmp_path):
    from convlab.checkpoint import save_weights

    ck = checkpoint(nets, "Moody")
    weights = tmp_path / "moody.safetensors"
    save_weights(weights, ck.model, ck.meta)
    out = tmp_path / "m.onnx"
    out.write_bytes(b"old")
    r = run_here("export", "--checkpoint", weights, "--model", f"{nets}:Moody", "--out", out, "--force")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert "Traceback (most recent call last):" in lines and f'File "{nets}", line' in r.stderr
    assert "(the line the traceback shows)" in r.stderr and "convlab/" not in r.stderr
    assert lines[-1] == (
        "convlab: error: Moody failed in the ONNX export (traced on a batch of shape (2, 1, 28, 28)): "
        "Moody.forward raised (ValueError: Moody refuses this input)"
    )
    assert out.read_bytes() == b"old"


# --- the playground API -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def moody(nets):
    return client_for(checkpoint(nets, "Moody"), "moody")


@pytest.mark.parametrize(
    ("path", "body", "doing"),
    [
        ("/api/predict", {}, "on the uploaded image"),
        ("/api/why", {"method": "saliency"}, "while explaining a prediction"),
        ("/api/why", {"method": "occlusion"}, "while explaining a prediction"),
    ],
)
def test_your_networks_failure_is_a_422_with_one_line(moody, path, body, doing, caplog):
    with caplog.at_level(logging.ERROR, logger="convlab.web"):
        r = moody.post(path, json={"image": png(stroke()), **body})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error == (
        f"Moody failed {doing}: Moody.forward raised (ValueError: Moody refuses this input); "
        "its traceback is in the server's log"
    )
    assert "\n" not in error
    logged = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "(the line the traceback shows)" in logged and f'File "{nets_file(moody)}"' in logged
    assert moody.get("/api/info").status_code == 200  # the server goes on answering


def nets_file(client) -> str:
    from convlab.models.user import source_file

    model = client.app.state.models.get(None).ck.model
    return str(source_file(type(model)))


def test_your_networks_failure_in_chinese(moody):
    r = moody.post("/api/predict", json={"image": png(stroke())}, headers={"Accept-Language": "zh-CN"})
    assert r.status_code == 422
    assert r.json()["error"] == (
        "你的网络 Moody 处理上传的图像时出错：Moody.forward 抛出了异常（ValueError: Moody refuses this input）；"
        "完整的回溯见服务器日志"
    )


def test_a_layer_named_in_the_failure_is_translated():
    from convlab.web.messages import translate

    text = (
        "Net failed while explaining a prediction: layer 'head' (Linear) raised (RuntimeError: x); "
        "its traceback is in the server's log"
    )
    assert translate(text, "zh") == (
        "你的网络 Net 解释预测时出错：层 'head'（Linear） 抛出了异常（RuntimeError: x）；完整的回溯见服务器日志"
    )


# --- networks without a clean graph ---------------------------------------------------------


def hooked(model, x):
    """(module path, output) of each module without children, by forward hooks written here."""
    names = {m: n for n, m in model.named_modules()}
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((names[m], o))) for m in model.modules()
             if not list(m.children())]  # fmt: skip
    with torch.no_grad():
        y = model(x)
    for h in hooks:
        h.remove()
    return seen, y


@pytest.mark.parametrize("name", ["Branchy", "Asserting"])
def test_the_page_shows_the_layers_of_a_network_with_ifs_or_non_tensor_rows(nets, name):
    ck = checkpoint(nets, name)
    client = client_for(ck, name.lower())
    info = client.get("/api/info")
    assert info.status_code == 200, info.text
    r = client.post("/api/predict", json={"image": png(stroke())})
    assert r.status_code == 200, r.text
    answer = r.json()
    x = (torch.tensor(stroke(), dtype=torch.float32)[None, None] / 255 - 0.5) / 0.25
    seen, y = hooked(ck.model, x)
    conv = F.conv2d(x, ck.model.conv.weight, ck.model.conv.bias, stride=4)  # (1, 4, 6, 6)
    maps = {m["path"]: m for m in answer["layers"]}
    assert maps["conv"]["shape"] == [4, 6, 6]
    assert maps["conv"]["min"] == pytest.approx(conv.min().item(), abs=1e-5)
    assert maps["conv"]["max"] == pytest.approx(conv.max().item(), abs=1e-5)
    assert maps["head"]["shape"] == [10]
    assert "split" not in maps  # a tuple: not drawn
    assert all(isinstance(m["data"], str) for m in answer["layers"])
    assert answer["probabilities"] == pytest.approx(torch.softmax(y[0], 0).tolist(), abs=1e-5)
    assert [n for n, _ in seen] == ["conv", "split", "head"]


@pytest.mark.parametrize("name", ["Branchy", "Asserting"])
def test_the_live_snapshot_skips_rows_that_are_not_tensors(nets, name, tmp_path):
    from convlab.web.live import Recorder

    ck = checkpoint(nets, name)
    rec = Recorder(tmp_path / "live.jsonl")
    x = torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    rec.probe = x
    run = SimpleNamespace(model=ck.model, device="cpu", cfg=SimpleNamespace(channels_last=False))
    rec.snapshot(run, 7)
    rec.file.close()
    import json

    snap = json.loads((tmp_path / "live.jsonl").read_text())
    seen, y = hooked(ck.model, x)
    assert snap["step"] == 7
    assert snap["probabilities"] == pytest.approx(torch.softmax(y[0], 0).tolist(), abs=1e-4)
    conv = next(m for m in snap["layers"] if m["path"] == "conv")
    assert conv["shape"] == [4, 6, 6] and conv["max"] == pytest.approx(dict(seen)["conv"].max().item(), abs=1e-5)
    assert "split" not in {m["path"] for m in snap["layers"]}


def test_grad_cam_on_a_graph_with_non_tensor_rows(nets):
    """`torch._assert`'s rows have no shape: Grad-CAM still finds the convolution's map (6×6)."""
    client = client_for(checkpoint(nets, "Asserting"), "asserting")
    r = client.post("/api/why", json={"image": png(stroke()), "method": "gradcam"})
    assert r.status_code == 200, r.text
    assert r.json()["note"].startswith("Grad-CAM at conv (Conv2d, 4×6×6)"), r.json()["note"]


@pytest.mark.parametrize("name", ["Branchy", "Asserting"])
def test_visualize_draws_the_maps_of_a_network_with_ifs_or_non_tensor_rows(nets, name, tmp_path):
    from convlab.checkpoint import save_weights

    ck = checkpoint(nets, name)
    weights = tmp_path / "net.safetensors"
    save_weights(weights, ck.model, ck.meta)
    image = tmp_path / "bar.png"
    Image.fromarray(stroke()).save(image)
    r = run_here("visualize", image, "--checkpoint", weights, "--model", f"{nets}:{name}", "--out", tmp_path / "maps")
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in (tmp_path / "maps").iterdir())
    kinds = [f.split("_", 1)[1] for f in files if f.startswith("layer")]
    assert kinds == ["conv2d.png", "cat.png", "flatten.png", "linear.png"][:: 1 if name == "Asserting" else 3]
    assert "kernels.png" in files and "input.png" in files
