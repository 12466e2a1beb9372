"""convlab.ops against the oracle, torch.nn.functional: forward and every gradient.

Property-based: hypothesis draws shapes, strides, paddings (ints, asymmetric pairs,
"same"/"valid"), dilations, groups, ceil_mode and count_include_pad.
"""

import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convlab import ops

EXAMPLES = 120  # per property and dtype; see the README for the total
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-4)}
DTYPES = st.sampled_from([torch.float64, torch.float32])
LAYOUTS = st.sampled_from(["nchw", "batch-last"])


def in_layout(x, layout):
    """A leaf tensor with x's values, stored NCHW or batch-last (C, H, W, N)."""
    if layout == "batch-last" and x.dim() == 4:
        x = ops.to_batch_last(x.detach())
    return x.detach().requires_grad_()


def assert_layout_kept(y, layout):
    """An op's result is stored in its input's layout, as PyTorch's ops keep channels_last."""
    if y.dim() == 4:
        assert (y.permute(1, 2, 3, 0) if layout == "batch-last" else y).is_contiguous()


def grads(y, inputs, gy):
    return torch.autograd.grad(y, [t for t in inputs if t is not None], gy)


def assert_same(fast, ref, inputs, dtype):
    """Forward equal, and the gradient w.r.t. every input equal, for a random upstream grad."""
    y1, y2 = fast(), ref()
    assert y1.shape == y2.shape
    torch.testing.assert_close(y1, y2, **TOL[dtype])
    gy = torch.randn_like(y2)
    for g1, g2 in zip(grads(y1, inputs, gy), grads(y2, inputs, gy)):
        torch.testing.assert_close(g1, g2, **TOL[dtype])


def fits(n, k, pad, s, d):
    return n + 2 * pad - d * (k - 1) - 1 >= 0


@st.composite
def conv_case(draw):
    groups = draw(st.integers(1, 3))
    c, o = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    dilation = draw(st.one_of(st.integers(1, 2), st.tuples(st.integers(1, 2), st.integers(1, 2))))
    pad_choices = [st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)), st.just("valid")]
    if stride in (1, (1, 1)):
        pad_choices.append(st.just("same"))
    padding = draw(st.one_of(*pad_choices))
    n, h, w = draw(st.integers(1, 3)), draw(st.integers(1, 11)), draw(st.integers(1, 11))
    bias = draw(st.booleans())
    batched = draw(st.booleans())
    return dict(
        groups=groups,
        c=c,
        o=o,
        k=(kh, kw),
        stride=stride,
        dilation=dilation,
        padding=padding,
        n=n,
        h=h,
        w=w,
        bias=bias,
        batched=batched,
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(conv_case(), DTYPES, st.booleans(), LAYOUTS, st.booleans())
def test_conv2d_matches_torch(case, dtype, per_image, layout, row_chunks):
    """Both im2col layouts (per-image and batch-last) are drawn, whatever the map size, for
    inputs stored NCHW and batch-last, and batch-last im2col whole or one row at a time."""
    from convlab.ops import conv as conv_module

    saved = conv_module.PER_IMAGE_MIN_AREA, conv_module.CHUNK_BYTES
    conv_module.PER_IMAGE_MIN_AREA = 0 if per_image else 10**9
    conv_module.CHUNK_BYTES = 1 if row_chunks else 1 << 30
    try:
        _check_conv(case, dtype, layout)
    finally:
        conv_module.PER_IMAGE_MIN_AREA, conv_module.CHUNK_BYTES = saved


def _check_conv(case, dtype, layout):
    p = case["padding"]
    ph, pw = (0, 0) if p in ("valid", "same") else ((p, p) if isinstance(p, int) else p)
    dh, dw = (case["dilation"],) * 2 if isinstance(case["dilation"], int) else case["dilation"]
    if p != "same":
        assume(fits(case["h"], case["k"][0], ph, 1, dh) and fits(case["w"], case["k"][1], pw, 1, dw))
    shape = (case["n"], case["c"], case["h"], case["w"]) if case["batched"] else (case["c"], case["h"], case["w"])
    x = in_layout(torch.randn(shape, dtype=dtype), layout)
    wt = torch.randn(case["o"], case["c"] // case["groups"], *case["k"], dtype=dtype, requires_grad=True)
    b = torch.randn(case["o"], dtype=dtype, requires_grad=True) if case["bias"] else None
    kw = dict(stride=case["stride"], padding=p, dilation=case["dilation"], groups=case["groups"])
    assert_same(lambda: ops.conv2d(x, wt, b, **kw), lambda: F.conv2d(x, wt, b, **kw), [x, wt, b], dtype)
    assert_layout_kept(ops.conv2d(x, wt, b, **kw), layout)


@st.composite
def pool_case(draw, with_dilation):
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if with_dilation else (1, 1)
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    stride = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    return dict(
        kernel_size=(kh, kw),
        stride=stride,
        padding=padding,
        dilation=dil,
        ceil_mode=draw(st.booleans()),
        shape=(n, c, h, w),
        ints=draw(st.booleans()),
    )


def pool_input(case, dtype, layout):
    if case["ints"]:  # small integers: many ties, which must resolve as PyTorch's (first max)
        return in_layout(torch.randint(0, 4, case["shape"]).to(dtype), layout)
    return in_layout(torch.randn(case["shape"], dtype=dtype), layout)


def every_window_sees_input(n, k, p, s, d, ceil_mode):
    """False when some dilated window lies wholly in the padding: PyTorch's CPU kernel then
    routes the gradient outside the input (undefined behaviour), so there is no oracle."""
    s = s or k
    out = ops.conv_output_size(n, k, p, s, d, ceil_mode)
    return all(any(0 <= o * s - p + a * d < n for a in range(k)) for o in range(out))


@settings(max_examples=EXAMPLES, deadline=None)
@given(pool_case(with_dilation=True), DTYPES, LAYOUTS)
def test_max_pool2d_matches_torch(case, dtype, layout):
    _, _, h, w = case["shape"]
    assume(fits(h, case["kernel_size"][0], case["padding"][0], 1, case["dilation"][0]))
    assume(fits(w, case["kernel_size"][1], case["padding"][1], 1, case["dilation"][1]))
    stride = case["stride"] if case["stride"] is None or isinstance(case["stride"], tuple) else (case["stride"],) * 2
    for axis, n in ((0, h), (1, w)):
        assume(
            every_window_sees_input(
                n,
                case["kernel_size"][axis],
                case["padding"][axis],
                None if stride is None else stride[axis],
                case["dilation"][axis],
                case["ceil_mode"],
            )
        )
    x = pool_input(case, dtype, layout)
    kw = {k: case[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
    assert_same(lambda: ops.max_pool2d(x, **kw), lambda: F.max_pool2d(x, **kw), [x], dtype)
    assert_layout_kept(ops.max_pool2d(x, **kw), layout)


@settings(max_examples=EXAMPLES, deadline=None)
@given(pool_case(with_dilation=False), DTYPES, st.booleans(), LAYOUTS)
def test_avg_pool2d_matches_torch(case, dtype, count_include_pad, layout):
    _, _, h, w = case["shape"]
    assume(fits(h, case["kernel_size"][0], case["padding"][0], 1, 1))
    assume(fits(w, case["kernel_size"][1], case["padding"][1], 1, 1))
    x = pool_input(case, dtype, layout)
    kw = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    kw["count_include_pad"] = count_include_pad
    assert_same(lambda: ops.avg_pool2d(x, **kw), lambda: F.avg_pool2d(x, **kw), [x], dtype)
    assert_layout_kept(ops.avg_pool2d(x, **kw), layout)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(1, 30), st.integers(1, 6), st.integers(0, 3), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_conv_output_size_matches_torch_shapes(n, k, p, s, d, ceil_mode):
    assume(fits(n, k, p, s, d) and 2 * p <= k)
    y = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, d, ceil_mode=ceil_mode)
    assert ops.conv_output_size(n, k, p, s, d, ceil_mode) == y.shape[-1]


def test_max_pool_window_wholly_in_padding_is_minus_inf_with_zero_gradient():
    x = torch.randn(1, 1, 1, 6, requires_grad=True)
    y = ops.max_pool2d(x, (2, 1), stride=1, padding=(1, 0), dilation=(2, 1))
    assert torch.isinf(y).all() and (y < 0).all()
    y.sum().backward()
    assert (x.grad == 0).all()


def test_conv_output_size_is_the_seeds_formula():
    # the tutorial's §3.2: ⌊(n − k + p + s)/s⌋ with p the total padding; ours takes padding per side
    for n, k, p_total, s in [(8, 3, 2, 2), (28, 5, 4, 1), (6, 2, 0, 3), (7, 3, 2, 3)]:
        assert ops.conv_output_size(n, k, p_total // 2, s) == (n - k + p_total + s) // s


# --- the tutorial's own examples ---------------------------------------------------------------

X = torch.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]])
K = torch.tensor([[0.0, 1.0], [2.0, 3.0]])


def test_seed_corr2d_example():
    assert ops.corr2d(X, K).tolist() == [[19, 25], [37, 43]]
    assert ops.conv2d(X[None, None], K[None, None]).squeeze().tolist() == [[19, 25], [37, 43]]


def test_seed_pool2d_example():
    assert ops.pool2d(X, (2, 2), "max").tolist() == [[4, 5], [7, 8]]
    assert ops.pool2d(X, (2, 2), "avg").tolist() == [[2, 3], [5, 6]]
    assert ops.max_pool2d(X[None, None], 2, stride=1).squeeze().tolist() == [[4, 5], [7, 8]]
    assert ops.avg_pool2d(X[None, None], 2, stride=1).squeeze().tolist() == [[2, 3], [5, 6]]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(0, 1),
    st.integers(1, 3),
    st.sampled_from(["max", "avg"]),
)
def test_pool2d_loop_matches_fast_ops(h, w, kh, kw, pad, s, mode):
    assume(2 * pad <= min(kh, kw) and h + 2 * pad >= kh and w + 2 * pad >= kw)
    x = torch.randn(h, w, dtype=torch.float64)
    loop = ops.pool2d(x, (kh, kw), mode, padding=pad, stride=s)
    fast = (ops.max_pool2d if mode == "max" else ops.avg_pool2d)(x[None, None], (kh, kw), s, pad)
    torch.testing.assert_close(loop, fast[0, 0])


def test_multi_channel_loops_match_conv2d():
    torch.manual_seed(0)
    x, k3 = torch.randn(3, 6, 7, dtype=torch.float64), torch.randn(4, 3, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(ops.corr2d_multi_in(x, k3[0]), ops.conv2d(x, k3[:1])[0])
    torch.testing.assert_close(ops.corr2d_multi_in_out(x, k3), F.conv2d(x, k3))
    k1 = torch.randn(4, 3, 1, 1, dtype=torch.float64)
    torch.testing.assert_close(ops.corr2d_multi_in_out_1x1(x, k1), ops.corr2d_multi_in_out(x, k1))
    torch.testing.assert_close(ops.corr2d_multi_in_out_1x1(x, k1), F.conv2d(x, k1))


def test_seed_multi_in_example():
    # d2l's two-channel example (the tutorial's §4.1 figure): 56 72 104 120
    x = torch.stack([X, X + 1])
    k = torch.stack([K, K + 1])
    assert ops.corr2d_multi_in(x, k).tolist() == [[56, 72], [104, 120]]


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: ops.conv2d(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 5, 5)), "larger than the padded input"),
        (lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), stride=0), "stride must be positive"),
        (
            lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), dilation=(1, 0)),
            "dilation must be positive",
        ),
        (
            lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), padding=-1),
            "padding must be non-negative",
        ),
        (lambda: ops.conv2d(torch.zeros(1, 3, 8, 8), torch.zeros(2, 2, 3, 3)), "input has 3 channels"),
        (lambda: ops.conv2d(torch.zeros(1, 4, 8, 8), torch.zeros(3, 2, 3, 3), groups=2), "not divisible by groups"),
        (lambda: ops.conv2d(torch.zeros(8, 8), torch.zeros(1, 1, 3, 3)), "expected a 3-D or 4-D input"),
        (lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(3, 3)), "weight must be 4-D"),
        (
            lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), stride=2, padding="same"),
            "needs stride 1",
        ),
        (lambda: ops.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), padding="full"), "padding must be"),
        (lambda: ops.max_pool2d(torch.zeros(1, 1, 8, 8), 2, padding=2), "more than half the window"),
        (lambda: ops.avg_pool2d(torch.zeros(1, 1, 8, 8), 3, padding=2), "more than half the window"),
        (lambda: ops.max_pool2d(torch.zeros(1, 1, 2, 2), 3), "larger than the padded input"),
        (lambda: ops.max_pool2d(torch.zeros(1, 1, 8, 8), 2, stride=-1), "stride must be positive"),
        (lambda: ops.avg_pool2d(torch.zeros(1, 8, 8, 8, 8), 2), "expected a 3-D or 4-D input"),
        (lambda: ops.corr2d(torch.zeros(2, 2), torch.zeros(3, 3)), "larger than the input"),
        (lambda: ops.pool2d(torch.zeros(4, 4), (2, 2), "median"), "mode must be"),
        (lambda: ops.corr2d_multi_in(torch.zeros(2, 4, 4), torch.zeros(3, 2, 2)), "must share c_i"),
    ],
)
def test_bad_input_raises_clear_value_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.parametrize("layout", ["nchw", "batch-last"])
@pytest.mark.parametrize("size", [6, 20])  # batch-last and per-image paths for NCHW input
def test_conv2d_under_bf16_autocast_computes_as_torch_does(layout, size):
    """Under autocast, convlab's conv2d computes in the autocast dtype as F.conv2d does, and
    gradients reach float32 leaves as float32."""
    torch.manual_seed(0)
    x = in_layout(torch.randn(8, 3, size, size), layout)
    w = torch.randn(4, 3, 3, 3, requires_grad=True)
    b = torch.randn(4, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y1, y2 = ops.conv2d(x, w, b, padding=1), F.conv2d(x, w, b, padding=1)
    assert y1.dtype == y2.dtype == torch.bfloat16
    torch.testing.assert_close(y1.float(), y2.float(), rtol=2e-2, atol=5e-2)
    gy = torch.randn_like(y2)
    for g1, g2 in zip(torch.autograd.grad(y1, [x, w, b], gy), torch.autograd.grad(y2, [x, w, b], gy)):
        assert g1.dtype == g2.dtype == torch.float32
        torch.testing.assert_close(g1, g2, rtol=2e-2, atol=2e-2 * float(g2.abs().max()))


# --- PyTorch's own OpInfo samples ------------------------------------------------------------

OPINFO = {
    "nn.functional.conv2d": ops.conv2d,
    "nn.functional.max_pool2d": ops.max_pool2d,
    "nn.functional.avg_pool2d": ops.avg_pool2d,
    "nn.functional.max_unpool2d": ops.max_unpool2d,
}


def _opinfo_samples():
    pytest.importorskip("expecttest")  # the OpInfo database needs it
    from torch.testing._internal.common_methods_invocations import op_db

    out = []
    for info in op_db:
        if info.name in OPINFO:
            out += [(info, s) for s in info.sample_inputs("cpu", torch.float64, requires_grad=True)]
    return out


@pytest.mark.slow
def test_pytorch_opinfo_samples_forward_and_gradients():
    """Every sample input PyTorch's own test-suite feeds F.conv2d, F.max_pool2d (return_indices
    True and False), F.avg_pool2d (divisor_override included) and F.max_unpool2d: the same
    outputs, the same indices, the same gradients, in float64."""
    import warnings

    samples = _opinfo_samples()
    counts = {}
    for info, sample in samples:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # PyTorch's own 'same'-padding notice
            ref = info.op(sample.input, *sample.args, **sample.kwargs)
        ours = OPINFO[info.name](sample.input, *sample.args, **sample.kwargs)
        r, o = (ref[0], ours[0]) if isinstance(ref, tuple) else (ref, ours)
        where = (info.name, info.variant_test_name, tuple(sample.input.shape), sample.args, sample.kwargs)
        torch.testing.assert_close(o, r, rtol=1e-10, atol=1e-10, msg=str(where))
        if isinstance(ref, tuple):
            assert torch.equal(ours[1], ref[1]), where
        leaves = [t for t in (sample.input, *sample.args, *sample.kwargs.values()) if isinstance(t, torch.Tensor)]
        leaves = [t for t in leaves if t.requires_grad]
        g = torch.randn_like(r)
        for a, b in zip(torch.autograd.grad(o, leaves, g), torch.autograd.grad(r, leaves, g)):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10, msg=str(where))
        counts[info.name] = counts.get(info.name, 0) + 1
    assert counts["nn.functional.max_pool2d"] >= 1440 and counts["nn.functional.max_unpool2d"] >= 300
    assert counts["nn.functional.conv2d"] >= 30 and counts["nn.functional.avg_pool2d"] >= 7


def test_kernels_are_held_to_the_capability_asked_for():
    """scripts/test.sh reruns this file with ATEN_CPU_CAPABILITY=avx2 (an AVX-512 machine then runs
    the kernels an AVX2-only CPU gets): the setting must take, here and in a fresh process."""
    import os
    import subprocess
    import sys

    asked = os.environ.get("ATEN_CPU_CAPABILITY")
    if asked:
        assert torch.backends.cpu.get_cpu_capability().lower() == asked.lower()
    probe = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert r.stdout.strip() == "AVX2", (r.stdout, r.stderr)  # every x86-64 CPU the suite supports has AVX2
