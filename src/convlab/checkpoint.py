"""Checkpoints: weights in safetensors, metadata in JSON, training state read with weights_only.

A run folder holds
    model.safetensors  the weights; its metadata embeds model.json, so the file alone loads
    model.json         architecture, classes, normalisation, dataset, config, metrics, versions
                       (metadata.ModelMeta)
    state.pt           everything to resume (weights, optimizer, epoch, history, RNG), a plain
                       dict of tensors and numbers loaded with torch.load(weights_only=True)
                       (metadata.TrainState)
    metrics.csv, curves.png, confusion.png
Every file is written to a temporary file and renamed into place (`fsutil.atomic_writer`).
Nothing here ever unpickles arbitrary objects.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as st_save

from . import __version__
from .errors import UserError, unknown_name
from .fsutil import atomic_write_bytes, atomic_write_text
from .metadata import ArchitectureMeta, DatasetMeta, MetadataError, ModelCode, ModelMeta, TrainState
from .models import MODELS, build_model
from .models.pretrained import DEFAULT, bundled, pretrained_path
from .models.user import CodeConsent, build_recorded, display_name, is_user_model, record


class CheckpointError(UserError):
    """A checkpoint that is missing, unreadable or does not fit its architecture."""


def versions() -> dict:
    return {"convlab": __version__, "torch": torch.__version__, "python": platform.python_version()}


def model_meta(
    name: str,
    num_classes: int,
    in_channels: int,
    input_size,
    ops: str,
    classes: list[str],
    mean: float,
    std: float,
    *,
    dark_background: bool,
    input_style: str | None = None,
    dataset: DatasetMeta | None = None,
    extra: dict | None = None,
    code: ModelCode | None = None,
) -> ModelMeta:
    """The description a checkpoint needs to rebuild its model and prepare inputs (metadata.ModelMeta),
    stamped with the versions that wrote it."""
    arch = ArchitectureMeta(name, num_classes, in_channels, (int(input_size[0]), int(input_size[1])), ops, code)
    return ModelMeta(
        arch, list(classes), mean, std, dark_background=dark_background, input_style=input_style,
        dataset=dataset, versions=versions(), extra=dict(extra or {}),
    )  # fmt: skip


# --- writing ------------------------------------------------------------------------------


def save_weights(path: Path, model: torch.nn.Module, meta: ModelMeta) -> None:
    """The weights as safetensors, with `meta` as JSON in the header (the file alone loads)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(path, st_save(tensors, metadata={"convlab": json.dumps(meta.to_dict())}))


def save_state(path: Path, state: TrainState) -> None:
    """state.pt: a plain dict of tensors and numbers (`TrainState.to_dict`), read back with weights_only."""
    buf = io.BytesIO()
    torch.save(state.to_dict(), buf)
    atomic_write_bytes(path, buf.getvalue())


def save_metrics_csv(path: Path, history: list[dict]) -> None:
    if not history:
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(history[0]), lineterminator="\n")
    writer.writeheader()
    for row in history:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, out.getvalue())


def save_json(path: Path, obj: dict | ModelMeta) -> None:
    if isinstance(obj, ModelMeta):
        obj = obj.to_dict()
    atomic_write_text(path, json.dumps(obj, indent=2) + "\n")


def save_text(path: Path, text: str) -> None:
    atomic_write_text(path, text)


# --- reading ------------------------------------------------------------------------------


def _weights_file(path: str | Path) -> Path:
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint (give a run folder or its model.safetensors)")
    if path.suffix in (".pt", ".pth", ".pkl", ".bin", ".ckpt"):
        raise CheckpointError(
            f"{path}: convlab loads weights from .safetensors only, because pickle-based "
            f"files can run code when loaded (convert a plain state_dict with "
            f"`convlab import-weights`)"
        )
    return path


def read_checkpoint(path: str | Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], ModelMeta]:
    """(tensors, meta) from a .safetensors file or run folder, validating the metadata; with
    tensors=False only the header is read (the tensors dict is empty). Raises CheckpointError
    naming the file and, for bad metadata, the field that is wrong."""
    path = _weights_file(path)
    try:
        with safe_open(str(path), framework="pt") as f:  # one read: header (metadata) and tensors
            header = f.metadata() or {}
            weights = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable safetensors file ({e})") from None
    if "convlab" not in header:
        raise CheckpointError(f"{path}: safetensors file has no convlab metadata (architecture, classes)")
    meta = read_meta(header["convlab"], str(path))
    if meta.architecture.code is None and meta.architecture.name not in MODELS:
        raise CheckpointError(f"{path}: unknown architecture {meta.architecture.name!r} (known: {', '.join(MODELS)})")
    meta.path = str(path)
    return weights, meta


def read_meta(text: str, where: str) -> ModelMeta:
    """The metadata JSON of a checkpoint (model.json, the safetensors header) as a ModelMeta; raises
    CheckpointError naming the field that is wrong."""
    try:
        meta = json.loads(text)
    except ValueError:
        raise CheckpointError(f"{where}: convlab metadata is malformed or inconsistent: not JSON") from None
    try:
        return ModelMeta.from_dict(meta, where)
    except MetadataError as e:
        raise CheckpointError(str(e)) from None


def build_from_meta(meta: ModelMeta, ops: str | None = None, consent: CodeConsent | None = None) -> torch.nn.Module:
    """A fresh model of the architecture `meta` describes (on `ops`, else the one it was trained on).
    A network of the user's own code is built only as `consent` allows (models/user.py)."""
    arch = meta.architecture
    if arch.code is not None:
        return build_recorded(arch, consent, str(meta.path or "the checkpoint"), ops)
    return build_model(arch.name, arch.num_classes, arch.in_channels, arch.input_size, ops or arch.ops)


def load_into(model: torch.nn.Module, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Load weights, refusing missing, extra or mis-shaped tensors with one clear message."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    shapes = [
        f"{k} {tuple(tensors[k].shape)} vs {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or extra or shapes:
        parts = (
            ([f"missing {', '.join(missing[:3])}"] if missing else [])
            + ([f"unexpected {', '.join(extra[:3])}"] if extra else [])
            + ([f"wrong shape {'; '.join(shapes[:2])}"] if shapes else [])
        )
        raise CheckpointError(f"{where}: weights do not fit the architecture ({'; '.join(parts)})")
    model.load_state_dict(tensors)


def resolve(source: str | Path | None) -> Path:
    """A checkpoint as given: a bundled name (`lenet-modern-digits`), a run folder or a .safetensors
    file; None means the default bundled checkpoint."""
    if source is None:
        return pretrained_path(DEFAULT)
    if str(source) in bundled():
        return pretrained_path(str(source))
    path = Path(source).expanduser()
    if not path.exists() and "/" not in str(source) and "." not in Path(str(source)).name:
        close = unknown_name("bundled checkpoint", str(source), bundled())
        raise CheckpointError(f"{source}: no such checkpoint file or folder, and {close}") from None
    return path


@dataclass
class Checkpoint:
    """A loaded model (eval mode) and its description."""

    model: torch.nn.Module
    meta: ModelMeta

    @property
    def classes(self) -> list[str]:
        return self.meta.classes

    @property
    def mean(self) -> float:
        return self.meta.mean

    @property
    def std(self) -> float:
        return self.meta.std

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one input image."""
        a = self.meta.architecture
        return (a.in_channels, *a.input_size)


def load_checkpoint(
    path: str | Path | None = None, ops: str | None = None, device="cpu", consent: CodeConsent | None = None
) -> Checkpoint:
    """A ready-to-use model (eval mode) from a bundled name, a run folder or a .safetensors file;
    None loads the default bundled checkpoint (`lenet-modern-fashion-mnist`). A checkpoint of the
    user's own code loads only as `consent` allows (`--model FILE.py:NAME`, `--trust-model-code`),
    else raises UserError."""
    tensors, meta = read_checkpoint(resolve(path))
    model = build_from_meta(meta, ops, consent)
    load_into(model, tensors, str(meta.path))
    return Checkpoint(model.to(device).eval(), meta)


def import_state_dict(
    path: str | Path,
    model: str,
    classes: list[str],
    mean: float,
    std: float,
    out: str | Path,
    in_channels: int = 1,
    input_size=(28, 28),
    force: bool = False,
    dataset: DatasetMeta | None = None,
    model_args: dict | None = None,
) -> Path:
    """Convert a plain PyTorch state_dict file (.pt/.pth) for a known architecture (or your own,
    `FILE.py:NAME`, whose code is recorded with it) into a convlab .safetensors checkpoint.
    The file is read with `weights_only=True`: anything but
    tensors and plain containers is refused, so nothing in it can run."""
    path, out = Path(path).expanduser(), Path(out).expanduser()
    if out.exists() and not force:
        raise CheckpointError(f"{out} already exists; use --force to replace it")
    if not out.parent.is_dir():
        raise CheckpointError(f"{out.parent} does not exist; create it first")
    obj = _safe_torch_load(path)
    if isinstance(obj, dict) and not all(isinstance(v, torch.Tensor) for v in obj.values()):
        obj = next((obj[k] for k in ("state_dict", "model") if isinstance(obj.get(k), dict)), obj)
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a dict of tensors (a state_dict)")
    net = build_model(model, len(classes), in_channels, tuple(input_size), model_args=model_args)
    load_into(net, obj, str(path))
    code = record(model, model_args) if is_user_model(model) else None
    meta = model_meta(
        display_name(model), len(classes), in_channels, input_size, "torch", classes, mean, std,
        dark_background=mean < 0.5, dataset=dataset, extra={"imported_from": path.name}, code=code,
    )  # fmt: skip
    save_weights(out, net, meta)
    return out


def _safe_torch_load(path: Path):
    """torch.load with weights_only=True, its warnings silenced and its refusal made one line."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as e:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        reason = f"it asks to run {found[1]}, which could execute code" if found else str(e).splitlines()[0][:160]
        raise CheckpointError(f"{path}: refused: not a plain file of tensors ({reason})") from None


def load_state(run_dir: str | Path) -> TrainState:
    """The resumable state of a run folder (weights_only: no code runs); raises CheckpointError
    when it is missing, unreadable, or a field is wrong (named)."""
    path = Path(run_dir).expanduser() / "state.pt"
    if not path.is_file():
        raise CheckpointError(
            f"{run_dir}: no training state to resume (state.pt missing); it is written after each completed epoch"
        )
    try:
        state = _safe_torch_load(path)
    except CheckpointError as e:
        raise CheckpointError(f"unreadable training state: {e}") from None
    if not isinstance(state, dict) or not {"epoch", "model", "optimizer", "config"} <= set(state):
        raise CheckpointError(f"{path}: not a convlab training state")
    try:
        return TrainState.from_dict(state, str(path))
    except MetadataError as e:
        raise CheckpointError(str(e)) from None
