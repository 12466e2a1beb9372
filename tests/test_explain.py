"""The arithmetic as text: the tutorial's lines exactly, and agreement with the fast ops."""

import ast
import math
import re
from fractions import Fraction

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab.errors import UserError
from convlab.explain import explain_conv, explain_pool, load_matrix, parse_matrix


def test_seed_conv_lines():
    e = explain_conv(parse_matrix("0 1 2; 3 4 5; 6 7 8"), parse_matrix("0 1; 2 3"))
    assert [c.text for c in e.cells] == [
        "0×0 + 1×1 + 3×2 + 4×3 = 19",
        "1×0 + 2×1 + 4×2 + 5×3 = 25",
        "3×0 + 4×1 + 6×2 + 7×3 = 37",
        "4×0 + 5×1 + 7×2 + 8×3 = 43",
    ]
    assert "height: ⌊(3 + 2·0 − 2) / 1⌋ + 1 = 2" in e.text()


def test_seed_pool_lines():
    e = explain_pool(parse_matrix("0 1 2; 3 4 5; 6 7 8"), 2, "max", stride=1)
    assert [c.text for c in e.cells] == [
        "max(0, 1, 3, 4) = 4",
        "max(1, 2, 4, 5) = 5",
        "max(3, 4, 6, 7) = 7",
        "max(4, 5, 7, 8) = 8",
    ]
    e = explain_pool(parse_matrix("0 1 2; 3 4 5; 6 7 8"), 2, "avg", stride=1)
    assert e.cells[0].text == "(0 + 1 + 3 + 4) / 4 = 2"


@pytest.mark.parametrize(("p", "s", "d"), [(1, 2, 1), (2, 1, 2), ((1, 0), (3, 2), 1)])
def test_padding_stride_dilation_agree_with_torch(p, s, d):
    torch.manual_seed(0)
    x, k = torch.randint(-5, 6, (7, 8)).double(), torch.randint(-2, 3, (3, 2)).double()
    e = explain_conv(x, k, p, s, d)
    assert torch.equal(e.output, F.conv2d(x[None, None], k[None, None], None, s, p, d)[0, 0])
    assert len(e.cells) == e.output.numel()


def test_max_pool_padding_shows_minus_infinity():
    e = explain_pool(parse_matrix("1 2; 3 4"), 2, "max", padding=1)
    assert e.cells[0].text == "max(−∞, −∞, −∞, 1) = 1"


def test_matrix_from_image_file(tmp_path):
    from PIL import Image

    Image.fromarray(torch.arange(12, dtype=torch.uint8).reshape(3, 4).numpy() * 20).save(tmp_path / "a.png")
    assert load_matrix(str(tmp_path / "a.png")).tolist()[0] == [0, 20, 40, 60]
    (tmp_path / "m.csv").write_text("1,2\n3,4\n")
    assert load_matrix(str(tmp_path / "m.csv")).tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize(
    ("text", "words"), [("1 2; 3", "row 2 has 1 values"), ("1 x; 3 4", "'x' in row 1"), ("", "empty")]
)
def test_malformed_matrices(text, words):
    with pytest.raises(UserError, match=words):
        parse_matrix(text)


def test_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match="larger than the padded input"):
        explain_conv(parse_matrix("1 2; 3 4"), parse_matrix("1 1 1; 1 1 1; 1 1 1"))


# --- every printed formula is true as written -----------------------------------------------------


def evaluate(text: str):
    """A printed expression read as a person reads it: ⌊…⌋ floors, · and × multiply, − subtracts,
    standard precedence (Python's parser), numbers as the decimals they are written as."""
    src = text.replace("⌊", "floor(").replace("⌋", ")").replace("·", "*").replace("×", "*")
    src = src.replace("−", "-").replace("∞", "inf")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return Fraction(str(node.value))
        if isinstance(node, ast.Name) and node.id == "inf":
            return math.inf
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        if isinstance(node, ast.BinOp):
            a, b = ev(node.left), ev(node.right)
            ops = {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b, ast.Div: lambda: a / b}
            return ops[type(node.op)]()
        if isinstance(node, ast.Call) and node.func.id in ("floor", "max"):
            args = [ev(a) for a in node.args]
            return math.floor(args[0]) if node.func.id == "floor" else max(args)
        raise AssertionError(f"unexpected {ast.dump(node)} in {text!r}")

    return ev(ast.parse(src, mode="eval"))


def check_line(line: str) -> Fraction:
    """`expression = result` (or ≈): the expression, evaluated, equals the printed result (exactly for
    '=', to within the rounding of 4 printed significant digits for '≈': 1/1000 of the terms'
    magnitudes, the expression evaluated with every sign dropped). Returns the printed result."""
    expr, rel, result = re.fullmatch(r"(.*) ([=≈]) (\S+)", line).groups()
    got, shown = evaluate(expr), evaluate(result)
    if rel == "=" or not math.isfinite(shown):
        assert got == shown, f"{line!r} reads as {got}"
    else:
        magnitude = evaluate(expr.replace("-", "")) + abs(shown)  # cell lines: no subtraction, only negative numbers
        assert got != shown and abs(got - shown) <= Fraction(1, 1000) * magnitude, line
    return shown


def test_the_dilated_kernel_extent_is_bracketed(cli):
    """`--padding 1 --dilation 2` on a 3×3 input and kernel: the output is 3×3 (ask PyTorch), and the
    printed formula must read as 3, not as ⌊(3 + 2·1 − 2·(2 − 1) + 1) / 1⌋ + 1 = 5."""
    r = cli("explain", "conv", "--input", "0 1 2; 3 4 5; 6 7 8", "--kernel", "0 1; 2 3", "--padding", "1",
            "--dilation", "2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip().startswith(("height:", "width:"))]
    torch_out = F.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2), padding=1, dilation=2).shape[-2:]
    assert len(lines) == 2 and [check_line(ln.split(": ", 1)[1]) for ln in lines] == list(torch_out)


numbers = st.one_of(st.integers(-9, 9), st.decimals(-50, 50, places=3).map(float))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2),
    st.integers(1, 3), st.integers(1, 3), st.data(),
)  # fmt: skip
def test_printed_conv_arithmetic_is_true_and_matches_pytorch(h, w, kh, kw, p, s, d, data):
    """Every `Y[i,j] = …` line and both output-size lines of `explain conv`, evaluated as written,
    give their printed result, which is PyTorch's value and output size."""
    if h + 2 * p < d * (kh - 1) + 1 or w + 2 * p < d * (kw - 1) + 1:
        return
    x = torch.tensor(data.draw(st.lists(st.lists(numbers, min_size=w, max_size=w), min_size=h, max_size=h)))
    k = torch.tensor(data.draw(st.lists(st.lists(numbers, min_size=kw, max_size=kw), min_size=kh, max_size=kh)))
    x, k = x.double(), k.double()
    ref = F.conv2d(x[None, None], k[None, None], None, s, p, d)[0, 0]
    text = explain_conv(x, k, p, s, d).text().splitlines()
    cells = [ln.split(" = ", 1)[1] for ln in text if ln.startswith("  Y[")]
    assert len(cells) == ref.numel()
    for line, want in zip(cells, ref.flatten().tolist()):
        assert math.isclose(float(check_line(line)), want, rel_tol=1e-3, abs_tol=1e-9), line
    sizes = [check_line(ln.split(": ", 1)[1]) for ln in text if ln.startswith(("  height:", "  width:"))]
    assert sizes == list(ref.shape)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.integers(1, 3), st.integers(0, 1), st.integers(1, 3),
       st.sampled_from(["max", "avg"]), st.data())  # fmt: skip
def test_printed_pool_arithmetic_is_true_and_matches_pytorch(h, w, size, p, s, mode, data):
    if 2 * p > size or h + 2 * p < size or w + 2 * p < size:
        return
    x = torch.tensor(data.draw(st.lists(st.lists(numbers, min_size=w, max_size=w), min_size=h, max_size=h)))
    x = x.double()
    pool = F.max_pool2d if mode == "max" else F.avg_pool2d
    ref = pool(x[None, None], size, s, p)[0, 0]
    text = explain_pool(x, size, mode, p, s).text().splitlines()
    cells = [ln.split(" = ", 1)[1] for ln in text if ln.startswith("  Y[")]
    assert len(cells) == ref.numel()
    for line, want in zip(cells, ref.flatten().tolist()):
        assert math.isclose(float(check_line(line)), want, rel_tol=1e-3, abs_tol=1e-9), line
    sizes = [check_line(ln.split(": ", 1)[1]) for ln in text if ln.startswith(("  height:", "  width:"))]
    assert sizes == list(ref.shape)


def test_the_explorer_shows_formulas_true_as_written():
    """The playground's explorer prints the `formula` and each cell's `text` of /api/explain as they come."""
    from starlette.testclient import TestClient

    from convlab.checkpoint import load_checkpoint
    from convlab.web.app import create_app

    client = TestClient(create_app(load_checkpoint()))
    x = [[1, 2, 3, 4, 5], [0, 1, 0, 1, 0], [2, 2, 2, 2, 2], [5, 4, 3, 2, 1], [1, 1, 1, 1, 1]]
    body = {"mode": "conv", "input": x, "kernel": [[1, 0.5], [-0.25, 2]], "padding": 1, "stride": 2, "dilation": 3}
    d = client.post("/api/explain", json=body).json()
    ref = F.conv2d(
        torch.tensor(x).double()[None, None], torch.tensor(body["kernel"]).double()[None, None], None, 2, 1, 3
    )
    assert [check_line(f.split(": ", 1)[1]) for f in d["formula"]] == list(ref.shape[-2:])
    assert [float(check_line(c["text"])) for c in d["cells"]] == ref.flatten().tolist()
