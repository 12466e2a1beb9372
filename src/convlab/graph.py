"""A model as the graph of what it computes: every layer and every addition or concatenation,
in execution order — LeNet's chain and ResNet's branches alike.

`LayerGraph(model)` traces the model with `torch.fx` (leaf modules — convolutions, pooling, batch
norm, activations, dense layers — stay whole) and lists its `rows`: each module call and each
tensor function (`torch.relu`, `+`, `torch.cat`, `flatten`…) with its name, its block (the
module it sits in, e.g. `2.0` for stage 2's first residual block), and the rows it reads. The
summary, the receptive fields, the feature maps and the playground all index layers by these
rows, so "layer 7" means the same thing everywhere. `capture` runs the model once and returns
every row's output.

A model `torch.fx` cannot trace (Python control flow on tensor values or shapes) is seen module by
module instead (`ModuleCalls`, forward hooks): its rows are the calls of its modules without
children, with no edges between them. `layers_of` gives whichever the model allows.
"""

from __future__ import annotations

import operator
import weakref
from dataclasses import dataclass, field

import torch
import torch.fx as fx
from torch import nn

from .errors import UserError

STRUCTURAL = {operator.getitem, getattr, "size", "dim", "contiguous"}  # bookkeeping, not layers


class _Tracer(fx.Tracer):
    """Every module without children is a leaf (convlab's layers included)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return next(m.children(), None) is None or super().is_leaf_module(m, qualname)


@dataclass
class Row:
    index: int
    name: str  # "1.0.conv1", or "1.0 add" for a function inside block 1.0
    kind: str  # Conv2d, ReLU, add, cat, flatten…
    block: str  # the module path the row belongs to ("" at the top)
    node: fx.Node
    module: nn.Module | None  # for module calls
    inputs: list[int] = field(default_factory=list)  # rows (or −1 for the image) read by this one


def _kind(node: fx.Node) -> str:
    target = node.target
    if node.op == "call_method":
        return str(target)
    name = getattr(target, "__name__", str(target))
    return {"add": "add", "iadd": "add", "mul": "mul", "cat": "cat", "concat": "cat"}.get(name, name)


def _block(path: str, modules: dict[str, nn.Module]) -> str:
    """The block a layer at `path` belongs to: the outermost enclosing module that is not a plain
    container (a residual block, an Inception block, a dense layer…), else the top-level part."""
    if not path:
        return ""
    parts = path.split(".")
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(parts[:depth])
        if not isinstance(modules.get(prefix), nn.Sequential | nn.ModuleList):
            return prefix
    return parts[0]


class LayerGraph:
    """The rows of a model's computation (see the module docstring)."""

    def __init__(self, model: nn.Module):
        self.model = model
        try:
            self.graph = _Tracer().trace(model)
        except Exception as e:
            raise UserError(
                f"cannot trace {model.__class__.__name__} into a graph ({e.__class__.__name__}: "
                f"{str(e).splitlines()[0][:120]}); convlab analyses models whose forward uses tensors only"
            ) from None
        self.module = fx.GraphModule(model, self.graph)
        modules = dict(model.named_modules())
        self.rows: list[Row] = []
        index_of: dict[fx.Node, int] = {}
        self._live: set[fx.Node] = set()  # nodes that depend on the input (the rest: parameters, constants)
        for node in self.graph.nodes:
            self._visit(node, index_of, modules)
        self._index_of = index_of

    def _visit(self, node: fx.Node, index_of: dict[fx.Node, int], modules: dict[str, nn.Module]) -> None:
        """Record one traced node: the input, a row of its own, bookkeeping that passes its input
        through, or nothing (a computation on parameters alone, part of the row that uses it)."""
        if node.op == "placeholder":
            index_of[node] = -1
            self._live.add(node)
            return
        if node.op not in ("call_module", "call_function", "call_method"):
            return
        if node.op != "call_module" and not any(a in self._live for a in node.all_input_nodes):
            return  # computed from parameters alone (`self.w.t()`): part of the row that uses it
        self._live.add(node)
        if node.op != "call_module" and node.target in STRUCTURAL:
            src = next((a for a in node.all_input_nodes if a in index_of), None)
            if src is not None:
                index_of[node] = index_of[src]  # bookkeeping passes its input through
            return
        stack = list(node.meta.get("nn_module_stack", {}))
        module: nn.Module | None
        if node.op == "call_module":
            name, module = str(node.target), modules[str(node.target)]
            kind = module.__class__.__name__
            block = _block(name.rpartition(".")[0], modules)
        else:
            module, kind = None, _kind(node)
            scope = stack[-1] if stack else ""
            block = _block(scope, modules)
            name = f"{scope} {kind}".strip()
        row = Row(len(self.rows), name, kind, block, node, module)
        row.inputs = [index_of[a] for a in node.all_input_nodes if a in index_of]
        index_of[node] = row.index
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    @torch.no_grad()
    def values(self, x: torch.Tensor) -> dict[fx.Node, object]:
        """Every node's value for input x (B, C, H, W), in eval mode (one forward pass): row outputs,
        the parameters and buffers the graph reads (`get_attr`), sizes and other Python values."""
        outputs: dict[fx.Node, object] = {}
        was = self.model.training
        self.model.eval()
        try:
            _Recorder(self.module, outputs).run(x)
        finally:
            self.model.train(was)
        return outputs

    def capture(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every row's output for input x (B, C, H, W), in eval mode (one forward pass)."""
        outputs = self.values(x)
        return [outputs[row.node] for row in self.rows]  # type: ignore[misc]

    def _attr_inputs(self, node: fx.Node) -> list[fx.Node]:
        """The `get_attr` nodes a row reads, directly or through computations on parameters alone
        (`F.linear(x, self.w.t())` reads `w`)."""
        out, todo, seen = [], list(node.all_input_nodes), set()
        while todo:
            a = todo.pop()
            if a in seen or a in self._live:
                continue
            seen.add(a)
            if a.op == "get_attr":
                out.append(a)
            todo += a.all_input_nodes
        return out

    def parameters_read(self, row: Row) -> list[tuple[str, nn.Parameter]]:
        """The parameters row `row` uses: its module's (all of them, a leaf may hold children), and
        those it reads from the model directly (`get_attr`: a weight a parent module holds, used in
        a function such as `x * self.scale` or `F.conv2d(x, self.weight)`)."""
        found: list[tuple[str, nn.Parameter]] = []
        if row.module is not None:
            found += [(f"{row.name}.{n}", p) for n, p in row.module.named_parameters()]
        for arg in self._attr_inputs(row.node):
            try:
                found.append((str(arg.target), self.model.get_parameter(str(arg.target))))
            except AttributeError:
                pass  # a buffer or a constant: not a parameter
        return found

    def output_of(self, x: torch.Tensor, layer: int) -> torch.Tensor:
        """Row `layer`'s output for x, with gradients (the graph stops there: nothing later runs)."""
        if not 0 <= layer < len(self.rows):
            raise UserError(f"layer {layer} does not exist; the model has layers 0..{len(self.rows) - 1}")
        try:
            _StopAt(self.module, self.rows[layer].node).run(x)
        except _Reached as stop:
            return stop.value
        raise RuntimeError(f"layer {layer} was not reached")  # a bug: every row is a node of the graph

    def find(self, layer: str | int) -> int:
        """A row by index ("7" or 7) or by name ("4.1.conv2", "2.0 cat")."""
        if isinstance(layer, int) or str(layer).isdigit():
            i = int(layer)
            if not 0 <= i < len(self.rows):
                raise UserError(f"layer {i} does not exist; the model has layers 0..{len(self.rows) - 1}")
            return i
        for row in self.rows:
            if row.name == layer:
                return row.index
        from .errors import unknown_name

        raise unknown_name("layer", str(layer), [r.name for r in self.rows])

    def shapes(self, input_size: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Every row's output shape for one (C, H, W) input; () for a row whose value is not a tensor
        (the bool of `x.size(1) == 1`, a `torch._assert`'s None, a module's tuple)."""
        return [
            tuple(y.shape) if isinstance(y, torch.Tensor) else () for y in self.capture(probe(self.model, input_size))
        ]


class _Recorder(fx.Interpreter):
    """Runs the graph on the model's own modules and keeps every node's value."""

    def __init__(self, module: fx.GraphModule, outputs: dict):
        super().__init__(module)
        self.outputs = outputs

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        self.outputs[n] = out
        return out


class _Reached(Exception):
    """Carries a node's output out of the interpreter (as an attribute: fx writes an exception's
    first argument into its message, and formatting a tensor costs milliseconds)."""

    def __init__(self, value):
        super().__init__()
        self.value = value


class _StopAt(fx.Interpreter):
    """Runs the graph until one node, then hands its output out (and runs nothing after it)."""

    def __init__(self, module: fx.GraphModule, node: fx.Node):
        super().__init__(module)
        self.target_node = node
        self.extra_traceback = False

    def run_node(self, n: fx.Node):
        out = super().run_node(n)
        if n is self.target_node:
            raise _Reached(out)
        return out


def probe(model: nn.Module, input_size) -> torch.Tensor:
    """A random (1, C, H, W) input on the model's device and dtype."""
    p = next(model.parameters(), None)
    return torch.rand(
        (1, *tuple(input_size)),
        dtype=p.dtype if p is not None else torch.float32,
        device=p.device if p is not None else "cpu",
    )


_cache: dict[int, tuple[nn.Module, LayerGraph]] = {}


def layer_graph(model: nn.Module) -> LayerGraph:
    """The (cached) graph of a model: tracing once per model object."""
    hit = _cache.get(id(model))
    if hit is not None and hit[0] is model:
        return hit[1]
    g = LayerGraph(model)
    _cache[id(model)] = (model, g)
    if len(_cache) > 64:
        _cache.pop(next(iter(_cache)))
    return g


@dataclass
class Call:
    """A row of a model without a graph: one call of a module without children."""

    index: int
    name: str  # the module's path, "features.0"
    kind: str  # its class name
    module: nn.Module
    block: str = ""  # (no blocks without a graph)


class ModuleCalls:
    """A model torch.fx cannot trace, seen module by module (forward hooks). `capture` runs it once and
    returns the output of every call of a module without children, in the order they ran; `rows` names
    the calls of the latest run (a forward that branches on its input may call other modules on another
    input). Nothing says how one call feeds the next, so no receptive fields. `why`: why there is no graph."""

    def __init__(self, model: nn.Module, why: str):
        self.model, self.why = model, why
        self.rows: list[Call] = []

    def calls(self, x: torch.Tensor) -> list[tuple[nn.Module, tuple, object]]:
        """(module, its inputs, its output) of every call of a module without children for input x
        (B, C, H, W), in the order they ran, in eval mode without gradients (one forward pass)."""
        found: list[tuple[nn.Module, tuple, object]] = []
        leaves = [m for m in self.model.modules() if next(m.children(), None) is None]
        hooks = [m.register_forward_hook(lambda mod, args, out: found.append((mod, args, out))) for m in leaves]
        was = self.model.training
        try:
            with torch.no_grad():
                self.model.eval()(x)
        finally:
            self.model.train(was)
            for h in hooks:
                h.remove()
        return found

    def capture(self, x: torch.Tensor) -> list:
        """Every call's output for input x (B, C, H, W); `rows` then names them."""
        names = {m: n for n, m in self.model.named_modules()}
        found = self.calls(x)
        self.rows = [Call(i, names[m], type(m).__name__, m) for i, (m, _, _) in enumerate(found)]
        return [out for _, _, out in found]


_untraced: weakref.WeakKeyDictionary[nn.Module, ModuleCalls] = weakref.WeakKeyDictionary()


def layers_of(model: nn.Module) -> LayerGraph | ModuleCalls:
    """The model's graph (`layer_graph`), or where torch.fx cannot trace it, its module calls."""
    if model in _untraced:
        return _untraced[model]
    try:
        return layer_graph(model)
    except UserError as e:
        _untraced[model] = ModuleCalls(model, str(e))
        return _untraced[model]
