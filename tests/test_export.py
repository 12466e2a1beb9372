"""ONNX export: a self-contained file that onnxruntime alone runs like PyTorch."""

import json

import numpy as np
import pytest

from conftest import assert_user_error, run_here

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet", "lenet-modern"])
def test_export_agrees_with_pytorch_on_real_images(name, cli, tmp_path, fashion_dir):
    from convlab.checkpoint import load_checkpoint
    from convlab.data import load_dataset
    from convlab.models.pretrained import pretrained_path

    out = tmp_path / f"{name}.onnx"
    r = cli("export", "--checkpoint", f"{name}-fashion-mnist", "--out", out)  # a bundled name
    assert r.returncode == 0, r.stderr
    assert "onnx.checker passed" in r.stdout
    model = onnx.load(str(out))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    # a consumer with only onnxruntime and the metadata: normalise, run, read class names
    classes, mean, std = json.loads(meta["convlab.classes"]), float(meta["convlab.mean"]), float(meta["convlab.std"])
    ds = load_dataset("fashion-mnist", progress=False)
    x = (ds.test_x[:500].numpy().astype(np.float32) / 255 - mean) / std
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"image": x})[0]
    ck = load_checkpoint(pretrained_path(f"{name}-fashion-mnist"))
    import torch

    with torch.no_grad():
        expected = ck.model(torch.from_numpy(x)).numpy()
    # float32 on two engines (their own summation orders, per CPU): 1e-5 of the logits' scale
    assert np.abs(logits - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))
    assert classes[int(logits[0].argmax())] == "Ankle boot"
    assert (logits.argmax(1) == ds.test_y[:500].numpy()).mean() > 0.85


@pytest.mark.slow
def test_bad_export_requests(tmp_path):
    existing = tmp_path / "m.onnx"
    existing.write_bytes(b"keep me")
    assert_user_error(run_here("export", "--format", "tflite", "--out", tmp_path / "x"), "unknown export format")
    assert_user_error(run_here("export", "--out", tmp_path / "missing" / "m.onnx"), "does not exist")
    assert_user_error(run_here("export", "--out", existing), "already exists", "--force")
    assert existing.read_bytes() == b"keep me"
    assert not (tmp_path / "missing").exists()
