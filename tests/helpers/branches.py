"""The branch a forward pass took through a network's piecewise-linear decisions, and the exact
(float64) gradient along a given branch.

A network of convolutions, batch norm, ReLU and max pooling is smooth except where a ReLU input is
zero or two values of a max-pooling window tie. Near such a point, which side a float32 value lands
on depends on the order of its sums, i.e. on the CPU's kernels (AVX-512 or AVX2) and on the
implementation: two correct float32 implementations may take different branches, and one flipped
ReLU under batch norm moves every earlier gradient by ~1e-3. So a float32 gradient is compared with
the float64 gradient *along the branch it took* (`exact_along`), and the branches of two runs may
differ only at near-ties (`near_tie_flips`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode

RELUS = {F.relu, torch.relu, torch.Tensor.relu}


@dataclass
class Branch:
    """Per ReLU call (in call order): its input; per max-pooling module (by name): input and argmax."""

    relu_inputs: list[torch.Tensor] = field(default_factory=list)
    pool_inputs: dict[str, torch.Tensor] = field(default_factory=dict)
    pool_indices: dict[str, torch.Tensor] = field(default_factory=dict)

    def masks(self) -> list[torch.Tensor]:
        return [x > 0 for x in self.relu_inputs]


class _Relus(TorchFunctionMode):
    """Records every ReLU's input; with `masks`, replaces ReLU(x) by x·mask (that branch, exactly)."""

    def __init__(self, branch: Branch, masks: list[torch.Tensor] | None = None):
        super().__init__()
        self.branch, self.masks, self.calls = branch, masks, 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func not in RELUS:
            return func(*args, **kwargs)
        x = args[0]
        self.branch.relu_inputs.append(x.detach().clone())
        self.calls += 1
        if self.masks is None:
            return func(*args, **kwargs)
        return x * self.masks[self.calls - 1].to(x.dtype)


def _pools(model: nn.Module):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.MaxPool2d)]


@contextlib.contextmanager
def recording(model: nn.Module, force: Branch | None = None):
    """Within, `model`'s forward passes record their branch (yielded); with `force`, they follow
    `force`'s ReLU masks and max-pooling argmaxes instead of their own."""
    branch, handles = Branch(), []

    def hook(name):
        def record(m, args, out):
            x = args[0]
            was, m.return_indices = m.return_indices, True
            _, idx = m.forward(x)  # the module's own op (torch's or convlab's) decides the argmax
            m.return_indices = was
            branch.pool_inputs[name], branch.pool_indices[name] = x.detach().clone(), idx
            if force is not None:
                idx = force.pool_indices[name]
                return x.flatten(2).gather(2, idx.flatten(2)).view(idx.shape)
            return None

        return record

    for name, m in _pools(model):
        handles.append(m.register_forward_hook(hook(name)))
    try:
        with _Relus(branch, force.masks() if force is not None else None):
            yield branch
    finally:
        for h in handles:
            h.remove()


def near_tie_flips(exact: Branch, other: Branch, tol: float = 1e-4) -> int:
    """How many decisions `other` took differently from `exact` (the float64 run); asserts each one
    is a near-tie: a ReLU input within `tol`·(that call's largest |input|) of zero, or two pooled
    values within `tol`·(largest |input|) of each other."""
    flips = 0
    for k, (x, y) in enumerate(zip(exact.relu_inputs, other.relu_inputs)):
        flipped = (x > 0) != (y > 0)
        bound = tol * float(x.abs().max())
        assert bool((x[flipped].abs() <= bound).all()), f"ReLU call {k} flipped at {x[flipped].abs().max():.3g}"
        flips += int(flipped.sum())
    for name, x in exact.pool_inputs.items():
        i, j = exact.pool_indices[name].flatten(2), other.pool_indices[name].flatten(2)
        flat = x.flatten(2)
        gap = (flat.gather(2, i) - flat.gather(2, j)).abs()
        bound = tol * float(x.abs().max())
        assert bool((gap <= bound).all()), f"max pool {name} chose a window value {gap.max():.3g} below the maximum"
        flips += int((i != j).sum())
    return flips
