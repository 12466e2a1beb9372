"""Summaries and receptive fields against independent oracles: PyTorch's parameter count,
a hand count of multiply-adds, and the set of input pixels with a non-zero gradient."""

import pytest
import torch
import torch.nn.functional as F
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


def test_an_unknown_layer_keeps_the_table_and_says_why():
    class Weird(nn.Module):
        def forward(self, x):
            return x

    model = nn.Sequential(nn.Conv2d(1, 2, 3), Weird(), nn.Conv2d(2, 3, 3), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    s = summary(model, (1, 8, 8))
    assert [r.output_shape[1:] for r in s.layers] == [(2, 6, 6), (2, 6, 6), (3, 4, 4), (48,), (5,)]
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_macs == 6 * 6 * 2 * 9 + 4 * 4 * 3 * 2 * 9 + 48 * 5  # by hand: the layers after it still count
    rows = s.rows()
    assert rows[0][6] == "3×3" and "Weird" in rows[1][6] and "after layer 1" in rows[2][6]
    assert rows[4][6] == "n/a: after layer 1"  # what an unknown layer passes on is unknown, even to a dense layer
    text = str(s)
    assert "no receptive field: layer 1 (Weird): convlab does not know how Weird moves positions" in text
    with pytest.raises(UserError, match=r"layer 2 has no receptive field: layer 1 \(Weird\)"):
        receptive_field(model, 2, (0, 0), (1, 8, 8))
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


# --- any model someone writes: shared, parent-held and unused parameters, functions, AlexNet ----


class AlexNet(nn.Module):
    """torchvision's AlexNet (the "one weird trick" variant), written out by hand."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=0.5), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def test_hand_written_alexnet_at_224():
    s = summary(AlexNet(), (3, 224, 224))
    # by hand: (out positions)·(out channels)·(in channels·kh·kw) for each convolution, in·out for each dense layer
    convs = [55 * 55 * 64 * 3 * 11 * 11, 27 * 27 * 192 * 64 * 5 * 5, 13 * 13 * 384 * 192 * 9,
             13 * 13 * 256 * 384 * 9, 13 * 13 * 256 * 256 * 9]  # fmt: skip
    dense = [9216 * 4096, 4096 * 4096, 4096 * 1000]
    assert sum(convs) + sum(dense) == 714_188_480
    assert s.total_macs == 714_188_480
    assert [r.macs for r in s.layers if r.macs] == convs + dense
    weights = [64 * 3 * 121 + 64, 192 * 64 * 25 + 192, 384 * 192 * 9 + 384, 256 * 384 * 9 + 256, 256 * 256 * 9 + 256,
               9216 * 4096 + 4096, 4096 * 4096 + 4096, 4096 * 1000 + 1000]  # fmt: skip
    assert s.total_params == sum(weights) == 61_100_840
    pool = next(r for r in s.layers if r.kind == "AdaptiveAvgPool2d")
    assert pool.output_shape == (1, 256, 6, 6) and pool.rf_unknown is None
    before = s.layers[pool.index - 1]
    assert (pool.rf_size, pool.rf_jump, pool.rf_start) == (before.rf_size, before.rf_jump, before.rf_start)
    assert before.rf_size == (195, 195) and before.rf_jump == (32, 32)  # by the recurrence, conv by conv
    assert "61,100,840" in str(s) and "714,188,480" in str(s)


class Shared(nn.Module):
    """Tied, parent-held, unused and functional parameters; a ModuleDict, a ModuleList, a buffer; a
    residual addition."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(4, 4, 3, padding=1)
        self.b = nn.Conv2d(4, 4, 3, padding=1)
        self.b.weight = self.a.weight  # tied: one tensor, two layers
        self.scale = nn.Parameter(torch.ones(1, 4, 1, 1))  # held by the parent, used in forward
        self.kernel = nn.Parameter(torch.rand(6, 4, 1, 1))  # used through F.conv2d
        self.heads = nn.ModuleDict({"x": nn.Linear(6, 3), "y": nn.Linear(6, 3)})
        self.stack = nn.ModuleList([nn.ReLU(), nn.Dropout(0.1)])
        self.spare = nn.Linear(7, 7)  # never called
        self.register_buffer("steps", torch.zeros(100))  # a buffer is not a parameter

    def forward(self, x):
        y = self.b(self.a(x)) * self.scale + x  # residual addition
        for m in self.stack:
            y = m(y)
        y = F.conv2d(y, self.kernel)
        y = F.adaptive_avg_pool2d(y, 1).flatten(1)
        return self.heads["x"](y) + self.heads["y"](y) + self.heads["x"](y)  # one head called twice


def test_parameters_counted_once_as_pytorch_counts_them():
    model = Shared()
    s = summary(model, (4, 8, 8))
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 4 * 4 * 9 + 4 + 4 + 4 + 24 + 2 * 21 + 56
    assert dict(s.unused) == {"spare.weight": 49, "spare.bias": 7}
    rows = {r.name: r for r in s.layers}
    assert rows["a"].params == 148 and rows["b"].params == 4  # b's own bias; its weight is a's
    assert sum(r.params for r in s.layers if r.kind == "mul") == 4  # the parent's scale
    conv = next(r for r in s.layers if r.kind == "conv2d")
    assert conv.params == 24 and conv.macs == 8 * 8 * 6 * 4  # by hand: 1×1, 4 → 6 channels
    assert sum(r.params for r in s.layers if r.kind == "Linear") == 42  # the head called twice, counted once
    assert sum(r.macs for r in s.layers if r.kind == "Linear") == 3 * 6 * 3  # but computed three times
    assert "spare.weight (49)" in str(s)
    two = nn.Sequential(nn.Conv2d(4, 4, 3), nn.Conv2d(4, 4, 3))
    two[1].weight = two[0].weight
    assert summary(two, (4, 9, 9)).total_params == 152 == sum(p.numel() for p in two.parameters())


RESAMPLING = [
    lambda: nn.Sequential(nn.ZeroPad2d((1, 2, 0, 3)), nn.Conv2d(1, 2, 3, stride=2), nn.ReflectionPad2d(1),
                          nn.Conv2d(2, 2, 3), nn.ReplicationPad2d((2, 0, 1, 1)), nn.AvgPool2d(2)),
    lambda: nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1), nn.Dropout(0.5), nn.Conv2d(2, 2, 3, stride=2),
                          nn.Upsample(scale_factor=2), nn.Conv2d(2, 2, 3)),
    lambda: nn.Sequential(nn.Conv2d(1, 2, 3, stride=2), nn.Upsample(scale_factor=2, mode="bilinear"),
                          nn.AdaptiveAvgPool2d((12, 8)), nn.Conv2d(2, 2, 3, padding=1)),
]  # fmt: skip


@pytest.mark.parametrize("make", RESAMPLING)
def test_padding_and_resampling_layers_have_receptive_fields_that_gradients_confirm(make):
    """Padding, dropout, upsampling and adaptive pooling: every row has a window, and the exact pixels
    of units of every layer equal the pixels with a non-zero gradient; every exact pixel of a unit
    lies in its theoretical window (or, through a reflected or replicated border, its mirror)."""
    torch.manual_seed(0)
    model = _positive(make()).eval()
    size = (1, 25, 17)
    s = summary(model, size)
    assert all(r.rf_unknown is None and r.rf_size for r in s.layers), s.rows()
    mirrored = False
    for layer, info in enumerate(s.layers):
        mirrored |= isinstance(model[layer], (nn.ReflectionPad2d, nn.ReplicationPad2d))
        oh, ow = info.output_shape[-2:]
        for unit in {(0, 0), (oh - 1, ow - 1), (oh // 2, ow // 2), (0, ow - 1)}:
            rf = receptive_field(model, layer, unit, size, channel=0)
            assert _gradient_box(model, layer, unit, size) == (rf["rows"], rf["cols"]), (layer, unit)
            assert rf["pixels"] == int(_gradient_pixels(model, layer, unit, size, 0).sum()), (layer, unit)
            if not mirrored and rf["rows"] is not None:
                (top, bottom), (left, right) = rf["window"]["rows"], rf["window"]["cols"]
                assert top <= rf["rows"][0] and rf["rows"][1] <= bottom and left <= rf["cols"][0]
                assert rf["cols"][1] <= right, (layer, unit, rf)


def test_adaptive_pooling_and_upsampling_without_a_whole_pixel_window_say_so():
    s = summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveAvgPool2d(4), nn.Flatten()), (1, 9, 9))  # 7 → 4
    assert s.layers[1].rf_unknown is not None and s.layers[2].rf_unknown is not None
    assert "7 → 4" in s.layers[1].rf_unknown.reason and s.rows()[2][6] == "n/a: after layer 1"
    fine = summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.AdaptiveMaxPool2d(3)), (1, 8, 8))  # 6 → 3: windows 2, step 2
    assert fine.layers[1].rf_size == (4, 4) and fine.layers[1].rf_jump == (2, 2)
    up = summary(nn.Sequential(nn.Conv2d(1, 1, 3), nn.Upsample(scale_factor=2)), (1, 8, 8))  # units ½ pixel apart
    assert "1/2" in up.layers[1].rf_unknown.reason


def test_a_model_fx_cannot_trace_is_summarised_module_by_module():
    class Branchy(nn.Module):  # control flow on a tensor's value: no graph
        def __init__(self):
            super().__init__()
            self.c, self.d, self.head = nn.Conv2d(1, 4, 3), nn.Conv2d(4, 4, 3), nn.Linear(4, 2)
            self.gain = nn.Parameter(torch.ones(1))

        def forward(self, x):
            y = self.c(x)
            if y.abs().sum() > 0:
                y = self.d(y) * self.gain
            return self.head(y.mean((2, 3)))

    model = Branchy()
    s = summary(model, (1, 9, 9))
    assert s.total_params == sum(p.numel() for p in model.parameters()) == 40 + 148 + 10 + 1
    assert [r.output_shape[1:] for r in s.layers] == [(4, 7, 7), (4, 5, 5), (2,)]
    assert s.total_macs == 7 * 7 * 4 * 9 + 5 * 5 * 4 * 36 + 4 * 2  # by hand
    assert all(row[6] == "n/a: not traced" for row in s.rows()) and "control flow" in str(s)
