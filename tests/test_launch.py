"""The decisions behind torchrun restarts and the words on failure, without starting processes:
which start of a job resumes which folder (against the rules in docs/training.md), and the one
line `convlab train --nproc` makes of torchrun's own failure records (ProcessFailure)."""

import json
import signal

import pytest
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

from convlab import elastic
from convlab.errors import UserError
from convlab.launch import launcher_flags_removed, summary


@pytest.fixture
def job(monkeypatch):
    def under(run_id, world=2):
        monkeypatch.setenv("TORCHELASTIC_RUN_ID", run_id)
        monkeypatch.setenv("WORLD_SIZE", str(world))

    return under


def folder(path, run_id=None, state=True):
    path.mkdir()
    (path / "metrics.csv").write_text("epoch\n1\n")
    if state:
        (path / "state.pt").write_bytes(b"x")
    if run_id:
        (path / "job.json").write_text(json.dumps({"run_id": run_id}))
    return path


def test_a_restart_of_the_job_that_made_the_folder_resumes_it(tmp_path, job):
    job("abc")
    run = folder(tmp_path / "run", "abc")
    assert elastic.start(run, None, False) == (None, run, False)


def test_a_restart_before_the_first_epoch_starts_again(tmp_path, job):
    job("abc")
    run = folder(tmp_path / "run", "abc", state=False)
    assert elastic.start(run, None, False) == (run, None, True)


@pytest.mark.parametrize("recorded", ["other", None])
def test_another_job_is_refused_on_every_rank(tmp_path, job, recorded):
    job("abc")
    run = folder(tmp_path / "run", recorded)
    with pytest.raises(UserError, match="already exists and is not empty; use --resume"):
        elastic.start(run, None, False)
    assert elastic.start(run, None, True) == (run, None, True)  # --force replaces it, as in one process


def test_torchruns_default_id_cannot_tell_a_restart_from_another_job(tmp_path, job):
    job("none")
    run = folder(tmp_path / "run", "none")
    with pytest.raises(UserError, match="already exists"):
        elastic.start(run, None, False)


def test_without_out_a_restart_finds_its_folder_under_runs(tmp_path, job, monkeypatch):
    job("abc")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    folder(tmp_path / "runs" / "other", "zzz")
    mine = folder(tmp_path / "runs" / "mine", "abc")
    assert elastic.start(None, None, False) == (None, mine.relative_to(tmp_path), False)


def test_one_process_and_resume_are_left_alone(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    run = folder(tmp_path / "run")
    assert elastic.start(run, None, False) == (run, None, False)  # train.prepare_run_dir refuses it
    assert elastic.start(None, run, False) == (None, run, False)


def failure(tmp_path, rank, exitcode, said=None):
    path = tmp_path / f"error{rank}.json"
    if said:
        kind, line = said
        path.write_text(json.dumps({"message": {"message": line, "extraInfo": {"timestamp": 1, "convlab": kind}}}))
    return ProcessFailure(local_rank=rank, pid=100 + rank, exitcode=exitcode, error_file=str(path))


def test_a_user_mistake_is_its_line_once_and_exit_2(tmp_path):
    said = ("user", "missing.csv: no such file or folder")
    failures = {0: failure(tmp_path, 0, 2, said), 1: failure(tmp_path, 1, 2, said)}
    assert summary(failures, tmp_path / "none.json", 2) == ("missing.csv: no such file or folder", 2)


def test_a_killed_rank_is_named_with_its_signal_and_the_resume_command(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    import torch

    torch.save(
        {"epoch": 3, "model": {}, "optimizer": {}, "config": {}, "normalization": {"mean": 0.5, "std": 0.25}},
        run / "state.pt",
    )
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"run_dir": str(run), "epochs": 6}))
    failures = {
        0: failure(tmp_path, 0, 3, ("peer", "lost training process rank 1 (its connection closed); the job stopped")),
        1: failure(tmp_path, 1, -signal.SIGKILL),
        2: failure(tmp_path, 2, -signal.SIGTERM),  # stopped by torchrun
    }
    line, status = summary(failures, note, 2)
    assert status == 1
    assert line == (
        f"a training process failed: rank 1 was killed by signal SIGKILL (pid 101); the job was stopped; "
        f"{run} holds epoch 3 of 6; continue with: convlab train --resume {run} --nproc 2"
    )


def test_a_bug_points_at_its_traceback_and_a_run_with_no_epoch_says_so(tmp_path):
    note = tmp_path / "note.json"
    note.write_text(json.dumps({"run_dir": str(tmp_path), "epochs": 6}))
    line, status = summary({1: failure(tmp_path, 1, 1)}, note, 2)
    assert status == 1 and "rank 1 exited with status 1 (pid 101); its traceback is above" in line
    assert line.endswith(f"{tmp_path} holds no completed epoch; start it again with --force")


def test_the_launchers_own_flags_do_not_reach_the_workers():
    argv = ["train", "--nproc", "2", "--max-restarts=3", "--epochs", "2", "--max-restarts", "1", "--nproc=4"]
    assert launcher_flags_removed(argv) == ["train", "--epochs", "2"]
