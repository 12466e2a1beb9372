"""BlurPool (anti-aliased downsampling, Zhang 2019) against its oracle: PyTorch's depthwise conv2d
(groups=C) with the binomial kernel on the reflect- or zero-padded input, forward and gradients;
the fast op against its loop; the kernel against Pascal's triangle by hand."""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from convlab import ops
from convlab.errors import UserError
from convlab.layers import BlurPool2d

EXAMPLES = 40
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-5, atol=1e-6)}


def oracle(x, k, s, mode):
    """torch.nn.functional: pad (k − 1)/2, the odd one after, then a depthwise conv2d."""
    before, after = (k - 1) // 2, k // 2
    xp = F.pad(x, (before, after, before, after), mode="reflect" if mode == "reflect" else "constant")
    row = torch.tensor([1.0, 1.0], dtype=torch.float64)
    for _ in range(k - 2):  # the binomial row by repeated convolution with [1, 1], independent of math.comb
        row = torch.cat([row, row.new_zeros(1)]) + torch.cat([row.new_zeros(1), row])
    row = row[:k] / row[:k].sum()
    kernel = (row[:, None] * row[None, :]).to(x.dtype).expand(x.shape[1], 1, k, k)
    return F.conv2d(xp, kernel, stride=s, groups=x.shape[1])


@st.composite
def case(draw):
    k, s = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w), k, s, draw(st.sampled_from(["reflect", "zeros"]))


def check_against(fn, x, k, s, mode, dtype):
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    y1, y2 = fn(x1), oracle(x2, k, s, mode)
    assert y1.shape == y2.shape
    torch.testing.assert_close(y1, y2, **TOL[dtype])
    gy = torch.randn_like(y2)
    (g1,), (g2,) = torch.autograd.grad(y1, [x1], gy), torch.autograd.grad(y2, [x2], gy)
    torch.testing.assert_close(g1, g2, **TOL[dtype])


@settings(max_examples=EXAMPLES, deadline=None)
@given(case(), st.sampled_from([torch.float64, torch.float32]))
def test_blur_pool2d_matches_depthwise_conv2d_forward_and_gradient(c, dtype):
    shape, k, s, mode = c
    check_against(lambda t: ops.blur_pool2d(t, k, s, mode), torch.randn(shape, dtype=dtype), k, s, mode, dtype)


@settings(max_examples=15, deadline=None)
@given(case())
def test_the_loop_matches_depthwise_conv2d_and_the_fast_op(c):
    (_, ch, h, w), k, s, mode = c
    x = torch.randn(1, ch, h, w, dtype=torch.float64)
    check_against(lambda t: ops.blur_pool2d_loop(t[0], k, s, mode)[None], x, k, s, mode, torch.float64)
    torch.testing.assert_close(ops.blur_pool2d(x[0], k, s, mode), ops.blur_pool2d_loop(x[0], k, s, mode))


def test_the_kernel_is_pascals_triangle_by_hand():
    assert ops.binomial_kernel(1).tolist() == [[1.0]]
    k3 = ops.binomial_kernel(3, torch.float64) * 16
    assert k3.tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    assert (ops.binomial_kernel(5, torch.float64)[2] * 256).tolist() == [6, 24, 36, 24, 6]


def test_hand_computed_cell_and_a_constant_map():
    x = torch.arange(16.0).reshape(1, 4, 4)  # reflect padding: row −1 is row 1, column −1 is column 1
    y = ops.blur_pool2d(x, 3, 2)
    window = torch.tensor([[5.0, 4, 5], [1, 0, 1], [5, 4, 5]])  # rows 1,0,1 × cols 1,0,1 of x
    assert y.shape == (1, 2, 2) and y[0, 0, 0] == (window * torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]])).sum() / 16
    assert torch.equal(ops.blur_pool2d(torch.full((2, 7, 5), 3.0)), torch.full((2, 4, 3), 3.0))  # low-pass keeps DC


def test_the_layer_runs_on_either_backend_with_no_state():
    x = torch.randn(4, 6, 12, 12)
    a, b = BlurPool2d(6, ops_name="convlab"), BlurPool2d(6, ops_name="torch")
    torch.testing.assert_close(a(x), b(x), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a(x), oracle(x, 3, 2, "reflect"), rtol=1e-5, atol=1e-6)
    assert a.state_dict() == {} and not list(a.parameters())


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: ops.blur_pool2d(torch.zeros(5, 5)), "must be \\(N, C, H, W\\)"),
        (lambda: ops.blur_pool2d(torch.zeros(1, 1, 5, 5), stride=0), "stride must be ≥ 1"),
        (lambda: ops.blur_pool2d(torch.zeros(1, 1, 5, 5), 0), "filter size must be 1–16"),
        (lambda: ops.blur_pool2d(torch.zeros(1, 1, 5, 5), padding_mode="wrap"), "padding_mode must be one of"),
        (lambda: ops.blur_pool2d(torch.zeros(1, 1, 2, 2), 5), "reflect padding of 2 needs a map larger than 2"),
    ],
)
def test_bad_arguments_are_user_errors(call, words):
    with pytest.raises(UserError, match=words):
        call()
