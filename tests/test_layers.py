"""convlab.layers against torch.nn: same init, same state_dict keys, same outputs and grads."""

import pytest
import torch
from torch import nn

from convlab import layers
from convlab.demos import learn_edge_kernel

PAIRS = [
    (lambda L: L(3, 8, kernel_size=3, stride=2, padding=1), nn.Conv2d, layers.Conv2d),
    (lambda L: L(4, 6, kernel_size=(3, 2), padding="same", dilation=2, groups=2, bias=False), nn.Conv2d, layers.Conv2d),
    (lambda L: L(kernel_size=3, stride=2, padding=1, ceil_mode=True), nn.MaxPool2d, layers.MaxPool2d),
    (lambda L: L(kernel_size=(2, 3), stride=(2, 3), padding=(0, 1)), nn.MaxPool2d, layers.MaxPool2d),
    (lambda L: L(kernel_size=2, stride=2), nn.AvgPool2d, layers.AvgPool2d),
    (lambda L: L(kernel_size=3, stride=2, padding=1, count_include_pad=False), nn.AvgPool2d, layers.AvgPool2d),
]


@pytest.mark.parametrize(("make", "torch_cls", "ours_cls"), PAIRS)
def test_layer_matches_torch_module(make, torch_cls, ours_cls):
    torch.manual_seed(0)
    ref = make(torch_cls)
    torch.manual_seed(0)
    ours = make(ours_cls)
    assert list(ours.state_dict()) == list(ref.state_dict())
    for a, b in zip(ours.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)  # same initialisation from the same seed
    ours.load_state_dict(ref.state_dict())
    c = getattr(ref, "in_channels", 4)
    x1 = torch.randn(2, c, 11, 9, dtype=torch.float64, requires_grad=True)
    x2 = x1.detach().clone().requires_grad_()
    y1, y2 = ours.double()(x1), ref.double()(x2)
    torch.testing.assert_close(y1, y2)
    y1.square().sum().backward()
    y2.square().sum().backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    for p1, p2 in zip(ours.parameters(), ref.parameters()):
        torch.testing.assert_close(p1.grad, p2.grad)


def test_seed_conv2d_layer_loop_and_fast_agree():
    torch.manual_seed(0)
    layer = layers.Conv2D((2, 2))
    X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
    slow = layer(X)
    layer.fast = True
    torch.testing.assert_close(layer(X), slow)
    assert list(layer.state_dict()) == ["weight", "bias"]


def test_edge_kernel_is_learned():
    # the tutorial's §2.4: ten SGD steps at lr 3e-2 from a random kernel recover K = [1, -1]
    result = learn_edge_kernel(epochs=10, lr=3e-2, seed=0)
    assert abs(result.kernel[0] - 1) < 0.1 and abs(result.kernel[1] + 1) < 0.1
    assert result.losses[-1][1] < result.losses[0][1] / 10


@pytest.mark.parametrize(
    "make",
    [
        lambda: layers.Conv2d(1, 1, 3, padding_mode="reflect"),
        lambda: layers.layer_set("numpy"),
    ],
)
def test_unsupported_options_are_refused(make):
    with pytest.raises(ValueError, match=r"convlab|ops must be"):
        make()


def test_pooling_with_indices_unpooling_and_divisor_override_match_torch():
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    y, idx = layers.MaxPool2d(3, 2, padding=1, return_indices=True)(x)
    ty, tidx = torch.nn.MaxPool2d(3, 2, padding=1, return_indices=True)(x)
    assert torch.equal(y, ty) and torch.equal(idx, tidx)
    torch.testing.assert_close(
        layers.MaxUnpool2d(3, 2, padding=1)(y, idx, output_size=x.shape),
        torch.nn.MaxUnpool2d(3, 2, padding=1)(ty, tidx, output_size=x.shape),
    )
    torch.testing.assert_close(layers.AvgPool2d(2, divisor_override=3)(x), torch.nn.AvgPool2d(2, divisor_override=3)(x))


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_on_batch_last_input_matches_torch_on_nchw(momentum):
    """Same outputs, gradients, running statistics and batch count as nn.BatchNorm2d on the
    same values stored NCHW — in training (two steps) and in eval — and the result stays batch-last."""
    from convlab import ops

    torch.manual_seed(0)
    ref, ours = nn.BatchNorm2d(5, momentum=momentum).double(), layers.BatchNorm2d(5, momentum=momentum).double()
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5), ref.bias.uniform_(-1, 1)
    ours.load_state_dict(ref.state_dict())
    for train in (True, True, False):
        ref.train(train), ours.train(train)
        x = torch.randn(6, 5, 7, 4, dtype=torch.float64) * 3 + 1
        x1, x2 = x.clone().requires_grad_(), ops.to_batch_last(x).requires_grad_()
        y1, y2 = ref(x1), ours(x2)
        assert ops.is_batch_last(y2)
        torch.testing.assert_close(y2, y1)
        gy = torch.randn_like(y1)
        g1 = torch.autograd.grad(y1, [x1, ref.weight, ref.bias], gy)
        g2 = torch.autograd.grad(y2, [x2, ours.weight, ours.bias], gy)
        for a, b in zip(g2, g1):
            torch.testing.assert_close(a, b)
        for a, b in zip(ours.state_dict().values(), ref.state_dict().values()):
            torch.testing.assert_close(a, b)  # running mean/var (unbiased) and num_batches_tracked
