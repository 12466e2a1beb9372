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

    with pytest.raises(UserError, match=r"layer 1 \(Weird"):
        summary(nn.Sequential(nn.Conv2d(1, 1, 3), Weird()), (1, 8, 8))
    with pytest.raises(UserError, match="outside"):
        receptive_field(build_model("lenet"), 0, (30, 0), (1, 28, 28))


def test_capture_returns_every_layer():
    m = build_model("lenet-modern")
    outs = capture(m, torch.rand(2, 1, 28, 28))
    assert len(outs) == len(m) and outs[-1].shape == (2, 10)


# --- graphs with branches: residual additions, concatenations ---------------------------------


def _gradient_pixels(model, layer, unit, input_size, channel):
    """Input pixels whose gradient w.r.t. one unit of one channel is non-zero (the oracle)."""
    from convlab.graph import layer_graph

    g = layer_graph(model)
    target = g.rows[layer].node
    x = torch.rand((1, *input_size), dtype=torch.float64, requires_grad=True)
    outputs = {}

    class Keep(torch.fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            outputs[n] = out
            return out

    Keep(g.module).run(x)
    outputs[target][0, channel, unit[0], unit[1]].backward()
    return x.grad[0].abs().sum(0) != 0  # (H, W)


def _structural(model: nn.Module) -> nn.Module:
    """The same network with every max pool replaced by an average pool of the same geometry.

    A receptive field is what a unit can depend on; a max pool's gradient reaches only the pixel
    that won, an average pool's reaches its whole window (the same footprint), so with positive
    weights the gradient oracle shows every pixel the unit depends on."""
    for parent in list(model.modules()):
        for key, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(parent, key, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, child.ceil_mode))
    return model


@pytest.mark.parametrize("name", ["resnet", "googlenet", "densenet", "resnext"])
def test_exact_receptive_fields_through_branches_match_gradients(name):
    """For units of several layers — inside blocks, at additions, at concatenations — the exact
    pixel set from mask propagation equals the set of pixels with a non-zero gradient."""
    from convlab.graph import layer_graph
    from convlab.receptive import exact_pixels

    torch.manual_seed(0)
    model = _positive(_structural(build_model(name))).eval()  # eval: batch norm on running stats
    size = (1, 28, 28)
    g = layer_graph(model)
    kinds = [r.kind for r in g.rows]
    shapes = g.shapes(size)
    picks = [i for i, s in enumerate(shapes) if len(s) == 4]
    merges = [i for i in picks if kinds[i] in ("add", "cat")]
    chosen = sorted({*merges[:3], *merges[-2:], picks[1], picks[len(picks) // 2], picks[-1]})
    assert merges, f"{name} has no additions or concatenations?"
    for layer in chosen:
        _, c, oh, ow = shapes[layer]
        for unit, channel in (((0, 0), 0), ((oh // 2, ow // 2), c - 1), ((oh - 1, ow - 1), c // 2)):
            expected = _gradient_pixels(model, layer, unit, size, channel)
            got = exact_pixels(g, layer, unit, size, channel)
            assert torch.equal(got, expected), (name, layer, g.rows[layer].name, unit, channel)


def test_a_concatenation_channel_sees_only_its_own_branch():
    """GoogLeNet: channel 0 of an Inception output comes from the 1×1 branch alone (exactly one
    pixel's column at the input of the block), while its last channel comes through a 5×5."""
    from convlab.graph import layer_graph

    m = build_model("googlenet").eval()
    g = layer_graph(m)
    first_cat = next(r.index for r in g.rows if r.kind == "cat")
    one = receptive_field(m, first_cat, (7, 7), (1, 28, 28), channel=0)
    wide = receptive_field(m, first_cat, (7, 7), (1, 28, 28), channel=63)  # in the 1×1→3×3 branch's channels
    assert one["pixels"] < wide["pixels"] and one["size"] == wide["size"]  # same theoretical window


def test_summary_of_a_residual_network_groups_blocks_and_counts_by_hand():
    m = build_model("resnet")
    s = summary(m, (1, 28, 28))
    assert s.total_params == sum(p.numel() for p in m.parameters())
    block = next(b for b in s.blocks() if b["block"] == "2.0")  # stage 2's first block: it halves the map
    assert block["kind"] == "BasicBlock"
    # by hand: conv1 3×3 16→32 stride 2 (14×14 out), conv2 3×3 32→32, shortcut 1×1 16→32 stride 2
    assert block["macs"] == 14 * 14 * 32 * (16 * 9) + 14 * 14 * 32 * (32 * 9) + 14 * 14 * 32 * 16
    assert block["params"] == 32 * 16 * 9 + 32 * 32 * 9 + 32 * 16 + 3 * 2 * 32  # three convs, three batch norms
    names = [r.kind for r in s.layers if r.block == "2.0"]
    assert names.count("add") == 1 and names.count("relu") == 2
    text = str(s)
    assert "[2.0: BasicBlock]" in text and "add" in text


def test_hand_counts_for_inception_dense_and_grouped_blocks():
    g = summary(build_model("googlenet"), (1, 28, 28))
    inc = next(b for b in g.blocks() if b["block"] == "2.0")  # the first Inception block, at 14×14
    assert inc["kind"] == "Inception"
    hw = 14 * 14
    assert inc["macs"] == (
        hw * 32 * 64  # 1×1, 64 → 32
        + hw * 48 * 64
        + hw * 64 * 48 * 9  # 1×1, 64 → 48, then 3×3, 48 → 64
        + hw * 8 * 64
        + hw * 16 * 8 * 25  # 1×1, 64 → 8, then 5×5, 8 → 16
        + hw * 16 * 64  # 3×3 max pool (no multiplies), then 1×1, 64 → 16
    )
    d = summary(build_model("densenet"), (1, 28, 28))
    layer = [r for r in d.layers if r.block == "2.0"]  # the first dense layer: 24 → 48 (1×1) → 12 (3×3)
    assert sum(r.macs for r in layer) == 14 * 14 * 48 * 24 + 14 * 14 * 12 * 48 * 9
    x = summary(build_model("resnext"), (1, 28, 28))
    grouped = next(r for r in x.layers if r.name == "1.0.conv2")  # 3×3, 64 channels in 16 groups, stride 2
    assert grouped.macs == 14 * 14 * 64 * (64 // 16) * 9
