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
