"""Any network on convlab's ops, checked against PyTorch's: `convlab verify --model FILE.py:NAME`.

The network is built twice with the same weights: as written (PyTorch's ops) and with its
convolutions, poolings and 2-D batch norms swapped for convlab's layers (`layers.to_convlab_ops`).
Both run in float64, in eval mode (dropout off, batch norm on its running statistics), on the
same random batch; a fixed random projection of the output is back-propagated. For every layer
the report gives the largest absolute difference of its outputs and of its parameters'
gradients; layers convlab has no op for stay PyTorch's and are marked so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn

from .layers import to_convlab_ops
from .models import build_model


@dataclass(frozen=True)
class LayerCheck:
    name: str  # the module's name in the network (named_modules)
    kind: str  # its class name
    convlab: bool  # whether it ran on convlab's op
    output_diff: float  # max |output_torch - output_convlab| over every call
    grad_diff: float  # max |grad_torch - grad_convlab| over its parameters (0 without parameters)


@dataclass(frozen=True)
class VerifyReport:
    layers: list[LayerCheck]
    input_grad_diff: float  # max difference of the gradient with respect to the input

    @property
    def largest(self) -> float:
        return max([self.input_grad_diff, *(max(r.output_diff, r.grad_diff) for r in self.layers)])

    @property
    def torch_only(self) -> list[str]:
        """The kinds of layer with no convlab op (they ran on PyTorch's in both)."""
        return sorted({r.kind for r in self.layers if not r.convlab})

    def text(self) -> str:
        rows = [f"{'layer':<28s} {'kind':<18s} {'ops':<8s} {'max |Δ output|':>15s} {'max |Δ grad|':>13s}"]
        for r in self.layers:
            ops = "convlab" if r.convlab else "torch"
            rows.append(f"{r.name:<28s} {r.kind:<18s} {ops:<8s} {r.output_diff:15.3e} {r.grad_diff:13.3e}")
        rows.append(f"input gradient: max |Δ| {self.input_grad_diff:.3e}")
        rows.append(f"largest difference: {self.largest:.3e} (float64)")
        if self.torch_only:
            rows.append(f"no convlab op (PyTorch's in both): {', '.join(self.torch_only)}")
        return "\n".join(rows)


def _leaves(model: nn.Module) -> dict[str, nn.Module]:
    return {n: m for n, m in model.named_modules() if n and not list(m.children())}


def _run(model: nn.Module, x: torch.Tensor, weight: torch.Tensor | None, seed: int):
    """(outputs of every leaf per call, input gradient, parameter gradients by name, the output)."""
    outputs: dict[str, list[torch.Tensor]] = {}
    names = {m: n for n, m in _leaves(model).items()}
    hooks = [
        m.register_forward_hook(lambda mod, i, o: outputs.setdefault(names[mod], []).append(o.detach().clone()))
        for m in names
    ]
    x = x.clone().requires_grad_(True)
    try:
        out = model(x)
    finally:
        for h in hooks:
            h.remove()
    if weight is None:
        weight = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(seed + 1))
    (out * weight).sum().backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
    assert x.grad is not None
    return outputs, x.grad, grads, weight


def _max_diff(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max((float((u.contiguous() - v.contiguous()).abs().max()) for u, v in zip(a, b)), default=0.0)


def verify_model(
    spec: str,
    input_size=(1, 28, 28),
    num_classes: int = 10,
    model_args: dict | None = None,
    batch: int = 2,
    seed: int = 0,
) -> VerifyReport:
    """Run the network `spec` (FILE.py:NAME, package.module:NAME or a zoo name) on PyTorch's ops
    and on convlab's, in float64, and compare them layer by layer (see the module's docstring).
    `input_size` is (C, H, W). Raises UserError for a spec that does not load or fit."""
    c, h, w = input_size
    torch.manual_seed(seed)
    reference = build_model(spec, num_classes, c, (h, w), "torch", model_args).double().eval()
    ours = copy.deepcopy(reference)
    swapped = set(to_convlab_ops(ours))
    x = torch.randn(batch, c, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    out_a, gx_a, grads_a, weight = _run(reference, x, None, seed)
    out_b, gx_b, grads_b, _ = _run(ours, x, weight, seed)
    rows = []
    for name, module in _leaves(reference).items():
        own = [g for g in grads_a if g.rpartition(".")[0] == name]
        grad_diff = max((float((grads_a[g] - grads_b[g]).abs().max()) for g in own), default=0.0)
        out_diff = _max_diff(out_a.get(name, []), out_b.get(name, []))
        rows.append(LayerCheck(name, type(module).__name__, name in swapped, out_diff, grad_diff))
    return VerifyReport(rows, float((gx_a - gx_b).abs().max()))
