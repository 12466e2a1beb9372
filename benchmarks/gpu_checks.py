"""The correctness half of benchmarks/gpu.py: convlab's ops and models against PyTorch's on a device.

Every result is measured against float64 (on the same device), as ‖ours − exact‖ / ‖exact‖ beside
PyTorch's own error on the same inputs: on CUDA, cuDNN convolves float32 in TF32 by default, and
under bf16 autocast both round their inputs to 8 bits of mantissa, so "equal to PyTorch" is not a
property either can have; "no further from the exact result than PyTorch, or within the dtype's
resolution" is. Exact comparisons where both are exact: max-pool values and indices (distinct
inputs), max-unpool, and every float64 result (1e-10).
"""

from __future__ import annotations

import random
from collections.abc import Callable

import torch
import torch.nn.functional as F

from convlab import ops
from convlab.models import MODELS, build_model

# (dtype of the run, bound: ours may be this far from float64 or within 2× PyTorch's own error)
BOUNDS = {"float64": 1e-10, "float32": 1e-4, "bf16 autocast": 2e-2}


def rel(u: torch.Tensor, exact: torch.Tensor) -> float:
    """‖u − exact‖ / ‖exact‖ in float64 (0 for two zero tensors)."""
    u, exact = u.detach().double(), exact.detach().double()
    return float((u - exact).norm() / exact.norm().clamp_min(1e-30))


def _conv_case(r: random.Random, device) -> tuple[Callable, Callable, list[torch.Tensor]] | None:
    groups = r.choice([1, 1, 2, 3])
    cin, cout = groups * r.randint(1, 4), groups * r.randint(1, 4)
    kh, kw = r.randint(1, 5), r.randint(1, 5)
    stride, dil = (r.randint(1, 3), r.randint(1, 3)), (r.randint(1, 2), r.randint(1, 2))
    pad = (r.randint(0, kh // 2), r.randint(0, kw // 2))
    x = torch.randn(r.randint(1, 4), cin, r.randint(5, 20), r.randint(5, 20), device=device)
    w = torch.randn(cout, cin // groups, kh, kw, device=device)
    b = torch.randn(cout, device=device) if r.random() < 0.7 else None
    args = (stride, pad, dil, groups)
    inputs = [x, w] if b is None else [x, w, b]
    return (lambda x, w, b=None: ops.conv2d(x, w, b, *args)), (lambda x, w, b=None: F.conv2d(x, w, b, *args)), inputs


def _pool_geometry(r: random.Random) -> dict:
    k = (r.randint(1, 4), r.randint(1, 4))
    return dict(
        kernel_size=k,
        stride=(r.randint(1, 3), r.randint(1, 3)),
        padding=(r.randint(0, k[0] // 2), r.randint(0, k[1] // 2)),
        ceil_mode=r.random() < 0.3,
    )


def _distinct(n: int, c: int, h: int, w: int, device) -> torch.Tensor:
    """Images whose values differ within each plane and are exact in bf16 (integers up to 256,
    scaled): max pooling has no ties, in float32 or bf16."""
    v = torch.stack([torch.randperm(256)[: h * w] for _ in range(n * c)]).view(n, c, h, w)
    return (v.float() / 16).to(device)


def _max_case(r: random.Random, device):
    geo, dil = _pool_geometry(r), (r.randint(1, 2), r.randint(1, 2))
    x = _distinct(r.randint(1, 4), r.randint(1, 6), r.randint(5, 15), r.randint(5, 15), device)
    return (
        lambda x: ops.max_pool2d(x, dilation=dil, return_indices=True, **geo),
        lambda x: F.max_pool2d(x, dilation=dil, return_indices=True, **geo),
        [x],
    )


def _avg_case(r: random.Random, device):
    geo, cip = _pool_geometry(r), r.random() < 0.5
    x = torch.randn(r.randint(1, 4), r.randint(1, 6), r.randint(5, 20), r.randint(5, 20), device=device)
    return (
        lambda x: ops.avg_pool2d(x, count_include_pad=cip, **geo),
        lambda x: F.avg_pool2d(x, count_include_pad=cip, **geo),
        [x],
    )


def _unpool_case(r: random.Random, device):
    k = r.randint(1, 3)
    s = r.randint(k, 3)  # windows that do not overlap: every index appears once
    x = _distinct(r.randint(1, 3), r.randint(1, 4), r.randint(6, 14), r.randint(6, 14), device)
    _, idx = F.max_pool2d(x, k, s, return_indices=True)
    y = torch.randn(idx.shape, device=device)
    size = list(x.shape[2:])  # the pooled plane the indices point into (within a stride of the default)
    return (
        lambda y: ops.max_unpool2d(y, idx, k, s, output_size=size),
        lambda y: F.max_unpool2d(y, idx, k, s, output_size=size),
        [y],
    )


CASES = {"conv2d": _conv_case, "max_pool2d": _max_case, "avg_pool2d": _avg_case, "max_unpool2d": _unpool_case}


def _run(fn, inputs, gy=None):
    """Output(s) and the gradients of the inputs for one op call."""
    ins = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*ins)
    y = out[0] if isinstance(out, tuple) else out
    gy = torch.randn_like(y, dtype=torch.float32) if gy is None else gy
    grads = torch.autograd.grad(y, ins, gy.to(y.dtype))
    return out, grads, gy


def _errors(ours, theirs, inputs, autocast: bool, device) -> tuple[float, float, bool]:
    """(our error, PyTorch's error, exact parts equal) of one case in float32 or under autocast."""
    ins = [t.to(torch.bfloat16) if autocast and t.dim() == 4 else t for t in inputs]  # under autocast: bf16 maps
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        out_o, g_o, gy = _run(ours, ins)
        out_t, g_t, _ = _run(theirs, ins, gy)
    out_x, g_x, _ = _run(theirs, [t.double() for t in ins], gy.double())
    exact_equal = True
    if isinstance(out_t, tuple):  # max pooling: (values, indices), exact on distinct inputs
        exact_equal = bool(torch.equal(out_o[1], out_t[1]) and torch.equal(out_o[0], out_t[0]))
        out_o, out_t, out_x = out_o[0], out_t[0], out_x[0]
    e_o = max([rel(out_o, out_x)] + [rel(a, c) for a, c in zip(g_o, g_x)])
    e_t = max([rel(out_t, out_x)] + [rel(a, c) for a, c in zip(g_t, g_x)])
    return e_o, e_t, exact_equal


def check_ops(device: torch.device, cases: int, seed: int = 0) -> list[dict]:
    """`cases` random cases per op, in float64, float32 and bf16 autocast: one row per (op, dtype)."""
    rows = []
    for name, make in CASES.items():
        r = random.Random(f"{seed}-{name}")
        torch.manual_seed(seed)
        stats = {k: {"ours": 0.0, "torch": 0.0, "failed": 0, "n": 0} for k in BOUNDS}
        while stats["float32"]["n"] < cases:
            ours, theirs, inputs = make(r, device)
            try:
                theirs(*inputs)
            except RuntimeError:  # a geometry PyTorch refuses (e.g. ceil mode's last window): drawn again
                continue
            for kind in BOUNDS:
                s = stats[kind]
                try:
                    if kind == "float64":
                        e_o, e_t, exact = _errors(ours, theirs, [t.double() for t in inputs], False, device)
                    else:
                        e_o, e_t, exact = _errors(ours, theirs, inputs, kind == "bf16 autocast", device)
                except Exception as e:  # a refusal or crash of ours: a failed case, reported
                    s["n"], s["failed"] = s["n"] + 1, s["failed"] + 1
                    s.setdefault("error", f"{type(e).__name__}: {e}"[:300])
                    continue
                s["n"] += 1
                s["ours"], s["torch"] = max(s["ours"], e_o), max(s["torch"], e_t)
                s["failed"] += int(not exact or e_o > max(BOUNDS[kind], 2 * e_t))
        rows += [{"op": name, "dtype": k, **v} for k, v in stats.items()]
    return rows


def _model_errors(name: str, device: torch.device, autocast: bool) -> tuple[float, float, float]:
    """(float64 torch vs convlab, float32/bf16 convlab error, PyTorch's error): training mode,
    batch 4; the larger of the output's error and the error of all parameters' gradients taken
    together, each against float64."""
    torch.manual_seed(3)
    ref = build_model(name, ops="torch").to(device).double().train()
    state = ref.state_dict()
    for m in ref.modules():
        if isinstance(m, torch.nn.Dropout):
            m.eval()  # masks are drawn in memory order, and convlab keeps maps batch-last
    x = torch.randn(4, 1, 28, 28, device=device, dtype=torch.float64)
    gy = torch.randn(4, 10, device=device, dtype=torch.float64)
    results = {}
    for ops_name in ("torch", "convlab"):
        for dtype in (torch.float64, torch.float32):
            m = build_model(name, ops=ops_name).to(device).to(dtype).train()
            m.load_state_dict({k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()})
            for d in m.modules():
                if isinstance(d, torch.nn.Dropout):
                    d.eval()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast and dtype == torch.float32):
                y = m(x.to(dtype))
            grads = torch.autograd.grad(y, list(m.parameters()), gy.to(y.dtype))
            results[ops_name, dtype] = (y, grads)
    y64, g64 = results["torch", torch.float64]

    def flat(grads) -> torch.Tensor:
        return torch.cat([t.reshape(-1).double() for t in grads])

    def err(key) -> float:  # all gradients as one vector: a dead unit's ~0 gradient has no relative error
        y, g = results[key]
        return max(rel(y, y64), rel(flat(g), flat(g64)))

    return err(("convlab", torch.float64)), err(("convlab", torch.float32)), err(("torch", torch.float32))


def check_models(device: torch.device, names=None) -> list[dict]:
    """Every zoo model's two backends on `device`: float64 within 1e-10 of each other; float32 and
    bf16 autocast no further from float64 than max(bound, 3× PyTorch's error). (One ReLU input near
    zero can flip sides in float32, moving a batch-normalised gradient by ~1e-3: hence the loose
    float32 bound here; tests/test_models.py holds the CPU to the branch-aware one.)"""
    rows = []
    for name in names or MODELS:
        e64, e32, t32 = _model_errors(name, device, autocast=False)
        _, e16, t16 = _model_errors(name, device, autocast=True)
        ok = e64 <= 1e-10 and e32 <= max(1e-3, 3 * t32) and e16 <= max(5e-2, 3 * t16)
        rows.append({"model": name, "float64": e64, "float32": e32, "float32_torch": t32, "bf16": e16,
                     "bf16_torch": t16, "ok": ok})  # fmt: skip
    return rows


def ops_table(rows: list[dict]) -> str:
    head = f"{'op':<14s} {'dtype':<14s} {'cases':>5s} {'convlab error':>14s} {'torch error':>12s} {'failed':>6s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['op']:<14s} {r['dtype']:<14s} {r['n']:5d} {r['ours']:14.2e} {r['torch']:12.2e} {r['failed']:6d}"
        )
    return "\n".join(lines)


def models_table(rows: list[dict]) -> str:
    head = f"{'model':<13s} {'float64 diff':>12s} {'fp32 convlab':>12s} {'fp32 torch':>11s} "
    head += f"{'bf16 convlab':>12s} {'bf16 torch':>11s}  ok"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['model']:<13s} {r['float64']:12.1e} {r['float32']:12.1e} {r['float32_torch']:11.1e} "
            f"{r['bf16']:12.1e} {r['bf16_torch']:11.1e}  {'yes' if r['ok'] else 'NO'}"
        )
    return "\n".join(lines)
