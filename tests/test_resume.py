"""--resume is explicit: --epochs (extending a run), --device, --threads, --eval-batch-size and
--quiet may be given and are recorded; any other flag is refused, naming it."""

import itertools
import json

import pytest

from conftest import assert_user_error, make_images, run_cli, run_here, write_idx_folder
from convlab.checkpoint import load_state
from convlab.schedule import Schedule


def test_unfinished_run_stretches_its_anneal_without_a_jump():
    s = Schedule.plan(100, 1.0, 0.2, "onecycle")
    at = 60
    extended, how = s.extend(at, 200)
    assert [extended(i) for i in range(at)] == [s(i) for i in range(at)]  # the past is unchanged
    assert extended(at) == pytest.approx(s(at))  # no jump at the resume point
    assert extended(199) < 0.01 and "continues from its current learning rate" in how
    lrs = [extended(i) for i in range(at, 200)]
    assert all(a >= b for a, b in itertools.pairwise(lrs))  # still annealing


@pytest.mark.parametrize("shape", ["onecycle", "cosine"])
def test_finished_run_gets_a_warm_restart_at_a_tenth_of_the_peak(shape):
    s = Schedule.plan(100, 0.5, 0.2, shape)
    extended, how = s.extend(100, 150)
    assert [extended(i) for i in range(100)] == [s(i) for i in range(100)]
    assert max(extended(i) for i in range(100, 150)) == pytest.approx(0.05)
    assert extended(149) < 0.005 and "warm restart" in how


def test_constant_schedule_just_continues():
    s = Schedule.plan(10, 0.3, 0.0, "constant")
    extended, _ = s.extend(10, 20)
    assert {extended(i) for i in range(20)} == {0.3}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_idx_folder(tmp_path_factory.mktemp("d"), *make_images(512, 4, seed=1), *make_images(64, 4, seed=2))


def base(data, out, epochs):
    return ["train", "--data", data, "--model", "lenet-modern", "--epochs", epochs, "--batch-size", "64",
            "--out", out, "--quiet"]  # fmt: skip


@pytest.mark.slow
def test_extend_a_finished_run_and_record_it(data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*base(data, out, 2)).returncode == 0
    r = run_cli("train", "--resume", out, "--epochs", "4", "--device", "cpu", "--threads", "1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "extending the run from 2 to 4 epochs" in r.stdout and "warm restart" in r.stdout
    state = load_state(out)
    assert state.epoch == 4 and state.config["epochs"] == 4 and state.config["threads"] == 1
    (change,) = state.config_history
    assert change["epoch"] == 2 and change["changed"]["epochs"] == [2, 4] and "warm restart" in change["schedule"]
    assert change["changed"]["device"] == ["auto", "cpu"]
    meta = json.loads((out / "model.json").read_text())
    assert meta["config_history"] == state.config_history and meta["metrics"]["epoch"] == 4
    first, restart = Schedule.from_list(state.schedule).segments
    assert (first.start, first.end, first.peak) == (0, 16, 0.01)  # 2 epochs of 8 steps
    assert (restart.start, restart.end, restart.peak) == (16, 32, pytest.approx(0.001))


@pytest.mark.slow
def test_refusals_name_the_flag_and_change_nothing(data, tmp_path):
    out = tmp_path / "run"
    assert run_cli(*base(data, out, 2)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    cases = [
        (("--lr", "0.1"), "--lr cannot be changed when resuming"),
        (("--model", "lenet"), "--model cannot be changed"),
        (("--data", data), "--data cannot be changed"),
        (("--batch-size", "32"), "--batch-size cannot be changed"),
        (("--out", tmp_path / "other"), "--out cannot be combined with --resume"),
        (("--force",), "--force cannot be combined"),
        (("--config", "lenet-fashion-mnist"), "--config cannot be combined"),
        (("--epochs", "1"), "already completed 2 epochs; give more than 2"),
        (("--device", "cuda:7"), "no CUDA GPU"),
    ]
    for extra, words in cases:
        assert_user_error(run_here("train", "--resume", out, *extra), words)  # (in this process: no new interpreter)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
