"""A network of the user's own (`--model FILE.py:NAME`): loading, fitting the data, the run
folder's code record and who may run it, convlab's ops swapped in, weights imported.

Oracles: `sum(p.numel() for p in model.parameters())`, PyTorch's own ops in float64, onnxruntime,
real Fashion-MNIST, and a marker file that the model file writes when (and only when) it is imported.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import assert_user_error, run_cli
from convlab import checkpoint as ckpt
from convlab import layers
from convlab.cli import main
from convlab.errors import UserCodeError, UserError
from convlab.introspect import summary
from convlab.models import build_model
from convlab.models.user import CodeConsent, record
from convlab.verify import verify_model


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def cli(capsys, *args) -> _Result:
    """The command line in this process (`convlab.cli.main`): exit status, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return _Result(code, out.out, out.err)


NETS = Path(__file__).parent / "helpers" / "user_nets.py"


@pytest.fixture
def nets(tmp_path) -> Path:
    path = tmp_path / "my_nets.py"
    shutil.copy(NETS, path)
    return path


def marked_file(tmp_path: Path) -> tuple[Path, Path]:
    """A model file that writes a marker file when it is imported."""
    marker = tmp_path / "imported.txt"
    path = tmp_path / "marked_net.py"
    path.write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n" + NETS.read_text(),
        encoding="utf-8",
    )
    return path, marker


@pytest.mark.parametrize(
    ("name", "size", "classes"),
    [("LeNetMax", (1, 28, 28), 10), ("AlexNet", (3, 224, 224), 1000), ("ResCat", (1, 28, 28), 10),
     ("cifar_net", (3, 32, 32), 10), ("Tied", (1, 28, 28), 10)],
)  # fmt: skip
def test_summary_totals_equal_torch_parameter_count(nets, name, size, classes):
    model = build_model(f"{nets}:{name}", classes, size[0], size[1:])
    assert tuple(model(torch.zeros(1, *size)).shape) == (1, classes)
    s = summary(model, size)
    assert s.total_params == sum(p.numel() for p in model.parameters())


def test_data_arguments_and_model_args_are_passed(nets):
    model = build_model(f"{nets}:LeNetMax", 5, 3, (28, 28), model_args={"width": 11})
    assert model.features[0].weight.shape == (11, 3, 5, 5)  # in_channels from the data, width from JSON
    assert model.classifier[-1].out_features == 5
    model = build_model(f"{nets}:cifar_net", 10, 3, (32, 32))  # a function, given input_size
    assert model[-1].in_features == 32 * 8 * 8


def test_summary_cli_takes_a_file(nets, capsys):
    r = cli(capsys, "summary", "--model", f"{nets}:ResCat", "--json")
    assert r.returncode == 0, r.stderr
    model = build_model(f"{nets}:ResCat", 10, 1, (28, 28))
    assert json.loads(r.stdout)["total_params"] == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("spec", "words"),
    [("missing.py:Net", ["missing.py", "does not exist"]), ("{nets}:Nope", ["'Nope'", "LeNetMax"]),
     ("{nets}:NOT_A_MODULE", ["NOT_A_MODULE", "not an nn.Module"]), ("{nets}:wrong_outputs", ["(3, 7)", "10 classes"]),
     ("no_such_pkg.mod:Net", ["no module"])],
)  # fmt: skip
def test_bad_model_is_one_line_and_writes_nothing(nets, tmp_path, spec, words, capsys):
    out = tmp_path / "run"
    r = cli(capsys, "train", "--model", spec.format(nets=nets), "--max-train", "64", "--epochs", "1", "--out", out)
    assert_user_error(r, *words)
    assert not out.exists()


def test_forward_failure_keeps_the_users_traceback_and_names_the_layer(nets, tmp_path, capsys):
    with pytest.raises(UserCodeError, match=r"layer '1' \(Linear\) failed on input of shape \(3, 784\)"):
        build_model(f"{nets}:too_small", 10, 1, (28, 28))
    assert main(["summary", "--model", f"{nets}:too_small"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "mat1 and mat2" in err and "convlab: error: too_small cannot take" in err
    assert "bug in convlab" not in err


def test_forward_failure_shows_only_the_users_frames(nets, tmp_path, capsys):
    out = tmp_path / "run"
    r = cli(capsys, "train", "--model", f"{nets}:ThreeChannels", "--max-train", "64", "--out", out)
    assert r.returncode == 2 and not out.exists()
    assert f'File "{nets}", line' in r.stderr and "x = self.conv(x)  # (the line the traceback shows)" in r.stderr
    assert "torch/nn" not in r.stderr and "convlab/" not in r.stderr  # no frames of PyTorch's or convlab's
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("convlab: error: ThreeChannels cannot take 1×28×28 inputs: layer 'conv' (Conv2d)")
    assert "(3, 1, 28, 28)" in last


def test_model_args_it_does_not_take_are_refused(nets):
    with pytest.raises(UserError, match="takes no argument 'depth'"):
        build_model(f"{nets}:LeNetMax", 10, 1, (28, 28), model_args={"depth": 3})


# --- the code record and who may run it -----------------------------------------------------


def _saved_run(tmp_path: Path, spec: str) -> Path:
    """A run folder's model.safetensors for `spec`, as training writes it (no training needed here)."""
    model = build_model(spec, 10, 1, (28, 28))
    meta = ckpt.model_meta(
        spec.rpartition(":")[2], 10, 1, (28, 28), "torch", [str(i) for i in range(10)], 0.5, 0.25,
        dark_background=True, code=record(spec),
    )  # fmt: skip
    run = tmp_path / "run"
    run.mkdir()
    ckpt.save_weights(run / "model.safetensors", model, meta)
    return run


def test_copied_run_folder_never_imports_its_code_without_trust(tmp_path, capsys):
    source, marker = marked_file(tmp_path)
    run = _saved_run(tmp_path, f"{source}:Tied")
    meta = ckpt.read_checkpoint(run, tensors=False)[1]
    assert meta.architecture.code is not None and meta.architecture.code.text == source.read_text()
    elsewhere = tmp_path / "copied"
    shutil.copytree(run, elsewhere)
    source.unlink()
    marker.unlink()
    r = cli(capsys, "predict", "--checkpoint", elsewhere, NETS)  # (any file; it never gets that far)
    assert_user_error(r, "--trust-model-code", "Tied")
    for command in (["eval"], ["export", "--out", tmp_path / "m.onnx"], ["serve", "--port", "1"]):
        assert_user_error(cli(capsys, *command, "--checkpoint", elsewhere), "--trust-model-code")
    (elsewhere / "config.toml").write_text(f'model = "{source}:Tied"\nepochs = 1\n')  # as training writes it
    r = cli(capsys, "train", "--config", elsewhere, "--out", tmp_path / "again")  # a recipe naming code
    assert_user_error(r, "names your own code", f"--model {source}:Tied")
    assert not marker.exists() and not (tmp_path / "again").exists()
    ck = ckpt.load_checkpoint(elsewhere, consent=CodeConsent(trust_run_copy=True))
    assert marker.exists()  # the run's own copy ran, and only now
    assert sum(p.numel() for p in ck.model.parameters()) == sum(p.numel() for p in ck.model.state_dict().values())


def test_changed_file_is_refused_before_it_runs(tmp_path, capsys):
    source, marker = marked_file(tmp_path)
    run = _saved_run(tmp_path, f"{source}:LeNetMax")
    source.write_text(source.read_text() + "\n# changed\n")
    marker.unlink()
    r = cli(capsys, "eval", "--checkpoint", run, "--model", f"{source}:LeNetMax")
    assert_user_error(r, "changed since the model was trained", "SHA-256")
    assert not marker.exists()


@pytest.mark.slow
def test_copied_run_refused_in_a_fresh_process(tmp_path):
    source, marker = marked_file(tmp_path)
    run = _saved_run(tmp_path, f"{source}:LeNetMax")
    marker.unlink()
    assert_user_error(run_cli("eval", "--checkpoint", run), "--trust-model-code")
    assert not marker.exists()


def test_checkpoint_loads_from_the_named_file(nets, tmp_path):
    run = _saved_run(tmp_path, f"{nets}:ResCat")
    ck = ckpt.load_checkpoint(run, consent=CodeConsent(model=f"{nets}:ResCat"))
    saved = ckpt.read_checkpoint(run)[0]
    assert all(torch.equal(saved[k], v) for k, v in ck.model.state_dict().items())


# --- convlab's ops, and weights from elsewhere ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "size"),
    [("LeNetMax", (1, 28, 28)), ("ResCat", (1, 28, 28)), ("cifar_net", (3, 32, 32)), ("Tied", (1, 28, 28))],
)
def test_verify_equals_pytorch_in_float64(nets, name, size):
    r = verify_model(f"{nets}:{name}", size)
    assert r.largest < 1e-10, r.text()
    swapped = {row.kind for row in r.layers if row.convlab}
    assert "Conv2d" in swapped and "Linear" in r.torch_only


def test_swap_keeps_the_same_parameters_and_ties(nets):
    model = build_model(f"{nets}:Tied", 10, 1, (28, 28))
    weight = model.shared.weight
    names = layers.to_convlab_ops(model)
    assert type(model.shared) is layers.Conv2d and type(model.pool) is layers.MaxPool2d
    assert model.shared.weight is weight and set(names) == {"inp", "shared", "pool"}
    model = build_model(f"{nets}:ResCat", 10, 1, (28, 28), ops="convlab")
    assert type(model.head[0]) is layers.GlobalAvgPool2d and type(model.block.bn1) is layers.BatchNorm2d


def test_verify_cli(nets, capsys):
    r = cli(capsys, "verify", "--model", f"{nets}:ResCat", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["largest"] < 1e-10 and {row["name"] for row in out["layers"]} >= {"block.conv1", "head.0"}


def test_import_weights_for_own_model(nets, tmp_path, capsys):
    torch.manual_seed(3)
    net = build_model(f"{nets}:LeNetMax", 10, 1, (28, 28))
    torch.save(net.state_dict(), tmp_path / "weights.pt")
    out = tmp_path / "imported.safetensors"
    r = cli(capsys, "import-weights", tmp_path / "weights.pt", "--model", f"{nets}:LeNetMax", "--out", out)
    assert r.returncode == 0, r.stderr
    ck = ckpt.load_checkpoint(out, consent=CodeConsent(model=f"{nets}:LeNetMax"))
    assert all(torch.equal(net.state_dict()[k], v) for k, v in ck.model.state_dict().items())
    torch.save({"features.0.weight": torch.zeros(6, 1, 5, 5)}, tmp_path / "partial.pt")
    r = cli(
        capsys, "import-weights", tmp_path / "partial.pt", "--model", f"{nets}:LeNetMax", "--out", tmp_path / "p.st"
    )
    assert_user_error(r, "missing", "classifier.1.bias")


# --- trained from the command line on real data ---------------------------------------------


@pytest.fixture(scope="module")
def fashion_folder(tmp_path_factory) -> Path:
    """300 real Fashion-MNIST training images as an image folder (one sub-folder per class): small
    enough that a 1-epoch run and its evaluation take seconds."""
    from PIL import Image

    from convlab.data import load_dataset

    ds = load_dataset("fashion-mnist", progress=False)
    root = tmp_path_factory.mktemp("fashion") / "images"
    for i in range(300):
        folder = root / f"class{int(ds.train_y[i])}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ds.train_x[i, 0].numpy()).save(folder / f"{i}.png")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("name", ["LeNetMax", "ResCat", "Tied"])
def test_train_then_every_command(nets, tmp_path, name, capsys, fashion_folder):
    run, spec = tmp_path / "run", f"{nets}:{name}"
    args = ["train", "--model", spec, "--data", str(fashion_folder), "--epochs", "1", "--batch-size", "32"]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    assert "1 epoch, batch 32" in capsys.readouterr().out  # (not "1 epochs")
    meta = ckpt.read_checkpoint(run, tensors=False)[1]
    assert meta.architecture.name == name and meta.architecture.code is not None
    image = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (28, 28), 0).save(image)
    given = ["--checkpoint", str(run), "--model", spec]
    assert main(["why", str(image), *given, "--out", str(tmp_path / "why"), "--method", "saliency,gradcam"]) == 0
    assert main(["visualize", str(image), *given, "--out", str(tmp_path / "maps")]) == 0
    assert main(["export", *given, "--out", str(tmp_path / "m.onnx")]) == 0  # checked with onnxruntime inside
    assert "onnxruntime" in capsys.readouterr().out
    assert main(["summary", *given]) == 0
    from convlab.web.app import models_for

    assert models_for(str(run), CodeConsent(model=spec)) is not None  # what `convlab serve` starts with
    if name == "LeNetMax":
        _resume_needs_the_file_or_trust(run, spec, tmp_path, capsys)
        given += ["--data", str(fashion_folder)]
        assert main(["mistakes", *given, "--pairs", "1", "--per-pair", "2"]) == 0
        assert main(["filter", *given, "--layer", "1", "--channel", "0", "--steps", "2", "--top", "2",
                     "--out", str(tmp_path / "f")]) == 0  # fmt: skip


@pytest.mark.slow
def test_train_3x32_network_on_convlab_ops(nets, tmp_path, fashion_folder):
    run = tmp_path / "run"  # (the real images read as RGB and resized to 32×32)
    args = ["train", "--model", f"{nets}:cifar_net", "--model-args", '{"width": 8}', "--input-size", "32", "32"]
    args += [
        "--channels",
        "3",
        "--data",
        str(fashion_folder),
        "--epochs",
        "1",
        "--ops",
        "convlab",
        "--batch-size",
        "32",
    ]
    assert main([*args, "--out", str(run), "--quiet"]) == 0
    meta = ckpt.read_checkpoint(run, tensors=False)[1]
    assert meta.architecture.code is not None and meta.architecture.code.args == {"width": 8}
    assert meta.architecture.in_channels == 3 and meta.architecture.input_size == (32, 32)


def test_explain_shapes_takes_a_file(nets, capsys):
    r = cli(capsys, "explain", "shapes", "--model", f"{nets}:cifar_net", "--input-size", "3", "32", "32")
    assert r.returncode == 0, r.stderr
    model, x = build_model(f"{nets}:cifar_net", 10, 3, (32, 32)), torch.zeros(1, 3, 32, 32)
    expected = []
    for layer in model:  # PyTorch's own shapes, layer by layer
        x = layer(x)
        expected.append(str(tuple(x.shape)))
    assert [line.split("\t")[-1] for line in r.stdout.splitlines()] == expected


def test_recorded_code_with_a_bad_sha_is_refused_by_name(tmp_path):
    from convlab.metadata import MetadataError, ModelMeta

    meta = ckpt.model_meta("Net", 2, 1, (28, 28), "torch", ["a", "b"], 0.5, 0.25, dark_background=True)
    d = meta.to_dict()
    assert "code" not in d["architecture"]  # the zoo's checkpoints are written as before
    d["architecture"]["code"] = {"name": "Net", "sha256": "beef", "text": "", "path": "/x.py"}
    with pytest.raises(MetadataError, match=r"architecture\.code\.sha256"):
        ModelMeta.from_dict(d, "model.json")


def test_a_model_file_without_its_name_says_how_to_name_it():
    from convlab.models import build_model

    with pytest.raises(UserError, match=r"my\.py is a file: name the network in it as my\.py:NAME"):
        build_model("my.py")


def _resume_needs_the_file_or_trust(run: Path, spec: str, tmp_path: Path, capsys) -> None:
    """--resume of a run of your own network: refused without --model or --trust-model-code (nothing
    imported: the marker file stays absent), refused for a changed file, continued with either."""
    copied = tmp_path / "copied"
    shutil.copytree(run, copied)
    source, marker = marked_file(tmp_path)
    source.write_text(source.read_text() + "\n# changed\n")
    marker.unlink(missing_ok=True)
    for more, words in (([], ["--trust-model-code", "--model"]), (["--model", f"{source}:LeNetMax"], ["changed"])):
        r = cli(capsys, "train", "--resume", copied, "--epochs", "2", "--quiet", *more)
        assert_user_error(r, *words)
    assert not marker.exists()
    assert main(["train", "--resume", str(run), "--epochs", "2", "--quiet", "--model", spec]) == 0
    assert main(["train", "--resume", str(copied), "--epochs", "2", "--quiet", "--trust-model-code"]) == 0
    for folder in (run, copied):  # each continued from its saved epoch, its code record kept
        assert [row["epoch"] for row in ckpt.load_state(folder).history] == [1, 2]
        assert (
            ckpt.read_checkpoint(folder, tensors=False)[1].architecture.code.text
            == Path(spec.rpartition(":")[0]).read_text()
        )


@pytest.mark.slow
def test_playground_trains_and_serves_the_network_named_at_start(nets, tmp_path, fashion_folder):
    """`convlab serve --model FILE.py:NAME --data DIR`: the Train tab offers that network (and no file a
    request names); the run it trains records the code and is served: predict, inside (info), why."""
    import base64

    from starlette.testclient import TestClient

    from convlab.web.app import create_app
    from convlab.web.models import models_for

    models = models_for(None, CodeConsent(model=f"{nets}:LeNetMax"))
    app = create_app(models, runs=tmp_path / "runs", data=fashion_folder, allow_training=True)
    client = TestClient(app)
    names = [m["name"] for m in client.get("/api/train/options").json()["models"]]
    assert "lenet" in names and names[-1] == "my_nets.py:LeNetMax"
    other = tmp_path / "other.py"
    shutil.copy(NETS, other)
    for asked in (f"{other}:LeNetMax", f"{nets}:LeNetMax", "my_nets.py:Tied"):  # only the name offered
        r = client.post("/api/train/start", json={"dataset": "data", "model": asked, "epochs": 1})
        assert r.status_code == 400 and "must be one of" in r.json()["error"], r.text
    r = client.post(
        "/api/train/start", json={"dataset": "data", "model": "my_nets.py:LeNetMax", "epochs": 1, "max_train": 64}
    )
    assert r.status_code == 200, r.text
    app.state.training.job.proc.wait(300)
    s = client.get("/api/train").json()
    assert s["state"] == "finished" and s["model"] == s["run"] and "LeNetMax" in s["run"], s
    code = ckpt.read_checkpoint(tmp_path / "runs" / s["run"], tensors=False)[1].architecture.code
    assert code is not None and code.sha256 == record(f"{nets}:LeNetMax").sha256
    image = next(fashion_folder.glob("*/*.png")).read_bytes()
    body = {"image": base64.b64encode(image).decode()}
    p = client.post(f"/api/predict?model={s['run']}", json=body).json()
    assert len(p["probabilities"]) == 10 and abs(sum(p["probabilities"]) - 1) < 1e-4, p
    info = client.get(f"/api/info?model={s['run']}").json()
    assert info["summary"]["total_params"] == sum(x.numel() for x in build_model(f"{nets}:LeNetMax").parameters())
    w = client.post(f"/api/why?model={s['run']}", json={**body, "method": "gradcam"})
    assert w.status_code == 200, w.text
