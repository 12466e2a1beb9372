"""`--model-args` is used wherever it is accepted, or refused in one line: a checkpoint fixes its
network (rebuilt with the arguments recorded at training), a zoo model takes none, and
`serve --model FILE.py:NAME --model-args JSON` builds the Train tab's network with them.

Oracle: the user's class built by hand here (`LeNetMax(width=4)`), its parameters counted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from conftest import assert_user_error, run_here

CK = "lenet-modern-fashion-mnist"
ARGS = ("--model-args", '{"width": 4}')
NETS = Path(__file__).parent / "helpers" / "user_nets.py"


@pytest.mark.parametrize(
    "command",
    [
        ["eval"], ["predict", "{img}"], ["why", "{img}", "--out", "{keep}"], ["visualize", "{img}", "--out", "{keep}"],
        ["filter", "--layer", "0", "--channel", "0"], ["mistakes"], ["export", "--out", "{keep}/m.onnx", "--force"],
        ["summary"], ["explain", "shapes"], ["serve"],
    ],
)  # fmt: skip
def test_model_args_beside_a_checkpoint_is_refused(command, tmp_path):
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "m.onnx").write_bytes(b"old")
    args = [a.format(img=tmp_path / "x.png", keep=keep) for a in command]
    assert_user_error(run_here(*args, "--checkpoint", CK, *ARGS), "--model-args")
    assert [p.name for p in keep.iterdir()] == ["m.onnx"] and (keep / "m.onnx").read_bytes() == b"old"


def test_model_args_where_no_network_is_read_is_refused():
    r = run_here("explain", "conv", "--input", "0 1; 2 3", "--kernel", "1", *ARGS)
    assert_user_error(r, "--model-args", "explain shapes")


@pytest.mark.parametrize(
    "flag",
    [["--model", f"{NETS}:LeNetMax"], ["--model", "lenet"], ["--checkpoint", CK], ["--input-size", "1", "8", "8"],
     ["--trust-model-code"]],
)  # fmt: skip
@pytest.mark.parametrize(
    ("what", "takes"), [(["conv", "--kernel", "1"], "--kernel"), (["pool", "--size", "2"], "--size")]
)
def test_network_flags_for_explain_conv_and_pool_are_refused(flag, what, takes, capsys):
    """explain conv/pool compute on matrices: a network flag would be silently ignored (they printed the
    arithmetic as if it were not there), so it is refused, naming what they take instead."""
    r = run_here("explain", *what, "--input", "0 1; 2 3", *flag)
    assert_user_error(r, flag[0], "--input", takes, "explain shapes")
    assert r.stdout == ""


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--out", "{run}"],
        ["summary"],
        ["explain", "shapes"],
        ["verify"],
        ["import-weights", "{pt}", "--out", "{run}.safetensors"],
    ],
)
def test_model_args_for_a_zoo_model_is_refused(command, tmp_path):
    from convlab.models import build_model

    pt = tmp_path / "lenet.pt"
    torch.save(build_model("lenet").state_dict(), pt)
    args = [a.format(run=tmp_path / "run", pt=pt) for a in command]
    assert_user_error(run_here(*args, "--model", "lenet", *ARGS), "--model-args", "lenet takes none")
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.safetensors").exists()


def test_serve_builds_your_network_with_its_model_args(tmp_path, fashion_dir):
    from convlab.config import TrainConfig
    from convlab.errors import UserError
    from convlab.models import build_model
    from convlab.modelspec import CodeConsent, parse_args_json
    from convlab.web.models import models_for
    from convlab.web.training import Training

    nets = tmp_path / "my_nets.py"
    shutil.copy(NETS, nets)
    spec = f"{nets}:LeNetMax"
    training = Training(models_for(None, CodeConsent(model=spec), ARGS[1]), runs=tmp_path / "runs")
    config = TrainConfig.from_dict(training._config({"dataset": "fashion-mnist", "model": "my_nets.py:LeNetMax"}))
    model = build_model(config.model, 10, 1, (28, 28), model_args=parse_args_json(config.model_args))
    # by hand: conv 1→4 (5×5) + conv 4→16 (5×5) + the classifier LeNetMax keeps whatever the width
    default = build_model(spec, 10, 1, (28, 28))
    by_hand = sum(p.numel() for p in default.parameters()) - (6 * 25 + 6) - (16 * 6 * 25) + (4 * 25 + 4) + (16 * 4 * 25)
    assert sum(p.numel() for p in model.parameters()) == by_hand
    with pytest.raises(UserError, match="--model-args goes with --model"):
        models_for(None, None, ARGS[1])
