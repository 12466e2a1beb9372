"""Training from the playground's API: a real `fit()` in its own process writing a normal run
folder; one job at a time (409); other computers refused unless allowed (403); a killed process
reported as killed and resumable; watching a run does not change it."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from conftest import make_images, write_idx_folder
from convlab.checkpoint import load_checkpoint, load_state
from convlab.config import TrainConfig
from convlab.train import fit
from convlab.web.app import create_app
from convlab.web.live import EVENTS, Recorder
from convlab.web.models import Models
from convlab.web.training import Job


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_idx_folder(tmp_path_factory.mktemp("idx"), *make_images(512, 4, seed=1), *make_images(128, 4, seed=2))


def app_for(tmp_path, data, allow=True):
    app = create_app(Models(), runs=tmp_path / "runs", data=data, allow_training=allow)
    return app, TestClient(app)


def finish(app):
    """Wait for the job's process to end (no polling: the process itself)."""
    app.state.training.job.proc.wait(300)


def events(run_dir):
    return [json.loads(line) for line in (run_dir / EVENTS).read_text().splitlines()]


def test_a_training_runs_to_the_end_and_joins_the_catalogue(tmp_path, data):
    app, client = app_for(tmp_path, data)
    opts = client.get("/api/train/options").json()
    assert opts["allowed"] and "data" in opts["datasets"] and opts["data"] == data.name
    lenet = next(m for m in opts["models"] if m["name"] == "lenet")
    assert lenet["epochs"] == 15 and lenet["lr"] == 0.01  # LeNet's recipe sets neither: TrainConfig's fallbacks
    s = client.post("/api/train/start", json={"dataset": "data", "model": "lenet", "epochs": 2, "lr": 0.01, "probe": 3})
    assert s.status_code == 200 and s.json()["state"] in ("preparing", "running"), s.text
    finish(app)
    s = client.get("/api/train").json()
    assert s["state"] == "finished", s
    run_dir = tmp_path / "runs" / s["run"]
    ev = events(run_dir)
    kinds = [e["type"] for e in ev]
    assert kinds[0] == "start" and kinds[-1] == "end" and ev[-1]["status"] == "finished"
    steps = [e for e in ev if e["type"] == "step"]
    assert [e["step"] for e in steps] == list(range(1, 2 * ev[0]["steps_per_epoch"] + 1))
    assert [e["epoch"] for e in ev if e["type"] == "epoch"] == [1, 2]
    snaps = [e for e in ev if e["type"] == "snapshot"]
    assert len(snaps) >= 3 and len(snaps[-1]["kernels"]) == 6 and len(snaps[-1]["probabilities"]) == 4
    assert ev[0]["probe"]["index"] == 3 and ev[0]["classes"] == ["0", "1", "2", "3"]
    # the status carries the same history, and the run joined the catalogue under its name
    assert s["model"] == s["run"] and [e["type"] for e in s["events"]].count("epoch") == 2
    assert s["run"] in [m["name"] for m in client.get("/api/models").json()["models"]]
    ck = load_checkpoint(run_dir)
    assert ck.meta.metrics.epoch == 2 and ck.meta.config["threads"] == 1
    # the last snapshot is the finished model's view of the watched image
    a = client.post(f"/api/predict?model={s['run']}", json={"image": ev[0]["probe"]["image"]}).json()
    assert a["model"] == s["run"] and len(a["probabilities"]) == 4
    assert max(abs(p - q) for p, q in zip(a["probabilities"], snaps[-1]["probabilities"])) < 1e-3
    # later polls of the same event list get only what is new; another tab's first poll gets it all
    again = client.get(f"/api/train?since={s['next']}&snap={s['snap']}&stream={s['stream']}").json()
    assert again["events"] == [] and again["from"] == s["next"] and "snapshot" not in again
    other = client.get(f"/api/train?since={s['next']}&stream=another").json()
    assert other["from"] == 0 and other["events"] == s["events"]
    # the settings it was started with, for a reloaded page's form
    assert s["form"] == {"dataset": "data", "model": "lenet", "epochs": 2, "lr": 0.01, "max_train": 0, "probe": 3}
    # taken off the model list (not a bundled one), its files kept
    assert client.post("/api/train/forget", json={"model": "lenet-digits"}).status_code == 400
    assert client.post("/api/train/forget", json={"model": s["run"]}).json() == {"forgotten": s["run"]}
    assert s["run"] not in [m["name"] for m in client.get("/api/models").json()["models"]]
    assert (run_dir / "model.safetensors").is_file() and "model" not in client.get("/api/train").json()


def test_one_training_at_a_time_and_stop(tmp_path, data):
    app, client = app_for(tmp_path, data)
    first = client.post("/api/train/start", json={"dataset": "data", "model": "lenet", "epochs": 50}).json()
    r = client.post("/api/train/start", json={"dataset": "data", "model": "lenet", "epochs": 1})
    assert r.status_code == 409 and first["run"] in r.json()["error"] and "already running" in r.json()["error"]
    s = client.post("/api/train/stop", json={}).json()
    assert s["state"] in ("preparing", "running", "stopped")
    assert s["from"] + len(s["events"]) == s["next"]  # only events the page has not been sent
    finish(app)
    s = client.get("/api/train").json()
    assert s["state"] == "stopped", s
    # stopped before its first epoch: nothing kept, and it says so; no empty folder left behind
    assert s["epochs_done"] == 0 and s["resumable"] is False and s["removed"] is True and "model" not in s
    assert not (tmp_path / "runs" / first["run"]).exists()
    r = client.post("/api/train/stop", json={})
    assert r.status_code == 409 and "no training is running" in r.json()["error"]


def test_a_killed_training_is_reported_and_resumes(tmp_path, data, monkeypatch):
    app, client = app_for(tmp_path, data)
    # 5 atomic writes per epoch (state, weights, json, config, metrics): the 6th is epoch 2's state
    monkeypatch.setenv("CONVLAB_TEST_KILL_AT_WRITE", "6")
    client.post("/api/train/start", json={"dataset": "data", "model": "lenet", "epochs": 3, "probe": 5})
    finish(app)
    monkeypatch.delenv("CONVLAB_TEST_KILL_AT_WRITE")
    s = client.get("/api/train").json()
    assert s["state"] == "killed" and s["resumable"] is True, s
    assert "signal SIGKILL" in s["error"] and "after 1 epoch" in s["error"] and "--resume" in s["error"]
    assert s["model"] == s["run"]  # its last completed epoch can be looked at
    assert load_state(tmp_path / "runs" / s["run"]).epoch == 1
    r = client.post("/api/train/start", json={"resume": s["run"]})
    assert r.status_code == 200, r.text
    finish(app)
    s = client.get("/api/train?since=0").json()
    assert s["state"] == "finished" and s["epochs_done"] == 3
    assert s["start"]["probe"]["index"] == 5 and s["form"]["probe"] == 5  # the same watched image as before
    steps = [e["step"] for e in s["events"] if e["type"] == "step"]
    assert steps == list(range(1, 3 * s["start"]["steps_per_epoch"] + 1))  # each step once
    assert [e["epoch"] for e in s["events"] if e["type"] == "epoch"] == [1, 2, 3]
    assert load_checkpoint(tmp_path / "runs" / s["run"]).meta.metrics.epoch == 3


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"dataset": "imagenet"}, "'dataset' must be one of"),
        ({"dataset": "data", "model": "gpt"}, "'model' must be one of"),
        ({"dataset": "data", "epochs": 0}, "'epochs' must be an integer from 1 to 100"),
        ({"dataset": "data", "epochs": 2.5}, "'epochs' must be an integer"),
        ({"dataset": "data", "epochs": True}, "'epochs' must be an integer"),
        ({"dataset": "data", "lr": "fast"}, "'lr' must be a number"),
        ({"dataset": "data", "probe": -1}, "'probe' must be a test image index"),
        ({"dataset": "data", "probe": 999999}, "index from 0 to 127 (this dataset has 128)"),
        ({"resume": "../../etc"}, "'resume' must name a run of this playground"),
        ({"resume": "no-such-run"}, "'resume' must name a run of this playground"),
    ],
)
def test_bad_training_requests_say_what_is_allowed(tmp_path, data, body, words):
    app, client = app_for(tmp_path, data)
    r = client.post("/api/train/start", json=body)
    assert r.status_code == 400 and words in r.json()["error"], r.text
    assert app.state.training.job is None and not (tmp_path / "runs").exists()  # nothing started, nothing written


def test_other_computers_may_watch_but_not_train(tmp_path, data):
    _, client = app_for(tmp_path, data, allow=False)  # the test client is not this machine's loopback
    assert client.get("/api/train/options").json()["allowed"] is False
    for path in ("/api/train/start", "/api/train/stop"):
        r = client.post(path, json={"dataset": "data"})
        assert r.status_code == 403 and "--allow-training" in r.json()["error"]
    assert client.get("/api/train").json() == {"state": "idle"}
    assert not (tmp_path / "runs").exists()


def test_watching_does_not_change_the_run(tmp_path, data):
    """Snapshots run the model in eval mode on the side: the weights come out bit for bit the same."""
    cfg = TrainConfig(data=str(data), model="lenet-modern", epochs=2, batch_size=64, threads=1)
    plain = fit(cfg, out=tmp_path / "plain", log=lambda *a: None, progress=False)
    rec = Recorder(tmp_path / "watched.jsonl", probe=5, every_s=0.0)  # a snapshot after every step
    watched = fit(cfg, out=tmp_path / "watched", log=lambda *a: None, progress=False, watch=rec)
    rec.end("finished")
    for (k, a), b in zip(plain.model.state_dict().items(), watched.model.state_dict().values()):
        assert torch.equal(a, b), k
    assert plain.history[-1]["test_acc"] == watched.history[-1]["test_acc"]
    snaps = [json.loads(x) for x in (tmp_path / "watched.jsonl").read_text().splitlines() if '"snapshot"' in x]
    assert len(snaps) >= 2 * 8  # 512 images / 64 per step, 2 epochs


def test_the_trainer_stops_when_its_server_is_gone(tmp_path, data):
    """A server killed without cleanup leaves no orphan training: the process notices and stops."""
    out = tmp_path / "run"
    spec = {"config": TrainConfig(data=str(data), model="lenet", epochs=50, threads=1).to_dict(), "out": str(out),
            "parent": os.getpid() + 10**7}  # fmt: skip  # a parent that is not its parent
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    r = subprocess.run([sys.executable, "-m", "convlab.web.live", str(tmp_path / "spec.json")], timeout=120)
    assert r.returncode == 130
    ev = events(out)
    assert ev[-1]["type"] == "end" and ev[-1]["status"] == "stopped"
    assert not any(e["type"] == "epoch" for e in ev)  # it stopped at its first step


@pytest.mark.slow
def test_a_stop_during_the_evaluation_keeps_that_epoch(tmp_path, data, monkeypatch):
    """The stop lands after the epoch's last step, while its test set is evaluated: the epoch is
    evaluated and saved, and the training stops at the next step."""
    from convlab.checkpoint import load_state
    from convlab.web import live

    record = live.Recorder.__call__

    def stop_after_last_step(rec, run, event):
        record(rec, run, event)
        if event["type"] == "step" and event["step"] == len(run.loader):
            os.kill(os.getpid(), signal.SIGINT)  # as the server's Stop does

    monkeypatch.setattr(live.Recorder, "__call__", stop_after_last_step)
    config = TrainConfig(data=str(data), model="lenet", epochs=3, batch_size=64, threads=1).to_dict()
    assert live.run_spec({"config": config, "out": str(tmp_path / "run")}) == 130
    ev = events(tmp_path / "run")
    assert ev[-1] == {**ev[-1], "type": "end", "status": "stopped", "epochs_saved": 1}
    assert [e["epoch"] for e in ev if e["type"] == "epoch"] == [1]
    assert max(e["step"] for e in ev if e["type"] == "step") == 8  # 512 images / 64: none of epoch 2 recorded
    assert load_state(tmp_path / "run").epoch == 1


class Running:
    pid = 1

    def poll(self):
        return None


def test_time_left_comes_from_this_process_pace(tmp_path):
    """A resumed run's earlier steps ran on another process's clock: the pace is the new one's."""
    lines = [{"type": "start", "epochs": 3, "steps_per_epoch": 10, "start_epoch": 0, "history": [], "t": 0}]
    lines += [{"type": "step", "step": i, "epoch": 1, "loss": 1.0, "t": 50.0 + 5 * i} for i in range(1, 11)]
    row = {"epoch": 1, "train_acc": 0.5, "test_acc": 0.5}
    lines += [{"type": "epoch", **row, "t": 200.0}]
    lines += [{"type": "start", "epochs": 3, "steps_per_epoch": 10, "start_epoch": 1, "history": [row], "t": 0}]
    lines += [{"type": "step", "step": 10 + i, "epoch": 2, "loss": 1.0, "t": 1.0 + 0.5 * i} for i in range(1, 6)]
    (tmp_path / EVENTS).write_text("".join(json.dumps(x) + "\n" for x in lines))
    job = Job(tmp_path, Running(), {})
    job.read()
    assert job.eta_s() == 0.5 * (30 - 15)  # 0.5 s a step, 15 steps to go
    assert [e["step"] for e in job.events if e["type"] == "step"] == list(range(1, 16))
