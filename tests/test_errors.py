"""One error boundary: only UserError is the user's mistake (one line, exit 2); anything else is
a bug in convlab and keeps its traceback (exit 1). Checks hold under `python -O` too."""

import subprocess
import sys

import pytest

from conftest import assert_user_error
from convlab import cli
from convlab.errors import UserError


def test_a_bug_keeps_its_traceback_and_exits_1(monkeypatch, capsys):
    import convlab.introspect

    def broken(*args, **kwargs):
        raise ValueError("index 3 is out of bounds")  # PyTorch-style ValueError: a bug, not the user's

    monkeypatch.setattr(convlab.introspect, "summary", broken)
    assert cli.main(["summary", "--model", "lenet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "index 3 is out of bounds" in err
    assert err.strip().splitlines()[-1].startswith("convlab: internal error: this is a bug in convlab")


@pytest.mark.slow
def test_a_bug_in_a_real_process_exits_1_with_traceback():
    code = (
        "import sys, convlab.introspect as i\n"
        "i.summary = lambda *a, **k: [][1]\n"  # an IndexError deep in a command
        "from convlab.cli import main\n"
        "sys.exit(main(['summary']))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "Traceback" in r.stderr and "IndexError" in r.stderr and "bug in convlab" in r.stderr


def test_user_mistakes_stay_one_line_exit_2(capsys):
    assert cli.main(["train", "--epochs", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("convlab: error: --epochs") and len(err.splitlines()) == 1


def test_op_argument_errors_are_user_errors_and_value_errors():
    import torch

    from convlab import ops

    with pytest.raises(UserError, match="larger than the padded input") as info:
        ops.conv2d(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 3, 3))
    assert isinstance(info.value, ValueError)  # library users may still catch ValueError


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("explain", "conv", "--input", "1 2; 3 4", "--kernel", "1 1 1; 1 1 1; 1 1 1"), "larger than the padded"),
        (("explain", "pool", "--input", "1 2; 3 4", "--padding", "2"), "more than half"),
    ],
)
def test_checks_survive_python_dash_o(args, words):
    r = subprocess.run(
        [sys.executable, "-O", "-m", "convlab", *args], capture_output=True, text=True, timeout=120
    )  # assert statements vanish under -O: no check may depend on them
    assert_user_error(r, words)


@pytest.mark.slow
def test_malformed_checkpoint_metadata_under_python_dash_o(tmp_path):
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    from convlab.models.pretrained import pretrained_path

    with safe_open(str(pretrained_path("lenet-fashion-mnist")), "pt") as f:
        meta = json.loads(f.metadata()["convlab"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for i, change in enumerate(
        [
            {"classes": ["only one"]},
            {"format": "something-else"},
            {"normalization": {"mean": "x", "std": 1}},
            {"normalization": {"mean": 0.5, "std": 0}},
            {"architecture": {**meta["architecture"], "input_size": [28]}},
        ]
    ):
        save_file(tensors, tmp_path / f"{i}.safetensors", metadata={"convlab": json.dumps({**meta, **change})})
        r = subprocess.run(
            [sys.executable, "-O", "-m", "convlab", "summary", "--checkpoint", str(tmp_path / f"{i}.safetensors")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert_user_error(r, "malformed or inconsistent")


def test_nproc_launch_uses_the_arguments_given_to_main(monkeypatch):
    import torch.distributed.run as torchrun

    launched = []
    monkeypatch.setattr(torchrun, "run", launched.append)
    monkeypatch.setattr(sys, "argv", ["convlab", "something", "else", "entirely"])
    assert cli.main(["train", "--epochs", "2", "--nproc", "2", "--max-restarts", "1", "--quiet"]) == 0
    (args,) = launched
    assert (args.nproc_per_node, args.max_restarts, args.module, args.training_script) == ("2", 1, True, "convlab")
    assert args.training_script_args == ["train", "--epochs", "2", "--quiet"]


def test_bad_config_is_refused_before_launching_processes(monkeypatch):
    import torch.distributed.run as torchrun

    monkeypatch.setattr(torchrun, "run", lambda *a, **k: pytest.fail("torchrun must not start"))
    assert cli.main(["train", "--lr", "-1", "--nproc", "2"]) == 2
    assert cli.main(["train", "--max-restarts", "1"]) == 2  # restarts need --nproc
