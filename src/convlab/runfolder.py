"""The run folder: its files, written after each epoch (state first, then what a person reads),
each atomically, and a fresh folder that never replaces a run unless asked.

    state.pt           what `--resume` reads (metadata.TrainState)
    model.safetensors  the weights, with model.json in their header (metadata.ModelMeta)
    model.json, config.toml, metrics.csv, curves.png, confusion.png
"""

from __future__ import annotations

import typing
from datetime import datetime
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import elastic
from .config import TrainConfig
from .configfile import config_toml
from .errors import UserError
from .fsutil import output_dir
from .metadata import EpochMetrics, TrainState
from .models.user import display_name

if typing.TYPE_CHECKING:
    from .train import Run

RUN_FILES = (
    "model.safetensors",
    "model.json",
    "config.toml",
    "state.pt",
    "metrics.csv",
    "curves.png",
    "confusion.png",
)


def prepare_run_dir(out: str | Path | None, cfg: TrainConfig, force: bool) -> Path:
    """A fresh run folder; an existing one with files is never overwritten unless `force`."""
    if out is None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name = Path(cfg.data).name if cfg.data else cfg.dataset
        out = Path("runs") / f"{name}-{display_name(cfg.model)}-{stamp}"
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise elastic.existing_folder(out)
        for name in RUN_FILES:  # replace only what a run writes
            (out / name).unlink(missing_ok=True)
    return output_dir(out, "run folder")


def save_epoch(run: Run, row: dict) -> None:
    """Record the epoch and write the run folder (rank 0): state first (what resume reads), then
    the user-facing files, each atomic. A failed write keeps the previous epoch's files."""
    run.history.append(row)
    if not run.main:
        return
    try:
        state = TrainState(
            epoch=len(run.history),
            model={k: v.detach().cpu() for k, v in run.model.state_dict().items()},
            optimizer=run.optimizer.state_dict(),
            config=run.cfg.to_dict(),
            mean=run.mean,
            std=run.std,
            history=run.history,
            config_history=run.config_history,
            schedule=run.schedule.to_list(),
            rng=torch.get_rng_state(),
        )
        ckpt.save_state(run.run_dir / "state.pt", state)
        write_run_files(run)
    except OSError as e:
        epoch = row["epoch"]
        kept = f"epoch {epoch - 1}'s checkpoint is intact" if epoch > 1 else "nothing was saved"
        raise UserError(
            f"could not write the checkpoint of epoch {epoch} to {run.run_dir} ({e.strerror or e}); {kept}; "
            f"free space and resume with --resume {run.run_dir}"
        ) from None


def write_run_files(run: Run) -> None:
    """The user-facing files of the last recorded epoch: weights (with their description),
    model.json, config.toml and metrics.csv. Called after each epoch's state.pt, and again on
    resume, so a run killed between its state and these files is made whole."""
    row = run.history[-1]
    run.meta.metrics = EpochMetrics(
        row["epoch"], row["train_loss"], row["train_acc"], row["test_loss"], row["test_acc"]
    )
    run.meta.config = run.cfg.to_dict()
    if run.config_history:
        run.meta.config_history = run.config_history
    folder = run.run_dir
    ckpt.save_weights(folder / "model.safetensors", run.model, run.meta)
    ckpt.save_json(folder / "model.json", run.meta)
    ckpt.save_text(folder / "config.toml", config_toml(run.cfg))
    ckpt.save_metrics_csv(folder / "metrics.csv", run.history)


def files_behind(run: Run) -> bool:
    """Whether the user-facing files lag state.pt (a run killed while writing them)."""
    folder = run.run_dir
    try:
        metrics = ckpt.read_meta((folder / "model.json").read_text(), str(folder / "model.json")).metrics
        rows = (folder / "metrics.csv").read_text().count("\n") - 1
    except (OSError, UnicodeDecodeError, ckpt.CheckpointError):
        return True
    epoch = metrics.epoch if metrics else None
    names = ("model.safetensors", "config.toml")
    return epoch != len(run.history) or rows != len(run.history) or not all((folder / n).is_file() for n in names)
