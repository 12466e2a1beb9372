"""Checkpoint metadata as dataclasses: the bundled checkpoints (written by earlier versions) read
and write back byte for byte, a wrong field is named, and state.pt in every layout convlab has
written (with and without its schedule and config history) is read."""

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from convlab.checkpoint import CheckpointError, load_checkpoint, read_meta
from convlab.errors import UserError
from convlab.metadata import ModelMeta, TrainState
from convlab.models.pretrained import bundled, pretrained_path


def header(name: str) -> dict:
    with safe_open(str(pretrained_path(name)), "pt") as f:
        return json.loads(f.metadata()["convlab"])


@pytest.mark.parametrize("name", bundled())
def test_bundled_metadata_reads_into_fields_and_writes_back_unchanged(name):
    saved = header(name)
    meta = ModelMeta.from_dict(saved, name)
    assert meta.to_dict() == saved  # every key, value and order the earlier version wrote
    assert list(meta.to_dict()) == list(saved)
    arch = saved["architecture"]
    assert (meta.architecture.name, meta.architecture.num_classes, meta.architecture.input_size) == (
        arch["name"],
        arch["num_classes"],
        tuple(arch["input_size"]),
    )
    assert (meta.mean, meta.std, meta.classes) == (
        saved["normalization"]["mean"],
        saved["normalization"]["std"],
        saved["classes"],
    )
    assert meta.dataset_name == saved["dataset"]["name"] and meta.seed == saved["config"]["seed"]
    assert meta.metrics is not None and meta.metrics.test_acc == saved["metrics"]["test_acc"]
    ck = load_checkpoint(name)
    assert ck.input_shape == (arch["in_channels"], *arch["input_size"]) and ck.meta.path == str(pretrained_path(name))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"format": "something-else"}, "'format' must be 'convlab-model'"),
        ({"classes": ["only one"]}, "'classes' must be 10 names"),
        ({"classes": None}, "'classes' is missing"),
        ({"normalization": {"mean": "x", "std": 1}}, "'normalization.mean' must be a finite number"),
        ({"normalization": {"mean": 0.5, "std": 0}}, "'normalization.std' must be positive"),
        ({"architecture": {"name": "lenet", "num_classes": 10, "in_channels": 2, "input_size": [28, 28]}},
         "'architecture.in_channels' must be 1 or 3"),
        ({"architecture": {"name": "lenet", "num_classes": 10, "in_channels": 1, "input_size": [28]}},
         "'architecture.input_size' must be"),
        ({"dataset": ["digits"]}, "'dataset' must be a dict"),
        ({"metrics": {"test_acc": "high"}}, "'metrics.test_acc' must be a finite number"),
        ({"config": 3}, "'config' must be a dict"),
    ],
)  # fmt: skip
def test_a_wrong_field_is_named(change, field):
    text = json.dumps({**header("lenet-digits"), **change})
    with pytest.raises(CheckpointError, match="x.safetensors: convlab metadata is malformed or inconsistent: " + field):
        read_meta(text, "x.safetensors")


def test_unknown_keys_are_kept_and_an_import_without_training_figures_reads():
    saved = {**header("lenet-digits"), "imported_from": "w.pth", "notes": "by hand"}
    del saved["metrics"], saved["config"], saved["dataset"], saved["input_style"]
    meta = ModelMeta.from_dict(saved, "x")
    assert meta.extra == {"imported_from": "w.pth", "notes": "by hand"}
    assert (meta.metrics, meta.config, meta.dataset_name, meta.input_style, meta.seed) == (None, None, None, None, 0)
    assert meta.to_dict() == saved


def _state(**drop) -> dict:
    """state.pt as convlab has written it since resuming existed (written out by hand, key by key)."""
    state = {
        "epoch": 2,
        "model": {"0.weight": torch.ones(2, 2)},
        "optimizer": {"state": {}, "param_groups": []},
        "history": [{"epoch": 1, "test_acc": 0.5}, {"epoch": 2, "test_acc": 0.6}],
        "config": {"model": "lenet", "epochs": 2},
        "config_history": [],
        "schedule": [[0, 10, 0.01, 0.2, "onecycle"]],
        "rng": torch.get_rng_state(),
        "normalization": {"mean": 0.25, "std": 0.5},
    }
    return {k: v for k, v in state.items() if k not in drop}


def test_state_reads_every_layout_and_writes_the_same_dict():
    state = TrainState.from_dict(_state(), "state.pt")
    assert (state.epoch, state.mean, state.std, state.history[-1]["test_acc"]) == (2, 0.25, 0.5, 0.6)
    written = state.to_dict()
    assert list(written) == list(_state()) and written["normalization"] == {"mean": 0.25, "std": 0.5}
    older = TrainState.from_dict(_state(schedule=1, config_history=1), "state.pt")  # before schedules were saved
    assert older.schedule is None and older.config_history == []
    for key, words in (("normalization", "'normalization' is missing"), ("epoch", "'epoch' is missing")):
        with pytest.raises(UserError, match=words):
            TrainState.from_dict(_state(**{key: 1}), "state.pt")
    with pytest.raises(UserError, match="'epoch' must be an integer"):
        TrainState.from_dict({**_state(), "epoch": "2"}, "state.pt")


FIXTURE = Path(__file__).parent / "fixtures" / "run-aa7ef0a"  # written by convlab at commit aa7ef0a


@pytest.mark.slow
def test_a_run_folder_written_before_the_dataclasses_loads_and_resumes(tmp_path, monkeypatch):
    """A run folder made by main at aa7ef0a (lenet on 12×12 images of `make_images`, 1 epoch, SGD):
    its metadata reads and writes back unchanged, its checkpoint loads, and it resumes."""
    from conftest import make_images, write_idx_folder
    from convlab.checkpoint import load_state
    from convlab.train import fit

    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    write_idx_folder(tmp_path / "d", *make_images(64, 2, size=12, seed=1), *make_images(16, 2, size=12, seed=2))
    monkeypatch.chdir(tmp_path)  # the run was trained on --data d
    saved = json.loads((run / "model.json").read_text())
    assert ModelMeta.from_dict(saved, "model.json").to_dict() == saved
    ck = load_checkpoint(run)
    assert ck.classes == ["0", "1"] and ck.input_shape == (1, 12, 12) and ck.meta.metrics.epoch == 1
    state = load_state(run)
    assert (state.epoch, state.mean, state.std) == (1, saved["normalization"]["mean"], saved["normalization"]["std"])
    before = {k: v.clone() for k, v in state.model.items()}
    r = fit(resume=run, overrides={"epochs": 2}, progress=False, log=lambda *a: None)
    assert [h["epoch"] for h in r.history] == [1, 2] and r.history[0] == state.history[0]
    after = load_state(run)
    assert after.epoch == 2 and after.config["amp"] is False and after.schedule is not None
    assert any(not torch.equal(before[k], after.model[k]) for k in before)
    assert load_checkpoint(run).meta.metrics.epoch == 2
