"""`convlab check`: every known mistake is caught with its diagnosis, correct code in any style passes.

The oracles are hand-written: each wrong implementation below makes one mistake from the issue's
list on purpose, and must get that mistake's diagnosis; each correct one (loops, unfold, einsum,
NumPy) must pass; the tutorial's own code, copied verbatim, must pass in its own process.
Most tests run the learner's code in this process (the same engine, much faster); the ones that
need the sandbox (time limit, crash, import failure, command line) run it in its own.
"""

from __future__ import annotations

import string
import textwrap
from pathlib import Path

import pytest
import torch

from conftest import assert_user_error, run_cli
from convlab.check import cases, check, check_file
from convlab.check.engine import check_cases
from convlab.check.exercises import BY_KEY
from convlab.check.matrices import show
from convlab.check.messages import EN, ZH, Messages
from convlab.check.report import render
from convlab.check.runs import run_exercise, select
from convlab.check.sandbox import InProcess
from convlab.errors import UserError

FILES = Path(__file__).parent / "check_files"
D = textwrap.dedent
PRELUDE = "import math\nimport numpy as np\nimport torch\nimport torch.nn.functional as F\nfrom torch import nn\n"

CORR2D = """
def corr2d(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y
"""
PADS = "    ph, pw = (padding, padding) if isinstance(padding, int) else padding\n"
SH = "    sh, sw = (stride, stride) if isinstance(stride, int) else stride\n"
POOL_HEAD = "def pool2d(X, pool_size, mode='max', padding=0, stride=1):\n    p_h, p_w = pool_size\n" + PADS + SH


@pytest.fixture(autouse=True)
def quick_shrinking(monkeypatch):
    """Diagnoses need a failure, not the smallest one: hypothesis shrinks briefly here (cropping still runs)."""
    monkeypatch.setattr(cases, "SHRINK_SECONDS", 0.5)


def namespace(src: str) -> dict:
    ns: dict = {}
    exec(PRELUDE + textwrap.dedent(src), ns)
    return ns


def run(key: str, src: str, name: str | None = None, scale: float = 1.0, timeout: float = 10):
    """Check the exercise `key` on the code `src` (in this process)."""
    ex = BY_KEY[key]
    runner = InProcess(namespace(src), timeout=timeout)
    if ex.kind == "function":
        return check_cases(ex, name or ex.names[0], runner, timeout, scale)
    return run_exercise(ex, name or ex.names[0], runner, timeout, scale)


WRONG = {
    ("corr2d", "flipped"): CORR2D.replace("* K).sum()", "* K.flip(0, 1)).sum()"),
    ("corr2d", "output_shape"): CORR2D.replace("X.shape[0] - h + 1,", "X.shape[0] - h,"),
    ("corr2d", "transposed"): """
        def corr2d(X, K):
            h, w = K.shape
            Y = torch.zeros((X.shape[1] - w + 1, X.shape[0] - h + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] = (X[j:j + h, i:i + w] * K).sum()
            return Y
        """,
    ("corr2d", "int_truncated"): CORR2D.replace("w + 1))", "w + 1), dtype=X.dtype)"),
    ("corr2d", "in_place"): CORR2D.replace(
        "Y[i, j] = (X[i:i + h, j:j + w] * K).sum()",
        "window = X[i:i + h, j:j + w]\n            window *= K\n            Y[i, j] = window.sum()",
    ),
    ("corr2d", "one_side_padding"): """
        def corr2d(X, K, padding=0):
            ph, pw = (padding, padding) if isinstance(padding, int) else padding
            X = F.pad(X, (2 * pw, 0, 2 * ph, 0))
            h, w = K.shape
            Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
            return Y
        """,
    ("corr2d", "stride_ignored"): """
        def corr2d(X, K, stride=1):
            sh, sw = (stride, stride) if isinstance(stride, int) else stride
            h, w = K.shape
            Y = torch.zeros(((X.shape[0] - h) // sh + 1, (X.shape[1] - w) // sw + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
            return Y
        """,
    ("Conv2D", "weight_not_parameter"): CORR2D
    + D("""
        class Conv2D(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = torch.rand(kernel_size)
                self.bias = nn.Parameter(torch.zeros(1))
            def forward(self, x):
                return corr2d(x, self.weight) + self.bias
        """),
    ("Conv2D", "bias_missing"): CORR2D
    + D("""
        class Conv2D(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = nn.Parameter(torch.rand(kernel_size))
                self.bias = nn.Parameter(torch.zeros(1))
            def forward(self, x):
                return corr2d(x, self.weight)
        """),
    ("Conv2D", "flipped"): CORR2D
    + D("""
        class Conv2D(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = nn.Parameter(torch.rand(kernel_size))
                self.bias = nn.Parameter(torch.zeros(1))
            def forward(self, x):
                return corr2d(x, self.weight.flip(0, 1)) + self.bias
        """),
    ("output_size", "not_floored"): "def output_size(n, k, p, s):\n    return (n + 2 * p - k) / s + 1\n",
    ("output_size", "padding_once"): "def output_size(n, k, p, s):\n    return (n + p - k) // s + 1\n",
    ("output_size", "no_plus_one"): "def output_size(n, k, p, s):\n    return (n + 2 * p - k) // s\n",
    ("output_size", "ceil"): "def output_size(n, k, p, s):\n    return math.ceil((n + 2 * p - k) / s) + 1\n",
    ("corr2d_multi_in", "channels_not_summed"): CORR2D + "def corr2d_multi_in(X, K):\n    return corr2d(X[0], K[0])\n",
    ("corr2d_multi_in", "flipped"): CORR2D
    + "def corr2d_multi_in(X, K):\n    return sum(corr2d(x, k.flip(0, 1)) for x, k in zip(X, K))\n",
    ("corr2d_multi_in_out", "channels_not_summed"): CORR2D
    + D("""
        def corr2d_multi_in(X, K):
            for x, k in zip(X, K):
                Y = corr2d(x, k)
            return Y
        def corr2d_multi_in_out(X, K):
            return torch.stack([corr2d_multi_in(X, k) for k in K], 0)
        """),
    ("corr2d_multi_in_out_1x1", "channel_axes"): """
        def corr2d_multi_in_out_1x1(X, K):
            c_i, h, w = X.shape
            c_o = K.shape[0]
            Y = torch.matmul(K.reshape((c_i, c_o)).T, X.reshape((c_i, h * w)))
            return Y.reshape((c_o, h, w))
        """,
    ("corr2d_multi_in_out_1x1", "transposed"): """
        def corr2d_multi_in_out_1x1(X, K):
            c_i, h, w = X.shape
            c_o = K.shape[0]
            Y = torch.matmul(K.reshape((c_o, c_i)), X.reshape((c_i, h * w)))
            return Y.reshape((c_o, w, h))
        """,
    ("pool2d", "output_shape"): """
        def pool2d(X, pool_size, mode='max'):
            p_h, p_w = pool_size
            Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i: i + p_h, j: j + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.mean()
            return Y
        """,
    ("pool2d", "avg_count"): """
        def pool2d(X, pool_size, mode='max'):
            p_h, p_w = pool_size
            Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i: i + p_h, j: j + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.sum() / (p_h + p_w)
            return Y
        """,
    ("pool2d", "one_side_padding"): POOL_HEAD
    + """
            fill = float('-inf') if mode == 'max' else 0.0
            X = F.pad(X, (2 * pw, 0, 2 * ph, 0), value=fill)
            Y = torch.zeros(((X.shape[0] - p_h) // sh + 1, (X.shape[1] - p_w) // sw + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i * sh: i * sh + p_h, j * sw: j * sw + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.mean()
            return Y
        """.replace("\n        ", "\n"),
    ("pool2d", "max_pad_zero"): POOL_HEAD
    + """
            X = F.pad(X, (pw, pw, ph, ph))
            Y = torch.zeros(((X.shape[0] - p_h) // sh + 1, (X.shape[1] - p_w) // sw + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i * sh: i * sh + p_h, j * sw: j * sw + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.mean()
            return Y
        """.replace("\n        ", "\n"),
    ("pool2d", "in_place"): """
        def pool2d(X, pool_size, mode='max'):
            p_h, p_w = pool_size
            Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i: i + p_h, j: j + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.mean()
            X.clamp_(min=0)
            return Y
        """,
}


@pytest.mark.parametrize(("key", "mistake"), list(WRONG))
def test_each_known_mistake_is_caught_with_its_diagnosis(key, mistake):
    result = run(key, WRONG[key, mistake])
    assert result.status in ("fail", "learn_fail"), result.status
    assert result.diagnosis is not None, "no diagnosis"
    found, fields = result.diagnosis
    assert (fields.get("variant", found) if found == "size_formula" else found) == mistake


@pytest.mark.parametrize(("key", "mistake"), [("Conv2D", "weight_not_parameter"), ("pool2d", "in_place")])
def test_right_answers_done_wrong_are_not_shown_as_differing(key, mistake):
    result = run(key, WRONG[key, mistake])  # (a weight that is a plain tensor; an input changed in place)
    text = render("f.py", [result], [], Messages("en"))
    assert f"✗ {key} (§" in text and "gives convlab's answers, but not as the exercise asks" in text, text
    assert "differs" not in text and "yours:" not in text and "diagnosis:" in text, text


RIGHT = {
    "corr2d": {
        "loops": CORR2D,
        "unfold": """
            def corr2d(X, K):
                h, w = K.shape
                cols = F.unfold(X[None, None].double(), (h, w))[0]  # (h·w, positions)
                return (K.double().reshape(1, -1) @ cols).reshape(X.shape[0] - h + 1, X.shape[1] - w + 1)
            """,
        "einsum": """
            def corr2d(X, K):
                t = torch.result_type(X, K)
                windows = X.to(t).unfold(0, K.shape[0], 1).unfold(1, K.shape[1], 1)  # (H', W', h, w)
                return torch.einsum("ijkl,kl->ij", windows, K.to(t))
            """,
        "numpy": """
            def corr2d(X, K):
                windows = np.lib.stride_tricks.sliding_window_view(X.numpy(), K.shape)
                return np.einsum("ijkl,kl->ij", windows, K.numpy())
            """,
        "padding and stride": """
            def corr2d(X, K, padding=0, stride=1):
                ph, pw = (padding, padding) if isinstance(padding, int) else padding
                sh, sw = (stride, stride) if isinstance(stride, int) else stride
                X = F.pad(X, (pw, pw, ph, ph))
                h, w = K.shape
                Y = torch.zeros(((X.shape[0] - h) // sh + 1, (X.shape[1] - w) // sw + 1))
                for i in range(Y.shape[0]):
                    for j in range(Y.shape[1]):
                        Y[i, j] = (X[i * sh:i * sh + h, j * sw:j * sw + w] * K).sum()
                return Y
            """,
    },
    "pool2d": {
        "loops with padding and stride": POOL_HEAD
        + D("""
            X = F.pad(X.double(), (pw, pw, ph, ph), value=float('-inf') if mode == 'max' else 0.0)
            Y = torch.zeros(((X.shape[0] - p_h) // sh + 1, (X.shape[1] - p_w) // sw + 1))
            for i in range(Y.shape[0]):
                for j in range(Y.shape[1]):
                    w = X[i * sh: i * sh + p_h, j * sw: j * sw + p_w]
                    Y[i, j] = w.max() if mode == 'max' else w.mean()
            return Y
            """).replace("\n", "\n    "),
        "unfold": """
            def pool2d(X, pool_size, mode='max'):
                windows = X.double().unfold(0, pool_size[0], 1).unfold(1, pool_size[1], 1)
                return windows.amax((2, 3)) if mode == 'max' else windows.mean((2, 3))
            """,
        "numpy": """
            def pool2d(X, pool_size, mode='max'):
                windows = np.lib.stride_tricks.sliding_window_view(X.numpy(), pool_size)
                return windows.max(axis=(2, 3)) if mode == 'max' else windows.mean(axis=(2, 3))
            """,
    },
    "corr2d_multi_in": {
        "loops": CORR2D + "def corr2d_multi_in(X, K):\n    return sum(corr2d(x, k) for x, k in zip(X, K))\n",
        "einsum": """
            def corr2d_multi_in(X, K):
                t = torch.result_type(X, K)
                windows = X.to(t).unfold(1, K.shape[1], 1).unfold(2, K.shape[2], 1)  # (c_i, H', W', h, w)
                return torch.einsum("cijkl,ckl->ij", windows, K.to(t))
            """,
    },
    "corr2d_multi_in_out": {
        "torch": "def corr2d_multi_in_out(X, K):\n    return F.conv2d(X[None].double(), K.double())[0]\n",
    },
    "corr2d_multi_in_out_1x1": {
        "einsum": "def corr2d_multi_in_out_1x1(X, K):\n    return torch.einsum('oc,chw->ohw', K[:, :, 0, 0], X)\n",
    },
    "output_size": {
        "math.floor": "def output_size(n, k, padding, stride):\n"
        "    return math.floor((n - k + 2 * padding + stride) / stride)\n",
    },
}


@pytest.mark.parametrize(("key", "style"), [(k, s) for k, styles in RIGHT.items() for s in styles])
def test_correct_code_in_any_style_passes(key, style):
    result = run(key, RIGHT[key][style], scale=0.3)
    assert result.status == "pass", (result.status, result.failure)
    assert result.cases == round(BY_KEY[key].budget * 0.3)


def test_tutorial_conv2d_learns_the_edge_kernel():
    src = CORR2D + D("""
        class Conv2D(nn.Module):
            def __init__(self, kernel_size):
                super().__init__()
                self.weight = nn.Parameter(torch.rand(kernel_size))
                self.bias = nn.Parameter(torch.zeros(1))
            def forward(self, x):
                return corr2d(x, self.weight) + self.bias
        """)
    result = run("Conv2D", src)
    assert result.passed, result.status
    a, b = result.learned["kernel"]
    assert abs(a - 1) < 0.1 and abs(b + 1) < 0.1  # the tutorial prints [0.9475, -1.0273] after its 10 steps


LENET = """
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))
    """


def test_lenet_without_padding_is_wrong_at_its_first_layer():
    result = run("LeNet", LENET.replace(", padding=2", ""), name="net")
    assert result.status == "net_fail"
    bad = result.network["mismatch"]
    # hand arithmetic: ⌊(28 − 5)/1⌋ + 1 = 24 where the tutorial pads 2 and keeps 28
    assert (bad["i"], bad["got"], bad["right"]) == (0, (1, 6, 24, 24), (1, 6, 28, 28))


def test_lenet_with_a_wrong_dense_layer_fails_at_that_layer():
    result = run("LeNet", LENET.replace("16 * 5 * 5", "16 * 4 * 4"), name="net")
    bad = result.network["mismatch"]
    assert result.status == "net_fail" and bad["crash"] and bad["i"] == 7 and bad["shape"] == (1, 400)
    assert "mat1 and mat2" in result.network["error"]


def test_lenet_whose_weights_are_frozen_does_not_learn():
    src = D(LENET) + "for p in net.parameters():\n    p.requires_grad_(False)\n"
    result = run("LeNet", src, name="net")
    assert result.status == "net_fail" and result.network["mismatch"] is None
    assert result.network["learn"]["params"] == 0


def test_endless_loop_is_stopped_in_the_notebook_runner():
    result = run("corr2d", "def corr2d(X, K):\n    while True:\n        pass\n", scale=0.1, timeout=0.5)
    assert result.status == "timeout" and result.cases == 1


def write(tmp_path: Path, src: str, name: str = "mine.py") -> Path:
    path = tmp_path / name
    path.write_text(PRELUDE + textwrap.dedent(src))
    return path


@pytest.mark.slow
def test_endless_loop_in_a_file_is_stopped_cleanly(tmp_path):
    endless = "def corr2d(X, K):\n    while True:\n        pass\n"
    greedy = "def pool2d(X, pool_size, mode='max'):\n    return torch.ones(3 * 10**8)\n"  # 1.2 GB
    path = write(tmp_path, endless + RIGHT["output_size"]["math.floor"] + greedy)
    report = check_file(str(path), lang="en", timeout=1.0, memory_mb=512, scale=0.2)
    # the next exercise runs in a fresh process; the memory limit refuses 1.2 GB
    assert [r.status for r in report.results] == ["timeout", "pass", "crash"]
    assert "your corr2d did not finish within 1 s on a " in report.text
    assert "can't allocate memory" in report.text


def test_a_crash_shows_the_learners_traceback_then_what_was_checked(tmp_path):
    path = write(tmp_path, "def corr2d(X, K):\n    return X[10, 10] * K\n")
    report = check_file(f"{path}:corr2d", lang="en", scale=0.2)
    assert not report.passed and report.results[0].status == "crash"
    text = report.text
    assert f'File "{path}", line 7, in corr2d' in text and "IndexError" in text
    assert text.index("IndexError") < text.index("convlab was checking: corr2d(X: 1×1 float32, K: 1×1 float32)")


def test_code_under_another_name_with_as(tmp_path):
    path = write(tmp_path, RIGHT["output_size"]["math.floor"].replace("output_size", "my_formula"))
    report = check_file(f"{path}:my_formula", as_="output_size", lang="en", scale=0.2)
    assert report.passed and report.results[0].exercise.key == "output_size"
    assert "✓ my_formula (output_size, §" in report.text  # the heading names the exercise it was checked as


@pytest.mark.slow
def test_the_tutorials_own_code_passes_in_its_own_process():
    report = check_file(str(FILES / "tutorial_code.py"), lang="en")
    assert [(r.exercise.key, r.status) for r in report.results] == [
        ("corr2d", "pass"), ("Conv2D", "pass"), ("pool2d", "pass"), ("LeNet", "pass")
    ]  # fmt: skip
    assert "ms" in report.text and "loss" in report.text


def test_a_missing_file_is_one_line_and_exit_2(tmp_path):
    assert_user_error(run_cli("check", tmp_path / "missing.py", "--lang", "en"), "no such file")
    assert_user_error(run_cli("check", tmp_path, "--lang", "en"), "is a folder")
    (tmp_path / "notes.txt").write_text("def corr2d(X, K): return X\n")
    assert_user_error(run_cli("check", tmp_path / "notes.txt", "--lang", "en"), "is not a .py file")


def test_files_without_the_tutorials_names_are_user_errors(tmp_path):
    none = write(tmp_path, "x = 1\n")
    with pytest.raises(UserError, match="defines none of the tutorial's names"):
        check_file(str(none), lang="en")
    names = {"x": {"kind": "function", "params": []}}
    with pytest.raises(UserError, match="defines no 'y'; the names it defines: x"):
        select(names, "mine.py", "y", None, Messages("en"))
    with pytest.raises(UserError, match="unknown exercise 'pool3d'"):
        select(names, "mine.py", "x", "pool3d", Messages("en"))
    assert select(names, "mine.py", "x", "pool2d", Messages("en")) == ([(BY_KEY["pool2d"], "x")], [])


@pytest.mark.slow
def test_command_line_list_and_a_file_that_fails_to_import(tmp_path):
    r = run_cli("check", "--list", "--lang", "zh")
    assert r.returncode == 0 and "pool2d" in r.stdout and "名字" in r.stdout
    bad = write(tmp_path, "raise ValueError('my typo')\n", "broken.py")
    r = run_cli("check", bad, "--lang", "en")
    assert r.returncode == 1 and "failed while Python was importing it" in r.stdout and "my typo" in r.stdout


def test_both_languages_have_the_same_sentences_and_fields():
    fields = {k: sorted(f for _, f, _, _ in string.Formatter().parse(v) if f) for k, v in EN.items()}
    assert fields == {k: sorted(f for _, f, _, _ in string.Formatter().parse(v) if f) for k, v in ZH.items()}


def test_the_report_reads_the_same_in_both_languages():
    results = [run("corr2d", WRONG["corr2d", "flipped"]), run("output_size", WRONG["output_size", "no_plus_one"])]
    en, zh = (render("mine.py", results, ["pool2d"], Messages(lang)).splitlines() for lang in ("en", "zh"))
    assert len(en) == len(zh)
    tensors = [line for line in en if "tensor(" in line or line.startswith("    ")]
    assert tensors and tensors == [line for line in zh if "tensor(" in line or line.startswith("    ")]
    assert any("flipped" in line for line in en) and any("翻转" in line for line in zh)


def test_matrices_print_as_torch_prints_them_with_marks():
    for t in [torch.tensor([[19.0, 25.0], [37.0, 43.0]]), torch.arange(8.0).reshape(2, 2, 2) - 3.5,
              torch.tensor([[1, -2], [30, 4]]), torch.tensor([[0.25, -1.0]])]:  # fmt: skip
        assert show(t) == repr(t)
    marked = show(torch.tensor([[19.0, 25.0], [37.0, 44.0]]), torch.tensor([[False, False], [False, True]]))
    assert marked == "tensor([[19. , 25. ],\n        [37. , 44.*]])"


def test_check_from_a_notebook(capsys):
    ns = namespace(CORR2D)
    report = check(ns["corr2d"], lang="en")
    assert report.passed and "✓ corr2d (§2.2): 100 generated cases agree" in capsys.readouterr().out


def test_the_smallest_differing_input_is_printed_with_the_differing_cells_marked():
    result = run("corr2d", WRONG["corr2d", "flipped"])
    X, K = result.failure.case.args
    assert X.shape == K.shape and X.numel() == 2  # 1×2 or 2×1: the smallest input where a flipped kernel shows
    text = "\n".join(render("mine.py", [result], [], Messages("en")).splitlines())
    assert "X = tensor([[" in text and "*]])" in text and "(* marks the cells that differ)" in text


def test_the_language_follows_the_flag_then_the_locale(monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert Messages().lang == "zh" and Messages("en").lang == "en"
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert Messages().lang == "en"
