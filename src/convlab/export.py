"""Handing a model off: one self-contained ONNX file, checked and compared with PyTorch.

The graph takes float input (batch, C, H, W) already normalised — the normalisation and
class names travel in the file's metadata (`convlab.classes`, `convlab.mean`,
`convlab.std`, `convlab.input_shape`) so a consumer with only onnxruntime can prepare
images the same way. The batch dimension is dynamic.
"""

from __future__ import annotations

import functools
import json
import tempfile
from pathlib import Path

import torch

from .checkpoint import Checkpoint
from .errors import UserError
from .fsutil import atomic_write_bytes
from .models.user import own_code

FORMATS = ("onnx",)


def export_onnx(ck: Checkpoint, out: str | Path, force: bool = False, samples: int = 16, seed: int = 0) -> dict:
    """Write `out`, validate it with onnx.checker, and compare onnxruntime with PyTorch on
    `samples` random inputs (batch sizes 1 and `samples`); `out` is written only when all pass.

    Returns {path, bytes, max_abs_diff (logits, onnxruntime vs PyTorch), opset, metadata}. Raises
    UserError without the export extra, for an `out` that is a folder, in a missing folder, or
    existing without `force`; UserCodeError when your own network's forward fails (`own_code`: your
    traceback, one line); onnx.checker's ValidationError for a model it rejects (a bug)."""
    try:
        import onnx
        import onnxruntime as ort
    except ImportError as e:
        raise UserError(
            f"ONNX export needs the export extra ({e.name} missing): pip install 'convlab[export]'"
        ) from None
    out = Path(out).expanduser()
    if out.is_dir():
        raise UserError(f"--out {out} is a folder; give a file name such as model.onnx")
    if not out.parent.is_dir():
        raise UserError(f"folder {out.parent} does not exist; create it first")
    if out.exists() and not force:
        raise UserError(f"{out} already exists; use --force to replace it")
    model = ck.model.cpu().eval()
    c, h, w = ck.input_shape
    example = torch.randn(2, c, h, w)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():  # the file is checked before --out is written
        exported = Path(tmp) / "model.onnx"
        with own_code(model, lambda: f"in the ONNX export (traced on a batch of shape {tuple(example.shape)})"):
            _export(model, example, exported)
        proto = onnx.load(str(exported))
    meta = {
        "convlab.classes": json.dumps(ck.classes),
        "convlab.mean": repr(ck.mean),
        "convlab.std": repr(ck.std),
        "convlab.input_shape": json.dumps(list(ck.input_shape)),
        "convlab.architecture": json.dumps(ck.meta.architecture.to_dict()),
        "convlab.dark_background": json.dumps(ck.meta.dark_background),
    }
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    proto.doc_string = "convlab model: input is (x/255 - mean)/std, see metadata"
    onnx.checker.check_model(proto, full_check=True)
    data = proto.SerializeToString()
    session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    worst = _largest_difference(model, session, (c, h, w), samples, seed)
    atomic_write_bytes(out, data)
    return {"path": str(out), "bytes": len(data), "max_abs_diff": worst, "opset": 17, "metadata": meta}


def _export(model: torch.nn.Module, example: torch.Tensor, exported: Path) -> None:
    """torch.onnx.export of `model` traced on `example` (B, C, H, W) into the file `exported`."""
    torch.onnx.export(
        model,
        (example,),
        exported,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def _largest_difference(model: torch.nn.Module, session, shape: tuple[int, int, int], samples: int, seed: int) -> float:
    """The largest |logit| difference between onnxruntime's `session` and PyTorch's `model` over
    random (batch, *shape) inputs, batch sizes 1 and `samples`."""
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch in (1, samples):
        x = torch.randn(batch, *shape, generator=g)
        with torch.no_grad(), own_code(model, functools.partial(_batch_text, x)):
            expected = model(x).numpy()
        got = session.run(["logits"], {"image": x.numpy()})[0]
        worst = max(worst, float(abs(got - expected).max()))
    return worst


def _batch_text(x: torch.Tensor) -> str:
    return f"on a batch of shape {tuple(x.shape)}"
