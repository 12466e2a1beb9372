"""The CUDA path, where a CUDA GPU exists: `pytest -m cuda` (scripts/gpu_check.sh runs them on a GPU).

Marked `cuda`, they are deselected in every other run (tests/conftest.py), so the suite and CI,
which have no GPU, neither run nor skip them; asked for without a GPU, they fail.
Oracles: PyTorch's own ops in float64, the same code on the CPU, and torch's device queries.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from convlab import ops
from convlab.config import TrainConfig, resolve
from convlab.data.loader import Augment, Loader
from convlab.models import build_model

pytestmark = pytest.mark.cuda


@pytest.fixture
def cuda():
    if not torch.cuda.is_available():
        pytest.fail("no CUDA GPU: tests marked cuda run only on a machine with one (pytest -m cuda)")
    was = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # PyTorch's own float32 convolutions in full float32
    yield torch.device("cuda")
    torch.backends.cudnn.allow_tf32 = was


def _rel(u: torch.Tensor, exact: torch.Tensor) -> float:
    u, exact = u.detach().double().cpu(), exact.detach().double().cpu()
    return float((u - exact).norm() / exact.norm())


CASES = [  # (ours, PyTorch's, input shape): forward and gradients against PyTorch in float64 on the CPU
    (
        lambda x, w: ops.conv2d(x, w, None, 2, (1, 2), (2, 1), 2),
        lambda x, w: F.conv2d(x, w, None, 2, (1, 2), (2, 1), 2),
    ),
    (lambda x, w: ops.max_pool2d(x, 3, 2, 1, 1, True), lambda x, w: F.max_pool2d(x, 3, 2, 1, 1, True)),
    (lambda x, w: ops.avg_pool2d(x, 3, 2, 1, True, False), lambda x, w: F.avg_pool2d(x, 3, 2, 1, True, False)),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_ops_on_cuda_match_torch_in_float64_on_the_cpu(cuda, case):
    ours, theirs = CASES[case]
    g = torch.Generator().manual_seed(case)
    x64 = torch.randn(8, 6, 17, 15, generator=g, dtype=torch.float64).requires_grad_()
    w64 = torch.randn(12, 3, 3, 4, generator=g, dtype=torch.float64).requires_grad_()
    y64 = theirs(x64, w64)
    gy = torch.randn(y64.shape, generator=g, dtype=torch.float64)
    exact = torch.autograd.grad(y64, [x64, w64], gy, allow_unused=True)
    for dtype, bound in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        x = x64.detach().to(cuda, dtype).requires_grad_()
        w = w64.detach().to(cuda, dtype).requires_grad_()
        y = ours(x, w)
        got = torch.autograd.grad(y, [x, w], gy.to(cuda, dtype), allow_unused=True)
        assert y.device.type == "cuda" and y.dtype == dtype
        assert _rel(y, y64) <= bound
        for a, e in zip(got, exact):
            assert (a is None) == (e is None)
            if a is not None:
                assert _rel(a, e) <= bound


def test_max_pool_indices_and_unpool_on_cuda_equal_torchs(cuda):
    x = (torch.randperm(6 * 16 * 16).view(2, 3, 16, 16).float() / 7).to(cuda)  # distinct values: no ties
    y, idx = ops.max_pool2d(x, 2, 2, return_indices=True)
    ty, tidx = F.max_pool2d(x.cpu(), 2, 2, return_indices=True)
    assert torch.equal(y.cpu(), ty) and torch.equal(idx.cpu(), tidx)
    assert torch.equal(ops.max_unpool2d(y, idx, 2, 2).cpu(), F.max_unpool2d(ty, tidx, 2, 2))


def test_conv_under_bf16_autocast_on_cuda_computes_in_bf16_as_torch_does(cuda):
    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(4, 3, 12, 12, generator=g), torch.randn(5, 3, 3, 3, generator=g)
    exact = F.conv2d(x.double(), w.double(), padding=1)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        ours = ops.conv2d(x.to(cuda), w.to(cuda), padding=1)
        theirs = F.conv2d(x.to(cuda), w.to(cuda), padding=1)
    assert ours.dtype == theirs.dtype == torch.bfloat16
    assert _rel(ours, exact) <= max(1e-2, 2 * _rel(theirs, exact))


@pytest.mark.parametrize("name", ["lenet-modern", "resnet"])
def test_both_backends_agree_on_cuda_in_float64(cuda, name):
    torch.manual_seed(1)
    a = build_model(name, ops="torch").to(cuda).double()
    b = build_model(name, ops="convlab").to(cuda).double()
    b.load_state_dict(a.state_dict())
    x = torch.randn(4, 1, 28, 28, dtype=torch.float64, device=cuda)
    torch.testing.assert_close(b(x), a(x), rtol=1e-10, atol=1e-10)


def test_the_loader_on_cuda_gives_the_cpu_loaders_batches(cuda):
    """Same seed, same epoch: the augmented batches on the GPU are the CPU's (the random offsets are
    drawn on the CPU and copied without waiting for the GPU). Within float32 rounding of the
    normalisation, which the GPU's division may round differently: an offset, flip or thickening
    drawn differently would move values by whole steps of about 1."""
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (300, 1, 28, 28), generator=g, dtype=torch.uint8), torch.randint(0, 10, (300,))
    loaders = [
        Loader(x, y, 64, 0.3, 0.3, device, shuffle=True, seed=5, augment=Augment(shift=2, flip=True, thickness=0.5))
        for device in ("cpu", cuda)
    ]
    for loader in loaders:
        loader.set_epoch(3)
    for (xc, yc), (xg, yg) in zip(*loaders, strict=True):
        assert xg.device.type == "cuda"
        assert torch.equal(yg.cpu(), yc)
        torch.testing.assert_close(xg.cpu(), xc, rtol=0, atol=1e-5)


def test_a_recipe_on_cuda_takes_bf16_where_the_gpu_computes_it(cuda):
    native = torch.cuda.get_device_capability(cuda) >= (8, 0)  # Ampere on: bf16 tensor cores
    assert resolve(TrainConfig(model="lenet-modern", device="cuda")).amp is native
    assert resolve(TrainConfig(model="resnet", device="cuda")).amp is native


def test_fit_on_cuda_with_bf16_and_channels_last_saves_a_model_the_cpu_reads(cuda, tmp_path, fashion_dir):
    from convlab import checkpoint as ckpt
    from convlab.train import fit

    cfg = TrainConfig(model="lenet-modern", device="cuda", epochs=1, max_train=2048, amp=True, channels_last=True)
    r = fit(cfg, out=tmp_path / "run", progress=False, log=lambda *a: None)
    assert r.final["test_acc"] > 0.5
    assert "amp = true" in (tmp_path / "run" / "config.toml").read_text()
    loaded = ckpt.load_checkpoint(tmp_path / "run")  # on the CPU
    x = torch.randn(16, 1, 28, 28)
    with torch.no_grad():
        on_gpu = r.model.eval()(x.to(cuda)).cpu()
        on_cpu = loaded.model(x)
    assert _rel(on_gpu, on_cpu) <= 1e-4
