"""The steps that prepare a run before its first training step, each returning what it made.

`train.setup` calls them in this order and builds `train.Run` from what they return:

    settle_config   the resolved config (`config.resolve`), or a resumed run's saved one and its state
    join_processes  the device, rank and world size (torchrun), with the batch-size checks
    load_data       the dataset and its training images, cut to --max-train
    prepare_folder  the run folder, the same on every rank (never overwriting a run without --force)
    build_network   the model, seeded, on its device
    make_optimizer  AdamW or SGD, weight decay on weights only
    describe_model  the checkpoint's metadata (metadata.ModelMeta)
    plan_schedule   the learning-rate schedule (schedule.py)
    wrap_network    DistributedDataParallel and torch.compile around the model, where asked
"""

from __future__ import annotations

import os
import typing
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from . import checkpoint as ckpt
from . import distributed as dist
from .config import RESUME_SAFE, TrainConfig, flag, resolve, resolve_device, settled
from .data import ImageDataset, load_dataset
from .data.loader import MIN_BATCH_PER_PROCESS
from .data.sources import KNOWN
from .errors import UserError
from .metadata import ArchitectureMeta, DatasetMeta, ModelCode, ModelMeta, TrainState
from .models import build_model
from .models.user import (
    CodeConsent,
    build_recorded,
    display_name,
    is_user_model,
    parse_args_json,
    record,
    require_consent,
)
from .runfolder import prepare_run_dir
from .schedule import Schedule


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=settled(cfg.lr, "lr"), momentum=cfg.momentum, nesterov=cfg.momentum > 0)
    return torch.optim.AdamW(groups, lr=settled(cfg.lr, "lr"))


@dataclass(frozen=True)
class OwnCode:
    """A resumed run of your own network: what its checkpoint records (the code, the data's sizes)
    and what the command line allows to run (`--model FILE.py:NAME` or `--trust-model-code`)."""

    arch: ArchitectureMeta
    consent: CodeConsent
    where: str  # the run folder, for messages


def settle_config(
    cfg: TrainConfig | None,
    resume: str | Path | None,
    overrides: dict | None,
    dataset: ImageDataset | None,
    consent: CodeConsent | None = None,
) -> tuple[TrainConfig, TrainState | None, dict, OwnCode | None]:
    """The resolved config to train (`config.resolve`), with the saved state, the options changed
    when resuming ({option: [old, new]}) and, for a resumed run of your own network, its recorded
    code (`OwnCode`; refused with UserError unless `consent` allows it to run)."""
    if resume is None:
        if overrides:
            raise TypeError("fit(overrides=...) changes a resumed run; pass the options in cfg instead")
        return resolve(cfg or TrainConfig(), dataset), None, {}, None
    state = ckpt.load_state(resume)
    saved = TrainConfig.from_dict(state.config, f"{resume}/state.pt")
    overrides = dict(overrides or {})
    if consent is None and cfg is not None and is_user_model(cfg.model):  # (a torchrun restart of a fresh run)
        consent = CodeConsent(model=cfg.model)
    own = None
    if is_user_model(saved.model) and is_user_model(overrides.get("model")):
        consent = replace(consent or CodeConsent(), model=overrides.pop("model"))
    changes = _apply_overrides(saved, overrides)
    if is_user_model(saved.model):  # its code runs only if the command line says so, never because the folder names it
        own = _own_code(resume, consent)
    return resolve(saved, dataset, recipe_defaults=False), state, changes, own  # (runs saved before amp was resolved)


def _own_code(resume: str | Path, consent: CodeConsent | None) -> OwnCode:
    """The recorded code of a resumed run, with the consent to run it (UserError without one)."""
    arch = ckpt.read_checkpoint(resume, tensors=False)[1].architecture
    if arch.code is None:
        raise UserError(f"{resume}: its config names your own code but its checkpoint records none; start a new run")
    return OwnCode(arch, require_consent(arch.code, consent, str(resume)), str(resume))


def join_processes(cfg: TrainConfig) -> tuple[torch.device, int, int]:
    """(device, rank, world size): this process's device, joined with the others under torchrun;
    refuses a batch size that does not split into at least MIN_BATCH_PER_PROCESS per process."""
    device = resolve_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rank, world = dist.setup(device)
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if world > 1:
        _check_same_arguments(cfg, device, world)
    if cfg.batch_size < MIN_BATCH_PER_PROCESS * world:
        raise UserError(
            f"--batch-size {cfg.batch_size} gives each of the {world} processes fewer than {MIN_BATCH_PER_PROCESS} "
            f"images per step; use at least {MIN_BATCH_PER_PROCESS * world}"
        )
    if cfg.batch_size % world:
        lower, upper = cfg.batch_size - cfg.batch_size % world, cfg.batch_size + world - cfg.batch_size % world
        raise UserError(
            f"--batch-size {cfg.batch_size} does not split evenly over {world} processes (the batch size is "
            f"global); use a multiple of {world}, e.g. {lower or upper} or {upper}"
        )
    return device, rank, world


def load_data(
    cfg: TrainConfig, dataset: ImageDataset | None, world: int, progress: bool
) -> tuple[ImageDataset, torch.Tensor, torch.Tensor]:
    """The dataset (the one given, else loaded as `cfg` says) and its training images (N, C, H, W)
    uint8 and labels (N,), cut to `max_train` (the first N; where those miss a class, as in a dataset
    sorted by class, N spread evenly over the set); refuses too few images for one batch per process."""
    ds = dataset or load_dataset(
        cfg.dataset, cfg.data, cfg.data_dir, cfg.channels, cfg.input_size, cfg.seed, cfg.skip_bad,
        cfg.label_column, progress=progress,
    )  # fmt: skip
    train_x, train_y = ds.train_x, ds.train_y
    if cfg.max_train and cfg.max_train < len(train_y):
        keep: slice | torch.Tensor = slice(cfg.max_train)
        if train_y[keep].unique().numel() < train_y.unique().numel():  # sorted by class: every class still
            keep = torch.linspace(0, len(train_y) - 1, cfg.max_train).round().long()
        train_x, train_y = train_x[keep], train_y[keep]
    need = MIN_BATCH_PER_PROCESS * world
    if len(train_y) < need:
        raise UserError(
            f"{len(train_y)} training image(s) are too few: a training batch needs at least "
            f"{MIN_BATCH_PER_PROCESS} per process ({need} in all); use more data or a larger --max-train"
        )
    return ds, train_x, train_y


def prepare_folder(out: str | Path | None, resume: str | Path | None, cfg: TrainConfig, force: bool, rank: int) -> Path:
    """The run folder, the same on every rank: the resumed one, else a fresh one that rank 0 makes
    (`prepare_run_dir`); temporaries of a write that was killed midway are removed."""
    chosen = None
    if rank == 0:
        chosen = Path(resume) if resume is not None else prepare_run_dir(out, cfg, force)
        for stale in chosen.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    return Path(dist.broadcast_object(str(chosen) if chosen else None))


def build_network(
    cfg: TrainConfig, ds: ImageDataset, device: torch.device, world: int, own: OwnCode | None = None
) -> torch.nn.Module:
    """The model, initialised from `cfg.seed`, on its device (SyncBN under torchrun if asked;
    channels-last memory if asked); a resumed run of your own network from its recorded code (`own`)."""
    torch.manual_seed(cfg.seed)
    if own is not None:
        model = build_recorded(own.arch, own.consent, own.where, cfg.ops)
    else:
        model = build_model(cfg.model, ds.num_classes, ds.channels, ds.size, cfg.ops, parse_args_json(cfg.model_args))
    if world > 1 and cfg.sync_bn:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model


def describe_model(
    cfg: TrainConfig, ds: ImageDataset, n_train: int, mean: float, std: float, code: ModelCode | None = None
) -> ModelMeta:
    """The checkpoint's description of the model (`checkpoint.model_meta`): architecture, classes,
    normalisation, how inputs are prepared, and the data it learned from (your own network's
    `code` as recorded; else read from `cfg.model`'s file)."""
    if code is None and is_user_model(cfg.model):
        code = record(cfg.model, parse_args_json(cfg.model_args))
    digits = cfg.data is None and ds.name in KNOWN and KNOWN[ds.name].mnist_style  # prepared as MNIST, unless told
    return ckpt.model_meta(
        display_name(cfg.model), ds.num_classes, ds.channels, ds.size, cfg.ops, ds.classes, mean, std,
        dark_background=mean < 0.5,
        input_style=cfg.input_style or ("mnist" if digits else "fit"),
        dataset=DatasetMeta(ds.name, ds.source, n_train, len(ds.test_y), list(ds.notes)), code=code,
    )  # fmt: skip


def plan_schedule(cfg: TrainConfig, steps_per_epoch: int) -> Schedule:
    """The learning-rate schedule of a fresh run of `cfg` (schedule.py)."""
    epochs, lr = settled(cfg.epochs, "epochs"), settled(cfg.lr, "lr")
    return Schedule.plan(steps_per_epoch * epochs, lr, cfg.warmup, cfg.schedule)


def wrap_network(model: torch.nn.Module, cfg: TrainConfig, device: torch.device, world: int) -> torch.nn.Module:
    """The model as trained: under DistributedDataParallel with several processes, compiled if asked."""
    net = model
    if world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    if cfg.compile:
        net = typing.cast(torch.nn.Module, torch.compile(net))
    return net


def _apply_overrides(cfg: TrainConfig, overrides: dict) -> dict:
    """Apply the options a resumed run may change; refuse any other, naming it."""
    refused = [k for k in overrides if k not in RESUME_SAFE]
    if refused:
        allowed = ", ".join(flag(k) for k in RESUME_SAFE)
        raise UserError(
            f"{flag(refused[0])} cannot be changed when resuming (the run keeps its saved recipe); "
            f"with --resume only {allowed} and --quiet may be given (and, for a run of your own network, "
            f"--model FILE.py:NAME or --trust-model-code)"
        )
    changes = {k: [getattr(cfg, k), v] for k, v in overrides.items() if getattr(cfg, k) != v}
    for k, (_, new) in changes.items():
        setattr(cfg, k, new)
    return changes


def _check_same_arguments(cfg: TrainConfig, device: torch.device, world: int) -> None:
    """Every rank must run the same job: compare each rank's config with rank 0's."""
    mine = cfg.to_dict()
    first = dist.broadcast_object(mine)
    differ = sorted(k for k in mine if mine[k] != first.get(k))
    if dist.all_max(torch.tensor(len(differ), device=device)).item():
        raise UserError(
            f"the {world} processes were started with different arguments"
            + (f" ({', '.join(differ)} differ from rank 0's)" if differ else "")
            + "; launch them with identical arguments"
        )
