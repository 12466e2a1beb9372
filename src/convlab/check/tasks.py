"""What convlab does with the learner's objects, inside the process that imported them.

Each task takes the learner's namespace (their module's globals, or the one object given to
`check()` in a notebook) and plain arguments, and returns plain data: tensors, numbers, strings,
lists and dicts, which is all `torch.load(weights_only=True)` accepts on the other side.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Namespace = dict[str, Any]


def to_wire(value: Any) -> Any:
    """The learner's result as plain data: a tensor, a number, or a description of what it was."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return torch.from_numpy(np.array(value))
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, bool | int | float):
        return value
    return {"type": type(value).__name__, "repr": repr(value)[:200]}


def call(ns: Namespace, name: str, args: list, kwargs: dict) -> dict:
    """Call the learner's function; report its result and which tensor arguments it changed in place."""
    before = [a.clone() if isinstance(a, torch.Tensor) else a for a in args]
    out = ns[name](*args, **kwargs)
    mutated = [i for i, (a, b) in enumerate(zip(args, before)) if isinstance(a, torch.Tensor) and not torch.equal(a, b)]
    return {"out": to_wire(out), "mutated": mutated}


def layer_info(layer: nn.Module) -> dict:
    """Which of the layer's tensors are trainable parameters."""
    weight = getattr(layer, "weight", None)
    return {
        "params": [n for n, _ in layer.named_parameters()],
        "weight_is_param": isinstance(weight, nn.Parameter),
        "weight_shape": list(weight.shape) if isinstance(weight, torch.Tensor) else None,
    }


def conv_forward(ns: Namespace, name: str, kernel_size: list, weight: torch.Tensor, bias: float, X: torch.Tensor):
    """Build the learner's Conv2D(kernel_size), give it our weight and bias, run it on X (H, W)."""
    layer = ns[name](tuple(kernel_size))
    info = layer_info(layer)
    with torch.no_grad():
        layer.weight.copy_(weight)
        layer.bias.fill_(bias)
    out = layer(X)
    return {"out": to_wire(out), **info}


def conv_learn(ns: Namespace, name: str, X: torch.Tensor, Y: torch.Tensor, epochs: int, lr: float, seed: int):
    """The tutorial's §2.4: learn a (1, 2) kernel from an image X and its edges Y by gradient descent."""
    torch.manual_seed(seed)
    layer = ns[name]((1, 2))
    losses = []
    for _ in range(epochs):
        loss = ((layer(X) - Y) ** 2).sum()
        layer.zero_grad()
        if loss.requires_grad:
            loss.backward()
        with torch.no_grad():
            for p in layer.parameters():
                if p.grad is not None:
                    p -= lr * p.grad
        losses.append(loss.item())
    return {"kernel": layer.weight.detach().reshape(-1).clone().float(), "losses": losses, **layer_info(layer)}


def as_network(obj: Any) -> nn.Module:
    """The learner's network: a module itself, or a class or function that builds one without arguments."""
    if isinstance(obj, nn.Module):
        return obj
    net = obj()
    if not isinstance(net, nn.Module):
        raise TypeError(f"calling it gave a {type(net).__name__}, not an nn.Module")
    return net


def network_shapes(ns: Namespace, name: str, shape: list) -> dict:
    """Push torch.rand(shape) through the network layer by layer, as the tutorial's §6 does."""
    torch.manual_seed(0)
    net = as_network(ns[name])
    layers = list(net) if isinstance(net, nn.Sequential) else list(net.children())
    rows: list[dict] = []
    x = torch.rand(*shape)
    if not isinstance(net, nn.Sequential):  # a module with its own forward: its children as they run
        for child in layers:
            child.register_forward_hook(
                lambda m, i, out: rows.append(
                    {"layer": type(m).__name__, "repr": repr(m)[:120], "shape": list(out.shape)}
                )
            )
        try:
            net(x)
        except Exception as e:
            rows.append({"layer": "forward", "repr": ""})
            return {"rows": rows, "error": "".join(traceback.format_exception_only(type(e), e)).strip()}
        return {"rows": rows}
    for layer in layers:
        row: dict[str, Any] = {"layer": type(layer).__name__, "repr": repr(layer)[:120]}
        rows.append(row)
        try:
            x = layer(x)
        except Exception as e:  # the layer that fails is the answer: it gets the wrong shape
            return {"rows": rows, "error": "".join(traceback.format_exception_only(type(e), e)).strip()}
        row["shape"] = list(x.shape)
    return {"rows": rows}


def network_learn(ns: Namespace, name: str, x: torch.Tensor, y: torch.Tensor, steps: int, lr: float, seed: int):
    """Train the learner's network on digits x (N, 1, 28, 28) uint8 with labels y (N,): the losses per step."""
    torch.manual_seed(seed)
    net = as_network(ns[name])
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        return {"losses": [], "params": 0}
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(seed)
    pixels = x.float() / 255
    mean, std = pixels.mean(), pixels.std()  # normalised inputs, as convlab's loader gives them
    losses = []
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=g)
        loss = F.cross_entropy(net((x[idx].float() / 255 - mean) / std), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return {"losses": losses, "params": sum(p.numel() for p in params)}


def _best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def timing(ns: Namespace, name: str, kind: str, batch: int) -> dict:
    """Seconds for the learner's loop and convlab's fast op on one 28×28 image and on a batch."""
    from .. import ops

    g = torch.Generator().manual_seed(0)
    xs = torch.rand(batch, 28, 28, generator=g)
    fn = ns[name]
    if kind == "conv":
        k = torch.rand(5, 5, generator=g)
        yours: Callable[[torch.Tensor], Any] = lambda x: fn(x, k)  # noqa: E731
        fast: Callable[[torch.Tensor], Any] = lambda x: ops.conv2d(x[:, None], k[None, None])  # noqa: E731
    else:
        yours = lambda x: fn(x, (2, 2))  # noqa: E731
        fast = lambda x: ops.max_pool2d(x[:, None], 2, stride=1)  # noqa: E731
    return {
        "one": [_best_of(lambda: yours(xs[0]), 2), _best_of(lambda: fast(xs[:1]), 5)],
        "batch": [_best_of(lambda: [yours(x) for x in xs], 1), _best_of(lambda: fast(xs), 5)],
    }


TASKS: dict[str, Callable[..., Any]] = {
    "call": call,
    "conv_forward": conv_forward,
    "conv_learn": conv_learn,
    "network_shapes": network_shapes,
    "network_learn": network_learn,
    "timing": timing,
}


def describe(ns: Namespace) -> dict:
    """What the learner's namespace holds: for each name, its kind and the parameters it takes."""
    import inspect

    found = {}
    for name, obj in ns.items():
        if name.startswith("_"):
            continue
        if isinstance(obj, nn.Module):
            found[name] = {"kind": "module", "params": []}
        elif inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj):
            try:
                params = list(inspect.signature(obj).parameters)
            except (TypeError, ValueError):
                params = []
            found[name] = {"kind": "class" if inspect.isclass(obj) else "function", "params": params}
    return found
