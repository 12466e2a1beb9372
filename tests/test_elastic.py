"""A lost worker under torchrun: elastic restarts resume by themselves, bitwise equal to an
uninterrupted run; without restarts the survivor and `--nproc` say what happened in one line.

Faults are injected at chosen points (convlab.elastic): rank 1 SIGKILLs itself once epoch 1 is
saved, and rank 0 SIGKILLs rank 1 in the middle of epoch 3's state.pt write and lingers there
until torchrun stops it. The reference is the same command on 2 processes, never interrupted.
Figures go to artifacts/elastic.json (docs/reliability.md quotes them).
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from helpers.kills import assert_same_training_state, bars_folder, figures_fixture

from conftest import assert_user_error, free_port, run_cli

pytestmark = pytest.mark.slow
FIGURES: dict = {"kills": []}
report = figures_fixture("elastic.json", FIGURES)
EPOCHS = 4
BOUND_S = 400  # a whole faulty job, restarts included, ends within this (no hang)
# rank 1 dies once epoch 1 is saved; then, in the restarted group, in the middle of the 7th write
# of rank 0 (job.json, epoch 2's five files, then epoch 3's state.pt): the run resumes from epoch 2
TWO_FAULTS = {"CONVLAB_TEST_KILL_RANK": "1", "CONVLAB_TEST_KILL_AFTER_EPOCH": "1", "CONVLAB_TEST_KILL_AT_WRITE": "7"}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return bars_folder(tmp_path_factory, "el", 768)


def train(data, out, *extra):
    args = ["train", "--data", data, "--model", "lenet", "--epochs", EPOCHS, "--batch-size", 64, "--seed", 1]
    return [*map(str, args), "--threads", "1", "--quiet", "--out", str(out), *extra]


def torchrun(*launcher):
    return [sys.executable, "-m", "torch.distributed.run", *launcher, "-m", "convlab"]


@pytest.fixture(scope="module")
def reference(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "run"
    r = subprocess.run(
        [*torchrun("--standalone", "--nproc_per_node=2"), *train(data, out)],
        capture_output=True, text=True, timeout=BOUND_S,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


class Job:
    """Processes started together; their output lines stamped with the wall-clock time read."""

    def __init__(self, commands, env, cwds):
        self.lines: list[tuple[float, str]] = []
        pipe = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True, "start_new_session": True}
        self.procs = [subprocess.Popen(c, env={**os.environ, **env}, cwd=d, **pipe) for c, d in zip(commands, cwds)]
        self.readers = [threading.Thread(target=self._read, args=(p,), daemon=True) for p in self.procs]
        for t in self.readers:
            t.start()

    def _read(self, proc):
        for line in proc.stdout:
            self.lines.append((time.time(), line.rstrip("\n")))

    def wait(self):
        t0 = time.monotonic()
        try:
            codes = [p.wait(timeout=max(1, BOUND_S - (time.monotonic() - t0))) for p in self.procs]
        except subprocess.TimeoutExpired:
            for p in self.procs:  # the agents and their workers: nothing is left running
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
            pytest.fail(f"the job did not end within {BOUND_S} s:\n{self.text()}")
        for t in self.readers:
            t.join(10)
        return codes

    def text(self):
        return "\n".join(line for _, line in self.lines)


def kill_to_next_epoch(job: Job, marker: Path) -> float:
    """Seconds from a kill (its marker file's time) to the next epoch line of the resumed job."""
    killed = marker.stat().st_mtime
    after = [(t, line) for t, line in job.lines if t > killed]
    resumed = next(i for i, (_, line) in enumerate(after) if line.startswith("resuming "))
    return next(t for t, line in after[resumed:] if line.startswith("epoch ")) - killed


def assert_recovered(job: Job, out: Path, reference: Path, once: str, resumed=(1, 2)):
    text = job.text()
    assert "Traceback" not in text and "internal error" not in text, text
    record = json.loads((out / "job.json").read_text())
    assert [r["resumed_from_epoch"] for r in record["restarts"]] == list(resumed), record
    for name, where in (("AFTER_EPOCH.1", "after epoch 1 was saved"), ("AT_WRITE", "mid-write of epoch 3's state.pt")):
        took = kill_to_next_epoch(job, Path(f"{once}.CONVLAB_TEST_KILL_{name}"))
        FIGURES["kills"].append({"where": where, "kill_to_next_epoch_s": round(took, 1)})


def test_restarts_resume_bitwise_and_without_restarts_left_the_job_says_how_to_continue(data, reference, tmp_path):
    """`convlab train --nproc 2 --max-restarts 2`, rank 1 killed three times: after epoch 1 and
    mid-write (both survived), then after epoch 3 with no restarts left: one line naming the
    dead rank and the command that continues; another job on the folder is refused in one line;
    that command then finishes the run bitwise equal to the uninterrupted one."""
    out, once = tmp_path / "run", str(tmp_path / "fault")
    faults = {**TWO_FAULTS, "CONVLAB_TEST_KILL_AFTER_EPOCH": "1,3", "CONVLAB_TEST_KILL_ONCE": once}
    job = Job(
        [[sys.executable, "-m", "convlab", *train(data, out, "--nproc", "2", "--max-restarts", "2")]],
        faults,
        [tmp_path],
    )
    assert job.wait() == [1], job.text()
    assert_recovered(job, out, reference, once)
    last = job.text().splitlines()[-1]
    assert last.startswith("convlab: error: a training process failed: rank 1 was killed by signal SIGKILL"), job.text()
    assert f"{out} holds epoch 3 of {EPOCHS}; continue with: convlab train --resume {out} --nproc 2" in last
    assert job.text().count("convlab: error:") == 1, job.text()
    before = (out / "state.pt").read_bytes()
    r = run_cli(*train(data, out), "--nproc", "2", timeout=BOUND_S)  # another job, the same folder
    assert_user_error(r, f"run folder {out} already exists")
    assert (out / "state.pt").read_bytes() == before
    r = run_cli("train", "--resume", out, "--nproc", "2", "--quiet", timeout=BOUND_S)  # the printed command
    assert r.returncode == 0, r.stderr
    assert_same_training_state(out, reference)
    FIGURES["one_agent"] = "2 kills survived by restarts, 1 stopped the job and was resumed by hand; bitwise equal"


def test_two_agents_joined_by_a_c10d_rendezvous_recover_the_same_way(data, reference, tmp_path):
    """Two "machines": two torchrun agents, one process each, in their own folders, joined by a
    c10d rendezvous on 127.0.0.1; the run folder is on a path both see."""
    out, once, port = tmp_path / "shared" / "run", str(tmp_path / "fault"), free_port()
    agents = [tmp_path / "node0", tmp_path / "node1"]
    for d in agents:
        d.mkdir()
    launcher = torchrun(
        "--nnodes=2", "--nproc_per_node=1", "--max-restarts=2", "--rdzv-backend=c10d",
        f"--rdzv-endpoint=127.0.0.1:{port}", f"--rdzv-id=elastic-test-{port}",
    )  # fmt: skip
    job = Job([[*launcher, *train(data, out)]] * 2, {**TWO_FAULTS, "CONVLAB_TEST_KILL_ONCE": once}, agents)
    assert job.wait() == [0, 0], job.text()
    assert_recovered(job, out, reference, once)
    assert_same_training_state(out, reference)
    FIGURES["two_agents"] = "2 kills survived by restarts; bitwise equal"


def test_a_user_mistake_under_torchrun_is_one_line(tmp_path):
    r = run_cli("train", "--data", tmp_path / "missing.csv", "--nproc", "2", timeout=BOUND_S)
    assert_user_error(r, "missing.csv", "no such file")
    r = subprocess.run(
        [*torchrun("--standalone", "--nproc_per_node=2"), "train", "--data", str(tmp_path / "missing.csv")],
        capture_output=True, text=True, timeout=BOUND_S,
    )  # fmt: skip
    assert (r.stdout + r.stderr).count("convlab: error:") == 1, r.stderr
    assert "internal error" not in r.stderr and "convlab/cli.py" not in r.stderr  # no convlab traceback


def test_a_silent_peer_is_noticed_within_the_timeout(data, tmp_path):
    """Rank 1 stopped (SIGSTOP: alive, silent, as a hung machine) in the middle of training: rank 0
    gives up after CONVLAB_PEER_TIMEOUT seconds at whatever collective it waits in, in one line."""
    port, procs = free_port(), []
    for rank in (0, 1):
        env = {**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "LOCAL_RANK": str(rank), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": str(port), "CONVLAB_PEER_TIMEOUT": "5"}  # fmt: skip
        cmd = [sys.executable, "-m", "convlab", *train(data, tmp_path / "run", "--epochs", "100")]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    try:
        for line in procs[0].stdout:  # both ranks are training once rank 0 reports epoch 1
            if line.startswith("epoch   1/"):
                break
        procs[1].send_signal(signal.SIGSTOP)
        stopped = time.monotonic()
        _, err = procs[0].communicate(timeout=120)
        took = time.monotonic() - stopped
    finally:
        procs[1].kill()
        procs[1].communicate()
    assert procs[0].returncode == 3 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith("convlab: error: lost training process rank 1 (silent for 5 s"), err
    assert f"{tmp_path / 'run'} holds epoch" in err
    assert 5 <= took < 60, took
    FIGURES["silent_peer_noticed_after_s"] = round(took, 1)
