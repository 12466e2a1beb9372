"""Promises under failure: killed runs resume exactly, files are never half-written,
untrusted files run nothing, a full disk loses nothing, readers survive garbage.

Figures from each run are written to artifacts/reliability.json (RELIABILITY.md quotes them).
"""

import json
import os
import pickle
import random
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers.kills import assert_same_training_state, bars_folder, figures_fixture, metrics

from conftest import assert_user_error, interrupt_after_epoch, run_cli, run_here
from convlab.checkpoint import load_checkpoint, load_state

FIGURES = {}
report = figures_fixture("reliability.json", FIGURES)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    return bars_folder(tmp_path_factory, "tiny", 512)  # 8 steps an epoch: PyTorch's import is most of a run


def train_args(data, out, epochs=6):
    return [
        "train",
        "--data",
        str(data),
        "--model",
        "lenet-modern",
        "--epochs",
        str(epochs),
        "--batch-size",
        "64",
        "--seed",
        "7",
        "--threads",  # (kept on --resume) one thread: no OpenMP spinning against a second process or a busy CI
        "1",
        "--out",
        str(out),
        "--quiet",
    ]


def every_file_loads(run: Path):
    names = {p.name for p in run.iterdir() if not p.name.endswith(".tmp")}
    if "state.pt" in names and "metrics.csv" in names:  # the user files trail state.pt by at most one epoch
        assert len(metrics(run)) in (load_state(run).epoch, load_state(run).epoch - 1)
    if "model.safetensors" in names:
        load_checkpoint(run)
    if "model.json" in names:
        json.loads((run / "model.json").read_text())
    if "metrics.csv" in names:
        metrics(run)


WRITES_PER_EPOCH = 5  # state.pt, model.safetensors, model.json, config.toml, metrics.csv
FINAL_WRITES = 2  # curves.png, confusion.png


@pytest.fixture(scope="module")
def reference_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = run_cli(*train_args(tiny_data, out))
    assert r.returncode == 0, r.stderr
    return out


@pytest.mark.slow
def test_sigkill_mid_write_then_resume_is_bitwise_identical(tiny_data, reference_run, tmp_path):
    """Kill real `convlab train` processes in the middle of a chosen checkpoint write — the first
    write (no checkpoint yet), the plots at the end, and eight writes drawn at random (seeded)
    in between — then every file must load and the resumed run must end with the same weights,
    optimizer state, RNG and metrics as the uninterrupted run, bit for bit."""
    total = 6 * WRITES_PER_EPOCH + FINAL_WRITES
    points = [1, total - 1, *random.Random(0).sample(range(2, total - 1), 8)]
    before_first = resumed = 0
    for trial, point in enumerate(points):
        out = tmp_path / f"t{trial}"
        r = subprocess.run(
            [sys.executable, "-m", "convlab", *train_args(tiny_data, out)],
            capture_output=True, text=True, timeout=300, env={**os.environ, "CONVLAB_TEST_KILL_AT_WRITE": str(point)},
        )  # fmt: skip
        assert r.returncode == -signal.SIGKILL, (point, r.returncode, r.stderr)
        assert any(p.name.endswith(".tmp") for p in out.iterdir()), point  # it died mid-write
        every_file_loads(out)
        if not (out / "state.pt").exists():
            before_first += 1
            r = run_cli(*train_args(tiny_data, out), "--force")
        else:
            done = load_state(out).epoch
            assert done == min(6, -(-(point - 1) // WRITES_PER_EPOCH)), point  # state.pt is each epoch's first write
            r = run_cli("train", "--resume", out, "--quiet")
            assert f"resuming {out} after epoch {done} of 6" in r.stdout
            resumed += 1
        assert r.returncode == 0, r.stderr
        assert not list(out.glob(".*.tmp"))
        every_file_loads(out)
        assert (out / "curves.png").stat().st_size > 0 and (out / "confusion.png").stat().st_size > 0
        assert_same_training_state(out, reference_run)
    FIGURES["kill_trials"] = len(points)
    FIGURES["kills_during_checkpoint_write"] = len(points)
    FIGURES["kills_before_first_checkpoint"] = before_first
    FIGURES["resumed_bitwise_equal"] = resumed
    assert before_first == 1 and resumed == len(points) - 1


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_after_saving(tiny_data, tmp_path):
    out = tmp_path / "run"
    r = interrupt_after_epoch(train_args(tiny_data, out, epochs=1000), 2)  # long: the Ctrl-C always comes first
    assert r.returncode == 130
    assert "Traceback" not in r.stderr and f"--resume {out}" in r.stdout
    assert load_state(out).epoch >= 2
    every_file_loads(out)


@pytest.mark.slow
def test_malicious_pickles_never_run(tmp_path, tiny_data):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"weight": Payload()}))
    assert_user_error(run_here("eval", "--checkpoint", evil), "safetensors only")
    assert_user_error(run_here("predict", evil, "--checkpoint", evil), "safetensors only")
    assert_user_error(
        run_here(
            "import-weights",
            evil,
            "--model",
            "lenet",
            "--out",
            tmp_path / "x.safetensors",
            "--dataset",
            "fashion-mnist",
        ),
        "refused",
    )
    run = tmp_path / "run"
    run.mkdir()
    import shutil

    shutil.copy(evil, run / "state.pt")
    assert_user_error(run_here("train", "--resume", run), "unreadable training state")
    assert not marker.exists()
    FIGURES["malicious_pickles_refused"] = 4


@pytest.mark.slow
def test_plain_state_dict_imports(tmp_path, fashion_dir):
    from convlab.models import build_model

    torch.save(build_model("lenet").state_dict(), tmp_path / "sd.pt")
    r = run_here("import-weights", tmp_path / "sd.pt", "--model", "lenet", "--out", tmp_path / "m.safetensors")
    assert r.returncode == 0, r.stderr
    assert load_checkpoint(tmp_path / "m.safetensors").classes[0] == "T-shirt/top"
    assert_user_error(
        run_here("import-weights", tmp_path / "sd.pt", "--model", "lenet-modern", "--out", tmp_path / "n.safetensors"),
        "do not fit",
    )


@pytest.mark.slow
def test_safetensors_that_do_not_fit(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    from convlab.models.pretrained import pretrained_path

    with safe_open(str(pretrained_path("lenet-fashion-mnist")), "pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    cases = {
        "missing": ({k: v for k, v in tensors.items() if k != "0.bias"}, meta, "missing 0.bias"),
        "extra": ({**tensors, "99.weight": torch.zeros(1)}, meta, "unexpected 99.weight"),
        "shape": ({**tensors, "0.weight": torch.zeros(6, 1, 3, 3)}, meta, "wrong shape"),
        "no meta": (tensors, None, "no convlab metadata"),
        "bad meta": (tensors, {"convlab": "{not json"}, "malformed"),
        "classes": (tensors, {"convlab": meta["convlab"].replace('"Trouser", ', "")}, "malformed or inconsistent"),
    }
    for name, (t, m, words) in cases.items():
        save_file(t, tmp_path / f"{name}.safetensors", metadata=m)
        assert_user_error(run_here("eval", "--checkpoint", tmp_path / f"{name}.safetensors"), words)
    (tmp_path / "trunc.safetensors").write_bytes(pretrained_path("lenet-fashion-mnist").read_bytes()[:5000])
    assert_user_error(run_here("eval", "--checkpoint", tmp_path / "trunc.safetensors"), "not a readable safetensors")


@pytest.mark.slow
def test_write_failure_keeps_the_previous_checkpoint(tiny_data, tmp_path):
    """A real failed write: the resumed process may not grow any file past 64 KiB (RLIMIT_FSIZE),
    so the next checkpoint cannot be written; the epoch-1 checkpoint must survive intact."""
    out = tmp_path / "run"
    interrupt_after_epoch(train_args(tiny_data, out, epochs=1000), 1)  # long: the Ctrl-C always comes first
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    done = load_state(out).epoch

    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    r = subprocess.run(
        [sys.executable, "-m", "convlab", "train", "--resume", str(out), "--quiet"],
        capture_output=True,
        text=True,
        preexec_fn=limit,
        timeout=120,
    )
    assert_user_error(r, f"could not write the checkpoint of epoch {done + 1}", f"epoch {done}'s checkpoint is intact")
    after = {p.name: p.read_bytes() for p in out.iterdir() if not p.name.endswith(".tmp")}
    assert after == before
    assert load_state(out).epoch == done
    FIGURES["write_failures_survived"] = 1


@pytest.mark.slow
def test_same_seed_same_weights(tiny_data, reference_run, tmp_path):
    r = run_cli(*train_args(tiny_data, tmp_path / "again"))
    assert r.returncode == 0
    assert_same_training_state(tmp_path / "again", reference_run)
