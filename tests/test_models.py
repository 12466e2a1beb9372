"""Models: the tutorial's shapes, parameter counts, and identical results on both op backends."""

import pytest
import torch

from convlab.errors import UserError
from convlab.introspect import layer_shapes
from convlab.models import build_model

SEED_SHAPES = [
    (1, 6, 28, 28),
    (1, 6, 28, 28),
    (1, 6, 14, 14),
    (1, 16, 10, 10),
    (1, 16, 10, 10),
    (1, 16, 5, 5),
    (1, 400),
    (1, 120),
    (1, 120),
    (1, 84),
    (1, 84),
    (1, 10),
]


def test_lenet_has_the_seeds_layers_and_shapes():
    rows = layer_shapes(build_model("lenet"), (1, 28, 28))
    assert [shape for _, shape in rows] == SEED_SHAPES
    assert [name for name, _ in rows][:3] == ["Conv2d", "Sigmoid", "AvgPool2d"]


def test_lenet_parameter_count():
    # 6·(25+1) + 16·(6·25+1) + 400·120+120 + 120·84+84 + 84·10+10
    assert sum(p.numel() for p in build_model("lenet").parameters()) == 61706


@pytest.mark.parametrize("name", ["lenet", "lenet-modern"])
def test_both_backends_give_the_same_results(name):
    torch.manual_seed(1)
    a = build_model(name, ops="torch").double()
    torch.manual_seed(1)
    b = build_model(name, ops="convlab").double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 1, 28, 28, dtype=torch.float64)
    torch.testing.assert_close(a(x), b(x))
    a(x).logsumexp(1).sum().backward()
    b(x).logsumexp(1).sum().backward()
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p.grad, q.grad)


def test_other_input_sizes_and_channels():
    m = build_model("lenet-modern", num_classes=5, in_channels=3, input_size=(32, 40))
    assert m(torch.randn(2, 3, 32, 40)).shape == (2, 5)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        (dict(name="lenet5"), "did you mean 'lenet'"),
        (dict(name="lenet", ops="jax"), "unknown ops backend"),
        (dict(name="lenet", input_size=(8, 8)), "too small"),
        (dict(name="lenet", num_classes=1), "at least 2 classes"),
    ],
)
def test_bad_model_arguments(kwargs, words):
    with pytest.raises(UserError, match=words):
        build_model(**kwargs)


@pytest.mark.parametrize("name", ["lenet", "lenet-modern"])
def test_convlab_models_stay_batch_last_and_match_torch(name):
    """With ops="convlab" every 4-D activation from the first convolution on is stored batch-last
    (no layer falls back to NCHW and forces transposes), and the logits equal the torch-ops model's."""
    from convlab import ops

    torch.manual_seed(0)
    ref = build_model(name, ops="torch").double()
    ours = build_model(name, ops="convlab").double()
    ours.load_state_dict(ref.state_dict())
    layouts = []
    for m in ours:
        m.register_forward_hook(
            lambda mod, args, out: (
                layouts.append((type(mod).__name__, ops.is_batch_last(out))) if out.dim() == 4 else None
            )
        )
    x = torch.randn(8, 1, 28, 28, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x))
    assert layouts and all(bl for _, bl in layouts), layouts


# --- the classic architectures -----------------------------------------------------------------

from convlab.models import MODELS, smallest_input  # noqa: E402

ZOO = sorted(MODELS)


@pytest.mark.parametrize("name", ZOO)
def test_every_model_takes_28x28_gray_and_32x32_rgb(name):
    m = build_model(name, num_classes=7)
    assert m(torch.randn(3, 1, 28, 28)).shape == (3, 7)
    assert build_model(name, num_classes=10, in_channels=3, input_size=(32, 32))(torch.randn(2, 3, 32, 32)).shape == (
        2,
        10,
    )
    import importlib
    import re

    # each family lives in its own module of convlab.models, whose docstring names its source (a
    # paper's title and year, or the tutorial's §) and says what it introduced
    module = MODELS[name].build.__module__
    assert module.startswith("convlab.models."), module
    doc = importlib.import_module(module).__doc__ or ""
    assert re.search(r'\("[^"]+", (19|20)\d\d\)|§\d', doc), (module, doc[:200])
    assert "introduced" in doc, module


def _training_copy(name: str, ops: str, dtype, state=None):
    torch.manual_seed(3)
    m = build_model(name, ops=ops).to(dtype)
    if state is not None:
        m.load_state_dict(state)
    m.train()
    for d in m.modules():
        if isinstance(d, torch.nn.Dropout):
            d.eval()  # its mask is drawn in memory order, and convlab keeps maps batch-last
    return m


def _forward_backward(m, x, g):
    y = m(x)
    return y, torch.autograd.grad(y, list(m.parameters()), g.to(y.dtype))


def _rel(u, v) -> float:
    return float((u.detach() - v.detach().to(u.dtype)).norm() / v.detach().norm().clamp_min(1e-30))


@pytest.mark.parametrize("name", ZOO)
def test_both_backends_agree_in_training_mode_on_every_model(name):
    """Same weights, ops="torch" vs ops="convlab", training mode (batch norm on batch statistics):
    * float64: outputs and every parameter's gradient within 1e-10;
    * float32: outputs within 1e-4 of float64; every gradient within 1e-4 of the exact (float64)
      gradient along the branch that float32 run took, or no further from it than twice PyTorch's
      own float32 error. (Batch norm over a batch of four, on maps as small as 2×2, divides channels
      that ReLU emptied by √ε: PyTorch's float32 gradients then differ from its float64 ones by up
      to 1e-2 — by far more on NiN — so 1e-4 between two float32 implementations is not a property
      either can have there.)
    "Along its branch": a ReLU input within float32 noise of zero (GoogLeNet has one at −9.35e-7
    with these seeds) lands on either side depending on the order of the sums, i.e. on the CPU's
    kernels (AVX-512 or AVX2), and one flipped mask under batch norm moves every earlier gradient
    by ~1e-3. Neither implementation can promise the side; each promises an accurate gradient of
    the branch it took, and that it departs from float64's only at near-ties (helpers/branches.py)."""
    from helpers.branches import near_tie_flips, recording

    x = torch.randn(4, 1, 28, 28, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ref64 = _training_copy(name, "torch", torch.float64)
    state = ref64.state_dict()
    g_out = torch.randn(4, 10, dtype=torch.float64, generator=torch.Generator().manual_seed(2))  # d(loss)/d(logits)
    with recording(ref64) as branch64:
        y64, g64 = _forward_backward(ref64, x, g_out)
    yc64, gc64 = _forward_backward(_training_copy(name, "convlab", torch.float64, state), x, g_out)
    torch.testing.assert_close(yc64, y64, rtol=1e-10, atol=1e-10)
    for (pname, _), u, v in zip(ref64.named_parameters(), gc64, g64):
        torch.testing.assert_close(
            u, v, rtol=1e-10, atol=1e-10 * max(1.0, float(v.abs().max())), msg=lambda m, p=pname: f"{p}: {m}"
        )
    state32 = {k: t.float() if t.is_floating_point() else t for k, t in state.items()}
    runs = {}
    for ops in ("torch", "convlab"):
        m32 = _training_copy(name, ops, torch.float32, state32)
        with recording(m32) as branch32:
            y32, g32 = _forward_backward(m32, x.float(), g_out)
        assert _rel(y32, y64) <= 1e-4, (ops, _rel(y32, y64))
        exact = g64
        if near_tie_flips(branch64, branch32):  # the float64 gradient of the branch float32 took
            with recording(ref64, force=branch32):
                _, exact = _forward_backward(ref64, x, g_out)
        runs[ops] = [float((g.double() - e).norm()) for g, e in zip(g32, exact)]
    floor = 1e-6 * max(float(v.norm()) for v in g64)  # float32 resolution of the gradients' scale
    for (pname, _), err, torch_err, exact in zip(ref64.named_parameters(), runs["convlab"], runs["torch"], g64):
        assert err <= max(1e-4 * float(exact.norm()), 2 * torch_err, floor), (pname, err, torch_err, floor)


@pytest.mark.parametrize("name", ZOO)
def test_summary_counts_every_parameter(name):
    from convlab.introspect import summary

    m = build_model(name)
    assert summary(m, (1, 28, 28)).total_params == sum(p.numel() for p in m.parameters())


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_a_tiny_real_training_lowers_the_loss(name, tmp_path):
    from conftest import make_images
    from convlab.data.dataset import ImageDataset
    from convlab.train import TrainConfig, fit

    x, y = make_images(192, 4, seed=1)
    ds = ImageDataset("bars", list("abcd"), x, y, x[:32], y[:32], "generated")
    r = fit(
        TrainConfig(model=name, epochs=3, batch_size=32, lr=2e-3, amp=False, seed=0),
        out=tmp_path / "run",
        dataset=ds,
        progress=False,
        log=lambda *a: None,
    )
    losses = [h["train_loss"] for h in r.history]
    assert losses[-1] < losses[0], losses


def test_too_small_inputs_name_the_smallest_size():
    for name in ZOO:
        least = smallest_input(name)
        build_model(name, input_size=(least, least))
        if least > 1:
            with pytest.raises(UserError, match=f"at least {least}×{least}"):
                build_model(name, input_size=(least - 1, least - 1))
