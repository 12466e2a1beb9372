"""Training on real data: accuracy, identical backends, resume, run folders, divergence."""

import csv
import json
import math

import pytest
import torch

from convlab import train as train_mod
from convlab.checkpoint import load_checkpoint, load_state
from convlab.data import load_dataset
from convlab.errors import UserError
from convlab.train import TrainConfig, TrainingDiverged, fit, lr_at


@pytest.fixture(scope="module")
def fashion_small():
    """Fashion-MNIST (the real files) cut to 4,000 train / 2,000 test images."""
    from conftest import fashion_folder

    fashion_folder()
    ds = load_dataset("fashion-mnist", progress=False)
    ds.train_x, ds.train_y = ds.train_x[:4000], ds.train_y[:4000]
    ds.test_x, ds.test_y = ds.test_x[:2000], ds.test_y[:2000]
    return ds


def quick(**kw):
    base = dict(model="lenet-modern", epochs=2, batch_size=128, lr=3e-3, seed=0)
    return TrainConfig(**{**base, **kw})


@pytest.mark.slow
def test_short_real_run_learns(fashion_small, tmp_path):
    r = fit(quick(epochs=3), out=tmp_path / "run", dataset=fashion_small, progress=False, log=lambda *a: None)
    assert r.final["test_acc"] >= 0.75  # 4,000 images, 3 epochs; chance is 0.10
    for name in ("model.safetensors", "model.json", "state.pt", "metrics.csv", "curves.png", "confusion.png"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    rows = list(csv.DictReader(open(tmp_path / "run" / "metrics.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["architecture"]["name"] == "lenet-modern" and meta["config"]["epochs"] == 3
    assert meta["classes"][0] == "T-shirt/top" and meta["dark_background"] is True
    ck = load_checkpoint(tmp_path / "run")
    assert ck.meta.metrics.test_acc == pytest.approx(r.final["test_acc"])


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lenet", "lenet-modern"])
def test_convlab_and_torch_ops_give_the_same_loss_curve(fashion_small, tmp_path, model):
    """Two epochs in float32 on either backend: the same losses and accuracies, up to float32's
    rounding. How far rounding alone moves a run is measured on the oracle itself: PyTorch's ops
    with the maps stored channels-last sum in another order (as another CPU's kernels would), and
    a ReLU or max-pooling decision within rounding of a tie may then go the other way. The bound is
    1e-4 (relative) or three times that spread, whichever is larger."""
    runs = {}
    for ops, cl in (("torch", False), ("convlab", False), ("torch", True)):
        r = fit(
            quick(model=model, ops=ops, epochs=2, max_train=1024, channels_last=cl),
            out=tmp_path / f"{ops}-{cl}",
            dataset=fashion_small,
            progress=False,
            log=lambda *a: None,
        )
        runs[ops, cl] = r.history
    for a, b, c in zip(runs["torch", False], runs["convlab", False], runs["torch", True]):
        spread = abs(a["train_loss"] - c["train_loss"])
        assert abs(a["train_loss"] - b["train_loss"]) <= max(1e-4 * a["train_loss"], 1e-5, 3 * spread), (a, b, c)
        assert abs(a["test_acc"] - b["test_acc"]) <= max(2e-3, 3 * abs(a["test_acc"] - c["test_acc"])), (a, b, c)


@pytest.mark.slow
def test_resume_after_interrupt_matches_an_uninterrupted_run(fashion_small, tmp_path):
    cfg = quick(epochs=3, max_train=2000)
    full = fit(cfg, out=tmp_path / "full", dataset=fashion_small, progress=False, log=lambda *a: None)

    def stop_after_epoch_2(line):
        if line.startswith("epoch   2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fit(cfg, out=tmp_path / "cut", dataset=fashion_small, progress=False, log=stop_after_epoch_2)
    assert load_state(tmp_path / "cut").epoch == 2
    resumed = fit(resume=tmp_path / "cut", dataset=fashion_small, progress=False, log=lambda *a: None)
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3]
    for a, b in zip(full.history, resumed.history):  # bitwise on CPU
        assert (a["train_loss"], a["test_acc"], a["test_loss"]) == (b["train_loss"], b["test_acc"], b["test_loss"])
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k])


def test_existing_run_folder_is_never_overwritten(fashion_small, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "model.safetensors").write_bytes(b"precious")
    with pytest.raises(UserError, match="already exists"):
        fit(quick(epochs=1, max_train=256), out=out, dataset=fashion_small, progress=False)
    assert (out / "model.safetensors").read_bytes() == b"precious"


@pytest.mark.slow
def test_non_finite_loss_stops_and_keeps_the_last_good_epoch(fashion_small, tmp_path, monkeypatch):
    real = torch.nn.functional.cross_entropy
    calls = {"n": 0}

    def poisoned(out, y, **kw):
        loss = real(out, y, **kw)
        if "label_smoothing" in kw:  # training steps only
            calls["n"] += 1
            if calls["n"] > 10:  # epoch 1 has 8 steps at 1,024 images / 128
                return loss * float("nan")
        return loss

    monkeypatch.setattr(train_mod.F, "cross_entropy", poisoned)
    with pytest.raises(TrainingDiverged, match=r"non-finite at step 10 \(epoch 2\).*epoch 1.*lower learning rate"):
        fit(
            quick(epochs=3, max_train=1024),
            out=tmp_path / "run",
            dataset=fashion_small,
            progress=False,
            log=lambda *a: None,
        )
    assert load_state(tmp_path / "run").epoch == 1
    assert load_checkpoint(tmp_path / "run").meta.metrics.epoch == 1


def test_schedule_warms_up_and_anneals():
    cfg = TrainConfig(lr=1.0, warmup=0.1, schedule="onecycle")
    lrs = [lr_at(s, 100, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0) and lrs[-1] < 0.02
    cfg.schedule = "cosine"
    assert lr_at(55, 100, cfg) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        (dict(model="lenet5"), "did you mean 'lenet'"),
        (dict(dataset="fasion-mnist"), "did you mean 'fashion-mnist'"),
        (dict(epochs=0), "--epochs must be in \\[1, 10000\\]"),
        (dict(batch_size=0), "--batch-size must be in"),
        (dict(lr=-1.0), "--lr must be"),
        (dict(optimizer="adam"), "did you mean 'adamw'"),
        (dict(momentum=1.5), "--momentum must be"),
        (dict(device="cuda"), "no CUDA GPU"),
    ],
)
def test_bad_config_is_refused(kw, words):
    if kw.get("device") == "cuda" and torch.cuda.is_available():
        pytest.skip("not applicable here: a GPU is present")
    with pytest.raises(UserError, match=words):
        TrainConfig(**kw).validate()


@pytest.mark.slow
def test_channels_last_gives_the_same_training(fashion_small, tmp_path):
    runs = [
        fit(
            quick(model="lenet", epochs=1, max_train=512, channels_last=cl),
            out=tmp_path / str(cl),
            dataset=fashion_small,
            progress=False,
            log=lambda *a: None,
        ).history[0]
        for cl in (False, True)
    ]
    assert runs[0]["train_loss"] == pytest.approx(runs[1]["train_loss"], rel=1e-4)


@pytest.mark.slow
def test_plain_sgd_without_momentum_trains(fashion_small, tmp_path):
    r = fit(
        quick(model="lenet", optimizer="sgd", momentum=0.0, lr=0.5, epochs=1, max_train=512),
        out=tmp_path / "sgd",
        dataset=fashion_small,
        progress=False,
        log=lambda *a: None,
    )
    assert math.isfinite(r.history[0]["train_loss"])  # (Nesterov with momentum 0 used to raise)


@pytest.mark.slow
@pytest.mark.parametrize("ops", ["torch", "convlab"])
def test_cpu_bf16_autocast_trains_close_to_fp32(fashion_small, tmp_path, ops):
    """--amp on CPU: the same run in bf16 lands near the fp32 one (bf16 keeps ~3 digits)."""
    runs = [
        fit(
            quick(ops=ops, epochs=2, max_train=2000, amp=amp),
            out=tmp_path / str(amp),
            dataset=fashion_small,
            progress=False,
            log=lambda *a: None,
        ).history[-1]
        for amp in (None, True)
    ]
    assert runs[0]["train_loss"] != runs[1]["train_loss"]  # bf16 really ran
    assert runs[1]["train_loss"] == pytest.approx(runs[0]["train_loss"], rel=0.05)
    assert runs[1]["test_acc"] == pytest.approx(runs[0]["test_acc"], abs=0.03)
