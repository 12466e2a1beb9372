"""Summaries and receptive fields against independent oracles: PyTorch's parameter count,
a hand count of multiply-adds, and the set of input pixels with a non-zero gradient."""

import pytest
import torch
from torch import nn

from convlab.errors import UserError
from convlab.introspect import capture, receptive_field, summary
from convlab.models import build_model


def test_lenet_summary_matches_the_seed():
    m = build_model("lenet")
    s = summary(m, (1, 28, 28))
    shapes = [r.output_shape[1:] for r in s.layers]
    assert shapes[0] == (6, 28, 28) and shapes[2] == (6, 14, 14) and shapes[3] == (16, 10, 10)
    assert shapes[5] == (16, 5, 5) and shapes[6] == (400,) and shapes[7] == (120,) and shapes[11] == (10,)
    assert s.total_params == sum(p.numel() for p in m.parameters())
    # hand count: conv1 28·28·6·25, conv2 10·10·16·(6·25), dense 400·120 + 120·84 + 84·10
    assert s.total_macs == 28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10
    assert s.layers[5].rf_size == (16, 16) and s.layers[5].rf_jump == (4, 4) and s.layers[5].rf_start == (-2, -2)
    text = str(s)
    assert "receptive field" in text and "16×16" in text and "61,706" in text
    assert "<table>" in s._repr_html_()


def _gradient_box(model, layer, unit, input_size):
    """Bounding box of input pixels whose gradient w.r.t. one unit is non-zero."""
    x = torch.rand((1, *input_size), dtype=torch.float64, requires_grad=True)
    y = x
    for i, module in enumerate(model):
        y = module(y)
        if i == layer:
            break
    y[0, 0, unit[0], unit[1]].backward()
    nz = torch.nonzero(x.grad[0].abs().sum(0))
    if len(nz) == 0:
        return None, None
    return [nz[:, 0].min().item(), nz[:, 0].max().item()], [nz[:, 1].min().item(), nz[:, 1].max().item()]


def _positive(model):
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.1, 1.0)  # no cancellation: every connected pixel gets a non-zero gradient
    return model.double()


MODELS = [
    lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(2, 2, 5, padding=2)),
    lambda: nn.Sequential(
        nn.Conv2d(1, 2, 3, stride=2, padding=1),
        nn.Conv2d(2, 2, 3, dilation=2, padding=2),
        nn.AvgPool2d(3, stride=2, padding=1),
        nn.Conv2d(2, 1, (3, 5), stride=(1, 2)),
    ),
    lambda: nn.Sequential(
        nn.Conv2d(1, 3, 5, padding=2),
        nn.AvgPool2d(2, 2),
        nn.Conv2d(3, 3, 3, dilation=3),
        nn.ReLU(),
        nn.Conv2d(3, 2, 2, stride=2, padding=1),
    ),
]


@pytest.mark.parametrize("make", MODELS)
def test_receptive_fields_match_gradients(make):
    torch.manual_seed(0)
    model = _positive(make())
    size = (1, 31, 29)
    s = summary(model, size)
    checked = 0
    for layer, info in enumerate(s.layers):
        if info.rf_size is None or isinstance(model[layer], (nn.Sigmoid, nn.ReLU)):
            continue
        oh, ow = info.output_shape[-2:]
        for unit in {(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 2), (0, ow - 1)}:
            rf = receptive_field(model, layer, unit, size)
            assert _gradient_box(model, layer, unit, size) == (rf["rows"], rf["cols"]), (layer, unit)
            checked += 1
    assert checked >= 8


def test_receptive_field_reports_padding_and_whole_input():
    m = build_model("lenet")
    rf = receptive_field(m, 0, (0, 0), (1, 28, 28))
    assert rf["window"] == {"rows": [-2, 2], "cols": [-2, 2]} and rf["rows"] == [0, 2] and rf["padding"]["rows"] == 2
    # a unit whose window reaches only into an inner layer's padding sees nothing of the image
    edge = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 2, stride=2, padding=1))
    assert receptive_field(edge, 1, (0, 0), (1, 8, 8))["rows"] == [0, 2]
    assert receptive_field(edge, 1, (0, 0), (1, 8, 8))["window"]["rows"] == [-1, 2]
    assert receptive_field(m, 8, (0, 0), (1, 28, 28))["whole_input"]


def test_unsupported_layer_is_named():
    class Weird(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(UserError, match=r"layer 1 \(Weird\)"):
        summary(nn.Sequential(nn.Conv2d(1, 1, 3), Weird()), (1, 8, 8))
    with pytest.raises(UserError, match="outside"):
        receptive_field(build_model("lenet"), 0, (30, 0), (1, 28, 28))


def test_capture_returns_every_layer():
    m = build_model("lenet-modern")
    outs = capture(m, torch.rand(2, 1, 28, 28))
    assert len(outs) == len(m) and outs[-1].shape == (2, 10)
