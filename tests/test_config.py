"""TrainConfig is the one definition of every training option: flags, checks, recipes and the
resume rules all come from its fields."""

import argparse
import dataclasses

import pytest

from conftest import assert_user_error, make_images, run_cli, write_idx_folder
from convlab.config import RESUME_SAFE, TrainConfig, add_arguments, given_options, in_interval
from convlab.configfile import build_config, config_toml, load_config_file, recipe_names
from convlab.errors import UserError


def parser():
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p


def test_every_field_has_exactly_one_flag_with_its_help_and_default():
    p = parser()
    flags = {a.dest: a for a in p._actions if a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert set(flags) == set(fields)
    for name, action in flags.items():
        assert action.default is None  # "not given", so recipes and --resume can tell
        assert fields[name].metadata["help"] in action.help and "(default " in action.help


def test_flags_parse_to_typed_values_and_only_given_ones_count():
    args = parser().parse_args(["--epochs", "3", "--lr", "0.5", "--flip", "--input-size", "32", "30"])
    assert given_options(args) == {"epochs": 3, "lr": 0.5, "flip": True, "input_size": (32, 30)}
    with pytest.raises(SystemExit):
        parser().parse_args(["--dataset", "mnist", "--data", "x"])  # one source, not both


def test_adding_an_option_is_one_edit():
    """A new field with option(...) metadata gets a flag, a check and a TOML key for free."""
    from convlab import config

    @dataclasses.dataclass
    class Extended(TrainConfig):
        mixup: float = config.option(0.0, "mixup strength", interval="[0, 1]")

    p = argparse.ArgumentParser()
    original = config.TrainConfig
    config.TrainConfig = Extended
    try:
        add_arguments(p)
        assert "--mixup" in p.format_help() and "mixup strength [0, 1] (default 0.0)" in " ".join(
            p.format_help().split()
        )
        with pytest.raises(UserError, match=r"--mixup must be in \[0, 1\], got 2"):
            Extended(mixup=2.0).validate()
    finally:
        config.TrainConfig = original


@pytest.mark.parametrize(
    ("interval", "inside", "outside"),
    [("(0, 10]", [1e-9, 10], [0, 10.5, float("nan")]), ("[0, 1)", [0, 0.99], [1, -0.1]), ("[1, inf)", [1, 10**9], [0])],
)
def test_intervals(interval, inside, outside):
    assert all(in_interval(v, interval) for v in inside)
    assert not any(in_interval(v, interval) for v in outside)


def test_resume_safe_options_are_the_documented_ones():
    assert set(RESUME_SAFE) == {"epochs", "device", "threads", "eval_batch_size"}


def test_toml_recipe_with_flags_overriding(tmp_path):
    (tmp_path / "r.toml").write_text('model = "lenet-modern"\nepochs = 4\nlr = 3e-3\n[unused]\n')
    with pytest.raises(UserError, match=r"unknown option in .*r.toml: 'unused'"):
        load_config_file(tmp_path / "r.toml")
    (tmp_path / "r.toml").write_text('model = "lenet-modern"\nepochs = 4\nlr = 3e-3\n')
    cfg = build_config(tmp_path / "r.toml", epochs=2)
    assert (cfg.model, cfg.epochs, cfg.lr) == ("lenet-modern", 2, 3e-3)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("epoch = 3\n", "did you mean 'epochs'"),
        ('epochs = "three"\n', "epochs must be int"),
        ("lr = true\n", "lr must be float"),
        ("input_size = [28]\n", "input_size must be a pair"),
        ("epochs = \n", "not a readable config"),
    ],
)
def test_bad_recipe_files_name_the_problem(tmp_path, text, words):
    (tmp_path / "bad.toml").write_text(text)
    with pytest.raises(UserError, match=words):
        build_config(tmp_path / "bad.toml")


def test_bundled_recipes_are_valid_and_reproduce_the_bundled_weights_config(tmp_path):
    assert {"lenet-fashion-mnist", "lenet-modern-fashion-mnist"} <= set(recipe_names())
    for name in recipe_names():
        cfg = build_config(name).validate()
        saved = tmp_path / f"{name}.toml"
        saved.write_text(config_toml(cfg))  # what a run folder keeps, read back as `--config` reads it
        again = TrainConfig.from_dict(load_config_file(saved), str(saved))
        assert again.to_dict() == cfg.to_dict(), name
        assert build_config(saved).validate().to_dict() == cfg.to_dict(), name
    import json

    from safetensors import safe_open

    from convlab.models.pretrained import bundled, pretrained_path

    assert set(bundled()) <= set(recipe_names())  # every bundled checkpoint has its recipe
    for name in bundled():
        with safe_open(str(pretrained_path(name)), "pt") as f:
            saved = json.loads(f.metadata()["convlab"])["config"]
        recipe = build_config(name).validate().to_dict()
        assert {k: v for k, v in saved.items() if k in recipe} == {k: recipe[k] for k in saved if k in recipe}


@pytest.mark.slow
def test_a_run_folder_replays_exactly_and_bad_configs_are_one_line(tmp_path):
    data = write_idx_folder(tmp_path / "d", *make_images(256, 4, seed=1), *make_images(32, 4, seed=2))
    r = run_cli("train", "--data", data, "--model", "lenet-modern", "--epochs", "1", "--batch-size", "32",
                "--lr", "0.003", "--out", tmp_path / "a", "--quiet")  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = run_cli("train", "--config", tmp_path / "a", "--out", tmp_path / "b", "--quiet")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "a" / "config.toml").read_text() == (tmp_path / "b" / "config.toml").read_text()
    assert (tmp_path / "a" / "metrics.csv").read_text().split("\n")[1].split(",")[:6] == (
        tmp_path / "b" / "metrics.csv"
    ).read_text().split("\n")[1].split(",")[:6]  # same losses and accuracies (timings differ)
    assert_user_error(run_cli("train", "--config", tmp_path / "nothing"), "no such file, run folder or bundled recipe")
    (tmp_path / "bad.toml").write_text("optimiser = 'sgd'\n")
    assert_user_error(run_cli("train", "--config", tmp_path / "bad.toml"), "did you mean 'optimizer'")


class _Stop(BaseException):
    """Raised in place of the first training epoch: the config a run trains with is known by then."""


def _config_trained(monkeypatch, start, *args, **kwargs) -> dict:
    """The config that `start(*args, **kwargs)` (fit or the command line) hands to the training loop."""
    import convlab.train

    seen: list[dict] = []

    def first_epoch(run, epoch):
        seen.append(run.cfg.to_dict())
        raise _Stop

    monkeypatch.setattr(convlab.train, "train_epoch", first_epoch)
    with pytest.raises(_Stop):
        start(*args, **kwargs)
    return seen[0]


@pytest.fixture(scope="module")
def cached_loads():
    """load_dataset, read once per arguments (both paths read the same real files)."""
    import functools

    import convlab.prepare

    return functools.cache(convlab.prepare.load_dataset)


@pytest.mark.slow
def test_fit_trains_the_config_the_command_line_trains(monkeypatch, tmp_path, cached_loads):
    """fit(TrainConfig(model=NAME)) and `convlab train --model NAME` train the same resolved config,
    with the model's recipe (models/…: Architecture.recipe) in it, but no flips of digits."""
    import convlab.prepare
    import convlab.train
    from convlab.cli import main
    from convlab.models import MODELS

    monkeypatch.setattr(convlab.prepare, "load_dataset", cached_loads)
    for name, arch in MODELS.items():
        options = dict(dataset="digits", epochs=1, max_train=256)
        cfg = TrainConfig(model=name, **options)
        api = _config_trained(monkeypatch, convlab.train.fit, cfg, out=tmp_path / f"api-{name}", progress=False)
        argv = ["train", "--model", name, "--dataset", "digits", "--epochs", "1", "--max-train", "256"]
        cli = _config_trained(monkeypatch, main, [*argv, "--out", tmp_path / f"cli-{name}", "--quiet"])
        assert api == cli, name
        expected = {**arch.recipe, "flip": False}
        if "amp" in expected:  # bf16 only where the CPU computes it (runtime.bf16_native)
            expected["amp"] = expected["amp"] and cpu_bf16_native()
        assert {k: api[k] for k in expected if k != "epochs"} == {k: v for k, v in expected.items() if k != "epochs"}
        assert None not in (api["lr"], api["amp"], api["shift"], api["flip"], api["channels_last"])
    # the example, by hand: ResNet's recipe is lr 0.004, bf16 autocast, channels-last, 2-pixel shifts
    cfg = TrainConfig(model="resnet", dataset="digits", epochs=1, max_train=256)
    resnet = _config_trained(monkeypatch, convlab.train.fit, cfg, out=tmp_path / "r", progress=False)
    bf16 = cpu_bf16_native()  # (bf16 where the CPU has bf16 instructions: Intel AMX, AVX-512 BF16)
    assert (resnet["lr"], resnet["amp"], resnet["channels_last"], resnet["shift"]) == (0.004, bf16, True, 2)
    assert resnet["flip"] is False  # a mirrored digit is another digit


def test_a_resolved_config_resolves_to_itself_and_every_recipe_option_is_left_to_resolve():
    from convlab.config import resolve
    from convlab.models import MODELS

    for name, arch in MODELS.items():
        fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
        for key in arch.recipe:  # an option a recipe sets must default to None ("the model's recipe")
            assert fields[key].default is None, (name, key)
        once = resolve(TrainConfig(model=name))  # on Fashion-MNIST, whose labels survive mirroring
        assert resolve(once) == once
        expected = {
            **arch.recipe,
            **({"amp": arch.recipe["amp"] and cpu_bf16_native()} if "amp" in arch.recipe else {}),
        }
        assert {k: getattr(once, k) for k in arch.recipe} == expected, name
        assert resolve(TrainConfig(model=name, dataset="kmnist")).flip is False  # characters: never mirrored
    with pytest.raises(UserError, match="--flip would change labels of digits"):
        resolve(TrainConfig(dataset="digits", flip=True))
    assert resolve(TrainConfig(model="lenet")).to_dict() | {"amp": None} == {
        **TrainConfig().to_dict(),
        "epochs": 15,
        "lr": 0.01,
        "shift": 0,
        "flip": False,
        "channels_last": False,
    }


def cpu_bf16_native() -> bool:
    """What the CPU itself says (/proc/cpuinfo flags): it has AVX-512 BF16 or AMX BF16 instructions."""
    from pathlib import Path

    flags: set[str] = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags.update(line.split(":", 1)[1].split())
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def test_a_recipes_bf16_is_chosen_only_where_the_cpu_computes_bf16(monkeypatch):
    """CPU_RECIPE's bf16 autocast was measured on Intel AMX; on an AVX2-only CPU PyTorch emulates bf16
    and training ran several times slower (benchmarks/amp.py), so resolve takes it only where the CPU
    has bf16 instructions. An explicit --amp is kept everywhere."""
    import torch

    import convlab.config
    from convlab.config import resolve
    from convlab.runtime import bf16_native

    assert bf16_native(torch.device("cpu")) is cpu_bf16_native()
    assert resolve(TrainConfig(model="resnet", device="cpu")).amp is cpu_bf16_native()
    assert resolve(TrainConfig(model="resnet", device="cpu", amp=True)).amp is True
    for native in (False, True):
        monkeypatch.setattr(convlab.config, "bf16_native", lambda device, native=native: native)
        assert resolve(TrainConfig(model="resnet", device="cpu")).amp is native
        assert resolve(TrainConfig(model="lenet-modern", device="cpu")).amp is False  # its recipe leaves bf16 off


@pytest.mark.slow
def test_the_saved_config_records_the_bf16_choice(monkeypatch, tmp_path):
    """What resolve chose is what the run folder's config.toml says, so --config RUN replays it
    (on any CPU: an explicit amp is kept)."""
    import tomllib

    import convlab.config
    from convlab.train import fit

    x, y = make_images(64, 10)
    data = write_idx_folder(tmp_path / "data", x, y, x[:32], y[:32])
    for native in (False, True):
        monkeypatch.setattr(convlab.config, "bf16_native", lambda device, native=native: native)
        cfg = TrainConfig(model="regnet", data=str(data), epochs=1, batch_size=32, device="cpu")
        fit(cfg, out=tmp_path / f"run-{native}", progress=False, log=lambda *a: None)
        saved = tomllib.loads((tmp_path / f"run-{native}" / "config.toml").read_text())
        assert saved["amp"] is native
        replayed = build_config(tmp_path / f"run-{native}")
        assert replayed.amp is native
