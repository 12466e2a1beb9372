"""What every experiment of the lab shares: its settings, its data, its networks, one small
training loop, shifts, and the `Result` it returns.

Images are scaled to [0, 1] with no mean subtracted, so the background is 0 and a shifted or
re-placed digit is padded with background. Training is Adam on tensors held in memory, with one
`torch.Generator` per run for the batch order and the augmentation: the same seed gives the same
run, bit for bit, on one machine.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import UserError
from ..layers import Layers
from ..models import build_model
from ..modelspec import is_user_model

if TYPE_CHECKING:
    from matplotlib.figure import Figure

from . import DATASETS, check_dataset


@dataclass(frozen=True)
class LabConfig:
    quick: bool = False  # fewer images, epochs and seeds: each experiment ≤ 60 s (what the tests run)
    data: str = "digits"  # a known 28×28 grayscale dataset
    seeds: int = 3  # independent trainings per accuracy figure (mean ± spread); quick uses 2
    model: str | None = None  # FILE.py:NAME or package.module:NAME: your network beside the lab's (TAKES_MODEL)
    model_args: str | None = None  # its keyword arguments as a JSON object (--model-args)

    @property
    def args(self) -> dict:
        """`model_args` parsed (`modelspec.parse_args_json`, as `train` reads them)."""
        from ..modelspec import parse_args_json

        return parse_args_json(self.model_args)

    def nets(self, *names: str) -> tuple[str, ...]:
        """The lab's networks `names`, then yours (`model`) if one is given."""
        return (*names, self.model) if self.model else names

    @property
    def runs(self) -> list[int]:
        return list(range(2 if self.quick else self.seeds))

    @property
    def steps(self) -> int:
        """Optimizer steps per training run (batches of 128)."""
        return 40 if self.quick else 120

    @property
    def n_train(self) -> int:
        """Training images per run (the few-images experiment chooses its own)."""
        return 2000 if self.quick else 4000

    @property
    def n_test(self) -> int:
        """Test images per evaluation."""
        return 500 if self.quick else 1000


@dataclass
class Result:
    """One experiment's outcome: its numbers, a figure, and its reading in each language."""

    name: str
    section: str  # the tutorial's §, or "beyond the tutorial"
    numbers: dict
    figure: Figure | None
    reading: dict[str, str]  # language → one paragraph: the claim (with its §), what was measured, the verdict
    verdict: dict[str, str] = field(default_factory=dict)  # language → holds / holds in part / does not hold
    over_seeds: bool = True  # its figures are accuracies over seeds (params and equivariance: none)
    seconds: float = 0.0  # wall-clock time
    cpu_seconds: float = 0.0  # CPU time of this process (all its threads): the cost on a shared machine


def mean_spread(values: list[float]) -> dict:
    """{"mean", "std", "min", "max", "runs"} of accuracies over seeds."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
        "runs": values,
    }


def fmt(ms: dict) -> str:
    """0.936 ± 0.004 (mean ± standard deviation over seeds)."""
    return f"{ms['mean']:.3f} ± {ms['std']:.3f}"


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Data:
    name: str
    train_x: torch.Tensor  # (N, 1, 28, 28) float in [0, 1]
    train_y: torch.Tensor  # (N,) int64
    test_x: torch.Tensor  # (M, 1, 28, 28)
    test_y: torch.Tensor


def load(name: str, experiment: str) -> Data:
    """A known dataset as [0, 1] floats; UserError naming the ones `experiment` can use otherwise."""
    check_dataset(experiment, name)
    from ..data import load_dataset

    ds = load_dataset(name, progress=False)
    if ds.channels != 1 or ds.size != (28, 28):
        c, (h, w) = ds.channels, ds.size
        raise UserError(f"lab {experiment}: {name} is {c}×{h}×{w}, not 1×28×28 grayscale; use {', '.join(DATASETS)}")
    return Data(name, ds.train_x.float() / 255, ds.train_y, ds.test_x.float() / 255, ds.test_y)


def subset(x: torch.Tensor, y: torch.Tensor, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n examples, as equal per class as n allows, chosen with a fixed seed."""
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(y), generator=g)
    classes = int(y.max()) + 1
    keep = torch.cat([order[y[order] == c][: n // classes] for c in range(classes)])
    return x[keep], y[keep]


# --- shifts -------------------------------------------------------------------------------------


def shift(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """x (N, C, H, W) translated by dy rows down and dx columns right, background (0) coming in."""
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def random_shifts(x: torch.Tensor, k: int, g: torch.Generator) -> torch.Tensor:
    """Every image of x translated by its own offset in [−k, k]² (shift augmentation)."""
    from ..data.loader import random_shift

    return random_shift(x, k, g) if k else x


# --- networks -----------------------------------------------------------------------------------


def gap_net(size: tuple[int, int] = (28, 28), blur: bool = False) -> nn.Sequential:
    """An all-convolutional network ending in global average pooling (the shape of "Striving for
    Simplicity: The All Convolutional Net", Springenberg et al. 2015, and of NiN's head, Lin et al.
    2014): conv 5×5 (16) · BN · ReLU · pool · conv 3×3 (32) · BN · ReLU · pool · conv 3×3 (64) · BN ·
    ReLU · conv 1×1 (10) · global average: (B, 1, H, W) → (B, 10), for any H, W ≥ 4. `blur=True` makes
    each pool anti-aliased: max over 2×2 at stride 1, then BlurPool at stride 2 (Zhang 2019's MaxBlurPool)."""
    L = Layers("torch")

    def pool(c: int) -> list[nn.Module]:
        return [L.MaxPool2d(2, 1), L.BlurPool2d(c, 3, 2)] if blur else [L.MaxPool2d(2, 2)]

    return nn.Sequential(
        L.Conv2d(1, 16, 5, padding=2, bias=False), L.BatchNorm2d(16), nn.ReLU(), *pool(16),  # (B, 16, 14, 14)
        L.Conv2d(16, 32, 3, padding=1, bias=False), L.BatchNorm2d(32), nn.ReLU(), *pool(32),  # (B, 32, 7, 7)
        L.Conv2d(32, 64, 3, padding=1, bias=False), L.BatchNorm2d(64), nn.ReLU(),  # (B, 64, 7, 7)
        L.Conv2d(64, 10, 1),  # (B, 10, 7, 7): one map per class
        L.GlobalAvgPool2d(), nn.Flatten(),  # (B, 10)
    )  # fmt: skip


def lenet_blur(size: tuple[int, int] = (28, 28)) -> nn.Sequential:
    """`lenet-modern` with each 2×2 max pooling at stride 2 made anti-aliased: max over 2×2 at
    stride 1, then BlurPool at stride 2 (Zhang 2019's MaxBlurPool)."""
    from ..models import flat_size

    L = Layers("torch")
    features = nn.Sequential(
        L.Conv2d(1, 6, 5, padding=2, bias=False),
        L.BatchNorm2d(6),
        nn.ReLU(),
        L.MaxPool2d(2, 1),
        L.BlurPool2d(6, 3, 2),  # (B, 6, 14, 14)
        L.Conv2d(6, 16, 5, bias=False),
        L.BatchNorm2d(16),
        nn.ReLU(),
        L.MaxPool2d(2, 1),
        L.BlurPool2d(16, 3, 2),  # (B, 16, 5, 5)
        nn.Flatten(),
    )
    n = flat_size(features, 1, size)
    head = [
        nn.Linear(n, 120, bias=False),
        nn.BatchNorm1d(120),
        nn.ReLU(),
        nn.Linear(120, 84, bias=False),
        nn.BatchNorm1d(84),
        nn.ReLU(),
        nn.Linear(84, 10),
    ]
    return nn.Sequential(*features, *head)


NETS = {
    "mlp": "MLP",
    "lenet": "LeNet (ReLU, max pooling, BN)",  # lenet-modern: the tutorial's skeleton, trained in a few steps
    "lenet-sigmoid": "the tutorial's LeNet (sigmoid)",  # `lenet` itself: sigmoid, average pooling; its own steps
    "tutorial": "the tutorial's LeNet (sigmoid, bundled)",  # average pooling: lenet-<dataset>, trained by its recipe
    "gap": "all-conv + global pooling",
    "lenet-blur": "LeNet + BlurPool",
    "gap-blur": "all-conv + BlurPool",
}
MEAN, STD = 0.1307, 0.3081  # MNIST's pixel statistics: inputs standardised inside the network


class Standardize(nn.Module):
    """(x − 0.1307)/0.3081, element-wise (so it commutes with shifts and with permuting pixels)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - MEAN) / STD


def label(net: str) -> str:
    """How the report names a network: NETS for the lab's, NAME for `FILE.py:NAME`."""
    from ..modelspec import display_name

    return NETS.get(net) or f"{display_name(net)} (yours)"


def build(name: str, seed: int, size: tuple[int, int] = (28, 28), args: dict | None = None) -> nn.Sequential:
    """A freshly initialised network by name (mlp, lenet, lenet-sigmoid, gap, gap-blur, lenet-blur, or your
    `FILE.py:NAME` / `package.module:NAME` with keyword arguments `args`, built as `train` builds it
    and checked to fit: `models.build_model`) for 10 classes,
    behind `Standardize`: (B, 1, *size) in [0, 1] → (B, 10). "lenet" is `lenet-modern`, the tutorial's
    LeNet skeleton (two 5×5 convolutions, two 2×2 poolings at stride 2, dense 120/84) with batch norm,
    ReLU and max pooling (it trains in 40 steps); "lenet-sigmoid" is the tutorial's own `lenet` (sigmoid,
    average pooling), which needs SIGMOID_STEPS."""
    torch.manual_seed(seed)
    if is_user_model(name):
        return nn.Sequential(Standardize(), build_model(name, 10, 1, size, "torch", args))
    if name in ("mlp", "lenet", "lenet-sigmoid"):
        net = build_model({"lenet": "lenet-modern", "lenet-sigmoid": "lenet"}.get(name, name), 10, 1, size)
    elif name in ("gap", "gap-blur"):
        net = gap_net(size, blur=name == "gap-blur")
    elif name == "lenet-blur":
        net = lenet_blur(size)
    else:
        raise ValueError(name)
    return nn.Sequential(Standardize(), *net.children())


# --- training and evaluation --------------------------------------------------------------------


GAP_STEPS = 120  # the global-pooling networks' own recipe: at least this many steps (at 40 they read ~0.8)
SIGMOID_STEPS = 240  # the sigmoid LeNet's: at 120 steps it read 0.81 and 0.35 on two seeds, at 240 about 0.94


def recipe(net: str, fit: Fit) -> Fit:
    """The `fit` a network trains with where accuracy under shifts is compared (shift, anti-aliasing):
    the all-convolutional networks train at least GAP_STEPS steps (their 1×1 classifier voting at every
    position learns more slowly than a dense head), the tutorial's sigmoid LeNet at least SIGMOID_STEPS
    (with the same Adam at 1e-2 as the others; its sigmoids saturate and it learns slowly), every other
    network `fit` unchanged."""
    if net.startswith("gap"):
        return replace(fit, steps=max(fit.steps, GAP_STEPS))
    return replace(fit, steps=max(fit.steps, SIGMOID_STEPS)) if net == "lenet-sigmoid" else fit


@dataclass(frozen=True)
class Fit:
    steps: int = 120  # optimizer steps (the epochs follow from the number of images)
    batch_size: int = 128
    lr: float = 1e-2  # Adam's peak step size: linear warm-up over the first 20 % of steps, linear decay to 0
    shift: int = 0  # random shift augmentation of ± this many pixels (0: none)


_TRAINED: dict[tuple, nn.Module] = {}


def trained(
    net: str, seed: int, data: Data, n: int, fit: Fit, size: tuple[int, int] = (28, 28), place=None, args=None
) -> nn.Module:
    """`build(net, seed, size)` trained by `train` on `subset(data's training set, n)`, remembered for the
    rest of the process: experiments that train the same network on the same images with the same
    recipe and seed (shift, anti-aliasing, locality) share one run — the same bits they would each get."""
    key = (net, seed, data.name, n, fit, size, None if place is None else place.__qualname__, repr(args))
    if key not in _TRAINED:
        x, y = subset(data.train_x, data.train_y, n)
        _TRAINED[key] = train(build(net, seed, size, args), x, y, fit, seed, place)[0]
    return _TRAINED[key]


def train(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, fit: Fit, seed: int, place=None
) -> tuple[nn.Module, list[float]]:
    """Adam on (x, y) for `fit.steps` batches, reshuffled every pass; `place(batch, generator)` may
    re-place each batch (the position experiment). Returns the model and every step's loss, in order."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=fit.lr)
    warm = max(1, fit.steps // 5)
    ramp = lambda t: (t + 1) / warm if t < warm else max(0.0, (fit.steps - t) / (fit.steps - warm))  # noqa: E731
    sched = torch.optim.lr_scheduler.LambdaLR(opt, ramp)
    losses: list[float] = []
    model.train()
    while len(losses) < fit.steps:
        order = torch.randperm(len(y), generator=g)
        for i in range(0, max(len(y) - fit.batch_size, 0) + 1, fit.batch_size):  # whole batches
            if len(losses) == fit.steps:
                break
            idx = order[i : i + fit.batch_size]
            xb = random_shifts(x[idx], fit.shift, g)
            if place is not None:
                xb = place(xb, g)
            loss = nn.functional.cross_entropy(model(xb), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
    return model.eval(), losses


@torch.inference_mode()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 250) -> torch.Tensor:
    """Predicted classes (N,) of x in evaluation mode, in batches of `batch` (on one CPU core, batches of
    a few hundred run about 1.7× faster per image than batches of 2,000: they stay in cache)."""
    model.eval()
    return torch.cat([model(x[i : i + batch]).argmax(1) for i in range(0, len(x), batch)])


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    return (predict(model, x) == y).float().mean().item()
