"""The arithmetic as text: the tutorial's lines exactly, and agreement with the fast ops."""

import pytest
import torch
import torch.nn.functional as F

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
